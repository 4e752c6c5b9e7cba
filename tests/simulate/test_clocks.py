"""Clock modes: real, accelerated and backfill, on simulated time (nothing sleeps)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from orgforge.clock import SimulatedClock
from orgforge.errors import ConfigError
from orgforge.simulate.clocks import AcceleratedClock, BackfillClock, parse_clock


def test_fast_runs_n_times_the_base_clock():
    base = SimulatedClock("2026-12-01T09:00:00Z")
    mode = parse_clock("fast:60", base)
    assert isinstance(mode.clock, AcceleratedClock) and mode.end is None
    base.advance(10)  # ten real seconds
    assert mode.clock.now() == dt.datetime(2026, 12, 1, 9, 10, tzinfo=dt.UTC)
    mode.clock.sleep(120)  # two simulated minutes = two real seconds
    assert base.slept[-1] == pytest.approx(2.0)
    asyncio.run(mode.clock.asleep(60))
    assert base.slept[-1] == pytest.approx(1.0)


def test_backfill_starts_in_the_past_and_never_passes_now():
    base = SimulatedClock("2026-12-04T12:00:00Z")
    mode = parse_clock("backfill:14d", base)
    assert isinstance(mode.clock, BackfillClock)
    assert mode.clock.now() == dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
    assert mode.end == base.now()
    mode.clock.sleep(13 * 86400)
    mode.clock.sleep(5 * 86400)  # past the end: stops at it
    assert mode.clock.now() == mode.end
    assert parse_clock("backfill:2w", base).clock.now() == dt.datetime(
        2026, 11, 20, 12, tzinfo=dt.UTC
    )
    assert parse_clock("backfill:36h", base).clock.now() == dt.datetime(2026, 12, 3, tzinfo=dt.UTC)
    assert parse_clock("real", base).clock is base


@pytest.mark.parametrize("spec", ["slow", "fast:0", "fast:x", "backfill:14", "backfill:0d", ""])
def test_a_bad_clock_is_one_line_naming_it(spec):
    with pytest.raises(ConfigError) as caught:
        parse_clock(spec)
    assert "--clock" in caught.value.message and "backfill:14d" in caught.value.hint
