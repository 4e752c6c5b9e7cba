"""A job's objects (``sim_objects``): what its actions created, and where each thing is now."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from orgforge.world.store import Connection, World, insert_sql

_COLUMNS = (
    "job_id",
    "key",
    "kind",
    "remote_id",
    "parent",
    "persona",
    "state",
    "open",
    "updated_at",
)
_INSERT = insert_sql("sim_objects", _COLUMNS)
_SYNC_COLUMNS = ("target", "object", "key", "remote_id", "status", "run_id", "updated_at", "error")
_SYNC_INSERT = insert_sql("sync", _SYNC_COLUMNS)


@dataclass
class Obj:
    key: str
    kind: str
    remote_id: str | None
    parent: str | None
    persona: str | None
    state: dict[str, Any]
    open: bool


class JobObjects:
    """Read a job's objects; :meth:`apply` writes an action's changes inside a transaction."""

    def __init__(self, world: World, job_id: str) -> None:
        self.world = world
        self.job_id = job_id

    def _rows(self, where: str, params: dict[str, Any]) -> list[Obj]:
        sql = (
            'SELECT "key", "kind", "remote_id", "parent", "persona", "state", "open" '
            f'FROM "sim_objects" WHERE "job_id" = :job {where} ORDER BY "key"'
        )
        with self.world.reading() as conn:
            rows = conn.execute(sql, {"job": self.job_id, **params}).fetchall()
        return [Obj(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), bool(r[6])) for r in rows]

    def of_kind(self, kind: str, open_only: bool = True) -> list[Obj]:
        where = 'AND "kind" = :kind' + (' AND "open" = 1' if open_only else "")
        return self._rows(where, {"kind": kind})

    def get(self, key: str) -> Obj | None:
        found = self._rows('AND "key" = :key', {"key": key})
        return found[0] if found else None

    def children(self, parent: str, kind: str) -> list[Obj]:
        return self._rows(
            'AND "parent" = :parent AND "kind" = :kind', {"parent": parent, "kind": kind}
        )

    def remote_ids(self, keys: list[str]) -> dict[str, str]:
        out = {}
        for key in keys:
            obj = self.get(key)
            if obj is not None and obj.remote_id:
                out[key] = obj.remote_id
        return out

    def apply(
        self,
        conn: Connection,
        changes: list[dict[str, Any]],
        remote_ids: dict[str, str],
        now: str,
        sync_target: str | None = None,
    ) -> None:
        """Upsert each change ``{key, kind?, parent?, persona?, state?, open?}``: a new key is
        inserted, a known one has its state merged. New objects with a remote id are recorded
        in the world's ``sync`` table too (target ``sync_target``), so the target's cleanup
        deletes exactly what the job created."""
        for change in changes:
            key = change["key"]
            row = conn.execute(
                'SELECT "state", "remote_id" FROM "sim_objects" '
                'WHERE "job_id" = :job AND "key" = :key',
                {"job": self.job_id, "key": key},
            ).fetchone()
            remote = remote_ids.get(key)
            if row is None:
                conn.execute(
                    _INSERT,
                    {
                        "job_id": self.job_id,
                        "key": key,
                        "kind": change["kind"],
                        "remote_id": remote,
                        "parent": change.get("parent"),
                        "persona": change.get("persona"),
                        "state": json.dumps(change.get("state", {}), sort_keys=True),
                        "open": int(change.get("open", True)),
                        "updated_at": now,
                    },
                )
                if sync_target and remote:
                    conn.execute(
                        'DELETE FROM "sync" WHERE "target" = :target AND "key" = :key',
                        {"target": sync_target, "key": key},
                    )
                    conn.execute(
                        _SYNC_INSERT,
                        {
                            "target": sync_target,
                            "object": change.get("sync_object", change["kind"]),
                            "key": key,
                            "remote_id": remote,
                            "status": "ok",
                            "run_id": self.job_id,
                            "updated_at": now,
                            "error": None,
                        },
                    )
                continue
            state = {**json.loads(row[0]), **change.get("state", {})}
            sets = {"state": json.dumps(state, sort_keys=True), "updated_at": now}
            if "open" in change:
                sets["open"] = int(change["open"])
            if "persona" in change:
                sets["persona"] = change["persona"]
            assignments = ", ".join(f'"{c}" = :{c}' for c in sets)
            conn.execute(
                f'UPDATE "sim_objects" SET {assignments} WHERE "job_id" = :job AND "key" = :key',
                {**sets, "job": self.job_id, "key": key},
            )
