"""sObject Collections: create, update, delete, upsert, retrieve; allOrNone true and false."""

from __future__ import annotations

from tests.sandbox.helpers import create, error_code

ROLLED_BACK = "ALL_OR_NONE_OPERATION_ROLLED_BACK"


def records(*bodies):
    return [{"attributes": {"type": t}, **b} for t, b in bodies]


def test_create_partial_success(api):
    body = {
        "allOrNone": False,
        "records": records(
            ("Account", {"Name": "Good 1"}),
            ("Account", {"Industry": "Banking"}),  # Name missing
            ("Contact", {"LastName": "Good 2"}),
        ),
    }
    results = api.post("/composite/sobjects", json=body).json()
    assert results[0]["success"] is True and results[0]["id"].startswith("001")
    assert results[0]["errors"] == []
    assert results[1] == {
        "success": False,
        "errors": [
            {
                "statusCode": "REQUIRED_FIELD_MISSING",
                "message": "Required fields are missing: [Name]",
                "fields": ["Name"],
            }
        ],
    }
    assert results[2]["success"] is True and results[2]["id"].startswith("003")
    count = api.get("/query", params={"q": "SELECT COUNT() FROM Account"}).json()
    assert count["totalSize"] == 1


def test_create_all_or_none_rolls_back(api):
    body = {
        "allOrNone": True,
        "records": records(("Account", {"Name": "A"}), ("Account", {"Name": "x" * 300})),
    }
    results = api.post("/composite/sobjects", json=body).json()
    assert results[0]["success"] is False and "id" not in results[0]
    assert results[0]["errors"][0]["statusCode"] == ROLLED_BACK
    assert results[1]["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    assert api.get("/query", params={"q": "SELECT COUNT() FROM Account"}).json()["totalSize"] == 0


def test_update_and_delete_collections(api):
    a1 = create(api, "Account", Name="One")
    a2 = create(api, "Account", Name="Two")
    body = {
        "allOrNone": False,
        "records": records(
            ("Account", {"Id": a1, "Name": "One!"}),
            ("Account", {"Id": a2[:15], "Rating": "Lukewarm-ish" * 30}),
            ("Account", {"Name": "no id"}),
        ),
    }
    results = api.patch("/composite/sobjects", json=body).json()
    assert results[0] == {"id": a1, "success": True, "errors": []}
    assert results[1]["id"] == a2 and results[1]["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    assert results[2]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"

    rolled = api.patch(
        "/composite/sobjects",
        json={
            "allOrNone": True,
            "records": records(
                ("Account", {"Id": a1, "Name": "Changed"}),
                ("Account", {"Id": a2, "Name": None}),
            ),
        },
    ).json()
    assert rolled[0] == {
        "id": a1,
        "success": False,
        "errors": [
            {
                "statusCode": ROLLED_BACK,
                "message": "Record rolled back because not all records were valid and the "
                "request was using AllOrNone header",
                "fields": [],
            }
        ],
    }
    assert rolled[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert api.get(f"/sobjects/Account/{a1}").json()["Name"] == "One!"

    deleted = api.delete("/composite/sobjects", params={"ids": f"{a1},bogus", "allOrNone": "true"})
    assert [r["success"] for r in deleted.json()] == [False, False]
    assert deleted.json()[1]["errors"][0]["statusCode"] == "MALFORMED_ID"
    assert api.get(f"/sobjects/Account/{a1}").status_code == 200
    deleted = api.delete("/composite/sobjects", params={"ids": f"{a1},{a2}"}).json()
    assert deleted == [
        {"id": a1, "success": True, "errors": []},
        {"id": a2, "success": True, "errors": []},
    ]
    again = api.delete("/composite/sobjects", params={"ids": a1}).json()
    assert again[0]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"


def test_collection_limits_and_request_errors(api):
    too_many = {"records": records(*[("Account", {"Name": f"A{i}"}) for i in range(201)])}
    response = api.post("/composite/sobjects", json=too_many)
    assert response.status_code == 400 and error_code(response) == "EXCEEDED_ID_LIMIT"
    unknown = api.post("/composite/sobjects", json={"records": records(("Nope", {"Name": "x"}))})
    assert unknown.status_code == 400 and error_code(unknown) == "INVALID_TYPE"
    bad_field = api.post("/composite/sobjects", json={"records": records(("Account", {"X": 1}))})
    assert bad_field.status_code == 400 and error_code(bad_field) == "INVALID_FIELD"


def test_upsert_collection_and_retrieve(api):
    body = {
        "allOrNone": False,
        "records": records(
            ("Contact", {"LastName": "A", "Orgforge_Key__c": "C1"}),
            ("Contact", {"LastName": "B", "Orgforge_Key__c": "C2"}),
        ),
    }
    first = api.patch("/composite/sobjects/Contact/Orgforge_Key__c", json=body).json()
    assert [r["created"] for r in first] == [True, True]
    body["records"][0]["LastName"] = "A2"
    second = api.patch("/composite/sobjects/Contact/Orgforge_Key__c", json=body).json()
    assert [r["created"] for r in second] == [False, False]
    assert [r["id"] for r in second] == [r["id"] for r in first]

    ids = [first[0]["id"], first[1]["id"][:15], "0038a0000009999AAA"]
    got = api.post("/composite/sobjects/Contact", json={"ids": ids, "fields": ["LastName"]}).json()
    assert got[0]["LastName"] == "A2" and got[0]["Id"] == first[0]["id"]
    assert got[1]["attributes"]["type"] == "Contact" and got[2] is None
    via_get = api.get(
        "/composite/sobjects/Contact", params={"ids": first[1]["id"], "fields": "LastName,Name"}
    ).json()
    assert via_get[0]["Name"] == "B"
