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

import contextlib
import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property

from orgforge.activity.source import Opportunity, Person, timezone_of
from orgforge.activity.subjects import Holidays, SubjectType, SubjectTypes, stage_rank
from orgforge.config import ActivityConfig
from orgforge.generate.calendar import Calendar
from orgforge.generate.distributions import stream
from orgforge.generate.timeutil import (
    business_day,
    is_weekend,
    iso_date,
    local_minute,
    utc,
    working_minute,
)

SEQ_BASE = 1_000_000  # activity records sort after the base generator's (seq < 1,000)
SLOT_BASE = {"m": 0, "u": 300, "e": 500}
LOCATIONS = ("Zoom", "Microsoft Teams", "Google Meet", "On site")
MOVE_DAYS = 10  # working days a meeting may move to when a calendar is full
MATURE_DAYS = 90  # a deal this old (in days of past life) gets its full configured density
SCHEDULE_DAYS = 14  # a meeting is scheduled up to this many days before it starts


def volume_scale(age_days: int, rank: int) -> float:
    """The share of the configured counts of past meetings and emails a deal gets: it grows
    with the days of its life before as_of (all of them from MATURE_DAYS on) and with its
    stage (Prospecting ½, Qualification ¾, Needs Analysis on: all)."""
    return min(1.0, max(age_days, 0) / MATURE_DAYS) * min(1.0, (rank + 2) / 4)


def scaled(count: int, scale: float) -> int:
    return int(count * scale + 0.5)


def past_window(created: int, close: int, closed: bool, asof: int) -> tuple[int, int]:
    """The days (ordinals) a deal's past activity falls in: from the day after it was created
    (there is time to schedule a first meeting) to the day before as_of or its close."""
    end = min(asof - 1, close) if closed else asof - 1
    return min(created + 1, end), end


def allowance(
    config: ActivityConfig, created: int, close: int, closed: bool, asof: int, stage: str | None
) -> int:
    """The most meetings and emails the activity job plans for a deal with these densities:
    the past ones scaled with its age and stage, and the future meetings of an open deal."""
    _, end = past_window(created, close, closed, asof)
    scale = volume_scale(end - created, stage_rank(stage))
    future = 0 if closed else config.future_meetings[1]
    return scaled(config.past_meetings[1], scale) + scaled(config.emails[1], scale) + future


# An activity-job record's key: Event/0042/1/m03-4d696c (a planned slot) or Task/0042/1/sc-…
# (a scorecard written as a Task).
ACTIVITY_KEY = re.compile(r"^(?:Event|Task)/[^/]+/[^/]+/(?:[mue]\d{2,}-[0-9a-f]{6}|sc-.+)$")


def is_activity_key(key: str) -> bool:
    return ACTIVITY_KEY.match(key) is not None


def is_scorecard_key(key: str) -> bool:
    return key.startswith("Task/") and "/sc-" in key


def _audit_minutes(
    rng: Draws, item: Planned, at: int, floor: int, now: int, owner: Worker
) -> tuple[int, int]:
    """(CreatedDate, LastModifiedDate) in absolute minutes, in the owner's working time. A
    meeting is scheduled some days before it starts (never before the deal or its contact
    existed, nor after as_of); a past one is modified when its notes are logged after it ends,
    a future one not since. An email is created when it is sent, on its day."""
    if item.kind == "email":
        day_lo = local_minute(item.day, 0, item.tz)
        lo, hi = max(day_lo, floor + 1), min(day_lo + 1439, now - 1)
        sent = owner.nudge(at, lo, hi) if lo <= at <= hi else at
        return sent, sent
    ahead = 1440 * (1 + int(rng.random() * SCHEDULE_DAYS)) + int(rng.random() * 480)
    created = max(min(at - ahead, now - 1), floor + 1)
    created = min(created, at - 1, now - 1)
    created = owner.nudge(created, floor + 1, min(at - 1, now - 1))
    if item.when == "future":
        return created, created
    logged = item.end_minute + 5 + int(rng.random() * 240)
    ended = min(max(created, item.end_minute), now - 1)
    logged = owner.nudge(max(ended, min(logged, now - 1)), ended, now - 1)
    return created, logged


@dataclass(frozen=True)
class Worker:
    """Whose working time a record's audit minutes fall in: the owner's zone, hours and days
    (their User's TimeZoneSidKey/StartDay/EndDay; the account's zone and business hours when
    the source has no such User)."""

    tz: str
    hours: tuple[int, int]
    weekdays_only: bool

    @classmethod
    def of(cls, user: dict, tz: str, hours: tuple[int, int], weekdays_only: bool) -> Worker:
        with contextlib.suppress(KeyError, TypeError, ValueError):  # no such User fields
            hours = (int(user["StartDay"]), int(user["EndDay"]))
        return cls(user.get("TimeZoneSidKey") or tz, hours, weekdays_only)

    def nudge(self, minute: int, floor: int, ceiling: int) -> int:
        return working_minute(minute, self.tz, self.hours, floor, ceiling, self.weekdays_only)


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
    users: tuple[str, ...] = ()  # Users invited besides the owner (the SE on demos)
    created: int = 0  # CreatedDate (absolute UTC minutes): scheduled, or sent
    modified: int = 0  # LastModifiedDate: a past meeting's notes logged after it ended

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
    def end_minute(self) -> int:
        """When it is over (absolute UTC minutes): a meeting's end, an email's send time."""
        if self.kind != "meeting":
            return self.created
        assert self.start is not None and self.minutes is not None
        return local_minute(self.day, self.start + self.minutes, self.tz)

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

    def plan(self, opp: Opportunity, calendar: Calendar | None = None) -> OpportunityPlan:
        """The opportunity's meetings and emails; with ``calendar`` (everyone's meetings so
        far), each meeting moves to the nearest free slot of its owner and invited users and
        is marked there."""
        cfg = self.config
        tz = timezone_of(opp, cfg.timezone_from)
        holidays = self.holidays.for_country(opp.account.get("BillingCountry"))
        skip = cfg.skip_weekends
        worker = Worker.of(opp.owner, tz, tuple(cfg.business_hours), skip)
        now = self.asof * 1440  # as_of midnight (UTC): what is past happened before it
        born = opp.created_minute
        created = opp.created.toordinal()
        close = opp.close.toordinal()
        past_start, past_end = past_window(created, close, opp.closed, self.asof)
        future_start = self.asof + 1
        future_end = max(future_start + 2, min(close, self.asof + cfg.future_days))
        final_rank = stage_rank(opp.stage)
        scale = volume_scale(past_end - created, final_rank)
        products = self.products.get(opp.account.get("Industry") or "", ())
        product = (
            products[
                int(stream(self.seed, "activity", opp.key, "product").random() * len(products))
            ]
            if products
            else ""
        )
        result = OpportunityPlan(opp, tz, product=product)
        owner = opp.row.get("OwnerId")
        h0, h1 = cfg.business_hours

        def working(day: int) -> bool:
            return not (skip and is_weekend(day)) and day not in holidays

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
            if opp.stages:  # the stage the history had reached by the end of that day
                # the open stage it was in (a lost deal may have got as far as Negotiation)
                reached = [
                    name
                    for at, name in opp.stages
                    if at < (day + 1) * 1440 and not name.startswith("Closed")
                ]
                return stage_rank(reached[-1]) if reached else 0
            span = max(1, past_end - past_start)
            progress = (day - past_start) / span
            return max(0, min(final_rank, int(progress * (final_rank + 1))))

        counts = (
            ("m", "meeting", "past", scaled(self._count(opp, "past", cfg.past_meetings), scale)),
            (
                "u",
                "meeting",
                "future",
                0 if opp.closed else self._count(opp, "future", cfg.future_meetings),
            ),
            ("e", "email", "past", scaled(self._count(opp, "emails", cfg.emails), scale)),
        )
        people = self._people(opp)
        for letter, kind, when, count in counts:
            past = when == "past"
            lo_day, hi_day = (past_start, past_end) if past else (future_start, future_end)
            for n in range(1, count + 1):
                slot = f"{letter}{n:02d}"
                rng = Draws(self.seed, "activity", opp.key, slot)
                day = place(rng, lo_day, hi_day)
                rank = rank_at(day, when)
                fitting = self._fitting[kind, rank]
                u_type = rng.random()
                start = minutes = None
                location = None
                users: tuple[str, ...] = ()
                if kind == "meeting":
                    type_ = fitting[int(u_type * len(fitting))]
                    minutes = cfg.meeting_minutes[int(rng.random() * len(cfg.meeting_minutes))]
                    slots = (h1 - h0) * 4 - minutes // 15
                    start = h0 * 60 + 15 * int(rng.random() * (slots + 1))
                    location = LOCATIONS[int(rng.random() * len(LOCATIONS))]
                    if type_.event_type == "Demo" and opp.se:
                        users = (opp.se,)  # the sales engineer runs the demo with the owner
                    # the nearest free quarter hour of the owner and the SE: its own day, then
                    # the nearest working days of the same window and stage
                    near = range(
                        max(lo_day, day - 3 * MOVE_DAYS), min(hi_day, day + 3 * MOVE_DAYS) + 1
                    )
                    allowed = [d for d in near if working(d) and rank_at(d, when) == rank]
                    windows = []
                    for d in sorted(allowed, key=lambda d: (abs(d - day), d))[:MOVE_DAYS]:
                        w_lo = local_minute(d, h0 * 60, tz)
                        w_hi = local_minute(d, h1 * 60 - minutes, tz)
                        if when == "past":
                            w_lo, w_hi = max(w_lo, born + 60), min(w_hi, now - minutes - 1)
                        else:
                            w_lo = max(w_lo, now)
                        if w_lo <= w_hi:
                            windows.append((d, w_lo, w_hi))
                    if not windows:
                        continue  # no room in its window (before as_of, after the deal began)
                    first = local_minute(day, start, tz)
                    _, w_lo, w_hi = windows[0]
                    if not w_lo <= first <= w_hi:  # its day, but not that early or that late
                        first = min(w_hi, -(-w_lo // 15) * 15)
                    busy = tuple(u for u in (owner, *users) if u)
                    calendar = calendar if calendar is not None else Calendar()
                    at = calendar.find(
                        busy, first, minutes, tuple((w_lo, w_hi) for _, w_lo, w_hi in windows)
                    )
                    found = [
                        (d, at - local_minute(d, 0, tz))
                        for d, lo, hi in windows
                        if at is not None and lo <= at <= hi
                    ]
                    if at is None or not found:
                        continue  # every slot near it is taken: no meeting
                    calendar.book(busy, at, minutes)
                    day, start = found[0]
                    at_minute = local_minute(day, start, tz)
                    rank = rank_at(day, when)
                    participants = self._participants(opp, people, type_, rng, kind, at_minute - 60)
                else:
                    span = (h1 - h0) * 60
                    at_minute = local_minute(day, h0 * 60 + int(rng.random() * span), tz)
                    type_, participants = self._email(
                        opp, people, fitting, u_type, rng, result.items, at_minute
                    )
                if not participants or at_minute <= born or (when == "past" and at_minute >= now):
                    continue  # nobody to meet or write to yet, or no room in its window
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
                    users=users,
                )
                item.created, item.modified = _audit_minutes(
                    Draws(self.seed, "activity", opp.key, slot, "audit"),
                    item,
                    at_minute,
                    max(born, participants[0].created),
                    now,
                    worker,
                )
                # The key names the slot and carries the signature's first characters: an item
                # that moves (new as_of, hours, subjects…) is a new record, never an edit, so a
                # target that only creates and deletes (an org via the sync table) stays exact.
                item.key = f"{item.object}/{opp.prefix}/{slot}-{item.signature[:6]}"
                result.items.append(item)
        return result

    def _email(
        self,
        opp: Opportunity,
        people: tuple[list[Person], dict[str, list[Person]]],
        fitting: list[SubjectType],
        u: float,
        rng: Draws,
        planned: list[Planned],
        at: int,
    ) -> tuple[SubjectType, list[Person]]:
        """An email's type and recipient: a follow-up goes to someone who attended a meeting
        of the type it follows before it is sent; with no such meeting, another type."""

        def attendees(type_: SubjectType) -> list[Person]:
            """Who was at the latest meeting of a type it follows, over before ``at``."""
            held = [
                item
                for item in planned
                if item.kind == "meeting"
                and item.end_minute <= at
                and ("any" in type_.follows or item.type.id in type_.follows)
            ]
            return max(held, key=lambda i: i.end_minute).participants if held else []

        # The type by the same draw as ever; only a follow-up with nothing to follow falls back
        # to the types that need no meeting (so more meetings change few emails).
        type_ = fitting[int(u * len(fitting))]
        met = attendees(type_) if type_.follows else []
        if type_.follows and not met:
            choices = [t for t in fitting if not t.follows]
            if not choices:
                return type_, []
            type_ = choices[int(u * len(choices))]
        if met:
            return type_, [met[int(rng.random() * len(met))]]
        return type_, self._participants(opp, people, type_, rng, "email", at)

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
        at: int,
    ) -> list[Person]:
        """Who takes part: contacts who existed by minute ``at``, by the type's personas."""
        pool, by_persona = people
        pool = [p for p in pool if p.created < at]
        if not pool:
            return []
        by_persona = {k: [p for p in v if p.created < at] for k, v in by_persona.items()}
        roles = [p for p in opp.roles if p.created < at]
        chosen: list[Person] = []
        for persona in type_.personas:
            matches = [p for p in by_persona.get(persona, ()) if all(p is not c for c in chosen)]
            if matches:
                chosen.append(matches[int(rng.random() * len(matches))])
                if kind == "email":
                    break
        if not chosen:
            chosen.append(roles[0] if roles else pool[0])
        if kind == "meeting":
            extra = int(rng.random() * 3)  # 0-2 more people from the deal team
            others = [p for p in roles if all(p is not c for c in chosen)]
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
