"""The naming pass: each account's industry and a name unique within the world.

Runs once, in account order, before any subtree is generated, because uniqueness is the one
thing an account can't decide alone. Every draw is a hash of (seed, account index, attempt), so
account i's name depends only on accounts before it: growing the world never renames anyone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from orgforge.generate.distributions import hash_unit, hash_units
from orgforge.generate.plan import Plan

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_ROMAN = ("II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X")


@dataclass(frozen=True, slots=True)
class AccountName:
    index: int
    industry: str
    name: str
    domain: str


def slug(name: str) -> str:
    return _NON_ALNUM.sub("", name.lower().replace("&", "and"))[:40] or "company"


class Namer:
    """Stateful across accounts (it remembers names taken); feed it indexes in order."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.taken: set[str] = set()
        self.domains: set[str] = set()
        self.next_index = 0

    def industry(self, index: int) -> str:
        return self.plan.industries.pick_unit(hash_unit(self.plan.seed, "industry", index))

    def _candidate(self, index: int, industry: str, attempt: int) -> str:
        plan = self.plan
        company = plan.packs[industry].company
        seed = plan.seed

        units = hash_units(seed, "name", index, attempt, n=6)

        def pick(seq, slot: int):
            return seq[int(units[slot] * len(seq))]

        place = plan.pools.places.pick_unit(units[0])
        pattern = pick(company.patterns, 1)
        word = pick(company.words, 2)
        word2 = pick(company.words, 3)
        if word2 == word:
            word2 = company.words[(company.words.index(word) + 1) % len(company.words)]
        name = pattern.format(
            last=pick(plan.pools.last_names, 4),
            city=place.city,
            state=place.state_name,
            word=word,
            word2=word2,
        )
        if attempt >= 3:
            name = f"{name} {pick(company.suffixes, 5)}"
        if attempt >= 6:
            name = f"{name} {_ROMAN[min(attempt - 6, len(_ROMAN) - 1)]}"
        if attempt >= 6 + len(_ROMAN):
            name = f"{name} {index + 1}"
        return name

    def name(self, index: int) -> AccountName:
        if index != self.next_index:
            raise ValueError(f"accounts must be named in order (expected {self.next_index})")
        self.next_index += 1
        industry = self.industry(index)
        attempt = 0
        while True:
            name = self._candidate(index, industry, attempt)
            domain = slug(name)
            if name.lower() not in self.taken and domain not in self.domains:
                break
            attempt += 1
        self.taken.add(name.lower())
        self.domains.add(domain)
        return AccountName(index, industry, name[:255], f"{domain}.example.com")
