"""generate → load → query: the sales objects through the real loader into the sandbox."""

from __future__ import annotations

from orgforge.sandbox.salesforce import simple_salesforce as sandbox_sf
from orgforge.targets.salesforce import ops
from orgforge.world import World
from tests.targets.conftest import created_by_load, in_org, sf_config
from tests.worlds import rows


def _by_key(sf, soql: str) -> dict[str, dict]:
    return {r["Orgforge_Key__c"]: r for r in sf.query_all(soql)["records"]}


def test_round_trip_of_the_sales_objects(sandbox, world, tmp_path):
    cfg, env = sf_config(sandbox, world, tmp_path)
    report, _ = ops.load(cfg, env=env)
    assert report.failed == 0
    assert {n: t.created for n, t in report.tallies.items()} == created_by_load(world)
    assert report.tallies["Pricebook2"].adopted == 1
    warnings = " ".join(report.warnings)
    assert "not loaded (converted lead)" in warnings and "EmailMessage" in warnings
    sf = sandbox_sf(sandbox)

    # the org chart and the subsidiaries: set after the creates, pointing at the right records
    contacts = _by_key(sf, "SELECT Orgforge_Key__c, ReportsTo.Orgforge_Key__c FROM Contact")
    world_contacts = rows(world, "Contact")
    assert sum(1 for c in world_contacts if c["ReportsToId"]) > 100
    for contact in world_contacts:
        boss = contacts[contact["key"]]["ReportsTo"]
        assert (boss or {}).get("Orgforge_Key__c") == contact["ReportsToId"], contact["key"]
    accounts = _by_key(sf, "SELECT Orgforge_Key__c, Parent.Orgforge_Key__c FROM Account")
    for account in rows(world, "Account"):
        parent = accounts[account["key"]]["Parent"]
        assert (parent or {}).get("Orgforge_Key__c") == account["ParentId"]

    # the deals' products: priced in the org's standard price book, summing to the Amount
    standard = sf.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")["records"][0]["Id"]
    lines = sf.query_all(
        "SELECT Opportunity.Orgforge_Key__c, TotalPrice, PricebookEntry.Pricebook2Id "
        "FROM OpportunityLineItem"
    )["records"]
    totals: dict[str, float] = {}
    for line in lines:
        assert line["PricebookEntry"]["Pricebook2Id"] == standard
        key = line["Opportunity"]["Orgforge_Key__c"]
        totals[key] = totals.get(key, 0) + line["TotalPrice"]
    amounts = {o["key"]: o["Amount"] for o in rows(world, "Opportunity") if o["Amount"]}
    assert totals.keys() == amounts.keys()
    assert all(abs(totals[k] - amounts[k]) < 0.005 for k in amounts)

    # unconverted leads and the members that aren't converted leads are in the org
    with World(world, create=False) as w:
        open_leads = w.count("Lead") - sum(1 for r in rows(world, "Lead") if r["IsConverted"])
    org_leads = sf.query("SELECT COUNT() FROM Lead")["totalSize"]
    assert org_leads == open_leads == in_org(world)["Lead"]
    members = sf.query_all(
        "SELECT Campaign.Orgforge_Key__c, Lead.Orgforge_Key__c, Contact.Orgforge_Key__c, "
        "HasResponded FROM CampaignMember"
    )["records"]
    assert len(members) == in_org(world)["CampaignMember"]
    assert any(m["HasResponded"] for m in members) and any(m["Contact"] for m in members)

    again, _ = ops.load(cfg, env=env)  # a second load sends nothing
    assert sum(t.created + t.updated for t in again.tallies.values()) == 0
