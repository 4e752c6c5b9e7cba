"""Each account's org chart: Contact.ReportsToId consistent with the contacts' titles.

Seniority levels rank executive > vp > director > manager > individual. A contact reports to a
contact of the nearest level above theirs (someone in their own department first), so the chart
is acyclic by construction; the account's most senior people report to no one. An exclusive
title (a "Chief … Officer", CEO, CFO, CISO…) is held by at most one contact of an account: a
second holder is given a VP title of the same department from the pack.
"""

from __future__ import annotations

import re
from random import Random

RANK = {"executive": 0, "vp": 1, "director": 2, "manager": 3, "individual": 4}
_EXCLUSIVE = re.compile(
    r"^(?:chief\b.*|ceo|cfo|ciso|cio|cto|coo|cro|president|managing director|general counsel)$",
    re.I,
)


def is_exclusive(title: str | None) -> bool:
    """A title an organisation has one of (its chief officers, its president)."""
    return bool(title and _EXCLUSIVE.match(title.strip()))


def dedupe_exclusive(rng: Random, contacts: list[dict], titles_by_level: dict[str, list]) -> None:
    """Give every second holder of an exclusive title a VP title (same department if any)."""
    held: set[str] = set()
    vps = titles_by_level.get("vp") or titles_by_level.get("director") or []
    for contact in contacts:
        title = contact.get("Title")
        if not is_exclusive(title):
            continue
        if title not in held:
            held.add(title)
            continue
        same = [t for t in vps if t.department == contact.get("Department")] or vps
        if not same:
            continue
        new = same[int(rng.random() * len(same))]
        contact["Title"] = new.title
        if contact.get("Department") is not None:
            contact["Department"] = new.department
        contact["_seniority"] = new.seniority


def assign_managers(rng: Random, contacts: list[dict]) -> None:
    """Set each contact's ReportsToId to a contact one level (or the fewest levels) above."""
    by_rank: dict[int, list[dict]] = {}
    for contact in contacts:
        by_rank.setdefault(RANK.get(contact["_seniority"], 4), []).append(contact)
    for contact in contacts:
        rank = RANK.get(contact["_seniority"], 4)
        above = [r for r in by_rank if r < rank]
        contact["ReportsToId"] = None
        if not above:
            continue
        bosses = by_rank[max(above)]
        same = [b for b in bosses if b.get("Department") == contact.get("Department")]
        pool = same or bosses
        contact["ReportsToId"] = pool[int(rng.random() * len(pool))]["key"]
