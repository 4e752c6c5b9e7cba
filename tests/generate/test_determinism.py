"""Same seed and config give byte-identical exports; growth keeps the prefix; as_of shifts."""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from tests.worlds import AS_OF, make_world, rows

import orgforge
from orgforge.generate import pipeline
from orgforge.schema import salesforce as sf
from orgforge.world.store import World


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_same_seed_gives_byte_identical_exports(tmp_path, fmt):
    a = make_world(tmp_path / "a", preset="tiny", out=str(tmp_path / "a-out"), format=fmt)
    b = make_world(tmp_path / "b", preset="tiny", out=str(tmp_path / "b-out"), format=fmt)
    assert a != b
    assert digest(tmp_path / "a-out") == digest(tmp_path / "b-out")


def test_another_seed_gives_another_world(tmp_path):
    a = make_world(tmp_path / "a", preset="tiny")
    b = make_world(tmp_path / "b", preset="tiny", seed=43)
    assert [r["Name"] for r in rows(a, "Account")] != [r["Name"] for r in rows(b, "Account")]


def test_workers_do_not_change_the_world(tmp_path):
    one = make_world(tmp_path / "one", accounts=60, workers=1, out=str(tmp_path / "o1"))
    two = make_world(tmp_path / "two", accounts=60, workers=2, out=str(tmp_path / "o2"))
    assert one != two
    assert digest(tmp_path / "o1") == digest(tmp_path / "o2")


def _inserted_keys(world: Path) -> dict[str, list[str]]:
    """Every key the change log says was inserted, per object, in log order."""
    from orgforge.world.store import World

    out: dict[str, list[str]] = {}
    with World(world, create=False) as handle:
        for entry in handle.changes_since(0, limit=100_000):
            if entry["op"] == "insert":
                out.setdefault(entry["object"], []).extend(entry["keys"])
    return out


def test_shards_from_workers_write_the_same_world_and_change_log(tmp_path, monkeypatch):
    """Several chunks, two workers: fresh chunks travel as shard files (world/shard.py)."""
    from orgforge.generate import pipeline

    monkeypatch.setattr(pipeline, "CHUNK_BLOCKS", 2)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(pipeline.tempfile, "tempdir", str(scratch))
    appended = []
    real_append = pipeline.World.append_shard

    def spy(self, shard, manifest, run_id, extra=None):
        appended.append(shard.name)
        return real_append(self, shard, manifest, run_id, extra)

    monkeypatch.setattr(pipeline.World, "append_shard", spy)
    one = make_world(tmp_path / "one", accounts=55, workers=1, out=str(tmp_path / "o1"))
    two = make_world(tmp_path / "two", accounts=55, workers=2, out=str(tmp_path / "o2"))
    assert digest(tmp_path / "o1") == digest(tmp_path / "o2")
    assert _inserted_keys(one) == _inserted_keys(two)
    assert len(appended) == 3  # 6 blocks in chunks of 2, each handed over as a shard
    assert not list(scratch.iterdir())  # shard files and their folder are gone


def test_growing_with_workers_mixes_compared_and_shard_chunks(tmp_path, monkeypatch):
    from orgforge.generate import pipeline

    monkeypatch.setattr(pipeline, "CHUNK_BLOCKS", 2)
    world = make_world(tmp_path, accounts=25, workers=2)
    snapshot = _by_key(world, 25)
    result = orgforge.generate(
        world=str(world),
        runs_dir=str(tmp_path / "runs"),
        accounts=63,
        workers=2,
        seed=42,
        as_of=AS_OF.isoformat(),
    )
    assert all(w.get("updated", 0) == 0 for w in result.written.values())
    assert _by_key(world, 25) == snapshot
    fresh = make_world(tmp_path / "fresh", accounts=63, workers=1)
    assert _by_key(world, 63) == _by_key(fresh, 63)


def _by_key(world: Path, limit_accounts: int) -> dict[str, dict]:
    out = {}
    for name in sf.GENERATED:
        for record in rows(world, name):
            if record["account_idx"] < limit_accounts:
                out[record["key"]] = record
    return out


def test_growing_the_world_keeps_the_first_accounts_identical(tmp_path):
    small = make_world(tmp_path / "s", accounts=25)  # a partial last block
    large = make_world(tmp_path / "l", accounts=47)
    before, after = _by_key(small, 25), _by_key(large, 25)
    assert before.keys() == after.keys()
    for key, record in before.items():
        assert after[key] == record, key


def test_growing_a_world_in_place_only_inserts(tmp_path):
    world = make_world(tmp_path, accounts=25)
    snapshot = _by_key(world, 25)
    result = orgforge.generate(
        world=str(world),
        runs_dir=str(tmp_path / "runs"),
        accounts=47,
        seed=42,
        as_of=AS_OF.isoformat(),
    )
    assert all(
        w.get("updated", 0) == 0 and w.get("deleted", 0) == 0 for w in result.written.values()
    )
    assert _by_key(world, 25) == snapshot
    assert result.counts["Account"] == 47


def test_rerun_writes_nothing(tmp_path):
    world = make_world(tmp_path, preset="tiny")
    result = orgforge.generate(
        world=str(world),
        runs_dir=str(tmp_path / "runs"),
        preset="tiny",
        seed=42,
        as_of=AS_OF.isoformat(),
    )
    assert sum(w.get("inserted", 0) + w.get("updated", 0) for w in result.written.values()) == 0


def test_a_new_offline_text_engine_rewrites_the_old_text(tmp_path, monkeypatch):
    """A world whose text came from an older offline engine is another recipe: a rerun compares
    every record and replaces the old text instead of keeping it beside new text."""
    world = make_world(tmp_path, preset="tiny")
    with sqlite3.connect(world) as db:  # what an older engine wrote: one other description
        db.execute("UPDATE rec_Account SET Description = 'old text' WHERE key = 'Account/0001'")

    def rerun():
        return orgforge.generate(
            world=str(world),
            runs_dir=str(tmp_path / "runs"),
            preset="tiny",
            seed=42,
            as_of=AS_OF.isoformat(),
        )

    rerun()  # same engine version: the recipe matches, nothing is compared or rewritten
    assert rows(world, "Account")[0]["Description"] == "old text"
    monkeypatch.setattr(pipeline, "OFFLINE_TEXT_VERSION", pipeline.OFFLINE_TEXT_VERSION + 1)
    result = rerun()
    assert result.written["Account"].get("updated") == 1
    assert rows(world, "Account")[0]["Description"] != "old text"


def test_shrinking_deletes_the_tail(tmp_path):
    world = make_world(tmp_path, accounts=30)
    with World(world) as w:
        before = {**w.counts(), "History": w.count("History")}
    result = orgforge.generate(
        world=str(world),
        runs_dir=str(tmp_path / "runs"),
        accounts=12,
        seed=42,
        as_of=AS_OF.isoformat(),
    )
    assert result.counts["Account"] == 12
    assert max(r["account_idx"] for r in rows(world, "Contact")) == 11
    # the summary's deletions are per object, children and history included
    after = {**result.counts, "History": result.history}
    for name in ("Account", "Contact", "Opportunity", "CaseComment", "Task", "History"):
        assert result.written[name]["deleted"] == before[name] - after[name] > 0, name
    assert result.written["User"]["deleted"] == 0  # the team stays


DATE_TYPES = ("date", "datetime")


def _shift(value: str, days: int, zone: ZoneInfo | None = None) -> str:
    """``value`` moved by ``days``; datetimes keep their wall-clock time in ``zone``."""
    if "T" not in value:
        return (dt.date.fromisoformat(value) + dt.timedelta(days=days)).isoformat()
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if zone is None:
        moved = moment + dt.timedelta(days=days)
    else:
        local = moment.astimezone(zone).replace(tzinfo=None) + dt.timedelta(days=days)
        moved = local.replace(tzinfo=zone).astimezone(dt.UTC)
    return moved.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _minutes(value: str) -> int:
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return int(moment.timestamp() // 60)


@pytest.mark.parametrize(("days", "skip_weekends"), [(28, True), (-364, True), (10, False)])
def test_as_of_shifts_every_date_and_nothing_else(tmp_path, monkeypatch, days, skip_weekends):
    """Dates move by exactly ``days``. Datetimes keep the wall-clock time of the person acting
    (the owner, the support agent, the account's business hours), so across a daylight-saving
    change their UTC time moves by up to an hour more or less; and the history table moves
    with the records."""
    monkeypatch.setenv("ORGFORGE_GENERATE__SKIP_WEEKENDS", str(skip_weekends).lower())
    later = (AS_OF + dt.timedelta(days=days)).isoformat()
    a = make_world(tmp_path / "a", accounts=40)
    b = make_world(tmp_path / "b", accounts=40, as_of=later)
    for obj in sf.OBJECTS:
        dates = {f.name for f in obj.fields if f.type in DATE_TYPES}
        before, after = rows(a, obj.name), rows(b, obj.name)
        assert len(before) == len(after)
        for old, new in zip(before, after, strict=True):
            for name, value in old.items():
                if name in dates and value is not None and "T" in value:
                    moved = _minutes(new[name]) - _minutes(value) - days * 1440
                    assert abs(moved) <= 60, (old["key"], name, value, new[name])
                elif name in dates and value is not None:
                    assert new[name] == _shift(value, days), (old["key"], name)
                else:
                    assert new[name] == value, (old["key"], name)
    history_a, history_b = rows(a, "History"), rows(b, "History")
    assert len(history_a) == len(history_b) > 0
    for old, new in zip(history_a, history_b, strict=True):
        assert {k: v for k, v in old.items() if k != "CreatedDate"} == {
            k: v for k, v in new.items() if k != "CreatedDate"
        }
        assert abs(_minutes(new["CreatedDate"]) - _minutes(old["CreatedDate"]) - days * 1440) <= 60


def test_generate_gives_the_caller_back_its_collector_threshold(tmp_path):
    import gc

    before = gc.get_threshold()
    make_world(tmp_path / "w", accounts=20, workers=1)
    assert gc.get_threshold() == before
    assert before[0] != pipeline.GC_THRESHOLD  # else the test could not tell
