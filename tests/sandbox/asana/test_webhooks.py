"""Webhooks against an in-test receiver on 127.0.0.1: handshake, signatures, retries."""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from orgforge.sandbox.asana import SandboxConfig, run_in_thread

from .conftest import team_gid


class Receiver:
    """A webhook receiver: echoes X-Hook-Secret, keeps deliveries, can fail on purpose."""

    def __init__(self) -> None:
        self.secret: str | None = None
        self.echo = True
        self.fail_next = 0
        self.deliveries: queue.Queue[tuple[bytes, str]] = queue.Queue()
        self.failed = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                secret = self.headers.get("X-Hook-Secret")
                if secret is not None:
                    receiver.secret = secret
                    self.send_response(200)
                    if receiver.echo:
                        self.send_header("X-Hook-Secret", secret)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if receiver.fail_next:
                    receiver.fail_next -= 1
                    receiver.failed += 1
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                receiver.deliveries.put((body, self.headers.get("X-Hook-Signature", "")))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def next_events(self, timeout: float = 10.0) -> list[dict]:
        body, signature = self.deliveries.get(timeout=timeout)
        assert self.secret is not None
        expected = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(signature, expected), "X-Hook-Signature does not match"
        return json.loads(body)["events"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def _project(http: httpx.Client, sb) -> str:
    body = {"data": {"name": "Hooked", "team": team_gid(sb)}}
    return http.post("/projects", json=body).json()["data"]["gid"]


def test_handshake_then_signed_deliveries_of_the_resources_events(sb, http, receiver):
    project = _project(http, sb)
    created = http.post("/webhooks", json={"data": {"resource": project, "target": receiver.url}})
    assert created.status_code == 201, created.text
    hook = created.json()["data"]
    assert hook["active"] is True and hook["resource"]["gid"] == project
    assert created.headers["X-Hook-Secret"] == receiver.secret  # the handshake came first
    assert "_secret" not in hook

    task = http.post("/tasks", json={"data": {"name": "Ping", "projects": [project]}}).json()
    events = receiver.next_events()
    assert events[0]["action"] == "added"
    assert events[0]["resource"] == {
        "gid": task["data"]["gid"],
        "resource_type": "task",
        "resource_subtype": "default_task",
        "name": "Ping",
    }
    listed = http.get("/webhooks", params={"workspace": sb.workspace_gid}).json()["data"]
    assert [h["gid"] for h in listed] == [hook["gid"]]
    assert http.delete(f"/webhooks/{hook['gid']}").status_code == 200


def test_filters_pick_the_events_delivered(sb, http, receiver):
    project = _project(http, sb)
    body = {
        "resource": project,
        "target": receiver.url,
        "filters": [{"resource_type": "story", "action": "added"}],
    }
    assert http.post("/webhooks", json={"data": body}).status_code == 201
    task = http.post("/tasks", json={"data": {"name": "T", "projects": [project]}}).json()["data"]
    http.post(f"/tasks/{task['gid']}/stories", json={"data": {"text": "hello"}})
    events = receiver.next_events()
    assert [(e["resource"]["resource_type"], e["action"]) for e in events] == [("story", "added")]
    assert receiver.deliveries.empty()


def test_a_handshake_without_the_echo_fails_creation(sb, http, receiver):
    receiver.echo = False
    project = _project(http, sb)
    response = http.post("/webhooks", json={"data": {"resource": project, "target": receiver.url}})
    assert response.status_code == 400
    assert "did not echo the X-Hook-Secret" in response.json()["errors"][0]["message"]
    assert http.get("/webhooks", params={"workspace": sb.workspace_gid}).json()["data"] == []


def test_an_unreachable_target_fails_creation(sb, http):
    project = _project(http, sb)
    body = {"data": {"resource": project, "target": "http://127.0.0.1:9/nothing"}}
    response = http.post("/webhooks", json=body)
    assert response.status_code == 400
    assert "could not reach" in response.json()["errors"][0]["message"]


def test_a_failed_delivery_is_retried_and_recorded(tmp_path, receiver):
    config = SandboxConfig(db_path=tmp_path / "a.db", users=1, webhook_backoff=0.05)
    with (
        run_in_thread(config) as sb,
        httpx.Client(base_url=sb.base_url, headers=sb.headers) as http,
    ):
        _retried(sb, http, receiver)


def _retried(sb, http, receiver) -> None:
    project = _project(http, sb)
    hook = http.post(
        "/webhooks", json={"data": {"resource": project, "target": receiver.url}}
    ).json()["data"]
    receiver.fail_next = 1
    http.post("/tasks", json={"data": {"name": "Retry me", "projects": [project]}})
    events = receiver.next_events(timeout=15)  # the retry comes after the back-off
    assert events[0]["resource"]["name"] == "Retry me"
    assert receiver.failed == 1
    state = http.get(f"/webhooks/{hook['gid']}").json()["data"]
    assert state["last_failure_at"] and state["last_failure_content"] == "HTTP 500"
