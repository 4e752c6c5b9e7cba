"""Loading records into an org: REST sObject Collections or Bulk API 2.0, journaled, resumable.

See the package docstring for the journal and the guarantees per key mode.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from orgforge.clock import REAL, Clock
from orgforge.errors import AuthError, TargetError
from orgforge.schema import salesforce as sf
from orgforge.targets.base import Record, RecordError, WriteResult, retryable
from orgforge.targets.salesforce.client import (
    ApiError,
    OutcomeUnknown,
    SalesforceClient,
    parse_errors,
    soql_in,
)
from orgforge.targets.salesforce.plan import (
    AUDIT_FIELDS,
    LOAD_OBJECTS,
    NARROW_FIELD,
    ObjectPlan,
    Plan,
)
from orgforge.targets.salesforce.records import (
    Source,
    csv_cell,
    fingerprint,
    not_loadable,
    parents,
    same_value,
    to_wire,
    truthy,
)
from orgforge.targets.salesforce.sync import LOADED, SyncStore
from orgforge.world.runlog import RunLog

Progress = Callable[[str, int], None]
QUERY_CHUNK = 100
BULK_MAX_BYTES = 90_000_000  # Bulk API 2.0 takes up to 100 MB of CSV per upload
TERMINAL = ("JobComplete", "Failed", "Aborted")


@dataclass
class ObjectTally:
    total: int = 0
    already: int = 0  # in the org before this run
    created: int = 0
    adopted: int = 0
    failed: int = 0
    skipped: int = 0
    api: str = "rest"
    to_update: int = 0  # loaded records whose pushed values differ from the world's
    updated: int = 0
    update_failed: int = 0
    unchanged: int = 0
    update_fields: dict[str, int] = field(default_factory=dict)  # field → records changing it
    to_prune: int = 0  # ours in the org, gone from the world
    pruned: int = 0
    linked: int = 0  # created this run, then given their self-references (ReportsToId, …)


@dataclass
class LoadReport:
    target: str
    tallies: dict[str, ObjectTally] = field(default_factory=dict)
    requests: int = 0
    http_retries: int = 0  # HTTP requests sent again (429, 5xx, connection, expired session)
    record_retries: int = 0  # records sent again after a retryable per-record error
    faults: dict[str, int] = field(default_factory=dict)  # transient faults ridden out, by kind
    reconciled: int = 0
    seconds: float = 0.0
    dry_run: bool = False
    estimate: int = 0
    warnings: list[str] = field(default_factory=list)
    prune: dict[str, list[str]] = field(default_factory=dict)  # object → keys to delete

    @property
    def retries(self) -> int:
        return self.http_retries + self.record_retries

    @property
    def failed(self) -> int:
        return sum(t.failed + t.skipped + t.update_failed for t in self.tallies.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "objects": {k: vars(v) for k, v in self.tallies.items()},
            "requests": self.requests,
            "http_retries": self.http_retries,
            "record_retries": self.record_retries,
            "faults": dict(self.faults),
            "reconciled": self.reconciled,
            "seconds": round(self.seconds, 3),
            "dry_run": self.dry_run,
            "estimated_requests": self.estimate,
            "prune": self.prune,
        }


class _Pending(dict):
    """Remote ids for a dry look at updates: a parent not loaded yet stands as ``pending:key``."""

    def __missing__(self, key: str) -> str:
        return "pending:" + key


def _iso(ts: str, minus_minutes: int = 10) -> str:
    moment = dt.datetime.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.UTC)
    return (moment - dt.timedelta(minutes=minus_minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


class Loader:
    def __init__(
        self,
        client: SalesforceClient,
        plan: Plan,
        store: SyncStore,
        source: Source,
        runlog: RunLog | None,
        *,
        batch_size: int = 200,
        concurrency: int = 4,
        max_retries: int = 5,
        progress: Progress | None = None,
        clock: Clock = REAL,
    ) -> None:
        self.client = client
        self.plan = plan
        self.store = store
        self.source = source
        self.runlog = runlog
        self.run_id = runlog.run_id if runlog else None
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.progress = progress or (lambda obj, n: None)
        self.clock = clock  # every back-off, poll and retry deadline runs on it
        self.sleep = clock.sleep
        self.monotonic = clock.monotonic
        self.record_retries: Counter[str] = Counter()  # error code → records sent again
        self.record_faults: Counter[str] = Counter()  # per-record transient errors answered
        self.api, self.threshold = "auto", 2000
        self._changes: dict[str, list[tuple]] = {}  # prepare's comparison, reused by the run
        self.ids: dict[str, str] = {}
        self.failed: dict[str, RecordError] = {}
        self.report = LoadReport(plan.target)
        self._unloadable: dict[str, set[str]] = {}  # object → keys no load can create
        self._standard_books: list[Record] = []  # mapped onto the org's standard price book
        self._created_now: set[str] = set()  # keys this run created
        self._ms_per_record: float | None = None  # Bulk speed: slowest rate jobs reported

    def _tally(self, name: str) -> ObjectTally:
        return self.report.tallies.setdefault(name, ObjectTally())

    # -- logging -----------------------------------------------------------------------------

    def _event(self, kind: str, **data: Any) -> None:
        if self.runlog:
            self.runlog.event(kind, **data)

    def _error(self, result: WriteResult, kind: str = "record.failed") -> None:
        if self.runlog and result.error:
            self.runlog.error(
                kind,
                object=result.object,
                key=result.key,
                attempts=result.attempts,
                **result.error.as_dict(),
            )

    # -- finding records whose answer was lost -----------------------------------------------

    def find_existing(self, object_name: str, keys: list[str], since: str) -> dict[str, str]:
        """key → remote id of records of ``keys`` that exist in the org (see package doc)."""
        oplan = self.plan.objects[object_name]
        found: dict[str, str] = {}
        if oplan.sends_key:
            for start in range(0, len(keys), QUERY_CHUNK):
                chunk = keys[start : start + QUERY_CHUNK]
                soql = (
                    f"SELECT Id, {sf.KEY_FIELD} FROM {object_name} "
                    f"WHERE {sf.KEY_FIELD} IN {soql_in(chunk)}"
                )
                for row in self.client.query_all(soql):
                    found[row[sf.KEY_FIELD]] = row["Id"]
            return found
        return self._find_by_fingerprint(object_name, keys, since)

    def _find_by_fingerprint(self, object_name: str, keys: list[str], since: str) -> dict[str, str]:
        oplan = self.plan.objects[object_name]
        records = [r for r in (self.source.lookup(k) for k in keys) if r is not None]
        wire = {}
        for record in records:
            if all(p in self.ids for p in parents(record)):
                wire[record.key] = to_wire(record, oplan, self.ids, self.plan.owners, create=True)
        if not wire:
            return {}
        known = set(self.ids.values())
        fields = oplan.fingerprint
        narrow = NARROW_FIELD.get(object_name)
        where = [f"CreatedById = '{self.plan.user_id}'", f"CreatedDate >= {_iso(since)}"]
        values = sorted({str(w.get(narrow)) for w in wire.values() if w.get(narrow) is not None})
        candidates: list[dict[str, Any]] = []
        select = ", ".join(["Id", *fields])
        chunks = [values[i : i + QUERY_CHUNK] for i in range(0, len(values), QUERY_CHUNK)]
        for chunk in chunks or [[]]:
            clauses = list(where)
            if narrow and chunk:
                clauses.append(f"{narrow} IN {soql_in(chunk)}")
            soql = f"SELECT {select} FROM {object_name} WHERE {' AND '.join(clauses)}"
            candidates.extend(self.client.query_all(soql))
        pool: dict[tuple, list[str]] = {}
        for row in candidates:
            if row["Id"] in known:
                continue
            pool.setdefault(fingerprint(row, fields), []).append(row["Id"])
        found: dict[str, str] = {}
        for key, values_ in wire.items():
            ids = pool.get(fingerprint(values_, fields))
            if ids:
                found[key] = ids.pop(0)
        return found

    def reconcile(self) -> int:
        """Settle every batch a previous run sent without storing the answer."""
        settled = 0
        journals = self.store.journals()
        if journals:  # parents' ids: lost records are recognised by the lookups they carry
            self._load_ids()
        for entry in journals:
            if entry["op"] == "update":
                settled += self._reconcile_update(entry)
                continue
            if entry["api"] == "bulk" and entry["job_id"]:
                settled += self._reconcile_bulk(entry)
                continue
            by_object: dict[str, list[str]] = {}
            for key in entry["keys"]:
                by_object.setdefault(key.split("/", 1)[0], []).append(key)
            results: list[tuple[WriteResult, str]] = []
            for name, keys in by_object.items():
                if name not in self.plan.objects:
                    continue
                for key, rid in self.find_existing(name, keys, entry["started_at"]).items():
                    results.append((WriteResult(key, name, rid), "ok"))
                    self.ids[key] = rid
            pushed = self._pushed_for([r.key for r, _ in results])
            self.store.store(results, entry["run_id"], close_journal=entry["id"], pushed=pushed)
            self._event("journal.reconciled", journal=entry["id"], found=len(results))
            settled += len(results)
        self.report.reconciled += settled
        return settled

    def _load_ids(self) -> dict[str, tuple[str, str | None]]:
        state = self.store.state(LOAD_OBJECTS)
        self.ids.update({k: rid for k, (st, rid) in state.items() if st in LOADED and rid})
        return state

    # -- the load ----------------------------------------------------------------------------

    def prepare(self, api: str, threshold: int) -> dict[str, int]:
        """Records to create per object (not yet in the org), the API per object, and what
        the updates and a prune would touch (counted in the tallies and ``report.prune``).

        An object's records are read one object at a time (here to compare them with what was
        last pushed, then when its turn comes), so memory follows the largest object, not the
        world."""
        state = self._load_ids()
        self.api, self.threshold = api, threshold
        self._find_unloadable()
        self._changes = {}
        ours: dict[str, list[str]] = {}  # records this world created, by object
        for key, (status, remote_id) in state.items():
            if status == "ok" and remote_id:
                ours.setdefault(key.split("/", 1)[0], []).append(key)
        pending: dict[str, int] = {}
        for name in LOAD_OBJECTS:
            if name not in self.plan.objects:
                continue
            skip = self._unloadable.get(name, set())
            keys = [k for k in self.source.keys(name) if k not in skip]
            adopt = {r.key for r in self._standard_books} if name == "Pricebook2" else set()
            todo = sum(1 for k in keys if k not in self.ids and k not in adopt)
            tally = ObjectTally(total=len(keys), already=sum(1 for k in keys if k in self.ids))
            if api == "bulk" or (api == "auto" and todo >= threshold):
                tally.api = "bulk"
            if tally.already:
                changes = self.changes(name, lenient=True)
                self._changes[name] = changes
                tally.to_update = len(changes)
                tally.unchanged = tally.already - len(changes)
                fields = Counter(f for _, _, changed, _ in changes for f in changed)
                tally.update_fields = dict(sorted(fields.items()))
            present = set(keys)
            gone = sorted(k for k in ours.get(name, ()) if k not in present)
            tally.to_prune = len(gone)
            if gone:
                self.report.prune[name] = gone
            self.report.tallies[name] = tally
            pending[name] = todo
        return pending

    # -- updates -----------------------------------------------------------------------------

    def _wire(
        self, record: Record, ids: dict[str, str] | None = None, *, create: bool = False
    ) -> dict[str, Any]:
        """What a create (``create``) or an update sends for ``record``, without the key
        field: the values kept as "last pushed" and compared on the next load."""
        oplan = self.plan.objects[record.object]
        wire = to_wire(
            record, oplan, self.ids if ids is None else ids, self.plan.owners, create=create
        )
        wire.pop(sf.KEY_FIELD, None)
        return wire

    def _pushed_for(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for key in keys:
            record = self.source.lookup(key)
            if record is not None and all(p in self.ids for p in parents(record)):
                out[key] = self._wire(record, create=True)
        return out

    def changes(
        self, name: str, *, lenient: bool = False
    ) -> list[tuple[Record, str, dict[str, Any], dict[str, Any]]]:
        """(record, remote id, changed field → new value (None clears it), everything now
        pushed) for the loaded records of ``name`` that differ from what was last pushed.

        Only fields the org lets this user update are compared; audit fields never (they are
        set on create only). A record loaded before orgforge kept pushed values gets all its
        fields sent once. ``lenient``: a lookup to a parent not loaded yet counts as changed
        (for counting before the creates run)."""
        oplan = self.plan.objects[name]
        allowed = [f for f in oplan.updateable if f not in AUDIT_FIELDS and f != sf.KEY_FIELD]
        pushed = self.store.pushed(name)
        ids = _Pending(self.ids) if lenient else self.ids
        out = []
        for record in self.source.records(name):
            remote_id = self.ids.get(record.key)
            if not remote_id:
                continue
            if not lenient and any(p not in self.ids for p in parents(record)):
                continue  # its new parent failed to load: reported there, left as it is
            wire = self._wire(record, ids)
            old = pushed.get(record.key)
            if old is None:
                changed = {f: wire[f] for f in allowed if f in wire}
            else:
                changed = {f: wire.get(f) for f in allowed if wire.get(f) != old.get(f)}
            if changed:
                out.append((record, remote_id, changed, wire))
        return out

    def run_updates(self) -> None:
        for name in LOAD_OBJECTS:
            tally = self.report.tallies.get(name)
            if tally is None or not (tally.already or tally.created):
                continue
            changes = self._changes.get(name)
            if changes is None or any(
                str(v).startswith("pending:")
                for _, _, changed, _ in changes
                for v in changed.values()
            ):  # lookups to parents created in this run: compare again, now with their ids
                changes = self.changes(name)
            if not changes:
                continue
            bulk = self.api == "bulk" or (self.api == "auto" and len(changes) >= self.threshold)
            if bulk:
                self._update_bulk(name, changes)
            else:
                self._update_rest(name, changes)

    def _update_done(
        self,
        name: str,
        outcomes: list[tuple[tuple, RecordError | None]],
        journal_id: int | None,
        retry: list[tuple],
        attempt: int,
        batch_error: bool = False,
    ) -> None:
        """Store an update batch's answers: ok → the new pushed values (and the journal's end,
        in one transaction); retryable → ``retry``; others reported."""
        tally = self._tally(name)
        pushed: dict[str, dict[str, Any]] = {}
        for item, error in outcomes:
            record = item[0]
            if error is None:
                pushed[record.key] = item[3]
                if record.key in self._created_now:  # the second half of its create
                    tally.linked += 1
                else:
                    tally.updated += 1
                self.progress(name, 1)
            elif retryable(error.code) and attempt <= self.max_retries:
                retry.append(item)
                self.record_retries[error.code] += 1
                if not batch_error:
                    self.record_faults[error.code] += 1
            else:
                tally.update_failed += 1
                self.failed[record.key] = error
                self._error(
                    WriteResult(record.key, name, item[1], error=error, attempts=attempt),
                    "record.update_failed",
                )
                self.progress(name, 1)
        self.store.store_pushed(pushed, close_journal=journal_id)

    def _update_rest(self, name: str, changes: list[tuple]) -> None:
        todo = list(changes)
        attempt = 0
        while todo:
            attempt += 1
            retry: list[tuple] = []
            batches = [todo[i : i + self.batch_size] for i in range(0, len(todo), self.batch_size)]
            inflight: dict[Future, tuple[int, list[tuple]]] = {}
            with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
                while batches or inflight:
                    while batches and len(inflight) < self.concurrency:
                        batch = batches.pop(0)
                        keys = [item[0].key for item in batch]
                        self._event("batch.sent", api="rest", op="update", objects=[name],
                                    count=len(batch))  # fmt: skip
                        journal_id = self.store.open(self.run_id, "rest", "update", [name], keys)
                        payload = [
                            {"attributes": {"type": name}, "id": rid, **changed}
                            for _, rid, changed, _ in batch
                        ]
                        inflight[pool.submit(self.client.update_many, payload)] = (
                            journal_id,
                            batch,
                        )
                    done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
                    for future in done:
                        journal_id, batch = inflight.pop(future)
                        batch_error = False
                        try:
                            answers = future.result()
                            errors = [
                                None if a.get("success") else parse_errors(a.get("errors") or [])
                                for a in answers
                            ]
                        except AuthError:
                            raise
                        except ApiError as exc:
                            errors = [RecordError(exc.code, exc.detail, ())] * len(batch)
                            batch_error = True
                        outcomes = list(zip(batch, errors, strict=True))
                        self._update_done(name, outcomes, journal_id, retry, attempt, batch_error)
            todo = retry
            if todo:
                self.sleep(min(5.0, 0.2 * 2**attempt))

    def _update_bulk(self, name: str, changes: list[tuple]) -> None:
        """One Bulk API 2.0 update job: Id plus every field some record changes; a cell is left
        empty where that record keeps its value (Bulk ignores empty cells on update) and
        ``#N/A`` clears a field."""
        oplan = self.plan.objects[name]
        todo = list(changes)
        attempt = 0
        while todo:
            attempt += 1
            changed_fields = {f for item in todo for f in item[2]}
            columns = [f for f in oplan.fields if f in changed_fields]
            rows = [
                [rid]
                + [
                    ("#N/A" if changed[f] is None else csv_cell(changed[f])) if f in changed else ""
                    for f in columns
                ]
                for _, rid, changed, _ in todo
            ]
            job = self.client.bulk_create_job(name, "update")
            job_id = job["id"]
            keys = [item[0].key for item in todo]
            journal_id = self.store.open(self.run_id, "bulk", "update", [name], keys, job_id)
            self._event("bulk.job", object=name, job=job_id, op="update", count=len(rows))
            try:
                self.client.bulk_upload(job_id, self._csv(["Id", *columns], rows))
                closed = self.client.bulk_set_state(job_id, "UploadComplete")
            except OutcomeUnknown:  # as for creates: a job still open may lack its upload
                closed = self.client.bulk_job(job_id)
                if closed.get("state") == "Open":
                    with contextlib.suppress(TargetError):
                        self.client.bulk_set_state(job_id, "Aborted")
                    self.store.drop(journal_id)
                    continue  # the same changes again, in a fresh job
            info = self._poll(job_id, closed, len(rows))
            by_id = {item[1][:15]: item for item in todo}
            errors: dict[str, RecordError | None] = {}
            for row in self.client.bulk_results(job_id, "successfulResults"):
                errors[(row.get("sf__Id") or row.get("Id") or "")[:15]] = None
            if int(info.get("numberRecordsFailed") or 0) or info.get("state") != "JobComplete":
                for row in self.client.bulk_results(job_id, "failedResults"):
                    rid = (row.get("Id") or row.get("sf__Id") or "")[:15]
                    errors[rid] = _bulk_error(row.get("sf__Error", ""))
            unprocessed = RecordError("SERVER_UNAVAILABLE", f"Bulk job {job_id} skipped it", ())
            outcomes = [(item, errors.get(rid, unprocessed)) for rid, item in by_id.items()]
            retry: list[tuple] = []
            self._update_done(name, outcomes, journal_id, retry, attempt)
            todo = retry
            if todo:
                self.sleep(min(5.0, 0.2 * 2**attempt))

    def _reconcile_update(self, entry: dict[str, Any]) -> int:
        """An update batch whose answer was lost: read the records back; those that already
        hold the new values are stored as pushed (not sent again), the rest are sent by the
        normal comparison."""
        name = entry["objects"][0]
        if name not in self.plan.objects:
            self.store.drop(entry["id"])
            return 0
        if entry["api"] == "bulk" and entry["job_id"]:
            with contextlib.suppress(TargetError):
                if self.client.bulk_job(entry["job_id"]).get("state") == "Open":
                    self.client.bulk_set_state(entry["job_id"], "Aborted")
        oplan = self.plan.objects[name]
        allowed = [f for f in oplan.updateable if f not in AUDIT_FIELDS]
        records = {}
        for key in entry["keys"]:
            record = self.source.lookup(key)
            if record is not None and key in self.ids:
                records[self.ids[key][:15]] = record
        pushed: dict[str, dict[str, Any]] = {}
        rids = [self.ids[r.key] for r in records.values()]
        for start in range(0, len(rids), QUERY_CHUNK):
            chunk = rids[start : start + QUERY_CHUNK]
            soql = f"SELECT {', '.join(['Id', *allowed])} FROM {name} WHERE Id IN {soql_in(chunk)}"
            for row in self.client.query_all(soql):
                record = records.get(str(row["Id"])[:15])
                if record is None or any(p not in self.ids for p in parents(record)):
                    continue
                wire = self._wire(record)
                if all(same_value(row.get(f), wire.get(f)) for f in allowed):
                    pushed[record.key] = wire
        self.store.store_pushed(pushed, close_journal=entry["id"])
        self._event("journal.reconciled", journal=entry["id"], op="update", found=len(pushed))
        return len(pushed)

    def _todo(self, name: str) -> list[Record]:
        skip = self._unloadable.get(name, set())
        if name == "Pricebook2":  # the org's own standard price book is adopted, not created
            skip = skip | {r.key for r in self._standard_books}
        return [r for r in self.source.records(name) if r.key not in self.ids and r.key not in skip]

    def _find_unloadable(self) -> None:
        """Records no load can create (see records.not_loadable), reported once per kind."""
        self._unloadable = {}
        why: Counter[str] = Counter()
        for name in ("Lead", "CampaignMember"):
            if name not in self.plan.objects:
                continue
            for record in self.source.records(name):
                reason = not_loadable(record, self.source)
                if reason:
                    self._unloadable.setdefault(name, set()).add(record.key)
                    why[reason] += 1
        for reason, n in why.items():
            self.report.warnings.append(
                f"{n} record(s) not loaded ({reason}): an org makes converted leads only by "
                "converting them (convertLead); their contacts, accounts and opportunities are "
                "loaded"
            )
        self._standard_books = [
            r
            for r in self.source.records("Pricebook2")
            if "Pricebook2" in self.plan.objects and truthy(r.values.get("IsStandard"))
        ]
        for name, reason in sf.NOT_LOADED.items():
            count = len(self.source.keys(name)) if name in sf.BY_NAME else 0
            if count:
                self.report.warnings.append(f"{name}: {count} record(s) not loaded: {reason}")

    def _adopt_standard_pricebook(self) -> None:
        """The world's standard price book is the org's own (it can't be created): map it."""
        ours = [r for r in self._standard_books if r.key not in self.ids]
        if not ours:
            return
        rows = list(self.client.query_all("SELECT Id FROM Pricebook2 WHERE IsStandard = true"))
        if not rows:
            self.report.warnings.append("Pricebook2: the org has no standard price book")
            return
        results = []
        for record in ours:
            result = WriteResult(record.key, "Pricebook2", str(rows[0]["Id"]), created=False)
            self.ids[record.key] = result.remote_id  # type: ignore[assignment]
            results.append((result, "adopted"))
            self._tally("Pricebook2").adopted += 1
        pushed = {r.key: self._wire(r) for r in ours}
        self.store.store(results, self.run_id, pushed=pushed)

    def run(self, pending: dict[str, int]) -> LoadReport:
        start = self.monotonic()
        self._adopt_standard_pricebook()
        names = [n for n in LOAD_OBJECTS if pending.get(n)]
        group: list[str] = []
        for name in names:
            if self.report.tallies[name].api == "bulk":
                if group:
                    self._rest({n: self._todo(n) for n in group})
                    group = []
                self._bulk(name, self._todo(name))
            else:
                group.append(name)
        if group:
            self._rest({n: self._todo(n) for n in group})
        self.run_updates()
        self.report.seconds = self.monotonic() - start
        return self.report

    # -- outcomes ----------------------------------------------------------------------------

    def _settle(
        self,
        results: list[WriteResult],
        journal_id: int | None,
        requeue: Callable,
        records: dict[str, Record],
    ) -> None:
        """Store a batch's final outcomes (with the values pushed); hand retryable failures
        back to ``requeue``."""
        rows: list[tuple[WriteResult, str]] = []
        pushed: dict[str, dict[str, Any]] = {}
        for result in results:
            tally = self._tally(result.object)
            if result.ok:
                adopted = result.created is False
                rows.append((result, "adopted" if adopted else "ok"))
                self.ids[result.key] = result.remote_id  # type: ignore[assignment]
                pushed[result.key] = self._wire(records[result.key], create=True)
                if adopted:
                    tally.adopted += 1
                else:
                    tally.created += 1
                    self._created_now.add(result.key)
                self.progress(result.object, 1)
            elif result.retryable and result.attempts <= self.max_retries:
                self.record_retries[result.error.code] += 1  # type: ignore[union-attr]
                if not result.extra.get("batch"):  # the record's own answer, not its batch's
                    self.record_faults[result.error.code] += 1  # type: ignore[union-attr]
                requeue(result)
            else:
                rows.append((result, "failed"))
                self.failed[result.key] = result.error  # type: ignore[assignment]
                tally.failed += 1
                self._error(result)
                self.progress(result.object, 1)
        self.store.store(rows, self.run_id, close_journal=journal_id, pushed=pushed)

    def _skip(self, record: Record, parent: str) -> WriteResult:
        cause = self.failed.get(parent)
        why = f"parent {parent} was not loaded" + (f" ({cause.code})" if cause else "")
        result = WriteResult(record.key, record.object, error=RecordError("PARENT_FAILED", why, ()))
        self.failed[record.key] = result.error  # type: ignore[assignment]
        self._tally(record.object).skipped += 1
        self._error(result, "record.skipped")
        self.progress(record.object, 1)
        return result

    # -- REST sObject Collections ------------------------------------------------------------

    def _rest(self, pending: dict[str, list[Record]]) -> None:
        queues = {name: deque(records) for name, records in pending.items()}
        attempts: dict[str, int] = {}
        not_before: dict[str, float] = {}
        waiting = {r.key for records in pending.values() for r in records}
        skipped: list[tuple[WriteResult, str]] = []

        def ready(record: Record) -> str:
            """ready | wait | skip:<parent>"""
            if not_before.get(record.key, 0) > self.monotonic():
                return "wait"
            for parent in parents(record):
                if parent in self.ids:
                    continue
                if parent in waiting:
                    return "wait"
                return "skip:" + parent
            return "ready"

        def take(name: str, limit: int) -> list[Record]:
            queue = queues[name]
            out: list[Record] = []
            while queue and len(out) < limit:
                state = ready(queue[0])
                if state == "wait":
                    break
                record = queue.popleft()
                if state.startswith("skip:"):
                    waiting.discard(record.key)
                    skipped.append((self._skip(record, state[5:]), "skipped"))
                    continue
                out.append(record)
            return out

        def put_back(records: list[Record]) -> None:
            for record in reversed(records):
                queues[record.object].appendleft(record)

        def next_batch(partial: bool) -> list[Record]:
            """Up to batch_size ready records: one object's (upsert) or several objects'
            (insert). Full batches first; a batch that isn't full is sent only when nothing is
            in flight (waiting for answers can only make more records ready), so requests stay
            close to ⌈records / batch_size⌉ per object."""
            size = self.batch_size
            for allow_partial in (False, True) if partial else (False,):
                mixed: list[Record] = []
                for name in queues:
                    if self.plan.objects[name].key_mode == "upsert":
                        own = take(name, size)
                        if own and (len(own) == size or allow_partial):
                            put_back(mixed)
                            return own
                        put_back(own)
                    else:
                        mixed.extend(take(name, size - len(mixed)))
                        if len(mixed) >= size:
                            return mixed
                if mixed and allow_partial:
                    return mixed
                put_back(mixed)
            return []

        def requeue(result: WriteResult) -> None:
            record = records_by_key[result.key]
            attempts[result.key] = result.attempts
            delay = min(5.0, 0.2 * 2 ** (result.attempts - 1))
            not_before[result.key] = self.monotonic() + delay
            queues[record.object].appendleft(record)

        records_by_key = {r.key: r for records in pending.values() for r in records}
        inflight: dict[Future, tuple[int, list[Record]]] = {}
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            while True:
                while len(inflight) < self.concurrency:
                    batch = next_batch(partial=not inflight)
                    if not batch:
                        break
                    journal_id = self._open_rest(batch)
                    future = pool.submit(self._send_rest, batch)
                    inflight[future] = (journal_id, batch)
                if skipped:
                    self.store.store(skipped, self.run_id)
                    skipped.clear()
                if not inflight:
                    if any(queues.values()):
                        self.sleep(0.05)  # only retry back-offs are holding records back
                        continue
                    break
                done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
                for future in done:
                    journal_id, batch = inflight.pop(future)
                    results = self._rest_outcome(future, batch, journal_id)
                    for result in results:
                        result.attempts = attempts.get(result.key, 0) + 1
                    for result in results:
                        if not (result.retryable and result.attempts <= self.max_retries):
                            waiting.discard(result.key)
                    self._settle(results, journal_id, requeue, records_by_key)

    def _open_rest(self, batch: list[Record]) -> int:
        objects = sorted({r.object for r in batch}, key=LOAD_OBJECTS.index)
        op = "upsert" if self.plan.objects[objects[0]].key_mode == "upsert" else "insert"
        self._event("batch.sent", api="rest", op=op, objects=objects, count=len(batch))
        return self.store.open(self.run_id, "rest", op, objects, [r.key for r in batch])

    def _send_rest(self, batch: list[Record]) -> list[dict[str, Any]]:
        first = self.plan.objects[batch[0].object]
        payload = []
        for record in batch:
            oplan = self.plan.objects[record.object]
            body = to_wire(record, oplan, self.ids, self.plan.owners, create=True)
            payload.append({"attributes": {"type": record.object}, **body})
        if first.key_mode == "upsert":
            return self.client.upsert_many(batch[0].object, sf.KEY_FIELD, payload)
        return self.client.create_many(payload)

    def _rest_outcome(
        self, future: Future, batch: list[Record], journal_id: int
    ) -> list[WriteResult]:
        try:
            answers = future.result()
        except OutcomeUnknown as exc:
            # The request may have been applied: look before sending anything again.
            self._event("batch.unknown", journal=journal_id, message=str(exc))
            since = next(j["started_at"] for j in self.store.journals() if j["id"] == journal_id)
            found: dict[str, str] = {}
            for name in {r.object for r in batch}:
                keys = [r.key for r in batch if r.object == name]
                found.update(self.find_existing(name, keys, since))
            self.report.reconciled += len(found)
            unknown = RecordError("CONNECTION_ERROR", str(exc), ())
            return [
                WriteResult(r.key, r.object, found[r.key])
                if r.key in found
                else WriteResult(r.key, r.object, error=unknown, extra={"batch": True})
                for r in batch
            ]
        except AuthError:
            raise
        except ApiError as exc:
            error = RecordError(exc.code, exc.detail, ())
            return [WriteResult(r.key, r.object, error=error, extra={"batch": True}) for r in batch]
        results = []
        duplicates: list[Record] = []
        for record, answer in zip(batch, answers, strict=True):
            if answer.get("success"):
                created = answer.get("created")
                results.append(
                    WriteResult(
                        record.key,
                        record.object,
                        answer["id"],
                        created=None if created is None else bool(created),
                    )
                )
            else:
                error = parse_errors(answer.get("errors") or [])
                on_key = sf.KEY_FIELD in error.fields or sf.KEY_FIELD in error.message
                if error.code == "DUPLICATE_VALUE" and on_key:
                    duplicates.append(record)
                results.append(WriteResult(record.key, record.object, error=error))
        if duplicates:  # key mode: an earlier attempt created it; adopt that record as ours
            found: dict[str, str] = {}
            for name in {r.object for r in duplicates}:
                found.update(self.find_existing(name, [r.key for r in duplicates], ""))
            for result in results:
                if result.key in found:
                    result.remote_id, result.error = found[result.key], None
        return results

    # -- Bulk API 2.0 ------------------------------------------------------------------------

    def _render(self, name: str, records: list[Record]) -> tuple[list[str], list[list[str]]]:
        oplan = self.plan.objects[name]
        header = ([sf.KEY_FIELD] if oplan.sends_key else []) + oplan.fields + oplan.audit
        rows = []
        for record in records:
            wire = to_wire(record, oplan, self.ids, self.plan.owners, create=True)
            rows.append([csv_cell(wire.get(c)) for c in header])
        return header, rows

    def _bulk_rows(
        self, name: str, records: list[Record]
    ) -> tuple[list[str], list[list[str]], list[WriteResult]]:
        """Header and rows for the records whose parents are loaded; the others are skipped
        (and removed from ``records``, which stays aligned with the rows)."""
        skipped: list[WriteResult] = []
        keep: list[Record] = []
        for record in records:
            missing = next((p for p in parents(record) if p not in self.ids), None)
            if missing:
                skipped.append(self._skip(record, missing))
            else:
                keep.append(record)
        records[:] = keep
        header, rows = self._render(name, keep)
        return header, rows, skipped

    @staticmethod
    def _csv(header: list[str], rows: list[list[str]]) -> str:
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        return buffer.getvalue()

    def _bulk(self, name: str, records: list[Record]) -> None:
        attempt = 0
        todo = list(records)
        while todo:
            attempt += 1
            header, rows, skipped = self._bulk_rows(name, todo)
            if skipped:
                self.store.store([(r, "skipped") for r in skipped], self.run_id)
            if not rows:
                return
            results: list[WriteResult] = []
            start = 0
            while start < len(rows):
                size, end = 0, start
                while end < len(rows) and size < BULK_MAX_BYTES:
                    size += sum(len(c) + 3 for c in rows[end])
                    end += 1
                results.extend(
                    self._bulk_job(name, header, rows[start:end], todo[start:end], attempt)
                )
                start = end
            retry: list[Record] = []
            by_key = {r.key: r for r in todo}

            def requeue(
                result: WriteResult, retry: list[Record] = retry, by_key: dict = by_key
            ) -> None:
                retry.append(by_key[result.key])

            for result in results:
                result.attempts = attempt
            self._settle(results, None, requeue, by_key)
            todo = retry
            if todo:
                self.sleep(min(5.0, 0.2 * 2**attempt))

    def _bulk_job(
        self,
        name: str,
        header: list[str],
        rows: list[list[str]],
        records: list[Record],
        attempt: int,
    ) -> list[WriteResult]:
        oplan = self.plan.objects[name]
        op = "upsert" if oplan.key_mode == "upsert" else "insert"
        job = self.client.bulk_create_job(name, op, sf.KEY_FIELD if op == "upsert" else None)
        job_id = job["id"]
        journal_id = self.store.open(
            self.run_id, "bulk", op, [name], [r.key for r in records], job_id
        )
        self._event("bulk.job", object=name, job=job_id, count=len(rows), attempt=attempt)
        try:
            self.client.bulk_upload(job_id, self._csv(header, rows))
            info = self.client.bulk_set_state(job_id, "UploadComplete")
        except OutcomeUnknown:
            info = self.client.bulk_job(job_id)
            if info.get("state") == "Open":
                # The upload may not have happened: start again with a fresh job.
                with contextlib.suppress(TargetError):
                    self.client.bulk_set_state(job_id, "Aborted")
                self.store.drop(journal_id)
                return self._bulk_job(name, header, rows, records, attempt)
        results = self._bulk_finish(name, job_id, info, records, header, rows)
        # The successes and the journal's end in one transaction; _settle then stores the final
        # outcomes (re-storing the same ok rows is harmless), so a crash in between loses nothing.
        by_key = {r.key: r for r in records}
        self.store.store(
            [(r, "ok") for r in results if r.ok],
            self.run_id,
            close_journal=journal_id,
            pushed={r.key: self._wire(by_key[r.key], create=True) for r in results if r.ok},
        )
        return results

    def _bulk_finish(
        self,
        name: str,
        job_id: str,
        info: dict[str, Any] | None,
        records: list[Record],
        header: list[str] | None,
        rows: list[list[str]] | None,
    ) -> list[WriteResult]:
        info = self._poll(job_id, info, len(records))
        oplan = self.plan.objects[name]
        success = self.client.bulk_results(job_id, "successfulResults")
        failures: list[dict[str, str]] = []
        if int(info.get("numberRecordsFailed") or 0) or info.get("state") != "JobComplete":
            failures = self.client.bulk_results(job_id, "failedResults")
        if rows is None or header is None:
            records = [r for r in records if all(p in self.ids for p in parents(r))]
            header, rows = self._render(name, records)
        keys_by_row: dict[Any, list[str]] = {}
        for record, row in zip(records, rows, strict=False):
            ident = record.key if oplan.sends_key else tuple(row)
            keys_by_row.setdefault(ident, []).append(record.key)

        def key_of(result_row: dict[str, str]) -> str | None:
            ident = (
                result_row.get(sf.KEY_FIELD)
                if oplan.sends_key
                else tuple(result_row.get(c, "") for c in header)
            )
            keys = keys_by_row.get(ident)
            return keys.pop(0) if keys else None

        out: dict[str, WriteResult] = {}
        for row in success:
            key = key_of(row)
            if key:
                created = row.get("sf__Created", "true").lower() == "true"
                out[key] = WriteResult(
                    key, name, row["sf__Id"], created=None if op_insert(oplan) else created
                )
        for row in failures:
            key = key_of(row)
            if key:
                out[key] = WriteResult(key, name, error=_bulk_error(row.get("sf__Error", "")))
        unprocessed = RecordError(
            "UNPROCESSED", f"Bulk job {job_id} ended {info.get('state')} before this record", ()
        )
        return [
            out.get(r.key) or WriteResult(r.key, name, error=unprocessed_retry(unprocessed))
            for r in records
        ]

    def _poll(self, job_id: str, info: dict[str, Any] | None, count: int) -> dict[str, Any]:
        """Wait for a job to end. The first look comes when the job should be done, judging by
        the slowest processing rate earlier jobs reported (``totalProcessingTime``), so a job
        usually costs one poll; after a miss the looks come at a fifth of that estimate, then
        back off (×1.6, up to 10 s)."""
        rate = self._ms_per_record or 2.0  # a guess until the first job reports its rate
        first = min(60.0, 0.05 + 1.2 * count * rate / 1000)
        delay, after_miss = first, max(0.1, first / 5)
        while not info or info.get("state") not in TERMINAL:
            self.sleep(delay)
            info = self.client.bulk_job(job_id)
            delay, after_miss = after_miss, min(10.0, after_miss * 1.6)
        processed = int(info.get("numberRecordsProcessed") or 0)
        spent = info.get("totalProcessingTime")
        if processed and spent:
            self._ms_per_record = max(self._ms_per_record or 0.0, float(spent) / processed)
        return info

    def _reconcile_bulk(self, entry: dict[str, Any]) -> int:
        name = entry["objects"][0]
        job_id = entry["job_id"]
        try:
            info = self.client.bulk_job(job_id)
        except ApiError:
            info = {"state": "Missing"}
        if info.get("state") in ("Open", "Missing"):
            if info.get("state") == "Open":
                with contextlib.suppress(TargetError):
                    self.client.bulk_set_state(job_id, "Aborted")
            self.store.drop(entry["id"])
            self._event("journal.reconciled", journal=entry["id"], job=job_id, found=0)
            return 0
        records = [r for r in (self.source.lookup(k) for k in entry["keys"]) if r is not None]
        results = self._bulk_finish(name, job_id, None, records, None, None)
        found = [(r, "ok") for r in results if r.ok]
        for result, _ in found:
            self.ids[result.key] = result.remote_id  # type: ignore[assignment]
        pushed = self._pushed_for([r.key for r, _ in found])
        self.store.store(found, entry["run_id"], close_journal=entry["id"], pushed=pushed)
        self._event("journal.reconciled", journal=entry["id"], job=job_id, found=len(found))
        return len(found)


def op_insert(oplan: ObjectPlan) -> bool:
    return oplan.key_mode != "upsert"


def unprocessed_retry(error: RecordError) -> RecordError:
    return RecordError("SERVER_UNAVAILABLE", error.message, ())


def _bulk_error(text: str) -> RecordError:
    """``sf__Error`` is ``CODE:message[:fields]``."""
    code, _, rest = text.partition(":")
    message, _, fields = rest.rpartition(":") if rest.count(":") >= 1 else (rest, "", "")
    if not message:
        message, fields = rest, ""
    field_list = tuple(f.strip() for f in fields.replace("--", "").split(",") if f.strip())
    return RecordError(code.strip() or "UNKNOWN_ERROR", message.strip(), field_list)


__all__ = ["LoadReport", "Loader", "ObjectTally", "retryable"]
