"""Shared fixtures: worlds generated once per session, and a CLI runner that maps errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.worlds import make_world


@pytest.fixture(scope="session")
def prd_world(tmp_path_factory) -> Path:
    """The PRD preset (100 accounts, ~2,400 records), seed 42, as of 2026-11-23."""
    return make_world(tmp_path_factory.mktemp("prd"), preset="prd")


@pytest.fixture(scope="session")
def stats_world(tmp_path_factory) -> Path:
    """1,000 accounts (~24,000 records): large enough for tight statistical tolerances."""
    return make_world(tmp_path_factory.mktemp("stats"), accounts=1000)


@pytest.fixture
def run_cli(capsys, monkeypatch, tmp_path):
    """Run `orgforge ARGS` in-process in a fresh working directory; return (code, out, err)."""
    from orgforge.cli import _console
    from orgforge.cli.main import app

    monkeypatch.chdir(tmp_path)
    for name in list(__import__("os").environ):
        if name.startswith("ORGFORGE_"):
            monkeypatch.delenv(name)

    def run(*args: str) -> tuple[int, str, str]:
        _console.state.debug = _console.state.quiet = False
        code = _console.run_app(app, list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        help="Rewrite tests/golden/ from what the code makes now (then review the git diff).",
    )
