"""`orgforge activity …` as a user runs it (in-process, through the same error mapping)."""

from __future__ import annotations

import json
import shutil

from .conftest import AS_OF


def test_activity_commands_end_to_end(run_cli, prd_world, tmp_path) -> None:
    world = str(tmp_path / "w.db")
    shutil.copy(prd_world, world)
    common = ["--world", world]

    code, out, err = run_cli("activity", "plan", *common, "--as-of", AS_OF, "--max-opps", "3")
    assert code == 0, err
    assert "Activity plan" in out and "Nothing written (dry run)" in out

    code, out, err = run_cli(
        "activity",
        "plan",
        *common,
        "--as-of",
        AS_OF,
        "--json",
        "--where",
        "StageName IN ('Prospecting','Qualification') AND Amount > 10000",
    )
    assert code == 0, err
    plan = json.loads(out)
    assert plan["totals"]["opportunities"] > 0
    assert {o["stage"] for o in plan["opportunities"]} <= {"Prospecting", "Qualification"}
    assert plan["totals"]["new"] == plan["totals"]["planned"]

    code, out, err = run_cli(
        "activity", "run", *common, "--as-of", AS_OF, "--max-opps", "10", "--runs-dir", "runs"
    )
    assert code == 0, err
    assert "records created" in out and "run log: runs/" in out

    code, out, err = run_cli(
        "activity",
        "run",
        *common,
        "--as-of",
        AS_OF,
        "--max-opps",
        "10",
        "--json",
        "--runs-dir",
        "runs",
    )
    assert code == 0, err
    again = json.loads(out)
    assert again["created"] == 0 and again["opportunities"] == 10

    code, out, err = run_cli("activity", "status", *common)
    assert code == 0, err
    assert "10 opportunities" in out and "activity run" in out

    code, out, err = run_cli("activity", "reset", *common, "--dry-run")
    assert code == 0 and "would remove" in out
    code, out, err = run_cli("activity", "smoke", *common, "--as-of", AS_OF, "--runs-dir", "runs")
    assert code == 0, err
    assert out.startswith("smoke ok on Opportunity/")
    code, out, err = run_cli("activity", "reset", *common, "--yes", "--runs-dir", "runs")
    assert code == 0, err
    code, out, _ = run_cli("activity", "status", *common, "--json")
    held = json.loads(out)["held"]
    assert held == {"Event": 0, "EventRelation": 0, "Task": 0, "EmailMessage": 0, "Scorecard": 0}


def test_bad_input_exits_2_with_what_and_where(run_cli, prd_world, tmp_path) -> None:
    world = str(prd_world)
    code, _, err = run_cli("activity", "plan", "--world", world, "--where", "Amount > '5'")
    assert code == 2
    assert "error: --where: Amount is a currency field" in err and "column 10" in err
    assert "hint:" in err
    code, _, err = run_cli("activity", "plan", "--world", world, "--opp", "Opportunity/9999/1")
    assert code == 2 and "no such opportunity" in err
    code, _, err = run_cli("activity", "run", "--world", world, "--framework", "spin")
    assert code == 2 and "unknown framework 'spin'" in err
    bad = tmp_path / "fw.yaml"
    bad.write_text("id: x\nname: Xy\nquestions: []\n")
    code, _, err = run_cli("activity", "frameworks", str(bad))
    assert code == 2 and "fw.yaml:3: questions" in err
    (tmp_path / "orgforge.yaml").write_text("activity:\n  emails: [9, 2]\n")
    code, _, err = run_cli("activity", "plan", "--world", world)
    assert code == 2 and "orgforge.yaml:2: activity.emails" in err


def test_frameworks_lists_builtins(run_cli) -> None:
    code, out, err = run_cli("activity", "frameworks")
    assert code == 0, err
    for name in ("meddicc", "meddpicc", "bant"):
        assert name in out
    code, out, _ = run_cli("activity", "frameworks", "--json")
    assert len(json.loads(out)["meddpicc"]["questions"]) == 8
