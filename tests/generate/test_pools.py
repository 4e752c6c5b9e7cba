"""The frozen name pools match the Faker data they were built from."""

from __future__ import annotations

import importlib.util
import json
from importlib import resources
from pathlib import Path

import pytest


def test_name_pools_match_the_faker_they_were_built_from():
    """Faker is a build-time dependency: the pools are checked against the Faker version that
    built them; another installed version skips, so an upstream list change never fails the
    suite (nor changes a world) until the pools are rebuilt on purpose."""
    if importlib.util.find_spec("faker") is None:
        pytest.skip("Faker is not installed (pip install -e '.[build]')")
    import faker

    shipped = json.loads((resources.files("orgforge.packs") / "data" / "_names.json").read_text())
    if shipped["faker_version"] != faker.VERSION:
        pytest.skip(
            f"pools built from Faker {shipped['faker_version']}, Faker {faker.VERSION} installed: "
            "run scripts/build_name_pools.py to adopt its lists (worlds will change)"
        )
    script = Path(__file__).resolve().parents[2] / "scripts" / "build_name_pools.py"
    spec = importlib.util.spec_from_file_location("build", script)
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    assert shipped == build.faker_pools(), "the shipped pools differ from what the script builds"


def test_pools_are_large_and_clean():
    from orgforge.generate.pools import pools

    p = pools()
    assert len(p.first_names) > 500 and len(p.last_names) > 900
    assert p.female_first < set(p.first_names)
    assert all(name.strip() == name and name for name in p.first_names + p.last_names)
