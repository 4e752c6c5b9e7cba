"""Fixtures for the web app: a real uvicorn server on 127.0.0.1 (port 0), httpx clients."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orgforge.web import WebSettings, run_in_thread


def settings_for(tmp_path: Path, **values: Any) -> WebSettings:
    base = {
        "world": str(tmp_path / "orgforge.db"),
        "runs_dir": str(tmp_path / "runs"),
        "port": 0,
        "environ": {},
    }
    base.update(values)
    return WebSettings(**base)


@pytest.fixture
def server(tmp_path) -> Iterator[Any]:
    with run_in_thread(settings_for(tmp_path)) as web:
        yield web


@pytest.fixture
def api(server) -> Iterator[httpx.Client]:
    """A client with the server's bearer token."""
    headers = {"Authorization": f"Bearer {server.token}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
        yield client


def events(response: httpx.Response, stop: Any, limit: int = 10_000) -> list[tuple[str, Any]]:
    """Read server-sent events from a streaming response until ``stop(name, data)`` is true."""
    seen: list[tuple[str, Any]] = []
    name = None
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: ") and name is not None:
            data = json.loads(line[len("data: ") :])
            seen.append((name, data))
            if stop(name, data) or len(seen) >= limit:
                break
            name = None
    return seen


def wait_op(client: httpx.Client, op_id: str) -> dict[str, Any]:
    """Follow an operation's event stream to its end; returns the final operation."""
    with client.stream("GET", f"/api/ops/{op_id}/events") as response:
        assert response.status_code == 200
        seen = events(response, lambda name, data: name == "end")
    assert seen and seen[-1][0] == "end", seen
    return seen[-1][1]


def org_count(sb, obj: str) -> int:
    """Records of ``obj`` in a Salesforce sandbox, by a SOQL COUNT() over its REST API."""
    answer = httpx.get(
        f"{sb.instance_url}/services/data/v{sb.api_version}/query",
        params={"q": f"SELECT COUNT() FROM {obj}"},
        headers={"Authorization": f"Bearer {sb.token}"},
    )
    return answer.json()["totalSize"]


def write_config(tmp_path, sb) -> str:
    """An orgforge.yaml pointing the Asana target at sandbox ``sb``."""
    path = tmp_path / "orgforge.yaml"
    path.write_text(f"asana:\n  url: {sb.base_url}\n  tier: paid\n", encoding="utf-8")
    return str(path)
