"""Bulk API 2.0: ingest jobs end to end, relationship columns, chunked uploads, query jobs."""

from __future__ import annotations

import csv
import http.client
import io
from urllib.parse import urlsplit

from tests.sandbox.helpers import create, error_code, wait_for_job


def ingest(api, sobject, operation, data, **extra):
    job = api.post("/jobs/ingest/", json={"object": sobject, "operation": operation, **extra})
    assert job.status_code == 200, job.text
    info = job.json()
    assert info["state"] == "Open" and info["contentUrl"].endswith(f"{info['id']}/batches")
    put = api.put(
        f"/jobs/ingest/{info['id']}/batches", content=data, headers={"Content-Type": "text/csv"}
    )
    assert put.status_code == 201, put.text
    closed = api.patch(f"/jobs/ingest/{info['id']}", json={"state": "UploadComplete"}).json()
    assert closed["state"] == "UploadComplete"
    return wait_for_job(api, f"/jobs/ingest/{info['id']}")


def rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_insert_with_relationship_and_polymorphic_columns(api):
    accounts = ingest(
        api,
        "Account",
        "insert",
        "Name,Orgforge_Key__c,Industry\nAcme,A1,Technology\nGlobex,A2,Banking\n",
    )
    assert accounts["state"] == "JobComplete"
    assert (accounts["numberRecordsProcessed"], accounts["numberRecordsFailed"]) == (2, 0)
    contacts = ingest(
        api,
        "Contact",
        "insert",
        "LastName,Orgforge_Key__c,Account.Orgforge_Key__c\nSmith,C1,A1\nJones,C2,A9\n",
    )
    assert (contacts["numberRecordsProcessed"], contacts["numberRecordsFailed"]) == (2, 1)
    ok = rows(api.get(f"/jobs/ingest/{contacts['id']}/successfulResults/").text)
    assert ok[0]["sf__Created"] == "true" and ok[0]["sf__Id"].startswith("003")
    assert ok[0]["LastName"] == "Smith" and ok[0]["Account.Orgforge_Key__c"] == "A1"
    failed = rows(api.get(f"/jobs/ingest/{contacts['id']}/failedResults/").text)
    assert failed[0]["LastName"] == "Jones" and failed[0]["sf__Id"] == ""
    assert failed[0]["sf__Error"].startswith("INVALID_FIELD:Foreign key external ID: A9 not found")

    ingest(
        api,
        "Opportunity",
        "insert",
        "Name,StageName,CloseDate,Amount,Orgforge_Key__c,Account.Orgforge_Key__c\n"
        "Deal,Prospecting,2030-01-31,1000.50,O1,A1\n",
    )
    tasks = ingest(
        api,
        "Task",
        "insert",
        "Subject,Type,Contact:Who.Orgforge_Key__c,Lead:Who.Orgforge_Key__c,"
        "Opportunity:What.Orgforge_Key__c,Account:What.Orgforge_Key__c\n"
        "Call Smith,Call,C1,,O1,\n"
        "Email Acme,Email,,,,A2\n"
        "Both,Other,C1,,O1,A1\n",
    )
    assert tasks["numberRecordsFailed"] == 1
    result = api.get(
        "/query",
        params={"q": "SELECT Subject, Who.Name, What.Type, What.Name FROM Task ORDER BY Subject"},
    ).json()
    by_subject = {r["Subject"]: r for r in result["records"]}
    assert by_subject["Call Smith"]["Who"]["Name"] == "Smith"
    assert by_subject["Call Smith"]["What"]["Type"] == "Opportunity"
    assert (
        by_subject["Email Acme"]["What"]["Name"] == "Globex"
        and by_subject["Email Acme"]["Who"] is None
    )
    amount = api.get("/query", params={"q": "SELECT Amount, Account.Name FROM Opportunity"}).json()
    assert amount["records"][0]["Amount"] == 1000.5
    assert amount["records"][0]["Account"]["Name"] == "Acme"


def test_update_upsert_delete_and_errors(api):
    a1 = create(api, "Account", Name="One", Orgforge_Key__c="K1")
    upserted = ingest(
        api,
        "Account",
        "upsert",
        "Orgforge_Key__c,Name,Rating\nK1,One v2,#N/A\nK2,Two,Hot\nK3,,Cold\n",
        externalIdFieldName="Orgforge_Key__c",
    )
    assert upserted["externalIdFieldName"] == "Orgforge_Key__c"
    ok = rows(api.get(f"/jobs/ingest/{upserted['id']}/successfulResults").text)
    assert [(r["Orgforge_Key__c"], r["sf__Created"]) for r in ok] == [
        ("K1", "false"),
        ("K2", "true"),
    ]
    assert ok[0]["sf__Id"] == a1
    failed = rows(api.get(f"/jobs/ingest/{upserted['id']}/failedResults").text)
    assert failed[0]["sf__Error"].startswith(
        "REQUIRED_FIELD_MISSING:Required fields are missing: [Name]"
    )

    updated = ingest(
        api,
        "Account",
        "update",
        f"Id,NumberOfEmployees\n{a1[:15]},12\n001000000000000AAA,3\n{a1},lots\n",
    )
    assert updated["numberRecordsFailed"] == 2
    errors = [
        r["sf__Error"] for r in rows(api.get(f"/jobs/ingest/{updated['id']}/failedResults").text)
    ]
    assert errors[0].startswith("INVALID_CROSS_REFERENCE_KEY") or errors[0].startswith(
        "MALFORMED_ID"
    )
    assert errors[1].startswith("INVALID_FIELD:Failed to deserialize field at col 2")
    assert api.get(f"/sobjects/Account/{a1}").json()["NumberOfEmployees"] == 12

    deleted = ingest(api, "Account", "delete", f"Id\n{a1}\n")
    assert deleted["numberRecordsFailed"] == 0
    assert api.get(f"/sobjects/Account/{a1}").status_code == 404
    hard = ingest(api, "Account", "hardDelete", f"Id\n{a1}\n")
    assert hard["numberRecordsFailed"] == 0
    everything = api.get("/queryAll", params={"q": f"SELECT Id FROM Account WHERE Id = '{a1}'"})
    assert everything.json()["totalSize"] == 0


def test_bad_header_fails_the_job_and_job_listing(api):
    failed = ingest(api, "Account", "insert", "Name,Nope__c\nA,b\n")
    assert failed["state"] == "Failed"
    assert "Field name not found : Nope__c" in failed["errorMessage"]
    listing = api.get("/jobs/ingest").json()
    assert listing["done"] is True and failed["id"] in [j["id"] for j in listing["records"]]
    bad = api.post("/jobs/ingest", json={"object": "Account", "operation": "merge"})
    assert bad.status_code == 400 and error_code(bad) == "INVALIDJOB"
    no_key = api.post(
        "/jobs/ingest",
        json={"object": "Account", "operation": "upsert", "externalIdFieldName": "Name"},
    )
    assert no_key.status_code == 400
    assert api.delete(f"/jobs/ingest/{failed['id']}").status_code == 204
    assert api.get(f"/jobs/ingest/{failed['id']}").status_code == 404


def test_abort_and_unprocessed_records(api):
    job = api.post("/jobs/ingest", json={"object": "Account", "operation": "insert"}).json()
    api.put(
        f"/jobs/ingest/{job['id']}/batches",
        content="Name\nA\nB\n",
        headers={"Content-Type": "text/csv"},
    )
    aborted = api.patch(f"/jobs/ingest/{job['id']}", json={"state": "Aborted"}).json()
    assert aborted["state"] == "Aborted"
    again = api.patch(f"/jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    assert again.status_code == 400
    assert api.get("/query", params={"q": "SELECT COUNT() FROM Account"}).json()["totalSize"] == 0


def test_chunked_upload_without_content_length(sb, api):
    """jsforce streams CSV with Transfer-Encoding: chunked and no Content-Length."""
    job = api.post(
        "/jobs/ingest",
        json={
            "object": "Account",
            "operation": "insert",
            "lineEnding": "CRLF",
            "columnDelimiter": "SEMICOLON",
        },
    )
    info = job.json()
    url = urlsplit(f"{sb.base_url}/jobs/ingest/{info['id']}/batches")
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    conn.putrequest("PUT", url.path)
    conn.putheader("Authorization", f"Bearer {sb.token}")
    conn.putheader("Content-Type", "text/csv")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    for piece in (b"Name;Industry\r\n", b"Chunky A;Banking\r\n", b"Chunky B;Energy\r\n"):
        conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
    conn.send(b"0\r\n\r\n")
    response = conn.getresponse()
    assert response.status == 201
    conn.close()
    api.patch(f"/jobs/ingest/{info['id']}", json={"state": "UploadComplete"})
    done = wait_for_job(api, f"/jobs/ingest/{info['id']}")
    assert done["numberRecordsProcessed"] == 2 and done["numberRecordsFailed"] == 0
    result = api.get(f"/jobs/ingest/{info['id']}/successfulResults").text
    assert result.startswith('"sf__Id";"sf__Created";"Name";"Industry"\r\n')


def test_query_job_with_locator_paging(api):
    data = "Name,Industry\n" + "".join(f"Acct {i:03d},Energy\n" for i in range(25))
    ingest(api, "Account", "insert", data)
    job = api.post(
        "/jobs/query",
        json={
            "operation": "query",
            "query": "SELECT Id, Name, Owner.Name FROM Account ORDER BY Name",
        },
    )
    assert job.status_code == 200, job.text
    info = wait_for_job(api, f"/jobs/query/{job.json()['id']}")
    assert info["state"] == "JobComplete" and info["numberRecordsProcessed"] == 25
    assert info["jobType"] == "V2Query"
    names, locator, pages = [], None, 0
    while True:
        params = {"maxRecords": 10} | ({"locator": locator} if locator else {})
        page = api.get(f"/jobs/query/{info['id']}/results", params=params)
        assert page.headers["content-type"].startswith("text/csv")
        records = rows(page.text)
        assert int(page.headers["Sforce-NumberOfRecords"]) == len(records)
        assert list(records[0]) == ["Id", "Name", "Owner.Name"]
        names += [r["Name"] for r in records]
        pages += 1
        locator = page.headers["Sforce-Locator"]
        if locator == "null":
            break
    assert pages == 3 and names == [f"Acct {i:03d}" for i in range(25)]
    assert records[0]["Owner.Name"] == "Ada Admin"
    bad = api.post("/jobs/query", json={"operation": "query", "query": "SELECT Nope FROM Account"})
    assert bad.status_code == 400
    unsupported = api.post(
        "/jobs/query", json={"operation": "query", "query": "SELECT COUNT() FROM Account"}
    )
    assert unsupported.status_code == 400
    assert info["id"] in [j["id"] for j in api.get("/jobs/query").json()["records"]]
