"""Asana sandboxes on random ports over real HTTP, and SDK clients pointed at them."""

from __future__ import annotations

from collections.abc import Iterator

import asana
import httpx
import pytest

from orgforge.sandbox.asana import AsanaSandbox, SandboxConfig, run_in_thread


def sdk_client(sb: AsanaSandbox, token: str | None = None) -> asana.ApiClient:
    """The unmodified asana SDK, its host pointed at the sandbox."""
    cfg = asana.Configuration()
    cfg.host = sb.base_url
    cfg.access_token = token or sb.token
    return asana.ApiClient(cfg)


@pytest.fixture
def sb(tmp_path) -> Iterator[AsanaSandbox]:
    with run_in_thread(SandboxConfig(db_path=tmp_path / "asana.db", users=3)) as box:
        yield box


@pytest.fixture
def client(sb: AsanaSandbox) -> asana.ApiClient:
    return sdk_client(sb)


@pytest.fixture
def http(sb: AsanaSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sb.base_url, headers=sb.headers, timeout=30) as c:
        yield c


def team_gid(sb: AsanaSandbox, name: str = "Marketing") -> str:
    return next(t["gid"] for t in sb.state.store.of_type("team") if t["name"] == name)


def stats(sb: AsanaSandbox) -> dict:
    response = httpx.get(f"{sb.url}/_sandbox/stats", headers=sb.admin_headers)
    assert response.status_code == 200, response.text
    return response.json()
