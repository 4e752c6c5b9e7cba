"""The wire format over plain HTTP (httpx): envelope, opt_fields, pagination, errors, limits."""

from __future__ import annotations

import base64
import json
import threading
import time

import httpx
import pytest

from orgforge.clock import SimulatedClock
from orgforge.errors import ConfigError
from orgforge.sandbox.asana import SandboxConfig, run_in_thread
from orgforge.sandbox.asana.api import HELP
from orgforge.sandbox.asana.limits import Concurrency, RateLimiter, parse_faults

from .conftest import stats, team_gid


def _project(http: httpx.Client, sb) -> str:
    response = http.post("/projects", json={"data": {"name": "P", "team": team_gid(sb)}})
    assert response.status_code == 201, response.text
    return response.json()["data"]["gid"]


def _only_error(response: httpx.Response) -> str:
    body = response.json()
    assert list(body) == ["errors"] or set(body) == {"errors", "sync"}, body
    (error,) = body["errors"]
    assert error["help"] == HELP
    return error["message"]


def test_envelope_string_gids_location_and_compact_lists(sb, http):
    project = _project(http, sb)
    created = http.post("/tasks", json={"data": {"name": "T", "projects": [project]}})
    assert created.status_code == 201
    task = created.json()["data"]
    assert isinstance(task["gid"], str) and task["resource_type"] == "task"
    assert created.headers["Location"].endswith(f"/api/1.0/tasks/{task['gid']}")
    listed = http.get(f"/projects/{project}/tasks").json()
    compact = {"gid": task["gid"], "resource_type": "task", "name": "T"}
    assert listed == {"data": [{**compact, "resource_subtype": "default_task"}]}
    picked = http.get(
        f"/tasks/{task['gid']}", params={"opt_fields": "name,memberships.project.name"}
    ).json()["data"]
    assert picked == {
        "gid": task["gid"],
        "name": "T",
        "memberships": [{"project": {"gid": project, "name": "P"}}],
    }
    pretty = http.get("/users/me", params={"opt_pretty": "true"})
    assert pretty.text.startswith('{\n  "data"')


def test_form_encoded_bodies_are_accepted(sb, http):
    response = http.post(
        "/tags", data={"workspace": sb.workspace_gid, "name": "form-made"}, headers={}
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"]["name"] == "form-made"


def test_pagination_next_page_and_bad_limits_and_offsets(sb, http):
    project = _project(http, sb)
    for i in range(5):
        http.post("/tasks", json={"data": {"name": f"T{i}", "projects": [project]}})
    first = http.get(f"/projects/{project}/tasks", params={"limit": 2}).json()
    assert [t["name"] for t in first["data"]] == ["T0", "T1"]
    next_page = first["next_page"]
    assert next_page["path"].startswith(f"/projects/{project}/tasks?")
    assert next_page["uri"] == sb.base_url + next_page["path"]
    names = [t["name"] for t in first["data"]]
    while next_page:
        page = http.get(next_page["uri"]).json()
        names += [t["name"] for t in page["data"]]
        next_page = page["next_page"]
    assert names == [f"T{i}" for i in range(5)]
    assert "next_page" not in http.get(f"/projects/{project}/tasks").json()  # no limit
    for limit in (0, 101):
        response = http.get(f"/projects/{project}/tasks", params={"limit": limit})
        assert response.status_code == 400
        assert _only_error(response).startswith("limit: Must be between 1 and 100")
    response = http.get(f"/projects/{project}/tasks", params={"limit": 2, "offset": "garbage"})
    assert response.status_code == 400 and "offset" in _only_error(response)
    token = json.dumps({"after": first["data"][0]["gid"], "t": time.time() - 7200}).encode()
    stale = base64.urlsafe_b64encode(token).decode().rstrip("=")
    response = http.get(f"/projects/{project}/tasks", params={"limit": 2, "offset": stale})
    assert response.status_code == 400 and "expired" in _only_error(response)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("GET", "/tasks/123", None, 404, "task: Unknown object: 123"),
        ("GET", "/tasks/abc", None, 400, "task: Not a recognized ID: abc"),
        ("POST", "/tasks", {"name": "x"}, 400, "workspace: Missing input"),
        ("GET", "/tasks", None, 400, "Must specify exactly one of project"),
        ("POST", "/tasks", {"name": "x", "due_on": "soon", "workspace": "W"}, 400, "due_on"),
        ("POST", "/status_updates", {"text": "x"}, 400, "parent: Missing input"),
        ("GET", "/nowhere", None, 404, "No matching route for request"),
    ],
)
def test_error_bodies_and_statuses(sb, http, method, path, body, status, message):
    if body and body.get("workspace") == "W":
        body["workspace"] = sb.workspace_gid
    response = http.request(method, path, json={"data": body} if body is not None else None)
    assert response.status_code == status, response.text
    assert _only_error(response).startswith(message)


def test_401_for_missing_and_unknown_tokens(sb):
    for headers in ({}, {"Authorization": "Bearer nope"}):
        response = httpx.get(f"{sb.base_url}/users/me", headers=headers)
        assert response.status_code == 401
        assert _only_error(response) == "Not Authorized"


def test_403_editing_someone_elses_comment(sb, http):
    project = _project(http, sb)
    task = http.post("/tasks", json={"data": {"name": "T", "projects": [project]}}).json()["data"]
    story = http.post(f"/tasks/{task['gid']}/stories", json={"data": {"text": "mine"}}).json()
    ben = {"Authorization": f"Bearer {sb.people[1].token}"}
    response = httpx.delete(f"{sb.base_url}/stories/{story['data']['gid']}", headers=ben)
    assert response.status_code == 403
    assert "your own comments" in _only_error(response)


def test_412_puts_the_sync_token_at_the_top_level(sb, http):
    project = _project(http, sb)
    response = http.get("/events", params={"resource": project})
    assert response.status_code == 412
    body = response.json()
    assert body["errors"][0]["message"].startswith("Sync token invalid or too old")
    assert isinstance(body["sync"], str) and body["sync"]
    ok = http.get("/events", params={"resource": project, "sync": body["sync"]}).json()
    assert ok["data"] == [] and ok["has_more"] is False and ok["sync"]


def test_events_stop_at_100_per_sync_token_with_has_more(sb, http):
    project = _project(http, sb)
    token = http.get("/events", params={"resource": project}).json()["sync"]
    for start in range(0, 110, 10):
        actions = [
            {
                "relative_path": "/tasks",
                "method": "post",
                "data": {"name": f"T{i}", "projects": [project]},
            }
            for i in range(start, start + 10)
        ]
        assert http.post("/batch", json={"data": {"actions": actions}}).status_code == 200
    first = http.get("/events", params={"resource": project, "sync": token}).json()
    assert len(first["data"]) == 100 and first["has_more"] is True
    rest = http.get("/events", params={"resource": project, "sync": first["sync"]}).json()
    assert len(rest["data"]) == 10 and rest["has_more"] is False
    names = [e["resource"]["name"] for e in first["data"] + rest["data"]]
    assert names == [f"T{i}" for i in range(110)]


def test_rate_limit_429_body_retry_after_and_batch_counts_each_action(tmp_path):
    config = SandboxConfig(db_path=tmp_path / "a.db", users=2, tier="free")
    with run_in_thread(config) as sb:
        me = [{"relative_path": "/users/me", "method": "get"}] * 10
        with httpx.Client(base_url=sb.base_url, headers=sb.headers) as http:
            for _ in range(15):  # 15 batches of 10 = the free tier's 150 per minute
                assert http.post("/batch", json={"data": {"actions": me}}).status_code == 200
            refused = http.get("/users/me")
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert _only_error(refused).startswith("You've made too many requests")
        # The limit is per token: another person's token still gets through.
        other = httpx.get(
            f"{sb.base_url}/users/me", headers={"Authorization": f"Bearer {sb.people[1].token}"}
        )
        assert other.status_code == 200
        assert stats(sb)["rate_limit_per_minute"] == 150


def test_rate_limiter_counts_refusals_and_says_when_to_come_back():
    clock = SimulatedClock()
    limiter = RateLimiter(3, 60, clock=clock)
    assert [limiter.take("t") for _ in range(3)] == [None, None, None]
    assert limiter.take("t") == 60
    clock.advance(30)
    assert limiter.take("t") == 30  # the refused one counted: still three in the window
    clock.advance(29)
    assert limiter.take("t") == 1  # t=0's four still fill the window (refusals count)
    clock.advance(1)
    assert limiter.take("t") is None  # when Retry-After said: only t=30 and t=59 are left
    assert limiter.take("t", 2) is not None  # a batch larger than what is left


def test_concurrency_limit_per_token_and_kind():
    limits = Concurrency(max_reads=2, max_writes=1)
    assert limits.enter("a", "read") and limits.enter("a", "read")
    assert not limits.enter("a", "read")
    assert limits.enter("b", "read")  # another token has its own allowance
    assert limits.enter("a", "write") and not limits.enter("a", "write")
    limits.leave("a", "read")
    assert limits.enter("a", "read")


def test_concurrent_writes_over_the_limit_get_429(tmp_path):
    config = SandboxConfig(db_path=tmp_path / "a.db", users=1, max_writes=1)
    with run_in_thread(config) as sb:
        barrier = threading.Barrier(8)
        statuses: list[int] = []

        def post() -> None:
            with httpx.Client(base_url=sb.base_url, headers=sb.headers) as http:
                barrier.wait()
                body = {"data": {"workspace": sb.workspace_gid, "name": "t"}}
                statuses.append(http.post("/tags", json=body).status_code)

        threads = [threading.Thread(target=post) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses.count(201) >= 1
        assert set(statuses) <= {201, 429}
        assert stats(sb)["peak_in_flight"]["write"] == 1


def test_fault_injection_is_seeded_and_counted(tmp_path):
    def run(seed: int) -> list[int]:
        config = SandboxConfig(
            db_path=tmp_path / f"f{seed}-{len(list(tmp_path.iterdir()))}.db",
            users=1,
            faults="429=0.2,500=0.1,503=0.1",
            seed=seed,
        )
        with run_in_thread(config) as sb, httpx.Client(headers=sb.headers) as http:
            codes = [http.get(f"{sb.base_url}/users/me").status_code for _ in range(60)]
            figures = stats(sb)["requests"]
            assert figures["faults"] == {
                k: codes.count(int(k)) for k in ("429", "500", "503") if int(k) in codes
            }
            failing = http.get(f"{sb.base_url}/users/me")
            while failing.status_code != 500:
                failing = http.get(f"{sb.base_url}/users/me")
            assert failing.json()["errors"][0]["phrase"]
            return codes

    first, again = run(7), run(7)
    assert first == again
    assert set(first) == {200, 429, 500, 503}


def test_bad_fault_specs_are_config_errors():
    for spec in ("429", "418=0.1", "429=2", "429=0.6,500=0.6", "429=x"):
        with pytest.raises(ConfigError):
            parse_faults(spec)
    assert parse_faults("429=0.1, retry_after=3") == {"429": 0.1, "retry_after": 3.0}


def test_admin_routes_need_the_admin_token(sb, http):
    assert httpx.get(f"{sb.url}/_sandbox/health").json() == {"status": "ok"}
    for path in ("/_sandbox/stats", "/_sandbox/tokens"):
        assert httpx.get(f"{sb.url}{path}").status_code == 401
        assert httpx.get(f"{sb.url}{path}", headers=sb.headers).status_code == 401
    _project(http, sb)
    tokens = httpx.get(f"{sb.url}/_sandbox/tokens", headers=sb.admin_headers).json()["data"]
    assert [t["token"] for t in tokens] == [p.token for p in sb.people]
    reset = httpx.post(f"{sb.url}/_sandbox/reset", headers=sb.admin_headers).json()
    assert "project" not in reset["records"] and reset["records"]["user"] == 3
    assert http.get("/users/me").status_code == 200  # people and tokens survive a reset
    ben = sb.people[1].token
    revoked = httpx.post(f"{sb.url}/_sandbox/revoke", json={"token": ben}, headers=sb.admin_headers)
    assert revoked.json() == {"revoked": True}
    assert (
        httpx.get(f"{sb.base_url}/users/me", headers={"Authorization": f"Bearer {ben}"}).status_code
        == 401
    )


def test_seed_file_and_reopening_an_existing_sandbox_file(tmp_path):
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        "workspace: {name: Northwind, email_domain: northwind.test, premium: false}\n"
        "teams: [Ops]\n"
        "users:\n  - {name: Zoe Quinn, token: zoe-token}\n  - Yan Li\n"
    )
    db = tmp_path / "a.db"
    with run_in_thread(SandboxConfig(db_path=db, seed_file=seed)) as sb:
        assert [p.name for p in sb.people] == ["Zoe Quinn", "Yan Li"]
        assert sb.token == "zoe-token"
        me = httpx.get(f"{sb.base_url}/users/me", headers=sb.headers).json()["data"]
        assert me["email"] == "zoe.quinn@northwind.test"
        body = {"data": {"name": "kept", "team": team_gid(sb, "Ops")}}
        assert httpx.post(f"{sb.base_url}/projects", json=body, headers=sb.headers).is_success
    with run_in_thread(SandboxConfig(db_path=db, users=1)) as sb:
        assert [p.name for p in sb.people] == ["Zoe Quinn", "Yan Li"]  # the file's seed stays
        projects = httpx.get(
            f"{sb.base_url}/projects", params={"workspace": sb.workspace_gid}, headers=sb.headers
        ).json()["data"]
        assert [p["name"] for p in projects] == ["kept"]
