"""The Asana sandbox's own SQLite file: resources as JSON documents, links, tokens and events.

Every Asana object (workspace, team, user, project, section, task, story, status update, tag,
custom field, webhook) is one row of ``resources``: its numeric gid, its resource type and its
stored fields as JSON (references hold the other object's gid). Relations that lists are read
through (a task's projects, sections, tags, parent, followers; team members) are rows of
``links`` so that ``GET /projects/{gid}/tasks`` is an index lookup, in insertion order. The
events feed keeps every event once (``events``) and who sees it (``event_subs``: the resource
and every parent it bubbles up to).

One connection, one lock: the sandbox serves a handful of clients, and SQLite serialises writes
anyway. Fields whose name starts with ``_`` (a webhook's secret, a workspace's premium flag)
are stored but never rendered.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from orgforge.clock import REAL, Clock

FIRST_GID = 1_208_000_000_000_001  # real gids are 16-digit numbers; this range looks like them

_DDL = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS resources (
    gid INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_resources_type ON resources (type, gid);
CREATE TABLE IF NOT EXISTS links (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    rel TEXT NOT NULL,
    a INTEGER NOT NULL,
    b INTEGER NOT NULL,
    UNIQUE (rel, a, b)
);
CREATE INDEX IF NOT EXISTS ix_links_b ON links (rel, b, seq);
CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY, user INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS event_subs (
    gid INTEGER NOT NULL,
    event INTEGER NOT NULL,
    PRIMARY KEY (gid, event)
);
CREATE TABLE IF NOT EXISTS sync_tokens (
    token TEXT PRIMARY KEY,
    resource INTEGER NOT NULL,
    after INTEGER NOT NULL,
    created REAL NOT NULL
);
"""


def now_iso(clock: Clock = REAL) -> str:
    """Now on ``clock`` in Asana's format: UTC with milliseconds, e.g. 2012-02-22T02:06:58.147Z."""
    return asana_time(clock.now())


def asana_time(when: dt.datetime) -> str:
    """An aware datetime in Asana's timestamp format (UTC, milliseconds)."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_DDL)
        self.lock = threading.RLock()
        row = self._conn.execute("SELECT MAX(gid) FROM resources").fetchone()
        self._next_gid = max(FIRST_GID, (row[0] or 0) + 1)

    # -- transactions ----------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction under the store's lock (nested calls join the outer one)."""
        with self.lock:
            if self._conn.in_transaction:
                yield self._conn
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        with self.lock:
            self._conn.close()

    # -- meta ------------------------------------------------------------------------------

    def get_meta(self, name: str) -> str | None:
        with self.lock:
            row = self._conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def set_meta(self, name: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value))

    # -- resources -------------------------------------------------------------------------

    def new_gid(self) -> int:
        with self.lock:
            gid = self._next_gid
            self._next_gid += 1
            return gid

    def insert(self, kind: str, data: dict[str, Any]) -> int:
        gid = self.new_gid()
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO resources (gid, type, data) VALUES (?, ?, ?)",
                (gid, kind, json.dumps(data)),
            )
        return gid

    def get(self, gid: int | str, kind: str | None = None) -> dict[str, Any] | None:
        """The stored fields of ``gid`` plus ``gid`` and ``resource_type``; None if absent."""
        try:
            number = int(gid)
        except (TypeError, ValueError):
            return None
        with self.lock:
            row = self._conn.execute(
                "SELECT type, data FROM resources WHERE gid = ?", (number,)
            ).fetchone()
        if row is None or (kind is not None and row[0] != kind):
            return None
        return {"gid": str(number), "resource_type": row[0], **json.loads(row[1])}

    def update(self, gid: int | str, changes: dict[str, Any]) -> None:
        with self.transaction() as conn:
            row = conn.execute("SELECT data FROM resources WHERE gid = ?", (int(gid),)).fetchone()
            data = json.loads(row[0])
            data.update(changes)
            conn.execute(
                "UPDATE resources SET data = ? WHERE gid = ?", (json.dumps(data), int(gid))
            )

    def delete(self, gid: int | str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM resources WHERE gid = ?", (int(gid),))
            conn.execute("DELETE FROM links WHERE a = ? OR b = ?", (int(gid), int(gid)))

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            rows = self._conn.execute(
                "SELECT gid, data FROM resources WHERE type = ? ORDER BY gid", (kind,)
            ).fetchall()
        return [{"gid": str(g), "resource_type": kind, **json.loads(d)} for g, d in rows]

    def many(self, gids: Iterable[int | str]) -> list[dict[str, Any]]:
        """Resources by gid, in the order given (missing ones left out)."""
        wanted = [int(g) for g in gids]
        found: dict[int, dict[str, Any]] = {}
        with self.lock:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for gid, kind, data in self._conn.execute(
                    f"SELECT gid, type, data FROM resources WHERE gid IN ({marks})", chunk
                ):
                    found[gid] = {"gid": str(gid), "resource_type": kind, **json.loads(data)}
        return [found[g] for g in wanted if g in found]

    def count(self, kind: str) -> int:
        with self.lock:
            return self._conn.execute(
                "SELECT COUNT(*) FROM resources WHERE type = ?", (kind,)
            ).fetchone()[0]

    # -- links -----------------------------------------------------------------------------

    def link(self, rel: str, a: int | str, b: int | str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO links (rel, a, b) VALUES (?, ?, ?)", (rel, int(a), int(b))
            )

    def unlink(self, rel: str, a: int | str, b: int | str | None = None) -> None:
        with self.transaction() as conn:
            if b is None:
                conn.execute("DELETE FROM links WHERE rel = ? AND a = ?", (rel, int(a)))
            else:
                conn.execute(
                    "DELETE FROM links WHERE rel = ? AND a = ? AND b = ?", (rel, int(a), int(b))
                )

    def targets(self, rel: str, a: int | str) -> list[str]:
        """b for every (rel, a, b), in link order: a task's projects, tags, followers..."""
        with self.lock:
            rows = self._conn.execute(
                "SELECT b FROM links WHERE rel = ? AND a = ? ORDER BY seq", (rel, int(a))
            ).fetchall()
        return [str(r[0]) for r in rows]

    def sources(self, rel: str, b: int | str) -> list[str]:
        """a for every (rel, a, b), in link order: a project's tasks, a team's members..."""
        with self.lock:
            rows = self._conn.execute(
                "SELECT a FROM links WHERE rel = ? AND b = ? ORDER BY seq", (rel, int(b))
            ).fetchall()
        return [str(r[0]) for r in rows]

    # -- tokens ----------------------------------------------------------------------------

    def add_token(self, token: str, user_gid: int | str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO tokens (token, user) VALUES (?, ?)", (token, int(user_gid))
            )

    def token_user(self, token: str) -> str | None:
        with self.lock:
            row = self._conn.execute("SELECT user FROM tokens WHERE token = ?", (token,)).fetchone()
        return str(row[0]) if row else None

    def tokens(self) -> dict[str, str]:
        """user gid → token (the first token of each user)."""
        with self.lock:
            rows = self._conn.execute("SELECT user, token FROM tokens ORDER BY rowid").fetchall()
        out: dict[str, str] = {}
        for user, token in rows:
            out.setdefault(str(user), token)
        return out

    def revoke(self, token: str) -> bool:
        with self.transaction() as conn:
            return conn.execute("DELETE FROM tokens WHERE token = ?", (token,)).rowcount > 0

    # -- events ----------------------------------------------------------------------------

    def add_event(self, body: dict[str, Any], subscribers: Iterable[str]) -> int:
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO events (created_at, body) VALUES (?, ?)",
                (body["created_at"], json.dumps(body)),
            )
            event_id = int(cursor.lastrowid or 0)
            conn.executemany(
                "INSERT OR IGNORE INTO event_subs (gid, event) VALUES (?, ?)",
                [(int(g), event_id) for g in set(subscribers)],
            )
        return event_id

    def last_event_id(self) -> int:
        with self.lock:
            return self._conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]

    def events_for(self, gid: int | str, after: int, limit: int) -> list[tuple[int, dict]]:
        with self.lock:
            rows = self._conn.execute(
                "SELECT e.id, e.body FROM event_subs s JOIN events e ON e.id = s.event "
                "WHERE s.gid = ? AND s.event > ? ORDER BY s.event LIMIT ?",
                (int(gid), after, limit),
            ).fetchall()
        return [(i, json.loads(b)) for i, b in rows]

    def put_sync(self, token: str, resource: int | str, after: int, created: float) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO sync_tokens (token, resource, after, created) "
                "VALUES (?, ?, ?, ?)",
                (token, int(resource), after, created),
            )

    def get_sync(self, token: str) -> tuple[str, int, float] | None:
        with self.lock:
            row = self._conn.execute(
                "SELECT resource, after, created FROM sync_tokens WHERE token = ?", (token,)
            ).fetchone()
        return (str(row[0]), int(row[1]), float(row[2])) if row else None

    # -- admin -----------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        with self.lock:
            rows = self._conn.execute(
                "SELECT type, COUNT(*) FROM resources GROUP BY type ORDER BY type"
            ).fetchall()
            events = self._conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        return {**{k: n for k, n in rows}, "events": events}

    def clear_content(self, keep: Iterable[str]) -> None:
        """Delete everything but the resource types in ``keep`` (the seed) and their links."""
        kept = list(keep)
        marks = ",".join("?" * len(kept))
        with self.transaction() as conn:
            conn.execute(f"DELETE FROM resources WHERE type NOT IN ({marks})", kept)
            conn.execute(
                "DELETE FROM links WHERE a NOT IN (SELECT gid FROM resources) "
                "OR b NOT IN (SELECT gid FROM resources)"
            )
            for table in ("events", "event_subs", "sync_tokens"):
                conn.execute(f"DELETE FROM {table}")
