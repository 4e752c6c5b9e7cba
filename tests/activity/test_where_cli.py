"""`orgforge activity plan --where ...` in a subprocess of the installed entry point: hostile
filters are one clean error line plus a hint, exit 2, no traceback; SOQL-valid ones work."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import AS_OF


def _orgforge() -> str:
    found = shutil.which("orgforge", path=str(Path(sys.executable).parent))
    assert found, "the orgforge entry point is not installed next to this Python"
    return found


def _plan(world: Path, where: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORGFORGE_")}
    return subprocess.run(
        [
            _orgforge(),
            "activity",
            "plan",
            "--world",
            str(world),
            "--as-of",
            AS_OF,
            "--max-opps",
            "2",
            "--where",
            where,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


# One process per family (a process costs seconds); test_where.py covers every case in-process.
BAD = {
    "5,000 nested parentheses": ("(" * 5000 + "Amount > 5" + ")" * 5000, "nested"),
    "5,000-digit number": ("Amount > " + "9" * 5000, "out of range"),
    "huge LAST_N_DAYS": ("CloseDate = LAST_N_DAYS:99999999999999", "out of range"),
    "AND/OR mixed": ("StageName = 'Prospecting' AND Amount > 5 OR Amount < 1", "parentheses"),
}


@pytest.mark.parametrize("label", list(BAD))
def test_hostile_filters_exit_2_with_one_line_and_a_hint(prd_world, label: str) -> None:
    text, fragment = BAD[label]
    done = _plan(prd_world, text)
    assert done.returncode == 2, done.stderr[-500:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2, done.stderr[-500:]
    assert lines[0].startswith("error: --where: ") and fragment in lines[0]
    assert lines[1].startswith("hint: ")
    assert "Traceback" not in done.stderr and len(lines[0]) < 400


def test_soql_valid_filters_work_case_insensitively(prd_world) -> None:
    ors = " OR ".join(f"Amount = {i}" for i in range(5000)) + " OR stagename = 'PROSPECTING'"
    done = _plan(prd_world, ors)
    assert done.returncode == 0, done.stderr[-500:]
    assert "Activity plan" in done.stdout
