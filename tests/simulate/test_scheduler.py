"""The scheduler: working hours per persona, weekends, holidays, bursts and the job's rate."""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import Counter

from orgforge.simulate.scheduler import Persona, Schedule, _mean_burst

UTC = dt.UTC
START = dt.datetime(2026, 11, 2, tzinfo=UTC)  # a Monday


def _draw(schedule: Schedule, start: dt.datetime, end: dt.datetime, seed: int = 7):
    rng = random.Random(seed)
    out, t = [], start
    while True:
        found = schedule.next_action(t, rng, end)
        if found is None:
            return out
        out.append(found)
        t = found[0]


def test_actions_fall_in_each_personas_working_hours_across_time_zones_and_holidays():
    team = [
        Persona("Ada", "America/New_York"),
        Persona("Ben", "Europe/London", 8, 16),
        Persona("Chiyo", "Asia/Tokyo", 10, 18),
    ]
    actions = _draw(Schedule(team, rate=40), START, START + dt.timedelta(days=56))
    by_persona = Counter(p.name for _, p in actions)
    for persona in team:
        mine = [t for t, p in actions if p is persona]
        inside = sum(1 for t in mine if persona.at_work(t))
        n = len(mine)
        # ≥ 95% with room for sampling error: 3 standard errors of a share of 0.95 over n
        assert n > 500, by_persona
        assert inside / n >= 0.95 - 3 * math.sqrt(0.95 * 0.05 / n), (persona.name, inside, n)
        # and nothing on a weekend, local time
        assert all(t.astimezone(persona.zone).weekday() < 5 for t in mine)


def test_public_holidays_of_the_personas_country_are_days_off():
    ada, ben = Persona("Ada", "America/New_York"), Persona("Ben", "Europe/London")
    actions = _draw(Schedule([ada, ben], rate=30), START, START + dt.timedelta(days=60))
    days = {(p.name, t.astimezone(p.zone).date()) for t, p in actions}
    thanksgiving, christmas = dt.date(2026, 11, 26), dt.date(2026, 12, 25)
    assert ("Ada", thanksgiving) not in days and ("Ada", christmas) not in days
    assert ("Ben", thanksgiving) in days  # not a holiday in the UK
    assert ("Ben", christmas) not in days
    assert ada.is_holiday(thanksgiving) and not ben.is_holiday(thanksgiving)
    # a persona may name its country instead of taking the time zone's
    assert Persona("Cy", "UTC", country="FR").is_holiday(dt.date(2026, 7, 14))


def test_bursts_at_start_of_day_after_lunch_and_quiet_over_lunch():
    persona = Persona("Ada", "UTC", 9, 17, country="XX")  # unknown country: no holidays
    rate = 30.0
    actions = _draw(Schedule([persona], rate=rate), START, START + dt.timedelta(days=56))
    by_hour = Counter(t.hour for t, _ in actions)
    days = 40  # weekdays in 8 weeks
    mean = _mean_burst(9, 17)
    for hour, multiplier in ((9, 2.0), (10, 1.0), (12, 0.5), (13, 1.6)):
        expected = days * rate * multiplier / mean
        # Poisson counts: within 4 standard deviations of the burst curve's expectation
        assert abs(by_hour[hour] - expected) < 4 * math.sqrt(expected), (hour, by_hour, expected)
    # the job's rate is its average over the working day, bursts included
    total_expected = days * 8 * rate
    assert abs(len(actions) - total_expected) < 4 * math.sqrt(total_expected)


def test_end_of_week_is_busier_on_friday_afternoon():
    persona = Persona("Ada", "UTC", 9, 17, country="XX")
    actions = _draw(Schedule([persona], rate=30), START, START + dt.timedelta(days=84))
    friday = sum(1 for t, _ in actions if t.weekday() == 4 and t.hour in (15, 16))
    monday = sum(1 for t, _ in actions if t.weekday() == 0 and t.hour in (15, 16))
    # 1.5× the rate: the difference is far outside what chance gives (4 sd of the sum)
    assert friday - monday > 0.3 * monday and friday - monday > 4 * math.sqrt(friday + monday)


def test_without_bursts_the_day_is_flat():
    persona = Persona("Ada", "UTC", 9, 17, country="XX")
    actions = _draw(
        Schedule([persona], rate=30, bursts=False), START, START + dt.timedelta(days=56)
    )
    by_hour = Counter(t.hour for t, _ in actions)
    expected = 40 * 30
    for hour in range(9, 17):
        assert abs(by_hour[hour] - expected) < 4 * math.sqrt(expected), by_hour


def test_the_same_seed_plans_the_same_actions_and_nobody_working_plans_none():
    team = [Persona("Ada", "Europe/Berlin")]
    first = _draw(Schedule(team, rate=20), START, START + dt.timedelta(days=7), seed=3)
    again = _draw(Schedule(team, rate=20), START, START + dt.timedelta(days=7), seed=3)
    other = _draw(Schedule(team, rate=20), START, START + dt.timedelta(days=7), seed=4)
    assert first == again and first != other
    weekend_only = Schedule([Persona("Nobody", "UTC", days=())], rate=20)
    assert weekend_only.next_action(START, random.Random(1)) is None
