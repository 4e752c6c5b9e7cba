"""Simulation jobs from the API: the server's own runner acts on the Asana sandbox, the live log
streams each action, and pause / resume / stop are obeyed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from orgforge.sandbox.asana import SandboxConfig
from orgforge.sandbox.asana import run_in_thread as asana_sandbox
from orgforge.web import run_in_thread
from tests.web.conftest import events, settings_for, write_config

# every hour is a working hour, and a week in the past is filled as fast as the sandbox answers
JOB = {
    "target": "asana",
    "rate": 20,
    "clock": "backfill:7d",
    "seed": 3,
    "schedule": {"timezone": "UTC", "start": 0, "end": 24},
}


@pytest.fixture
def asana_web(tmp_path) -> Iterator[tuple[Any, httpx.Client, Any]]:
    with asana_sandbox(SandboxConfig(db_path=tmp_path / "asana.db", users=3)) as sb:
        settings = settings_for(tmp_path, config=write_config(tmp_path, sb), environ=sb.env())
        with run_in_thread(settings) as web:
            headers = {"Authorization": f"Bearer {web.token}"}
            with httpx.Client(base_url=web.url, headers=headers, timeout=60) as client:
                yield web, client, sb


def _actions(client: httpx.Client, job_id: str, n: int) -> list[dict[str, Any]]:
    """The first ``n`` actions the job's live stream shows (it stops reading after them)."""
    with client.stream("GET", f"/api/jobs/{job_id}/events") as response:
        seen = events(response, lambda name, data: name == "action" and data["seq"] >= n - 1)
    return [data for name, data in seen if name == "action"]


def test_a_job_started_over_the_api_acts_and_obeys_pause_resume_stop(asana_web):
    _web, client, sb = asana_web
    created = client.post("/api/jobs", json=JOB)
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["state"] == "active" and job["id"] == "asana-1"
    first = _actions(client, job["id"], 3)
    assert [a["seq"] for a in first][:3] == [0, 1, 2]
    assert all(a["status"] in ("ok", "failed", "skipped") for a in first)
    assert all(a["behaviour"].startswith("asana.") for a in first)

    paused = client.post(f"/api/jobs/{job['id']}/pause").json()
    assert paused["state"] == "paused"
    log_at_pause = client.get(f"/api/jobs/{job['id']}/log", params={"limit": 10_000}).json()
    # the runner finishes at most the action it was sending, then nothing more is planned
    with client.stream("GET", f"/api/jobs/{job['id']}/events") as response:
        state = events(response, lambda name, data: name == "job")[-1][1]
    assert state["state"] == "paused"

    resumed = client.post(f"/api/jobs/{job['id']}/resume").json()
    assert resumed["state"] == "active"
    more = _actions(client, job["id"], len(log_at_pause) + 3)
    assert max(a["seq"] for a in more) >= len(log_at_pause) + 2

    stopped = client.post(f"/api/jobs/{job['id']}/stop").json()
    assert stopped["state"] == "stopped"
    listed = client.get("/api/jobs").json()
    assert [j["id"] for j in listed] == [job["id"]] and listed[0]["state"] == "stopped"
    # what the log says was created is in the sandbox workspace
    log = client.get(f"/api/jobs/{job['id']}/log", params={"limit": 10_000}).json()
    projects = [a for a in log if a["behaviour"] == "asana.project.create" and a["status"] == "ok"]
    assert len(sb.state.store.of_type("project")) >= len(projects) >= 1


def test_bad_job_specs_and_unknown_jobs_answer_cleanly(asana_web):
    _web, client, _sb = asana_web
    bad = client.post("/api/jobs", json={**JOB, "rate": -1})
    assert bad.status_code == 400 and "rate" in bad.json()["error"] and bad.json()["hint"]
    clock = client.post("/api/jobs", json={**JOB, "clock": "sometimes"})
    assert clock.status_code == 400 and "clock" in clock.json()["error"]
    assert client.get("/api/jobs").json() == []
    assert client.get("/api/jobs/asana-9").status_code == 404
    assert client.post("/api/jobs/asana-9/pause").status_code == 404
    assert client.get("/api/jobs/asana-9/events").status_code == 404
    assert client.post("/api/jobs/asana-9/explode").status_code == 422
