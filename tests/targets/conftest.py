"""Fixtures for the Salesforce target: prd world copies and sandboxes on random 127.0.0.1 ports."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from orgforge.config import Config, load_config
from orgforge.sandbox.salesforce import EXAMPLE_SCHEMA, SandboxConfig, run_in_thread


@pytest.fixture
def world(prd_world, tmp_path) -> Path:
    """A private copy of the session's prd world (tests/conftest.py), safe to load and sync."""
    target = tmp_path / "w.db"
    shutil.copy(prd_world, target)
    return target


@pytest.fixture(scope="session")
def tiny_world_file(tmp_path_factory) -> Path:
    """The tiny preset (10 accounts, ~240 records): enough for a sync's behaviour, fast."""
    from tests.worlds import make_world

    return make_world(tmp_path_factory.mktemp("tiny"), preset="tiny")


@pytest.fixture
def small(tiny_world_file, tmp_path) -> Path:
    """A private copy of the tiny world, safe to load, change, shift and shrink."""
    target = tmp_path / "small.db"
    shutil.copy(tiny_world_file, target)
    return target


@pytest.fixture
def sandbox():
    with run_in_thread(SandboxConfig(schema=EXAMPLE_SCHEMA)) as sb:
        yield sb


@pytest.fixture
def bare_sandbox():
    """An org without the Orgforge_Key__c field (fingerprint reconciliation)."""
    with run_in_thread(SandboxConfig()) as sb:
        yield sb


def sf_config(sb, world: Path, tmp_path: Path, **salesforce) -> tuple[Config, dict[str, str]]:
    flags = {
        "world": str(world),
        "runs_dir": str(tmp_path / "runs"),
        "salesforce.instance_url": sb.instance_url,
        "salesforce.auth": "token",
    }
    flags.update({f"salesforce.{k}": v for k, v in salesforce.items()})
    return load_config(None, flags=flags, environ={}, cwd=tmp_path), {"SF_ACCESS_TOKEN": sb.token}


def counts(sf, objects) -> dict[str, int]:
    return {o: sf.query(f"SELECT COUNT() FROM {o}")["totalSize"] for o in objects}


def in_org(world: Path) -> dict[str, int]:
    """Per loaded object, the records a full load leaves in the org: the world's, less those
    no load can create (converted leads and their memberships: records.not_loadable)."""
    from orgforge.targets.salesforce.plan import LOAD_OBJECTS
    from orgforge.targets.salesforce.records import WorldSource, not_loadable
    from orgforge.world import World

    with World(world, create=False) as w:
        source = WorldSource(w)
        return {
            name: sum(1 for r in source.records(name) if not_loadable(r, source) is None)
            for name in LOAD_OBJECTS
        }


def created_by_load(world: Path) -> dict[str, int]:
    """What a full load into an empty org creates: in_org less the standard price book, which
    the org has already (the load adopts it)."""
    return {**in_org(world), "Pricebook2": 0}
