"""The shipped SQLite DDL is what SQLAlchemy would create, and opening a world does no more
schema work than it needs."""

from __future__ import annotations

import importlib.util
import sqlite3
from importlib import resources
from pathlib import Path

from sqlalchemy import create_engine

from orgforge.world import store
from orgforge.world import tables as t
from orgforge.world.store import World


def _build_script():
    script = Path(__file__).resolve().parents[2] / "scripts" / "build_world_schema.py"
    spec = importlib.util.spec_from_file_location("build_world_schema", script)
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    return build


def _schema(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
        ).fetchall()


def test_shipped_ddl_is_what_create_all_emits():
    build = _build_script()
    shipped = (resources.files("orgforge.world") / "schema_sqlite.sql").read_text("utf-8")
    assert shipped == build.render(build.emitted_ddl()), (
        "run scripts/build_world_schema.py to refresh src/orgforge/world/schema_sqlite.sql"
    )


def test_a_new_world_has_the_schema_create_all_makes(tmp_path):
    with World(tmp_path / "shipped.db"):
        pass
    engine = create_engine(f"sqlite:///{tmp_path / 'create_all.db'}")
    t.metadata.create_all(engine)
    engine.dispose()
    shipped, reference = _schema(tmp_path / "shipped.db"), _schema(tmp_path / "create_all.db")
    assert {row[1] for row in shipped if row[0] == "table"} == set(t.metadata.tables)
    assert shipped == reference


def _statements_while_opening(path: Path) -> list[str]:
    """Every statement the world's own sqlite3 connection runs while the world opens."""
    seen: list[str] = []

    def traced(file: Path) -> sqlite3.Connection:
        connection = connect(file)
        connection.set_trace_callback(seen.append)
        return connection

    connect = store._connect_sqlite
    store._connect_sqlite = traced
    try:
        with World(path):
            pass
    finally:
        store._connect_sqlite = connect
    return seen


def test_opening_a_current_world_does_no_schema_work(tmp_path):
    with World(tmp_path / "w.db"):
        pass
    statements = _statements_while_opening(tmp_path / "w.db")
    assert statements, "the listener saw nothing: the test would pass vacuously"
    assert not [s for s in statements if "CREATE" in s or "BEGIN" in s]  # read, never wrote


def test_a_table_missing_from_a_current_world_is_created_on_open(tmp_path):
    with World(tmp_path / "w.db"):
        pass
    with sqlite3.connect(tmp_path / "w.db") as conn:
        conn.execute("DROP TABLE sync_journal")
    statements = _statements_while_opening(tmp_path / "w.db")
    assert any(s.strip().startswith("CREATE TABLE sync_journal") for s in statements)
    assert _schema(tmp_path / "w.db") == _schema_of_new_world(tmp_path / "fresh.db")


def _schema_of_new_world(path: Path) -> list[tuple]:
    with World(path):
        pass
    return _schema(path)


def test_the_fingerprint_is_stable_while_sqlalchemy_uses_the_tables(tmp_path):
    before = t.fingerprint()
    engine = create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    t.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(t.meta.insert().values(name="a", value="b"))
        conn.execute(t.RECORD_TABLES["Account"].select()).all()
    engine.dispose()
    assert t.fingerprint() == before


def test_tables_changed_since_the_file_was_built_are_compiled_by_sqlalchemy(tmp_path, monkeypatch):
    monkeypatch.setattr(t, "fingerprint", lambda: "tables-edited-since")
    store.sqlite_schema.cache_clear()
    compiled: list[int] = []
    compile_sqlite_ddl = t.compile_sqlite_ddl

    def counted() -> list[str]:
        compiled.append(1)
        return compile_sqlite_ddl()

    monkeypatch.setattr(t, "compile_sqlite_ddl", counted)
    try:
        assert store.sqlite_schema() is None
        statements = _statements_while_opening(tmp_path / "w.db")
    finally:
        store.sqlite_schema.cache_clear()
    assert compiled, "the new world's DDL came from the shipped file, not from SQLAlchemy"
    assert any(s.strip().startswith('CREATE TABLE "rec_Account"') for s in statements)
    monkeypatch.undo()
    assert _schema(tmp_path / "w.db") == _schema_of_new_world(tmp_path / "fresh.db")
