"""Bulk API 2.0: ingest jobs (CSV in, per-record results out) and query jobs (CSV pages).

Jobs live in memory and run on one background worker thread, in batches of 200 records per
transaction, so a client sees Open → UploadComplete → InProgress → JobComplete (or Failed /
Aborted). Relationship columns by external ID (``Account.Orgforge_Key__c``) and the polymorphic
form (``Contact:Who.Orgforge_Key__c``) are resolved per row; an empty cell means "not set", and
``#N/A`` sets a field to null.
"""

from __future__ import annotations

import base64
import csv
import io
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from orgforge.sandbox.salesforce import ids
from orgforge.sandbox.salesforce.faults import Faults
from orgforge.sandbox.salesforce.metadata import Field, SObject
from orgforge.sandbox.salesforce.org import Org
from orgforge.sandbox.salesforce.query import Engine, malformed
from orgforge.sandbox.salesforce.sferrors import SFError
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
        self._counter = 0
        self._worker = threading.Thread(target=self._run, name="sandbox-bulk", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        self._queue.put(None)
        self._worker.join(timeout=5)

    # ---- jobs --------------------------------------------------------------------------------

    def _new_id(self) -> str:
        with self._lock:
            self._counter += 1
            return ids.make_id("750", int(time.time()) % 100000 * 1000 + self._counter)

    def _base_info(
        self,
        job_id: str,
        operation: str,
        obj: str,
        user_id: str,
        version: str,
        body: dict[str, Any],
    ) -> dict[str, Any]:
        stamp = format_datetime(_now())
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
        with self._lock:
            self.jobs[job_id] = job
        return self.public_info(job, create=True)

    def create_query(self, body: dict[str, Any], user_id: str, version: str) -> dict[str, Any]:
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
            self._touch(job, state="Aborted")
        else:
            raise SFError("INVALIDJOBSTATE", f"Invalid state: {state}", with_fields=False)
        return self.public_info(job, create=True)

    def delete(self, job_id: str, kind: str) -> None:
        job = self.get(job_id, kind)
        if job.state not in FINAL_STATES:
            raise SFError(
                "INVALIDJOBSTATE", f"Job can't be deleted while {job.state}", with_fields=False
            )
        with self._lock:
            self.jobs.pop(job.id, None)

    def _touch(self, job: Job, **changes: Any) -> None:
        job.info.update(changes)
        job.info["systemModstamp"] = format_datetime(_now())

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
                start = int(base64.b64decode(locator.encode()).decode())
            except (ValueError, UnicodeDecodeError):
                raise SFError(
                    "INVALIDLOCATOR", f"Invalid locator: {locator}", with_fields=False
                ) from None
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
            if job_id is None:
                return
            job = self.jobs.get(job_id)
            if job is None or job.abort:
                continue
            job.started = time.monotonic()
            self._touch(job, state="InProgress")
            try:
                if job.kind == "query":
                    self._run_query(job)
                else:
                    self._run_ingest(job)
            except SFError as exc:
                self._touch(job, state="Failed", errorMessage=exc.message)
            except Exception as exc:  # the job fails, the worker lives on
                self._touch(job, state="Failed", errorMessage=f"UNKNOWN_EXCEPTION: {exc}")
            elapsed = int((time.monotonic() - job.started) * 1000)
            job.info["totalProcessingTime"] = elapsed
            if "apiActiveProcessingTime" in job.info:
                job.info["apiActiveProcessingTime"] = elapsed

    def _run_query(self, job: Job) -> None:
        plan, records, lookup = self.engine.run(
            job.info["query"], job.info["operation"] == "queryAll"
        )
        job.header = self.engine.headers(plan)
        job.rows = [self.engine.flat(plan, rec, lookup) for rec in records]
        if not job.abort:
            self._touch(job, state="JobComplete", numberRecordsProcessed=len(job.rows))

    def _parse_csv(self, job: Job) -> tuple[list[str], list[list[str]]]:
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
        processed = failed = 0
        for start in range(0, len(rows), BATCH):
            if job.abort:
                job.unprocessed.extend(rows[start:])
                break
            batch = rows[start : start + BATCH]
            with self.org.transaction() as tx:
                for row in batch:
                    row = (row + [""] * len(cols))[: len(cols)] if len(row) != len(cols) else row
                    try:
                        with tx.savepoint():
                            record_id, created = self._apply(
                                tx, obj, op, cols, row, user_id, job.info.get("externalIdFieldName")
                            )
                        job.success.append([record_id, "true" if created else "false", *row])
                    except SFError as exc:
                        failed += 1
                        given = ""
                        if "Id" in header:
                            given = row[header.index("Id")]
                        job.failed.append([given, exc.bulk_error(), *row])
                    processed += 1
            job.info["numberRecordsProcessed"] = processed
            job.info["numberRecordsFailed"] = failed
        if job.abort:
            return
        self._touch(
            job, state="JobComplete", numberRecordsProcessed=processed, numberRecordsFailed=failed
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


def _now() -> Any:
    from orgforge.sandbox.salesforce.values import now

    return now()


def _xsd(f: Field) -> str:
    return {"datetime": "dateTime", "int": "int", "boolean": "boolean", "date": "date"}.get(
        f.type, "double" if f.type in ("double", "currency", "percent") else "string"
    )


def _no_field(name: str) -> SFError:
    return SFError("InvalidBatch", f"InvalidBatch : Field name not found : {name}")


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
