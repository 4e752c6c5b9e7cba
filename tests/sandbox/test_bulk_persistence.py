"""Bulk 2.0 jobs outlive a sandbox restart, as in a real org (they used to live in memory)."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import time

import httpx

from orgforge.sandbox.salesforce import EXAMPLE_SCHEMA, SandboxConfig, run_in_thread
from tests.sandbox.helpers import wait_for_job


def _client(sb) -> httpx.Client:
    return httpx.Client(base_url=sb.base_url, headers=sb.headers, timeout=30)


def _ingest(api, data: str, *, close: bool = True) -> str:
    job = api.post("/jobs/ingest", json={"object": "Account", "operation": "insert"}).json()
    put = api.put(
        f"/jobs/ingest/{job['id']}/batches", content=data, headers={"Content-Type": "text/csv"}
    )
    assert put.status_code == 201, put.text
    if close:
        api.patch(f"/jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
        wait_for_job(api, f"/jobs/ingest/{job['id']}")
    return job["id"]


def _count(api, soql: str) -> int:
    return api.get("/query", params={"q": soql}).json()["totalSize"]


def test_jobs_results_and_open_uploads_survive_a_restart(tmp_path):
    config = SandboxConfig(db_path=tmp_path / "org.db", schema=EXAMPLE_SCHEMA, token="T")
    with run_in_thread(config) as sb, _client(sb) as api:
        done = _ingest(api, "Name,Orgforge_Key__c\nAcme,A1\nGlobex,A2\n,A3\n")  # A3: no Name
        query = api.post(
            "/jobs/query",
            json={"operation": "query", "query": "SELECT Name FROM Account ORDER BY Name"},
        ).json()["id"]
        wait_for_job(api, f"/jobs/query/{query}")
        first_page = api.get(f"/jobs/query/{query}/results", params={"maxRecords": "1"})
        pending = _ingest(api, "Name,Orgforge_Key__c\nInitech,A4\n", close=False)
        before = {
            "done": api.get(f"/jobs/ingest/{done}").json(),
            "query": api.get(f"/jobs/query/{query}").json(),
            "pending": api.get(f"/jobs/ingest/{pending}").json(),
            "ok": api.get(f"/jobs/ingest/{done}/successfulResults").text,
            "failed": api.get(f"/jobs/ingest/{done}/failedResults").text,
            "ingest list": api.get("/jobs/ingest").json(),
            "query list": api.get("/jobs/query").json(),
        }
    assert before["done"]["numberRecordsFailed"] == 1 and before["query"]["state"] == "JobComplete"

    with run_in_thread(config) as sb, _client(sb) as api:
        after = {
            "done": api.get(f"/jobs/ingest/{done}").json(),
            "query": api.get(f"/jobs/query/{query}").json(),
            "pending": api.get(f"/jobs/ingest/{pending}").json(),
            "ok": api.get(f"/jobs/ingest/{done}/successfulResults").text,
            "failed": api.get(f"/jobs/ingest/{done}/failedResults").text,
            "ingest list": api.get("/jobs/ingest").json(),
            "query list": api.get("/jobs/query").json(),
        }
        assert after == before
        assert [r["sf__Id"][:3] for r in csv.DictReader(io.StringIO(after["ok"]))] == ["001"] * 2
        # the locator handed out before the restart still pages on
        locator = first_page.headers["Sforce-Locator"]
        second = api.get(f"/jobs/query/{query}/results", params={"locator": locator})
        assert second.status_code == 200 and second.text.splitlines()[1:] == ['"Globex"']
        # the upload made before the restart is still there to be processed
        api.patch(f"/jobs/ingest/{pending}", json={"state": "UploadComplete"})
        finished = wait_for_job(api, f"/jobs/ingest/{pending}")
        assert (finished["state"], finished["numberRecordsProcessed"]) == ("JobComplete", 1)
        assert _count(api, "SELECT Id FROM Account WHERE Name = 'Initech'") == 1
        # IDs stay unique across restarts
        fresh = api.post("/jobs/ingest", json={"object": "Account", "operation": "insert"}).json()
        assert fresh["id"] not in {done, query, pending}
        assert api.delete(f"/jobs/query/{query}").status_code == 204

    with run_in_thread(config) as sb, _client(sb) as api:  # a deleted job stays deleted
        assert api.get(f"/jobs/query/{query}").status_code == 404
        assert api.get(f"/jobs/ingest/{done}").status_code == 200


def test_a_job_interrupted_mid_run_resumes_after_its_last_committed_batch(tmp_path):
    """Batches commit their records and their results together, so a restart redoes nothing.

    The interruption is reproduced in the file: a 450-row job's last batch (rows 401-450) is
    taken back out, records and results, and the job marked InProgress, as a crash after the
    second batch's commit leaves it.
    """
    db = tmp_path / "org.db"
    config = SandboxConfig(db_path=db, schema=EXAMPLE_SCHEMA, token="T")
    rows = "".join(f"Company {i},K{i}\n" for i in range(450))
    with run_in_thread(config) as sb, _client(sb) as api:
        job = _ingest(api, "Name,Orgforge_Key__c\n" + rows)
        assert _count(api, "SELECT Id FROM Account") == 450

    with sqlite3.connect(db) as conn:
        chunks = conn.execute(
            "SELECT seq, rows FROM _bulk_results WHERE job_id = ? AND list = 'success' "
            "ORDER BY seq",
            (job,),
        ).fetchall()
        assert [len(json.loads(r)) for _, r in chunks] == [200, 200, 50]
        last_seq, last_rows = chunks[-1]
        last_ids = [row[0] for row in json.loads(last_rows)]
        conn.execute("DELETE FROM _bulk_results WHERE job_id = ? AND seq = ?", (job, last_seq))
        conn.executemany('DELETE FROM "Account" WHERE "Id" = ?', [(i,) for i in last_ids])
        (info,) = conn.execute("SELECT info FROM _bulk_jobs WHERE id = ?", (job,)).fetchone()
        interrupted = {**json.loads(info), "state": "InProgress", "numberRecordsProcessed": 400}
        conn.execute("UPDATE _bulk_jobs SET info = ? WHERE id = ?", (json.dumps(interrupted), job))

    with run_in_thread(config) as sb, _client(sb) as api:
        info = wait_for_job(api, f"/jobs/ingest/{job}")
        assert (info["state"], info["numberRecordsProcessed"]) == ("JobComplete", 450)
        assert _count(api, "SELECT Id FROM Account") == 450  # nothing written twice
        ok = list(
            csv.DictReader(io.StringIO(api.get(f"/jobs/ingest/{job}/successfulResults").text))
        )
        assert len(ok) == 450 and len({r["sf__Id"] for r in ok}) == 450
        assert {r["Orgforge_Key__c"] for r in ok} == {f"K{i}" for i in range(450)}


def test_stopping_mid_job_leaves_it_in_progress_and_the_next_start_finishes_it(tmp_path):
    """Shutdown lets the batch in progress commit, then stops; nothing is marked Failed."""
    config = SandboxConfig(db_path=tmp_path / "org.db", schema=EXAMPLE_SCHEMA, token="T")
    rows = "".join(f"Company {i},K{i}\n" for i in range(1000))  # five batches of 200
    with run_in_thread(config) as sb, _client(sb) as api:
        bulk = sb.state.bulk
        real_apply = bulk._apply
        applied = []

        def apply_then_shut_down(*args, **kwargs):
            applied.append(1)
            if len(applied) == 250:  # inside the second batch: the server is told to stop
                bulk.stopping = True
            return real_apply(*args, **kwargs)

        bulk._apply = apply_then_shut_down
        job = _ingest(api, "Name,Orgforge_Key__c\n" + rows, close=False)
        api.patch(f"/jobs/ingest/{job}", json={"state": "UploadComplete"})
        deadline = time.monotonic() + 20
        while api.get(f"/jobs/ingest/{job}").json()["numberRecordsProcessed"] < 400:
            assert time.monotonic() < deadline, "the second batch never committed"
            time.sleep(0.02)
        stopped = api.get(f"/jobs/ingest/{job}").json()
        assert (stopped["state"], stopped["numberRecordsProcessed"]) == ("InProgress", 400)

    with run_in_thread(config) as sb, _client(sb) as api:
        info = wait_for_job(api, f"/jobs/ingest/{job}")
        assert (info["state"], info["numberRecordsProcessed"]) == ("JobComplete", 1000)
        assert _count(api, "SELECT Id FROM Account") == 1000
        ok = api.get(f"/jobs/ingest/{job}/successfulResults").text
        assert ok.count("\n") == 1001
