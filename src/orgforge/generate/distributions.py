"""Weighted picks and exact allocations: the small statistics the generator is built from."""

from __future__ import annotations

import hashlib
import struct
from bisect import bisect
from collections.abc import Mapping, Sequence
from itertools import accumulate
from random import Random
from typing import Generic, TypeVar

T = TypeVar("T")


class Weighted(Generic[T]):
    """Pick from values by weight in O(log n) with one random number."""

    __slots__ = ("_cum", "_total", "values")

    def __init__(self, weights: Mapping[T, float] | Sequence[tuple[T, float]]) -> None:
        items = list(weights.items()) if isinstance(weights, Mapping) else list(weights)
        items = [(v, w) for v, w in items if w > 0]
        if not items:
            raise ValueError("no positive weight")
        self.values: list[T] = [v for v, _ in items]
        self._cum = list(accumulate(w for _, w in items))
        self._total = self._cum[-1]

    def pick(self, rng: Random) -> T:
        return self.values[bisect(self._cum, rng.random() * self._total)]

    def pick_unit(self, u: float) -> T:
        """Pick with a given uniform draw in [0, 1)."""
        return self.values[bisect(self._cum, u * self._total)]

    def share(self, value: T) -> float:
        index = self.values.index(value)
        low = self._cum[index - 1] if index else 0.0
        return (self._cum[index] - low) / self._total


def block_total(per_account: float, block: int, block_size: int) -> int:
    """Records of one kind in block ``block``: exact cumulative rounding, prefix-stable.

    The first k blocks together hold floor(per_account × block_size × k) records, so totals are
    exact whenever that product is whole, and a block's total never depends on later blocks.
    """
    per_block = per_account * block_size
    return int(per_block * (block + 1) + 1e-9) - int(per_block * block + 1e-9)


def allocate(
    total: int,
    weights: Sequence[float],
    rng: Random,
    minimum: Sequence[int] | int = 0,
    cap: Sequence[int] | None = None,
) -> list[int]:
    """Split ``total`` into len(weights) counts: each ≥ its minimum, ≤ its cap, else by weight.

    Units beyond the minimums go one at a time to a slot drawn by weight among slots under their
    cap, so counts vary like a multinomial but always sum to the total (or to the total capacity
    when the caps can't hold it all).
    """
    n = len(weights)
    mins = [minimum] * n if isinstance(minimum, int) else list(minimum)
    caps = list(cap) if cap is not None else [1 << 30] * n
    counts = [min(m, c) for m, c in zip(mins, caps, strict=True)]
    left = total - sum(counts)
    if left < 0:  # the minimums alone exceed the total: hand out by weight order instead
        counts = [0] * n
        left = total
    open_slots = [i for i in range(n) if counts[i] < caps[i] and weights[i] > 0]
    cum = list(accumulate(weights[i] for i in open_slots))
    while left > 0 and open_slots:
        slot = open_slots[bisect(cum, rng.random() * cum[-1])]
        counts[slot] += 1
        left -= 1
        if counts[slot] >= caps[slot]:  # the slot is full: draw among the others from now on
            open_slots.remove(slot)
            cum = list(accumulate(weights[i] for i in open_slots))
    return counts


def quota_sequence(mix: Mapping[str, int], total: int, rng: Random) -> list[str]:
    """``total`` labels in the proportions of ``mix`` (largest remainder), shuffled."""
    weight_sum = sum(mix.values())
    exact = {label: total * w / weight_sum for label, w in mix.items()}
    counts = {label: int(v) for label, v in exact.items()}
    short = total - sum(counts.values())
    for label in sorted(exact, key=lambda k: (counts[k] - exact[k], list(mix).index(k)))[:short]:
        counts[label] += 1
    labels = [label for label, count in counts.items() for _ in range(count)]
    rng.shuffle(labels)
    return labels


_EIGHT_WORDS = struct.Struct("<8Q")  # a 64-byte digest as eight little-endian uint64


def stream(seed: int, *parts: object) -> Random:
    """An independent, reproducible random stream for (seed, parts…)."""
    return Random("/".join(map(str, (seed, *parts))))


def hash_key(seed: int, *parts: object) -> bytes:
    """What hash_unit and hash_units digest for (seed, *parts).

    A hot loop whose leading parts are fixed can encode them once and append the rest: the key
    of (seed, "name", i) is ``hash_key(seed, "name") + b"/%d" % i``.
    """
    return "/".join(map(str, (seed, *parts))).encode()


def hash_unit(seed: int, *parts: object) -> float:
    """A uniform number in [0, 1) from a hash: for picks that must not consume a stream."""
    digest = hashlib.blake2b(hash_key(seed, *parts), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64


def hash_units(seed: int, *parts: object, n: int = 8) -> list[float]:
    """``n`` (≤ 8) uniform numbers in [0, 1) from one hash."""
    digest = hashlib.blake2b(hash_key(seed, *parts), digest_size=64).digest()
    return [word / 2**64 for word in _EIGHT_WORDS.unpack(digest)[:n]]
