"""Helpers shared by the sandbox tests."""

from __future__ import annotations

import time

import httpx


def wait_for_job(api: httpx.Client, path: str, timeout: float = 20.0) -> dict:
    """Poll a Bulk job with short intervals until it reaches a final state."""
    deadline = time.monotonic() + timeout
    while True:
        info = api.get(path).json()
        if info["state"] in ("JobComplete", "Failed", "Aborted"):
            return info
        if time.monotonic() > deadline:
            raise AssertionError(f"job still {info['state']} after {timeout}s")
        time.sleep(0.02)


def create(api: httpx.Client, sobject: str, **fields) -> str:
    response = api.post(f"/sobjects/{sobject}/", json=fields)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert isinstance(body, list) and len(body) == 1, body
    return body[0]["errorCode"]
