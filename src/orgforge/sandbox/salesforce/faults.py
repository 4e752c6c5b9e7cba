"""Fault injection and request counting.

``--faults "429=0.1,503=0.05,lock=0.05,expire=0.01"``: each API request draws once from a seeded
RNG for the request-level faults (429 REQUEST_LIMIT_EXCEEDED with Retry-After, 503, and session
expiry), each record of a write draws for ``lock`` (UNABLE_TO_LOCK_ROW), and each change event
for ``gap`` (published as its GAP_* twin: headers only, the subscriber re-reads the record).
The same seed and the same sequence of requests give the same faults. ``retry_after=N`` sets
the Retry-After value.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any

from orgforge.sandbox import fault_spec

KINDS = ("429", "503", "lock", "expire", "gap")


def parse_faults(spec: str | dict[str, float] | None) -> dict[str, float]:
    return fault_spec.parse_faults(
        spec,
        KINDS,
        per_request=("429", "503", "expire"),  # drawn from one number per request
        example="429=0.1,503=0.05,lock=0.05,expire=0.01",
    )


class Faults:
    def __init__(self, spec: str | dict[str, float] | None, seed: int = 0) -> None:
        self.rates = parse_faults(spec)
        self.retry_after = int(self.rates.pop("retry_after", 1))
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def request_fault(self) -> str | None:
        """'429', '503', 'expire' or None for one API request."""
        p429, p503, pexp = (self.rates.get(k, 0.0) for k in ("429", "503", "expire"))
        if not (p429 or p503 or pexp):
            return None
        with self._lock:
            u = self._rng.random()
        if u < p429:
            return "429"
        if u < p429 + p503:
            return "503"
        if u < p429 + p503 + pexp:
            return "expire"
        return None

    def lock_hit(self) -> bool:
        p = self.rates.get("lock", 0.0)
        if not p:
            return False
        with self._lock:
            return self._rng.random() < p


class Stats:
    """Request counters by endpoint family and status, and injected faults by kind."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.families: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.total = 0

    def count(self, family: str, status: int) -> None:
        with self._lock:
            self.total += 1
            self.families[family] += 1
            self.statuses[str(status)] += 1

    def fault(self, kind: str) -> None:
        with self._lock:
            self.faults[kind] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": self.total,
                "by_family": dict(sorted(self.families.items())),
                "by_status": dict(sorted(self.statuses.items())),
                "faults": dict(sorted(self.faults.items())),
            }

    def reset(self) -> None:
        with self._lock:
            self.families.clear()
            self.statuses.clear()
            self.faults.clear()
            self.total = 0
