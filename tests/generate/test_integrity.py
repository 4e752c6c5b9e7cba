"""Referential integrity and the consistency rules a Salesforce user would check."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from zoneinfo import ZoneInfo

import pytest
from tests.worlds import AS_OF, rows

from orgforge.generate.pools import pools
from orgforge.schema import salesforce as sf

ASOF = AS_OF.isoformat()


@pytest.fixture(scope="module")
def world(stats_world):
    return {name: rows(stats_world, name) for name in sf.GENERATED}


def account_of(key: str) -> str:
    return "Account/" + key.split("/")[1]


def test_keys_are_readable_and_unique(world):
    for name, records in world.items():
        keys = [r["key"] for r in records]
        assert len(set(keys)) == len(keys), name
        assert all(k.startswith(name + "/") for k in keys), name
    assert world["Account"][41]["key"] == "Account/0042"
    assert world["Contact"][0]["key"] == "Contact/0001/1"


def test_every_lookup_points_at_an_existing_record_of_the_right_type(world):
    keys = {name: {r["key"] for r in records} for name, records in world.items()}
    for obj in sf.OBJECTS:
        for field in obj.fields:
            if not field.is_reference:
                continue
            for record in world[obj.name]:
                value = record[field.name]
                if value is None:
                    assert not field.required, f"{obj.name}.{field.name} missing"
                    continue
                parent_type = value.split("/")[0]
                assert parent_type in field.reference_to, f"{obj.name}.{field.name}={value}"
                assert value in keys[parent_type], f"{record['key']}.{field.name} → {value}"


def test_children_belong_to_their_accounts_subtree(world):
    for name in ("Contact", "Opportunity", "Case"):
        for r in world[name]:
            assert r["AccountId"] == account_of(r["key"])
    contacts = {c["key"]: c for c in world["Contact"]}
    for role in world["OpportunityContactRole"]:
        assert account_of(role["ContactId"]) == account_of(role["OpportunityId"])
    for case in world["Case"]:
        assert contacts[case["ContactId"]]["AccountId"] == case["AccountId"]
    for name in ("Task", "Event"):
        for activity in world[name]:
            home = account_of(activity["key"])
            assert account_of(activity["WhoId"]) == home
            assert activity["WhoId"].startswith("Contact/")
            assert account_of(activity["WhatId"]) == home
            assert activity["WhatId"].split("/")[0] in ("Account", "Opportunity", "Case")


def test_exactly_one_primary_contact_role_per_opportunity(world):
    primaries = Counter(
        r["OpportunityId"] for r in world["OpportunityContactRole"] if r["IsPrimary"]
    )
    assert set(primaries) == {o["key"] for o in world["Opportunity"]}
    assert set(primaries.values()) == {1}
    pairs = Counter((r["OpportunityId"], r["ContactId"]) for r in world["OpportunityContactRole"])
    assert max(pairs.values()) == 1, "a contact appears twice on one opportunity"


def test_closed_and_open_opportunities(world):
    for opp in world["Opportunity"]:
        closed = opp["StageName"].startswith("Closed")
        assert opp["IsClosed"] == int(closed)
        assert opp["IsWon"] == int(opp["StageName"] == "Closed Won")
        if closed:
            assert opp["CloseDate"] < ASOF, opp["key"]
        else:
            assert opp["CloseDate"] > ASOF, opp["key"]
        assert opp["CreatedDate"][:10] <= min(opp["CloseDate"], ASOF)


def test_cases_close_consistently(world):
    for case in world["Case"]:
        closed = case["Status"] == "Closed"
        assert case["IsClosed"] == int(closed)
        assert (case["ClosedDate"] is not None) == closed
        if closed:
            assert case["CreatedDate"] <= case["ClosedDate"] and case["ClosedDate"][:10] <= ASOF
        if case["Status"] == "Escalated":  # IsEscalated stays set once a case was escalated
            assert case["IsEscalated"] == 1


def test_completed_tasks_are_in_the_past(world):
    completed = [t for t in world["Task"] if t["Status"] == "Completed"]
    assert completed
    for task in completed:
        assert task["ActivityDate"] < ASOF
        assert task["IsClosed"] == 1


def test_events_fall_in_business_hours_on_weekdays_in_the_accounts_time_zone(world):
    tz_of_city = {p.city: p.tz for p in pools().places.values}
    accounts = {a["key"]: a for a in world["Account"]}
    contacts = {c["key"]: c for c in world["Contact"]}
    checked = 0
    for event in world["Event"]:
        contact = contacts[event["WhoId"]]
        city = accounts[contact["AccountId"]]["BillingCity"] or contact["MailingCity"]
        if city is None:
            continue
        zone = ZoneInfo(tz_of_city[city])
        start = dt.datetime.fromisoformat(event["StartDateTime"].replace("Z", "+00:00"))
        end = dt.datetime.fromisoformat(event["EndDateTime"].replace("Z", "+00:00"))
        local_start, local_end = start.astimezone(zone), end.astimezone(zone)
        assert local_start.weekday() < 5, event["key"]
        assert local_start.hour * 60 + local_start.minute >= 8 * 60
        assert local_end.hour * 60 + local_end.minute <= 18 * 60, event["key"]
        assert (end - start).total_seconds() == event["DurationInMinutes"] * 60
        assert event["DurationInMinutes"] in (30, 45, 60)
        checked += 1
    assert checked > 1000


def test_contact_emails_use_the_accounts_domain(world):
    accounts = {a["key"]: a for a in world["Account"]}
    for contact in world["Contact"]:
        domain = contact["Email"].split("@")[1]
        website = accounts[contact["AccountId"]]["Website"]
        if website:
            assert website == f"https://www.{domain}"
        assert domain.endswith(".example.com")


def test_account_names_are_unique(world):
    names = [a["Name"].lower() for a in world["Account"]]
    assert len(set(names)) == len(names)


def test_industry_specific_titles_and_subjects(world):
    from orgforge.packs import builtin_packs

    titles = {p.industry: {t.title for t in p.titles} for p in builtin_packs().values()}
    industry = {a["key"]: a["Industry"] for a in world["Account"]}
    for contact in world["Contact"]:
        assert contact["Title"] in titles[industry[contact["AccountId"]]]


def test_text_is_varied_and_has_no_placeholders(world):
    descriptions = [a["Description"] for a in world["Account"] if a["Description"]]
    assert len(set(descriptions)) >= 0.9 * len(descriptions)
    for obj in sf.OBJECTS:
        for field in obj.text_fields:
            for record in world[obj.name]:
                text = record[field.name]
                if text is None:
                    continue
                assert "{" not in text and "}" not in text, (record["key"], text)
                assert "lorem" not in text.lower()
                assert len(text) <= field.length, (record["key"], field.name)


def test_text_mentions_its_context(world):
    accounts = {a["key"]: a for a in world["Account"]}
    mentions = sum(
        1 for a in accounts.values() if a["Description"] and a["Name"] in a["Description"]
    )
    assert mentions >= 0.8 * sum(1 for a in accounts.values() if a["Description"])
    per_account = defaultdict(list)
    for opp in world["Opportunity"]:
        per_account[opp["AccountId"]].append(opp)
    for opp in world["Opportunity"]:
        assert opp["Name"].startswith(accounts[opp["AccountId"]]["Name"])
