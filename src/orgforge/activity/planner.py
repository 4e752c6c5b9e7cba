"""The activity plan of one opportunity: meetings and emails, deterministic per (seed, key).

Every planned item draws from its own stream ``(seed, "activity", opportunity key, slot)``, so
changing a count adds or removes items at the end without moving the others, and a plan never
depends on which other opportunities were selected. Where an item falls:

* past meetings and emails: between the deal's CreatedDate and the day before as_of (or its
  CloseDate if earlier); future meetings (open deals only): after as_of, up to the CloseDate
  (at most ``future_days`` ahead);
* working days only (no weekends, no holidays of the account's calendar), meetings within
  business hours in the account's (or the owner's) time zone, lengths from ``meeting_minutes``;
* the subject type fits the stage the deal had reached at that point of its life (discovery
  early, pricing and legal late); participants are picked by persona from the contact roles
  and the account's contacts.

Text (meeting notes, email bodies) is not drawn here: it comes from the content engine.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

from orgforge.activity.source import Opportunity, Person, timezone_of
from orgforge.activity.subjects import Holidays, SubjectType, SubjectTypes, stage_rank
from orgforge.config import ActivityConfig
from orgforge.generate.distributions import stream
from orgforge.generate.timeutil import business_day, iso_date, utc

SEQ_BASE = 1_000_000  # activity records sort after the base generator's (seq < 1,000)
SLOT_BASE = {"m": 0, "u": 300, "e": 500}
LOCATIONS = ("Zoom", "Microsoft Teams", "Google Meet", "On site")


class Draws:
    """Uniform numbers in [0, 1) from a hash chain of (seed, parts…): a cheap seeded stream.

    Seeding ``random.Random`` from a string costs a SHA-512 and a state fill per stream; the
    planner opens one stream per planned item, so it uses this instead (same role: an
    independent, reproducible stream per slot). Only ``random()`` is needed.
    """

    __slots__ = ("_digest", "_i")

    def __init__(self, *parts: object) -> None:
        text = "/".join(map(str, parts)).encode()
        self._digest = hashlib.blake2b(text, digest_size=64).digest()
        self._i = 0

    def random(self) -> float:
        if self._i == 8:
            self._digest = hashlib.blake2b(self._digest, digest_size=64).digest()
            self._i = 0
        i = self._i * 8
        self._i += 1
        return (int.from_bytes(self._digest[i : i + 8], "little") >> 11) / 9007199254740992.0


def signature(opportunity: str, kind: str, scheduled: str, subject: str) -> str:
    """What makes an activity the same activity: opportunity, kind, time and subject."""
    text = f"{opportunity}|{kind}|{scheduled}|{subject}"
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


@dataclass
class Planned:
    key: str  # Event/0042/1/m03-4d696c (slot m03, signature 4d696c…), …/u01-…, Task/…/e07-…
    opportunity: str  # the opportunity's key
    kind: str  # meeting | email
    when: str  # past | future
    slot: str  # m03
    seq: int
    type: SubjectType
    subject: str
    day: int  # date ordinal (local to tz)
    tz: str
    start: int | None  # minutes after local midnight (meetings)
    minutes: int | None  # duration (meetings)
    stage_rank: int  # the stage the deal had reached at that time
    participants: list[Person]
    location: str | None = None

    @property
    def object(self) -> str:
        return "Event" if self.kind == "meeting" else "Task"

    @cached_property
    def scheduled(self) -> str:
        if self.kind == "meeting":
            assert self.start is not None
            return utc(self.day, self.start, self.tz)
        return iso_date(self.day)

    @property
    def end(self) -> str:
        assert self.start is not None and self.minutes is not None
        return utc(self.day, self.start + self.minutes, self.tz)

    @property
    def date(self) -> str:
        return iso_date(self.day)

    @cached_property
    def signature(self) -> str:
        return signature(self.opportunity, self.kind, self.scheduled, self.subject)

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "kind": self.kind,
            "when": self.when,
            "type": self.type.id,
            "subject": self.subject,
            "scheduled": self.scheduled,
            "local": f"{self.date} {_hhmm(self.start)}" if self.start is not None else self.date,
            "tz": self.tz,
            "minutes": self.minutes,
            "participants": [p.key for p in self.participants],
            "signature": self.signature,
        }


def _hhmm(minutes: int | None) -> str:
    return "" if minutes is None else f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass
class OpportunityPlan:
    opportunity: Opportunity
    tz: str
    items: list[Planned] = field(default_factory=list)
    product: str = ""

    def count(self, kind: str, when: str | None = None) -> int:
        return sum(1 for i in self.items if i.kind == kind and (when is None or i.when == when))

    @property
    def past(self) -> list[Planned]:
        return sorted((i for i in self.items if i.when == "past"), key=lambda i: i.scheduled)


class Planner:
    def __init__(
        self,
        config: ActivityConfig,
        seed: int,
        as_of_ordinal: int,
        subjects: SubjectTypes,
        holidays: Holidays,
        products: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.config = config
        self.seed = seed
        self.asof = as_of_ordinal
        self.subjects = subjects
        self.holidays = holidays
        self.products = products or {}
        self.title_words = {
            persona: tuple(w.lower() for w in words)
            for persona, words in subjects.title_personas.items()
        }
        self._title_persona: dict[tuple[str, str], str] = {}
        self._fitting = {
            (kind, rank): [t for t in types if t.fits(rank)]
            for kind, types in (("meeting", subjects.meetings), ("email", subjects.emails))
            for rank in range(6)
        }

    # -- counts and windows ----------------------------------------------------------------

    def _count(self, opp: Opportunity, what: str, bounds: tuple[int, int]) -> int:
        low, high = bounds
        u = stream(self.seed, "activity", opp.key, "count", what).random()
        return low + int(u * (high - low + 1))

    def plan(self, opp: Opportunity) -> OpportunityPlan:
        cfg = self.config
        tz = timezone_of(opp, cfg.timezone_from)
        holidays = self.holidays.for_country(opp.account.get("BillingCountry"))
        skip = cfg.skip_weekends
        created = opp.created.toordinal()
        close = opp.close.toordinal()
        past_end = min(self.asof - 1, close) if opp.closed else self.asof - 1
        past_start = min(created, past_end)
        future_start = self.asof + 1
        future_end = max(future_start + 2, min(close, self.asof + cfg.future_days))
        final_rank = stage_rank(opp.stage)
        products = self.products.get(opp.account.get("Industry") or "", ())
        product = (
            products[
                int(stream(self.seed, "activity", opp.key, "product").random() * len(products))
            ]
            if products
            else ""
        )
        result = OpportunityPlan(opp, tz, product=product)

        def place(rng: Draws, lo: int, hi: int) -> int:
            day = lo + int(rng.random() * (hi - lo + 1))
            if not skip and not holidays:
                return day
            back = _snap(day, -1, skip, holidays)
            if back >= lo:
                return back
            return _snap(day, 1, skip, holidays)

        def rank_at(day: int, when: str) -> int:
            if when == "future":
                return final_rank
            span = max(1, past_end - past_start)
            progress = (day - past_start) / span
            return max(0, min(final_rank, int(progress * (final_rank + 1))))

        counts = (
            ("m", "meeting", "past", self._count(opp, "past", cfg.past_meetings)),
            (
                "u",
                "meeting",
                "future",
                0 if opp.closed else self._count(opp, "future", cfg.future_meetings),
            ),
            ("e", "email", "past", self._count(opp, "emails", cfg.emails)),
        )
        people = self._people(opp)
        for letter, kind, when, count in counts:
            for n in range(1, count + 1):
                slot = f"{letter}{n:02d}"
                rng = Draws(self.seed, "activity", opp.key, slot)
                if when == "past":
                    day = place(rng, past_start, past_end)
                else:
                    day = place(rng, future_start, future_end)
                rank = rank_at(day, when)
                fitting = self._fitting[kind, rank]
                type_ = fitting[int(rng.random() * len(fitting))]
                start = minutes = None
                location = None
                if kind == "meeting":
                    minutes = cfg.meeting_minutes[int(rng.random() * len(cfg.meeting_minutes))]
                    h0, h1 = cfg.business_hours
                    slots = (h1 - h0) * 4 - minutes // 15
                    start = h0 * 60 + 15 * int(rng.random() * (slots + 1))
                    location = LOCATIONS[int(rng.random() * len(LOCATIONS))]
                participants = self._participants(opp, people, type_, rng, kind)
                template = type_.subjects[int(rng.random() * len(type_.subjects))]
                subject = _render(template, opp, product, participants, self.subjects.company)
                item = Planned(
                    key="",
                    opportunity=opp.key,
                    kind=kind,
                    when=when,
                    slot=slot,
                    seq=SEQ_BASE + opp.number * 1000 + SLOT_BASE[letter] + n,
                    type=type_,
                    subject=subject[:255],
                    day=day,
                    tz=tz,
                    start=start,
                    minutes=minutes,
                    stage_rank=rank,
                    participants=participants,
                    location=location,
                )
                # The key names the slot and carries the signature's first characters: an item
                # that moves (new as_of, hours, subjects…) is a new record, never an edit, so a
                # target that only creates and deletes (an org via the sync table) stays exact.
                item.key = f"{item.object}/{opp.prefix}/{slot}-{item.signature[:6]}"
                result.items.append(item)
        return result

    # -- people ----------------------------------------------------------------------------

    def persona(self, person: Person) -> str:
        if person.role:
            return self.subjects.personas.get(person.role, "user")
        cache_key = (person.title, person.department)
        found = self._title_persona.get(cache_key)
        if found is None:
            words = set(f"{person.title} {person.department}".lower().replace(",", " ").split())
            found = next(
                (p for p, cues in self.title_words.items() if any(w in words for w in cues)),
                "user",
            )
            self._title_persona[cache_key] = found
        return found

    def _people(self, opp: Opportunity) -> tuple[list[Person], dict[str, list[Person]]]:
        """Everyone who can take part (contact roles first) and who they are, by persona."""
        role_keys = {p.key for p in opp.roles}
        pool = [*opp.roles, *(c for c in opp.contacts if c.key not in role_keys)]
        by_persona: dict[str, list[Person]] = {}
        for person in pool:
            by_persona.setdefault(self.persona(person), []).append(person)
        return pool, by_persona

    def _participants(
        self,
        opp: Opportunity,
        people: tuple[list[Person], dict[str, list[Person]]],
        type_: SubjectType,
        rng: Draws,
        kind: str,
    ) -> list[Person]:
        pool, by_persona = people
        if not pool:
            return []
        chosen: list[Person] = []
        for persona in type_.personas:
            matches = [p for p in by_persona.get(persona, ()) if all(p is not c for c in chosen)]
            if matches:
                chosen.append(matches[int(rng.random() * len(matches))])
                if kind == "email":
                    break
        if not chosen:
            chosen.append(opp.roles[0] if opp.roles else pool[0])
        if kind == "meeting":
            extra = int(rng.random() * 3)  # 0-2 more people from the deal team
            others = [p for p in opp.roles if all(p is not c for c in chosen)]
            for _ in range(min(extra, len(others))):
                chosen.append(others.pop(int(rng.random() * len(others))))
            chosen = chosen[:4]
        return chosen


def _snap(day: int, step: int, skip_weekends: bool, holidays: frozenset[int]) -> int:
    if skip_weekends:
        return business_day(day, step, holidays)
    while day in holidays:
        day += step
    return day


def _render(
    template: str, opp: Opportunity, product: str, people: list[Person], company: str
) -> str:
    name = opp.row.get("Name") or ""
    account = opp.account.get("Name") or name.split(" - ")[0]
    theme = name.split(" - ", 1)[1] if " - " in name else name
    values = {
        "account": account,
        "opportunity": theme,
        "product": product or "the platform",
        "contact": people[0].name if people else account,
        "company": company,
    }
    return template.format_map(values)
