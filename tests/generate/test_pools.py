"""The frozen name pools match the Faker data they were built from."""

from __future__ import annotations

import importlib.util
import json
from importlib import resources
from pathlib import Path

import pytest


def test_name_pools_match_faker():
    if importlib.util.find_spec("faker") is None:
        pytest.skip("Faker is not installed")
    script = Path(__file__).resolve().parents[2] / "scripts" / "build_name_pools.py"
    spec = importlib.util.spec_from_file_location("build", script)
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    shipped = json.loads((resources.files("orgforge.packs") / "data" / "_names.json").read_text())
    assert shipped == build.faker_pools(), "run scripts/build_name_pools.py to refresh the pools"


def test_pools_are_large_and_clean():
    from orgforge.generate.pools import pools

    p = pools()
    assert len(p.first_names) > 500 and len(p.last_names) > 900
    assert p.female_first < set(p.first_names)
    assert all(name.strip() == name and name for name in p.first_names + p.last_names)
