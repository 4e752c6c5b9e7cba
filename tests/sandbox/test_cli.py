"""`orgforge sandbox salesforce` serves until stopped and prints how to connect."""

from __future__ import annotations

import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx


def orgforge_bin() -> str:
    found = shutil.which("orgforge", path=str(Path(sys.executable).parent))
    assert found, "the orgforge entry point is not installed next to this Python"
    return found


def test_cli_starts_prints_and_serves(tmp_path):
    db = tmp_path / "cli.db"
    proc = subprocess.Popen(
        [
            orgforge_bin(),
            "sandbox",
            "salesforce",
            "--port",
            "0",
            "--db",
            str(db),
            "--token",
            "CLI-TOKEN",
            "--tls",
            "--seed",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        lines = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Press Ctrl+C" in line:
                break
        text = "".join(lines)
        url = re.search(r"instance URL\s+(\S+)", text).group(1)
        assert url.startswith("https://127.0.0.1:")
        # --tls: the banner says HTTPS and nowhere claims plain HTTP (it used to)
        assert re.search(r"serving\s+HTTPS", text) and "plain HTTP" not in text, text
        assert "curl --cacert" in text
        assert "CLI-TOKEN" in text and "sandbox_session" in text and "REQUESTS_CA_BUNDLE" in text
        cert = re.search(r"REQUESTS_CA_BUNDLE=(\S+)", text).group(1)
        response = httpx.get(
            f"{url}/services/data/v59.0/limits",
            headers={"Authorization": "Bearer CLI-TOKEN"},
            verify=ssl.create_default_context(cafile=cert),
        )
        assert response.status_code == 200
        stats = f"{url}/_sandbox/stats"
        trust = ssl.create_default_context(cafile=cert)
        assert httpx.get(stats, verify=trust).status_code == 401
        authorized = httpx.get(stats, headers={"Authorization": "Bearer CLI-TOKEN"}, verify=trust)
        assert authorized.status_code == 200 and authorized.json()["by_family"]["limits"] == 1
        assert db.exists()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
