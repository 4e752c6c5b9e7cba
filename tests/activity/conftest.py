"""The session's prd world (tests/conftest.py: seed 42, as of 2026-11-23); tests that write
get their own copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from orgforge.api import resolve
from orgforge.config import Config

AS_OF = "2026-11-23"


@pytest.fixture
def world(prd_world: Path, tmp_path: Path) -> Path:
    """A private copy of the prd world (before any activity)."""
    copy = tmp_path / "world.db"
    shutil.copy(prd_world, copy)
    return copy


def make_config(world: Path, tmp_path: Path, **activity) -> Config:
    cfg = resolve(None, world=str(world), runs_dir=str(tmp_path / "runs"), as_of=AS_OF, seed=42)
    data = cfg.model_dump()
    data["activity"].update(activity)
    return Config.model_validate(data)


@pytest.fixture
def config(world: Path, tmp_path: Path) -> Config:
    return make_config(world, tmp_path)
