"""When a job acts: personas' working hours, weekends, public holidays, bursts and a rate.

A persona (one of the world's Users, or a member of an Asana team) works ``start``–``end`` on
``days`` in their own time zone, except on their country's public holidays (the ``holidays``
package; the country comes from the time zone unless given). A job's actions form a Poisson
process at ``rate`` actions per working hour, thinned by a burst curve: busier in the first
hour of the day, quieter over lunch, busier just after it and on Friday afternoons (people
tidy up before the weekend). Time with no persona on shift is skipped outright, so planning
the next action across a weekend costs the same as within a day.

Every draw comes from the RNG the caller passes (the runner seeds one per job and action), so
the same seed plans the same actions.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

UTC = dt.UTC
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# time zone → country for public holidays (a persona can name its own country instead)
ZONE_COUNTRY = {
    "America/New_York": "US",
    "America/Chicago": "US",
    "America/Denver": "US",
    "America/Phoenix": "US",
    "America/Los_Angeles": "US",
    "America/Anchorage": "US",
    "Pacific/Honolulu": "US",
    "America/Toronto": "CA",
    "America/Vancouver": "CA",
    "America/Mexico_City": "MX",
    "America/Sao_Paulo": "BR",
    "Europe/London": "GB",
    "Europe/Dublin": "IE",
    "Europe/Paris": "FR",
    "Europe/Berlin": "DE",
    "Europe/Madrid": "ES",
    "Europe/Rome": "IT",
    "Europe/Amsterdam": "NL",
    "Europe/Stockholm": "SE",
    "Europe/Zurich": "CH",
    "Asia/Tokyo": "JP",
    "Asia/Singapore": "SG",
    "Asia/Kolkata": "IN",
    "Asia/Dubai": "AE",
    "Australia/Sydney": "AU",
    "Australia/Melbourne": "AU",
    "Pacific/Auckland": "NZ",
}

# The burst curve (multipliers of the job's rate), by local time of the persona acting.
START_OF_DAY, LUNCH, AFTER_LUNCH, END_OF_WEEK = 2.0, 0.5, 1.6, 1.5
PEAK = max(START_OF_DAY, LUNCH, AFTER_LUNCH, END_OF_WEEK, 1.0)


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=256)
def _holidays(country: str, year: int) -> frozenset[dt.date]:
    import holidays

    try:
        return frozenset(holidays.country_holidays(country, years=year).keys())
    except NotImplementedError:  # a country the package doesn't know: no holidays
        return frozenset()


@dataclass(frozen=True)
class Persona:
    """Who acts, and when they work (local wall-clock hours, start included, end excluded)."""

    name: str
    timezone: str = "UTC"
    start: int = 9
    end: int = 17
    days: tuple[str, ...] = WEEKDAYS[:5]
    country: str | None = None  # None: from the time zone (no holidays if unknown)
    gid: str | None = None  # the remote user (Asana gid, Salesforce user id) if known
    key: str | None = None  # the world's User key, if from the world

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.timezone)

    @property
    def holiday_country(self) -> str | None:
        return self.country or ZONE_COUNTRY.get(self.timezone)

    def is_holiday(self, day: dt.date) -> bool:
        country = self.holiday_country
        return country is not None and day in _holidays(country, day.year)

    def works_on(self, day: dt.date) -> bool:
        return WEEKDAYS[day.weekday()] in self.days and not self.is_holiday(day)

    def at_work(self, instant: dt.datetime) -> bool:
        """On shift at ``instant`` (aware)."""
        local = instant.astimezone(self.zone)
        return self.start <= local.hour < self.end and self.works_on(local.date())

    def next_shift(self, after: dt.datetime) -> tuple[dt.datetime, dt.datetime] | None:
        """The working window (UTC) containing ``after`` or the first one after it; None if
        there is none within 60 days (no working days)."""
        day = after.astimezone(self.zone).date()
        for _ in range(60):
            if self.works_on(day):
                lo = dt.datetime.combine(day, dt.time(self.start), self.zone).astimezone(UTC)
                hi = (
                    dt.datetime.combine(day, dt.time(0), self.zone) + dt.timedelta(hours=self.end)
                ).astimezone(UTC)
                if hi > after:
                    return max(lo, after), hi
            day += dt.timedelta(days=1)
        return None

    def burst(self, instant: dt.datetime) -> float:
        """The burst multiplier at ``instant`` (assumed on shift)."""
        local = instant.astimezone(self.zone)
        hour = local.hour + local.minute / 60
        if hour < self.start + 1:
            return START_OF_DAY
        if 12 <= hour < 13:
            return LUNCH
        if 13 <= hour < 14:
            return AFTER_LUNCH
        if local.weekday() == 4 and hour >= self.end - 2:
            return END_OF_WEEK
        return 1.0


@cache
def _mean_burst(start: int, end: int) -> float:
    """The burst curve's mean over a Monday–Friday working week of these hours (so that a
    job's rate is its average, bursts included)."""
    probe = Persona("probe", start=start, end=end)
    monday = dt.datetime(2026, 1, 5, tzinfo=UTC)  # not a holiday in UTC (no country)
    total = count = 0
    for day in range(5):
        for minute in range((end - start) * 60):
            instant = monday + dt.timedelta(days=day, hours=start, minutes=minute)
            total += probe.burst(instant)
            count += 1
    return total / count if count else 1.0


@dataclass
class Schedule:
    """A job's timing: ``rate`` actions per working hour over its ``personas``."""

    personas: Sequence[Persona]
    rate: float
    bursts: bool = True

    def on_shift(self, instant: dt.datetime) -> list[Persona]:
        return [p for p in self.personas if p.at_work(instant)]

    def _weight(self, persona: Persona) -> float:
        return 1.0 / _mean_burst(persona.start, persona.end) if self.bursts else 1.0

    def next_action(
        self, after: dt.datetime, rng: random.Random, limit: dt.datetime | None = None
    ) -> tuple[dt.datetime, Persona] | None:
        """When the next action happens after ``after``, and who does it; None when nobody
        works before ``limit`` (or within 60 days)."""
        if self.rate <= 0 or not self.personas:
            return None
        peak = PEAK / min(_mean_burst(p.start, p.end) for p in self.personas)
        top = self.rate * (peak if self.bursts else 1.0) / 3600.0  # candidates per second
        t = after
        for _ in range(100_000):
            on = self.on_shift(t)
            if not on:  # jump to the next time anyone is on shift (memoryless: exact)
                starts = [w[0] for p in self.personas if (w := p.next_shift(t)) is not None]
                if not starts:
                    return None
                t = min(starts)
                if limit is not None and t >= limit:
                    return None
                continue
            t = t + dt.timedelta(seconds=rng.expovariate(top))
            if limit is not None and t >= limit:
                return None
            on = self.on_shift(t)
            if not on:
                continue
            weights = [(p.burst(t) if self.bursts else 1.0) * self._weight(p) for p in on]
            mean = sum(weights) / len(weights)
            if rng.random() * (peak if self.bursts else 1.0) >= mean:
                continue  # thinned: the burst curve is lower here than at its peak
            pick = rng.random() * sum(weights)
            for persona, weight in zip(on, weights, strict=True):
                pick -= weight
                if pick < 0:
                    return t, persona
            return t, on[-1]
        return None
