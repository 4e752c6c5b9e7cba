"""`orgforge jobs …` and `orgforge simulate run` through the installed entry point."""

from __future__ import annotations

import json
import shutil

from tests.cli.conftest import run_orgforge


def test_jobs_commands_write_and_read_the_jobs_table(tmp_path):
    w = ["--world", "w.db"]
    done = run_orgforge(
        ["jobs", "start", "--target", "asana", "--rate", "12", "--duration", "2d", *w, "--json"],
        tmp_path,
    )
    assert done.code == 0, done
    job = json.loads(done.out)
    assert job["id"] == "asana-1" and job["state"] == "active" and job["duration_s"] == 172800
    assert run_orgforge(["jobs", "pause", "asana-1", *w], tmp_path).out.strip() == (
        "job asana-1 is paused"
    )
    listed = json.loads(run_orgforge(["jobs", "list", *w, "--json"], tmp_path).out)
    assert [(j["id"], j["state"]) for j in listed] == [("asana-1", "paused")]
    table = run_orgforge(["jobs", "list", *w], tmp_path).out
    assert "asana-1" in table and "paused" in table
    assert run_orgforge(["jobs", "resume", "asana-1", *w], tmp_path).code == 0
    shown = json.loads(run_orgforge(["jobs", "show", "asana-1", *w, "--json"], tmp_path).out)
    assert shown["state"] == "active" and shown["rate"] == 12
    log = run_orgforge(["jobs", "log", "asana-1", *w, "--json"], tmp_path)
    assert log.code == 0 and json.loads(log.out) == []
    assert run_orgforge(["jobs", "stop", "asana-1", *w, "-q"], tmp_path).out == ""


def test_bad_job_input_is_one_error_and_a_hint_and_writes_nothing(tmp_path):
    w = ["--world", "w.db"]
    assert run_orgforge(["jobs", "start", "--target", "asana", *w], tmp_path).code == 0
    for args, says in (
        (["jobs", "start", "--target", "asana", "--rate", "-1"], "error: --rate:"),
        (["jobs", "start", "--target", "asana", "--hours", "9to5"], "error: --hours"),
        (["jobs", "start", "--target", "asana", "--behaviour", "case.open"], "no such behaviour"),
        (["jobs", "resume", "asana-7"], "error: no job 'asana-7'"),
        (["simulate", "run", "--clock", "warp"], "error: --clock 'warp': not a clock"),
        (["simulate", "run", "--for", "ever"], "error: --for:"),
    ):
        done = run_orgforge([*args, *w], tmp_path)
        assert done.code == 2, (args, done)
        lines = done.err.strip().splitlines()
        assert len(lines) == 2 and says in lines[0] and lines[1].startswith("hint: "), done
    listed = json.loads(run_orgforge(["jobs", "list", *w, "--json"], tmp_path).out)
    assert [j["id"] for j in listed] == ["asana-1"]
    missing = run_orgforge(["jobs", "list", "--world", "nope.db"], tmp_path)
    assert missing.code == 2 and "does not exist" in missing.err
    assert not (tmp_path / "nope.db").exists()


def test_simulate_dry_run_plans_actions_for_the_worlds_users_and_acts_on_nothing(
    tiny_world_file, tmp_path
):
    shutil.copy(tiny_world_file, tmp_path / "w.db")
    w = ["--world", "w.db"]
    assert (
        run_orgforge(["jobs", "start", "-t", "salesforce", "--rate", "20", *w], tmp_path).code == 0
    )
    done = run_orgforge(["simulate", "run", "--dry-run", "--hours", "120", *w, "--json"], tmp_path)
    assert done.code == 0, done
    planned = json.loads(done.out)
    # five days ahead hold at least two working days of 8 h at 20 actions/h, give or take
    assert len(planned) > 150, len(planned)
    assert {p["job"] for p in planned} == {"salesforce-1"}
    assert planned == sorted(planned, key=lambda p: p["at"])
    text = run_orgforge(["simulate", "run", "--dry-run", *w, "--hours", "120"], tmp_path)
    assert "actions planned in the next 120 h (dry run)" in text.out
    log = json.loads(run_orgforge(["jobs", "log", "salesforce-1", *w, "--json"], tmp_path).out)
    assert log == []
