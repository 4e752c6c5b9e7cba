"""Density (records per account) from the generate page's sliders and the API's ``per_account``:
a low and a high setting write the counts they say, and a bad value is refused, unwritten."""

from __future__ import annotations

import re

import pytest

from orgforge.web import run_in_thread
from tests.web.conftest import settings_for, wait_op

LOW = {"Contact": 1, "Opportunity": 0.5, "Case": 0, "Task": 1, "Event": 0.5, "Lead": 1}
HIGH = {"Contact": 12, "Opportunity": 6, "Case": 5, "Task": 10, "Event": 3, "Lead": 8}
ACCOUNTS = 20  # a multiple of the block size: per-block totals are exact


@pytest.mark.parametrize("density", [LOW, HIGH], ids=["low", "high"])
def test_a_density_writes_the_counts_it_says(tmp_path, density):
    with run_in_thread(settings_for(tmp_path)) as web:
        import httpx

        headers = {"Authorization": f"Bearer {web.token}"}
        with httpx.Client(base_url=web.url, headers=headers, timeout=120) as api:
            params = {"accounts": ACCOUNTS, "seed": 5, "per_account": density}
            preview = api.post("/api/generate/preview", json=params).json()
            started = api.post("/api/ops", json={"kind": "generate", "params": params})
            assert started.status_code == 202, started.text
            op = wait_op(api, started.json()["id"])
    assert op["state"] == "ok", op
    counts = op["result"]["counts"]
    for name, per in density.items():
        assert counts.get(name, 0) == round(per * ACCOUNTS), (name, counts)
        assert preview["counts"].get(name, 0) == counts.get(name, 0)
    # contact roles follow opportunities (the PRD's two per opportunity), comments their cases
    assert counts["OpportunityContactRole"] >= counts["Opportunity"]
    assert counts.get("CaseComment", 0) <= 2 * counts.get("Case", 0)
    if density is HIGH:
        assert counts["OpportunityContactRole"] > ACCOUNTS * 5  # more than the default 5


def test_low_and_high_differ_the_way_the_sliders_say(tmp_path):
    """The same recipe but the density: every slid object moves in its direction."""
    import httpx

    results = {}
    for label, density in (("low", LOW), ("high", HIGH)):
        with run_in_thread(settings_for(tmp_path / label)) as web:
            headers = {"Authorization": f"Bearer {web.token}"}
            with httpx.Client(base_url=web.url, headers=headers, timeout=120) as api:
                params = {"accounts": ACCOUNTS, "seed": 5, "per_account": density}
                preview = api.post("/api/generate/preview", json=params)
                results[label] = preview.json()["counts"]
    for name in LOW:
        assert results["low"].get(name, 0) < results["high"][name], name
    assert results["low"]["Account"] == results["high"]["Account"] == ACCOUNTS


def test_the_page_form_sends_only_the_sliders_moved_and_refuses_out_of_range(server, api):
    page = api.get("/generate")
    assert page.status_code == 200
    for name in ("Contact", "Opportunity", "Case", "Task", "Event", "Lead"):
        # a labelled range input per object, starting at the config's value
        assert f'<label for="density-{name}">' in page.text
        slider = rf'<input type="range" id="density-{name}" name="per_account.{name}"'
        assert re.search(slider, page.text), name
    form = {"preset": "tiny", "action": "preview", "per_account.Contact": "9"}
    shown = api.post("/generate", data=form)  # bearer: no CSRF token needed
    assert shown.status_code == 200, shown.text
    contacts = re.search(r"<th scope=\"row\">Contact</th><td>([\d,]+)</td>", shown.text)
    assert contacts and contacts[1] == "90"  # 10 accounts × 9 (tiny preset)
    assert 'value="9"' in shown.text  # the slider keeps where it was put
    bad = api.post("/generate", data={**form, "per_account.Contact": "500"})
    assert bad.status_code == 400 and "Contacts: 500 per account is out of range" in bad.text


def test_bad_per_account_from_the_api_is_refused_and_nothing_is_written(server, api):
    answer = api.post(
        "/api/ops",
        json={"kind": "generate", "params": {"preset": "tiny", "per_account": {"Widget": 3}}},
    )
    assert answer.status_code == 400
    assert "Widget" in answer.json()["error"] and answer.json()["hint"]
    assert api.get("/api/ops").json() == []
