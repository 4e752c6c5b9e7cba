"""The main flows in a real browser: Playwright driving Debian's Chromium (by path).

Log in, generate a prd world, see its charts, load it into the Salesforce sandbox with a dry
run first, start a job on the Asana sandbox, pause and resume it, watch its log update live,
log out. Every page is saved as a screenshot under tests/web/screenshots/ (ignored by git), at
1280×800 and on a narrow window.

Skipped only when Chromium is missing on a developer's machine; in CI (.ci/run installs
Chromium) a missing browser fails the test.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orgforge.sandbox.asana import SandboxConfig as AsanaConfig
from orgforge.sandbox.asana import run_in_thread as asana_sandbox
from orgforge.sandbox.salesforce import EXAMPLE_SCHEMA, SandboxConfig
from orgforge.sandbox.salesforce import run_in_thread as salesforce_sandbox
from orgforge.web import run_in_thread
from tests.web.conftest import org_count, settings_for, write_config

SHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = next(
    (p for p in ("/usr/bin/chromium", shutil.which("chromium") or "") if p and Path(p).exists()),
    None,
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
WAIT_MS = 60_000  # generous: the machine is shared; every wait ends as soon as its condition holds

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None and not os.environ.get("CI"),
        reason="Chromium is not installed (apt-get install -y chromium); .ci/run installs it",
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM is not None, "CI must have Chromium: .ci/run installs it"
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def stack(tmp_path) -> Iterator[dict[str, Any]]:
    """The web app, with a Salesforce sandbox to load into and an Asana sandbox for jobs."""
    with (
        salesforce_sandbox(SandboxConfig(db_path=tmp_path / "org.db", schema=EXAMPLE_SCHEMA)) as sf,
        asana_sandbox(AsanaConfig(db_path=tmp_path / "asana.db", users=3)) as asana,
    ):
        settings = settings_for(tmp_path, config=write_config(tmp_path, asana), environ=asana.env())
        with run_in_thread(settings) as web:
            yield {"web": web, "sf": sf, "asana": asana}


def shot(page: Any, name: str, narrow: bool = True) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    if narrow:
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(SHOTS / f"{name}-narrow.png"), full_page=True)
        page.set_viewport_size({"width": 1280, "height": 800})


def nav(page: Any, name: str) -> None:
    page.get_by_role("navigation").get_by_role("link", name=name, exact=True).click()


def _labelled_controls_only(page: Any) -> None:
    """Every visible form control has a label (accessible forms)."""
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
            .map(el => el.name)"""
    )
    assert unlabelled == [], unlabelled


def test_the_main_flows_in_chromium(browser, stack):
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    web, sf = stack["web"], stack["sf"]
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()

    # -- log in ------------------------------------------------------------------------------
    response = page.goto(web.url + "/world")
    assert response.status == 401
    expect(page.get_by_label("Token")).to_be_visible()
    shot(page, "01-login")
    page.get_by_label("Token").fill("wrong-token-wrong-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not this server's")
    page.get_by_label("Token").fill(web.token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="World", exact=True)).to_be_visible()
    expect(page.locator("main")).to_contain_text("no records yet")

    # -- generate a prd world: preview first, then the run with live progress ------------------
    nav(page, "Generate")
    _labelled_controls_only(page)
    page.get_by_label("Preset", exact=True).select_option("prd")
    page.get_by_label("Seed").fill("7")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#preview")
    expect(preview).to_contain_text("Preview: what a run would write")
    expect(preview.locator("tr", has_text="Account")).to_contain_text("100")
    shot(page, "02-generate-preview")
    page.get_by_role("button", name="Generate", exact=True).click()
    expect(page).to_have_url(re.compile(r"/ops/op-1$"))
    expect(page.locator('[data-field="state"]')).to_have_text("ok")
    expect(page.locator("#result")).to_contain_text("Written")
    shot(page, "03-generate-done")

    # -- the world's charts --------------------------------------------------------------------
    nav(page, "World")
    charts = page.locator("figure.chart")
    expect(charts.first).to_be_visible()
    assert charts.count() >= 5
    stage = page.locator('figure[data-chart="opportunity_stage"] svg rect.obs')
    assert stage.count() >= 5
    widths = [float(stage.nth(i).get_attribute("width")) for i in range(stage.count())]
    assert sum(widths) > 0
    expect(page.locator("section", has_text="orgforge check")).to_contain_text("Every rule holds")
    shot(page, "04-world")

    # -- load into the sandbox: a dry-run preview table first, then for real --------------------
    nav(page, "Load")
    _labelled_controls_only(page)
    page.get_by_label("Instance URL").fill(sf.instance_url)
    page.get_by_label("Access token").fill(sf.token)
    page.get_by_role("button", name="Preview (dry run)").click()
    expect(page.locator('[data-field="state"]')).to_have_text("ok")
    table = page.locator("table.preview")
    expect(table).to_contain_text("to create")
    expect(table.locator("tr", has_text="Account").first).to_contain_text("100")
    assert org_count(sf, "Account") == 0  # nothing written yet
    shot(page, "05-load-dry-run")
    page.get_by_role("button", name="Load for real").click()
    expect(page.locator('[data-field="state"]')).to_have_text("ok")
    expect(page.locator("#result")).to_contain_text("Loaded")
    assert org_count(sf, "Account") == 100
    shot(page, "06-load-done")

    # -- a job: start it from the form, watch the log, pause, resume --------------------------
    nav(page, "Jobs")
    _labelled_controls_only(page)
    shot(page, "07-jobs-form")
    page.get_by_label("Target", exact=True).select_option("asana")
    page.get_by_label("Name", exact=True).fill("browser job")
    page.get_by_label("Actions per working hour").fill("20")
    page.get_by_label("Clock").fill("backfill:7d")
    page.get_by_label("Time zone").fill("UTC")
    page.get_by_label("Start hour").fill("0")
    page.get_by_label("End hour").fill("24")
    page.get_by_role("button", name="Start job").click()
    expect(page).to_have_url(re.compile(r"/jobs/asana-1$"))
    page.wait_for_function("() => document.querySelectorAll('#log tr').length >= 3")
    shot(page, "08-job-running", narrow=False)
    page.get_by_role("button", name="Pause").click()
    expect(page.locator('[data-field="state"]')).to_have_text("paused")
    last_seq = (
        "() => Math.max(...[...document.querySelectorAll('#log tr')].map(r => +r.dataset.seq))"
    )
    at_pause = page.evaluate(last_seq)
    shot(page, "09-job-paused", narrow=False)
    page.get_by_role("button", name="Resume").click()
    expect(page.locator('[data-field="state"]')).to_have_text("active")
    shown = page.evaluate(last_seq)
    assert shown >= at_pause
    # the log grows on this page, without a reload: the rows come over server-sent events
    page.evaluate("() => { window.__same_page = true; }")
    page.wait_for_function(f"() => ({last_seq})() > {shown}")
    assert page.evaluate("() => window.__same_page === true")
    seqs = page.evaluate("() => [...document.querySelectorAll('#log tr')].map(r => +r.dataset.seq)")
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))  # in order, each action once
    expect(page.locator('[data-field="done"]')).not_to_have_text("0")
    shot(page, "10-job-live")
    page.get_by_role("button", name="Stop").click()
    expect(page.locator('[data-field="state"]')).to_have_text("stopped")

    # -- operations list, API docs, log out ---------------------------------------------------
    nav(page, "Operations")
    expect(page.locator("table.ops")).to_contain_text("op-3")
    shot(page, "11-operations")
    nav(page, "Agents")
    expect(page.locator("main")).to_contain_text("No decisions yet")
    shot(page, "12-agents")
    nav(page, "API")
    expect(page.locator(".swagger-ui")).to_contain_text("/api/ops")
    shot(page, "13-api-docs", narrow=False)
    page.go_back()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_label("Token")).to_be_visible()
    assert page.goto(web.url + "/jobs").status == 401
    context.close()
