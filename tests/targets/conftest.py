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
