"""Sandboxes on random ports over real HTTP, one per test unless a test shares one on purpose."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from orgforge.sandbox.salesforce import EXAMPLE_SCHEMA, Sandbox, SandboxConfig, run_in_thread


@pytest.fixture
def sb(tmp_path) -> Iterator[Sandbox]:
    with run_in_thread(SandboxConfig(db_path=tmp_path / "org.db", schema=EXAMPLE_SCHEMA)) as box:
        yield box


@pytest.fixture
def api(sb: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sb.base_url, headers=sb.headers, timeout=30) as client:
        yield client
