"""SOQL: the parser on its own, and queries over HTTP with relationship fields and paging."""

from __future__ import annotations

import datetime as dt

import pytest

from orgforge.soql import Comparison, Count, Logical, Not, SOQLError, parse
from orgforge.soql import date_range as literal_range
from tests.sandbox.helpers import create, error_code, wait_for_job


def test_parser_builds_the_tree():
    q = parse(
        "select Id, Account.Name, (SELECT LastName FROM Contacts) from Opportunity o "
        "WHERE (StageName IN ('Prospecting', 'Closed Won') OR Amount >= 10.5) "
        "AND NOT Name LIKE 'Test\\_%' AND CloseDate = LAST_N_DAYS:30 "
        "ORDER BY Amount DESC NULLS LAST, Name LIMIT 10 OFFSET 5"
    )
    assert q.sobject == "Opportunity" and q.alias == "o"
    assert q.items[1].parts == ["Account", "Name"]
    assert q.items[2].sobject == "Contacts"
    assert isinstance(q.where, Logical) and q.where.op == "AND"
    inner = q.where.items[0]
    assert isinstance(inner, Logical) and inner.op == "OR"
    assert isinstance(inner.items[0], Comparison) and inner.items[0].op == "IN"
    assert [v.value for v in inner.items[0].value] == ["Prospecting", "Closed Won"]
    assert isinstance(q.where.items[1], Not)
    assert q.where.items[2].value.value == ("LAST_N_DAYS", 30)
    assert [(o.path.text, o.desc, o.nulls_last) for o in q.order] == [
        ("Amount", True, True),
        ("Name", False, False),
    ]
    assert (q.limit, q.offset) == (10, 5)
    assert isinstance(parse("SELECT COUNT() FROM Account").items[0], Count)


def test_parser_literals_and_escapes():
    q = parse(
        "SELECT Id FROM Event WHERE Subject = 'It\\'s \\\\ \"ok\"\\n' "
        "AND ActivityDate = 2024-02-29 "
        "AND StartDateTime > 2024-01-01T10:00:00.000+02:00 AND IsPrivate = false "
        "AND DurationInMinutes != null AND DurationInMinutes > -5"
    )
    values = [c.value for c in q.where.items]
    assert values[0].value == 'It\'s \\ "ok"\n'
    assert values[1].value == dt.date(2024, 2, 29)
    assert values[2].value == dt.datetime(2024, 1, 1, 8, 0, tzinfo=dt.UTC)
    assert values[3].value is False and values[4].kind == "null" and values[5].value == -5


@pytest.mark.parametrize(
    "text",
    [
        "SELECT FROM Account",
        "SELECT Id Account",
        "SELECT Id FROM Account WHERE",
        "SELECT Id FROM Account WHERE Name = 'unterminated",
        "SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'",
        "SELECT Id FROM Account LIMIT -1",
        "SELECT Id FROM Account WHERE Name == 'x'",
        "SELECT Id FROM Account WHERE CreatedDate = LAST_N_DAYS",
        "SELECT Id, FROM Account",
        "SELECT Id FROM Account ORDER BY",
        "SELECT Id FROM Account WHERE Name = 'a\\q'",
        "SELECT Id FROM Account WHERE CreatedDate > 2024-13-01",
    ],
)
def test_parser_rejects_malformed(text):
    with pytest.raises(SOQLError):
        parse(text)


def test_date_literal_ranges():
    today = dt.date(2026, 1, 15)  # a Thursday
    assert literal_range("TODAY", None, today) == (today, dt.date(2026, 1, 16))
    assert literal_range("YESTERDAY", None, today)[0] == dt.date(2026, 1, 14)
    assert literal_range("LAST_N_DAYS", 7, today) == (dt.date(2026, 1, 8), dt.date(2026, 1, 16))
    assert literal_range("NEXT_N_DAYS", 2, today) == (dt.date(2026, 1, 16), dt.date(2026, 1, 18))
    assert literal_range("THIS_WEEK", None, today) == (dt.date(2026, 1, 11), dt.date(2026, 1, 18))
    assert literal_range("THIS_MONTH", None, today) == (dt.date(2026, 1, 1), dt.date(2026, 2, 1))
    assert literal_range("LAST_MONTH", None, today) == (dt.date(2025, 12, 1), dt.date(2026, 1, 1))
    assert literal_range("THIS_QUARTER", None, today)[1] == dt.date(2026, 4, 1)
    assert literal_range("LAST_N_MONTHS", 2, today)[0] == dt.date(2025, 11, 1)
    assert literal_range("THIS_YEAR", None, today) == (dt.date(2026, 1, 1), dt.date(2027, 1, 1))


@pytest.fixture
def org(api):
    acme = create(api, "Account", Name="Acme", Industry="Technology", AnnualRevenue=5e6)
    globex = create(api, "Account", Name="Globex", Industry="Banking")
    create(api, "Account", Name="Initech")
    jo = create(api, "Contact", FirstName="Jo", LastName="Smith", AccountId=acme)
    create(api, "Contact", FirstName="Al", LastName="Baker", AccountId=acme)
    lead = create(api, "Lead", LastName="Leadly", Company="Umbrella")
    today = dt.datetime.now(dt.UTC).date()
    won = create(
        api,
        "Opportunity",
        Name="Big",
        StageName="Closed Won",
        Amount=100,
        CloseDate=str(today - dt.timedelta(days=3)),
        AccountId=acme,
    )
    create(
        api,
        "Opportunity",
        Name="Small",
        StageName="Prospecting",
        Amount=None,
        CloseDate=str(today + dt.timedelta(days=40)),
        AccountId=globex,
    )
    create(api, "Task", Subject="Call Jo", WhoId=jo, WhatId=won, Type="Call")
    create(api, "Task", Subject="Email lead", WhoId=lead, Type="Email")
    return {"acme": acme, "jo": jo, "won": won, "lead": lead}


def q(api, text, endpoint="/query"):
    response = api.get(endpoint, params={"q": text})
    assert response.status_code == 200, response.text
    return response.json()


def test_relationship_and_polymorphic_fields(api, org):
    res = q(api, "SELECT Name, Account.Name, Account.Owner.Name FROM Contact ORDER BY LastName")
    assert res["totalSize"] == 2 and res["done"] is True
    first = res["records"][0]
    assert first["attributes"]["type"] == "Contact"
    assert (
        first["Account"]["Name"] == "Acme" and first["Account"]["attributes"]["type"] == "Account"
    )
    assert first["Account"]["Owner"]["Name"] == "Ada Admin"
    tasks = q(
        api, "SELECT Subject, What.Type, What.Name, Who.Name, Who.Type FROM Task ORDER BY Subject"
    )
    call, email = tasks["records"]
    assert call["What"]["Type"] == "Opportunity" and call["What"]["Name"] == "Big"
    assert call["What"]["attributes"]["type"] == "Name"
    assert call["Who"]["Name"] == "Jo Smith" and email["Who"]["Type"] == "Lead"
    assert email["What"] is None
    filtered = q(api, "SELECT Subject FROM Task WHERE What.Type = 'Opportunity'")
    assert [r["Subject"] for r in filtered["records"]] == ["Call Jo"]


def test_where_operators_and_semantics(api, org):
    def names(text):
        return [r["Name"] for r in q(api, text)["records"]]

    assert names("SELECT Name FROM Account WHERE Name = 'acme'") == ["Acme"]
    assert names("SELECT Name FROM Account WHERE Industry != 'Banking' ORDER BY Name") == [
        "Acme",
        "Initech",
    ]
    assert names("SELECT Name FROM Account WHERE Industry = null") == ["Initech"]
    assert names("SELECT Name FROM Account WHERE Name LIKE '%ex' OR Name LIKE 'I_itech'") == [
        "Globex",
        "Initech",
    ]
    assert names(
        "SELECT Name FROM Account WHERE Name IN ('Acme', 'Globex') AND NOT Name = 'Acme'"
    ) == ["Globex"]
    assert names("SELECT Name FROM Account WHERE Name NOT IN ('Acme') ORDER BY Name DESC") == [
        "Initech",
        "Globex",
    ]
    assert names("SELECT Name FROM Account WHERE AnnualRevenue > 1000000") == ["Acme"]
    assert names(f"SELECT Name FROM Account WHERE Id = '{org['acme'][:15]}'") == ["Acme"]
    assert names("SELECT Name FROM Account WHERE Id IN (SELECT AccountId FROM Contact)") == ["Acme"]
    assert names("SELECT Name FROM Opportunity WHERE IsWon = true") == ["Big"]
    assert names("SELECT Name FROM Opportunity WHERE CloseDate = LAST_N_DAYS:7") == ["Big"]
    assert names("SELECT Name FROM Opportunity WHERE CloseDate > TODAY") == ["Small"]
    assert names("SELECT Name FROM Opportunity WHERE CloseDate = NEXT_N_DAYS:60") == ["Small"]
    assert names("SELECT Name FROM Account WHERE CreatedDate = TODAY ORDER BY Name LIMIT 1") == [
        "Acme"
    ]
    assert names("SELECT Name FROM Account WHERE CreatedDate < YESTERDAY") == []
    assert names(
        "SELECT Name FROM Account WHERE CreatedDate > 2020-01-01T00:00:00Z LIMIT 5 OFFSET 2"
    ) == ["Initech"]
    assert names("SELECT Name FROM Opportunity ORDER BY Amount ASC NULLS LAST") == ["Big", "Small"]
    assert names("SELECT Name FROM Opportunity ORDER BY Amount ASC NULLS FIRST") == ["Small", "Big"]


def test_count_and_child_subquery(api, org):
    assert q(api, "SELECT COUNT() FROM Contact")["totalSize"] == 2
    agg = q(api, "SELECT COUNT(Id) total FROM Account WHERE Industry != null")
    assert agg["records"][0]["total"] == 2
    assert agg["records"][0]["attributes"] == {"type": "AggregateResult"}
    res = q(
        api,
        "SELECT Name, (SELECT LastName FROM Contacts ORDER BY LastName) FROM Account ORDER BY Name",
    )
    acme, globex, _ = res["records"]
    assert [c["LastName"] for c in acme["Contacts"]["records"]] == ["Baker", "Smith"]
    assert acme["Contacts"]["totalSize"] == 2 and globex["Contacts"] is None


def test_query_all_includes_deleted(api, org):
    api.delete(f"/sobjects/Lead/{org['lead']}")
    assert q(api, "SELECT Id FROM Lead")["totalSize"] == 0
    rows = q(api, "SELECT Id, IsDeleted FROM Lead", "/queryAll")["records"]
    assert rows[0]["IsDeleted"] is True
    assert q(api, "SELECT Id FROM Lead WHERE IsDeleted = true", "/queryAll")["totalSize"] == 1


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("SELECT Id FRM Account", "MALFORMED_QUERY"),
        ("SELECT Nope FROM Account", "INVALID_FIELD"),
        ("SELECT Id FROM Nope", "INVALID_TYPE"),
        ("SELECT Account.Nope FROM Contact", "INVALID_FIELD"),
        ("SELECT Id FROM Opportunity WHERE CloseDate = '2024-01-01'", "INVALID_FIELD"),
        ("SELECT Id FROM Account WHERE Name = 5", "INVALID_FIELD"),
        ("SELECT Id FROM Account WHERE Id = 'xyz'", "INVALID_QUERY_FILTER_OPERATOR"),
        ("SELECT Id FROM Account OFFSET 2001", "NUMBER_OUTSIDE_VALID_RANGE"),
        ("SELECT Id FROM Account WHERE Description = 'x'", "INVALID_FIELD"),
    ],
)
def test_bad_queries(api, text, code):
    response = api.get("/query", params={"q": text})
    assert response.status_code == 400
    assert error_code(response) == code
    body = response.json()[0]
    assert "ERROR at Row:1:Column:" in body["message"] and "fields" not in body


def test_pagination_with_next_records_url(sb, api):
    rows = "\n".join(f"Account {i:05d},P{i}" for i in range(4500))
    job = api.post("/jobs/ingest", json={"object": "Account", "operation": "insert"}).json()
    api.put(
        f"/jobs/ingest/{job['id']}/batches",
        content=f"Name,Orgforge_Key__c\n{rows}\n",
        headers={"Content-Type": "text/csv"},
    )
    api.patch(f"/jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    assert wait_for_job(api, f"/jobs/ingest/{job['id']}")["numberRecordsFailed"] == 0

    page = q(api, "SELECT Id, Name FROM Account ORDER BY Name")
    assert page["totalSize"] == 4500 and page["done"] is False and len(page["records"]) == 2000
    seen = [r["Name"] for r in page["records"]]
    while not page["done"]:
        url = page["nextRecordsUrl"]
        assert url.startswith("/services/data/v59.0/query/")
        page = api.get(f"{sb.instance_url}{url}").json()
        seen += [r["Name"] for r in page["records"]]
    assert seen == [f"Account {i:05d}" for i in range(4500)]
    assert "nextRecordsUrl" not in page
    small = api.get(
        "/query",
        params={"q": "SELECT Id FROM Account"},
        headers={"Sforce-Query-Options": "batchSize=500"},
    ).json()
    assert len(small["records"]) == 500
    bad = api.get("/query/01gBOGUS-2000")
    assert bad.status_code == 400 and error_code(bad) == "INVALID_QUERY_LOCATOR"
