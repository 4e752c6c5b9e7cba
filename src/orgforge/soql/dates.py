"""Dates in SOQL: date and dateTime literals, and the day ranges relative date literals cover.

``today`` is always an argument: the sandbox passes the day of its clock, ``activity --where``
the day of the run, so nothing here reads the wall clock on its own.
"""

from __future__ import annotations

import datetime as dt
import re

from orgforge.clock import REAL, Clock

UTC = dt.UTC

# Salesforce accepts dates from 1700-01-01 to 4000-12-31 (Data Loader "Data Import Dates");
# a relative literal whose range leaves that window can't be a real filter.
MIN_DATE = dt.date(1700, 1, 1)
MAX_DATE = dt.date(4000, 12, 31)

_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)

DATE_LITERALS = frozenset(
    {
        "YESTERDAY",
        "TODAY",
        "TOMORROW",
        "LAST_WEEK",
        "THIS_WEEK",
        "NEXT_WEEK",
        "LAST_MONTH",
        "THIS_MONTH",
        "NEXT_MONTH",
        "LAST_90_DAYS",
        "NEXT_90_DAYS",
        "THIS_QUARTER",
        "LAST_QUARTER",
        "NEXT_QUARTER",
        "THIS_YEAR",
        "LAST_YEAR",
        "NEXT_YEAR",
        "THIS_FISCAL_QUARTER",
        "LAST_FISCAL_QUARTER",
        "NEXT_FISCAL_QUARTER",
        "THIS_FISCAL_YEAR",
        "LAST_FISCAL_YEAR",
        "NEXT_FISCAL_YEAR",
    }
)
DATE_LITERALS_N = frozenset(
    {
        "LAST_N_DAYS",
        "NEXT_N_DAYS",
        "N_DAYS_AGO",
        "LAST_N_WEEKS",
        "NEXT_N_WEEKS",
        "N_WEEKS_AGO",
        "LAST_N_MONTHS",
        "NEXT_N_MONTHS",
        "N_MONTHS_AGO",
        "LAST_N_QUARTERS",
        "NEXT_N_QUARTERS",
        "N_QUARTERS_AGO",
        "LAST_N_YEARS",
        "NEXT_N_YEARS",
        "N_YEARS_AGO",
        "LAST_N_FISCAL_QUARTERS",
        "NEXT_N_FISCAL_QUARTERS",
        "LAST_N_FISCAL_YEARS",
        "NEXT_N_FISCAL_YEARS",
    }
)


def today_utc(clock: Clock = REAL) -> dt.date:
    """The current UTC day (the org's query time zone) on ``clock``: what ``today`` defaults
    to when a caller gives none."""
    return clock.today()


def parse_datetime(text: str) -> dt.datetime | None:
    """An ISO 8601 dateTime as an aware UTC datetime truncated to milliseconds, or None."""
    m = _DATETIME.match(text.strip())
    if not m:
        return None
    year, month, day, hour, minute = (int(m.group(i)) for i in range(1, 6))
    second = int(m.group(6) or 0)
    frac = (m.group(7) or "0")[:6].ljust(6, "0")
    tz = m.group(8)
    offset = dt.timedelta(0)
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        offset = sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    try:
        value = dt.datetime(
            year, month, day, hour, minute, second, int(frac), tzinfo=dt.timezone(offset)
        )
        value = value.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def parse_date(text: str) -> dt.date | None:
    m = _DATE.match(text.strip())
    if not m:
        return None
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


class DateRangeError(ValueError):
    """A relative date literal whose range falls outside the dates Salesforce accepts."""


def _add_months(day: dt.date, months: int) -> dt.date:
    total = day.year * 12 + day.month - 1 + months
    return dt.date(total // 12, total % 12 + 1, 1)


def date_range(name: str, n: int | None, today: dt.date) -> tuple[dt.date, dt.date]:
    """The half-open [start, end) day range a date literal covers (weeks start on Sunday).

    Raises :class:`DateRangeError` when the range leaves 1700-01-01..4000-12-31 (a huge
    ``n``), instead of letting date arithmetic overflow.
    """
    try:
        start, end = _date_range(name, n, today)
    except (OverflowError, ValueError):
        raise DateRangeError(f"{name}:{n}") from None
    if start < MIN_DATE or end > MAX_DATE + dt.timedelta(days=1):
        raise DateRangeError(f"{name}:{n}")
    return start, end


def _date_range(name: str, n: int | None, today: dt.date) -> tuple[dt.date, dt.date]:
    day = dt.timedelta(days=1)
    week_start = today - dt.timedelta(days=(today.weekday() + 1) % 7)
    month_start = today.replace(day=1)
    quarter_start = dt.date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
    year_start = dt.date(today.year, 1, 1)
    name = name.replace("_FISCAL", "")  # fiscal year = calendar year in the sandbox
    if n is None:
        simple = {
            "YESTERDAY": lambda: (today - day, today),
            "TODAY": lambda: (today, today + day),
            "TOMORROW": lambda: (today + day, today + 2 * day),
            "LAST_WEEK": lambda: (week_start - 7 * day, week_start),
            "THIS_WEEK": lambda: (week_start, week_start + 7 * day),
            "NEXT_WEEK": lambda: (week_start + 7 * day, week_start + 14 * day),
            "LAST_MONTH": lambda: (_add_months(month_start, -1), month_start),
            "THIS_MONTH": lambda: (month_start, _add_months(month_start, 1)),
            "NEXT_MONTH": lambda: (_add_months(month_start, 1), _add_months(month_start, 2)),
            "LAST_90_DAYS": lambda: (today - 90 * day, today + day),
            "NEXT_90_DAYS": lambda: (today + day, today + 91 * day),
            "THIS_QUARTER": lambda: (quarter_start, _add_months(quarter_start, 3)),
            "LAST_QUARTER": lambda: (_add_months(quarter_start, -3), quarter_start),
            "NEXT_QUARTER": lambda: (_add_months(quarter_start, 3), _add_months(quarter_start, 6)),
            "THIS_YEAR": lambda: (year_start, _add_months(year_start, 12)),
            "LAST_YEAR": lambda: (_add_months(year_start, -12), year_start),
            "NEXT_YEAR": lambda: (_add_months(year_start, 12), _add_months(year_start, 24)),
        }
        return simple[name]()
    ranges = {
        "LAST_N_DAYS": lambda: (today - n * day, today + day),
        "NEXT_N_DAYS": lambda: (today + day, today + (n + 1) * day),
        "N_DAYS_AGO": lambda: (today - n * day, today - (n - 1) * day),
        "LAST_N_WEEKS": lambda: (week_start - 7 * n * day, week_start),
        "NEXT_N_WEEKS": lambda: (week_start + 7 * day, week_start + 7 * (n + 1) * day),
        "N_WEEKS_AGO": lambda: (week_start - 7 * n * day, week_start - 7 * (n - 1) * day),
        "LAST_N_MONTHS": lambda: (_add_months(month_start, -n), month_start),
        "NEXT_N_MONTHS": lambda: (_add_months(month_start, 1), _add_months(month_start, n + 1)),
        "N_MONTHS_AGO": lambda: (_add_months(month_start, -n), _add_months(month_start, 1 - n)),
        "LAST_N_QUARTERS": lambda: (_add_months(quarter_start, -3 * n), quarter_start),
        "NEXT_N_QUARTERS": lambda: (
            _add_months(quarter_start, 3),
            _add_months(quarter_start, 3 * n + 3),
        ),
        "N_QUARTERS_AGO": lambda: (
            _add_months(quarter_start, -3 * n),
            _add_months(quarter_start, 3 - 3 * n),
        ),
        "LAST_N_YEARS": lambda: (_add_months(year_start, -12 * n), year_start),
        "NEXT_N_YEARS": lambda: (_add_months(year_start, 12), _add_months(year_start, 12 * n + 12)),
        "N_YEARS_AGO": lambda: (
            _add_months(year_start, -12 * n),
            _add_months(year_start, 12 - 12 * n),
        ),
    }
    return ranges[name]()
