"""orgforge.clock: real, fixed and simulated clocks."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from orgforge.clock import REAL, FixedClock, SimulatedClock, as_datetime


def test_a_simulated_clock_moves_only_when_told_or_slept_on():
    clock = SimulatedClock("2026-03-02T09:00:00Z")
    assert clock.now() == dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC) and clock.monotonic() == 0
    clock.sleep(90)
    clock.advance(30)
    assert clock.now() == dt.datetime(2026, 3, 2, 9, 2, tzinfo=dt.UTC)
    assert clock.slept == [90] and clock.elapsed == 120 and clock.monotonic() == 120
    clock.set("2026-03-03")
    assert clock.today() == dt.date(2026, 3, 3) and clock.iso() == "2026-03-03T00:00:00.000000Z"
    with pytest.raises(ValueError, match="can't go back"):
        clock.set("2026-03-01")


def test_sleeping_tasks_interleave_on_simulated_time():
    clock = SimulatedClock()
    order: list[tuple[str, float]] = []

    async def task(name: str, pause: float) -> None:
        await clock.asleep(pause)
        order.append((name, clock.elapsed))

    async def both() -> None:
        await asyncio.gather(task("a", 5), task("b", 1))

    asyncio.run(both())
    assert clock.elapsed == 6 and {name for name, _ in order} == {"a", "b"}


def test_a_fixed_clock_never_moves():
    clock = FixedClock("2026-01-01T12:00:00+02:00")
    clock.sleep(3600)
    clock.advance(60)
    assert clock.now() == dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC)
    assert clock.time() == clock.now().timestamp() and clock.slept == [3600]


def test_the_real_clock_is_the_machine_s():
    before = dt.datetime.now(dt.UTC)
    assert before <= REAL.now() <= dt.datetime.now(dt.UTC)
    assert REAL.now().tzinfo is dt.UTC
    assert as_datetime(dt.date(2026, 5, 1)) == dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
