"""The world: orgforge's local store of records, runs, change log, sync state and text cache.

A world is a SQLite file (a path, or a ``sqlite:///path`` URL) or any SQLAlchemy URL. Opening a
world checks its schema version: an older world is migrated in place, a newer one is refused (it
was written by a newer orgforge).

Two ways in, one SQL text. A SQLite file is served by the standard library's ``sqlite3`` on one
connection (:class:`_SQLite`): importing SQLAlchemy costs about a third of a second, more than
a small ``generate`` spends on everything else, and generate never needs it. Every other URL —
including ``sqlite+pysqlite:///path``, which names a driver and so asks for SQLAlchemy — is
served by a SQLAlchemy engine (:class:`_SQLAlchemy`, imported only then). Both run the SQL
written here, which follows two rules so that ``sqlite3`` and SQLAlchemy's ``text()`` read it
alike: parameters are named (``:name``), and every identifier is double-quoted (the SQLAlchemy
side re-quotes them for its dialect, as its own DDL did).

``World.engine`` is a SQLAlchemy engine on the same world, for the modules that build queries
with SQLAlchemy Core (activity, metrics, sync, the export of a non-SQLite world); for a SQLite
world it is created on first use, with its own connections. Writes made through ``World``
methods and :meth:`World.transaction` go through the world's own connection.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import stat
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from orgforge.clock import REAL, Clock
from orgforge.errors import WorldError
from orgforge.inputs import check_path, file_kind
from orgforge.schema import salesforce as sf
from orgforge.world import tables as t

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

SCHEMA_VERSION = 3
APP_ID = "orgforge-world"


# The objects a version-1 world has tables for (the others are created on open).
V1_OBJECTS = (
    "User",
    "Account",
    "Contact",
    "Opportunity",
    "OpportunityContactRole",
    "Case",
    "CaseComment",
    "Task",
    "Event",
    "EventRelation",
)


def _added_columns_v2() -> list[str]:
    """Version 2 (the world with a history): audit fields on every record, ``step`` on timeline
    steps, the User's role, manager and working hours. (New tables are created on open.)"""
    had_created = {"Opportunity", "Case", "CaseComment"}
    statements = []
    for name in V1_OBJECTS:
        added = [c for c in sf.AUDIT_FIELD_NAMES if c != "CreatedDate" or name not in had_created]
        if name in t.STEP_OBJECTS:
            added.append("step")
        if name == "User":
            added += ["Username", "Alias", "Division", "UserRoleId", "ManagerId"]
            added += ["StartDay", "EndDay", "IsActive"]
        columns = {c.name: c for c in t.TABLES[t.record_table_name(name)].columns}
        for column in added:
            kind = {"integer": "INTEGER", "float": "FLOAT"}.get(columns[column].type, "TEXT")
            statements.append(
                f'ALTER TABLE "{t.record_table_name(name)}" ADD COLUMN "{column}" {kind}'
            )
    return statements


# Version 3 (the objects a sales demo needs): lookups added to existing objects. The new
# objects' tables (Lead, Campaign, Product2, …) are created on open like any missing table.
ADDED_V3 = {
    "Account": ("ParentId",),
    "Contact": ("ReportsToId",),
    "Opportunity": ("CampaignId", "Pricebook2Id"),
}


def _added_columns_v3() -> list[str]:
    return [
        f'ALTER TABLE "{t.record_table_name(name)}" ADD COLUMN "{column}" TEXT'
        for name, columns in ADDED_V3.items()
        for column in columns
    ]


# version → SQL statements that bring a world from version-1 to version. Add one per change.
# Version 3 also holds the living org's tables (sim_jobs, sim_actions, sim_objects) and the web
# app's background operations (web_ops), which opening a world creates like the new objects'
# tables; the version says a world may hold jobs.
MIGRATIONS: dict[int, list[str]] = {2: _added_columns_v2(), 3: _added_columns_v3()}


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


@cache
def _shipped_ddl_by_table() -> dict[str, list[str]] | None:
    """sqlite_ddl_by_table() from the shipped file only (None while it is out of date, so a
    check that only wants a fast path never compiles the DDL)."""
    return sqlite_ddl_by_table() if sqlite_schema() is not None else None


# The table a CREATE TABLE or CREATE INDEX statement of the DDL is about.
_DDL_TABLE = re.compile(r'CREATE (?:TABLE|(?:UNIQUE )?INDEX \S+ ON) "?(\w+)"?')


def sqlite_ddl_by_table() -> dict[str, list[str]]:
    """table → the statements that create it and its indexes on SQLite.

    The shipped file while it matches tables.py; otherwise (tables edited, file not rebuilt yet)
    the same statements compiled by SQLAlchemy now, which is slower but never wrong.
    """
    statements = sqlite_schema() or t.compile_sqlite_ddl()
    by_table: dict[str, list[str]] = {}
    for statement in statements:
        match = _DDL_TABLE.match(statement)
        if match is None:
            raise ValueError(f"unexpected statement in the world's DDL: {statement[:60]!r}")
        by_table.setdefault(match[1], []).append(statement)
    return by_table


def now_iso(clock: Clock = REAL) -> str:
    """The world's timestamp format, on ``clock`` (a World uses its own: ``world.clock``)."""
    return clock.iso()


def world_url(location: str | Path) -> str:
    """A SQLAlchemy URL for a path or URL."""
    location = str(location)
    if "://" in location:
        return location
    return f"sqlite:///{Path(location).expanduser()}"


def sqlite_file(location: str | Path) -> Path | None:
    """The file of a world that sqlite3 serves: a path, or a plain ``sqlite:///`` URL of a file.

    None for every other URL, which SQLAlchemy serves: other databases, ``sqlite+<driver>://``
    (naming the driver asks for SQLAlchemy), in-memory databases and URLs with options or
    escapes, whose reading is SQLAlchemy's business.
    """
    location = str(location)
    if "://" not in location:
        return Path(location).expanduser()
    prefix = "sqlite:///"
    rest = location[len(prefix) :]
    if not location.startswith(prefix) or not rest or rest == ":memory:" or set("?#%") & set(rest):
        return None
    return Path(rest)


# -- the SQL both ways in run ---------------------------------------------------------------------


class Connection(Protocol):
    """What World methods and :meth:`World.transaction` hand out: SQL text, named parameters."""

    def execute(self, sql: str, params: dict[str, Any] | None = ..., /) -> Any:
        """Run one statement; the result iterates rows (tuples) and has fetchone/fetchall."""

    def executemany(self, sql: str, params: Iterable[dict[str, Any]], /) -> Any:
        """Run one statement once per parameter set."""


def in_list(values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """An IN list as SQL text: ``(:v0, :v1, …)`` and its parameters (keep it to ~500 values)."""
    params = {f"v{i}": value for i, value in enumerate(values)}
    return "(" + ", ".join(f":{p}" for p in params) + ")", params


def quoted(names: Iterable[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


@cache
def insert_sql(table: str, columns: tuple[str, ...]) -> str:
    values = ", ".join(f":{c}" for c in columns)
    return f'INSERT INTO "{table}" ({quoted(columns)}) VALUES ({values})'


@cache
def _select_sql(table: str, columns: tuple[str, ...]) -> str:
    return f'SELECT {quoted(columns)} FROM "{table}"'


@cache
def _update_sql(table: str, columns: tuple[str, ...]) -> str:
    assignments = ", ".join(f'"{c}" = :{c}' for c in columns)
    return f'UPDATE "{table}" SET {assignments} WHERE "key" = :key'


_LOG_CHANGE = insert_sql("changes", ("ts", "run_id", "object", "op", "keys", "fields"))
_INSERT_META = insert_sql("meta", ("name", "value"))


def _rows(result: Any, columns: Sequence[str]) -> list[dict[str, Any]]:
    return [dict(zip(columns, row, strict=True)) for row in result]


# While generate writes chunk after chunk: checkpoint the WAL every 64 MiB (at 4 KiB pages).
BULK_CHECKPOINT_PAGES = 16_384


BUSY_TIMEOUT_MS = 10_000
"""How long a statement waits for another connection's write lock before giving up."""
WRITER_LOCK_WAIT_MS = 1_000
"""How long a writing command waits, at start, for a program holding SQLite's write lock."""


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: object = None) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def _table_names(conn: sqlite3.Connection) -> set[str]:
    query = (
        "SELECT name FROM sqlite_master "
        "WHERE type = 'table' AND name NOT LIKE 'sqlite~_%' ESCAPE '~'"
    )
    return {row[0] for row in conn.execute(query)}


# (st_dev, st_ino) → SQLite connections this process has open on that file. POSIX record locks
# belong to the process, and closing *any* descriptor of a file drops all of them: reading a
# world's header with os.open/os.close while another connection of this process holds a lock
# on it would silently release that lock. Another process could then think itself the last
# user, checkpoint and remove the WAL under us: a split WAL (each server its own view of the
# world, ids handed out twice) and "disk I/O error" on opening. So the header is read only
# while no connection of this process is open on the file (it was checked when the first one
# opened it), and connections are counted under the same lock.
_OPEN_FILES: dict[tuple[int, int], int] = {}
_OPEN_FILES_LOCK = threading.Lock()


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _read_header(path: Path) -> bytes:
    """The first 20 bytes (magic string, page size, journal mode) of a regular file, opened
    without blocking."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise WorldError(f"world {path} can't be read ({exc.strerror})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise WorldError(f"world {path} is not a regular file")
        return os.read(fd, 20)
    finally:
        os.close(fd)


def _connect_sqlite(path: Path) -> sqlite3.Connection:
    # Autocommit: transactions are explicit (BEGIN IMMEDIATE … COMMIT in _SQLite.transaction),
    # so reads outside one hold no lock. One connection may serve several threads (the LLM
    # engine's cache); _SQLite serializes them.
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    _sqlite_pragmas(connection)
    return connection


class _SQLite:
    """A SQLite world through the standard library: one connection, one thread at a time.

    The connection itself is the :class:`Connection` (sqlite3 binds ``:name`` natively).
    """

    is_sqlite = True
    errors: tuple[type[Exception], ...] = (sqlite3.Error,)

    def __init__(self, path: Path) -> None:
        self.path = path
        with _OPEN_FILES_LOCK:
            self.connection = _connect_sqlite(path)  # creates the file if it is new
            self._file = _file_id(path)
            if self._file is not None:
                _OPEN_FILES[self._file] = _OPEN_FILES.get(self._file, 0) + 1
        # Held for a whole transaction, so another thread's statement can't land inside it.
        self._lock = threading.RLock()
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                from sqlalchemy import create_engine, event

                self._engine = create_engine(f"sqlite:///{self.path}")
                event.listen(self._engine, "connect", _sqlite_pragmas)
            return self._engine

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self.connection

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            # IMMEDIATE takes the write lock now (waiting up to busy_timeout for another
            # writer), so what the transaction reads first can't change before it writes.
            try:
                self.connection.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise _locked_or(exc, self.path) from None
            try:
                yield self.connection
                self.connection.execute("COMMIT")
            except BaseException:
                if self.connection.in_transaction:  # also when COMMIT itself failed
                    self.connection.rollback()
                raise

    @contextmanager
    def bulk_writes(self) -> Iterator[None]:
        """Checkpoint the WAL rarely while the block runs, and fold it in (truncated) at the end.

        A big run commits a chunk at a time. At SQLite's default (a checkpoint every 1,000
        pages, ~4 MiB) the world's index pages are copied out of the WAL, and fsynced, again
        after nearly every chunk: about half of a fresh world's write time. Durability is the
        same (synchronous=NORMAL); the WAL just grows up to BULK_CHECKPOINT_PAGES first.
        """
        with self._lock:
            before = self.connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
            self.connection.execute(f"PRAGMA wal_autocheckpoint={BULK_CHECKPOINT_PAGES}")
        try:
            yield
        finally:
            with self._lock:
                self.connection.execute(f"PRAGMA wal_autocheckpoint={int(before)}")
                self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @contextmanager
    def attached(self, path: Path, alias: str) -> Iterator[None]:
        """Another SQLite file, attached as ``alias`` (ATTACH is refused mid-transaction)."""
        with self._lock:
            self.connection.execute(f'ATTACH DATABASE :path AS "{alias}"', {"path": str(path)})
            try:
                yield
            finally:
                self.connection.execute(f'DETACH DATABASE "{alias}"')

    def insert_rows(
        self, conn: sqlite3.Connection, table: str, columns: tuple[str, ...], rows: list[tuple]
    ) -> None:
        # The hot path of a large generate: rows go in as the tuples they are (positional
        # parameters), with no dict built per row.
        conn.executemany(_positional_insert_sql(table, columns), rows)

    def table_names(self, conn: sqlite3.Connection) -> set[str]:
        return _table_names(conn)

    def column_info(
        self, conn: sqlite3.Connection, tables: Iterable[str]
    ) -> dict[str, dict[str, bool]]:
        """table → column → True when it is NOT NULL without a default (an insert must fill
        it), for the ``tables`` whose CREATE statement is not the one orgforge ships.

        SQLite keeps each table's CREATE statement and rewrites it on ALTER TABLE, so a table
        whose statement is the shipped one is unchanged: one query instead of a PRAGMA per
        table on every open."""
        shipped = {
            statements[0] for statements in (_shipped_ddl_by_table() or {}).values() if statements
        }
        stored = dict(
            conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()
        )
        out: dict[str, dict[str, bool]] = {}
        for table in tables:
            if stored.get(table) in shipped:
                continue
            rows = conn.execute(f'PRAGMA table_info("{table}")').fetchall()
            out[table] = {r[1]: bool(r[3]) and r[4] is None and not r[5] for r in rows}
        return out

    def create_tables(self, conn: sqlite3.Connection, names: set[str]) -> None:
        ddl = sqlite_ddl_by_table()
        for name in t.TABLES:
            if name in names:
                for statement in ddl[name]:
                    conn.execute(statement)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        self.connection.close()
        with _OPEN_FILES_LOCK:
            if self._file is not None and self._file in _OPEN_FILES:
                _OPEN_FILES[self._file] -= 1
                if not _OPEN_FILES[self._file]:
                    del _OPEN_FILES[self._file]
                self._file = None


def _locked_or(exc: sqlite3.OperationalError, path: Path) -> Exception:
    """ "database is locked" (another program holds the world's write lock) as a WorldError."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return WorldError(
            f"world {path} is locked by another program (SQLite: {text})",
            "Close the program holding it in a transaction (a sqlite3 shell, a DB browser), "
            "then run again.",
        )
    if "readonly" in text:
        return WorldError(
            f"world {path} is read-only ({text})",
            f"Make it writable (chmod u+w {path}) or copy it to a folder you can write to.",
        )
    return exc


@cache
def _positional_insert_sql(table: str, columns: tuple[str, ...]) -> str:
    placeholders = ", ".join("?" * len(columns))
    return f'INSERT INTO "{table}" ({quoted(columns)}) VALUES ({placeholders})'


class _SQLAlchemyConnection:
    """A SQLAlchemy connection that runs store.py's SQL text (see :class:`_SQLAlchemy`)."""

    def __init__(self, conn: Any, prepare: Any) -> None:
        self.sqlalchemy = conn
        self._prepare = prepare

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        return self.sqlalchemy.execute(self._prepare(sql), params or {})

    def executemany(self, sql: str, params: Iterable[dict[str, Any]]) -> Any:
        params = list(params)
        if params:  # SQLAlchemy reads an empty list as "no parameters", not "no rows"
            self.sqlalchemy.execute(self._prepare(sql), params)


class _SQLAlchemy:
    """Any SQLAlchemy URL: the same SQL text through ``text()``, pooled connections."""

    is_sqlite = False

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine, event, text
        from sqlalchemy.exc import DatabaseError, OperationalError

        self.errors = (OperationalError, DatabaseError)
        self.engine = create_engine(url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        quote = self.engine.dialect.identifier_preparer.quote

        @cache
        def prepare(sql: str) -> Any:
            # "name" → the dialect's quoting of name, exactly as its DDL quoted the tables
            return text(re.sub(r'"(\w+)"', lambda m: quote(m[1]), sql))

        self._prepare = prepare

    @contextmanager
    def reading(self) -> Iterator[_SQLAlchemyConnection]:
        with self.engine.connect() as conn:
            yield _SQLAlchemyConnection(conn, self._prepare)

    @contextmanager
    def transaction(self) -> Iterator[_SQLAlchemyConnection]:
        with self.engine.begin() as conn:
            yield _SQLAlchemyConnection(conn, self._prepare)

    def insert_rows(
        self, conn: _SQLAlchemyConnection, table: str, columns: tuple[str, ...], rows: list[tuple]
    ) -> None:
        conn.executemany(
            insert_sql(table, columns), [dict(zip(columns, r, strict=True)) for r in rows]
        )

    def table_names(self, conn: _SQLAlchemyConnection) -> set[str]:
        from sqlalchemy import inspect

        return set(inspect(conn.sqlalchemy).get_table_names())

    def column_info(
        self, conn: _SQLAlchemyConnection, tables: Iterable[str]
    ) -> dict[str, dict[str, bool]]:
        from sqlalchemy import inspect

        inspector = inspect(conn.sqlalchemy)
        return {
            table: {
                c["name"]: not c.get("nullable", True)
                and c.get("default") is None
                and c.get("autoincrement") is not True
                for c in inspector.get_columns(table)
            }
            for table in tables
        }

    def create_tables(self, conn: _SQLAlchemyConnection, names: set[str]) -> None:
        t.metadata.create_all(conn.sqlalchemy, tables=[t.metadata.tables[n] for n in names])

    def close(self) -> None:
        self.engine.dispose()


# -- the world ------------------------------------------------------------------------------------


class World:
    """A handle on one world. Use as a context manager or call :meth:`close`."""

    def __init__(
        self,
        location: str | Path,
        *,
        create: bool = True,
        writer: str | None = None,
        clock: Clock = REAL,
    ) -> None:
        """Open (``create``: or create) a world. ``writer`` names the command about to write
        it: the world is then locked for that command until :meth:`close`, and another writer
        is refused with a message naming this one (see :meth:`_lock_for_writing`)."""
        self.location = str(location)
        self.clock = clock  # stamps runs, the change log and sync rows
        self.url = world_url(location)
        self._lock_fd: int | None = None
        self._lock_path: Path | None = None
        path = sqlite_file(self.location)
        if path is not None:
            self._prepare_sqlite_path(path, create, writer is not None)
            if writer is not None:
                self._lock_for_writing(path, writer)
            try:
                self._db: _SQLite | _SQLAlchemy = _SQLite(path)
            except sqlite3.Error as exc:
                self._unlock()
                raise self._cant_open(exc) from None
            except BaseException:
                self._unlock()
                raise
        else:
            try:
                self._db = _SQLAlchemy(self.url)
            except Exception as exc:  # bad URL, missing driver
                raise WorldError(
                    f"world {self.location}: can't open ({exc.__class__.__name__}: {exc})",
                    "Use a file path or a SQLAlchemy URL such as sqlite:///orgforge.db.",
                ) from None
        # True when this process writes the world's SQLite file itself (shards need that).
        self.is_sqlite = self._db.is_sqlite
        try:
            self._open(create)
            if writer is not None and isinstance(self._db, _SQLite):
                self._probe_write_lock()
        except BaseException:
            self.close()
            raise

    @property
    def engine(self) -> Engine:
        """A SQLAlchemy engine on this world, for queries built with SQLAlchemy Core."""
        return self._db.engine

    @property
    def engine_if_made(self) -> Engine | None:
        """``engine`` if it exists already, else None: asking doesn't make it (for a SQLite
        world, making it imports SQLAlchemy)."""
        return self._db._engine if isinstance(self._db, _SQLite) else self._db.engine

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """The world's own connection for reads of SQL text written as this module's is."""
        with self._db.reading() as conn:
            yield conn

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction on the world's own connection; commits when the block ends.

        Modules that write tables of their own (the activity job's scorecards) use this, so
        their writes and the change-log entries they make go through one connection.
        """
        with self._db.transaction() as conn:
            yield conn

    @contextmanager
    def bulk_writes(self) -> Iterator[None]:
        """Around a run of many write transactions (generate's chunks): on SQLite, checkpoint
        the WAL rarely and once at the end; elsewhere nothing changes."""
        if isinstance(self._db, _SQLite):
            with self._db.bulk_writes():
                yield
        else:
            yield

    # -- opening and versions ------------------------------------------------------------------

    def _prepare_sqlite_path(self, path: Path, create: bool, writing: bool = False) -> None:
        """Refuse, before SQLite touches it, a path that is no world file: a directory, a FIFO
        (opening one would block), a file of another format or another application's database
        (which SQLite would otherwise switch to WAL mode and orgforge fill with its tables)."""
        st = check_path(path, "world", WorldError)
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise WorldError(f"world {path} is a directory, not a world file")
        if st is not None and not stat.S_ISREG(st.st_mode):
            raise WorldError(
                f"world {path} is {file_kind(st.st_mode)}, not a world file",
                "Point --world at a regular file (or a new path).",
            )
        if st is not None:
            with _OPEN_FILES_LOCK:
                # a file this process has open was checked then; reading it now would drop
                # its connections' locks (see _OPEN_FILES)
                is_open = bool(_OPEN_FILES.get((st.st_dev, st.st_ino)))
                header = b"" if is_open else _read_header(path)
            if header and header[:16] != b"SQLite format 3\x00":
                raise WorldError(f"world {path} is not a SQLite file (it may be something else)")
            # No write bit at all is the owner's "read-only", honoured even for root (whom
            # os.access lets write anything).
            if writing and (not os.access(path, os.W_OK) or not st.st_mode & 0o222):
                raise WorldError(
                    f"world {path} is read-only",
                    f"Make it writable (chmod u+w {path}) or point --world at a copy.",
                )
            if len(header) >= 20 and header[18] != 2:
                # Not in WAL mode, so not an orgforge world as orgforge leaves them: look
                # before the connection's WAL pragma rewrites the header of someone else's file.
                self._refuse_foreign_file(path)
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

    def _refuse_foreign_file(self, path: Path) -> None:
        """Read a SQLite file's tables on a plain connection (no WAL switch, no write) and
        refuse it unless it is empty or an orgforge world (see :meth:`_refuse_foreign`)."""
        try:
            probe = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
            try:
                self._refuse_foreign(probe, _table_names(probe))
            finally:
                probe.close()
        except sqlite3.Error:
            return  # opening it for real says why it can't be used

    def _refuse_foreign(self, conn: Connection, names: set[str]) -> None:
        """A database that is neither empty nor an orgforge world is left exactly as it is:
        its tables are not all orgforge's and it has no ``meta``, or its ``meta`` names
        another application."""
        app = None
        if "meta" in names:
            row = conn.execute(
                'SELECT "value" FROM "meta" WHERE "name" = :name', {"name": "app"}
            ).fetchone()
            app = row[0] if row else None
        if (app is not None and app != APP_ID) or ("meta" not in names and names - t.TABLES.keys()):
            shown = ", ".join(sorted(names)[:5]) + (", …" if len(names) > 5 else "")
            raise WorldError(
                f"world {self.location} is a database of something else (tables: {shown})",
                "Point --world at a new file; orgforge won't write into it.",
            )

    def _lock_for_writing(self, path: Path, command: str) -> None:
        """Hold the world for one writing command until close().

        The lock is ``flock`` on ``<world>.lock`` next to the world, which holds the name of
        the command that has it, so a refused writer can say whom it waits for. The OS drops
        the lock if the process dies; the file goes when the holder closes the world (a file a
        crash left behind is taken over by the next writer). Nothing is written into the world
        itself, so a refused or bad-input run leaves the world's bytes as they were.
        """
        import fcntl

        lock_path = path.with_name(path.name + ".lock")
        while True:
            try:
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise WorldError(
                    f"world {self.location}: can't create its lock file {lock_path} "
                    f"({exc.strerror})",
                    "Writing a world needs a folder you can write to; copy it somewhere else.",
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
                os.close(fd)
                raise WorldError(
                    f"world {self.location} is being written by "
                    f"{holder or 'another orgforge process'}",
                    "Wait for that run to finish (or stop it), then run again; or use another "
                    "--world.",
                ) from None
            held = os.fstat(fd)
            try:
                current = os.stat(lock_path)
            except FileNotFoundError:
                current = None
            if current is not None and (current.st_dev, current.st_ino) == (
                held.st_dev,
                held.st_ino,
            ):
                break
            os.close(fd)  # the holder removed the file we locked as we took it: take the new one
        started = self.clock.now().strftime("%Y-%m-%d %H:%M:%S UTC")
        holder = (
            f"`orgforge {command}` (pid {os.getpid()} on {socket.gethostname()}, since {started})"
        )
        os.ftruncate(fd, 0)
        os.pwrite(fd, (holder + "\n").encode(), 0)
        self._lock_fd, self._lock_path = fd, lock_path

    def _probe_write_lock(self) -> None:
        """Take and give back SQLite's write lock (no write): a program outside orgforge that
        holds the world in a transaction is found now, before the run writes anything."""
        assert isinstance(self._db, _SQLite)
        connection = self._db.connection
        connection.execute(f"PRAGMA busy_timeout={WRITER_LOCK_WAIT_MS}")
        try:
            with self._db.transaction():
                pass
        finally:
            connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    def _unlock(self) -> None:
        if self._lock_fd is None:
            return
        with suppress(OSError):
            os.unlink(self._lock_path)  # while still holding it: see the loop above
        os.close(self._lock_fd)
        self._lock_fd = None

    def _cant_open(self, exc: Exception) -> WorldError:
        cause = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
        return WorldError(
            f"world {self.location}: can't be opened ({cause.__class__.__name__}: {cause})",
            "Check the path and permissions, or start fresh with another --world.",
        )

    def _open(self, create: bool) -> None:
        try:
            # Opening a current world only reads (another process may be writing it).
            with self._db.reading() as conn:
                needs_work = self._check(conn, create)
            if needs_work:
                with self._db.transaction() as conn:
                    if self._check(conn, create):  # again, now that no one else can write
                        self._bring_up_to_date(conn)
        except self._db.errors as exc:
            raise self._cant_open(exc) from None

    def _check(self, conn: Connection, create: bool) -> bool:
        """Refuse what is not a world this orgforge can use; True if it needs creating, migrating
        or tables added since it was made."""
        existing = self._db.table_names(conn)
        self._refuse_foreign(conn, existing)
        if "meta" not in existing:
            if existing and not create:
                raise WorldError(f"world {self.location} is not an orgforge world")
            return True
        version = self._schema_version(conn)
        if version > SCHEMA_VERSION:
            raise WorldError(
                f"world {self.location} has schema version {version}; this orgforge "
                f"reads up to {SCHEMA_VERSION}",
                "Upgrade orgforge (pip install -U orgforge) or use another --world.",
            )
        if version == SCHEMA_VERSION:
            self._refuse_altered(conn, existing)
        return version < SCHEMA_VERSION or bool(t.TABLES.keys() - existing)

    def _refuse_altered(self, conn: Connection, existing: set[str]) -> None:
        """A table whose columns were changed by hand would fail at the first write of a run:
        refuse it at open instead, before a run directory or any record is written."""
        columns = self._db.column_info(conn, sorted(t.TABLES.keys() & existing))
        for name, actual in columns.items():
            missing = [c for c in t.TABLES[name].column_names if c not in actual]
            required = [
                c for c, needed in actual.items() if needed and c not in t.TABLES[name].column_names
            ]
            if missing or required:
                what = (
                    f"column {missing[0]!r} is missing"
                    if missing
                    else f"it has a required column {required[0]!r} orgforge doesn't fill"
                )
                raise WorldError(
                    f"world {self.location}: table {name} was altered ({what})",
                    "Restore the table as orgforge made it, or point --world at a new file.",
                )

    def _bring_up_to_date(self, conn: Connection) -> None:
        """Create a new world, or migrate an older one; then create the tables it lacks."""
        new = "meta" not in self._db.table_names(conn)
        if not new:
            self._migrate(conn, self._schema_version(conn))
        # SQLite runs the shipped DDL (schema_sqlite.sql: what SQLAlchemy's create_all emits,
        # compiled once by scripts/build_world_schema.py and checked by a test) for the tables
        # missing, which saves compiling 18 tables on every new world.
        self._db.create_tables(conn, t.TABLES.keys() - self._db.table_names(conn))
        if new:
            conn.executemany(
                _INSERT_META,
                [
                    {"name": "app", "value": APP_ID},
                    {"name": "schema_version", "value": str(SCHEMA_VERSION)},
                    {"name": "created_at", "value": now_iso(self.clock)},
                ],
            )

    def _schema_version(self, conn: Connection) -> int:
        row = conn.execute(
            'SELECT "value" FROM "meta" WHERE "name" = :name', {"name": "schema_version"}
        ).fetchone()
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
                conn.execute(statement)
            conn.execute(
                'UPDATE "meta" SET "value" = :value WHERE "name" = :name',
                {"name": "schema_version", "value": str(target)},
            )

    @property
    def schema_version(self) -> int:
        with self._db.reading() as conn:
            return self._schema_version(conn)

    def close(self) -> None:
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()
        self._unlock()

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- meta ----------------------------------------------------------------------------------

    def get_meta(self, name: str) -> str | None:
        with self._db.reading() as conn:
            rows = conn.execute(
                'SELECT "value" FROM "meta" WHERE "name" = :name', {"name": name}
            ).fetchall()
        return rows[0][0] if rows else None

    def set_meta(self, name: str, value: str, conn: Connection | None = None) -> None:
        def _do(c: Connection) -> None:
            c.execute('DELETE FROM "meta" WHERE "name" = :name', {"name": name})
            c.execute(_INSERT_META, {"name": name, "value": value})

        if conn is not None:
            _do(conn)
        else:
            with self._db.transaction() as c:
                _do(c)

    # -- records -------------------------------------------------------------------------------

    def columns(self, object_name: str) -> list[str]:
        return list(t.RECORD_COLUMNS[object_name])

    def count(self, object_name: str) -> int:
        return self.counts([object_name])[object_name]

    def counts(self, object_names: Iterable[str] = sf.GENERATED) -> dict[str, int]:
        with self._db.reading() as conn:
            return {
                name: conn.execute(
                    f'SELECT count(*) FROM "{t.record_table_name(name)}"'
                ).fetchone()[0]
                for name in object_names
            }

    def max_account_idx(self) -> int:
        with self._db.reading() as conn:
            value = conn.execute(
                f'SELECT max("account_idx") FROM "{t.record_table_name("Account")}"'
            ).fetchone()[0]
        return -1 if value is None else value

    def iter_rows(
        self,
        object_name: str,
        columns: Sequence[str] | None = None,
        where: Any = None,
        batch_size: int = 5000,
    ) -> Iterator[tuple]:
        """Stream rows in generation order; memory stays flat whatever the world's size.

        ``where`` is a SQLAlchemy expression over the object's table (``World.engine``'s
        connections stream, so a long read doesn't hold the world's own connection).
        """
        from sqlalchemy import select

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
        """Batches of rows of SQL ``columns`` (SQLAlchemy expressions over the object's table),
        in generation order: for exports that render in SQL."""
        from sqlalchemy import select

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
        if object_name not in t.RECORD_COLUMNS:
            return None
        names = t.RECORD_COLUMNS[object_name]
        sql = _select_sql(t.record_table_name(object_name), names) + ' WHERE "key" = :key'
        with self._db.reading() as conn:
            rows = _rows(conn.execute(sql, {"key": key}), names)
        return rows[0] if rows else None

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
        ts = now_iso(self.clock)
        with self._db.transaction() as conn:
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
        table = t.record_table_name(object_name)
        names = t.RECORD_COLUMNS[object_name]
        counts = {"inserted": 0, "updated": 0, "deleted": 0, "unchanged": 0}
        inserts: list[tuple] = rows
        updates: dict[tuple[str, ...], list[dict[str, Any]]] = {}  # changed fields → new values
        if not fresh and account_range is not None:
            lo, hi = account_range
            existing = {
                row[0]: tuple(row)
                for row in conn.execute(
                    _select_sql(table, names)
                    + ' WHERE "account_idx" BETWEEN :lo AND :hi AND "job" = :job',
                    {"lo": lo, "hi": hi - 1, "job": job},
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
                    values = {n: b for n, a, b in zip(names, old, row, strict=True) if a != b}
                    updates.setdefault(tuple(values), []).append({**values, "key": row[0]})
                    counts["updated"] += 1
            for changed, params in updates.items():
                conn.executemany(_update_sql(table, changed), params)
            if existing:
                gone = list(existing)
                conn.executemany(f'DELETE FROM "{table}" WHERE "key" = :key', _keys(gone))
                self.log_change(conn, object_name, "delete", gone, run_id, ts=ts)
                counts["deleted"] = len(gone)
        for changed, params in updates.items():
            keys = [p["key"] for p in params]
            self.log_change(conn, object_name, "update", keys, run_id, list(changed), ts)
        if inserts:
            self._db.insert_rows(conn, table, names, inserts)  # type: ignore[arg-type]
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
        """Record one change-log entry covering ``keys`` (call inside the write's transaction:
        ``conn`` comes from :meth:`transaction`).

        ``keys`` is a list of record keys, or that list already encoded as JSON. History rows
        are not records (no change events): they are not logged.
        """
        if object_name == t.HISTORY:
            return
        conn.execute(
            _LOG_CHANGE,
            {
                "ts": ts or now_iso(self.clock),
                "run_id": run_id,
                "object": object_name,
                "op": op,
                "keys": keys if isinstance(keys, str) else json.dumps(keys),
                "fields": json.dumps(fields) if fields is not None else None,
            },
        )

    def append_shard(
        self,
        shard: Path,
        manifest: dict[str, tuple[int, str]],
        run_id: str | None,
        extra: dict[str, list[tuple]] | None = None,
    ) -> dict[str, dict[str, int]]:
        """Copy a shard's records (see :mod:`orgforge.world.shard`) into this SQLite world,
        with ``extra`` rows of the same accounts that did not go through the shard.

        The caller guarantees the records are new (a fresh range of accounts). One transaction
        covers every table and its change-log entry, as ``write_rows`` does.
        """
        if not isinstance(self._db, _SQLite):
            raise WorldError(f"world {self.location}: shards only go into SQLite worlds")
        ts = now_iso(self.clock)
        stats: dict[str, dict[str, int]] = {}
        with self._db.attached(shard, "shard"), self._db.transaction() as conn:
            for name, (count, keys_json) in manifest.items():
                table, columns = t.record_table_name(name), quoted(t.RECORD_COLUMNS[name])
                conn.execute(
                    f'INSERT INTO main."{table}" ({columns}) SELECT {columns} FROM shard."{table}"'
                )
                self.log_change(conn, name, "insert", keys_json, run_id, ts=ts)
                stats[name] = {"inserted": count}
            for name, rows in (extra or {}).items():
                if not rows:
                    continue
                table, columns = t.record_table_name(name), t.RECORD_COLUMNS[name]
                self._db.insert_rows(conn, table, columns, rows)  # type: ignore[arg-type]
                self.log_change(conn, name, "insert", [r[0] for r in rows], run_id, ts=ts)
                stats[name] = {"inserted": len(rows)}
        return stats

    def delete_keys(
        self, object_name: str, keys: Sequence[str], run_id: str | None, *, job: str | None = None
    ) -> int:
        """Delete records by key (only ``job``'s records when given), logging every delete."""
        table = t.record_table_name(object_name)
        ts = now_iso(self.clock)
        removed = 0
        with self._db.transaction() as conn:
            for start in range(0, len(keys), 500):
                marks, params = in_list(keys[start : start + 500])
                query = f'SELECT "key" FROM "{table}" WHERE "key" IN {marks}'
                if job is not None:
                    query += ' AND "job" = :job'
                    params["job"] = job
                found = [r[0] for r in conn.execute(query, params)]
                if not found:
                    continue
                conn.executemany(f'DELETE FROM "{table}" WHERE "key" = :key', _keys(found))
                self.log_change(conn, object_name, "delete", found, run_id, ts=ts)
                removed += len(found)
        return removed

    def delete_accounts_from(self, first_idx: int, run_id: str | None) -> dict[str, int]:
        """Delete every record (and history row) of accounts with index ≥ first_idx (the world
        shrank); return how many of each object went."""
        ts = now_iso(self.clock)
        removed: dict[str, int] = {}
        with self._db.transaction() as conn:
            for name in (t.HISTORY, *reversed(sf.GENERATED)):
                table = t.record_table_name(name)
                where = ' WHERE "account_idx" >= :first'
                params = {"first": first_idx}
                keys = [r[0] for r in conn.execute(f'SELECT "key" FROM "{table}"' + where, params)]
                if not keys:
                    continue
                conn.execute(f'DELETE FROM "{table}"' + where, params)
                if name != t.HISTORY:  # history rows are not records: no change events
                    self.log_change(conn, name, "delete", keys, run_id, ts=ts)
                removed[name] = len(keys)
        return removed

    def reset(self) -> dict[str, int]:
        """Remove every record, run, change and cache entry; keep the schema."""
        removed = self.counts()
        with self._db.transaction() as conn:
            for name in reversed(t.TABLES):
                if name != "meta":
                    conn.execute(f'DELETE FROM "{name}"')
        return removed

    # -- text: cache and re-fill ----------------------------------------------------------------

    def cache_get_many(self, keys: Iterable[str]) -> dict[str, str]:
        """Cached texts for the given cache keys (missing keys are simply absent)."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, str] = {}
        with self._db.reading() as conn:
            for start in range(0, len(wanted), 500):
                marks, params = in_list(wanted[start : start + 500])
                query = _select_sql("content_cache", ("cache_key", "text"))
                query += f' WHERE "cache_key" IN {marks}'
                found.update({k: v for k, v in conn.execute(query, params)})
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
                "created_at": now_iso(self.clock),
            }
            for key, text_ in entries
        ]
        if not rows:
            return 0
        with self._db.transaction() as conn:
            conn.executemany(
                'DELETE FROM "content_cache" WHERE "cache_key" = :cache_key',
                [{"cache_key": r["cache_key"]} for r in rows],
            )
            conn.executemany(insert_sql("content_cache", tuple(rows[0])), rows)
        return len(rows)

    def cache_count(self) -> int:
        with self._db.reading() as conn:
            return conn.execute('SELECT count(*) FROM "content_cache"').fetchone()[0]

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
        ts = now_iso(self.clock)
        counts: dict[str, int] = {}
        with self._db.transaction() as conn:
            by_object: dict[str, list[str]] = {}
            for key in by_record:
                by_object.setdefault(key.split("/", 1)[0], []).append(key)
            for object_name, keys in by_object.items():
                table = t.record_table_name(object_name)
                fields = tuple(sorted({f for k in keys for f in by_record[k]}))
                groups: dict[tuple[str, ...], list[str]] = {}  # changed fields → keys
                for start in range(0, len(keys), 500):
                    part = keys[start : start + 500]
                    marks, params = in_list(part)
                    query = _select_sql(table, ("key", *fields)) + f' WHERE "key" IN {marks}'
                    stored = {
                        row[0]: dict(zip(fields, row[1:], strict=True))
                        for row in conn.execute(query, params)
                    }
                    for key in part:
                        old = stored.get(key)
                        if old is None:
                            continue
                        changed = {f: v for f, v in by_record[key].items() if old.get(f) != v}
                        if not changed:
                            continue
                        names = tuple(sorted(changed))
                        conn.execute(_update_sql(table, names), {**changed, "key": key})
                        groups.setdefault(names, []).append(key)
                for changed_fields, changed_keys in groups.items():
                    self.log_change(
                        conn, object_name, "update", changed_keys, run_id, list(changed_fields), ts
                    )
                counts[object_name] = sum(len(k) for k in groups.values())
        return counts

    # -- runs ----------------------------------------------------------------------------------

    def start_run(self, run_id: str, command: str, config: dict[str, Any]) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                _START_RUN,
                {
                    "run_id": run_id,
                    "command": command,
                    "status": "running",
                    "started_at": now_iso(self.clock),
                    "seed": config.get("seed"),
                    "as_of": config.get("as_of"),
                    # Key order is part of the recipe (weighted tables draw in order).
                    "config": json.dumps(config),
                },
            )

    def finish_run(self, run_id: str, status: str, summary: dict[str, Any]) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                'UPDATE "runs" SET "status" = :status, "finished_at" = :finished_at, '
                '"summary" = :summary WHERE "run_id" = :run_id',
                {
                    "run_id": run_id,
                    "status": status,
                    "finished_at": now_iso(self.clock),
                    "summary": json.dumps(summary),
                },
            )

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        columns = t.TABLES["runs"].column_names
        query = _select_sql("runs", columns) + ' ORDER BY "started_at" DESC LIMIT :limit'
        with self._db.reading() as conn:
            return _rows(conn.execute(query, {"limit": limit}), columns)

    def changes_since(self, after_id: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        """Change-log entries after ``after_id``, oldest first, with keys/fields decoded."""
        columns = t.TABLES["changes"].column_names
        query = _select_sql("changes", columns) + ' WHERE "id" > :after ORDER BY "id" LIMIT :limit'
        with self._db.reading() as conn:
            entries = _rows(conn.execute(query, {"after": after_id, "limit": limit}), columns)
        for entry in entries:
            entry["keys"] = json.loads(entry["keys"])
            entry["fields"] = json.loads(entry["fields"]) if entry["fields"] else None
        return entries


_START_RUN = insert_sql(
    "runs", ("run_id", "command", "status", "started_at", "seed", "as_of", "config")
)


def _keys(keys: Iterable[str]) -> list[dict[str, str]]:
    return [{"key": k} for k in keys]
