"""`orgforge sandbox asana` and `orgforge asana …` as a user runs them (the entry point)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from orgforge.sandbox.asana import SandboxConfig, run_in_thread


def orgforge_bin() -> str:
    found = shutil.which("orgforge", path=str(Path(sys.executable).parent))
    assert found, "the orgforge entry point is not installed next to this Python"
    return found


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORGFORGE_")}
    env.update(extra)
    return env


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [orgforge_bin(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_sandbox_asana_serves_and_writes_an_env_file(tmp_path):
    process = subprocess.Popen(
        [
            orgforge_bin(),
            "sandbox",
            "asana",
            "--port",
            "0",
            "--db",
            "sb/asana.db",
            "--users",
            "2",
            "--tier",
            "free",
            "--env-file",
            ".env",
        ],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Press Ctrl+C"):
                break
        banner = "".join(lines)
        assert "rate limit     150 requests/min per token" in banner
        env_file = dict(line.split("=", 1) for line in (tmp_path / ".env").read_text().splitlines())
        assert set(env_file) == {
            "ORGFORGE_ASANA__URL",
            "ORGFORGE_ASANA_TOKEN",
            "ORGFORGE_ASANA_TOKEN__ADA_PARK",
            "ORGFORGE_ASANA_TOKEN__BEN_ORTIZ",
        }
        assert oct((tmp_path / ".env").stat().st_mode & 0o777) == "0o600"
        me = httpx.get(
            f"{env_file['ORGFORGE_ASANA__URL']}/users/me",
            headers={"Authorization": f"Bearer {env_file['ORGFORGE_ASANA_TOKEN__BEN_ORTIZ']}"},
        )
        assert me.json()["data"]["name"] == "Ben Ortiz"
        # With that .env in the working directory the target finds the sandbox and the tokens.
        who = _run(["asana", "whoami", "--json"], tmp_path, _env())
        assert who.returncode == 0, who.stderr
        assert [r["name"] for r in json.loads(who.stdout)] == ["Ada Park", "Ada Park", "Ben Ortiz"]
    finally:
        process.terminate()
        process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_sandbox_asana_bad_input_is_one_line_and_exit_2(tmp_path):
    done = _run(
        ["sandbox", "asana", "--port", "0", "--db", "a.db", "--tier", "gold"], tmp_path, _env()
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2 and "--tier gold: must be free or paid" in lines[0], done.stderr
    assert not (tmp_path / "a.db").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--faults", "429=2"], "--faults: 429=2 must be a probability"),
        (["--users", "40"], "--users 40: must be between 1 and 16"),
        (["--seed-file", "missing.yaml"], "--seed-file missing.yaml: cannot read it"),
        (["--port", "-5"], "--port -5: must be between 0 and 65535"),
    ],
)
def test_more_sandbox_asana_bad_input(run_cli, tmp_path, args, message):
    code, _out, err = run_cli("sandbox", "asana", "--db", "a.db", *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 2 and message in lines[0], err
    assert "Traceback" not in err
    assert not (tmp_path / "a.db").exists()


def test_asana_seed_and_cleanup_through_the_entry_point(run_cli, tmp_path, monkeypatch):
    with run_in_thread(SandboxConfig(db_path=tmp_path / "sb.db", users=3)) as sb:
        env = _env(**sb.env())
        common = ["--world", "w.db", "--runs-dir", "runs"]
        for name, value in sb.env().items():
            monkeypatch.setenv(name, value)
        code, out, err = run_cli("asana", "seed", *common, "--dry-run", "--json")
        assert code == 0, err
        assert json.loads(out)["done"]["project"] == 3
        assert not (tmp_path / "runs").exists() and not (tmp_path / "w.db").exists()

        done = _run(
            ["asana", "seed", *common, "--team", "Sales", "--tasks-per-project", "4", "--json"],
            tmp_path,
            env,
        )
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report["done"]["project"] == 1 and report["done"]["task"] == 4
        assert [p["name"] for p in sb.state.store.of_type("project")] == [
            "Sales: enterprise pipeline push"
        ]

        table = _run(["asana", "cleanup", *common], tmp_path, env)
        assert table.returncode == 0, table.stderr
        assert "asana cleanup → Asana" in table.stdout
        assert sb.state.store.of_type("project") == []


def test_asana_seed_without_a_token_exits_2_before_writing(tmp_path):
    with run_in_thread(SandboxConfig(db_path=tmp_path / "sb.db", users=1)) as sb:
        common = ["asana", "seed", "--world", "w.db", "--runs-dir", "runs"]
        no_token = _run(common, tmp_path, _env(ORGFORGE_ASANA__URL=sb.base_url))
        assert no_token.returncode == 2
        assert no_token.stderr.splitlines()[0].endswith("ORGFORGE_ASANA_TOKEN is not set")
        assert not (tmp_path / "runs").exists() and not (tmp_path / "w.db").exists()


def test_asana_seed_bad_input_and_bad_tokens(run_cli, tmp_path, monkeypatch):
    with run_in_thread(SandboxConfig(db_path=tmp_path / "sb.db", users=1)) as sb:
        common = ["asana", "seed", "--world", "w.db", "--runs-dir", "runs"]
        for name, value in sb.env().items():
            monkeypatch.setenv(name, value)
        code, _, err = run_cli(*common, "--team", "Legal")
        assert code == 2 and "--team Legal: no such team" in err
        code, _, err = run_cli(*common, "--tier", "gold")
        assert code == 2 and "tier" in err.splitlines()[0]
        assert not (tmp_path / "runs").exists() and sb.state.store.of_type("project") == []
        monkeypatch.setenv("ORGFORGE_ASANA_TOKEN", "nope")
        code, _, err = run_cli(*common)
        assert code == 1 and "401" in err and "nope" not in err
