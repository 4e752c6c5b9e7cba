"""Bulk API 2.0: ingest jobs (CSV in, per-record results out) and query jobs (CSV pages).

Jobs run on one background worker thread, in batches of 200 records per transaction, so a client
sees Open → UploadComplete → InProgress → JobComplete (or Failed / Aborted). Like a real org's,
jobs outlive a restart: each job, its uploads and its results are kept in the org's SQLite file
(tables ``_bulk_jobs``, ``_bulk_uploads``, ``_bulk_results``), and an ingest batch's results are
written in the same transaction as its records, so a job interrupted by a restart resumes after
its last committed batch instead of writing any record twice.

Relationship columns by external ID (``Account.Orgforge_Key__c``) and the polymorphic form
(``Contact:Who.Orgforge_Key__c``) are resolved per row; an empty cell means "not set", and
``#N/A`` sets a field to null.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import queue
import threading
from dataclasses import dataclass, field
from typing import Any

from orgforge.clock import Clock
from orgforge.sandbox.salesforce import ids
from orgforge.sandbox.salesforce.faults import Faults
from orgforge.sandbox.salesforce.jsonbody import ascii_int, json_token, parser_error
from orgforge.sandbox.salesforce.metadata import Field, SObject
from orgforge.sandbox.salesforce.org import Org
from orgforge.sandbox.salesforce.query import Engine, malformed
from orgforge.sandbox.salesforce.sferrors import SFError, unknown_exception
from orgforge.sandbox.salesforce.values import coerce, format_datetime
from orgforge.soql import Count, Query, SOQLError, parse

DELIMITERS = {
    "COMMA": ",",
    "TAB": "\t",
    "PIPE": "|",
    "SEMICOLON": ";",
    "CARET": "^",
    "BACKQUOTE": "`",
}
INGEST_OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
BATCH = 200
FINAL_STATES = ("JobComplete", "Failed", "Aborted")
QUERY_ROWS_PER_CHUNK = 10_000
_RESULT_LISTS = ("success", "failed", "unprocessed", "rows")  # Job attributes, stored by name
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS _bulk_jobs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, "
    "info TEXT NOT NULL, header TEXT NOT NULL, abort INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS _bulk_uploads (job_id TEXT NOT NULL, seq INTEGER NOT NULL, "
    "data BLOB NOT NULL, PRIMARY KEY (job_id, seq))",
    "CREATE TABLE IF NOT EXISTS _bulk_results (job_id TEXT NOT NULL, list TEXT NOT NULL, "
    "seq INTEGER NOT NULL, rows TEXT NOT NULL, PRIMARY KEY (job_id, seq))",
)


@dataclass
class Job:
    id: str
    kind: str  # ingest | query
    info: dict[str, Any]
    chunks: list[bytes] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    success: list[list[str]] = field(default_factory=list)
    failed: list[list[str]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)  # query results
    abort: bool = False
    started: float = 0.0
    result_chunks: int = 0  # stored result chunks (their sequence numbers)

    @property
    def state(self) -> str:
        return self.info["state"]


@dataclass
class Column:
    header: str
    field: Field
    target: SObject | None = None  # relationship columns
    key: Field | None = None


class Bulk:
    def __init__(self, org: Org, engine: Engine, faults: Faults) -> None:
        self.org = org
        self.engine = engine
        self.faults = faults
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.stopping = False
        with self.org.transaction() as tx:
            for statement in _SCHEMA:
                tx.conn.execute(statement)
        self._load()
        self._worker = threading.Thread(target=self._run, name="sandbox-bulk", daemon=True)
        self._worker.start()
        for job in self.jobs.values():  # interrupted by the last shutdown: carry on, like an org
            if job.state in ("UploadComplete", "InProgress") and not job.abort:
                self._queue.put(job.id)

    def stop(self) -> None:
        """Stop after the batch in progress; an unfinished job stays InProgress and resumes at
        the next start (so a shutdown never marks a job Failed)."""
        self.stopping = True
        self._queue.put(None)
        self._worker.join(timeout=5)

    # ---- jobs --------------------------------------------------------------------------------

    def _new_id(self) -> str:
        with self.org.transaction() as tx:  # a stored counter: IDs stay unique across restarts
            return ids.make_id("750", self.org._counter(tx.conn, "750"))

    # ---- storage -----------------------------------------------------------------------------

    def _load(self) -> None:
        conn = self.org.conn()
        for job_id, kind, info, header, abort in conn.execute(
            "SELECT id, kind, info, header, abort FROM _bulk_jobs ORDER BY rowid"
        ):
            self.jobs[job_id] = Job(
                job_id, kind, json.loads(info), header=json.loads(header), abort=bool(abort)
            )
        for job_id, data in conn.execute(
            "SELECT job_id, data FROM _bulk_uploads ORDER BY job_id, seq"
        ):
            self.jobs[job_id].chunks.append(bytes(data))
        for job_id, name, rows in conn.execute(
            "SELECT job_id, list, rows FROM _bulk_results ORDER BY job_id, seq"
        ):
            job = self.jobs[job_id]
            getattr(job, name).extend(json.loads(rows))
            job.result_chunks += 1

    def _save(self, job: Job, conn: Any = None) -> None:
        """Store the job's info, header and abort flag (in ``conn``'s transaction if given)."""
        if conn is None:
            with self.org.transaction() as tx:
                self._save(job, tx.conn)
            return
        conn.execute(
            "INSERT INTO _bulk_jobs (id, kind, info, header, abort) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET info = excluded.info, header = excluded.header, "
            "abort = excluded.abort",
            (job.id, job.kind, json.dumps(dict(job.info)), json.dumps(job.header), int(job.abort)),
        )

    def _store_rows(self, conn: Any, job: Job, name: str, rows: list[list[str]]) -> None:
        """Append result rows to the job's ``name`` list, in memory and in ``conn``'s tx."""
        if not rows:
            return
        conn.execute(
            "INSERT INTO _bulk_results (job_id, list, seq, rows) VALUES (?, ?, ?, ?)",
            (job.id, name, job.result_chunks, json.dumps(rows)),
        )
        job.result_chunks += 1
        getattr(job, name).extend(rows)

    def reset(self) -> None:
        """Forget every job (``/_sandbox/reset``)."""
        with self._lock:
            self.jobs.clear()
        with self.org.transaction() as tx:
            for table in ("_bulk_jobs", "_bulk_uploads", "_bulk_results"):
                tx.conn.execute(f"DELETE FROM {table}")

    def _base_info(
        self,
        job_id: str,
        operation: str,
        obj: str,
        user_id: str,
        version: str,
        body: dict[str, Any],
    ) -> dict[str, Any]:
        stamp = format_datetime(_now(self.org.clock))
        delimiter = body.get("columnDelimiter") or "COMMA"
        line_ending = body.get("lineEnding") or "LF"
        if delimiter not in DELIMITERS:
            raise SFError("INVALIDJOB", f"Invalid column delimiter: {delimiter}", with_fields=False)
        if line_ending not in ("LF", "CRLF"):
            raise SFError("INVALIDJOB", f"Invalid line ending: {line_ending}", with_fields=False)
        return {
            "id": job_id,
            "operation": operation,
            "object": obj,
            "createdById": user_id,
            "createdDate": stamp,
            "systemModstamp": stamp,
            "state": "Open",
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(version),
            "lineEnding": line_ending,
            "columnDelimiter": delimiter,
        }

    def create_ingest(self, body: dict[str, Any], user_id: str, version: str) -> dict[str, Any]:
        _check_strings(body)
        operation = body.get("operation")
        if operation not in INGEST_OPERATIONS:
            raise SFError("INVALIDJOB", f"Invalid operation: {operation}", with_fields=False)
        obj = self.org.meta.get(str(body.get("object") or ""))
        if obj is None:
            raise SFError(
                "INVALIDJOB", f"Unable to find object: {body.get('object')}", with_fields=False
            )
        if body.get("contentType", "CSV") != "CSV":
            raise SFError("INVALIDJOB", "Only CSV is supported", with_fields=False)
        ext = body.get("externalIdFieldName")
        if operation == "upsert":
            key = obj.field(ext or "")
            if key is None or not key.id_lookup:
                raise SFError(
                    "INVALIDJOB",
                    f"The field {ext} is not an external ID, Salesforce Id, or indexed field for "
                    f"{obj.name}",
                    with_fields=False,
                )
            ext = key.name
        job_id = self._new_id()
        info = self._base_info(job_id, operation, obj.name, user_id, version, body)
        if ext:
            info["externalIdFieldName"] = ext
        info.update(
            {
                "contentUrl": f"services/data/v{version}/jobs/ingest/{job_id}/batches",
                "jobType": "V2Ingest",
                "assignmentRuleId": body.get("assignmentRuleId"),
                "numberRecordsProcessed": 0,
                "numberRecordsFailed": 0,
                "retries": 0,
                "totalProcessingTime": 0,
                "apiActiveProcessingTime": 0,
                "apexProcessingTime": 0,
            }
        )
        job = Job(job_id, "ingest", info)
        self._save(job)
        with self._lock:
            self.jobs[job_id] = job
        return self.public_info(job, create=True)

    def create_query(self, body: dict[str, Any], user_id: str, version: str) -> dict[str, Any]:
        _check_strings(body)
        operation = body.get("operation", "query")
        if operation not in ("query", "queryAll"):
            raise SFError("INVALIDJOB", f"Invalid operation: {operation}", with_fields=False)
        text = body.get("query")
        if not text:
            raise SFError("INVALIDJOB", "A query is required", with_fields=False)
        try:
            parsed = parse(text)
        except SOQLError as exc:
            raise _invalid_job(text, exc) from None
        unsupported = None
        if any(isinstance(i, Count) for i in parsed.items):
            unsupported = "Aggregate queries are not supported by Bulk API 2.0"
        elif any(isinstance(i, Query) for i in parsed.items):
            unsupported = "Nested queries are not supported by Bulk API 2.0"
        elif parsed.offset is not None:
            unsupported = "OFFSET is not supported by Bulk API 2.0"
        if unsupported:
            raise SFError("API_ERROR", unsupported, with_fields=False)
        try:  # validate fields now, like a real org does at job creation
            self.engine.check(text, operation == "queryAll")
        except SFError as exc:
            raise SFError("INVALIDJOB", exc.message, with_fields=False) from None
        job_id = self._new_id()
        obj = self.org.meta.get(parsed.sobject)
        info = self._base_info(
            job_id, operation, obj.name if obj else parsed.sobject, user_id, version, body
        )
        info.update(
            {
                "jobType": "V2Query",
                "numberRecordsProcessed": 0,
                "retries": 0,
                "totalProcessingTime": 0,
                "query": text,
                "state": "UploadComplete",
            }
        )
        job = Job(job_id, "query", info)
        self._save(job)
        with self._lock:
            self.jobs[job_id] = job
        self._queue.put(job_id)
        return self.public_info(job, create=True)

    def get(self, job_id: str, kind: str) -> Job:
        norm = ids.normalize(job_id)
        job = self.jobs.get(norm or "")
        if job is None or job.kind != kind:
            raise SFError(
                "NOT_FOUND", "The requested resource does not exist", status=404, with_fields=False
            )
        return job

    def public_info(self, job: Job, create: bool = False) -> dict[str, Any]:
        info = dict(job.info)
        if create:
            for key in (
                "numberRecordsProcessed",
                "numberRecordsFailed",
                "retries",
                "totalProcessingTime",
                "apiActiveProcessingTime",
                "apexProcessingTime",
                "query",
            ):
                info.pop(key, None)
        if info.get("assignmentRuleId") is None:
            info.pop("assignmentRuleId", None)
        if job.kind == "query":
            info.pop("query", None)
        return info

    def list(self, kind: str) -> dict[str, Any]:
        with self._lock:
            jobs = [j for j in self.jobs.values() if j.kind == kind]
        return {
            "done": True,
            "records": [self.public_info(j, create=True) for j in jobs],
            "nextRecordsUrl": None,
        }

    def upload(self, job_id: str, data: bytes) -> None:
        job = self.get(job_id, "ingest")
        if job.state != "Open":
            raise SFError(
                "INVALIDJOBSTATE",
                f"Job is not open for upload: {job.state}",
                with_fields=False,
                status=409,
            )
        with self.org.transaction() as tx:
            tx.conn.execute(
                "INSERT INTO _bulk_uploads (job_id, seq, data) VALUES (?, ?, ?)",
                (job.id, len(job.chunks), data),
            )
        job.chunks.append(data)

    def set_state(self, job_id: str, kind: str, state: str | None) -> dict[str, Any]:
        job = self.get(job_id, kind)
        current = job.state
        if state == "UploadComplete" and kind == "ingest":
            if current != "Open":
                raise SFError("INVALIDJOBSTATE", f"Job is already {current}", with_fields=False)
            self._touch(job, state="UploadComplete")
            self._queue.put(job.id)
        elif state == "Aborted":
            if current in FINAL_STATES:
                raise SFError("INVALIDJOBSTATE", f"Job is already {current}", with_fields=False)
            job.abort = True
            self._touch(job, state="Aborted")  # stores the abort flag with the state
        else:
            raise SFError("INVALIDJOBSTATE", f"Invalid state: {state}", with_fields=False)
        return self.public_info(job, create=True)

    def delete(self, job_id: str, kind: str) -> None:
        job = self.get(job_id, kind)
        if job.state not in FINAL_STATES:
            raise SFError(
                "INVALIDJOBSTATE", f"Job can't be deleted while {job.state}", with_fields=False
            )
        with self.org.transaction() as tx:
            for table, column in (
                ("_bulk_jobs", "id"),
                ("_bulk_uploads", "job_id"),
                ("_bulk_results", "job_id"),
            ):
                tx.conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (job.id,))
        with self._lock:
            self.jobs.pop(job.id, None)

    def _touch(self, job: Job, conn: Any = None, **changes: Any) -> None:
        job.info.update(changes)
        job.info["systemModstamp"] = format_datetime(_now(self.org.clock))
        self._save(job, conn)

    # ---- results -----------------------------------------------------------------------------

    def ingest_results(self, job_id: str, which: str) -> str:
        job = self.get(job_id, "ingest")
        if which == "unprocessedrecords":
            if job.state == "Open":
                return _csv(job.header, [], job)
            return _csv(job.header, job.unprocessed, job)
        if job.state not in FINAL_STATES:
            raise SFError("INVALIDJOBSTATE", "Job is not complete", with_fields=False)
        if which == "successfulResults":
            return _csv(["sf__Id", "sf__Created", *job.header], job.success, job)
        return _csv(["sf__Id", "sf__Error", *job.header], job.failed, job)

    def query_results(
        self, job_id: str, locator: str | None, max_records: int | None
    ) -> tuple[str, str, int]:
        job = self.get(job_id, "query")
        if job.state != "JobComplete":
            raise SFError("INVALIDJOBSTATE", f"Job is not complete: {job.state}", with_fields=False)
        start = 0
        if locator:
            try:
                decoded = base64.b64decode(locator.encode(), validate=True).decode("ascii")
            except (ValueError, UnicodeError):
                decoded = ""
            position = ascii_int(decoded)
            if position is None or position > len(job.rows):
                raise SFError(
                    "INVALIDLOCATOR", f"Invalid locator: {locator[:50]}", with_fields=False
                )
            start = position
        size = max_records if max_records and max_records > 0 else len(job.rows)
        page = job.rows[start : start + size]
        end = start + len(page)
        next_locator = (
            base64.b64encode(str(end).encode()).decode() if end < len(job.rows) else "null"
        )
        return _csv(job.header, page, job), next_locator, len(page)

    # ---- worker ------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None or self.stopping:
                return
            job = self.jobs.get(job_id)
            if job is None or job.abort:
                continue
            job.started = self.org.clock.monotonic()
            self._touch(job, state="InProgress")
            try:
                if job.kind == "query":
                    self._run_query(job)
                else:
                    self._run_ingest(job)
            except SFError as exc:
                self._touch(
                    job, state="Failed", errorMessage=exc.message, **_timing(job, self.org.clock)
                )
            except Exception:  # the job fails, the worker lives on; details go to the log only
                if self.stopping:  # the org closed under it: leave the job to resume
                    return
                _eid, message = unknown_exception(f"Bulk job {job.id}")
                self._touch(
                    job,
                    state="Failed",
                    errorMessage=f"UNKNOWN_EXCEPTION: {message}",
                    **_timing(job, self.org.clock),
                )

    def _run_query(self, job: Job) -> None:
        plan, records, lookup = self.engine.run(
            job.info["query"], job.info["operation"] == "queryAll"
        )
        header = self.engine.headers(plan)
        rows = [self.engine.flat(plan, rec, lookup) for rec in records]
        if job.abort or self.stopping:
            return
        with self.org.transaction() as tx:  # rows and JobComplete together: all or nothing
            job.header, job.rows = header, []
            for start in range(0, len(rows), QUERY_ROWS_PER_CHUNK):
                self._store_rows(tx.conn, job, "rows", rows[start : start + QUERY_ROWS_PER_CHUNK])
            self._touch(
                job,
                tx.conn,
                state="JobComplete",
                numberRecordsProcessed=len(rows),
                **_timing(job, self.org.clock),
            )

    def _parse_csv(self, job: Job) -> tuple[list[str], list[list[str]]]:
        try:
            return self._read_csv(job)
        except UnicodeDecodeError as exc:
            raise SFError(
                "InvalidBatch", f"InvalidBatch : Invalid UTF-8 byte 0x{exc.object[exc.start]:02x}"
            ) from None
        except csv.Error:  # e.g. a field beyond the csv module's size limit
            raise SFError("InvalidBatch", "InvalidBatch : Failed to parse the CSV data") from None

    def _read_csv(self, job: Job) -> tuple[list[str], list[list[str]]]:
        data = b"".join(job.chunks).decode("utf-8-sig")
        delimiter = DELIMITERS[job.info["columnDelimiter"]]
        header: list[str] | None = None
        rows: list[list[str]] = []
        for chunk in job.chunks:  # each upload carries its own header row
            text = chunk.decode("utf-8-sig")
            reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
            chunk_rows = [r for r in reader if r and any(c != "" for c in r)]
            if not chunk_rows:
                continue
            if header is None:
                header = chunk_rows[0]
            elif chunk_rows[0] != header:
                raise SFError(
                    "InvalidBatch", "InvalidBatch : All uploads must have the same header"
                )
            rows.extend(chunk_rows[1:])
        if header is None or not data.strip():
            raise SFError("InvalidBatch", "InvalidBatch : Records not processed")
        return header, rows

    def _columns(self, job: Job, obj: SObject, header: list[str]) -> list[Column]:
        cols = []
        for name in header:
            name = name.strip()
            if ":" in name and "." in name:
                type_name, _, rest = name.partition(":")
                rel, _, key_name = rest.partition(".")
                f = obj.relationship(rel)
                target = self.org.meta.get(type_name)
                if f is None or target is None or target.name not in f.reference_to:
                    raise _no_field(name)
                key = target.field(key_name)
                if key is None or not key.id_lookup:
                    raise _no_field(name)
                cols.append(Column(name, f, target, key))
            elif "." in name:
                rel, _, key_name = name.partition(".")
                f = obj.relationship(rel)
                if f is None or f.polymorphic:
                    raise _no_field(name)
                target = self.org.meta.get(f.reference_to[0])
                key = target.field(key_name) if target else None
                if key is None or not key.id_lookup:
                    raise _no_field(name)
                cols.append(Column(name, f, target, key))
            else:
                f = obj.field(name)
                if f is None:
                    raise _no_field(name)
                cols.append(Column(name, f))
        op = job.info["operation"]
        names = {c.field.name for c in cols if c.target is None}
        if op in ("delete", "hardDelete") and (names != {"Id"} or len(cols) != 1):
            raise SFError(
                "InvalidBatch", "InvalidBatch : The 'delete' batch must contain only the 'Id' field"
            )
        if op == "update" and "Id" not in names:
            raise SFError("InvalidBatch", "InvalidBatch : Field name not found : Id")
        if op == "upsert" and job.info["externalIdFieldName"] not in names:
            raise SFError(
                "InvalidBatch",
                f"InvalidBatch : Field name not found : {job.info['externalIdFieldName']}",
            )
        return cols

    def _run_ingest(self, job: Job) -> None:
        obj = self.org.meta.get(job.info["object"])
        assert obj is not None
        header, rows = self._parse_csv(job)
        job.header = header
        cols = self._columns(job, obj, header)
        op = job.info["operation"]
        user_id = job.info["createdById"]
        # After a restart, rows whose results were committed are done: resume after them.
        processed, failed = len(job.success) + len(job.failed), len(job.failed)
        for start in range(processed, len(rows), BATCH):
            if self.stopping:  # shutting down: the committed batches stand, the rest resumes
                return
            if job.abort:
                break
            batch = rows[start : start + BATCH]
            ok: list[list[str]] = []
            bad: list[list[str]] = []
            with self.org.transaction() as tx:
                for row in batch:
                    row = (row + [""] * len(cols))[: len(cols)] if len(row) != len(cols) else row
                    try:
                        with tx.savepoint():
                            record_id, created = self._apply(
                                tx, obj, op, cols, row, user_id, job.info.get("externalIdFieldName")
                            )
                        ok.append([record_id, "true" if created else "false", *row])
                    except SFError as exc:
                        given = ""
                        if "Id" in header:
                            given = row[header.index("Id")]
                        bad.append([given, exc.bulk_error(), *row])
                # the batch's results commit with its records: a restart never redoes them
                self._store_rows(tx.conn, job, "success", ok)
                self._store_rows(tx.conn, job, "failed", bad)
                processed += len(batch)
                failed += len(bad)
                job.info["numberRecordsProcessed"] = processed
                job.info["numberRecordsFailed"] = failed
                self._save(job, tx.conn)
        if job.abort:
            with self.org.transaction() as tx:
                self._store_rows(tx.conn, job, "unprocessed", rows[processed:])
            return
        self._touch(
            job,
            state="JobComplete",
            numberRecordsProcessed=processed,
            numberRecordsFailed=failed,
            **_timing(job, self.org.clock),
        )

    def _apply(
        self,
        tx: Any,
        obj: SObject,
        op: str,
        cols: list[Column],
        row: list[str],
        user_id: str,
        ext: str | None,
    ) -> tuple[str, bool]:
        values: dict[str, Any] = {}
        record_id: str | None = None
        for index, (col, cell) in enumerate(zip(cols, row, strict=True)):
            f = col.field
            if f.name == "Id" and col.target is None:
                record_id = cell.strip()
                continue
            if cell == "":
                continue
            if cell == "#N/A":
                values[f.name] = None
                continue
            if col.target is not None:
                if values.get(f.name):
                    raise SFError(
                        "INVALID_FIELD", f"More than one value for {f.relationship_name}", [f.name]
                    )
                values[f.name] = tx.lookup_external(col.target, col.key.name, cell, f)  # type: ignore[union-attr]
                continue
            if f.type == "boolean" and cell in ("1", "0"):
                cell = "true" if cell == "1" else "false"
            try:
                values[f.name] = coerce(f, cell)
            except SFError:
                raise SFError(
                    "INVALID_FIELD",
                    f"Failed to deserialize field at col {index + 1}. Due to, '{cell}' is not a "
                    f"valid value for the type xsd:{_xsd(f)}",
                    [f.name],
                ) from None
        if self.faults.lock_hit():
            raise SFError(
                "UNABLE_TO_LOCK_ROW",
                "unable to obtain exclusive access to this record"
                + (f" or 1 records: {record_id}" if record_id else ""),
                [],
            )
        if op == "insert":
            if record_id:
                raise SFError("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
            return tx.insert(obj, values, user_id), True
        if op == "upsert":
            key = obj.fields[ext or "Id"]
            key_value = record_id if key.name == "Id" else values.pop(key.name, None)
            return tx.upsert(obj, key, key_value, values, user_id)
        norm = ids.normalize(record_id or "")
        if norm is None or norm[:3] != obj.key_prefix:
            raise SFError(
                "MALFORMED_ID", f"{obj.label} ID: id value of incorrect type: {record_id}", ["Id"]
            )
        try:
            if op == "update":
                tx.update(obj, norm, values, user_id)
            else:
                tx.delete(obj, norm, user_id, hard=op == "hardDelete")
        except SFError as exc:
            if exc.code == "NOT_FOUND":
                raise SFError(
                    "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", []
                ) from None
            raise
        return norm, False


def _timing(job: Job, clock: Clock) -> dict[str, int]:
    """Processing times, set with the final state so a client never sees one without the other
    (on the org's clock: a simulated one counts only the time it was moved by)."""
    elapsed = int((clock.monotonic() - job.started) * 1000)
    times = {"totalProcessingTime": elapsed}
    if "apiActiveProcessingTime" in job.info:
        times["apiActiveProcessingTime"] = elapsed
    return times


def _now(clock: Any) -> Any:
    from orgforge.sandbox.salesforce.values import now

    return now(clock)


def _xsd(f: Field) -> str:
    return {"datetime": "dateTime", "int": "int", "boolean": "boolean", "date": "date"}.get(
        f.type, "double" if f.type in ("double", "currency", "percent") else "string"
    )


def _no_field(name: str) -> SFError:
    return SFError("InvalidBatch", f"InvalidBatch : Field name not found : {name}")


_STRING_KEYS = (
    "object",
    "operation",
    "externalIdFieldName",
    "contentType",
    "columnDelimiter",
    "lineEnding",
    "query",
    "assignmentRuleId",
)


def _check_strings(body: dict[str, Any]) -> None:
    """A job definition's properties are strings; anything else is a parse error in a real org."""
    for key in _STRING_KEYS:
        value = body.get(key)
        if value is not None and not isinstance(value, str):
            raise parser_error(
                f"Cannot deserialize instance of string from {json_token(value)} value ({key})"
            )


def _invalid_job(text: str, exc: SOQLError) -> SFError:
    err = malformed(text, exc)
    return SFError("INVALIDJOB", err.message, with_fields=False)


def _csv(header: list[str], rows: list[list[str]], job: Job) -> str:
    out = io.StringIO()
    writer = csv.writer(
        out,
        delimiter=DELIMITERS[job.info["columnDelimiter"]],
        lineterminator="\r\n" if job.info["lineEnding"] == "CRLF" else "\n",
        quoting=csv.QUOTE_ALL,
    )
    if header:
        writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()
