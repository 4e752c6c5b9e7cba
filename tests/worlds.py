"""Helpers for tests that build and read worlds."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orgforge
from orgforge.world.store import World

AS_OF = dt.date(2026, 11, 23)  # a Monday


def make_world(path: Path, name: str = "w.db", **options) -> Path:
    """Generate a world under ``path`` (seed 42, as of AS_OF unless given) and return its file."""
    options.setdefault("seed", 42)
    options.setdefault("as_of", AS_OF.isoformat())
    orgforge.generate(world=str(path / name), runs_dir=str(path / "runs"), **options)
    return path / name


def rows(world_path: Path, object_name: str) -> list[dict]:
    with World(world_path, create=False) as world:
        return list(world.iter_dicts(object_name))
