"""The runner's clock modes on top of :mod:`orgforge.clock`: real, accelerated and backfill.

    real            the machine's clock
    fast:60         60× real time from now: a minute of simulated working day per real second
    backfill:14d    fill the last 14 days (h, d or w) as fast as the target allows: the clock
                    starts 14 days ago, jumps to each planned action and stops at now

Everything the runner plans and logs is in the clock's time, so an accelerated or backfilled
run writes timestamps inside its window. The target's rate limiter keeps running on real time
(a backfill is as fast as the target allows, no faster).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from dataclasses import dataclass

from orgforge.clock import REAL, Clock, SimulatedClock
from orgforge.errors import ConfigError

__all__ = ["AcceleratedClock", "BackfillClock", "ClockMode", "parse_clock"]

_UNITS = {"h": 3600, "d": 86400, "w": 7 * 86400}
CLOCK_HINT = "Use real, fast:N (e.g. fast:60) or backfill:N[h|d|w] (e.g. backfill:14d)."


class AcceleratedClock(Clock):
    """``factor``× the base clock, starting at the base clock's now (or ``start``)."""

    name = "fast"

    def __init__(self, factor: float, base: Clock = REAL, start: dt.datetime | None = None) -> None:
        if factor <= 0:
            raise ValueError("an accelerated clock needs a factor > 0")
        self.factor = factor
        self.base = base
        self._start = start or base.now()
        self._m0 = base.monotonic()

    def monotonic(self) -> float:
        return (self.base.monotonic() - self._m0) * self.factor

    def now(self) -> dt.datetime:
        return self._start + dt.timedelta(seconds=self.monotonic())

    def sleep(self, seconds: float) -> None:
        self.base.sleep(max(0.0, seconds) / self.factor)

    async def asleep(self, seconds: float) -> None:
        await self.base.asleep(max(0.0, seconds) / self.factor)


class BackfillClock(SimulatedClock):
    """A past window filled as fast as possible: sleeps jump (never past ``end``)."""

    name = "backfill"

    def __init__(self, start: dt.datetime, end: dt.datetime) -> None:
        super().__init__(start)
        self.end = end

    def sleep(self, seconds: float) -> None:
        left = (self.end - self.now()).total_seconds()
        super().sleep(max(0.0, min(seconds, left)))

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
        await asyncio.sleep(0)


@dataclass(frozen=True)
class ClockMode:
    """A parsed ``--clock``: its spec, the clock, and where a backfill stops."""

    spec: str
    clock: Clock
    end: dt.datetime | None = None  # backfill: the run stops here

    @property
    def kind(self) -> str:
        return self.spec.split(":", 1)[0]


def check_clock_spec(spec: str) -> str:
    """The normalised spec, or ConfigError naming what is wrong."""
    text = (spec or "").strip().lower()
    if text == "real":
        return text
    match = re.fullmatch(r"fast:(\d+(?:\.\d+)?)", text)
    if match:
        if float(match[1]) <= 0:
            raise ConfigError(f"--clock {spec}: the factor must be above 0", CLOCK_HINT)
        return text
    match = re.fullmatch(r"backfill:(\d+)([hdw])", text)
    if match:
        if int(match[1]) == 0:
            raise ConfigError(f"--clock {spec}: the window must be longer than 0", CLOCK_HINT)
        return text
    raise ConfigError(f"--clock {spec!r}: not a clock", CLOCK_HINT)


def parse_clock(spec: str, base: Clock = REAL) -> ClockMode:
    """``real`` | ``fast:N`` | ``backfill:N[h|d|w]`` on ``base`` (tests pass a simulated one)."""
    text = check_clock_spec(spec)
    if text == "real":
        return ClockMode(text, base)
    kind, value = text.split(":", 1)
    if kind == "fast":
        return ClockMode(text, AcceleratedClock(float(value), base))
    seconds = int(value[:-1]) * _UNITS[value[-1]]
    end = base.now()
    return ClockMode(text, BackfillClock(end - dt.timedelta(seconds=seconds), end), end)
