"""The sales objects: leads, campaigns, price book and line items, org charts, subsidiaries and
email messages — their counts, distributions, consistency and prefix stability."""

from __future__ import annotations

import math
from collections import Counter, defaultdict

from tests.worlds import make_world, rows

from orgforge.generate.catalog import list_price
from orgforge.generate.leads import CONVERTED_SHARE
from orgforge.generate.line_items import draw_lines, total_price


def test_leads_are_three_per_account_and_a_third_converted(stats_world):
    leads = rows(stats_world, "Lead")
    accounts = rows(stats_world, "Account")
    assert len(leads) == 3 * len(accounts) == 3000  # exact per block of ten
    converted = sum(1 for lead in leads if lead["IsConverted"])
    # a third, within 3 binomial standard deviations of 3,000 leads (±77); the block's quota is
    # exactly a third, placed where the account has a deal and a contact to convert into
    sigma = math.sqrt(len(leads) * CONVERTED_SHARE * (1 - CONVERTED_SHARE))
    assert abs(converted - len(leads) * CONVERTED_SHARE) <= 3 * sigma, converted
    statuses = Counter(lead["Status"] for lead in leads)
    assert statuses["Closed - Converted"] == converted
    assert set(statuses) == {
        "Open - Not Contacted",
        "Working - Contacted",
        "Closed - Converted",
        "Closed - Not Converted",
    }
    # bigger accounts get more leads (split by size, like contacts)
    per_account = Counter(lead["key"].split("/")[1] for lead in leads)
    assert (
        max(per_account.values()) > 3
        and min(per_account.get(f"{i:04d}", 0) for i in range(1, 1001)) == 0
    )


def test_converted_leads_are_the_contacts_they_became(stats_world):
    contacts = {c["key"]: c for c in rows(stats_world, "Contact")}
    opps = {o["key"]: o for o in rows(stats_world, "Opportunity")}
    members = defaultdict(set)
    for member in rows(stats_world, "CampaignMember"):
        members[member["LeadId"]].add(member["CampaignId"])
    seen_contacts = Counter()
    for lead in rows(stats_world, "Lead"):
        if not lead["IsConverted"]:
            assert lead["ConvertedContactId"] is None
            continue
        contact = contacts[lead["ConvertedContactId"]]
        opp = opps[lead["ConvertedOpportunityId"]]
        seen_contacts[contact["key"]] += 1
        assert (lead["FirstName"], lead["LastName"], lead["Email"]) == (
            contact["FirstName"], contact["LastName"], contact["Email"],
        )  # fmt: skip
        assert lead["ConvertedDate"] == contact["CreatedDate"][:10] <= opp["CreatedDate"][:10]
        assert contact["AccountId"] == opp["AccountId"] == lead["ConvertedAccountId"]
        if opp["CampaignId"]:
            assert opp["CampaignId"] in members[lead["key"]]
    assert max(seen_contacts.values()) == 1  # a contact came from one lead at most


def test_every_deal_with_an_amount_has_lines_that_sum_to_it(stats_world):
    lines = defaultdict(list)
    for line in rows(stats_world, "OpportunityLineItem"):
        lines[line["OpportunityId"]].append(line)
    counts = Counter()
    for opp in rows(stats_world, "Opportunity"):
        mine = lines[opp["key"]]
        if opp["Amount"] is None:
            assert not mine and opp["StageName"] != "Closed Won"
            continue
        counts[len(mine)] += 1
        assert 1 <= len(mine) <= 4
        total = sum(total_price(x["Quantity"], x["UnitPrice"], x["Discount"]) for x in mine)
        assert round(total, 2) == opp["Amount"]
        assert all(x["TotalPrice"] == total_price(x["Quantity"], x["UnitPrice"], x["Discount"])
                   for x in mine)  # fmt: skip
        assert opp["Pricebook2Id"] == "Pricebook2/standard"
    assert set(counts) == {1, 2, 3, 4}


def test_line_drawing_always_sums_exactly():
    from random import Random

    from orgforge.generate.catalog import PriceEntry

    entries = [PriceEntry(f"P/{n}", f"E/{n}", f"p{n}", list_price(m)) for n, m in
               enumerate((20_000, 45_000, 150_000, 30_000, 75_000), start=1)]  # fmt: skip
    rng = Random(5)
    for _ in range(2000):
        amount = int(rng.choice((20_000, 40_000, 301_000, 877_000, 1_500_000)))
        lines = draw_lines(rng, amount, entries[0], entries[1:])
        total = sum(total_price(q, u, d) for _, q, u, d in lines)
        assert abs(total - amount) < 0.005 and 1 <= len(lines) <= 4
        assert lines[0][2] <= entries[0].list_price or lines[0][1] == 100


def test_org_chart_and_subsidiaries(stats_world):
    from orgforge.checks.rules import title_rank

    contacts = {c["key"]: c for c in rows(stats_world, "Contact")}
    reporting = [c for c in contacts.values() if c["ReportsToId"]]
    assert len(reporting) > 0.5 * len(contacts)
    for contact in reporting:
        boss = contacts[contact["ReportsToId"]]
        assert boss["AccountId"] == contact["AccountId"]
        assert title_rank(boss["Title"]) < title_rank(contact["Title"])
    accounts = {a["key"]: a for a in rows(stats_world, "Account")}
    children = [a for a in accounts.values() if a["ParentId"]]
    assert 5 <= len(children) <= 100, len(children)
    for child in children:
        parent = accounts[child["ParentId"]]
        assert child["Name"].startswith(parent["Name"] + " ") and not parent["ParentId"]
        assert child["Industry"] == parent["Industry"]
        assert child["CreatedDate"] > parent["CreatedDate"]


def test_every_sent_email_has_its_message(prd_world):
    tasks = {t["key"]: t for t in rows(prd_world, "Task")}
    messages = rows(prd_world, "EmailMessage")
    sent = [t for t in tasks.values() if t["TaskSubtype"] == "Email" and t["Status"] == "Completed"]
    assert len(messages) == len(sent) > 0
    for message in messages:
        task = tasks[message["ActivityId"]]
        assert message["RelatedToId"] == task["WhatId"]
        assert message["Subject"] == task["Subject"]
        assert message["TextBody"] == task["Description"]  # none where a sparse task has none
        # sent in working time, by the time the task was logged as done
        assert task["CreatedDate"] <= message["MessageDate"] <= task["LastModifiedDate"]
        assert message["Status"] == "3"
        assert message["FromAddress"].endswith("example.com") and "@" in message["ToAddress"]


def test_growing_the_world_keeps_the_new_objects_of_its_first_accounts(tmp_path):
    small = make_world(tmp_path / "a", accounts=45)  # a partial last block
    big = make_world(tmp_path / "b", accounts=70)
    for name in ("Lead", "CampaignMember", "OpportunityLineItem", "EmailMessage", "Contact",
                 "Account", "Opportunity", "Product2", "PricebookEntry", "Campaign"):  # fmt: skip
        before = rows(small, name)
        after = {r["key"]: r for r in rows(big, name)}
        assert before, name
        for record in before:
            assert after[record["key"]] == record, (name, record["key"])
