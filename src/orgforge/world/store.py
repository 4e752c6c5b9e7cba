"""The world: orgforge's local store of records, runs, change log, sync state and text cache.

SQLite by default (a path), or any SQLAlchemy URL. Opening a world checks its schema version:
an older world is migrated in place, a newer one is refused (it was written by a newer orgforge).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, func, inspect, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DatabaseError, OperationalError

from orgforge.errors import WorldError
from orgforge.schema import salesforce as sf
from orgforge.world import tables as t

SCHEMA_VERSION = 1
APP_ID = "orgforge-world"

# version → SQL statements that bring a world from version-1 to version. Add one per change.
MIGRATIONS: dict[int, list[str]] = {}


FINGERPRINT_LINE = "-- tables fingerprint: "


@cache
def sqlite_schema() -> tuple[str, ...] | None:
    """The CREATE statements of a new SQLite world, from the shipped ``schema_sqlite.sql``.

    None when the file was built from other table definitions than tables.py's (someone
    changed the tables and hasn't run scripts/build_world_schema.py yet).
    """
    text_ = (resources.files("orgforge.world") / "schema_sqlite.sql").read_text("utf-8")
    lines = text_.splitlines(keepends=True)
    built_from = [
        line[len(FINGERPRINT_LINE) :].strip() for line in lines if line.startswith(FINGERPRINT_LINE)
    ]
    if built_from != [t.fingerprint()]:
        return None
    sql = "".join(line for line in lines if not line.startswith("--"))
    return tuple(part.strip() for part in sql.split(";\n") if part.strip())


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def world_url(location: str | Path) -> str:
    """A SQLAlchemy URL for a path or URL."""
    location = str(location)
    if "://" in location:
        return location
    return f"sqlite:///{Path(location).expanduser()}"


class World:
    """A handle on one world. Use as a context manager or call :meth:`close`."""

    def __init__(self, location: str | Path, *, create: bool = True) -> None:
        self.location = str(location)
        self.url = world_url(location)
        self.is_sqlite = self.url.startswith("sqlite")
        if self.is_sqlite and "://" not in self.location:
            self._prepare_sqlite_path(Path(self.location).expanduser(), create)
        try:
            self.engine: Engine = create_engine(self.url)
        except Exception as exc:  # bad URL, missing driver
            raise WorldError(
                f"world {self.location}: can't open ({exc.__class__.__name__}: {exc})",
                "Use a file path or a SQLAlchemy URL such as sqlite:///orgforge.db.",
            ) from None
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._open(create)

    # -- opening and versions ------------------------------------------------------------------

    def _prepare_sqlite_path(self, path: Path, create: bool) -> None:
        if path.is_dir():
            raise WorldError(f"world {path} is a directory, not a world file")
        if path.exists():
            with path.open("rb") as handle:
                header = handle.read(16)
            if header and header != b"SQLite format 3\x00":
                raise WorldError(f"world {path} is not a SQLite file (it may be something else)")
            return
        if not create:
            raise WorldError(
                f"world {path} does not exist",
                "Create one with `orgforge generate --world PATH`.",
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorldError(f"world {path}: can't create its folder ({exc.strerror})") from None

    def _open(self, create: bool) -> None:
        try:
            with self.engine.begin() as conn:
                existing = self._table_names(conn)
                if "meta" not in existing:
                    if existing and not create:
                        raise WorldError(f"world {self.location} is not an orgforge world")
                    if existing - {"meta"} and not existing & {f"rec_{o}" for o in sf.GENERATED}:
                        raise WorldError(
                            f"world {self.location} is a database of something else "
                            f"(tables: {', '.join(sorted(existing)[:5])})",
                            "Point --world at a new file; orgforge won't write into it.",
                        )
                    self._create_schema(conn, existing)
                    conn.execute(
                        t.meta.insert(),
                        [
                            {"name": "app", "value": APP_ID},
                            {"name": "schema_version", "value": str(SCHEMA_VERSION)},
                            {"name": "created_at", "value": now_iso()},
                        ],
                    )
                    return
                version = self._schema_version(conn)
                if version > SCHEMA_VERSION:
                    raise WorldError(
                        f"world {self.location} has schema version {version}; this orgforge "
                        f"reads up to {SCHEMA_VERSION}",
                        "Upgrade orgforge (pip install -U orgforge) or use another --world.",
                    )
                self._migrate(conn, version)
                # Tables added since this world was made are created empty. A current world
                # has them all, so opening it costs one query, not a schema check per table.
                if version < SCHEMA_VERSION or t.metadata.tables.keys() - existing:
                    t.metadata.create_all(conn)
        except (OperationalError, DatabaseError) as exc:
            raise WorldError(
                f"world {self.location}: can't be opened ({exc.orig.__class__.__name__}: "
                f"{exc.orig})",
                "Check the path and permissions, or start fresh with another --world.",
            ) from None

    def _table_names(self, conn: Connection) -> set[str]:
        if self.is_sqlite:  # what inspect() asks SQLite, without its reflection machinery
            query = (
                "SELECT name FROM sqlite_master "
                "WHERE type = 'table' AND name NOT LIKE 'sqlite~_%' ESCAPE '~'"
            )
            return {row[0] for row in conn.exec_driver_sql(query)}
        return set(inspect(conn).get_table_names())

    def _create_schema(self, conn: Connection, existing: set[str]) -> None:
        """Create every table and index of a new world.

        SQLite runs the shipped DDL (``schema_sqlite.sql``: what ``create_all`` emits, compiled
        once by scripts/build_world_schema.py and checked by a test), which saves compiling
        18 tables on every new world. Other databases, a file holding a stray ``meta``-less
        table, or tables changed since the file was built go through ``create_all``.
        """
        shipped = sqlite_schema() if self.is_sqlite and not existing else None
        if shipped is None:
            t.metadata.create_all(conn)
            return
        for statement in shipped:
            conn.exec_driver_sql(statement)

    def _schema_version(self, conn: Connection) -> int:
        row = conn.execute(select(t.meta.c.value).where(t.meta.c.name == "schema_version")).first()
        try:
            return int(row[0]) if row else 0
        except ValueError:
            raise WorldError(
                f"world {self.location}: unreadable schema version {row[0]!r}"
            ) from None

    def _migrate(self, conn: Connection, version: int) -> None:
        """Run the MIGRATIONS from ``version`` up to SCHEMA_VERSION (new tables: see _open)."""
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS.get(target, []):
                conn.execute(text(statement))
            conn.execute(
                t.meta.update().where(t.meta.c.name == "schema_version").values(value=str(target))
            )

    @property
    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return self._schema_version(conn)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- meta ----------------------------------------------------------------------------------

    def get_meta(self, name: str) -> str | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.meta.c.value).where(t.meta.c.name == name)).first()
        return row[0] if row else None

    def set_meta(self, name: str, value: str, conn: Connection | None = None) -> None:
        def _do(c: Connection) -> None:
            c.execute(t.meta.delete().where(t.meta.c.name == name))
            c.execute(t.meta.insert().values(name=name, value=value))

        if conn is not None:
            _do(conn)
        else:
            with self.engine.begin() as c:
                _do(c)

    # -- records -------------------------------------------------------------------------------

    def columns(self, object_name: str) -> list[str]:
        return [c.name for c in t.RECORD_TABLES[object_name].columns]

    def count(self, object_name: str) -> int:
        table = t.RECORD_TABLES[object_name]
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(table)).scalar_one()

    def counts(self) -> dict[str, int]:
        return {name: self.count(name) for name in sf.GENERATED}

    def max_account_idx(self) -> int:
        table = t.RECORD_TABLES["Account"]
        with self.engine.connect() as conn:
            value = conn.execute(select(func.max(table.c.account_idx))).scalar()
        return -1 if value is None else value

    def iter_rows(
        self,
        object_name: str,
        columns: Sequence[str] | None = None,
        where: Any = None,
        batch_size: int = 5000,
    ) -> Iterator[tuple]:
        """Stream rows in generation order; memory stays flat whatever the world's size."""
        table = t.RECORD_TABLES[object_name]
        cols = [table.c[name] for name in columns] if columns else list(table.columns)
        query = select(*cols).order_by(table.c.account_idx, table.c.seq)
        if where is not None:
            query = query.where(where)
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=batch_size).execute(
                query
            )
            for partition in result.partitions(batch_size):
                yield from partition

    def iter_batches(
        self, object_name: str, columns: Sequence[Any], batch_size: int = 5000
    ) -> Iterator[Sequence[tuple]]:
        """Batches of rows of SQL ``columns`` (expressions over the object's table), in
        generation order: for exports that render in SQL."""
        table = t.RECORD_TABLES[object_name]
        query = select(*columns).order_by(table.c.account_idx, table.c.seq)
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=batch_size).execute(
                query
            )
            yield from result.partitions(batch_size)

    def iter_dicts(self, object_name: str, where: Any = None) -> Iterator[dict[str, Any]]:
        names = self.columns(object_name)
        for row in self.iter_rows(object_name, where=where):
            yield dict(zip(names, row, strict=True))

    def get(self, key: str) -> dict[str, Any] | None:
        object_name = key.split("/", 1)[0]
        if object_name not in t.RECORD_TABLES:
            return None
        table = t.RECORD_TABLES[object_name]
        with self.engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.key == key)).first()
        return dict(row._mapping) if row else None

    def write_rows(
        self,
        rows_by_object: dict[str, list[tuple]],
        run_id: str | None,
        *,
        account_range: tuple[int, int] | None = None,
        fresh: bool = False,
        job: str = "generate",
    ) -> dict[str, dict[str, int]]:
        """Write generated rows for a range of accounts; return counts of inserts/updates/deletes.

        ``fresh=True`` means the world holds nothing for these accounts (fast path: plain
        inserts). Otherwise rows are compared with what is stored: identical rows are left
        alone, changed rows are updated with their changed fields logged, new rows inserted,
        and stored rows of the same ``job`` in the account range that are no longer produced
        are deleted. Rows must carry ``job`` in its column position (see tables.py).
        Every write is logged in the change log in the same transaction.
        """
        stats: dict[str, dict[str, int]] = {}
        ts = now_iso()
        with self.engine.begin() as conn:
            for object_name, rows in rows_by_object.items():
                stats[object_name] = self._write_object(
                    conn, object_name, rows, run_id, ts, account_range, fresh, job
                )
        return stats

    def _write_object(
        self,
        conn: Connection,
        object_name: str,
        rows: list[tuple],
        run_id: str | None,
        ts: str,
        account_range: tuple[int, int] | None,
        fresh: bool,
        job: str,
    ) -> dict[str, int]:
        table = t.RECORD_TABLES[object_name]
        names = [c.name for c in table.columns]
        counts = {"inserted": 0, "updated": 0, "deleted": 0, "unchanged": 0}
        inserts: list[tuple] = rows
        updates: dict[tuple[str, ...], list[str]] = {}  # changed fields → keys
        if not fresh and account_range is not None:
            lo, hi = account_range
            existing = {
                row[0]: tuple(row)
                for row in conn.execute(
                    select(table).where(table.c.account_idx.between(lo, hi - 1), table.c.job == job)
                )
            }
            inserts = []
            for row in rows:
                old = existing.pop(row[0], None)
                if old is None:
                    inserts.append(row)
                elif old == row:
                    counts["unchanged"] += 1
                else:
                    changed = tuple(n for n, a, b in zip(names, old, row, strict=True) if a != b)
                    conn.execute(
                        table.update()
                        .where(table.c.key == row[0])
                        .values({n: v for n, v in zip(names, row, strict=True) if n in changed})
                    )
                    updates.setdefault(changed, []).append(row[0])
                    counts["updated"] += 1
            if existing:
                gone = list(existing)
                for start in range(0, len(gone), 500):
                    conn.execute(table.delete().where(table.c.key.in_(gone[start : start + 500])))
                self.log_change(conn, object_name, "delete", gone, run_id, ts=ts)
                counts["deleted"] = len(gone)
        for changed, keys in updates.items():
            self.log_change(conn, object_name, "update", keys, run_id, list(changed), ts)
        if inserts:
            self._insert_many(conn, table, names, inserts)
            self.log_change(conn, object_name, "insert", [r[0] for r in inserts], run_id, ts=ts)
            counts["inserted"] = len(inserts)
        return counts

    def log_change(
        self,
        conn: Connection,
        object_name: str,
        op: str,
        keys: list[str] | str,
        run_id: str | None,
        fields: list[str] | None = None,
        ts: str | None = None,
    ) -> None:
        """Record one change-log entry covering ``keys`` (call inside the write's transaction).

        ``keys`` is a list of record keys, or that list already encoded as JSON.
        """
        conn.execute(
            t.changes.insert().values(
                ts=ts or now_iso(),
                run_id=run_id,
                object=object_name,
                op=op,
                keys=keys if isinstance(keys, str) else json.dumps(keys),
                fields=json.dumps(fields) if fields is not None else None,
            )
        )

    def append_shard(
        self, shard: Path, manifest: dict[str, tuple[int, str]], run_id: str | None
    ) -> dict[str, dict[str, int]]:
        """Copy a shard's records (see :mod:`orgforge.world.shard`) into this SQLite world.

        The caller guarantees the records are new (a fresh range of accounts). One transaction
        covers every table and its change-log entry, as ``write_rows`` does.
        """
        if not self.is_sqlite:
            raise WorldError(f"world {self.location}: shards only go into SQLite worlds")
        ts = now_iso()
        stats: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            raw = conn.connection.driver_connection
            raw.execute("ATTACH DATABASE ? AS shard", (str(shard),))  # not allowed mid-transaction
            try:
                with conn.begin():
                    for name, (count, keys_json) in manifest.items():
                        table = t.RECORD_TABLES[name].name
                        raw.execute(f'INSERT INTO main."{table}" SELECT * FROM shard."{table}"')
                        self.log_change(conn, name, "insert", keys_json, run_id, ts=ts)
                        stats[name] = {"inserted": count}
            finally:
                raw.execute("DETACH DATABASE shard")
        return stats

    def _insert_many(
        self, conn: Connection, table: t.Table, names: list[str], rows: Iterable[tuple]
    ) -> None:
        if self.is_sqlite:
            # sqlite3's own executemany, on this transaction's connection, is twice as fast as
            # going through SQLAlchemy and five times faster than Core's dict round-trip.
            placeholders = ",".join("?" * len(names))
            quoted = ",".join(f'"{n}"' for n in names)
            conn.connection.driver_connection.executemany(
                f'INSERT INTO "{table.name}" ({quoted}) VALUES ({placeholders})', rows
            )
        else:
            conn.execute(table.insert(), [dict(zip(names, r, strict=True)) for r in rows])

    def delete_keys(
        self, object_name: str, keys: Sequence[str], run_id: str | None, *, job: str | None = None
    ) -> int:
        """Delete records by key (only ``job``'s records when given), logging every delete."""
        table = t.RECORD_TABLES[object_name]
        ts = now_iso()
        removed = 0
        with self.engine.begin() as conn:
            for start in range(0, len(keys), 500):
                part = list(keys[start : start + 500])
                query = select(table.c.key).where(table.c.key.in_(part))
                if job is not None:
                    query = query.where(table.c.job == job)
                found = [r[0] for r in conn.execute(query)]
                if not found:
                    continue
                conn.execute(table.delete().where(table.c.key.in_(found)))
                self.log_change(conn, object_name, "delete", found, run_id, ts=ts)
                removed += len(found)
        return removed

    def delete_accounts_from(self, first_idx: int, run_id: str | None) -> int:
        """Delete every record of accounts with index ≥ first_idx (the world shrank)."""
        ts = now_iso()
        removed = 0
        with self.engine.begin() as conn:
            for name in reversed(sf.GENERATED):
                table = t.RECORD_TABLES[name]
                keys = [
                    r[0]
                    for r in conn.execute(
                        select(table.c.key).where(table.c.account_idx >= first_idx)
                    )
                ]
                if not keys:
                    continue
                conn.execute(table.delete().where(table.c.account_idx >= first_idx))
                self.log_change(conn, name, "delete", keys, run_id, ts=ts)
                removed += len(keys)
        return removed

    def reset(self) -> dict[str, int]:
        """Remove every record, run, change and cache entry; keep the schema."""
        removed = self.counts()
        with self.engine.begin() as conn:
            for table in reversed(t.metadata.sorted_tables):
                if table.name != "meta":
                    conn.execute(table.delete())
        return removed

    # -- text: cache and re-fill ----------------------------------------------------------------

    def cache_get_many(self, keys: Iterable[str]) -> dict[str, str]:
        """Cached texts for the given cache keys (missing keys are simply absent)."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, str] = {}
        table = t.content_cache
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                part = wanted[start : start + 500]
                query = select(table.c.cache_key, table.c.text).where(table.c.cache_key.in_(part))
                found.update({k: v for k, v in conn.execute(query)})
        return found

    def cache_put_many(
        self, entries: Iterable[tuple[str, str]], provider: str, model: str, versions: dict
    ) -> int:
        """Store (cache_key, text) pairs; ``versions`` maps cache_key → prompt version."""
        rows = [
            {
                "cache_key": key,
                "text": text_,
                "provider": provider,
                "model": model,
                "prompt_version": versions.get(key),
                "created_at": now_iso(),
            }
            for key, text_ in entries
        ]
        if not rows:
            return 0
        table = t.content_cache
        with self.engine.begin() as conn:
            keys = [r["cache_key"] for r in rows]
            for start in range(0, len(keys), 500):
                conn.execute(table.delete().where(table.c.cache_key.in_(keys[start : start + 500])))
            conn.execute(table.insert(), rows)
        return len(rows)

    def cache_count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(t.content_cache)).scalar_one()

    def update_text(
        self, updates: Iterable[tuple[str, str, str]], run_id: str | None
    ) -> dict[str, int]:
        """Set text fields: (record key, field, text) triples; log changed records.

        Only fields whose value differs are written; changed records are logged as ``update``
        entries naming their changed fields (one entry per set of fields, as write_rows does).
        Returns the number of updated records per object.
        """
        by_record: dict[str, dict[str, str]] = {}
        for key, field_name, value in updates:
            by_record.setdefault(key, {})[field_name] = value
        ts = now_iso()
        counts: dict[str, int] = {}
        with self.engine.begin() as conn:
            by_object: dict[str, list[str]] = {}
            for key in by_record:
                by_object.setdefault(key.split("/", 1)[0], []).append(key)
            for object_name, keys in by_object.items():
                table = t.RECORD_TABLES[object_name]
                fields = sorted({f for k in keys for f in by_record[k]})
                groups: dict[tuple[str, ...], list[str]] = {}  # changed fields → keys
                for start in range(0, len(keys), 500):
                    part = keys[start : start + 500]
                    stored = {
                        row[0]: dict(zip(fields, row[1:], strict=True))
                        for row in conn.execute(
                            select(table.c.key, *[table.c[f] for f in fields]).where(
                                table.c.key.in_(part)
                            )
                        )
                    }
                    for key in part:
                        old = stored.get(key)
                        if old is None:
                            continue
                        changed = {f: v for f, v in by_record[key].items() if old.get(f) != v}
                        if not changed:
                            continue
                        conn.execute(table.update().where(table.c.key == key).values(changed))
                        groups.setdefault(tuple(sorted(changed)), []).append(key)
                for changed_fields, changed_keys in groups.items():
                    self.log_change(
                        conn, object_name, "update", changed_keys, run_id, list(changed_fields), ts
                    )
                counts[object_name] = sum(len(k) for k in groups.values())
        return counts

    # -- runs ----------------------------------------------------------------------------------

    def start_run(self, run_id: str, command: str, config: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                t.runs.insert().values(
                    run_id=run_id,
                    command=command,
                    status="running",
                    started_at=now_iso(),
                    seed=config.get("seed"),
                    as_of=config.get("as_of"),
                    # Key order is part of the recipe (weighted tables draw in order).
                    config=json.dumps(config),
                )
            )

    def finish_run(self, run_id: str, status: str, summary: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                t.runs.update()
                .where(t.runs.c.run_id == run_id)
                .values(status=status, finished_at=now_iso(), summary=json.dumps(summary))
            )

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.runs).order_by(t.runs.c.started_at.desc()).limit(limit)
            ).all()
        return [dict(r._mapping) for r in rows]

    def changes_since(self, after_id: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        """Change-log entries after ``after_id``, oldest first, with keys/fields decoded."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.changes)
                .where(t.changes.c.id > after_id)
                .order_by(t.changes.c.id)
                .limit(limit)
            ).all()
        entries = []
        for row in rows:
            entry = dict(row._mapping)
            entry["keys"] = json.loads(entry["keys"])
            entry["fields"] = json.loads(entry["fields"]) if entry["fields"] else None
            entries.append(entry)
        return entries


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
