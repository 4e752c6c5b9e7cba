"""One clock for everything that reads time: real, fixed or simulated.

Nothing in orgforge calls ``datetime.now()``, ``time.monotonic()`` or sleeps on its own; it asks
the :class:`Clock` it was given (``REAL`` when the caller gave none). Tests and simulations pass
a :class:`SimulatedClock`, whose time moves only when told (``advance``) or when something sleeps
on it — a ``sleep(30)`` on it returns at once, 30 s later in its time. So retry back-offs, rate
limits, deadlines and token expiry are tested without waiting and without depending on how fast
the machine is.

This module imports nothing else of orgforge, so the sandboxes (which must stand alone, like a
real org) can use it too.

    from orgforge.clock import REAL, SimulatedClock
    clock = SimulatedClock(start="2026-03-02T09:00:00Z")
    clock.today()            # datetime.date(2026, 3, 2): SOQL's TODAY, LAST_N_DAYS:7, …
    clock.sleep(90)          # instant; clock.now() is now 09:01:30
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time

__all__ = ["REAL", "Clock", "FixedClock", "RealClock", "SimulatedClock", "as_datetime"]


def as_datetime(value: dt.datetime | dt.date | str) -> dt.datetime:
    """An aware UTC datetime from a datetime (naive means UTC), a date (midnight) or ISO text."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


class Clock:
    """What a clock answers. ``now()`` is wall time (aware, UTC); ``monotonic()`` measures
    intervals; ``sleep``/``asleep`` wait on this clock's time."""

    name = "clock"

    def now(self) -> dt.datetime:
        raise NotImplementedError

    def monotonic(self) -> float:
        raise NotImplementedError

    def sleep(self, seconds: float) -> None:
        raise NotImplementedError

    async def asleep(self, seconds: float) -> None:
        raise NotImplementedError

    def today(self) -> dt.date:
        """Today's date in UTC, on this clock."""
        return self.now().date()

    def time(self) -> float:
        """Seconds since the epoch, on this clock (what ``time.time()`` would say)."""
        return self.now().timestamp()

    def iso(self) -> str:
        """``now()`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``: the world's and run logs' timestamps."""
        return self.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.now().isoformat()})"


class RealClock(Clock):
    """The machine's clock."""

    name = "real"

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class SimulatedClock(Clock):
    """Time that moves only when told: ``advance(seconds)`` or a sleep on it (instant).

    Thread-safe; ``asleep`` yields to the event loop once, so concurrent tasks interleave as they
    would in real time. ``slept`` lists every sleep asked of it, in order.
    """

    name = "simulated"

    def __init__(self, start: dt.datetime | dt.date | str = "2026-01-05T09:00:00Z") -> None:
        self._start = as_datetime(start)
        self._elapsed = 0.0
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def now(self) -> dt.datetime:
        return self._start + dt.timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        return self._elapsed

    @property
    def elapsed(self) -> float:
        """Seconds this clock has moved since it was made."""
        return self._elapsed

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"a clock can't go back ({seconds} s)")
        with self._lock:
            self._elapsed += seconds

    def set(self, when: dt.datetime | dt.date | str) -> None:
        """Move to ``when`` (not earlier than now)."""
        self.advance((as_datetime(when) - self.now()).total_seconds())

    def sleep(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        with self._lock:
            self.slept.append(seconds)
            self._elapsed += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
        await asyncio.sleep(0)


class FixedClock(SimulatedClock):
    """A clock stopped at one instant: sleeps return at once and time never moves."""

    name = "fixed"

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"a clock can't go back ({seconds} s)")

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(max(0.0, seconds))


REAL: Clock = RealClock()
"""The machine's clock: what everything uses unless it is given another."""
