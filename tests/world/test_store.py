"""The world: versions and migrations, the change log, runs, and any SQLAlchemy URL."""

from __future__ import annotations

import json
import sqlite3

import pytest
from tests.worlds import AS_OF, make_world

import orgforge
from orgforge.errors import WorldError
from orgforge.world import store
from orgforge.world.runlog import RunLog
from orgforge.world.store import World


def test_new_world_records_its_schema_version(tmp_path):
    with World(tmp_path / "w.db") as world:
        assert world.schema_version == store.SCHEMA_VERSION
        assert world.get_meta("app") == "orgforge-world"


def test_migration_runner_brings_an_older_world_up_to_date(tmp_path, monkeypatch):
    with World(tmp_path / "w.db"):
        pass
    later = store.SCHEMA_VERSION + 1
    monkeypatch.setattr(store, "SCHEMA_VERSION", later)
    monkeypatch.setattr(
        store,
        "MIGRATIONS",
        {**store.MIGRATIONS, later: ["CREATE TABLE added_later (id INTEGER PRIMARY KEY)"]},
    )
    with World(tmp_path / "w.db") as world:
        assert world.schema_version == later
    with sqlite3.connect(tmp_path / "w.db") as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "added_later" in tables


def _back_to(tmp_path, version: int) -> None:
    """Make the world at tmp_path/w.db what ``version`` was: drop the columns and tables the
    later versions added."""
    from orgforge.schema import salesforce as sf
    from orgforge.world import tables as t

    new_objects = set(sf.GENERATED) - set(store.V1_OBJECTS) - {"UserRole"}
    with sqlite3.connect(tmp_path / "w.db") as conn:
        for target in range(store.SCHEMA_VERSION, version, -1):
            for statement in store.MIGRATIONS[target]:
                table, column = statement.split('"')[1], statement.split('"')[3]
                conn.execute(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
        for name in new_objects:
            conn.execute(f'DROP TABLE "{t.record_table_name(name)}"')
        if version < 2:
            conn.execute('DROP TABLE "rec_UserRole"')
            conn.execute('DROP TABLE "rec_History"')
        conn.execute("UPDATE meta SET value = ? WHERE name = 'schema_version'", (str(version),))


def _matches_tables(tmp_path) -> None:
    from orgforge.world import tables as t

    with sqlite3.connect(tmp_path / "w.db") as conn:
        for name, table in t.TABLES.items():
            columns = {r[1] for r in conn.execute(f'PRAGMA table_info("{name}")')}
            assert columns == set(table.column_names), name


def test_a_version_1_world_gets_the_history_columns(tmp_path):
    """Version 2 (the world with a history) adds audit fields, ``step`` and the User's role
    columns to existing tables, and the UserRole and History tables; version 3 the lookups
    of the sales objects."""
    with World(tmp_path / "w.db"):
        pass
    _back_to(tmp_path, 1)
    with World(tmp_path / "w.db") as world:
        assert world.schema_version == store.SCHEMA_VERSION == 3
    _matches_tables(tmp_path)


def test_a_version_2_world_gets_the_sales_objects(tmp_path):
    """Version 3 adds Account.ParentId, Contact.ReportsToId, Opportunity.CampaignId and
    Pricebook2Id to existing tables, and creates the new objects' tables."""
    with World(tmp_path / "w.db"):
        pass
    _back_to(tmp_path, 2)
    with sqlite3.connect(tmp_path / "w.db") as conn:
        columns = {r[1] for r in conn.execute('PRAGMA table_info("rec_Contact")')}
        assert "ReportsToId" not in columns
    with sqlite3.connect(tmp_path / "w.db") as conn:  # version 2 had no living-org tables
        for name in ("sim_jobs", "sim_actions", "sim_objects"):
            conn.execute(f'DROP TABLE "{name}"')
    with World(tmp_path / "w.db") as world:
        assert world.schema_version == 3
        assert world.count("Lead") == 0
        with world.reading() as conn:  # the jobs table, the action log and the job objects
            assert conn.execute('SELECT COUNT(*) FROM "sim_jobs"').fetchone()[0] == 0
    _matches_tables(tmp_path)


def test_missing_world_is_not_created_when_reading(tmp_path):
    with pytest.raises(WorldError, match="does not exist"):
        World(tmp_path / "nope.db", create=False)
    assert not (tmp_path / "nope.db").exists()


def test_change_log_names_every_record_written(tmp_path):
    world_path = make_world(tmp_path, preset="tiny")
    with World(world_path) as world:
        entries = world.changes_since(0)
        inserted = {k for e in entries if e["op"] == "insert" for k in e["keys"]}
        assert inserted == {r[0] for name in world.counts() for r in world.iter_rows(name, ["key"])}
        last = entries[-1]["id"]
    orgforge.generate(
        world=str(world_path),
        runs_dir=str(tmp_path / "runs"),
        preset="tiny",
        seed=42,
        as_of="2026-12-21",
    )
    with World(world_path) as world:
        updates = [e for e in world.changes_since(last) if e["op"] == "update"]
    assert updates and all(e["fields"] for e in updates)
    task_fields = {f for e in updates if e["object"] == "Task" for f in e["fields"]}
    # a later as_of moves dates: the task's date and when it was created and last modified
    assert task_fields <= {"ActivityDate", "CreatedDate", "LastModifiedDate"}
    assert all(e["run_id"] for e in updates)


def test_any_sqlalchemy_url_from_the_environment(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'env-world.db'}"
    monkeypatch.setenv("ORGFORGE_WORLD", url)
    result = orgforge.generate(
        preset="tiny", runs_dir=str(tmp_path / "runs"), as_of=AS_OF.isoformat()
    )
    assert result.world == url
    assert (tmp_path / "env-world.db").is_file()


def test_runs_are_recorded_in_the_world_and_on_disk(tmp_path):
    world_path = make_world(tmp_path, preset="tiny")
    with World(world_path) as world:
        (run,) = world.runs()
    assert run["command"] == "generate" and run["status"] == "ok"
    assert json.loads(run["summary"])["counts"]["Account"] == 10
    assert (tmp_path / "runs" / run["run_id"] / "summary.json").is_file()


def test_a_failed_run_says_what_happened(tmp_path):
    with World(tmp_path / "w.db") as world:
        with (
            pytest.raises(RuntimeError),
            RunLog(tmp_path / "runs", "demo", {"seed": 1}, world) as log,
        ):
            log.event("step", done=1)
            raise RuntimeError("boom")
        (run,) = world.runs()
    assert run["status"] == "failed"
    summary = json.loads((log.dir / "summary.json").read_text())
    assert summary["status"] == "failed" and "boom" in summary["failure"]
    errors = [json.loads(line) for line in (log.dir / "errors.jsonl").read_text().splitlines()]
    assert errors[0]["error"] == "run.failed"


def test_run_logs_never_hold_secrets(tmp_path):
    with (
        World(tmp_path / "w.db") as world,
        RunLog(tmp_path / "runs", "demo", {"content": {"api_key": "sk-live-123"}}, world) as log,
    ):
        log.event("call", token="abc-secret-token", model="m")
        log.finish("ok", {"password": "hunter2"})
    for path in log.dir.iterdir():
        text = path.read_text()
        assert (
            "sk-live-123" not in text and "abc-secret-token" not in text and "hunter2" not in text
        )


def test_an_export_failure_ends_the_generate_run_as_failed(tmp_path, monkeypatch):
    from orgforge.targets import files

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(files, "export", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        make_world(tmp_path, preset="tiny", out=str(tmp_path / "out"))
    with World(tmp_path / "w.db") as world:
        (run,) = world.runs()
        assert world.count("Account") == 10  # what was written is there, and the log says so
    assert run["status"] == "failed" and "disk full" in json.loads(run["summary"])["failure"]


def test_the_resolved_config_reads_back_as_the_run_used_it(tmp_path):
    import yaml

    from orgforge.config import masked

    config = {
        "seed": 7,
        "world": "/tmp/ü w.db",
        "long": "ä" * 200 + " " + "b" * 100,
        "generate": {"mix": [1.5, None, True, "2026-01-01", "", " lead", "a: b"], "empty": {}},
        "content": {"api_key": "sk-live-123"},
    }
    with World(tmp_path / "w.db") as world, RunLog(tmp_path / "runs", "demo", config, world) as log:
        pass
    written = yaml.safe_load((log.dir / "config.resolved.yaml").read_text(encoding="utf-8"))
    assert written == masked(config) and list(written) == list(config)  # values and key order


def test_bulk_writes_folds_the_wal_in_and_restores_the_checkpoint_interval(tmp_path):
    path = tmp_path / "w.db"
    with World(path) as world:
        checkpoint = world._db.connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        assert checkpoint == 1000
        with world.bulk_writes():
            inside = world._db.connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
            for n in range(50):
                world.set_meta(f"bulk{n}", "x" * 2000)
            assert (tmp_path / "w.db-wal").stat().st_size > 0
        assert inside == store.BULK_CHECKPOINT_PAGES
        assert (tmp_path / "w.db-wal").stat().st_size == 0  # checkpointed and truncated
        after = world._db.connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        assert after == 1000
    with World(path) as world:
        assert world.get_meta("bulk49") == "x" * 2000


_OPENER = """
import sys, threading
from orgforge.world.store import World

path, name, errors = sys.argv[1], sys.argv[2], []

def work(thread):
    for n in range(20):
        try:
            with World(path) as world, world.transaction() as conn:
                conn.execute('INSERT INTO "meta" ("name", "value") VALUES (:n, :v)',
                             {"n": f"test.{name}.{thread}.{n}", "v": "1"})
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")

threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(len(errors), errors[:1])
"""


def test_processes_opening_one_world_at_once_share_it_and_lose_nothing(tmp_path):
    """Opening a world reads its header with a plain file descriptor; closing that descriptor
    must not drop the SQLite locks of this process's other connections on the file (POSIX
    locks are per process). When it did, another process could remove the WAL under them:
    "disk I/O error" on open, and writes one process made that the others never saw."""
    import subprocess
    import sys

    World(tmp_path / "w.db").close()
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPENER, str(tmp_path / "w.db"), f"p{i}"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    outputs = [run.communicate(timeout=120)[0].strip() for run in runs]
    assert outputs == ["0 []"] * 3, outputs
    with sqlite3.connect(tmp_path / "w.db") as conn:
        (written,) = conn.execute("SELECT COUNT(*) FROM meta WHERE name LIKE 'test.%'").fetchone()
    assert written == 3 * 4 * 20
