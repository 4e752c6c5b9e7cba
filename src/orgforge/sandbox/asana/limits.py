"""Asana's limits, fault injection and the request counter.

- **Rate limit, per token**: ``quota`` requests per ``window`` seconds (free 150/min, paid
  1,500/min), a sliding window. Rejected requests count towards the quota, as on Asana, so a
  client that ignores ``Retry-After`` keeps itself locked out. A batch of n actions counts n.
- **Concurrency, per token**: 50 reads (GET) and 15 writes in flight; the next one gets a 429.
- **Faults**: ``--faults "429=0.05,500=0.01,503=0.02,retry_after=1"``: each API request draws
  once from a seeded RNG, so the same seed and the same requests give the same faults.
"""

from __future__ import annotations

import math
import random
import threading
from collections import Counter, deque
from typing import Any

from orgforge.clock import REAL, Clock
from orgforge.sandbox import fault_spec

FREE_QUOTA = 150
PAID_QUOTA = 1500
MAX_READS = 50
MAX_WRITES = 15
FAULT_KINDS = ("429", "500", "503")


class RateLimiter:
    def __init__(self, quota: int, window: float = 60.0, clock: Clock = REAL) -> None:
        self.quota = quota
        self.window = window
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, token: str, n: int = 1) -> int | None:
        """Count n requests for ``token``; None if allowed, else Retry-After in whole seconds."""
        now = self._clock.monotonic()
        with self._lock:
            seen = self._seen.setdefault(token, deque())
            while seen and seen[0] <= now - self.window:
                seen.popleft()
            allowed = len(seen) + n <= self.quota
            seen.extend([now] * n)
            if allowed:
                return None
            # The request after this one fits once all but quota - n of the counted ones aged out.
            oldest_needed = seen[len(seen) - self.quota + n - 1] if n <= self.quota else now
            return max(1, math.ceil(oldest_needed + self.window - now))

    def reset(self) -> None:
        with self._lock:
            self._seen.clear()


class Concurrency:
    """Requests in flight per token, reads and writes apart."""

    def __init__(self, max_reads: int = MAX_READS, max_writes: int = MAX_WRITES) -> None:
        self.limits = {"read": max_reads, "write": max_writes}
        self._in_flight: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self.peak: Counter[str] = Counter()

    def enter(self, token: str, kind: str) -> bool:
        with self._lock:
            if self._in_flight[(token, kind)] >= self.limits[kind]:
                return False
            self._in_flight[(token, kind)] += 1
            self.peak[kind] = max(self.peak[kind], self._in_flight[(token, kind)])
            return True

    def leave(self, token: str, kind: str) -> None:
        with self._lock:
            self._in_flight[(token, kind)] -= 1


def parse_faults(spec: str | dict[str, float] | None) -> dict[str, float]:
    return fault_spec.parse_faults(
        spec,
        FAULT_KINDS,
        per_request=FAULT_KINDS,
        example="429=0.05,500=0.01,503=0.02,retry_after=1",
    )


class Faults:
    def __init__(self, spec: str | dict[str, float] | None, seed: int = 0) -> None:
        self.rates = parse_faults(spec)
        self.retry_after = int(self.rates.pop("retry_after", 1))
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def draw(self) -> str | None:
        """'429', '500', '503' or None for one API request."""
        if not self.rates:
            return None
        with self._lock:
            u = self._rng.random()
        edge = 0.0
        for kind in FAULT_KINDS:
            edge += self.rates.get(kind, 0.0)
            if u < edge:
                return kind
        return None


class Stats:
    """Requests by route family, status and user; injected faults and limit hits by kind."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.families: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.users: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.limited: Counter[str] = Counter()
        self.clients: Counter[str] = Counter()
        self.total = 0

    def count(self, family: str, status: int, user: str | None, client: str | None) -> None:
        with self._lock:
            self.total += 1
            self.families[family] += 1
            self.statuses[str(status)] += 1
            if user:
                self.users[user] += 1
            if client:
                self.clients[client] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": self.total,
                "by_family": dict(sorted(self.families.items())),
                "by_status": dict(sorted(self.statuses.items())),
                "by_user": dict(sorted(self.users.items())),
                "faults": dict(sorted(self.faults.items())),
                "rate_limited": dict(sorted(self.limited.items())),
                "client_libs": dict(sorted(self.clients.items())),
            }

    def reset(self) -> None:
        with self._lock:
            for counter in (
                self.families,
                self.statuses,
                self.users,
                self.faults,
                self.limited,
                self.clients,
            ):
                counter.clear()
            self.total = 0
