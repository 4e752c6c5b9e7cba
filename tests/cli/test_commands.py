"""The commands as a user runs them: the installed entry point, and each command group."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from orgforge.packs import builtin_packs


def orgforge_bin() -> str:
    found = shutil.which("orgforge", path=str(Path(sys.executable).parent))
    assert found, "the orgforge entry point is not installed next to this Python"
    return found


def test_installed_entry_point_end_to_end(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORGFORGE_")}
    done = subprocess.run(
        [
            orgforge_bin(),
            "generate",
            "--preset",
            "tiny",
            "--seed",
            "7",
            "--out",
            "export",
            "--as-of",
            "2026-11-23",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "240 records" in done.stdout or "records in" in done.stdout
    assert (tmp_path / "orgforge.db").is_file()
    assert (tmp_path / "export" / "Account.csv").read_text().count("\n") == 11
    (run_dir,) = (tmp_path / "runs").iterdir()
    for name in (
        "run.json",
        "config.resolved.yaml",
        "events.jsonl",
        "errors.jsonl",
        "summary.json",
    ):
        assert (run_dir / name).is_file(), name
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "ok" and summary["counts"]["Account"] == 10
    run = json.loads((run_dir / "run.json").read_text())
    assert run["seed"] == 7 and run["as_of"] == "2026-11-23"

    bad = subprocess.run(
        [orgforge_bin(), "generate", "--accounts", "0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    lines = bad.stderr.strip().splitlines()
    assert lines[0].startswith("error: flag --accounts") and lines[1].startswith("hint:")


def test_stats_json_puts_observed_next_to_targets(run_cli):
    assert run_cli("generate", "--preset", "prd", "--as-of", "2026-11-23")[0] == 0
    code, out, _ = run_cli("stats", "--json")
    assert code == 0
    report = json.loads(out)
    counts = {row["object"]: (row["count"], row["expected"]) for row in report["counts"]}
    assert counts["Opportunity"] == (250, 250)
    stages = {row["value"]: row for row in report["distributions"]["opportunity_stage"]}
    assert stages["Prospecting"]["target_pct"] == 15.0
    assert counts["Lead"] == (300, 300) and counts["OpportunityLineItem"][1] is None
    leads = {row["value"]: row for row in report["distributions"]["lead_status"]}
    assert next(iter(leads)) == "Open - Not Contacted"
    assert sum(r["count"] for r in leads.values()) == 300
    assert leads["Closed - Converted"]["target_pct"] == 33.33
    code, out, _ = run_cli("stats")
    assert code == 0 and "Account field fill rate" in out and "opportunity stage" in out
    assert "lead status" in out and "Closed - Converted" in out


def test_config_show_resolves_and_masks_secrets(run_cli, tmp_path, monkeypatch):
    (tmp_path / "orgforge.yaml").write_text("seed: 9\ngenerate:\n  accounts: 30\n")
    monkeypatch.setenv("ORGFORGE_GENERATE__TEAM", "my-team.yaml")
    code, out, _ = run_cli("config", "show")
    data = yaml.safe_load(out)
    assert code == 0 and data["seed"] == 9 and data["generate"]["accounts"] == 30
    assert data["generate"]["team"] == "my-team.yaml"
    from orgforge.config import masked

    assert masked({"api_key": "sk-123", "nested": {"password": "p"}, "model": "m"}) == {
        "api_key": "****",
        "nested": {"password": "****"},
        "model": "m",
    }
    assert run_cli("config", "validate")[0] == 0


def test_preset_and_accounts_precedence(run_cli, tmp_path):
    (tmp_path / "orgforge.yaml").write_text("preset: tiny\n")
    assert yaml.safe_load(run_cli("config", "show")[1])["generate"]["accounts"] == 10
    (tmp_path / "orgforge.yaml").write_text("preset: tiny\ngenerate:\n  accounts: 33\n")
    assert yaml.safe_load(run_cli("config", "show")[1])["generate"]["accounts"] == 33
    code, _out, _ = run_cli("generate", "--preset", "tiny", "--accounts", "12", "-q")
    assert code == 0


def test_packs_list_show_validate(run_cli, tmp_path):
    code, out, _ = run_cli("packs", "list")
    assert code == 0 and "insurance" in out and "high_tech" in out
    code, out, _ = run_cli("packs", "show", "insurance")
    assert code == 0 and yaml.safe_load(out)["industry"] == "Insurance"
    custom = builtin_packs()["insurance"].model_dump()
    custom.update(id="healthcare", label="Healthcare", industry="Healthcare")
    (tmp_path / "health.yaml").write_text(yaml.safe_dump(custom))
    code, out, _ = run_cli("packs", "validate", "health.yaml")
    assert code == 0 and "ok" in out
    custom["titles"] = custom["titles"][:3]
    (tmp_path / "short.yaml").write_text(yaml.safe_dump(custom, sort_keys=False))
    code, _, err = run_cli("packs", "validate", "short.yaml")
    assert code == 2 and "short.yaml:" in err and "titles" in err


def test_a_user_pack_generates_its_industry(run_cli, tmp_path):
    custom = builtin_packs()["high_tech"].model_dump()
    custom.update(id="healthcare", label="Healthcare", industry="Healthcare")
    (tmp_path / "health.yaml").write_text(yaml.safe_dump(custom))
    code, _, err = run_cli(
        "generate", "--preset", "tiny", "--pack", "health.yaml", "--industries", "healthcare", "-q"
    )
    assert code == 0, err
    from orgforge.world.store import World

    with World(tmp_path / "orgforge.db") as world:
        assert {a["Industry"] for a in world.iter_dicts("Account")} == {"Healthcare"}


def test_world_reset_and_info(run_cli):
    assert run_cli("generate", "--preset", "tiny", "-q")[0] == 0
    code, out, _ = run_cli("world", "reset", "--dry-run")
    assert code == 0 and "would remove" in out and "10 Account" in out
    code, out, _ = run_cli("world", "reset", "--yes")
    assert code == 0
    code, out, _ = run_cli("world", "info")
    assert code == 0 and "Account" in out


def test_export_command_formats(run_cli, tmp_path):
    assert run_cli("generate", "--preset", "tiny", "-q")[0] == 0
    for fmt in ("csv", "json", "parquet"):
        code, _out, err = run_cli("export", "--format", fmt, "--out", f"out-{fmt}")
        assert code == 0, err
        manifest = json.loads((tmp_path / f"out-{fmt}" / "manifest.json").read_text())
        assert manifest["format"] == fmt
        assert {o["name"]: o["count"] for o in manifest["objects"]}["Account"] == 10
    code, _, err = run_cli("export", "--format", "csv")
    assert code == 2 and "--out is required" in err


def test_stats_keep_other_jobs_apart(run_cli):
    assert run_cli("generate", "--preset", "prd", "--as-of", "2026-11-23", "-q")[0] == 0
    assert run_cli("activity", "run", "--max-opps", "5")[0] == 0
    code, out, _ = run_cli("stats", "--json")
    counts = {row["object"]: row for row in json.loads(out)["counts"]}
    assert code == 0
    assert counts["Event"]["count"] == 150 and counts["Event"]["other_jobs"] > 0
    assert counts["Task"]["count"] == 400 and counts["Task"]["other_jobs"] > 0


def test_the_entry_point_mounts_only_the_invoked_group():
    from orgforge.cli.main import _invoked, build_app

    assert _invoked(["-q", "generate", "--preset", "prd"]) == "generate"
    assert _invoked(["--debug", "activity", "plan"]) == "activity"
    assert _invoked(["--help"]) is None and _invoked(["nope"]) is None and _invoked([]) is None
    names = {c.name or c.callback.__name__ for c in build_app(["load"]).registered_commands}
    assert names == {"load", "cleanup", "validate", "smoke"}
    assert not build_app(["load"]).registered_groups
    full = build_app()
    assert {g.name for g in full.registered_groups} >= {"config", "activity", "sandbox", "content"}
