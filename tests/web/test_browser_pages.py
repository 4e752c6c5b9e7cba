"""More pages in a real browser (Playwright driving Debian's Chromium, see test_browser.py):
the generate page's density sliders, moved by keyboard. Screenshots go to tests/web/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from orgforge.web import run_in_thread
from tests.web.conftest import settings_for
from tests.web.test_browser import WAIT_MS, browser, pytestmark, shot  # noqa: F401

__all__ = ["pytestmark"]


@pytest.fixture
def page(browser, tmp_path) -> Iterator[tuple[Any, Any]]:  # noqa: F811
    """A signed-in page on a fresh server, and the server."""
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    settings = settings_for(tmp_path, log_dir=str(tmp_path / "flywheel"))
    with run_in_thread(settings) as web:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(WAIT_MS)
        tab = context.new_page()
        tab.goto(web.url + "/login")
        tab.get_by_label("Token").fill(web.token)
        tab.get_by_role("button", name="Sign in").click()
        expect(tab.get_by_role("heading", name="World", exact=True)).to_be_visible()
        yield tab, web
        context.close()


def test_density_sliders_move_by_keyboard_and_change_what_is_generated(page):
    from playwright.sync_api import expect

    tab, web = page
    tab.goto(web.url + "/generate")
    contacts = tab.get_by_label("Contacts", exact=True)
    expect(contacts).to_have_attribute("type", "range")
    expect(contacts).to_have_value("4")  # the config's per_account.Contact
    tab.get_by_label("Preset", exact=True).select_option("tiny")
    contacts.focus()
    for _ in range(4):  # four steps of 0.5 with the arrow key: 4 → 6 per account
        tab.keyboard.press("ArrowRight")
    expect(contacts).to_have_value("6")
    expect(tab.locator("#density-Contact-shown")).to_have_text("6")
    cases = tab.get_by_label("Cases", exact=True)
    cases.focus()
    tab.keyboard.press("Home")  # no cases at all
    expect(cases).to_have_value("0")
    tab.get_by_role("button", name="Preview").click()
    preview = tab.locator("#preview")
    expect(preview.locator("tr", has_text="Contact").first).to_contain_text("60")
    expect(preview).not_to_contain_text("CaseComment")
    expect(tab.get_by_label("Contacts", exact=True)).to_have_value("6")  # kept after the post
    shot(tab, "14-generate-density")
    tab.get_by_role("button", name="Generate", exact=True).click()
    expect(tab).to_have_url(re.compile(r"/ops/op-1$"))
    expect(tab.locator('[data-field="state"]')).to_have_text("ok")
    written = tab.locator("#result")
    expect(written.locator("tr", has_text="Contact").first).to_contain_text("60")
    case_row = written.locator("tr", has=tab.locator("th", has_text=re.compile(r"^Case$")))
    expect(case_row.locator("td").first).to_have_text("0")
