"""A set and a dict that keep at most ``limit`` entries in memory and the rest in SQLite.

Two things of a generate run grow with the whole world, not with a chunk: the account names
(domains) already taken, and everyone's calendar. Both must stay exact — a name is unique in the
world, a meeting never overlaps one of a thousand accounts earlier — so they can't be trimmed;
past ``limit`` entries they move to a private temporary SQLite file (deleted when closed), and
only what is in use comes back. Until then they are a plain set and dict, at full speed.
"""

from __future__ import annotations

import sqlite3
from typing import Any

SPILL_AT = 20_000
"""Entries kept in memory (~3 MiB) before the rest move to disk: a 10k-account world (15k
calendar days, 10k names) never spills; at 60k accounts 20,000 rather than 40,000 keeps 6 MiB
off the parent's peak."""
CACHE_KIB = 1024  # SQLite's page cache for the file: bounded too (point lookups, OS-cached)


def _temporary_db(columns: str, key: str) -> sqlite3.Connection:
    # "" is SQLite's private temporary database: a file of its own, deleted on close
    db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
    db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    db.execute(f"CREATE TABLE spilled ({columns}, PRIMARY KEY ({key})) WITHOUT ROWID")
    return db


def _bytes(value: int) -> bytes:
    """An int of any size as SQLite keeps it: a calendar day's mask has 96 bits, past INTEGER."""
    return value.to_bytes(value.bit_length() // 8 + 1, "little", signed=True)


class SpillingSet:
    """A set of strings: membership and add, exact at any size."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = SPILL_AT if limit is None else limit
        self._memory: set[str] = set()
        self._db: sqlite3.Connection | None = None

    def __contains__(self, item: str) -> bool:
        if item in self._memory:
            return True
        if self._db is None:
            return False
        found = self._db.execute("SELECT 1 FROM spilled WHERE k = ?", (item,)).fetchone()
        return found is not None

    def add(self, item: str) -> None:
        self._memory.add(item)
        if len(self._memory) > self.limit:
            if self._db is None:
                self._db = _temporary_db("k TEXT", "k")
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany(
                    "INSERT OR IGNORE INTO spilled VALUES (?)", ((k,) for k in self._memory)
                )
            self._memory.clear()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        self._memory.clear()


class SpillingDict(dict):
    """A dict of ``(text, int)`` keys to ints (of any size) whose missing keys read as
    ``default``.

    Read entries by subscript (``d[key]``): hits are a plain dict's; a miss looks in the file once
    the dict has spilled, and keeps what it found in memory. Call :meth:`spill_if_full` between
    batches of writes (the dict never checks its size on its own, so writing costs nothing extra):
    past ``limit`` entries they are written to the file and the memory is emptied.
    """

    def __init__(self, default: int = 0, limit: int | None = None) -> None:
        super().__init__()
        self.default = default
        self.limit = SPILL_AT if limit is None else limit
        self._db: sqlite3.Connection | None = None

    def __missing__(self, key: tuple[str, int]) -> int:
        if self._db is None:
            return self.default
        found = self._db.execute(
            "SELECT v FROM spilled WHERE a = ? AND b = ?", (key[0], key[1])
        ).fetchone()
        value = self.default if found is None else int.from_bytes(found[0], "little", signed=True)
        self[key] = value  # read again soon: a meeting's day is looked at quarter by quarter
        return value

    def __contains__(self, key: object) -> bool:
        return self[key] != self.default  # type: ignore[index]

    def get(self, key: tuple[str, int], default: Any = None) -> int:  # type: ignore[override]
        """Like ``d[key]``: a key never set reads as the dict's default, wherever it is kept."""
        return self[key]

    def spill_if_full(self) -> None:
        if len(self) <= self.limit:
            return
        if self._db is None:
            self._db = _temporary_db("a TEXT, b INTEGER, v BLOB", "a, b")
        default = self.default
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO spilled VALUES (?, ?, ?)",
                ((a, b, _bytes(v)) for (a, b), v in self.items() if v != default),
            )
            # an entry cleared back to the default (a meeting moved away) is no entry at all
            self._db.executemany(
                "DELETE FROM spilled WHERE a = ? AND b = ?",
                ((a, b) for (a, b), v in self.items() if v == default),
            )
        self.clear()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        self.clear()
