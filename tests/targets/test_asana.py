"""The Asana target against the Asana sandbox, through the official SDK (no mocks)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import asana
import httpx
import pytest

from orgforge.clock import SimulatedClock
from orgforge.config import Config
from orgforge.errors import AuthError
from orgforge.sandbox.asana import AsanaSandbox, SandboxConfig, run_in_thread
from orgforge.targets.asana import AsanaRecord, AsanaTarget, ClientRateLimiter, load_tokens
from orgforge.targets.asana.ops import cleanup, seed
from orgforge.targets.asana.sync import AsanaSync
from orgforge.world.store import World


def _config(tmp_path: Path, sb: AsanaSandbox, **asana_settings) -> Config:
    return Config.model_validate(
        {
            "world": str(tmp_path / "orgforge.db"),
            "runs_dir": str(tmp_path / "runs"),
            "as_of": "2026-11-02",
            "asana": {"url": sb.base_url, "tier": "paid", "tasks_per_project": 6, **asana_settings},
        }
    )


def _admin(sb: AsanaSandbox, path: str) -> dict:
    return httpx.get(f"{sb.url}{path}", headers=sb.admin_headers).json()


@pytest.fixture
def sb(tmp_path):
    with run_in_thread(SandboxConfig(db_path=tmp_path / "asana.db", users=4)) as box:
        yield box


def test_seed_creates_a_project_per_team_with_each_persona_acting_for_itself(tmp_path, sb):
    before = {p.gid: 0 for p in sb.people}
    report, run_dir = seed(_config(tmp_path, sb), environ=sb.env())

    assert not report.failed
    assert report.done["project"] == 3 and report.done["section"] == 12
    assert report.done["task"] == 18 and report.done["story"] >= 18
    counts = _admin(sb, "/_sandbox/stats")["records"]
    assert counts["project"] == 3 and counts["task"] == report.done["task"] + report.done["subtask"]
    # Comments are written by their authors' own tokens: several users wrote stories.
    by_user = Counter(
        s["created_by"] for s in sb.state.store.of_type("story") if s["type"] == "comment"
    )
    assert len(by_user) >= 3, by_user
    assert set(by_user) <= set(before)
    # Every gid is in the world's sync table, under the record's key.
    with World(tmp_path / "orgforge.db") as world:
        gids = AsanaSync(world).gids()
    assert len(gids) == sum(report.done.values())
    project_gid = gids["asana/marketing"]
    project = sb.state.store.get(project_gid)
    assert project["name"] == "Marketing: Q3 campaign launch"
    summary = json.loads((Path(run_dir) / "summary.json").read_text())
    assert summary["status"] == "ok" and summary["done"]["project"] == 3
    assert sb.token not in (Path(run_dir) / "config.resolved.yaml").read_text()


def test_seed_is_idempotent_and_cleanup_deletes_exactly_what_it_made(tmp_path, sb):
    client_cfg = asana.Configuration()
    client_cfg.host, client_cfg.access_token = sb.base_url, sb.token
    client = asana.ApiClient(client_cfg)
    team = next(t["gid"] for t in sb.state.store.of_type("team") if t["name"] == "Sales")
    theirs = asana.ProjectsApi(client).create_project_for_team(
        {"data": {"name": "Not orgforge's"}}, team, {}
    )
    config = _config(tmp_path, sb)
    first, _ = seed(config, environ=sb.env())
    again, _ = seed(config, environ=sb.env())
    assert sum(again.done.values()) == 0
    assert again.already == first.done

    dry, dry_dir = cleanup(config, dry_run=True, environ=sb.env())
    assert dry_dir is None and dry.done["project"] == 3
    report, _ = cleanup(config, environ=sb.env())

    assert not report.failed
    assert report.with_parent["story"] == first.done["story"]  # gone with their tasks
    left = sb.state.store.counts()
    assert [p["gid"] for p in sb.state.store.of_type("project")] == [theirs["gid"]]
    for kind in ("task", "section", "tag", "status_update"):
        assert left.get(kind, 0) == 0, (kind, left)
    assert [s for s in sb.state.store.of_type("story") if s["type"] == "comment"] == []
    with World(tmp_path / "orgforge.db") as world:
        assert AsanaSync(world).gids() == {}


def test_a_401_marks_that_personas_token_invalid_and_the_others_go_on(tmp_path, sb):
    env = sb.env()
    ben = next(p for p in sb.people if p.name == "Ben Ortiz")
    env[ben.env_name] = "2/0/revoked:token"
    report, run_dir = seed(_config(tmp_path, sb), environ=env)

    invalid = report.target["invalid_tokens"]
    assert list(invalid) == ["BEN_ORTIZ"]
    assert (
        "ORGFORGE_ASANA_TOKEN__BEN_ORTIZ" in invalid["BEN_ORTIZ"] and "401" in invalid["BEN_ORTIZ"]
    )
    assert report.failed and report.done["project"] == 3
    assert _admin(sb, "/_sandbox/stats")["requests"]["by_status"]["401"] == 1  # asked once
    errors = [json.loads(line) for line in (Path(run_dir) / "errors.jsonl").open()]
    assert {e["code"] for e in errors} == {"INVALID_TOKEN"}
    assert env[ben.env_name] not in (Path(run_dir) / "errors.jsonl").read_text()


def test_a_wrong_default_token_is_an_auth_error(tmp_path, sb):
    with pytest.raises(AuthError) as refused:
        seed(_config(tmp_path, sb), environ={"ORGFORGE_ASANA_TOKEN": "nope"})
    assert "ORGFORGE_ASANA_TOKEN" in refused.value.message
    assert not (tmp_path / "runs").exists()


def test_402_skips_custom_fields_and_reports_it(tmp_path):
    seed_file = tmp_path / "seed.yaml"
    seed_file.write_text(
        "workspace: {name: Free Co, premium: false}\nteams: [Ops]\nusers: [Ada Park]\n"
        "custom_fields: [{name: Priority, type: enum, options: [Low, High]}]\n"
    )
    with run_in_thread(SandboxConfig(db_path=tmp_path / "a.db", seed_file=seed_file)) as sb:
        field = sb.state.store.of_type("custom_field")[0]
        target = AsanaTarget(sb.base_url, load_tokens(sb.env()))
        records = [
            AsanaRecord(
                f"asana/ops/t{i}",
                "task",
                {
                    "name": f"T{i}",
                    "workspace": sb.workspace_gid,
                    "custom_fields": {field["gid"]: field["enum_options"][0]["gid"]},
                },
            )
            for i in range(3)
        ]
        results = target.create(records, {})
        assert all(r.ok for r in results)
        assert [r.extra.get("skipped") for r in results] == [["custom_fields"]] * 3
        assert target.report.skipped_features["custom_fields"] == 3
        statuses = _admin(sb, "/_sandbox/stats")["requests"]["by_status"]
        assert statuses["402"] == 1  # after the first 402 the feature is not tried again
        assert statuses["201"] == 3


def test_429s_are_retried_after_retry_after_on_the_injected_clock(tmp_path):
    config = SandboxConfig(
        db_path=tmp_path / "a.db", users=1, faults="429=0.3,retry_after=7", seed=3
    )
    with run_in_thread(config) as sb:
        fake = SimulatedClock()
        target = AsanaTarget(sb.base_url, load_tokens(sb.env()), clock=fake)
        records = [
            AsanaRecord(f"asana/x/t{i}", "task", {"name": f"T{i}", "workspace": sb.workspace_gid})
            for i in range(20)
        ]
        results = target.create(records, {})
        assert all(r.ok for r in results), [str(r.error) for r in results if not r.ok]
        injected = _admin(sb, "/_sandbox/stats")["requests"]["faults"]["429"]
        assert target.report.rate_limited == injected >= 1
        assert fake.slept.count(7.0) == injected  # each 429 waited exactly its Retry-After
        assert target.report.waited_seconds == pytest.approx(7.0 * injected)
        assert len(sb.state.store.of_type("task")) == 20  # no duplicates


def test_5xx_are_retried_with_backoff(tmp_path):
    config = SandboxConfig(db_path=tmp_path / "a.db", users=1, faults="500=0.2,503=0.2", seed=5)
    with run_in_thread(config) as sb:
        fake = SimulatedClock()
        target = AsanaTarget(sb.base_url, load_tokens(sb.env()), clock=fake)
        records = [
            AsanaRecord(f"asana/x/g{i}", "tag", {"name": f"g{i}", "workspace": sb.workspace_gid})
            for i in range(15)
        ]
        results = target.create(records, {})
        assert all(r.ok for r in results)
        assert target.report.retries >= 1 and fake.slept
        assert len(sb.state.store.of_type("tag")) == 15


def test_errors_are_per_record_and_children_of_a_failed_parent_fail_cleanly(tmp_path, sb):
    target = AsanaTarget(sb.base_url, load_tokens(sb.env()))
    records = [
        AsanaRecord("asana/x/t1", "task", {"name": "ok", "workspace": sb.workspace_gid}),
        AsanaRecord(
            "asana/x/t2",
            "task",
            {"name": "bad date", "due_on": "soon", "workspace": sb.workspace_gid},
        ),
        AsanaRecord("asana/x/t2/c1", "story", {"text": "hi"}, {"task": "asana/x/t2"}),
        AsanaRecord("asana/x/t1/c1", "story", {"text": "hi"}, {"task": "asana/x/t1"}),
    ]
    gids: dict[str, str] = {}
    results = target.create(records, gids)
    assert [r.ok for r in results] == [True, False, False, True]
    assert results[1].error.code == "HTTP_400" and "due_on" in results[1].error.message
    assert results[2].error.code == "MISSING_PARENT"
    assert set(gids) == {"asana/x/t1", "asana/x/t1/c1"}
    task = target.read("task", gids["asana/x/t1"], "name,completed")
    assert task == {"gid": gids["asana/x/t1"], "name": "ok", "completed": False}
    assert target.update("task", gids["asana/x/t1"], {"completed": True}).ok
    assert target.read("task", gids["asana/x/t1"], "completed")["completed"] is True
    refused = target.update("task", gids["asana/x/t1"], {"due_on": "never"})
    assert not refused.ok and refused.error.code == "HTTP_400"
    assert target.read("task", "999") is None
    (gone,) = target.delete("task", ["999"])
    assert gone.ok and gone.extra["already_gone"]  # 404: nothing left to delete


def test_the_client_limiter_stays_under_80_percent_of_the_quota():
    fake = SimulatedClock()
    limiter = ClientRateLimiter(150, 0.8, clock=fake)
    sent = []
    for _ in range(400):
        limiter.acquire("token")
        sent.append(fake.monotonic())
    for i, start in enumerate(sent):  # every 60-second window holds at most 120 requests
        assert sum(1 for t in sent[i:] if t < start + 60) <= 120
    assert fake.monotonic() - sent[0] >= 180  # 400 requests at 120/min need three full windows
    limiter.block("token", 30)
    before = fake.monotonic()
    limiter.acquire("token")
    assert fake.monotonic() >= before + 30


def test_tokens_come_from_env_and_dotenv_never_config(tmp_path):
    (tmp_path / ".env").write_text("ORGFORGE_ASANA_TOKEN=from-file\nORGFORGE_ASANA_TOKEN__ADA=a\n")
    tokens = load_tokens({"ORGFORGE_ASANA_TOKEN__BEN_ORTIZ": "b"}, cwd=tmp_path)
    assert tokens.by_persona == {"DEFAULT": "from-file", "ADA": "a", "BEN_ORTIZ": "b"}
    assert tokens.for_persona("ADA") == ("ADA", "a")
    assert tokens.for_persona("NOBODY") == ("DEFAULT", "from-file")
    assert "from-file" not in repr(tokens)
    # The same variables are not settings: the config resolves around them, and takes the URL.
    from orgforge.config import dump, load_config

    config = load_config(
        environ={
            "ORGFORGE_ASANA_TOKEN": "t",
            "ORGFORGE_ASANA_TOKEN__ADA": "a",
            "ORGFORGE_ASANA__URL": "http://127.0.0.1:1/api/1.0",
        },
        cwd=tmp_path,
    )
    assert config.asana.url == "http://127.0.0.1:1/api/1.0"
    assert "from-file" not in str(dump(config)) and "'t'" not in str(dump(config))


@pytest.mark.parametrize("premium", [True, False])
def test_seed_uses_the_workspaces_custom_fields_or_skips_them_when_not_premium(tmp_path, premium):
    seed_file = tmp_path / "seed.yaml"
    seed_file.write_text(
        f"workspace: {{name: Co, premium: {str(premium).lower()}}}\nteams: [Marketing, Ops]\n"
        "users: [Ada Park, Ben Ortiz]\n"
        "custom_fields: [{name: Priority, type: enum, options: [Low, Medium, High]}]\n"
    )
    with run_in_thread(SandboxConfig(db_path=tmp_path / "a.db", seed_file=seed_file)) as sb:
        report, run_dir = seed(_config(tmp_path, sb), environ=sb.env())
        assert not report.failed
        tasks = [t for t in sb.state.store.of_type("task") if "_custom_fields" in t]
        if premium:
            assert report.done["custom_field_setting"] == 2 and not report.skipped
            assert len(tasks) == report.done["task"]  # every task has a priority
            api_task = httpx.get(
                f"{sb.base_url}/tasks/{tasks[0]['gid']}",
                params={"opt_fields": "custom_fields.display_value"},
                headers=sb.headers,
            ).json()["data"]
            assert api_task["custom_fields"][0]["display_value"] in ("Low", "Medium", "High")
        else:
            assert report.skipped["custom_field_setting"] == 2 and tasks == []
            assert report.target["skipped_features"]["custom_fields"] >= report.done["task"]
            assert _admin(sb, "/_sandbox/stats")["requests"]["by_status"]["402"] == 1
            events = (Path(run_dir) / "events.jsonl").read_text()
            assert "asana.feature_skipped" in events


def test_cleanup_of_one_run_leaves_the_other_runs_objects(tmp_path, sb):
    config = _config(tmp_path, sb)
    _, marketing_dir = seed(config, teams=["Marketing"], environ=sb.env())
    seed(config, teams=["Sales"], environ=sb.env())
    run_id = Path(marketing_dir).name
    report, _ = cleanup(config, run_id=run_id, environ=sb.env())
    assert report.done["project"] == 1 and not report.failed
    names = [p["name"] for p in sb.state.store.of_type("project")]
    assert names == ["Sales: enterprise pipeline push"]
    with World(tmp_path / "orgforge.db") as world:
        left = AsanaSync(world).gids()
    assert left and all(key.startswith(("asana/sales", "asana/tags")) for key in left)


def test_a_server_that_never_answers_times_out_and_is_reported(tmp_path):
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections complete in the backlog; nothing ever answers
    try:
        fake = SimulatedClock()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/api/1.0"
        target = AsanaTarget(
            url,
            load_tokens({"ORGFORGE_ASANA_TOKEN": "t"}),
            timeout=0.3,
            max_retries=1,
            clock=fake,
        )
        (result,) = target.create([AsanaRecord("k", "tag", {"name": "x", "workspace": "1"})])
        assert result.error is not None and result.error.code == "CONNECTION_ERROR"
        assert target.report.requests == 2 and fake.slept == [0.5]  # one retry, backed off
        assert url in result.error.message
    finally:
        silent.close()
