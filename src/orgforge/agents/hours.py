"""Working time: who is on shift at an instant, and durations counted only in working hours.

A rep works ``hours`` (local wall-clock, start included, end excluded) on ``days`` in their own
time zone, except on out-of-office days. Local windows are built per calendar day in the rep's
zone, so a daylight-saving change shortens or lengthens that day's window the way a wall clock
does. Instants are timezone-aware; naive datetimes are refused rather than guessed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

from orgforge.agents.policy import WEEKDAYS, Rep

MAX_DAYS = 3660  # a search past ten years means the rep never works: stop, don't spin


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError(f"naive datetime {instant.isoformat()}: give a time zone")
    return instant


def is_out_of_office(rep: Rep, day: date) -> bool:
    if not rep.out_of_office:  # most reps, most of the time: no generator to build
        return False
    return any(a.start <= day <= a.end for a in rep.out_of_office)


def works_on(rep: Rep, day: date) -> bool:
    return WEEKDAYS[day.weekday()] in rep.days and not is_out_of_office(rep, day)


def availability(rep: Rep, instant: datetime) -> str | None:
    """Why ``rep`` can't take work at ``instant``, or None when on shift."""
    if not rep.active:
        return "inactive"
    local = _aware(instant).astimezone(rep.zone)
    start, end = rep.hours
    day_name = WEEKDAYS[local.weekday()]
    now = local.time()
    if day_name in rep.days and start <= now < end and not rep.out_of_office:
        return None  # the common case, decided without building a reason
    if is_out_of_office(rep, local.date()):
        return "out of office"
    if day_name not in rep.days:
        return f"not a working day ({local:%A} in {rep.timezone})"
    if not start <= now < end:
        return f"off shift ({local:%H:%M} in {rep.timezone}, works {start:%H:%M}-{end:%H:%M})"
    return None


def windows(rep: Rep, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The rep's working windows that overlap [start, end), clipped to it, in UTC."""
    start, end = _aware(start).astimezone(UTC), _aware(end).astimezone(UTC)
    if end <= start:
        return
    day = start.astimezone(rep.zone).date() - timedelta(days=1)
    last = end.astimezone(rep.zone).date()
    while day <= last:
        if works_on(rep, day):
            lo = datetime.combine(day, rep.hours[0], rep.zone).astimezone(UTC)
            hi = datetime.combine(day, rep.hours[1], rep.zone).astimezone(UTC)
            lo, hi = max(lo, start), min(hi, end)
            if lo < hi:
                yield lo, hi
        day += timedelta(days=1)


def working_seconds(rep: Rep, start: datetime, end: datetime) -> float:
    """Seconds of ``rep``'s working time between two instants (0 when end <= start)."""
    return sum((hi - lo).total_seconds() for lo, hi in windows(rep, start, end))


def add_working(rep: Rep, start: datetime, seconds: float) -> datetime | None:
    """The instant when ``seconds`` of working time have passed after ``start``.

    None when the rep has no working time within ten years (no working days configured).
    """
    start = _aware(start).astimezone(UTC)
    left = seconds
    cursor = start
    for _ in range(MAX_DAYS // 30):
        horizon = cursor + timedelta(days=30)
        for lo, hi in windows(rep, cursor, horizon):
            span = (hi - lo).total_seconds()
            if span >= left:
                return lo + timedelta(seconds=left)
            left -= span
        cursor = horizon
    return None


def next_on_shift(rep: Rep, after: datetime) -> datetime | None:
    """The first instant at or after ``after`` when ``rep`` is on shift (None: not within a
    year, e.g. inactive or no working days)."""
    if not rep.active:
        return None
    for lo, _hi in windows(rep, after, after + timedelta(days=366)):
        return lo
    return None
