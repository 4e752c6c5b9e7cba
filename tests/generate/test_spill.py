"""What grows with the world is bounded in memory and changes nothing: the spilling set and
dict behave as a set and a dict at any size, and a world made with tiny bounds (names and
calendar spilled to disk, the offline engine's leaves dropped again and again) is the world."""

from __future__ import annotations

import hashlib
from random import Random

from tests.worlds import make_world

from orgforge.content import offline
from orgforge.generate import spill
from orgforge.generate.spill import SpillingDict, SpillingSet


def test_the_spilling_set_is_a_set_at_any_size():
    rng = Random(5)
    spilled, plain = SpillingSet(limit=20), set()
    for _ in range(2_000):
        item = f"name{rng.randrange(600)}"
        assert (item in spilled) == (item in plain), item
        if rng.random() < 0.6:
            spilled.add(item)
            plain.add(item)
    assert spilled._db is not None and len(spilled._memory) <= 20  # it did spill, and stays small
    assert all((f"name{i}" in spilled) == (f"name{i}" in plain) for i in range(700))
    spilled.close()


def test_the_spilling_dict_is_a_dict_of_masks_at_any_size():
    rng = Random(6)
    spilled, plain = SpillingDict(default=0, limit=30), {}
    for step in range(5_000):
        key = (f"User/{rng.randrange(8):02d}", rng.randrange(40))
        bit = 1 << rng.randrange(96)  # 96-bit masks: past SQLite's INTEGER
        assert spilled[key] == plain.get(key, 0), (step, key)
        if rng.random() < 0.7:
            spilled[key] = spilled[key] | bit
            plain[key] = plain.get(key, 0) | bit
        else:  # clearing bits, down to nothing, as a moved meeting does
            spilled[key] = spilled[key] & ~bit
            plain[key] = plain.get(key, 0) & ~bit
        spilled.spill_if_full()
        assert len(spilled) <= 31
    assert spilled._db is not None
    for user in range(8):
        for day in range(40):
            key = (f"User/{user:02d}", day)
            assert spilled.get(key) == plain.get(key, 0)
            assert (key in spilled) == bool(plain.get(key, 0))
    spilled.close()


def _digest(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_tiny_bounds_write_the_same_world(tmp_path, monkeypatch):
    """400 accounts: ~600 calendar days and 400 names, against bounds of 50; and leaves dropped
    every 200 compiled (compiling from the first text)."""
    make_world(tmp_path / "a", accounts=400, seed=9, out=str(tmp_path / "a-out"))
    monkeypatch.setattr(spill, "SPILL_AT", 50)
    monkeypatch.setattr(offline, "LEAF_LIMIT", 200)
    monkeypatch.setattr(offline, "COMPILE_AFTER", 0)
    drops = []
    real_drop = offline.OfflineEngine._drop_leaves
    monkeypatch.setattr(
        offline.OfflineEngine, "_drop_leaves", lambda self: drops.append(1) or real_drop(self)
    )
    spills = []
    real_spill = SpillingDict.spill_if_full
    monkeypatch.setattr(
        SpillingDict,
        "spill_if_full",
        lambda self: spills.append(len(self) > self.limit) or real_spill(self),
    )
    make_world(tmp_path / "b", accounts=400, seed=9, out=str(tmp_path / "b-out"))
    assert len(drops) >= 10 and sum(spills) >= 5  # the bounds were met, many times
    assert _digest(tmp_path / "a-out") == _digest(tmp_path / "b-out")
