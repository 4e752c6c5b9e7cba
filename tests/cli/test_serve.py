"""`orgforge serve` as a user runs it: the installed entry point in a subprocess."""

from __future__ import annotations

import re
import subprocess

import httpx
from tests.cli.conftest import clean_env, orgforge_bin, run_orgforge


def test_serve_prints_where_and_the_token_and_answers_with_it(tmp_path):
    process = subprocess.Popen(
        [orgforge_bin(), "serve", "--port", "0", "--world", str(tmp_path / "w.db")],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = []
        for line in process.stdout:
            banner.append(line)
            if line.startswith("Press Ctrl+C"):
                break
        text = "".join(banner)
        url = re.search(r"open\s+(http://127\.0\.0\.1:\d+)/", text)[1]
        token = re.search(r"token\s+(\S+)\s+\(generated", text)[1]
        assert f"{url}/docs" in text
        assert httpx.get(f"{url}/api/ops").status_code == 401
        answer = httpx.get(f"{url}/api/ops", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200 and answer.json() == []
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert (tmp_path / "w.db").exists()


def test_serve_beyond_loopback_without_a_token_is_refused(tmp_path):
    done = run_orgforge(["serve", "--host", "0.0.0.0", "--port", "0"], cwd=tmp_path)
    assert done.code == 2, done
    lines = done.err.strip().splitlines()
    assert lines[0].startswith("error: --host 0.0.0.0: listening beyond this machine")
    assert lines[1].startswith("hint:") and "ORGFORGE_WEB_TOKEN" in lines[1]
    assert len(lines) == 2 and not (tmp_path / "orgforge.db").exists()


def test_serve_on_a_file_that_is_not_a_world_says_so(tmp_path):
    (tmp_path / "notes.db").write_text("not a database", encoding="utf-8")
    done = run_orgforge(["serve", "--port", "0", "--world", "notes.db"], cwd=tmp_path)
    assert done.code == 2, done
    assert done.err.startswith("error: ") and "\nhint: " in done.err


def test_every_api_route_docs_web_names_exists():
    """docs/web.md's examples are text blocks (a server runs until stopped): the routes they
    name must be the app's, so the doc can't drift from the API."""
    from pathlib import Path

    from orgforge.web import WebSettings, create_app

    doc = (Path(__file__).resolve().parents[2] / "docs" / "web.md").read_text(encoding="utf-8")
    app = create_app(WebSettings(), "t" * 20)
    paths = set(app.openapi()["paths"])
    named = set(re.findall(r"(/api/[\w/{}-]+)", doc))
    assert named, "docs/web.md names no API route"
    concrete = {re.sub(r"\{\w+\}", "X", p) for p in paths}
    for path in named:
        shape = re.sub(r"\{\w+\}", "X", path)
        shape = re.sub(r"/(op-\d+|asana-\d+)", "/X", shape)
        shape = re.sub(r"/X/(pause|resume|stop)$", "/X/X", shape)
        assert shape.rstrip("/") in concrete, f"docs/web.md names {path}, which the app lacks"
