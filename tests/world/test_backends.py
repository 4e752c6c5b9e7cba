"""The two ways into a world run the same SQL to the same effect, and generate never needs
SQLAlchemy.

A SQLite file is served by sqlite3; ``sqlite+pysqlite:///`` names a driver, so SQLAlchemy serves
the same kind of file (the path every other database URL takes). The same history of runs on
both must leave identical records, change log, runs, scorecards and cache.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from tests.worlds import AS_OF

import orgforge
from orgforge import activity
from orgforge.api import resolve
from orgforge.world import store
from orgforge.world import tables as t
from orgforge.world.store import World

# Columns that hold when or by which run something happened: compared as the run's rank.
CLOCK_COLUMNS = {"started_at", "finished_at", "ts", "updated_at", "created_at"}


def _history(location: str, tmp_path: Path) -> None:
    """Generate, regenerate later (updates), shrink (deletes), run activity twice and reset
    part of it (scorecards), then the text cache and re-fill APIs."""
    runs_dir = str(tmp_path / "runs")
    common = {"world": location, "runs_dir": runs_dir, "seed": 42}
    orgforge.generate(preset="tiny", as_of=AS_OF.isoformat(), **common)
    later = (AS_OF + dt.timedelta(days=30)).isoformat()
    orgforge.generate(preset="tiny", as_of=later, **common)
    orgforge.generate(accounts=7, as_of=later, **common)
    config = resolve(None, as_of=later, **common)
    data = config.model_dump()
    data["activity"]["scorecards"]["frameworks"] = ["meddicc", "bant"]
    activity.run(type(config).model_validate(data))
    data["activity"]["emails"] = (2, 3)
    data["activity"]["scorecards"]["frameworks"] = ["meddicc"]
    changed = type(config).model_validate(data)
    activity.run(changed)
    activity.reset(changed, opps=["Opportunity/0001/1"])
    with World(location, create=False) as world:
        tasks = [row[0] for row in world.iter_rows("Task", ["key"])][:3]
        world.update_text([(key, "Description", f"re-filled {key}") for key in tasks], None)
        world.cache_put_many([("k1", "one"), ("k2", "two")], "offline", "none", {"k1": "v1"})
        world.cache_put_many([("k2", "two again")], "offline", "none", {})
        world.delete_keys("Task", tasks[:1], None)


def _dump(path: Path) -> dict[str, list[tuple]]:
    """Every table of a world file, rows in key order, runs and clocks replaced by ranks."""
    with sqlite3.connect(path) as conn:
        order = [r[0] for r in conn.execute('SELECT "run_id" FROM "runs" ORDER BY "started_at"')]
        rank = {run_id: n for n, run_id in enumerate(order)}
        out = {}
        for name, table in t.TABLES.items():
            columns = table.column_names
            key = ", ".join(f'"{c}"' for c in table.primary_key)
            if name == "runs":  # run ids start with the second they began, then a random part
                key = '"started_at"'
            rows = conn.execute(f'SELECT * FROM "{name}" ORDER BY {key}').fetchall()
            out[name] = [
                tuple(_comparable(c, v, rank) for c, v in zip(columns, row, strict=True))
                for row in rows
                if row != ("created_at", row[1])  # meta: when the world was made
            ]
    return out


def _comparable(column: str, value, rank: dict[str, int]):
    if column in CLOCK_COLUMNS and value is not None:
        return "<clock>"
    if column == "run_id" and value is not None:
        return rank[value]
    if column in ("config", "summary") and value is not None:
        data = json.loads(value)
        for volatile in ("world", "runs_dir", "run_id", "run_dir", "seconds"):
            data.pop(volatile, None)
        return data
    return value


def test_sqlite3_and_sqlalchemy_leave_the_same_world(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _history(str(tmp_path / "a" / "w.db"), tmp_path / "a")
    _history(f"sqlite+pysqlite:///{tmp_path / 'b' / 'w.db'}", tmp_path / "b")
    served_by_sqlite3, served_by_sqlalchemy = _dump(tmp_path / "a/w.db"), _dump(tmp_path / "b/w.db")
    assert served_by_sqlite3.keys() == served_by_sqlalchemy.keys()
    for name in served_by_sqlite3:
        assert served_by_sqlite3[name] == served_by_sqlalchemy[name], name
    # the history did exercise every kind of write
    ops = {(r[3], r[4]) for r in served_by_sqlite3["changes"]}
    for op in ("insert", "update", "delete"):
        assert ("Task", op) in ops and ("Scorecard", op) in ops, op
    assert ("Account", "delete") in ops
    assert len(served_by_sqlite3["runs"]) == 6 and len(served_by_sqlite3["content_cache"]) == 2


def test_which_locations_sqlite3_serves(tmp_path):
    with World(tmp_path / "a.db") as world:
        assert world.is_sqlite
    with World(f"sqlite:///{tmp_path / 'b.db'}") as world:
        assert world.is_sqlite
    with World(f"sqlite+pysqlite:///{tmp_path / 'c.db'}") as world:
        assert not world.is_sqlite  # served by SQLAlchemy: no shards
        assert world.engine.dialect.name == "sqlite"
        assert world.get_meta("app") == "orgforge-world"


def test_generate_on_a_sqlite_world_never_imports_sqlalchemy(tmp_path):
    script = (
        "import sys\n"
        "from orgforge.cli.main import run\n"
        "try:\n"
        "    run()\n"
        "finally:\n"
        "    print(sorted(m for m in sys.modules if m.split('.')[0] == 'sqlalchemy'))\n"
    )
    args = ["-q", "generate", "--preset", "prd", "--as-of", AS_OF.isoformat()]
    args += ["--world", str(tmp_path / "w.db"), "--runs-dir", str(tmp_path / "runs")]
    done = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
    with World(tmp_path / "w.db", create=False) as world:  # it did write the world
        assert world.count("Account") == 100 and world.runs()[0]["status"] == "ok"


def test_one_connection_serves_several_threads(tmp_path):
    """Threads (the LLM engine's cache) share the world's connection with a writer; no
    statement of one may land inside another's transaction."""
    errors: list[BaseException] = []

    def put(n: int) -> None:
        try:
            for i in range(40):
                world.cache_put_many([(f"t{n}-{i}", "x")], "offline", "none", {})
                world.cache_get_many([f"t{n}-{i}"])
        except BaseException as exc:
            errors.append(exc)

    with World(tmp_path / "w.db") as world:
        threads = [threading.Thread(target=put, args=(n,)) for n in range(3)]
        for thread in threads:
            thread.start()
        for i in range(40):
            world.set_meta(f"m{i}", str(i))
        for thread in threads:
            thread.join()
        assert not errors, errors
        assert world.cache_count() == 3 * 40
        assert world.get_meta("m39") == "39"


def test_a_failed_transaction_leaves_nothing(tmp_path):
    with World(tmp_path / "w.db") as world:
        with pytest.raises(RuntimeError), world.transaction() as conn:
            world.log_change(conn, "Account", "insert", ["Account/0001"], None)
            raise RuntimeError("boom")
        assert world.changes_since(0) == []
        with world.transaction() as conn:
            world.log_change(conn, "Account", "insert", ["Account/0001"], None)
        assert [e["keys"] for e in world.changes_since(0)] == [["Account/0001"]]


BOTH_WAYS = pytest.mark.parametrize(
    "location",
    [str, lambda path: f"sqlite+pysqlite:///{path}"],
    ids=["sqlite3", "sqlalchemy"],
)


@BOTH_WAYS
def test_what_is_not_a_usable_world_is_refused_either_way(tmp_path, location):
    from orgforge.errors import WorldError

    with World(location(tmp_path / "newer.db")):
        pass
    with sqlite3.connect(tmp_path / "newer.db") as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE name = 'schema_version'")
    with sqlite3.connect(tmp_path / "other.db") as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    (tmp_path / "damaged.db").write_bytes(b"SQLite format 3\x00" + b"\x07" * 4096)
    refused = {
        "newer.db": f"has schema version 99; this orgforge reads up to {store.SCHEMA_VERSION}",
        "other.db": "is a database of something else",  # opened for reading (create=False)
        "damaged.db": "can't be opened (DatabaseError",
    }
    for name, message in refused.items():
        with pytest.raises(WorldError, match=re.escape(message)):
            World(location(tmp_path / name), create=False)
    with pytest.raises(WorldError, match="a database of something else"):
        World(location(tmp_path / "other.db"))
    with sqlite3.connect(tmp_path / "other.db") as conn:  # and nothing was written into it
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["invoices"]


@BOTH_WAYS
def test_a_world_missing_a_table_gets_it_either_way(tmp_path, location):
    with World(location(tmp_path / "w.db")):
        pass
    with sqlite3.connect(tmp_path / "w.db") as conn:
        conn.execute("DROP TABLE sync_journal")
    with World(location(tmp_path / "w.db")) as world:
        assert world.schema_version == store.SCHEMA_VERSION
    with sqlite3.connect(tmp_path / "w.db") as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == set(t.TABLES)
