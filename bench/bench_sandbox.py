"""Salesforce sandbox costs of hardening: checked JSON bodies, persisted Bulk jobs, restarts.

Prints: parsing a 200-record sObject Collections body with the boundary checks vs plain
``json.loads``; a Bulk 2.0 insert of ``BENCH_SANDBOX_ROWS`` rows (default 20,000) end to end,
whose results are now written to the sandbox's SQLite file with each batch; and a restart of a
sandbox holding that job (loading stored jobs and results); and how long ``run_in_thread``
takes to start, answer and stop (tests start one per test; no test asserts this speed).
Sizes: ``BENCH_SANDBOX_ROWS``.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import timeit
from pathlib import Path

import httpx

from orgforge.sandbox.salesforce import EXAMPLE_SCHEMA, SandboxConfig, run_in_thread
from orgforge.sandbox.salesforce.jsonbody import parse_json


def _collection_body() -> bytes:
    records = [
        {
            "attributes": {"type": "Account"},
            "Name": f"Company {i} \u00e9\u00e8",
            "Orgforge_Key__c": f"Account/{i:06d}",
            "Industry": "Technology",
            "NumberOfEmployees": i,
            "AnnualRevenue": i * 1000.5,
            "Description": "x" * 200,
        }
        for i in range(200)
    ]
    return json.dumps({"allOrNone": False, "records": records}).encode()


def _parse_figures() -> None:
    body = _collection_body()
    runs = 200
    plain = timeit.timeit(lambda: json.loads(body), number=runs) / runs
    checked = timeit.timeit(lambda: parse_json(body), number=runs) / runs
    print(
        f"200-record collection body ({len(body) / 1024:.0f} KiB): json.loads "
        f"{plain * 1e3:.2f} ms, parse_json (limits + shape walk) {checked * 1e3:.2f} ms"
    )


def _wait(api: httpx.Client, path: str) -> dict:
    while True:
        info = api.get(path).json()
        if info["state"] in ("JobComplete", "Failed", "Aborted"):
            return info
        time.sleep(0.01)


def _bulk_figures(rows: int) -> None:
    db = Path(tempfile.mkdtemp(prefix="orgforge-bench-sandbox-")) / "org.db"
    config = SandboxConfig(db_path=db, schema=EXAMPLE_SCHEMA, token="BENCH")
    data = "Name,Orgforge_Key__c\n" + "".join(f"Company {i},K{i}\n" for i in range(rows))
    with (
        run_in_thread(config) as sb,
        httpx.Client(base_url=sb.base_url, headers=sb.headers, timeout=600) as api,
    ):
        start = time.perf_counter()
        job = api.post("/jobs/ingest", json={"object": "Account", "operation": "insert"})
        job_id = job.json()["id"]
        api.put(
            f"/jobs/ingest/{job_id}/batches",
            content=data,
            headers={"Content-Type": "text/csv"},
        )
        api.patch(f"/jobs/ingest/{job_id}", json={"state": "UploadComplete"})
        info = _wait(api, f"/jobs/ingest/{job_id}")
        wall = time.perf_counter() - start
    assert info["numberRecordsProcessed"] == rows and info["numberRecordsFailed"] == 0, info
    print(
        f"Bulk insert of {rows:,} rows (results persisted per batch): {wall:.2f} s, "
        f"{rows / wall:,.0f} rows/s"
    )
    start = time.perf_counter()
    with run_in_thread(config) as sb:
        restarted = time.perf_counter() - start
        with httpx.Client(base_url=sb.base_url, headers=sb.headers, timeout=600) as api:
            ok = api.get(f"/jobs/ingest/{job_id}/successfulResults").text
    assert ok.count("\n") == rows + 1
    print(
        f"restart with that job stored ({db.stat().st_size / 2**20:.1f} MiB file): "
        f"{restarted * 1e3:.0f} ms to accept connections"
    )


def _start_stop_figures(rounds: int = 5) -> None:
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        for i in range(rounds):
            with run_in_thread(db_path=Path(root) / f"q{i}.db") as sb:
                assert httpx.get(f"{sb.instance_url}/_sandbox/health").status_code == 200
        each = (time.perf_counter() - start) / rounds
    print(f"run_in_thread start + health check + stop: {each * 1e3:.0f} ms per sandbox")


def main() -> None:
    rows = int(os.environ.get("BENCH_SANDBOX_ROWS", "20000"))
    _parse_figures()
    _bulk_figures(rows)
    _start_stop_figures()


if __name__ == "__main__":
    main()
