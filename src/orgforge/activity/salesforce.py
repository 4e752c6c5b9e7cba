"""The activity job's Salesforce side: push the world's activity to an org, prune what went away.

The world stays the source of truth (``WorldSink`` writes it first, with signatures and the
change log); this module then brings the org in line through the Salesforce target:

* :func:`push` loads every world record the org does not have yet (``targets.salesforce.ops.
  load``: parents first, lookups from the sync table, journaled and resumable) — for an activity
  run that is the new Events, their EventRelations and the Tasks (plus any base record not yet
  loaded, since activity needs its opportunity and contacts there) — and then prunes;
* :func:`prune` deletes from the org the activity records orgforge created there whose world
  record is gone (removed by ``activity reset`` or by a run that no longer plans them), using
  the sync table's remote ids; records orgforge did not create are never touched.

Scorecards reach the org only as completed Tasks (``activity.scorecards.salesforce.mode: task``,
pushed like any other activity record); the note and custom-object modes that config describes
are refused until the target supports ContentNote and custom objects.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from orgforge.config import Config, dump
from orgforge.world import tables as t
from orgforge.world.runlog import RunLog
from orgforge.world.store import World

ACTIVITY_OBJECTS = ("EventRelation", "Event", "Task")  # children first, for deletes


def push(
    config: Config,
    *,
    env: dict[str, str] | None = None,
    session: Any = None,
    api: str | None = None,
) -> dict[str, Any]:
    """Load what the org lacks, then prune what the world no longer has; returns the figures."""
    from orgforge.targets.salesforce import ops

    report, run_dir = ops.load(config, env=env, session=session, api=api)
    pruned = prune(config, env=env, session=session)
    return {
        "target": report.target,
        "created": {n: x.created for n, x in report.tallies.items() if x.created},
        "failed": report.failed,
        "requests": report.requests + pruned["requests"],
        "deleted": pruned["deleted"],
        "load_run": run_dir,
    }


def prune(
    config: Config, *, env: dict[str, str] | None = None, session: Any = None
) -> dict[str, Any]:
    """Delete org records of activity keys that orgforge loaded and the world no longer holds."""
    from orgforge.targets.salesforce import ops
    from orgforge.targets.salesforce.plan import build_plan
    from orgforge.targets.salesforce.records import WorldSource
    from orgforge.targets.salesforce.sync import SyncStore

    client = ops.connect(config, session=session, env=env)
    with World(config.world, create=False) as world:
        plan = build_plan(client, config.salesforce, WorldSource(world).user_roles())
        store = SyncStore(world, plan.target)
        loaded = [r for r in store.rows(["ok"]) if r["object"] in ACTIVITY_OBJECTS]
        present: set[str] = set()
        with world.engine.connect() as conn:
            for name in ACTIVITY_OBJECTS:
                table = t.RECORD_TABLES[name]
                keys = [r["key"] for r in loaded if r["object"] == name]
                for start in range(0, len(keys), 500):
                    part = keys[start : start + 500]
                    present.update(
                        k for (k,) in conn.execute(select(table.c.key).where(table.c.key.in_(part)))
                    )
        stale: dict[str, list[dict]] = {}
        for row in loaded:
            if row["key"] not in present:
                stale.setdefault(row["object"], []).append(row)
        report = ops.CleanupReport(plan.target)
        if stale:
            with RunLog(config.runs_dir, "activity prune salesforce", dump(config), world) as log:
                for name in ACTIVITY_OBJECTS:
                    if stale.get(name):
                        ops.delete_loaded(client, store, log, name, stale[name], report, config)
                log.finish("ok" if not report.failed else "failed", report.as_dict())
        return {
            "target": plan.target,
            "deleted": report.deleted,
            "failed": report.failed,
            "requests": client.requests_used,
        }
