"""The world's side of a Salesforce target: sync rows (key → remote id) and the batch journal."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, select

from orgforge.targets.base import WriteResult
from orgforge.world import tables as t
from orgforge.world.store import World, now_iso

LOADED = ("ok", "adopted")
"""Sync statuses of records that exist in the org (adopted: existed before, not ours to delete)."""


class SyncStore:
    def __init__(self, world: World, target: str) -> None:
        self.world = world
        self.target = target

    # -- sync rows ---------------------------------------------------------------------------

    def state(self, objects: Iterable[str] | None = None) -> dict[str, tuple[str, str | None]]:
        s = t.sync
        query = select(s.c.key, s.c.status, s.c.remote_id).where(s.c.target == self.target)
        if objects is not None:
            query = query.where(s.c.object.in_(list(objects)))
        with self.world.engine.connect() as conn:
            return {k: (st, rid) for k, st, rid in conn.execute(query)}

    def rows(self, status: Iterable[str], run_id: str | None = None) -> list[dict[str, Any]]:
        s = t.sync
        query = select(s).where(s.c.target == self.target, s.c.status.in_(list(status)))
        if run_id:
            query = query.where(s.c.run_id == run_id)
        with self.world.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def _write(self, conn: Any, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        s = t.sync
        keys = [r["key"] for r in rows]
        for start in range(0, len(keys), 500):
            conn.execute(
                s.delete().where(
                    and_(s.c.target == self.target, s.c.key.in_(keys[start : start + 500]))
                )
            )
        conn.execute(s.insert(), rows)

    def _row(self, result: WriteResult, status: str, run_id: str | None, ts: str) -> dict:
        return {
            "target": self.target,
            "object": result.object,
            "key": result.key,
            "remote_id": result.remote_id,
            "status": status,
            "run_id": run_id,
            "updated_at": ts,
            "error": json.dumps(result.error.as_dict()) if result.error else None,
        }

    def store(
        self,
        results: list[tuple[WriteResult, str]],
        run_id: str | None,
        close_journal: int | None = None,
        pushed: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        """Store (result, status) pairs, the field values ``pushed`` per key and, in the same
        transaction, drop a journal entry."""
        ts = now_iso()
        with self.world.engine.begin() as conn:
            self._write(conn, [self._row(r, st, run_id, ts) for r, st in results])
            self._write_pushed(conn, pushed or {})
            if close_journal is not None:
                conn.execute(t.sync_journal.delete().where(t.sync_journal.c.id == close_journal))

    # -- what was last pushed ----------------------------------------------------------------

    def store_pushed(
        self, pushed: dict[str, dict[str, Any]], close_journal: int | None = None
    ) -> None:
        """An update's answer: the new values per key, and the journal entry's end, at once.
        The sync rows (and their run id, which cleanup --run goes by) stay as the create left
        them."""
        with self.world.engine.begin() as conn:
            self._write_pushed(conn, pushed)
            if close_journal is not None:
                conn.execute(t.sync_journal.delete().where(t.sync_journal.c.id == close_journal))

    def _write_pushed(self, conn: Any, pushed: dict[str, dict[str, Any]]) -> None:
        if not pushed:
            return
        v = t.sync_values
        keys = list(pushed)
        for start in range(0, len(keys), 500):
            conn.execute(
                v.delete().where(
                    and_(v.c.target == self.target, v.c.key.in_(keys[start : start + 500]))
                )
            )
        conn.execute(
            v.insert(),
            [
                {"target": self.target, "key": k, "fields": json.dumps(f, sort_keys=True)}
                for k, f in pushed.items()
            ],
        )

    def pushed(self, object_name: str) -> dict[str, dict[str, Any]]:
        """key → field values last pushed, for one object's records."""
        v = t.sync_values
        prefix = object_name + "/"
        query = select(v.c.key, v.c.fields).where(
            v.c.target == self.target, v.c.key.like(prefix + "%")
        )
        with self.world.engine.connect() as conn:
            return {k: json.loads(f) for k, f in conn.execute(query)}

    def mark(self, keys: list[str], status: str, run_id: str | None) -> None:
        s = t.sync
        with self.world.engine.begin() as conn:
            for start in range(0, len(keys), 500):
                conn.execute(
                    s.update()
                    .where(s.c.target == self.target, s.c.key.in_(keys[start : start + 500]))
                    .values(status=status, updated_at=now_iso())
                )

    # -- journal -----------------------------------------------------------------------------

    def open(
        self,
        run_id: str | None,
        api: str,
        op: str,
        objects: list[str],
        keys: list[str],
        job_id: str | None = None,
    ) -> int:
        """Record a batch before it is sent (committed before this returns)."""
        with self.world.engine.begin() as conn:
            result = conn.execute(
                t.sync_journal.insert().values(
                    target=self.target,
                    run_id=run_id,
                    api=api,
                    op=op,
                    objects=json.dumps(objects),
                    keys=json.dumps(keys),
                    job_id=job_id,
                    started_at=now_iso(),
                )
            )
            return int(result.inserted_primary_key[0])

    def drop(self, journal_id: int) -> None:
        with self.world.engine.begin() as conn:
            conn.execute(t.sync_journal.delete().where(t.sync_journal.c.id == journal_id))

    def journals(self) -> list[dict[str, Any]]:
        j = t.sync_journal
        with self.world.engine.connect() as conn:
            rows = conn.execute(select(j).where(j.c.target == self.target).order_by(j.c.id)).all()
        out = []
        for row in rows:
            entry = dict(row._mapping)
            entry["objects"] = json.loads(entry["objects"])
            entry["keys"] = json.loads(entry["keys"])
            out.append(entry)
        return out


def loaded_by_target(world: World) -> dict[str, int]:
    """target → records orgforge created there and hasn't deleted (what a reset would orphan)."""
    from sqlalchemy import func

    s = t.sync
    query = (
        select(s.c.target, func.count())
        .where(s.c.status == "ok")
        .group_by(s.c.target)
        .order_by(s.c.target)
    )
    with world.engine.connect() as conn:
        return {target: int(n) for target, n in conn.execute(query)}
