"""`orgforge agents` as a user runs it: the installed entry point against a running sandbox."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import active_users

ALWAYS = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "hours": ["00:00", "23:59:59"]}


def orgforge(*args: str, cwd: Path, env: dict[str, str] | None = None):
    exe = shutil.which("orgforge", path=str(Path(sys.executable).parent))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ORGFORGE_", "SF_"))}
    return subprocess.run(
        [exe, *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _policy(tmp_path: Path, users: list[str]) -> Path:
    policy = {
        "version": "e2e-1",
        "segments": [{"name": "SMB", "max_employees": 199}, {"name": "ENT"}],
        "regions": [{"name": "NA", "countries": ["US"]}],
        "default_region": "NA",
        "fallback_owner": users[0],
        "reps": [{"id": u, **ALWAYS} for u in users[1:4]],
        "pools": [{"name": "all", "members": [{"rep": u} for u in users[1:4]]}],
    }
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(policy))
    return path


def test_poll_routes_new_leads_records_first_touch_and_resumes_without_duplicates(org, tmp_path):
    sb, sf = org
    users = active_users(sf)
    policy = _policy(tmp_path, users)
    env = {"SF_ACCESS_TOKEN": sb.token}
    run = (
        "agents",
        "run",
        "--feed",
        "poll",
        "--once",
        "--policy",
        str(policy),
        "--instance-url",
        sb.instance_url,
        "--auth",
        "token",
        "--world",
        "w.db",
    )

    first = orgforge(*run, cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert "0 events" in first.stdout  # a new session starts at "now", like CometD's -1

    leads = [
        sf.Lead.create(
            {
                "LastName": f"Buyer {i}",
                "Company": f"Co {i}",
                "Country": "US",
                "NumberOfEmployees": 50 + i,
            }
        )["id"]
        for i in range(6)
    ]
    second = orgforge(*run, cwd=tmp_path, env=env)
    assert second.returncode == 0, second.stderr
    assert "6 leads routed" in second.stdout, second.stdout
    owners = {r["Id"]: r["OwnerId"] for r in sf.query("SELECT Id, OwnerId FROM Lead")["records"]}
    assert sorted(owners.values()) == sorted(users[1:4] * 2)  # equal weights: two each

    sf.Task.create(
        {
            "Subject": "Intro call",
            "WhoId": leads[0],
            "Status": "Completed",
            "TaskSubtype": "Call",
            "OwnerId": owners[leads[0]],
        }
    )
    third = orgforge(*run, cwd=tmp_path, env=env)
    assert third.returncode == 0, third.stderr
    assert "0 leads routed" in third.stdout and "1 first touches" in third.stdout, third.stdout
    lead = sf.Lead.get(leads[0])
    assert lead["First_Response_User__c"] == owners[leads[0]]
    assert lead["First_Response_At__c"] and lead["Time_to_First_Response__c"] >= 0

    logs = sorted((tmp_path / "flywheel").glob("lead.route_*.jsonl"))
    lines = [json.loads(x) for f in logs for x in f.read_text().splitlines()]
    assert len(lines) == 6 and {ln["metadata"]["lead_id"] for ln in lines} == set(leads)
    assert all(ln["metadata"]["event"]["replay_id"] for ln in lines)

    replayed = orgforge("agents", "replay", "flywheel", "--policy", str(policy), cwd=tmp_path)
    assert replayed.returncode == 0 and "6 decisions replayed, 0 differ" in replayed.stdout


def test_dry_run_decides_and_writes_nothing(org, tmp_path):
    sb, sf = org
    users = active_users(sf)
    policy = _policy(tmp_path, users)
    env = {"SF_ACCESS_TOKEN": sb.token}
    run = (
        "agents",
        "run",
        "--feed",
        "poll",
        "--once",
        "--policy",
        str(policy),
        "--instance-url",
        sb.instance_url,
        "--auth",
        "token",
        "--world",
        "w.db",
    )
    assert orgforge(*run, cwd=tmp_path, env=env).returncode == 0
    lead = sf.Lead.create({"LastName": "Dry", "Company": "Dry Co", "Country": "US"})["id"]
    before = sf.Lead.get(lead)["OwnerId"]
    done = orgforge(*run, "--dry-run", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "nothing written (dry run)" in done.stdout and lead in done.stdout
    assert sf.Lead.get(lead)["OwnerId"] == before
    assert not (tmp_path / "flywheel").exists()


@pytest.mark.parametrize(
    "args,message",
    [
        (("agents", "run", "--feed", "kafka"), "--feed: unknown feed 'kafka'"),
        (
            ("agents", "run", "--feed", "world", "--policy", "missing.yaml"),
            "missing.yaml not found",
        ),
        (("agents", "policy", "validate", "bad.yaml"), "bad.yaml:2: segments"),
        (("agents", "replay", "nowhere"), "nowhere: no such flywheel log"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    (tmp_path / "bad.yaml").write_text("version: x\nsegments: 3\n")
    done = (
        orgforge(*args, "--world" if args[1] == "run" else "--help", "w.db", cwd=tmp_path)
        if False
        else orgforge(*args, cwd=tmp_path)
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert message in done.stderr and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 2  # one line of error, one of hint
    assert not (tmp_path / "flywheel").exists() and not (tmp_path / "w.db").exists()


def test_poll_refuses_owners_that_cannot_become_an_owner_id_before_writing(org, tmp_path):
    sb, sf = org
    env = {"SF_ACCESS_TOKEN": sb.token}
    done = orgforge(
        "agents",
        "run",
        "--feed",
        "poll",
        "--once",
        "--instance-url",
        sb.instance_url,
        "--auth",
        "token",
        "--world",
        "w.db",
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 2, done.stderr
    assert "owner 'User/01': not an org id or username" in done.stderr
    assert not (tmp_path / "w.db").exists() and not (tmp_path / "flywheel").exists()
    username = sf.query("SELECT Username FROM User WHERE IsActive = true LIMIT 1")["records"][0]
    policy = {
        "version": "u1",
        "segments": [{"name": "ALL"}],
        "regions": [],
        "default_region": None,
        "fallback_owner": username["Username"],
        "reps": [{"id": username["Username"], **ALWAYS}],
        "pools": [{"name": "p", "members": [{"rep": username["Username"]}]}],
    }
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(policy))
    run = (
        "agents",
        "run",
        "--feed",
        "poll",
        "--once",
        "--policy",
        "p.yaml",
        "--instance-url",
        sb.instance_url,
        "--auth",
        "token",
        "--world",
        "w.db",
    )
    assert orgforge(*run, cwd=tmp_path, env=env).returncode == 0
    lead = sf.Lead.create({"LastName": "By Username", "Company": "U Co"})["id"]
    assert orgforge(*run, cwd=tmp_path, env=env).returncode == 0
    owner = sf.query(f"SELECT Owner.Username FROM Lead WHERE Id = '{lead}'")["records"][0]
    assert owner["Owner"]["Username"] == username["Username"]
