"""Fixtures for running `orgforge` as a user does: the installed entry point, in a subprocess.

In-process runs can't see import-order bugs (the test process has already imported what a
fresh `orgforge` process must import itself), so these tests always start a new process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.worlds import make_world

# Settings and credentials from the developer's shell must not leak into a test run.
_DROPPED_PREFIXES = ("ORGFORGE_", "SF_", "AZURE_", "OPENAI_", "ANTHROPIC_", "_ORGFORGE_COMPLETE")


def orgforge_bin() -> str:
    found = shutil.which("orgforge", path=str(Path(sys.executable).parent))
    assert found, "the orgforge entry point is not installed next to this Python"
    return found


def clean_env(**extra: str) -> dict[str, str]:
    """The environment a test runs orgforge in: no orgforge/provider settings, a wide terminal."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED_PREFIXES)}
    env.update(COLUMNS="200", LINES="50", NO_COLOR="1", **extra)
    return env


@dataclass
class Done:
    code: int
    out: str
    err: str

    def __str__(self) -> str:  # what an assertion message shows
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


def run_orgforge(
    args: list[str],
    cwd: Path,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 120,
) -> Done:
    done = subprocess.run(
        [orgforge_bin(), *args],
        cwd=cwd,
        env=env if env is not None else clean_env(),
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Done(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="session")
def tiny_world_file(tmp_path_factory) -> Path:
    """The tiny preset (10 accounts), seed 42, as of 2026-11-23; copy it before writing to it."""
    return make_world(tmp_path_factory.mktemp("tiny"), preset="tiny")


@pytest.fixture
def sandbox(tmp_path) -> Iterator:
    """A Salesforce sandbox on a free port with orgforge's custom fields."""
    from orgforge.sandbox.salesforce import EXAMPLE_SCHEMA, SandboxConfig, run_in_thread

    config = SandboxConfig(db_path=tmp_path / "sandbox-org.db", schema=EXAMPLE_SCHEMA)
    with run_in_thread(config) as box:
        yield box


@pytest.fixture
def llm() -> Iterator:
    """A local OpenAI-compatible server that answers every batch (tests/content uses it too)."""
    from orgforge.content.testing import FakeLLM

    with FakeLLM() as fake:
        yield fake
