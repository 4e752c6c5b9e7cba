"""The sales objects in the sandbox: described like an org describes them, and what an org
derives or refuses (the standard price book, line item prices, member responses, leads)."""

from __future__ import annotations

import httpx
import pytest

from tests.sandbox.helpers import create, error_code

NEW = (
    "Product2",
    "Pricebook2",
    "PricebookEntry",
    "Campaign",
    "CampaignMember",
    "OpportunityLineItem",
    "EmailMessage",
)


@pytest.mark.parametrize("name", NEW)
def test_new_objects_are_described_with_their_fields(api: httpx.Client, name):
    from orgforge.schema import salesforce as sf

    described = api.get(f"/sobjects/{name}/describe").json()
    fields = {f["name"]: f for f in described["fields"]}
    for field in sf.get(name).fields:
        assert field.name in fields, f"{name}.{field.name}"
        if field.createable and not field.audit:  # what orgforge sends, the org takes
            assert fields[field.name]["createable"], f"{name}.{field.name}"
    read_only = {"Pricebook2": "IsStandard", "CampaignMember": "HasResponded"}
    if name in read_only:  # what the org derives, no client sets
        assert not fields[read_only[name]]["createable"]
    assert "Orgforge_Key__c" in fields  # the example schema gives every new object its key
    assert described["keyPrefix"] == sf.get(name).key_prefix


def test_the_org_has_one_standard_price_book_a_client_cannot_make(api: httpx.Client):
    rows = api.get(
        "/query", params={"q": "SELECT Id, Name FROM Pricebook2 WHERE IsStandard = true"}
    )
    assert [r["Name"] for r in rows.json()["records"]] == ["Standard Price Book"]
    refused = api.post("/sobjects/Pricebook2/", json={"Name": "Mine", "IsStandard": True})
    assert refused.status_code == 400 and error_code(refused) == "INVALID_FIELD_FOR_INSERT_UPDATE"


def _deal_with_entry(api: httpx.Client) -> tuple[str, str, str]:
    book = api.get("/query", params={"q": "SELECT Id FROM Pricebook2 WHERE IsStandard = true"})
    book_id = book.json()["records"][0]["Id"]
    product = create(api, "Product2", Name="Claims Suite", IsActive=True)
    entry = create(api, "PricebookEntry", Pricebook2Id=book_id, Product2Id=product, UnitPrice=1200)
    account = create(api, "Account", Name="Acme")
    opp = create(
        api, "Opportunity", Name="Acme deal", StageName="Prospecting", CloseDate="2027-01-31",
        AccountId=account,
    )  # fmt: skip
    return book_id, entry, opp


def test_a_line_item_is_priced_from_its_entry(api: httpx.Client):
    book_id, entry, opp = _deal_with_entry(api)
    line = create(
        api, "OpportunityLineItem", OpportunityId=opp, PricebookEntryId=entry, Quantity=3,
        UnitPrice=1000, Discount=10,
    )  # fmt: skip
    got = api.get(f"/sobjects/OpportunityLineItem/{line}").json()
    assert got["TotalPrice"] == 2700.0 and got["ListPrice"] == 1200.0
    assert got["Product2Id"] and got["Product2Id"].startswith("01t")
    assert api.get(f"/sobjects/Opportunity/{opp}").json()["Pricebook2Id"] == book_id
    both = api.post(
        "/sobjects/OpportunityLineItem/",
        json={"OpportunityId": opp, "PricebookEntryId": entry, "Quantity": 1,
              "UnitPrice": 5, "TotalPrice": 5},
    )  # fmt: skip
    assert both.status_code == 400 and error_code(both) == "FIELD_INTEGRITY_EXCEPTION"
    no_entry = api.post(
        "/sobjects/OpportunityLineItem/", json={"OpportunityId": opp, "Quantity": 1}
    )
    assert no_entry.status_code == 400 and error_code(no_entry) == "REQUIRED_FIELD_MISSING"


def test_a_line_from_another_price_book_is_refused(api: httpx.Client):
    _, entry, opp = _deal_with_entry(api)
    other = create(api, "Pricebook2", Name="Partner prices", IsActive=True)
    product = create(api, "Product2", Name="Other", IsActive=True)
    other_entry = create(
        api, "PricebookEntry", Pricebook2Id=other, Product2Id=product, UnitPrice=10
    )
    create(api, "OpportunityLineItem", OpportunityId=opp, PricebookEntryId=entry, Quantity=1)
    refused = api.post(
        "/sobjects/OpportunityLineItem/",
        json={"OpportunityId": opp, "PricebookEntryId": other_entry, "Quantity": 1},
    )
    assert refused.status_code == 400 and error_code(refused) == "FIELD_INTEGRITY_EXCEPTION"


def test_member_response_and_lead_conversion_are_the_orgs_to_set(api: httpx.Client):
    campaign = create(api, "Campaign", Name="Webinar #1", Status="Completed")
    lead = create(api, "Lead", LastName="Ng", Company="Nimbus & Co")
    member = create(api, "CampaignMember", CampaignId=campaign, LeadId=lead, Status="Responded")
    got = api.get(f"/sobjects/CampaignMember/{member}").json()
    assert got["HasResponded"] is True and got["FirstRespondedDate"]
    assert api.get(f"/sobjects/Lead/{lead}").json()["IsConverted"] is False
    refused = api.post(
        "/sobjects/Lead/", json={"LastName": "X", "Company": "Y", "ConvertedDate": "2026-01-01"}
    )
    assert refused.status_code == 400 and error_code(refused) == "INVALID_FIELD_FOR_INSERT_UPDATE"
