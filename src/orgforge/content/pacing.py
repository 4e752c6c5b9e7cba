"""Pacing the LLM engine's calls: token-bucket rate limits on a Clock, and the engine's event
loop thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any

from orgforge.clock import REAL, Clock


class RateLimiter:
    """Requests/min and tokens/min as token buckets (10 s of burst); 0 disables a limit.

    Time is the given clock's: on a simulated clock the waits are instant and exact."""

    def __init__(self, rpm: int, tpm: int, clock: Clock = REAL) -> None:
        self.clock = clock
        now = clock.monotonic()
        self._buckets = [
            [float(limit), limit / 60.0, max(1.0, limit / 6.0), now]
            for limit in (rpm, tpm)
            if limit
        ]
        self._kinds = [k for k, limit in (("r", rpm), ("t", tpm)) if limit]
        self.waited = 0.0
        for bucket in self._buckets:
            bucket[0] = bucket[2]

    async def acquire(self, tokens: float, until: float | None = None) -> bool:
        """Take one request and ``tokens``; False (nothing taken) if that means waiting past
        ``until`` (a ``clock.monotonic()`` instant: the engine's deadline)."""
        needs = {"r": 1.0, "t": float(tokens)}
        while True:
            now = self.clock.monotonic()
            wait = 0.0
            for kind, bucket in zip(self._kinds, self._buckets, strict=True):
                level, rate, capacity, last = bucket
                level = min(capacity, level + (now - last) * rate)
                bucket[0], bucket[3] = level, now
                need = min(needs[kind], capacity)
                if level < need:
                    wait = max(wait, (need - level) / rate)
            if wait <= 0:
                for kind, bucket in zip(self._kinds, self._buckets, strict=True):
                    bucket[0] -= needs[kind]  # may go negative: a large call is paid later
                return True
            if until is not None and now + wait > until:
                return False
            self.waited += wait
            await self.clock.asleep(wait)


class LoopThread:
    """One event loop in a daemon thread for an engine's lifetime: one SDK client and its
    connection pool serve every fill of a run, and fill() works from sync code even when the
    caller already runs an event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="orgforge-llm", daemon=True
        )
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        if not self.thread.is_alive():
            self.loop.close()
