"""A runner killed with SIGKILL resumes each job with at most one duplicated action."""

from __future__ import annotations

import signal
import subprocess
from collections import Counter

from orgforge import simulate
from orgforge.world import World
from tests.cli.conftest import clean_env, orgforge_bin, run_orgforge

CREATING = ("create", "comment", "status")


def _created_in_log(log) -> int:
    return sum(1 for a in log if a["status"] == "ok" and a["behaviour"].endswith(CREATING))


def _created_in_asana(sb) -> int:
    store = sb.state.store
    made = sum(len(store.of_type(k)) for k in ("project", "section", "task", "status_update"))
    return made + sum(1 for s in store.of_type("story") if s["type"] == "comment")


def test_sigkill_mid_run_then_restart_duplicates_at_most_one_action(tmp_path, sb):
    with World(tmp_path / "orgforge.db") as world:
        job = simulate.create_job(
            world,
            {"target": "asana", "rate": 8, "seed": 3, "schedule": {"timezone": "Europe/London"}},
        )
    env = clean_env(PYTHONUNBUFFERED="1", ORGFORGE_ASANA__TIER="paid", **sb.env())
    command = [orgforge_bin(), "simulate", "run", "--clock", "backfill:7d", "-w", "orgforge.db"]
    proc = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        lines = [proc.stdout.readline() for _ in range(25)]  # 25 actions done, then kill -9
        assert all(" ok " in line for line in lines), lines
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL

    with World(tmp_path / "orgforge.db") as world:
        before = simulate.job_log(world, job.id, limit=100_000)
    assert len(before) >= 25
    assert Counter(a["status"] for a in before)["intent"] <= 1

    done = run_orgforge(["simulate", "run", "--clock", "backfill:7d", "--json"], tmp_path, env)
    assert done.code == 0, done
    with World(tmp_path / "orgforge.db") as world:
        after = simulate.job_log(world, job.id, limit=100_000)
    assert [a["seq"] for a in after] == list(range(len(after)))  # nothing lost, nothing twice
    assert "intent" not in {a["status"] for a in after}
    assert [a["planned_at"] for a in after[: len(before)]] == [a["planned_at"] for a in before]
    duplicated = _created_in_asana(sb) - _created_in_log(after)
    assert duplicated in (0, 1), duplicated
    assert len(after) > len(before)
