"""The agents page and API: routing decisions from the flywheel logs, "why this owner"."""

from __future__ import annotations

import datetime as dt

import httpx

from orgforge.agents.flywheel import FlywheelLog
from orgforge.agents.routing import Decision, Lead
from orgforge.web import run_in_thread
from tests.web.conftest import settings_for

AT = dt.datetime(2026, 11, 30, 14, 5, tzinfo=dt.UTC)


def _log(folder) -> None:
    with FlywheelLog(folder) as log:
        for n, owner in enumerate(["ada@acme.test", "ben@acme.test", "ada@acme.test"]):
            lead = Lead(f"00Q{n}", AT, company=f"Company {n}", country="US", employees=50)
            decision = Decision(
                lead_id=lead.id,
                decided_at=AT + dt.timedelta(minutes=n),
                owner=owner,
                rule="pool",
                reason=f"weighted round robin in smb-na: {owner} had the least credit",
                segment="smb",
                region="na",
                pool="smb-na",
                candidates=[{"rep": owner, "weight": 1.0, "credit": 0.0, "excluded": False}],
                exclusions=[{"rep": "cy@acme.test", "reason": "out of office"}],
                policy_version="v1",
            )
            log.route(decision, lead, state_before="0" * 8, latency_ms=1.5)


def test_decisions_show_who_got_each_lead_and_why(tmp_path):
    _log(tmp_path / "flywheel")
    settings = settings_for(tmp_path, log_dir=str(tmp_path / "flywheel"))
    with run_in_thread(settings) as web:
        headers = {"Authorization": f"Bearer {web.token}"}
        with httpx.Client(base_url=web.url, headers=headers) as client:
            rows = client.get("/api/agents/decisions").json()
            assert [r["lead_id"] for r in rows] == ["00Q2", "00Q1", "00Q0"]  # newest first
            assert rows[1]["owner"] == "ben@acme.test" and rows[1]["rule"] == "pool"
            one = client.get("/api/agents/decisions", params={"lead": "00Q1"}).json()
            assert [r["lead_id"] for r in one] == ["00Q1"]
            page = client.get("/agents")
            assert page.status_code == 200
            assert "least credit" in page.text and "out of office" in page.text
            assert page.text.count("<tr>") == 1 + 3  # the header and one row per decision


def test_no_logs_yet_is_an_empty_page_not_an_error(server, api):
    assert api.get("/api/agents/decisions").json() == []
    assert "No decisions yet" in api.get("/agents").text
