"""The sandbox reads time from its clock: records' audit dates follow a simulated clock."""

from __future__ import annotations

import httpx

from orgforge.clock import SimulatedClock
from orgforge.sandbox.salesforce import run_in_thread


def test_audit_dates_follow_the_sandbox_clock(tmp_path):
    clock = SimulatedClock("2031-05-06T07:08:09Z")
    with run_in_thread(db_path=tmp_path / "c.db", clock=clock) as sb:
        api = httpx.Client(base_url=sb.base_url, headers=sb.headers, timeout=30)
        created = api.post("/sobjects/Account", json={"Name": "Clockwork"}).json()["id"]
        clock.advance(3 * 86400)
        assert api.patch(f"/sobjects/Account/{created}", json={"Rating": "Hot"}).status_code == 204
        record = api.get(f"/sobjects/Account/{created}").json()
        api.close()
    assert record["CreatedDate"].startswith("2031-05-06T07:08:09.000")
    assert record["LastModifiedDate"].startswith("2031-05-09T07:08:09.000")
    assert record["SystemModstamp"] == record["LastModifiedDate"]


def test_soql_date_literals_count_from_the_sandbox_clock(tmp_path):
    clock = SimulatedClock("2031-05-06T07:08:09Z")
    with run_in_thread(db_path=tmp_path / "d.db", clock=clock) as sb:
        api = httpx.Client(base_url=sb.base_url, headers=sb.headers, timeout=30)
        api.post("/sobjects/Account", json={"Name": "Made today"})

        def count(where: str) -> int:
            query = f"SELECT Id FROM Account WHERE {where}"
            return api.get("/query", params={"q": query}).json()["totalSize"]

        assert count("CreatedDate = TODAY") == 1
        clock.advance(2 * 86400)  # two days on: no longer today, still within the last 3 days
        assert count("CreatedDate = TODAY") == 0
        assert count("CreatedDate = LAST_N_DAYS:3") == 1
        api.close()
