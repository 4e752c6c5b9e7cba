"""The Asana sandbox reads time only from its clock: a simulated one drives timestamps, sync
tokens' and offsets' expiry, Retry-After and webhook retries without anyone sleeping."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from orgforge.clock import SimulatedClock
from orgforge.sandbox.asana import AsanaSandbox, SandboxConfig, run_in_thread
from orgforge.sandbox.asana.api import OFFSET_TTL, SYNC_EXPIRED, SYNC_TTL
from orgforge.sandbox.asana.webhooks import GIVE_UP_AFTER

from .conftest import team_gid
from .test_webhooks import Receiver

START = "2031-05-06T07:08:09Z"


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
def sb(tmp_path, clock) -> Iterator[AsanaSandbox]:
    config = SandboxConfig(db_path=tmp_path / "asana.db", users=2, clock=clock)
    with run_in_thread(config) as box:
        yield box


@pytest.fixture
def http(sb) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sb.base_url, headers=sb.headers, timeout=30) as client:
        yield client


def _project(http: httpx.Client, sb: AsanaSandbox) -> str:
    response = http.post("/projects", json={"data": {"name": "P", "team": team_gid(sb)}})
    assert response.status_code == 201, response.text
    return response.json()["data"]["gid"]


def _new_task(http: httpx.Client, project: str, name: str) -> dict:
    response = http.post("/tasks", json={"data": {"name": name, "projects": [project]}})
    assert response.status_code == 201, response.text
    return response.json()["data"]


def test_created_and_modified_at_are_the_clocks_time(sb, http, clock):
    project = _project(http, sb)
    task = _new_task(http, project, "Clockwork")
    assert task["created_at"] == task["modified_at"] == "2031-05-06T07:08:09.000Z"
    clock.advance(3 * 86400 + 0.25)
    body = {"data": {"completed": True}}
    done = http.put(f"/tasks/{task['gid']}", json=body).json()["data"]
    assert done["created_at"] == "2031-05-06T07:08:09.000Z"
    assert done["modified_at"] == done["completed_at"] == "2031-05-09T07:08:09.250Z"
    story = http.post(f"/tasks/{task['gid']}/stories", json={"data": {"text": "on time"}})
    assert story.json()["data"]["created_at"] == "2031-05-09T07:08:09.250Z"
    events = sb.state.store.events_for(project, 0, 10)
    assert {e["created_at"][:10] for _, e in events} == {"2031-05-06", "2031-05-09"}


def test_a_sync_token_older_than_the_sync_window_expires_with_412(sb, http, clock):
    project = _project(http, sb)
    first = http.get("/events", params={"resource": project})
    assert first.status_code == 412
    token = first.json()["sync"]
    _new_task(http, project, "seen in time")
    clock.advance(SYNC_TTL - 1)  # a second short of a day: still good
    fresh = http.get("/events", params={"resource": project, "sync": token})
    assert fresh.status_code == 200
    assert [e["resource"]["name"] for e in fresh.json()["data"]] == ["seen in time"]
    token = fresh.json()["sync"]
    _new_task(http, project, "missed")
    clock.advance(SYNC_TTL + 1)  # the day has gone by: the events behind this token are gone
    stale = http.get("/events", params={"resource": project, "sync": token})
    assert stale.status_code == 412
    body = stale.json()
    assert body["errors"][0]["message"] == SYNC_EXPIRED
    assert body["sync"] and body["sync"] != token
    # the new token starts from now: the missed event is not replayed, a later one is
    _new_task(http, project, "after the resync")
    again = http.get("/events", params={"resource": project, "sync": body["sync"]}).json()
    assert [e["resource"]["name"] for e in again["data"]] == ["after the resync"]


def test_a_pagination_offset_expires_on_the_clock(sb, http, clock):
    project = _project(http, sb)
    for i in range(3):
        _new_task(http, project, f"T{i}")
    offset = http.get(f"/projects/{project}/tasks", params={"limit": 1}).json()["next_page"]
    clock.advance(OFFSET_TTL - 1)
    page = http.get(f"/projects/{project}/tasks", params={"limit": 1, "offset": offset["offset"]})
    assert page.status_code == 200 and page.json()["data"][0]["name"] == "T1"
    clock.advance(2)
    page = http.get(f"/projects/{project}/tasks", params={"limit": 1, "offset": offset["offset"]})
    assert page.status_code == 400
    assert "expired" in page.json()["errors"][0]["message"]


def test_the_rate_limit_window_and_retry_after_run_on_the_clock(tmp_path, clock):
    config = SandboxConfig(db_path=tmp_path / "r.db", users=1, rate_limit=3, clock=clock)
    with (
        run_in_thread(config) as sb,
        httpx.Client(base_url=sb.base_url, headers=sb.headers, timeout=30) as http,
    ):
        assert [http.get("/users/me").status_code for _ in range(3)] == [200, 200, 200]
        refused = http.get("/users/me")
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
        clock.advance(45)
        again = http.get("/users/me")  # refusals count: four in the window, 15 s to go
        assert again.status_code == 429 and again.headers["Retry-After"] == "15"
        clock.advance(14)
        assert http.get("/users/me").status_code == 429  # a second early
        clock.advance(1)  # when Retry-After said: t=0's four have aged out
        assert http.get("/users/me").status_code == 200


def _webhook(http: httpx.Client, gid: str) -> dict:
    return http.get(f"/webhooks/{gid}").json()["data"]


def _until(check, seconds: float = 15.0):
    """The delivery thread runs on its own: wait (real time, generously) until it has acted."""
    deadline = time.monotonic() + seconds
    while not (result := check()):
        assert time.monotonic() < deadline, "the delivery thread did not act"
        time.sleep(0.02)
    return result


def test_webhook_retries_are_due_and_given_up_on_the_clock(tmp_path, clock):
    receiver = Receiver()
    receiver.thread.start()
    receiver.fail_next = 10**6  # the target is down for good
    config = SandboxConfig(db_path=tmp_path / "w.db", users=1, clock=clock, webhook_backoff=60)
    try:
        with (
            run_in_thread(config) as sb,
            httpx.Client(base_url=sb.base_url, headers=sb.headers, timeout=30) as http,
        ):
            project = _project(http, sb)
            body = {"data": {"resource": project, "target": receiver.url}}
            hook = http.post("/webhooks", json=body).json()["data"]
            _new_task(http, project, "undeliverable")
            failed = _until(lambda: _webhook(http, hook["gid"]).get("last_failure_at") or None)
            assert failed == "2031-05-06T07:08:09.000Z"
            state = _webhook(http, hook["gid"])
            assert state["next_attempt_after"] == "2031-05-06T07:09:09.000Z"  # a minute on
            assert state["delivery_retry_count"] == 1 and receiver.failed == 1
            clock.advance(GIVE_UP_AFTER)  # a day without a delivery: Asana gives up
            _until(lambda: _webhook(http, hook["gid"])["active"] is False)
            state = _webhook(http, hook["gid"])
            assert state["last_failure_at"] == "2031-05-07T07:08:09.000Z"
            assert receiver.failed == 2 and sb.state.api.deliveries.idle()
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def test_the_seed_is_stamped_with_the_clocks_time(sb):
    assert sb.state.store.get_meta("seeded") == "2031-05-06T07:08:09.000Z"
