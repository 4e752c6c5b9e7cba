"""The sync's commands as a user meets them: the installed entry point in a subprocess."""

from __future__ import annotations

import os
import pty
import sqlite3
import subprocess

from orgforge.targets.salesforce import ops
from tests.cli.test_commands import orgforge_bin
from tests.targets.conftest import counts, sf_config


def _env(sb) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORGFORGE_", "SF_"))}
    return {**env, "SF_ACCESS_TOKEN": sb.token, "NO_COLOR": "1", "COLUMNS": "200"}


def _sf_args(sb, small, tmp_path) -> list[str]:
    return [
        "--world", str(small), "--runs-dir", str(tmp_path / "runs"),
        "--instance-url", sb.instance_url, "--auth", "token",
    ]  # fmt: skip


def _run(args, env, cwd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [orgforge_bin(), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, **kw
    )


def test_load_dry_run_then_load_says_what_changed(sandbox, small, tmp_path):
    cfg, env = sf_config(sandbox, small, tmp_path)
    ops.load(cfg, env=env)
    with sqlite3.connect(small) as conn:
        conn.execute("""UPDATE "rec_Opportunity" SET "NextStep" = 'Send the quote' """)
    args = ["load", *_sf_args(sandbox, small, tmp_path)]
    dry = _run([*args, "--dry-run"], _env(sandbox), tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "to update Opportunity: NextStep (" in dry.stdout
    assert "nothing was written" in dry.stdout
    done = _run(args, _env(sandbox), tmp_path)
    assert done.returncode == 0, done.stderr
    assert "updated Opportunity: NextStep (" in done.stdout
    assert "HTTP requests" in done.stdout and "record retries" in done.stdout
    assert "rode out 0 transient faults" in done.stdout


def test_cleanup_of_an_unknown_run_exits_2_naming_it(sandbox, small, tmp_path):
    args = ["cleanup", *_sf_args(sandbox, small, tmp_path), "--run", "20990101-nope"]
    done = _run(args, _env(sandbox), tmp_path)
    assert done.returncode == 2
    assert "cleanup --run 20990101-nope" in done.stderr and "no such run" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists()  # nothing written
    assert sandbox.state.stats.snapshot()["total"] == 0  # not even a login


def test_cleanup_asks_on_a_terminal_and_yes_skips_it(sandbox, small, tmp_path):
    cfg, env = sf_config(sandbox, small, tmp_path)
    ops.load(cfg, env=env)
    sf = __import__("orgforge.sandbox.salesforce", fromlist=["x"]).simple_salesforce(sandbox)
    before = counts(sf, ["Account", "Task"])
    args = ["cleanup", *_sf_args(sandbox, small, tmp_path), "--all"]
    main, child = pty.openpty()
    try:
        os.write(main, b"n\n")
        asked = _run(args, _env(sandbox), tmp_path, stdin=child)
    finally:
        os.close(child)
        os.close(main)
    assert asked.returncode == 1
    assert "Delete " in asked.stdout and f"{before['Account']:,} Account" in asked.stdout
    assert counts(sf, ["Account", "Task"]) == before  # answered no: nothing deleted
    done = _run([*args, "--yes"], _env(sandbox), tmp_path, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert counts(sf, ["Account", "Task"]) == {"Account": 0, "Task": 0}


def test_world_reset_refuses_while_the_org_holds_loaded_records(sandbox, small, tmp_path):
    cfg, env = sf_config(sandbox, small, tmp_path)
    ops.load(cfg, env=env)
    before = small.read_bytes()
    refused = _run(["world", "reset", "--world", str(small), "--yes"], _env(sandbox), tmp_path)
    assert refused.returncode == 2
    assert "has load history" in refused.stderr and "orgforge cleanup --all" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert small.read_bytes() == before
    forced = _run(
        ["world", "reset", "--world", str(small), "--yes", "--force"], _env(sandbox), tmp_path
    )
    assert forced.returncode == 0, forced.stderr
