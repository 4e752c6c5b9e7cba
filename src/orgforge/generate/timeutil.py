"""Calendar helpers shared by every job that places records in time (generate, activity, …).

Days are proleptic ordinals (``date.toordinal()``); wall times are minutes after local midnight
in an IANA zone. Salesforce datetimes are UTC with milliseconds: ``2026-01-15T14:30:00.000Z``.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from zoneinfo import ZoneInfo

SF_DATETIME = "%Y-%m-%dT%H:%M:%S.000Z"


@cache
def iso_date(ordinal: int) -> str:
    return dt.date.fromordinal(ordinal).isoformat()


# "THH:MM:00.000Z" for every minute of a day: a datetime is a cached date plus one of these.
_TIME_OF_DAY = tuple(f"T{m // 60:02d}:{m % 60:02d}:00.000Z" for m in range(1440))


@cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@cache
def utc_offset_minutes(tz: str, ordinal: int) -> int:
    """The zone's UTC offset at noon local time on that day (meetings never span a DST switch)."""
    day = dt.date.fromordinal(ordinal)
    noon = dt.datetime(day.year, day.month, day.day, 12, tzinfo=zone(tz))
    offset = noon.utcoffset()
    return int(offset.total_seconds() // 60) if offset else 0


def utc(ordinal: int, minutes: int, tz: str) -> str:
    """Local wall time (day ordinal + minutes after midnight in tz) as a Salesforce UTC datetime."""
    if tz != "UTC":
        minutes -= utc_offset_minutes(tz, ordinal)
    days, minute_of_day = divmod(minutes, 1440)
    return iso_date(ordinal + days) + _TIME_OF_DAY[minute_of_day]


def parse_utc(value: str) -> dt.datetime:
    """A Salesforce UTC datetime (as written by :func:`utc`) back to an aware datetime."""
    return dt.datetime.strptime(value, SF_DATETIME).replace(tzinfo=dt.UTC)


def is_weekend(ordinal: int) -> bool:
    return (ordinal - 1) % 7 >= 5  # date.fromordinal(1) is a Monday


def weekday_snap(ordinal: int) -> int:
    """Saturday → Friday, Sunday → Monday; weekdays unchanged."""
    weekday = (ordinal - 1) % 7
    return ordinal - 1 if weekday == 5 else ordinal + 1 if weekday == 6 else ordinal


def business_day(ordinal: int, step: int, holidays: frozenset[int] = frozenset()) -> int:
    """The nearest working day from ``ordinal`` going in ``step`` (+1 forward, -1 back)."""
    while is_weekend(ordinal) or ordinal in holidays:
        ordinal += step
    return ordinal


# -- absolute minutes: the generator's clock -----------------------------------------------------
# The history is computed in whole UTC minutes since the proleptic ordinal epoch (day × 1440 +
# minute of the day, UTC): comparisons and arithmetic are integer ones, and the text form is
# made once, when a record is written.


def stamp(minute: int) -> str:
    """Absolute UTC minutes as a Salesforce datetime (``2026-01-31T09:00:00.000Z``)."""
    day, minute_of_day = divmod(minute, 1440)
    return iso_date(day) + _TIME_OF_DAY[minute_of_day]


def local_minute(ordinal: int, minutes: int, tz: str) -> int:
    """Local wall time (day ordinal, minutes after midnight in tz) as absolute UTC minutes."""
    return ordinal * 1440 + minutes - utc_offset_minutes(tz, ordinal)


def parse_stamp(value: str) -> int:
    """A Salesforce datetime back to absolute UTC minutes (seconds are dropped)."""
    day = dt.date.fromisoformat(value[:10]).toordinal()
    return day * 1440 + int(value[11:13]) * 60 + int(value[14:16])


def work_day(day: int, asof: int, weekdays_only: bool = True) -> int:
    """``day``, or the Monday after a weekend (the Friday before, if that Monday is not before
    ``asof``): monotonic, so days in order stay in order."""
    if not (weekdays_only and is_weekend(day)):
        return day
    monday = day
    while is_weekend(monday):
        monday += 1
    if monday < asof:
        return monday
    while is_weekend(day):
        day -= 1
    return day


def working_minute(
    minute: int,
    tz: str,
    hours: tuple[int, int],
    floor: int,
    ceiling: int,
    weekdays_only: bool = True,
) -> int:
    """``minute`` if it falls in someone's working time (``hours`` in zone ``tz``, on a working
    day), else the nearest working minute that keeps it in [floor, ceiling]: first forward, to
    the next working day's start, then back, to the last working minute before it. With no
    working minute in between (a case opened at 17:59 on as_of's eve), the floor: as close to
    the working time it follows as it can be.

    Moved times are spread over the first (or last) 90 minutes of the day by the wall-clock
    minute they came from, so a weekend's records don't all land on Monday 8:00.
    """
    start, end = hours[0] * 60, hours[1] * 60
    local = minute + utc_offset_minutes(tz, minute // 1440)
    day, of_day = divmod(local, 1440)
    working = not (weekdays_only and is_weekend(day))
    if working and start <= of_day < end:
        return minute
    # from the wall-clock minute, so that shifting a world by whole days moves it the same way
    spread = (local * 7919) % max(1, min(90, end - start))
    ahead = day if working and of_day < start else day + 1
    while weekdays_only and is_weekend(ahead):
        ahead += 1
    forward = ahead * 1440 + start - utc_offset_minutes(tz, ahead)
    if floor <= forward <= ceiling:
        return min(forward + spread, ceiling)
    back = day if working and of_day >= end else day - 1
    while weekdays_only and is_weekend(back):
        back -= 1
    backward = back * 1440 + end - 1 - utc_offset_minutes(tz, back)
    if floor <= backward <= ceiling:
        return max(backward - spread, floor)
    return min(floor, ceiling)
