"""load, cleanup and agents run hold the world's writer lock: a second writer is refused with
exit 2 and one line naming the holder, and nothing is written."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orgforge.world.store import World

from .conftest import active_users
from .test_cli import _policy, orgforge


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "args",
    [
        ("load",),
        ("cleanup", "--all"),
        ("agents", "run", "--feed", "poll", "--once"),
    ],
    ids=["load", "cleanup", "agents-run"],
)
def test_a_writer_is_refused_while_another_holds_the_world(org, tmp_path, args):
    sb, sf = org
    World(tmp_path / "w.db").close()
    policy = _policy(tmp_path, active_users(sf))
    extra = ("--policy", str(policy)) if args[0] == "agents" else ()
    before = _digest(tmp_path / "w.db")
    with World(tmp_path / "w.db", create=False, writer="generate"):
        done = orgforge(
            *args, *extra, "--world", "w.db", "--instance-url", sb.instance_url,
            "--auth", "token", cwd=tmp_path, env={"SF_ACCESS_TOKEN": sb.token},
        )  # fmt: skip
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("error: world w.db is being written by `orgforge generate` (pid ")
    assert f"pid {os.getpid()} " in lines[0] and lines[1].startswith("hint:")
    assert "Traceback" not in done.stderr and _digest(tmp_path / "w.db") == before
    assert not (tmp_path / "runs").exists() and not (tmp_path / "flywheel").exists()


def test_a_running_agents_session_holds_the_world_until_it_stops(org, tmp_path):
    sb, sf = org
    policy = _policy(tmp_path, active_users(sf))
    exe = shutil.which("orgforge", path=str(Path(sys.executable).parent))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ORGFORGE_", "SF_"))}
    env = {**base, "SF_ACCESS_TOKEN": sb.token}
    connect = ("--world", "w.db", "--instance-url", sb.instance_url, "--auth", "token")
    listener = subprocess.Popen(
        [exe, "agents", "run", "--feed", "poll", "--interval", "1", "--policy", str(policy),
         *connect],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lock = tmp_path / "w.db.lock"
    try:
        for _ in range(600):  # until the session has the world (it connects to the org first)
            if lock.exists() and "agents run" in lock.read_text():
                break
            assert listener.poll() is None, listener.stderr.read()
            time.sleep(0.05)
        held = lock.read_text()
        assert f"`orgforge agents run` (pid {listener.pid} " in held
        done = orgforge("load", *connect, cwd=tmp_path, env={"SF_ACCESS_TOKEN": sb.token})
        assert done.returncode == 2, done.stderr
        assert f"being written by `orgforge agents run` (pid {listener.pid} " in done.stderr
    finally:
        listener.send_signal(signal.SIGINT)
        code = listener.wait(timeout=60)
        listener.stderr.close()
    assert code == 130 and not lock.exists()  # Ctrl-C: stopped, the lock given back
