"""Working time: the one rule every generated (and activity-job) audit minute follows."""

from __future__ import annotations

import datetime as dt

import pytest

from orgforge.generate.timeutil import local_minute, work_day, working_minute

NY = "America/New_York"
HOURS = (8, 18)
WED = dt.date(2026, 11, 18).toordinal()  # a Wednesday
SAT, SUN, MON = WED + 3, WED + 4, WED + 5


def at(day: int, hh: int, mm: int = 0, tz: str = NY) -> int:
    return local_minute(day, hh * 60 + mm, tz)


def test_a_working_minute_stays_where_it_is():
    minute = at(WED, 10, 15)
    assert working_minute(minute, NY, HOURS, 0, minute + 10_000) == minute


def test_a_night_minute_moves_to_the_next_morning_within_its_first_90_minutes():
    moved = working_minute(at(WED, 22), NY, HOURS, 0, at(WED + 30, 0))
    assert at(WED + 1, 8) <= moved < at(WED + 1, 9, 30)


def test_a_weekend_minute_moves_to_monday_unless_weekends_are_working_days():
    ceiling = at(WED + 30, 0)
    moved = working_minute(at(SAT, 11), NY, HOURS, 0, ceiling)
    assert at(MON, 8) <= moved < at(MON, 9, 30)
    assert working_minute(at(SAT, 11), NY, HOURS, 0, ceiling, weekdays_only=False) == at(SAT, 11)


def test_past_the_ceiling_it_moves_back_to_the_last_working_minute_after_the_floor():
    ceiling = at(WED, 23, 59)  # as_of's eve: tomorrow morning has not happened yet
    moved = working_minute(at(WED, 20), NY, HOURS, at(WED, 9), ceiling)
    assert at(WED, 16, 30) <= moved < at(WED, 18)


def test_with_no_working_minute_in_between_it_takes_the_floor():
    floor, ceiling = at(WED, 18, 0), at(WED, 23)  # a case opened at 17:59 on as_of's eve
    assert working_minute(at(WED, 19), NY, HOURS, floor, ceiling) == floor


@pytest.mark.parametrize("day", range(WED - 14, WED + 14))
def test_work_days_are_weekdays_and_keep_their_order(day):
    asof = WED + 7
    moved = work_day(day, asof)
    assert (moved - 1) % 7 < 5  # ordinal 1 is a Monday
    assert moved <= work_day(day + 1, asof)
    assert moved < asof or day >= asof - 3
