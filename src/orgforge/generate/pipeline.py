"""The generate job: naming pass → blocks of accounts (in parallel) → text → world → files.

Work is cut into chunks of whole blocks. Each chunk is generated (in a worker process when the
world is large enough for processes to pay off), its text filled, and written to the world in
one transaction with its change-log rows, in account order. Rerunning with the same seed and
config writes nothing; growing the world only inserts the new accounts.
"""

from __future__ import annotations

import gc
import hashlib
import json
import multiprocessing
import os
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path

from orgforge.config import BLOCK_SIZE, Config, dump
from orgforge.content.contract import ContentEngine, ContentRequest
from orgforge.content.offline import ENGINE_VERSION as OFFLINE_TEXT_VERSION
from orgforge.content.offline import OfflineEngine
from orgforge.generate.accounts import BlockGenerator, BlockResult
from orgforge.generate.calendar import Calendar, place_events
from orgforge.generate.catalog import catalog_records
from orgforge.generate.emails import copy_text
from orgforge.generate.names import AccountName, Namer
from orgforge.generate.plan import Plan, make_plan
from orgforge.generate.team import HISTORY_START_DAYS
from orgforge.generate.timeutil import local_minute, stamp, work_day
from orgforge.schema import salesforce as sf
from orgforge.world.runlog import RunLog, check_writable_dir
from orgforge.world.shard import ShardManifest, write_shard
from orgforge.world.store import World
from orgforge.world.tables import HISTORY

CHUNK_BLOCKS = 25  # 250 accounts per chunk: ~6k records, a few MB in flight per worker
PARALLEL_FROM_ACCOUNTS = 3000
# A chunk allocates ~100k dicts and tuples that reference counting frees (records hold no
# cycles). At Python's default gen-0 threshold (700) the cycle collector still runs ~400 times
# per 70k records, rescanning the chunk in flight: about a tenth of a worker's CPU. At this
# threshold it runs a few times per chunk and still collects any cycle there is.
GC_THRESHOLD = 50_000
START_METHOD: str | None = None  # None: the platform's default start method for worker processes

Rows = dict[str, list[tuple]]


@dataclass
class GenerateResult:
    run_id: str | None
    world: str
    counts: dict[str, int]
    written: dict[str, dict[str, int]] = field(default_factory=dict)
    seconds: float = 0.0
    run_dir: str | None = None
    export_dir: str | None = None
    text: dict[str, float] = field(default_factory=dict)
    history: int = 0  # rows of the History table (stage and status changes): not records

    @property
    def records(self) -> int:
        return sum(self.counts.values())


def apply_text(
    result: BlockResult,
    engine: ContentEngine,
    *,
    kinds: set[str] | None = None,
    subjects: dict[str, str] | None = None,
) -> list[tuple[dict, str, ContentRequest]]:
    """Fill a block's text fields; return the requests filled.

    Case subjects go first, since descriptions and comments quote them. ``kinds`` limits the
    kinds filled (default: all); ``subjects`` supplies case subjects that are not being filled
    this time (``content fill`` reads them from the world).
    """
    wanted = [r for r in result.requests if kinds is None or r[2].kind in kinds]
    first = [r for r in wanted if r[2].kind == "case.subject"]
    rest = [r for r in wanted if r[2].kind != "case.subject"]
    known = dict(subjects or {})
    for (record, name, _), text in zip(first, engine.fill([r[2] for r in first]), strict=True):
        record[name] = text
        known[record["key"]] = text
    for _, _, request in rest:
        source = request.context.get("subject_of")
        if source is not None:
            request.context["subject"] = known.get(source) or ""  # type: ignore[index]
    for (record, name, _), text in zip(rest, engine.fill([r[2] for r in rest]), strict=True):
        record[name] = text
    copy_text(result.rows)  # each EmailMessage shows its Task's text (generate/emails.py)
    result.requests.clear()
    return first + rest


def to_rows(plan: Plan, result: BlockResult) -> Rows:
    """Records (dicts holding every column, and maybe private ``_`` keys) as column-order
    tuples for the world."""
    rows: Rows = {}
    for name, records in result.rows.items():
        row_of = itemgetter(*plan.columns[name])
        rows[name] = list(map(row_of, records))
    return rows


# -- worker side -----------------------------------------------------------------------------

_WORKER: tuple[Plan, BlockGenerator, OfflineEngine | None] | None = None


@dataclass
class Job:
    blocks: list[int]
    names: dict[int, AccountName]
    industries: dict[int, list[str]]  # block → the industry of each of its slots
    shard: Path | None = None  # write the chunk's rows here instead of returning them


@dataclass
class Shard:
    path: Path
    manifest: ShardManifest
    # Events and their relations stay out of the shard: the world's writer places them in
    # everyone's calendar first (generate/calendar.py).
    events: Rows = field(default_factory=dict)
    slots: list[tuple] = field(default_factory=list)


@dataclass
class ChunkRows:
    rows: Rows
    slots: list[tuple]  # per Event row: its users, start, duration and allowed start range


CALENDAR_OBJECTS = ("Event", "EventRelation")


def _init_worker(plan: Plan, offline_text: bool) -> None:
    global _WORKER
    engine = OfflineEngine(plan.packs, plan.seed) if offline_text else None
    _WORKER = (plan, BlockGenerator(plan), engine)


def _init_pool_worker(plan: Plan, offline_text: bool) -> None:
    """A worker process lives only for the run: what it inherited from the parent (modules,
    the plan) is never garbage, so the collector stops scanning it, and collects less often."""
    _init_worker(plan, offline_text)
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """GC_THRESHOLD in this process while the block runs (the library's caller gets theirs
    back)."""
    before = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _chunk(job: Job) -> BlockResult | ChunkRows | Shard:
    """One chunk's records: as a BlockResult when the parent fills text (LLM engine), else as
    rows, or written to the job's shard file (all but the events)."""
    assert _WORKER is not None
    plan, generator, engine = _WORKER
    merged = BlockResult()
    for block in job.blocks:
        part = generator.block(block, job.names, job.industries[block])
        for name, records in part.rows.items():
            merged.rows.setdefault(name, []).extend(records)
        merged.requests.extend(part.requests)
    if engine is None:
        return merged
    apply_text(merged, engine)
    slots = [event["_slot"] for event in merged.rows.get("Event", ())]
    rows = to_rows(plan, merged)
    if job.shard is None:
        return ChunkRows(rows, slots)
    events = {name: rows.pop(name) for name in CALENDAR_OBJECTS if name in rows}
    return Shard(job.shard, write_shard(job.shard, plan.columns, rows), events, slots)


# -- parent side -----------------------------------------------------------------------------


def _account_range(plan: Plan, blocks: list[int]) -> tuple[int, int]:
    return blocks[0] * BLOCK_SIZE, min((blocks[-1] + 1) * BLOCK_SIZE, plan.accounts)


def _chunks(plan: Plan, skip_below: int) -> list[list[int]]:
    """Block lists to generate; chunks wholly below ``skip_below`` are already in the world."""
    chunks = []
    for start in range(0, plan.blocks, CHUNK_BLOCKS):
        blocks = list(range(start, min(start + CHUNK_BLOCKS, plan.blocks)))
        if _account_range(plan, blocks)[1] > skip_below:
            chunks.append(blocks)
    return chunks


def _jobs(
    plan: Plan,
    chunks: list[list[int]],
    namer: Namer,
    shard_for: Callable[[list[int]], Path | None] = lambda blocks: None,
) -> Iterator[Job]:
    """Work for each chunk, naming accounts as it goes (in order: names depend on earlier ones).

    Only the names taken grow with the world (kept on disk past a bound: generate/spill.py);
    each chunk's names are dropped once sent.
    """
    for blocks in chunks:
        lo, hi = _account_range(plan, blocks)
        names: dict[int, AccountName] = {}
        while namer.next_index < hi:
            named = namer.name(namer.next_index)
            if named.index >= lo:
                names[named.index] = named
        # Naming drew each account's industry; only the last block's slots past the world's last
        # account have no name to take theirs from.
        industries = {
            b: [
                names[i].industry if i < hi else namer.industry(i)
                for i in range(b * BLOCK_SIZE, (b + 1) * BLOCK_SIZE)
            ]
            for b in blocks
        }
        yield Job(blocks, names, industries, shard_for(blocks))


def _bounded_imap(pool, jobs: Iterator[Job], ahead: int) -> Iterator:
    """Pool.imap with at most ``ahead`` chunks in flight, so a slow writer bounds memory.

    (Pool.imap queues every result it gets; when workers outpace the world's writer, finished
    chunks pile up in the parent.)
    """
    pending: deque = deque()
    for job in jobs:
        pending.append(pool.apply_async(_chunk, (job,)))
        if len(pending) >= ahead:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()


# Settings that change how fast or where a run goes, never what it writes.
OPERATIONAL = {
    # activity and salesforce: other jobs' settings, which never change the generated world
    "": ("world", "runs_dir", "export", "preset", "activity", "salesforce"),
    "generate": ("accounts", "workers"),
    "content": (
        "concurrency",
        "requests_per_minute",
        "tokens_per_minute",
        "timeout",
        "max_attempts",
        "backoff",
        "backoff_max",
        "deadline",
        "max_consecutive_failures",
        "prices_file",
    ),
}


def fingerprint(config: Config) -> str:
    """A hash of everything that decides a world's records: the recipe, minus OPERATIONAL, plus
    the offline text engine's version (its text is part of the records)."""
    data = {**dump(config), "offline_text_version": OFFLINE_TEXT_VERSION}
    for section, names in OPERATIONAL.items():
        target = data.get(section, {}) if section else data
        for name in names:
            target.pop(name, None)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def generate(
    config: Config,
    *,
    industries: list[str] | None = None,
    engine: ContentEngine | None = None,
    progress: Callable[[int], None] | None = None,
    write_run: bool = True,
    command: str = "generate",
    after: Callable[[World, RunLog | None], str | None] | None = None,
) -> GenerateResult:
    """Generate (or bring up to date) the world for ``config``.

    ``after(world, run_log)`` runs inside the same run once the world is written (the library's
    ``orgforge.generate`` exports there); what it returns is the result's ``export_dir``. The
    generator itself never runs a target.
    """
    started = time.perf_counter()
    plan = make_plan(config, industries)
    if write_run:
        check_writable_dir(Path(config.runs_dir), "runs directory")

    run_config = {
        **dump(config),
        "industries_resolved": {
            v: round(plan.industries.share(v) * 100, 3) for v in plan.industries.values
        },
    }
    with World(config.world, writer=command, clock=config.clock) as world:
        offline_inline = engine is None or isinstance(engine, OfflineEngine)
        engine = engine or OfflineEngine(plan.packs, plan.seed)
        log = RunLog(config.runs_dir, command, run_config, world) if write_run else None
        # A failure anywhere below (generation or export) ends the run log as failed.
        with log if log is not None else nullcontext():
            result = _run(plan, config, world, engine, offline_inline, progress, log)
            if after is not None:
                result.export_dir = after(world, log)
            result.seconds = time.perf_counter() - started
            result.text = {"engine": engine.name, **engine.stats()}  # type: ignore[dict-item]
            if log is not None:
                result.run_id, result.run_dir = log.run_id, str(log.dir)
                log.finish(
                    "ok",
                    {
                        "counts": result.counts,
                        "written": result.written,
                        "records": result.records,
                        "seconds": round(result.seconds, 3),
                        "text": result.text,
                        "export": result.export_dir,
                    },
                )
        return result


def _workers(config: Config, accounts: int) -> int:
    if config.generate.workers:
        return config.generate.workers
    if accounts < PARALLEL_FROM_ACCOUNTS:
        return 1
    return max(1, min(os.cpu_count() or 1, 4))


def _run(
    plan: Plan,
    config: Config,
    world: World,
    engine: ContentEngine,
    offline_inline: bool,
    progress: Callable[[int], None] | None,
    log: RunLog | None,
) -> GenerateResult:
    run_id = log.run_id if log else None
    stored_max = world.max_account_idx()
    same_recipe = world.get_meta("fingerprint") == fingerprint(config)
    fresh_from = stored_max + 1 if same_recipe else (0 if stored_max < 0 else None)
    written: dict[str, dict[str, int]] = {name: {} for name in (*sf.GENERATED, HISTORY)}
    if not same_recipe:
        world.set_meta("fingerprint", "")  # a crash mid-run must not look like the old recipe

    if stored_max >= plan.accounts:
        removed = world.delete_accounts_from(plan.accounts, run_id)
        if log:
            log.event("world.shrunk", first_removed=plan.accounts, records=removed)
        for name, count in removed.items():
            written.setdefault(name, {})["deleted"] = count

    namer = Namer(plan)
    _write_users(world, plan, run_id, written)
    skip_below = fresh_from if same_recipe and fresh_from is not None else 0
    chunks = _chunks(plan, skip_below)
    if progress and skip_below:
        progress(min(skip_below, plan.accounts))
    workers = _workers(config, sum(len(c) for c in chunks) * BLOCK_SIZE)

    def is_fresh(blocks: list[int]) -> bool:
        return fresh_from is not None and _account_range(plan, blocks)[0] >= fresh_from

    # Workers hand fresh chunks over as shard files when text is filled in the worker and the
    # world is SQLite: the costly row binding then happens in parallel (see world/shard.py).
    shard_dir = (
        Path(tempfile.mkdtemp(prefix="orgforge-shards-"))
        if workers > 1 and offline_inline and world.is_sqlite
        else None
    )

    def shard_for(blocks: list[int]) -> Path | None:
        if shard_dir is None or not is_fresh(blocks):
            return None
        return shard_dir / f"chunk-{blocks[0]}.db"

    jobs = _jobs(plan, chunks, namer, shard_for)
    if workers > 1:
        # The platform's start method (spawn on Windows and macOS): workers get everything
        # they use through the initializer's arguments, never from inherited globals.
        context = multiprocessing.get_context(START_METHOD)
        pool = context.Pool(workers, initializer=_init_pool_worker, initargs=(plan, offline_inline))
        results = _bounded_imap(pool, jobs, ahead=workers + 1)
    else:
        pool = None
        _init_worker(plan, offline_inline)
        results = map(_chunk, jobs)
    calendar = _calendar_before(world, _account_range(plan, chunks[0])[0] if chunks else 0)
    event_columns = plan.columns["Event"]
    try:
        with world.bulk_writes(), _fewer_collections():
            for blocks, chunk in zip(chunks, results, strict=True):
                lo, hi = _account_range(plan, blocks)
                fresh = is_fresh(blocks)
                if isinstance(chunk, Shard):
                    events = chunk.events
                    if "Event" in events:
                        events["Event"] = place_events(
                            calendar, event_columns, events["Event"], chunk.slots
                        )
                    stats = world.append_shard(chunk.path, chunk.manifest, run_id, events)
                    chunk.path.unlink()
                else:
                    if isinstance(chunk, BlockResult):
                        apply_text(chunk, engine)
                        slots = [e["_slot"] for e in chunk.rows.get("Event", ())]
                        chunk = ChunkRows(to_rows(plan, chunk), slots)
                    rows = chunk.rows
                    if "Event" in rows:
                        rows["Event"] = place_events(
                            calendar, event_columns, rows["Event"], chunk.slots
                        )
                    stats = world.write_rows(rows, run_id, account_range=(lo, hi), fresh=fresh)
                for name, counts in stats.items():
                    for op, n in counts.items():
                        written[name][op] = written[name].get(op, 0) + n
                if log:
                    log.event("chunk.written", accounts=[lo, hi], fresh=fresh)
                if progress:
                    progress(hi - max(lo, skip_below))
    finally:
        if pool is not None:
            pool.close()
            pool.join()
        if shard_dir is not None:
            shutil.rmtree(shard_dir, ignore_errors=True)
    world.set_meta(
        "team_jobs", json.dumps({f"UserRole/{role.id}": role.job for role in plan.team.roles})
    )
    world.set_meta(  # which time zones each territory covers (the first takes the others)
        "team_territories", json.dumps({t.name: t.covers for t in plan.team.territories})
    )
    world.set_meta("fingerprint", fingerprint(config))
    world.set_meta(
        "generated",
        json.dumps(
            {
                "seed": plan.seed,
                "as_of": plan.as_of.isoformat(),
                "accounts": plan.accounts,
                # said only when it is not the default, for `orgforge check`'s working days
                **({} if plan.skip_weekends else {"skip_weekends": False}),
            }
        ),
    )
    return GenerateResult(
        run_id=run_id,
        world=world.location,
        counts=world.counts(),
        written=written,
        history=world.count(HISTORY),
    )


def _calendar_before(world: World, first_account: int) -> Calendar:
    """The calendars of the accounts before ``first_account`` (already in the world)."""
    calendar = Calendar()
    if first_account <= 0:
        return calendar
    events = {}
    for event in world.iter_dicts("Event"):
        if 0 <= event["account_idx"] < first_account and event["StartDateTime"]:
            events[event["key"]] = event
            calendar.add((event["OwnerId"],), event["StartDateTime"], event["EndDateTime"])
    for relation in world.iter_dicts("EventRelation"):
        event = events.get(relation["EventId"])
        if event is not None and (relation["RelationId"] or "").startswith("User/"):
            calendar.add((relation["RelationId"],), event["StartDateTime"], event["EndDateTime"])
    return calendar


def _write_users(world: World, plan: Plan, run_id: str | None, written: dict) -> None:
    """The team's UserRole and User records, the price book and the campaigns (account_idx -1:
    they belong to no account; generate/catalog.py)."""
    as_of = plan.as_of_ordinal
    admin = plan.users[0]
    first_user = admin.key

    def set_up(day: int, minutes: int) -> str:
        """A time the first user set something up: a working day, ``minutes`` into their day."""
        day = work_day(day, as_of, plan.skip_weekends)
        return stamp(local_minute(day, admin.hours[0] * 60 + minutes, admin.tz))

    roles = []
    for n, role in enumerate(plan.team.roles, start=1):
        created = set_up(as_of - HISTORY_START_DAYS - 400, 60)
        roles.append(
            {
                "key": f"UserRole/{role.id}",
                "account_idx": -1,
                "seq": n,
                "tier": None,
                "job": "generate",
                "Name": role.name,
                "DeveloperName": "".join(w.capitalize() for w in role.id.split("_")),
                "ParentRoleId": f"UserRole/{role.parent}" if role.parent else None,
                "CreatedDate": created,
                "CreatedById": first_user,
                "LastModifiedDate": created,
                "LastModifiedById": first_user,
            }
        )
    users = []
    for user in plan.users:
        created = set_up(user.created, 30)
        alias = (user.first[:1] + user.last[:7]).lower().replace(" ", "").replace("'", "")
        users.append(
            {
                "key": user.key,
                "account_idx": -1,
                "seq": user.seq,
                "tier": None,
                "job": "generate",
                "FirstName": user.first,
                "LastName": user.last,
                "Email": user.email,
                "Username": user.email,
                "Alias": alias[:8],
                "Title": user.title,
                "Department": user.department,
                "Division": user.territory,
                "UserRoleId": f"UserRole/{user.role}",
                "ManagerId": user.manager,
                "TimeZoneSidKey": user.tz,
                "StartDay": str(user.hours[0]),
                "EndDay": str(user.hours[1]),
                "IsActive": 1,
                "CreatedDate": created,
                "CreatedById": first_user,
                "LastModifiedDate": created,
                "LastModifiedById": first_user,
            }
        )
    shared = {"UserRole": roles, "User": users, **catalog_records(plan)}
    rows = {
        name: [tuple(record.get(c) for c in plan.columns[name]) for record in records]
        for name, records in shared.items()
    }
    stats = world.write_rows(rows, run_id, account_range=(-1, 0), fresh=False)
    for name in shared:
        written[name] = stats[name]
