from __future__ import annotations

import pytest

from orgforge.config import Config
from orgforge.sandbox.asana import SandboxConfig, run_in_thread
from tests.cli.conftest import tiny_world_file  # noqa: F401  (the fixture, shared)
from tests.targets.conftest import sandbox  # noqa: F401  (a Salesforce sandbox)


@pytest.fixture
def sb(tmp_path):
    with run_in_thread(SandboxConfig(db_path=tmp_path / "asana.db", users=4)) as box:
        yield box


def config_for(tmp_path, sb, **asana) -> Config:
    return Config.model_validate(
        {
            "world": str(tmp_path / "orgforge.db"),
            "runs_dir": str(tmp_path / "runs"),
            "asana": {"url": sb.base_url, "tier": "paid", **asana},
        }
    )
