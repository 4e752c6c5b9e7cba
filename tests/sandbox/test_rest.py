"""REST: discovery, describe, CRUD, upsert and the error shapes of a real org."""

from __future__ import annotations

import re

import httpx
import pytest

from orgforge.sandbox.salesforce import ids
from tests.sandbox.helpers import create, error_code

DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")


def test_ids_use_real_prefixes_and_case_safe_suffix():
    assert ids.to18("0015000000Gv7qJ") == "0015000000Gv7qJAAR"
    assert ids.to18("00300000003T2PG") == "00300000003T2PGAA0"
    made = ids.make_id("006", 12345)
    assert len(made) == 18 and made.startswith("006")
    assert ids.normalize(made[:15]) == made
    assert ids.normalize(made.lower()) == made  # case repaired from the suffix
    assert ids.normalize("001xyz") is None
    assert ids.normalize("0015000000Gv7qJAA!") is None


def test_versions_resources_and_limits_count_down(sb, api):
    versions = httpx.get(f"{sb.instance_url}/services/data/").json()
    assert {"label", "url", "version"} <= set(versions[-1])
    assert any(v["version"] == "59.0" for v in versions)
    assert "sobjects" in api.get("/").json()
    first = api.get("/limits/").json()["DailyApiRequests"]
    second = api.get("/limits/").json()["DailyApiRequests"]
    assert first["Max"] == 100_000
    assert second["Remaining"] == first["Remaining"] - 1
    assert api.get("/limits").headers["Sforce-Limit-Info"].startswith("api-usage=")
    assert (
        httpx.get(f"{sb.instance_url}/services/data/v10.0/limits", headers=sb.headers).status_code
        == 404
    )


def test_describe_global_and_object(api):
    glob = api.get("/sobjects").json()
    names = {o["name"]: o for o in glob["sobjects"]}
    expected = {
        "Account": "001",
        "Contact": "003",
        "Opportunity": "006",
        "OpportunityContactRole": "00K",
        "Case": "500",
        "CaseComment": "00a",
        "Task": "00T",
        "Event": "00U",
        "Lead": "00Q",
        "User": "005",
        "EventRelation": "0RE",
        "Scorecard__c": "a0X",
    }
    for name, prefix in expected.items():
        assert names[name]["keyPrefix"] == prefix
    assert glob["maxBatchSize"] == 200

    opp = api.get("/sobjects/Opportunity/describe").json()
    fields = {f["name"]: f for f in opp["fields"]}
    assert opp["keyPrefix"] == "006"
    assert fields["NextStep"]["length"] == 255 and fields["NextStep"]["type"] == "string"
    assert fields["IsClosed"]["createable"] is False and fields["IsWon"]["updateable"] is False
    assert fields["AccountId"]["referenceTo"] == ["Account"]
    assert fields["AccountId"]["relationshipName"] == "Account"
    assert fields["Orgforge_Key__c"]["externalId"] is True and fields["Orgforge_Key__c"]["idLookup"]
    assert fields["Orgforge_Key__c"]["unique"] is True and fields["Orgforge_Key__c"]["length"] == 80
    assert "Closed Won" in [p["value"] for p in fields["StageName"]["picklistValues"]]
    assert fields["StageName"]["nillable"] is False

    task = {f["name"]: f for f in api.get("/sobjects/Task/describe").json()["fields"]}
    assert task["WhoId"]["referenceTo"] == ["Contact", "Lead"]
    assert task["WhatId"]["referenceTo"] == ["Account", "Opportunity", "Case"]
    assert task["WhatId"]["polymorphicForeignKey"] is True
    types = [p["value"] for p in task["Type"]["picklistValues"]]
    assert {"Call", "Email", "Meeting", "Demo", "Other"} <= set(types)
    assert task["Type"]["restrictedPicklist"] is False

    account = api.get("/sobjects/Account/describe").json()
    children = {(c["childSObject"], c["field"]): c for c in account["childRelationships"]}
    assert children[("Contact", "AccountId")]["relationshipName"] == "Contacts"
    assert children[("Contact", "AccountId")]["cascadeDelete"] is True
    assert api.get("/sobjects/Nope__c/describe").status_code == 404


def test_generator_fields_exist_and_are_createable(api):
    wanted = {
        "Account": "Name Industry Type Phone Website AnnualRevenue NumberOfEmployees Description "
        "BillingStreet BillingCity BillingState BillingPostalCode BillingCountry Rating "
        "AccountSource OwnerId",
        "Contact": "AccountId Salutation FirstName LastName Title Department Email Phone "
        "MobilePhone LeadSource MailingStreet MailingCity MailingState MailingPostalCode "
        "MailingCountry Description OwnerId",
        "Opportunity": "AccountId Name StageName CloseDate Amount Probability "
        "ForecastCategoryName Type LeadSource NextStep Description OwnerId",
        "OpportunityContactRole": "OpportunityId ContactId Role IsPrimary",
        "Case": "AccountId ContactId Subject Description Status Priority Origin Type Reason "
        "IsEscalated OwnerId",
        "CaseComment": "ParentId CommentBody IsPublished",
        "Task": "Subject Description Status Priority ActivityDate TaskSubtype Type CallType "
        "CallDurationInSeconds WhoId WhatId OwnerId",
        "Event": "Subject Description StartDateTime EndDateTime DurationInMinutes "
        "ActivityDateTime Location Type ShowAs IsAllDayEvent WhoId WhatId OwnerId",
    }
    for sobject, names in wanted.items():
        fields = {f["name"]: f for f in api.get(f"/sobjects/{sobject}/describe").json()["fields"]}
        for name in names.split():
            assert name in fields, f"{sobject}.{name}"
            assert fields[name]["createable"], f"{sobject}.{name} must be createable"


def test_crud_round_trip_with_system_fields(sb, api):
    account_id = create(
        api,
        "Account",
        Name="Acme Corp",
        Industry="Technology",
        AnnualRevenue=1_500_000,
        NumberOfEmployees=120,
    )
    assert account_id.startswith("001") and len(account_id) == 18
    rec = api.get(f"/sobjects/Account/{account_id}").json()
    assert rec["attributes"] == {
        "type": "Account",
        "url": f"/services/data/v59.0/sobjects/Account/{account_id}",
    }
    assert rec["Name"] == "Acme Corp" and rec["AnnualRevenue"] == 1_500_000.0
    assert rec["IsDeleted"] is False
    assert DATETIME.match(rec["CreatedDate"]) and DATETIME.match(rec["SystemModstamp"])
    assert rec["OwnerId"] == rec["CreatedById"] == sb.state.org.admin_id

    some = api.get(f"/sobjects/Account/{account_id[:15]}", params={"fields": "Name,Industry"})
    assert set(some.json()) == {"attributes", "Name", "Industry"}

    assert api.patch(f"/sobjects/Account/{account_id}", json={"Rating": "Hot"}).status_code == 204
    assert api.get(f"/sobjects/Account/{account_id}").json()["Rating"] == "Hot"
    assert api.delete(f"/sobjects/Account/{account_id}").status_code == 204
    gone = api.get(f"/sobjects/Account/{account_id}")
    assert gone.status_code == 404 and error_code(gone) == "NOT_FOUND"
    again = api.delete(f"/sobjects/Account/{account_id}")
    assert again.status_code == 404 and error_code(again) == "ENTITY_IS_DELETED"


def test_upsert_by_external_id_201_then_200(sb, api):
    first = api.patch("/sobjects/Account/Orgforge_Key__c/Account-0001", json={"Name": "Acme"})
    assert first.status_code == 201
    assert first.json()["created"] is True and first.json()["success"] is True
    second = api.patch("/sobjects/Account/Orgforge_Key__c/account-0001", json={"Name": "Acme 2"})
    assert second.status_code == 200, second.text
    assert second.json() == {
        "id": first.json()["id"],
        "success": True,
        "errors": [],
        "created": False,
    }
    # Older API versions answer 204 for an update through upsert.
    old = api.patch(
        f"{sb.instance_url}/services/data/v45.0/sobjects/Account/Orgforge_Key__c/Account-0001",
        json={"Name": "Acme 3"},
    )
    assert old.status_code == 204
    fetched = api.get("/sobjects/Account/Orgforge_Key__c/Account-0001").json()
    assert fetched["Name"] == "Acme 3"
    bad = api.patch("/sobjects/Account/Name/x", json={"Industry": "Banking"})
    assert bad.status_code == 404 and error_code(bad) == "NOT_FOUND"


def test_relationship_by_external_id_in_json(api):
    create(api, "Account", Name="Parent", Orgforge_Key__c="A-1")
    contact = api.post(
        "/sobjects/Contact", json={"LastName": "Kim", "Account": {"Orgforge_Key__c": "A-1"}}
    )
    assert contact.status_code == 201
    rec = api.get(f"/sobjects/Contact/{contact.json()['id']}").json()
    assert rec["AccountId"].startswith("001") and rec["Name"] == "Kim"


@pytest.mark.parametrize(
    ("sobject", "body", "code", "fields"),
    [
        ("Account", {"Industry": "Banking"}, "REQUIRED_FIELD_MISSING", ["Name"]),
        ("Account", {"Name": "x", "Bogus__c": 1}, "INVALID_FIELD", ["Bogus__c"]),
        (
            "Opportunity",
            {"Name": "o", "StageName": "Prospecting", "CloseDate": "2030-01-01", "IsWon": True},
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            ["IsWon"],
        ),
        (
            "Contact",
            {"LastName": "x", "AccountId": "garbage-id-value"},
            "MALFORMED_ID",
            ["AccountId"],
        ),
        (
            "Contact",
            {"LastName": "x", "AccountId": "0018a0000009999AAA"},
            "INVALID_CROSS_REFERENCE_KEY",
            ["AccountId"],
        ),
        (
            "Contact",
            {"LastName": "x", "AccountId": "0058a0000000001AAA"},
            "FIELD_INTEGRITY_EXCEPTION",
            ["AccountId"],
        ),
        ("Account", {"Name": "x" * 256}, "STRING_TOO_LONG", ["Name"]),
        (
            "Opportunity",
            {"Name": "o", "StageName": "Dreaming", "CloseDate": "2030-01-01"},
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            ["StageName"],
        ),
        ("Account", {"Name": "x", "NumberOfEmployees": "many"}, "JSON_PARSER_ERROR", None),
        (
            "Opportunity",
            {"Name": "o", "StageName": "Prospecting", "CloseDate": "2030-13-45"},
            "JSON_PARSER_ERROR",
            None,
        ),
        ("Contact", {"LastName": "x", "Email": "not-an-email"}, "INVALID_EMAIL_ADDRESS", ["Email"]),
        (
            "Account",
            {"Name": "x", "AnnualRevenue": 1e20},
            "NUMBER_OUTSIDE_VALID_RANGE",
            ["AnnualRevenue"],
        ),
        (
            "Account",
            {"Name": "x", "OwnerId": "0058a0000000008AAA"},
            "INACTIVE_OWNER_OR_USER",
            ["OwnerId"],
        ),
        (
            "Event",
            {
                "Subject": "m",
                "StartDateTime": "2030-01-01T10:00:00Z",
                "EndDateTime": "2030-01-01T09:00:00Z",
            },
            "FIELD_INTEGRITY_EXCEPTION",
            ["EndDateTime"],
        ),
    ],
)
def test_write_errors_have_real_codes(api, sobject, body, code, fields):
    response = api.post(f"/sobjects/{sobject}", json=body)
    assert response.status_code == 400, response.text
    err = response.json()[0]
    assert err["errorCode"] == code, err
    assert isinstance(err["message"], str) and err["message"]
    if fields is not None:
        assert err["fields"] == fields


def test_duplicate_value_and_malformed_json(api):
    create(api, "Account", Name="One", Orgforge_Key__c="K1")
    dupe = api.post("/sobjects/Account", json={"Name": "Two", "Orgforge_Key__c": "k1"})
    assert dupe.status_code == 400 and error_code(dupe) == "DUPLICATE_VALUE"
    broken = api.post(
        "/sobjects/Account", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400 and error_code(broken) == "JSON_PARSER_ERROR"
    malformed = api.get("/sobjects/Account/001ABC")
    assert malformed.status_code == 404
    wrong_type = api.get("/sobjects/Account/0038a0000000001AAA")
    assert wrong_type.status_code == 400 and error_code(wrong_type) == "MALFORMED_ID"


def test_update_deleted_record_is_entity_is_deleted(api):
    account_id = create(api, "Account", Name="Gone")
    api.delete(f"/sobjects/Account/{account_id}")
    response = api.patch(f"/sobjects/Account/{account_id}", json={"Name": "Back"})
    # 404 like DELETE, as a real org answers (it used to be 400)
    assert response.status_code == 404 and error_code(response) == "ENTITY_IS_DELETED"


def test_derived_fields(api):
    account_id = create(api, "Account", Name="Derive")
    opp_id = create(
        api,
        "Opportunity",
        Name="Deal",
        StageName="Negotiation/Review",
        CloseDate="2030-03-31",
        Amount=1000,
        AccountId=account_id,
    )
    opp = api.get(f"/sobjects/Opportunity/{opp_id}").json()
    assert (opp["IsClosed"], opp["IsWon"], opp["Probability"]) == (False, False, 90.0)
    assert opp["ForecastCategoryName"] == "Pipeline" and opp["ForecastCategory"] == "Pipeline"
    api.patch(f"/sobjects/Opportunity/{opp_id}", json={"StageName": "Closed Won"})
    opp = api.get(f"/sobjects/Opportunity/{opp_id}").json()
    assert (opp["IsClosed"], opp["IsWon"], opp["Probability"]) == (True, True, 100.0)
    assert opp["ForecastCategory"] == "Closed"

    case_id = create(api, "Case", Subject="Broken", AccountId=account_id)
    case = api.get(f"/sobjects/Case/{case_id}").json()
    assert case["Status"] == "New" and case["IsClosed"] is False and case["ClosedDate"] is None
    assert re.fullmatch(r"\d{8}", case["CaseNumber"])
    api.patch(f"/sobjects/Case/{case_id}", json={"Status": "Closed"})
    case = api.get(f"/sobjects/Case/{case_id}").json()
    assert case["IsClosed"] is True and DATETIME.match(case["ClosedDate"])

    task_id = create(api, "Task", Subject="Call", WhatId=opp_id, Status="Completed", Type="Demo")
    task = api.get(f"/sobjects/Task/{task_id}").json()
    assert task["IsClosed"] is True and task["AccountId"] == account_id

    event_id = create(
        api,
        "Event",
        Subject="Meet",
        StartDateTime="2030-01-01T10:00:00.000+0000",
        DurationInMinutes=45,
        Type="Meeting",
    )
    event = api.get(f"/sobjects/Event/{event_id}").json()
    assert event["EndDateTime"] == "2030-01-01T10:45:00.000+0000"
    assert event["ActivityDateTime"] == event["StartDateTime"]


def test_cascade_and_restrict_delete(api):
    account_id = create(api, "Account", Name="Parent")
    contact_id = create(api, "Contact", LastName="Child", AccountId=account_id)
    opp_id = create(
        api,
        "Opportunity",
        Name="Deal",
        StageName="Prospecting",
        CloseDate="2030-01-01",
        AccountId=account_id,
    )
    ocr_id = create(api, "OpportunityContactRole", OpportunityId=opp_id, ContactId=contact_id)
    case_id = create(api, "Case", Subject="Help", AccountId=account_id, ContactId=contact_id)
    comment_id = create(api, "CaseComment", ParentId=case_id, CommentBody="On it")
    task_id = create(api, "Task", Subject="Call", WhatId=opp_id, WhoId=contact_id)

    # A contact linked to a case can't be deleted on its own.
    refused = api.delete(f"/sobjects/Contact/{contact_id}")
    assert refused.status_code == 400 and error_code(refused) == "DELETE_FAILED"

    assert api.delete(f"/sobjects/Account/{account_id}").status_code == 204
    for sobject, record_id in [
        ("Contact", contact_id),
        ("Opportunity", opp_id),
        ("OpportunityContactRole", ocr_id),
        ("Case", case_id),
        ("CaseComment", comment_id),
        ("Task", task_id),
    ]:
        assert api.get(f"/sobjects/{sobject}/{record_id}").status_code == 404, sobject
    rows = api.get("/queryAll", params={"q": "SELECT Id, IsDeleted FROM Contact"}).json()
    assert rows["records"][0]["IsDeleted"] is True


def test_oauth_scheme_and_bad_tokens(sb):
    ok = httpx.get(f"{sb.base_url}/limits", headers={"Authorization": f"OAuth {sb.token}"})
    assert ok.status_code == 200
    for header in ({"Authorization": "Bearer nope"}, {}, {"Authorization": sb.token}):
        bad = httpx.get(f"{sb.base_url}/sobjects", headers=header)
        assert bad.status_code == 401
        assert bad.json() == [
            {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
        ]


def test_unknown_path_is_not_found(api):
    response = api.get("/nothing/here")
    assert response.status_code == 404 and error_code(response) == "NOT_FOUND"


def test_concurrent_writes_stay_independent(sb):
    """Many clients at once: one writer at a time, and each record's result is its own."""
    from concurrent.futures import ThreadPoolExecutor

    def worker(n: int) -> list[int]:
        with httpx.Client(base_url=sb.base_url, headers=sb.headers, timeout=30) as client:
            codes = []
            for i in range(15):
                # every worker also races for the same shared keys: exactly one may win each
                key = f"shared-{i}" if i % 3 == 0 else f"w{n}-{i}"
                response = client.post(
                    "/sobjects/Account", json={"Name": key, "Orgforge_Key__c": key}
                )
                codes.append(response.status_code)
                if response.status_code == 400:
                    assert response.json()[0]["errorCode"] == "DUPLICATE_VALUE"
            return codes

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = [c for result in pool.map(worker, range(8)) for c in result]
    created = codes.count(201)
    assert created == 8 * 10 + 5 and codes.count(400) == 7 * 5
    with httpx.Client(base_url=sb.base_url, headers=sb.headers) as client:
        total = client.get("/query", params={"q": "SELECT COUNT() FROM Account"}).json()
    assert total["totalSize"] == created


def test_user_is_read_only_and_duplicate_external_ids_are_300(sb, api):
    response = api.post("/sobjects/User", json={"LastName": "New", "Username": "x@y.z"})
    assert response.status_code == 400 and error_code(response) == "INVALID_TYPE_FOR_OPERATION"
    users = api.get("/query", params={"q": "SELECT Name, TimeZoneSidKey, IsActive FROM User"})
    assert users.json()["totalSize"] == 8
    assert {u["TimeZoneSidKey"] for u in users.json()["records"]} >= {"Europe/London", "Asia/Tokyo"}
    # Contact.Email is an idLookup field but not unique: two matches → 300 Multiple Choices.
    create(api, "Contact", LastName="A", Email="same@example.com")
    create(api, "Contact", LastName="B", Email="same@example.com")
    response = api.patch("/sobjects/Contact/Email/same@example.com", json={"Title": "CEO"})
    assert response.status_code == 300 and len(response.json()) == 2
