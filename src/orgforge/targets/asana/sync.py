"""The world's side of the Asana target: ``sync`` rows (target 'asana', key → gid, status).

A row is written right after each create or delete succeeds or fails, one small transaction
each, so a run killed at any point leaves the world saying exactly what exists in Asana: the
next seed creates only what is missing and cleanup deletes exactly what orgforge made.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from orgforge.targets.base import WriteResult
from orgforge.world import tables as t
from orgforge.world.store import World, now_iso

TARGET = "asana"


class AsanaSync:
    def __init__(self, world: World, target: str = TARGET) -> None:
        self.world = world
        self.target = target

    def gids(self) -> dict[str, str]:
        """key → gid of everything that exists in Asana (status ok)."""
        s = t.sync
        query = select(s.c.key, s.c.remote_id).where(
            s.c.target == self.target, s.c.status == "ok", s.c.remote_id.is_not(None)
        )
        with self.world.engine.connect() as conn:
            return {key: gid for key, gid in conn.execute(query)}

    def rows(self, status: str = "ok", run_id: str | None = None) -> list[dict[str, Any]]:
        s = t.sync
        query = select(s).where(s.c.target == self.target, s.c.status == status)
        if run_id:
            query = query.where(s.c.run_id == run_id)
        with self.world.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def store(self, result: WriteResult, status: str, run_id: str | None) -> None:
        s = t.sync
        row = {
            "target": self.target,
            "object": result.object,
            "key": result.key,
            "remote_id": result.remote_id,
            "status": status,
            "run_id": run_id,
            "updated_at": now_iso(),
            "error": json.dumps(result.error.as_dict()) if result.error else None,
        }
        with self.world.engine.begin() as conn:
            conn.execute(s.delete().where(s.c.target == self.target, s.c.key == result.key))
            conn.execute(s.insert(), [row])

    def mark(self, key: str, status: str, run_id: str | None, error: str | None = None) -> None:
        s = t.sync
        with self.world.engine.begin() as conn:
            conn.execute(
                s.update()
                .where(s.c.target == self.target, s.c.key == key)
                .values(status=status, run_id=run_id, updated_at=now_iso(), error=error)
            )
