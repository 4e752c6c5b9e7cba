"""The four Salesforce commands as library functions: validate, load, cleanup, smoke."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from orgforge.clock import REAL, Clock
from orgforge.config import Config, dump
from orgforge.errors import AuthError, ConfigError, UsageError
from orgforge.schema import salesforce as sf
from orgforge.targets.base import RecordError, WriteResult, retryable
from orgforge.targets.salesforce.client import SalesforceClient, parse_errors
from orgforge.targets.salesforce.loader import Loader, LoadReport, _bulk_error
from orgforge.targets.salesforce.plan import (
    LOAD_OBJECTS,
    Plan,
    build_plan,
    estimate_requests,
    raise_if_errors,
)
from orgforge.targets.salesforce.records import ExportSource, Source, WorldSource
from orgforge.targets.salesforce.sync import LOADED, SyncStore
from orgforge.world.runlog import RunLog
from orgforge.world.store import World

GONE = {"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY", "NOT_FOUND", "INVALID_ID_FIELD"}


def connect(
    cfg: Config,
    *,
    session: requests.Session | None = None,
    env: dict[str, str] | None = None,
    run_cli: Callable | None = None,
    clock: Clock | None = None,
) -> SalesforceClient:
    return SalesforceClient(
        cfg.salesforce, session=session, env=env, run_cli=run_cli, clock=clock or REAL
    ).connect()


def _source(cfg: Config, world: World, from_dir: str | Path | None) -> Source:
    return ExportSource(from_dir) if from_dir else WorldSource(world)


@dataclass
class ValidateReport:
    plan: Plan
    api_versions: list[str]
    counts: dict[str, int]
    apis: dict[str, str]
    estimate: int
    requests: int = 0

    @property
    def ok(self) -> bool:
        return not self.plan.errors

    def failure(self) -> ConfigError | None:
        """The error a validate ends with (exit 2), or None when the org can take the load."""
        try:
            raise_if_errors(self.plan)
        except ConfigError as error:
            return error
        return None

    def as_dict(self) -> dict[str, Any]:
        p = self.plan
        return {
            "org_id": p.org_id,
            "username": p.username,
            "instance_url": p.instance_url,
            "api_version": p.api_version,
            "objects": {
                n: {"key_mode": o.key_mode, "fields": len(o.fields), "api": self.apis.get(n)}
                for n, o in p.objects.items()
            },
            "owners": p.owner_names,
            "owner_mapping": p.owner_how,
            "warnings": p.warnings,
            "errors": p.errors,
            "estimated_requests": self.estimate,
            "remaining_requests": p.remaining_requests,
        }


def _apis(counts: dict[str, int], api: str, threshold: int) -> dict[str, str]:
    return {
        n: "bulk" if api == "bulk" or (api == "auto" and c >= threshold) else "rest"
        for n, c in counts.items()
    }


def validate(
    cfg: Config,
    *,
    from_dir: str | Path | None = None,
    api: str | None = None,
    session: requests.Session | None = None,
    env: dict[str, str] | None = None,
    run_cli: Callable | None = None,
) -> ValidateReport:
    """Connect, check the API version, describe every object written, map picklists and
    owners, compare the requests a load would use with the org's remaining daily requests."""
    client = connect(cfg, session=session, env=env, run_cli=run_cli)
    versions = [v.get("version") for v in client.versions() or []]
    world = World(cfg.world, create=bool(from_dir))
    try:
        source = _source(cfg, world, from_dir)
        plan = build_plan(client, cfg.salesforce, source.user_roles())
        if versions and cfg.salesforce.api_version not in versions:
            plan.errors.append(
                f"salesforce.api_version {cfg.salesforce.api_version}: the org serves "
                f"{versions[0]}–{versions[-1]}"
            )
        state = SyncStore(world, plan.target).state(LOAD_OBJECTS)
        counts = {
            n: sum(1 for k in source.keys(n) if state.get(k, ("",))[0] not in LOADED)
            for n in LOAD_OBJECTS
        }
    finally:
        world.close()
    apis = _apis(counts, api or cfg.salesforce.api, cfg.salesforce.bulk_threshold)
    estimate = estimate_requests(counts, apis, cfg.salesforce.batch_size)
    remaining = plan.remaining_requests
    if remaining is not None and estimate > remaining:
        plan.errors.append(
            f"DailyApiRequests: a load needs ~{estimate:,} requests, the org has {remaining:,} left"
        )
    return ValidateReport(plan, versions, counts, apis, estimate, client.requests_used)


def load(
    cfg: Config,
    *,
    from_dir: str | Path | None = None,
    api: str | None = None,
    dry_run: bool = False,
    force: bool = False,
    session: requests.Session | None = None,
    env: dict[str, str] | None = None,
    run_cli: Callable | None = None,
    progress: Callable[[str, int], None] | None = None,
    on_start: Callable[[dict[str, int]], None] | None = None,
    prune: bool = False,
    clock: Clock | None = None,
) -> tuple[LoadReport, str | None]:
    """Sync the world (or an exported folder) into the org: create what is missing, update
    the fields that changed since the last push, and with ``prune`` delete the records orgforge
    created that the world no longer has (children first). Returns (report, run dir).

    ``clock`` (default the real one) runs every back-off, poll and timing (tests: simulated)."""
    settings = cfg.salesforce
    api = api or settings.api
    if prune and from_dir:
        raise UsageError(
            "load: --prune works on a world, not on --from a folder",
            "An export may be a part of the world; prune from the world it came from.",
        )
    client = connect(cfg, session=session, env=env, run_cli=run_cli, clock=clock)
    # the world's writer lock for the whole load (sync rows, run log): a second writer is
    # refused naming this one; a dry run writes nothing and takes none
    world = World(cfg.world, create=bool(from_dir), writer=None if dry_run else "load")
    try:
        source = _source(cfg, world, from_dir)
        plan = build_plan(client, settings, source.user_roles())
        raise_if_errors(plan)
        store = SyncStore(world, plan.target)

        def loader(log: RunLog | None) -> Loader:
            return Loader(
                client,
                plan,
                store,
                source,
                log,
                batch_size=settings.batch_size,
                concurrency=settings.concurrency,
                max_retries=settings.max_retries,
                progress=progress,
                clock=client.clock,
            )

        probe = loader(None)
        counts = probe.prepare(api, settings.bulk_threshold)
        apis = {n: t.api for n, t in probe.report.tallies.items()}
        updates = {n: t.to_update for n, t in probe.report.tallies.items()}
        estimate = estimate_requests(counts, apis, settings.batch_size, updates)
        remaining = plan.remaining_requests
        if remaining is not None and estimate > remaining and not force and not dry_run:
            raise UsageError(
                f"salesforce org {plan.org_id}: the load needs ~{estimate:,} API requests and "
                f"the org has {remaining:,} of its daily requests left",
                "Wait for the 24-hour window to roll, use --api bulk, or pass --force.",
            )
        if dry_run:
            probe.report.dry_run = True
            probe.report.estimate = estimate
            probe.report.requests = client.requests_used
            probe.report.warnings = [*plan.warnings, *probe.report.warnings]
            return probe.report, None
        config = dump(cfg)
        with RunLog(cfg.runs_dir, "load salesforce", config, world) as log:
            for warning in plan.warnings:
                log.event("validate.warning", message=warning)
            # The probe's reading of the world and the sync stands unless a batch of an earlier
            # run must be settled first (that changes what is loaded).
            run, pending = probe, counts
            run.runlog, run.run_id = log, log.run_id
            if store.journals():
                run.reconcile()
                pending = run.prepare(api, settings.bulk_threshold)
            if on_start:
                on_start(pending)
            log.event(
                "load.started",
                target=plan.target,
                pending=pending,
                apis={n: t.api for n, t in run.report.tallies.items()},
            )
            try:
                report = run.run(pending)
            except AuthError as exc:  # not transient: say what this run got done first
                done = sum(t.created + t.updated for t in run.report.tallies.values())
                raise AuthError(
                    f"{exc.message}; this run stored {done:,} records before it stopped "
                    f"(run log {log.dir}/), the next load resumes from there",
                    exc.hint,
                ) from None
            if prune:
                _prune(client, store, log, run, cfg, progress)
            report.requests = client.requests_used
            report.http_retries = client.retries
            report.record_retries = sum(run.record_retries.values())
            report.faults = {**client.faults, **run.record_faults}
            report.estimate = estimate
            report.warnings = [*plan.warnings, *report.warnings]
            log.finish("ok" if not report.failed else "failed", report.as_dict())
            return report, str(log.dir)
    finally:
        world.close()


def _prune(
    client: SalesforceClient,
    store: SyncStore,
    log: RunLog,
    run: Loader,
    cfg: Config,
    progress: Callable[[str, int], None] | None,
) -> None:
    """Delete the records this world created that it no longer has, children first (a
    cascade in the org may take children with a parent; those answer 'deleted' and count)."""
    ids = run.ids
    for name in reversed(LOAD_OBJECTS):
        keys = run.report.prune.get(name)
        if not keys:
            continue
        items = [{"key": k, "remote_id": ids[k]} for k in keys if ids.get(k)]
        outcome = CleanupReport(run.report.target)
        _delete_object(client, store, log, name, items, outcome, cfg, progress)
        tally = run.report.tallies[name]
        tally.pruned += outcome.deleted.get(name, 0)
        tally.failed += outcome.failed.get(name, 0)
        log.event("load.pruned", object=name, deleted=outcome.deleted.get(name, 0))


@dataclass
class CleanupReport:
    target: str
    deleted: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    would_delete: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    seconds: float = 0.0
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def cleanup(
    cfg: Config,
    *,
    run_id: str | None = None,
    everything: bool = False,
    dry_run: bool = False,
    session: requests.Session | None = None,
    env: dict[str, str] | None = None,
    run_cli: Callable | None = None,
    progress: Callable[[str, int], None] | None = None,
    clock: Clock | None = None,
) -> tuple[CleanupReport, str | None]:
    """Delete exactly the records orgforge created (children first); safe to run again."""
    if not run_id and not everything:
        raise UsageError(
            "cleanup: say what to delete: --run RUN_ID or --all",
            "`orgforge world info` lists runs; --all deletes everything orgforge created here.",
        )
    clock = clock or REAL
    start = clock.monotonic()
    if run_id:
        _known_run(cfg, run_id)
    client = connect(cfg, session=session, env=env, run_cli=run_cli, clock=clock)
    world = World(cfg.world, create=False, writer=None if dry_run else "cleanup")
    try:
        source = WorldSource(world)
        plan = build_plan(client, cfg.salesforce, source.user_roles())
        store = SyncStore(world, plan.target)
        report = CleanupReport(plan.target, dry_run=dry_run)
        if dry_run:
            for row in store.rows(["ok"], run_id):
                report.would_delete[row["object"]] = report.would_delete.get(row["object"], 0) + 1
            report.requests = client.requests_used
            return report, None
        with RunLog(cfg.runs_dir, "cleanup salesforce", dump(cfg), world) as log:
            if not plan.errors:
                Loader(client, plan, store, source, log).reconcile()
            rows = store.rows(["ok"], run_id)
            by_object: dict[str, list[dict]] = {}
            for row in rows:
                by_object.setdefault(row["object"], []).append(row)
            for name in reversed(LOAD_OBJECTS):
                items = by_object.get(name, [])
                if items:
                    _delete_object(client, store, log, name, items, report, cfg, progress)
            report.requests = client.requests_used
            report.seconds = clock.monotonic() - start
            failed = sum(report.failed.values())
            log.finish("ok" if not failed else "failed", report.as_dict())
            return report, str(log.dir)
    finally:
        world.close()


def _known_run(cfg: Config, run_id: str) -> None:
    """``cleanup --run`` of a run this world never had is a typo, not "nothing to delete"."""
    from sqlalchemy import select

    from orgforge.world import tables as t

    with World(cfg.world, create=False) as world, world.engine.connect() as conn:
        found = conn.execute(select(t.runs.c.run_id).where(t.runs.c.run_id == run_id)).first()
        if found is None:
            found = conn.execute(select(t.sync.c.key).where(t.sync.c.run_id == run_id)).first()
        recent = [r["run_id"] for r in world.runs(limit=3) if r["command"].startswith("load")]
    if found is None:
        raise UsageError(
            f"cleanup --run {run_id}: world {cfg.world} has no such run",
            "`orgforge world info` lists the runs"
            + (f" (latest loads: {', '.join(recent)})" if recent else "")
            + "; --all deletes everything orgforge created.",
        )


def _delete_object(
    client: SalesforceClient,
    store: SyncStore,
    log: RunLog,
    name: str,
    items: list[dict],
    report: CleanupReport,
    cfg: Config,
    progress: Callable[[str, int], None] | None,
) -> None:
    size = cfg.salesforce.batch_size
    todo = [(row["key"], row["remote_id"]) for row in items if row["remote_id"]]
    use_bulk = cfg.salesforce.api == "bulk" or (
        cfg.salesforce.api == "auto" and len(todo) >= cfg.salesforce.bulk_threshold
    )
    attempt = 0
    while todo:
        attempt += 1
        retry: list[tuple[str, str]] = []
        step = len(todo) if use_bulk and attempt == 1 else size
        for start in range(0, len(todo), step):
            chunk = todo[start : start + step]
            if step > size:
                errors = _bulk_delete(client, name, [rid for _, rid in chunk])
            else:
                answers = client.delete_many([rid for _, rid in chunk])
                errors = {
                    rid: None if a.get("success") else parse_errors(a.get("errors") or [])
                    for (_, rid), a in zip(chunk, answers, strict=True)
                }
            gone: list[str] = []
            for key, rid in chunk:
                error: RecordError | None = errors.get(rid)
                if error is None or error.code in GONE:
                    gone.append(key)
                elif retryable(error.code) and attempt <= cfg.salesforce.max_retries:
                    retry.append((key, rid))
                    continue
                else:
                    report.failed[name] = report.failed.get(name, 0) + 1
                    log.error(
                        "record.delete_failed",
                        object=name,
                        key=key,
                        remote_id=rid,
                        attempts=attempt,
                        **error.as_dict(),
                    )
                if progress:
                    progress(name, 1)
            store.mark(gone, "deleted", log.run_id)
            report.deleted[name] = report.deleted.get(name, 0) + len(gone)
        todo = retry
        if todo:
            client.sleep(min(5.0, 0.2 * 2**attempt))


def _bulk_delete(
    client: SalesforceClient, name: str, ids: list[str]
) -> dict[str, RecordError | None]:
    """One Bulk API 2.0 delete job; remote id → None (deleted) or its error."""
    job = client.bulk_create_job(name, "delete")
    client.bulk_upload(job["id"], "Id\n" + "\n".join(ids) + "\n")
    info = client.bulk_set_state(job["id"], "UploadComplete")
    delay = min(30.0, 0.05 + len(ids) / 2000)
    while info.get("state") not in ("JobComplete", "Failed", "Aborted"):
        client.sleep(delay)
        info = client.bulk_job(job["id"])
        delay = min(10.0, max(0.1, delay / 2))
    out: dict[str, RecordError | None] = {
        rid: RecordError("UNPROCESSED", "not processed") for rid in ids
    }
    out.update(
        {r["Id"] or r["sf__Id"]: None for r in client.bulk_results(job["id"], "successfulResults")}
    )
    if int(info.get("numberRecordsFailed") or 0) or info.get("state") != "JobComplete":
        for row in client.bulk_results(job["id"], "failedResults"):
            out[row.get("Id") or row.get("sf__Id")] = _bulk_error(row.get("sf__Error", ""))
    return out


@dataclass
class SmokeReport:
    org_id: str
    username: str
    record_id: str
    timings_ms: dict[str, float]
    requests: int


def smoke(
    cfg: Config,
    *,
    session: requests.Session | None = None,
    env: dict[str, str] | None = None,
    run_cli: Callable | None = None,
) -> SmokeReport:
    """Create, read and delete one Account; report how long each step took."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    client = connect(cfg, session=session, env=env, run_cli=run_cli)
    timings["connect"] = (time.perf_counter() - t0) * 1000
    name = f"orgforge smoke {time.strftime('%Y-%m-%dT%H:%M:%S')}"
    t0 = time.perf_counter()
    created = client.request(
        "POST", "sobjects/Account", json={"Name": name}, idempotent=False, what="smoke create"
    )
    timings["create"] = (time.perf_counter() - t0) * 1000
    record_id = created["id"]
    try:
        t0 = time.perf_counter()
        record = client.request("GET", f"sobjects/Account/{record_id}", what="smoke read")
        timings["read"] = (time.perf_counter() - t0) * 1000
        if record.get("Name") != name:
            raise UsageError(
                f"smoke: Account {record_id} reads back as {record.get('Name')!r}, not {name!r}"
            )
    finally:
        t0 = time.perf_counter()
        client.request(
            "DELETE", f"sobjects/Account/{record_id}", expect="none", what="smoke delete"
        )
        timings["delete"] = (time.perf_counter() - t0) * 1000
    return SmokeReport(
        client.org_id,
        str(client.identity.get("username") or ""),
        record_id,
        timings,
        client.requests_used,
    )


__all__ = ["WriteResult", "cleanup", "connect", "load", "sf", "smoke", "validate"]


def delete_loaded(
    client: SalesforceClient,
    store: SyncStore,
    log: RunLog,
    name: str,
    rows: list[dict],
    report: CleanupReport,
    cfg: Config,
    progress: Callable[[str, int], None] | None = None,
) -> None:
    """Delete from the org these records orgforge loaded (sync-table rows of one object), as
    ``cleanup`` does: REST collections or Bulk 2.0, retries, sync rows and run log updated,
    figures added to ``report``. The public door for other jobs (activity prune)."""
    _delete_object(client, store, log, name, rows, report, cfg, progress)
