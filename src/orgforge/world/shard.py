"""Shard files: how worker processes hand fresh records to the world cheaply.

Inserting a row from Python costs mostly in binding its values (about two thirds of an
``executemany`` on a world table); SQLite's own ``INSERT … SELECT`` between attached databases
costs a fraction of that. So a worker writes the fresh records of its chunk into a private,
unindexed, unjournaled SQLite file (a *shard*), and the process that owns the world copies each
table over in one statement (:meth:`orgforge.world.store.World.append_shard`). Binding happens in
the workers, in parallel; the world's single writer only runs SQL.

A shard is scratch: written once, read once, deleted. It holds the ``rec_<Object>`` tables with
the world's columns in the world's order, nothing else.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path

# object → (records, their keys as a JSON list for the change log)
ShardManifest = dict[str, tuple[int, str]]


def write_shard(
    path: Path, columns: Mapping[str, Sequence[str]], rows_by_object: Mapping[str, list[tuple]]
) -> ShardManifest:
    """Write rows (tuples in ``columns`` order, key first) to a new shard file at ``path``."""
    manifest: ShardManifest = {}
    db = sqlite3.connect(path, isolation_level=None)
    try:
        # Scratch data: a crash loses nothing that can't be regenerated, so skip the journal.
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("BEGIN")
        for name, rows in rows_by_object.items():
            if not rows:
                continue
            cols = columns[name]
            quoted = ",".join(f'"{c}"' for c in cols)
            db.execute(f'CREATE TABLE "rec_{name}" ({quoted})')
            db.executemany(f'INSERT INTO "rec_{name}" VALUES ({",".join("?" * len(cols))})', rows)
            manifest[name] = (len(rows), json.dumps([row[0] for row in rows]))
        db.execute("COMMIT")
    finally:
        db.close()
    return manifest
