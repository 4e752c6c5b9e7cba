"""Client-side rate limiting: stay under a share (80%) of Asana's per-token quota.

Asana counts requests per token per minute (150 free, 1,500 paid) and rejected requests count
too, so the cheapest 429 is the one never sent. Each token gets a sliding one-minute window of
``floor(quota * share)`` requests; a request that would exceed it waits (on the injected
:class:`~orgforge.clock.Clock`, so tests run on simulated time). A 429's Retry-After blocks
that token until then.
"""

from __future__ import annotations

import math
import threading
from collections import deque

from orgforge.clock import REAL, Clock

WINDOW = 60.0


class ClientRateLimiter:
    def __init__(
        self,
        quota_per_minute: int,
        share: float = 0.8,
        clock: Clock = REAL,
        window: float = WINDOW,  # Asana's is a minute; a benchmark may scale both sides down
    ) -> None:
        self.allowed = max(1, math.floor(quota_per_minute * share))
        self.window = window
        self._clock = clock.monotonic
        self._sleep = clock.sleep
        self._sent: dict[str, deque[float]] = {}
        self._blocked_until: dict[str, float] = {}
        self._lock = threading.Lock()
        self.waited = 0.0  # seconds spent waiting, for the run summary

    def acquire(self, token: str) -> None:
        """Wait until ``token`` may send one more request, then count it."""
        while True:
            with self._lock:
                now = self._clock()
                sent = self._sent.setdefault(token, deque())
                while sent and sent[0] <= now - self.window:
                    sent.popleft()
                wait = self._blocked_until.get(token, 0.0) - now
                if wait <= 0 and len(sent) >= self.allowed:
                    wait = sent[0] + self.window - now
                if wait <= 0:
                    sent.append(now)
                    return
            self.waited += wait
            self._sleep(wait)

    def block(self, token: str, seconds: float) -> None:
        """Asana said Retry-After: no request with this token before then."""
        with self._lock:
            until = self._clock() + max(0.0, seconds)
            self._blocked_until[token] = max(self._blocked_until.get(token, 0.0), until)

    def in_window(self, token: str) -> int:
        with self._lock:
            now = self._clock()
            return sum(1 for t in self._sent.get(token, ()) if t > now - self.window)
