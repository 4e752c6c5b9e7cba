"""SQL functions the query engine pushes into SQLite so pushed-down filters mean what SOQL means.

Registered on every org connection. They are exactly the Python rules the engine applies when
it evaluates a filter itself (``str.casefold`` for text order and range comparisons, the LIKE
pattern as a case-insensitive regular expression), so a query gives the same rows whether
SQLite or Python evaluated it.
"""

from __future__ import annotations

import functools
import re
import sqlite3

from orgforge.soql import LIKE_ESCAPE_MARK


def fold(value: object) -> object:
    return value.casefold() if isinstance(value, str) else value


@functools.lru_cache(maxsize=256)
def like_pattern(pattern: str) -> re.Pattern[str]:
    """SOQL LIKE as a regular expression: % and _ wildcards, escaped ones literal."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == LIKE_ESCAPE_MARK and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def like(pattern: str, value: object) -> int:
    return int(isinstance(value, str) and like_pattern(pattern).fullmatch(value) is not None)


def register(conn: sqlite3.Connection) -> None:
    conn.create_function("soql_fold", 1, fold, deterministic=True)
    conn.create_function("soql_like", 2, like, deterministic=True)
