"""SOQL limits over HTTP: REST query (httpx, simple-salesforce) and Bulk 2.0 query jobs."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from orgforge.sandbox.salesforce import simple_salesforce
from tests.sandbox.helpers import create, error_code, wait_for_job

WHERE = "SELECT Id FROM Account WHERE "
BAD = {
    "5,000 nested parentheses": WHERE + "(" * 5000 + "Name = 'x'" + ")" * 5000,
    "5,000 NOTs": WHERE + "NOT " * 5000 + "Name = 'x'",
    "5,000-digit number": WHERE + "AnnualRevenue > " + "9" * 5000,
    "number beyond 64 bits": WHERE + f"AnnualRevenue > {2**64}",
    "LAST_N_DAYS beyond 32 bits": WHERE + "CreatedDate = LAST_N_DAYS:99999999999",
    "LAST_N_MONTHS out of range": WHERE + "CreatedDate = LAST_N_MONTHS:2147483647",
    "NEXT_N_QUARTERS out of range": WHERE + "CreatedDate = NEXT_N_QUARTERS:99999999",
    "NEXT_N_YEARS out of range": "SELECT Id FROM Opportunity WHERE CloseDate = NEXT_N_YEARS:5000",
    "AND/OR mixed": WHERE + "Name = 'a' AND Name = 'b' OR Name = 'c'",
}


@pytest.mark.parametrize("label", list(BAD))
def test_rest_query_limits_are_clean_400s(api, label: str) -> None:
    response = api.get("/query", params={"q": BAD[label]})
    assert response.status_code == 400, response.text[:300]
    assert error_code(response) == "MALFORMED_QUERY"
    message = response.json()[0]["message"]
    assert "ERROR at Row:1:Column:" in message and "Traceback" not in message


@pytest.mark.parametrize("label", list(BAD))
def test_bulk_query_jobs_refuse_the_same_queries(api, label: str) -> None:
    response = api.post("/jobs/query", json={"operation": "query", "query": BAD[label]})
    assert response.status_code == 400, response.text[:300]
    assert error_code(response) == "INVALIDJOB"
    rest = api.get("/query", params={"q": BAD[label]}).json()[0]["message"]
    assert response.json()[0]["message"] == rest  # the same text, caret and reason


def test_five_thousand_ors_answer_through_every_client(sb, api) -> None:
    wanted = {create(api, "Account", Name=f"N{i}") for i in (7, 4242)}
    create(api, "Account", Name="Other")
    text = "SELECT Id FROM Account WHERE " + " OR ".join(f"Name = 'n{i}'" for i in range(5000))
    # simple-salesforce sends GET /query like a real load (the URL is too long for httpx).
    sf = simple_salesforce(sb)
    assert {r["Id"] for r in sf.query(text)["records"]} == wanted
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.query(BAD["5,000 NOTs"])
    assert info.value.content[0]["errorCode"] == "MALFORMED_QUERY"

    job = api.post("/jobs/query", json={"operation": "query", "query": text})
    assert job.status_code == 200, job.text[:300]
    assert wait_for_job(api, f"/jobs/query/{job.json()['id']}")["state"] == "JobComplete"
    rows = api.get(f"/jobs/query/{job.json()['id']}/results").text.splitlines()
    assert sorted(rows[1:]) == sorted(f'"{i}"' for i in wanted)


def test_nesting_at_the_parser_limit_still_answers(api) -> None:
    acme = create(api, "Account", Name="Acme")
    deep = WHERE + "NOT (" * 10 + "Name != 'x'" + ")" * 10  # 20 levels; NOT x10 cancels
    assert [r["Id"] for r in api.get("/query", params={"q": deep}).json()["records"]] == [acme]
