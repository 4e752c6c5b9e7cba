"""Background operations over the API: generate with live progress, load into the Salesforce
sandbox (dry run first), cancel, bad input refused with nothing written, and finished ones kept
across a restart."""

from __future__ import annotations

import sqlite3
import threading

import httpx
import pytest

from orgforge.web import ops as web_ops
from orgforge.web import run_in_thread
from tests.web.conftest import org_count, settings_for, wait_op


def _rows(world: str) -> list[tuple]:
    with sqlite3.connect(world) as conn:
        return conn.execute('SELECT "id", "kind", "state" FROM "web_ops" ORDER BY "id"').fetchall()


def _generated(api) -> dict:
    started = api.post("/api/ops", json={"kind": "generate", "params": {"preset": "tiny"}})
    return wait_op(api, started.json()["id"])


def test_generate_runs_in_the_background_with_progress_over_sse(server, api, tmp_path):
    started = api.post("/api/ops", json={"kind": "generate", "params": {"preset": "tiny"}})
    assert started.status_code == 202
    op = started.json()
    assert op["state"] == "running" and op["id"] == "op-1"
    with api.stream("GET", f"/api/ops/{op['id']}/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        from tests.web.conftest import events

        seen = events(response, lambda name, data: name == "end")
    final = seen[-1][1]
    assert seen[-1][0] == "end" and final["state"] == "ok", final
    # progress only grows, and ends at the preset's 10 accounts
    done = [data["progress"].get("accounts", [0])[0] for _, data in seen]
    assert done == sorted(done) and final["progress"]["accounts"] == [10, 10]
    assert final["result"]["counts"]["Account"] == 10
    assert (tmp_path / "runs" / final["run_id"] / "summary.json").exists()
    assert final["run_dir"].endswith(final["run_id"])
    # the world page shows it now
    stats = api.get("/api/world").json()
    assert {r["object"]: r["count"] for r in stats["counts"]}["Account"] == 10
    assert api.get("/api/world/check").json()["ok"] is True


def test_bad_input_is_refused_with_error_and_hint_and_writes_nothing(server, api):
    bad = api.post("/api/ops", json={"kind": "generate", "params": {"preset": "huge"}})
    assert bad.status_code == 400
    body = bad.json()
    assert "preset" in body["error"] and body["hint"]
    assert api.post("/api/ops", json={"kind": "explode"}).status_code == 422
    secret = api.post("/api/ops", json={"kind": "load", "secrets": {"password": "x"}})
    assert secret.status_code == 400 and "password" in secret.json()["error"]
    assert _rows(server.settings.world) == []
    assert api.get("/api/ops/op-9").status_code == 404
    assert api.post("/api/ops/op-9/cancel").status_code == 404
    assert api.get("/api/ops/op-9/events").status_code == 404


def test_load_into_the_sandbox_dry_run_first_then_for_real(server, api, tmp_path):
    from orgforge.sandbox.salesforce import EXAMPLE_SCHEMA, SandboxConfig
    from orgforge.sandbox.salesforce import run_in_thread as sandbox

    assert _generated(api)["state"] == "ok"
    with sandbox(SandboxConfig(db_path=tmp_path / "org.db", schema=EXAMPLE_SCHEMA)) as sb:
        target = {"instance_url": sb.instance_url, "auth": "token"}
        body = {"kind": "load", "params": {**target, "dry_run": True}}
        body["secrets"] = {"access_token": sb.token}
        dry = wait_op(api, api.post("/api/ops", json=body).json()["id"])
        assert dry["state"] == "ok", dry["message"]
        planned = {name: t["total"] - t["already"] for name, t in dry["result"]["objects"].items()}
        assert planned["Account"] == 10 and dry["result"]["dry_run"] is True
        assert "access_token" not in str(dry) and sb.token not in str(dry)
        assert sb.token not in str(_rows(server.settings.world))
        assert org_count(sb, "Account") == 0  # the dry run wrote nothing
        real = dict(body, params={**target, "dry_run": False})
        loaded = wait_op(api, api.post("/api/ops", json=real).json()["id"])
        assert loaded["state"] == "ok", loaded["message"]
        # the standard price book is the org's own: adopted, never created
        created = {
            name: t["created"] + t["adopted"] for name, t in loaded["result"]["objects"].items()
        }
        assert created == planned
        assert org_count(sb, "Account") == 10


def test_cancel_stops_an_operation_at_its_next_progress_step(server, api, monkeypatch):
    """An operation whose progress steps wait on the test: cancel lands between two steps."""
    step = threading.Event()
    steps_done: list[int] = []

    def slow(settings, params, env, progress):
        for n in range(1000):
            step.wait(5)
            step.clear()
            progress.advance("items")
            steps_done.append(n)
        return {"never": True}, None

    monkeypatch.setitem(web_ops.RUNNERS, "generate", slow)
    op = api.post("/api/ops", json={"kind": "generate", "params": {}}).json()
    step.set()
    assert api.post(f"/api/ops/{op['id']}/cancel").json()["id"] == op["id"]
    step.set()
    final = wait_op(api, op["id"])
    assert final["state"] == "cancelled" and "cancelled" in final["message"]
    assert len(steps_done) < 3  # it stopped at the first step after the cancel


def test_finished_operations_survive_a_restart_and_running_ones_are_marked(tmp_path):
    settings = settings_for(tmp_path)
    with run_in_thread(settings) as web:
        headers = {"Authorization": f"Bearer {web.token}"}
        with httpx.Client(base_url=web.url, headers=headers, timeout=60) as client:
            assert _generated(client)["state"] == "ok"
    # a server killed mid-operation leaves a running row behind
    with sqlite3.connect(settings.world) as conn:
        conn.execute(
            'INSERT INTO "web_ops" ("id", "kind", "params", "state", "progress", "created_at") '
            "VALUES ('op-2', 'load', '{}', 'running', '{}', '2026-12-04T00:00:00Z')"
        )
    with run_in_thread(settings) as web:
        headers = {"Authorization": f"Bearer {web.token}"}
        with httpx.Client(base_url=web.url, headers=headers) as client:
            listed = {o["id"]: o for o in client.get("/api/ops").json()}
    assert listed["op-1"]["state"] == "ok" and listed["op-1"]["result"]["counts"]["Account"] == 10
    assert listed["op-2"]["state"] == "failed" and "server stopped" in listed["op-2"]["message"]


@pytest.mark.parametrize("kind", ["validate", "cleanup"])
def test_an_unknown_target_is_refused_before_anything_runs(server, api, kind):
    bad = api.post("/api/ops", json={"kind": kind, "params": {"target": "nowhere"}})
    assert bad.status_code == 400 and "nowhere" in bad.json()["error"]
    assert _rows(server.settings.world) == []
