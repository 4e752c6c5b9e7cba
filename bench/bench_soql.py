"""Sandbox SOQL benchmark: the 100-key IN lookup a resuming load makes, at 5k and 20k rows.

    python -m bench soql
    BENCH_SOQL_SIZES=5000,20000,50000 python -m bench.bench_soql

A fresh sandbox per size receives N Accounts through Bulk API 2.0, then answers, over HTTP
through httpx, the query a load makes to find what already exists:
``SELECT Id, Orgforge_Key__c FROM Account WHERE Orgforge_Key__c IN (100 keys)``. Figures: the
median and best of 15 runs, in ms, for that lookup (pushed into SQLite, using the external-ID
index), for ``ORDER BY Name DESC LIMIT 10`` (ordered and sliced in SQLite) and for a filter
on a parent field (``Owner.Name``: a subquery; in Python it decoded every row, 341 ms at 5k
and 1.46 s at 20k before it was pushed down too).
Before pushdown the 100-key lookup took 353 ms at 5k rows and 1.6 s at 20k (issue 12).
"""

from __future__ import annotations

import os
import statistics
import time

import httpx

from orgforge.sandbox.salesforce import EXAMPLE_SCHEMA, SandboxConfig, run_in_thread

RUNS = 15


def _fill(api: httpx.Client, rows: int) -> None:
    body = "Name,Orgforge_Key__c\n" + "".join(
        f"Account {i:06d},Account/{i:06d}\n" for i in range(rows)
    )
    job = api.post("/jobs/ingest", json={"object": "Account", "operation": "insert"}).json()
    api.put(f"/jobs/ingest/{job['id']}/batches", content=body, headers={"Content-Type": "text/csv"})
    api.patch(f"/jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    while True:
        info = api.get(f"/jobs/ingest/{job['id']}").json()
        if info["state"] in ("JobComplete", "Failed", "Aborted"):
            break
        time.sleep(0.2)
    assert info["state"] == "JobComplete" and info["numberRecordsFailed"] == 0, info


def _time(api: httpx.Client, soql: str, expect: int) -> tuple[float, float]:
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        response = api.get("/query", params={"q": soql})
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.text
        assert response.json()["totalSize"] == expect, response.text[:200]
    return statistics.median(samples), min(samples)


def main() -> None:
    sizes = [int(s) for s in os.environ.get("BENCH_SOQL_SIZES", "5000,20000").split(",")]
    print(f"{'rows':>7} {'query':<34} {'median ms':>10} {'best ms':>8}")
    for rows in sizes:
        config = SandboxConfig(schema=EXAMPLE_SCHEMA, daily_api_requests=10**7)
        with (
            run_in_thread(config) as sb,
            httpx.Client(base_url=sb.base_url, headers=sb.headers, timeout=120) as api,
        ):
            _fill(api, rows)
            step = rows // 100
            keys = ", ".join(f"'account/{i * step:06d}'" for i in range(100))  # any case
            cases = [
                (
                    "100-key IN on Orgforge_Key__c",
                    f"SELECT Id, Orgforge_Key__c FROM Account WHERE Orgforge_Key__c IN ({keys})",
                    100,
                ),
                (
                    "ORDER BY Name DESC LIMIT 10",
                    "SELECT Id FROM Account ORDER BY Name DESC LIMIT 10",
                    10,
                ),
                (
                    "Owner.Name filter (subquery)",
                    "SELECT Id FROM Account WHERE Owner.Name = 'nobody' LIMIT 10",
                    0,
                ),
            ]
            for label, soql, expect in cases:
                median, best = _time(api, soql, expect)
                print(f"{rows:>7} {label:<34} {median:>10.1f} {best:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
