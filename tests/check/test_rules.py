"""`orgforge check`: every rule holds on generated worlds, and each one fires when its world is
broken the way it guards against."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import orgforge
from orgforge.checks import RULES
from orgforge.checks.rules import account_territories
from orgforge.checks.snapshot import from_world
from tests.worlds import AS_OF, make_world

NOW = f"{AS_OF.isoformat()}T00:00:00.000Z"


def orgforge_bin() -> str:
    found = shutil.which("orgforge", path=str(Path(sys.executable).parent))
    assert found, "the orgforge entry point is not installed next to this Python"
    return found


@pytest.fixture(scope="module")
def small_world(tmp_path_factory) -> Path:
    """60 accounts: every kind of step, status and owner, in a second."""
    return make_world(tmp_path_factory.mktemp("check"), accounts=60)


@pytest.fixture(scope="session", params=[7, 42, 2026])
def thousand(request, tmp_path_factory) -> Path:
    """A 1,000-account world per seed, made once per session."""
    folder = tmp_path_factory.mktemp(f"check-1000-{request.param}")
    return make_world(folder, accounts=1000, seed=request.param)


def test_a_thousand_accounts_keep_every_rule(thousand):
    result = orgforge.check(thousand)
    assert result.records > 24_000 and not result.skipped
    assert result.violations == [], [str(v) for v in result.violations[:10]]


def one(conn: sqlite3.Connection, sql: str, *params) -> tuple:
    row = conn.execute(sql, params).fetchone()
    assert row is not None, f"the world has nothing for: {sql}"
    return row


# Each breaks one thing in a copy of the world (sqlite3, as a user editing it would).
def _audit(c):
    key = one(c, "SELECT key FROM rec_Contact LIMIT 1")[0]
    c.execute(
        "UPDATE rec_Contact SET LastModifiedDate = '2001-01-01T00:00:00.000Z' WHERE key=?", (key,)
    )


def _lookup(c):
    c.execute(
        "UPDATE rec_Case SET OwnerId = 'User/999' WHERE key = (SELECT key FROM rec_Case LIMIT 1)"
    )


def _created(c):
    key = one(c, "SELECT key FROM rec_CaseComment LIMIT 1")[0]
    c.execute(
        "UPDATE rec_CaseComment SET CreatedDate = '2001-01-01T00:00:00.000Z' WHERE key=?", (key,)
    )


def _activity_parent(c):
    key = one(c, "SELECT key FROM rec_Task WHERE WhatId LIKE 'Opportunity/%' LIMIT 1")[0]
    c.execute("UPDATE rec_Task SET ActivityDate = '2001-01-01' WHERE key = ?", (key,))


def _stage_history(c):
    key = one(c, "SELECT key FROM rec_Opportunity WHERE StageName = 'Negotiation/Review'")[0]
    c.execute("UPDATE rec_Opportunity SET StageName = 'Qualification' WHERE key = ?", (key,))


def _thanks_pair(c) -> tuple[str, str, str]:
    """A thanks task and the discovery meeting it follows: (task key, event key, its date)."""
    return one(
        c,
        "SELECT t.key, e.key, substr(e.StartDateTime, 1, 10) FROM rec_Task t JOIN rec_Event e"
        " ON e.WhatId = t.WhatId AND e.WhoId = t.WhoId AND e.step = 'discovery'"
        " WHERE t.step = 'thanks' LIMIT 1",
    )


def _steps_order(c):
    task, _, _ = _thanks_pair(c)
    c.execute("UPDATE rec_Task SET ActivityDate = '2001-01-02' WHERE key = ?", (task,))


def _steps_stage(c):
    key = one(
        c,
        "SELECT t.key FROM rec_Task t JOIN rec_Opportunity o ON o.key = t.WhatId"
        " WHERE t.step = 'intro_call' AND o.StageName = 'Prospecting' LIMIT 1",
    )[0]
    c.execute("UPDATE rec_Task SET step = 'proposal' WHERE key = ?", (key,))


def _thanks(c):
    _, event, _ = _thanks_pair(c)
    c.execute("DELETE FROM rec_Event WHERE key = ?", (event,))


def _volume(c):
    account = one(
        c,
        "SELECT a.key FROM rec_Account a JOIN rec_Task t ON t.account_idx = a.account_idx"
        " GROUP BY a.key HAVING count(*) > 6 LIMIT 1",
    )[0]
    yesterday = (AS_OF - dt.timedelta(days=1)).isoformat() + "T09:00:00.000Z"
    c.execute(  # an account created yesterday, with all that activity
        "UPDATE rec_Account SET CreatedDate = ?, LastModifiedDate = ? WHERE key = ?",
        (yesterday, yesterday, account),
    )


def _post_sale(c):
    key, close = one(
        c,
        "SELECT t.key, o.CloseDate FROM rec_Task t JOIN rec_Opportunity o ON o.key = t.WhatId"
        " WHERE o.IsClosed = 1 AND t.step NOT IN ('kickoff', 'check_in', 'keep_in_touch')"
        " LIMIT 1",
    )
    c.execute("UPDATE rec_Task SET ActivityDate = date(?, '+1 day') WHERE key = ?", (close, key))


def _tasks_tense(c):
    c.execute(
        "UPDATE rec_Task SET Status = 'Completed' WHERE key ="
        " (SELECT key FROM rec_Task WHERE Status != 'Completed' LIMIT 1)"
    )


def _meetings_tense(c):
    key = one(c, "SELECT key FROM rec_Event WHERE StartDateTime < ? LIMIT 1", NOW)[0]
    c.execute("UPDATE rec_Event SET Description = 'Agenda: we will meet.' WHERE key = ?", (key,))


def _double_booking(c):
    first, second = one(
        c,
        "SELECT a.key, b.key FROM rec_Event a JOIN rec_Event b"
        " ON a.OwnerId = b.OwnerId AND a.key < b.key LIMIT 1",
    )
    start, end = one(c, "SELECT StartDateTime, EndDateTime FROM rec_Event WHERE key = ?", first)
    c.execute(
        "UPDATE rec_Event SET StartDateTime = ?, EndDateTime = ? WHERE key = ?",
        (start, end, second),
    )


def _business_hours(c):
    key = one(
        c,
        "SELECT e.key FROM rec_Event e JOIN rec_Contact p ON p.key = e.WhoId JOIN rec_Account a"
        " ON a.key = p.AccountId WHERE a.BillingCity IS NOT NULL LIMIT 1",
    )[0]
    c.execute(  # a Saturday night
        "UPDATE rec_Event SET StartDateTime = '2026-11-21T03:00:00.000Z',"
        " EndDateTime = '2026-11-21T03:30:00.000Z' WHERE key = ?",
        (key,),
    )


def _case_history(c):
    key = one(c, "SELECT key FROM rec_Case WHERE Status = 'New' LIMIT 1")[0]
    c.execute("UPDATE rec_Case SET Status = 'On Hold' WHERE key = ?", (key,))


def _comment_tone(c):
    key = one(c, "SELECT key FROM rec_CaseComment WHERE step = 'Working' LIMIT 1")[0]
    c.execute("UPDATE rec_CaseComment SET step = 'Escalated' WHERE key = ?", (key,))


def _closed_after_comments(c):
    key, closed = one(
        c,
        "SELECT m.key, c.ClosedDate FROM rec_CaseComment m JOIN rec_Case c ON c.key = m.ParentId"
        " WHERE c.Status = 'Closed' LIMIT 1",
    )
    later = closed[:14] + "59:00.000Z"
    c.execute("UPDATE rec_CaseComment SET CreatedDate = ? WHERE key = ?", (later, key))


def _comment_subject(c):
    comment, other = one(
        c,
        "SELECT m.key, o.Subject FROM rec_CaseComment m JOIN rec_Case c ON c.key = m.ParentId"
        " JOIN rec_Case o ON o.AccountId = c.AccountId AND o.key != c.key"
        " AND o.Subject != c.Subject AND length(o.Subject) > 12 LIMIT 1",
    )
    c.execute(
        "UPDATE rec_CaseComment SET CommentBody = CommentBody || ' Same as ' || ? WHERE key = ?",
        (other, comment),
    )


def _owner_role(c):
    ae = one(c, "SELECT OwnerId FROM rec_Account LIMIT 1")[0]
    c.execute(
        "UPDATE rec_Case SET OwnerId = ? WHERE key = (SELECT key FROM rec_Case LIMIT 1)", (ae,)
    )


def _no_se(c):
    c.execute(
        "DELETE FROM rec_EventRelation WHERE key = (SELECT key FROM rec_EventRelation LIMIT 1)"
    )


def _owner_elsewhere(c):
    """An account of the West owned by an account executive of the East."""
    key = one(
        c,
        "SELECT a.key FROM rec_Account a JOIN rec_User u ON u.key = a.OwnerId"
        " WHERE u.Division = 'West' LIMIT 1",
    )[0]
    east = one(
        c,
        "SELECT key FROM rec_User WHERE Division = 'East'"
        " AND UserRoleId = 'UserRole/account_executive' LIMIT 1",
    )[0]
    c.execute("UPDATE rec_Account SET OwnerId = ? WHERE key = ?", (east, key))


def _case_agent_elsewhere(c):
    """A case of an East account worked by the International support agent."""
    key = one(
        c,
        "SELECT c.key FROM rec_Case c JOIN rec_User u ON u.key = c.OwnerId"
        " WHERE u.Division = 'East' LIMIT 1",
    )[0]
    agent = one(
        c,
        "SELECT key FROM rec_User WHERE Division = 'International'"
        " AND UserRoleId = 'UserRole/support_agent' LIMIT 1",
    )[0]
    c.execute("UPDATE rec_Case SET OwnerId = ? WHERE key = ?", (agent, key))


def _signature(c):
    key, owner = one(c, "SELECT key, OwnerId FROM rec_Task WHERE step = 'thanks' LIMIT 1")
    other = one(c, "SELECT key FROM rec_User WHERE key != ? LIMIT 1", owner)[0]
    c.execute("UPDATE rec_Task SET OwnerId = ? WHERE key = ?", (other, key))


def _deal(c):
    c.execute(
        "UPDATE rec_Opportunity SET Probability = 33"
        " WHERE key = (SELECT key FROM rec_Opportunity LIMIT 1)"
    )


def _primary(c):
    c.execute(
        "UPDATE rec_OpportunityContactRole SET IsPrimary = 1 WHERE key ="
        " (SELECT key FROM rec_OpportunityContactRole WHERE IsPrimary = 0 LIMIT 1)"
    )


def _in_account(c):
    key, idx = one(c, "SELECT key, account_idx FROM rec_Task LIMIT 1")
    other = one(c, "SELECT key FROM rec_Contact WHERE account_idx != ? LIMIT 1", idx)[0]
    c.execute("UPDATE rec_Task SET WhoId = ? WHERE key = ?", (other, key))


def _domain(c):
    c.execute(
        "UPDATE rec_Contact SET Email = 'pat@gmail.com'"
        " WHERE key = (SELECT key FROM rec_Contact LIMIT 1)"
    )


def _names(c):
    first = one(c, "SELECT Name FROM rec_Account ORDER BY account_idx LIMIT 1")[0]
    c.execute("UPDATE rec_Account SET Name = ? WHERE account_idx = 1", (first,))


def _segment(c):
    """A reinsurer's contact with a health plan's title (the mismatch the issue measured)."""
    account = one(c, "SELECT key FROM rec_Account WHERE Industry = 'Insurance' LIMIT 1")[0]
    c.execute("UPDATE rec_Contact SET Title = 'Nurse Case Manager' WHERE AccountId = ?", (account,))
    c.execute(
        "UPDATE rec_Account SET Name = 'Tidewater Reinsurance Group' WHERE key = ?", (account,)
    )


def _place_name(c):
    c.execute(
        "UPDATE rec_Account SET Name = 'New York Teachers Federal Credit Union', "
        "BillingCity = 'Vancouver', BillingState = 'BC', BillingCountry = 'Canada' "
        "WHERE key = (SELECT key FROM rec_Account WHERE BillingCity IS NOT NULL LIMIT 1)"
    )


def _phone_format(c):
    c.execute(
        "UPDATE rec_Account SET Phone = '(212) 555-0100', BillingCountry = 'Germany', "
        "BillingPostalCode = '10115' WHERE key = "
        "(SELECT key FROM rec_Account WHERE Phone IS NOT NULL LIMIT 1)"
    )


def _postcode_format(c):
    c.execute(
        "UPDATE rec_Contact SET MailingPostalCode = '1234', MailingCountry = 'United States' "
        "WHERE key = (SELECT key FROM rec_Contact WHERE MailingPostalCode IS NOT NULL LIMIT 1)"
    )


def _customer_without_win(c):
    c.execute(
        "UPDATE rec_Account SET Type = 'Customer - Direct' WHERE key = (SELECT key FROM "
        "rec_Account a WHERE NOT EXISTS (SELECT 1 FROM rec_Opportunity o "
        "WHERE o.AccountId = a.key AND o.IsWon = 1) LIMIT 1)"
    )


def _prospect_with_win(c):
    c.execute(
        "UPDATE rec_Account SET Type = 'Prospect' WHERE key = "
        "(SELECT AccountId FROM rec_Opportunity WHERE IsWon = 1 LIMIT 1)"
    )


def _new_customer_after_win(c):
    key = one(
        c,
        "SELECT o.key FROM rec_Opportunity o JOIN rec_Opportunity w ON w.AccountId = o.AccountId "
        "WHERE w.IsWon = 1 AND o.Type LIKE 'Existing Customer%' LIMIT 1",
    )[0]
    c.execute("UPDATE rec_Opportunity SET Type = 'New Customer' WHERE key = ?", (key,))


def _renewal_of_nothing(c):
    key = one(c, "SELECT key FROM rec_Opportunity WHERE Type = 'New Customer' LIMIT 1")[0]
    c.execute("UPDATE rec_Opportunity SET Name = Name || ' Renewal' WHERE key = ?", (key,))


def _two_ceos(c):
    account, title = one(
        c,
        "SELECT AccountId, Title FROM rec_Contact WHERE Title LIKE 'Chief%' "
        "AND AccountId IN (SELECT AccountId FROM rec_Contact GROUP BY AccountId "
        "HAVING COUNT(*) > 1) LIMIT 1",
    )
    c.execute(
        "UPDATE rec_Contact SET Title = ? WHERE key = (SELECT key FROM rec_Contact "
        "WHERE AccountId = ? AND Title != ? LIMIT 1)",
        (title, account, title),
    )


def _census_spelling(c):
    c.execute(
        "UPDATE rec_Contact SET LastName = 'Oconnell' "
        "WHERE key = (SELECT key FROM rec_Contact LIMIT 1)"
    )


def _email_spelling(c):
    c.execute(
        "UPDATE rec_Contact SET LastName = 'O''Connell', Email = 'x.o''connell@a.example.com' "
        "WHERE key = (SELECT key FROM rec_Contact LIMIT 1)"
    )


def _case_about_something_else(c):
    c.execute(
        "UPDATE rec_Case SET Description = 'Customer reports API rate limit errors on the "
        "integration.' WHERE key = (SELECT key FROM rec_Case WHERE Description IS NOT NULL "
        "AND Subject NOT LIKE '%rate limit%' LIMIT 1)"
    )


def _unknown_pattern(c):
    c.execute(
        "UPDATE rec_CaseComment SET CommentBody = 'Engineering confirmed this matches a known "
        "pattern tied to duplicate claim payments.' WHERE key = "
        "(SELECT key FROM rec_CaseComment LIMIT 1)"
    )


def _late_conversion(c):
    key, opp = one(
        c, "SELECT key, ConvertedOpportunityId FROM rec_Lead WHERE IsConverted = 1 LIMIT 1"
    )
    c.execute(
        "UPDATE rec_Lead SET ConvertedDate = date((SELECT CreatedDate FROM rec_Opportunity"
        " WHERE key = ?), '+3 days') WHERE key = ?",
        (opp, key),
    )


def _lead_at_account(c):
    name = one(c, "SELECT Name FROM rec_Account LIMIT 1")[0]
    key = one(c, "SELECT key FROM rec_Lead WHERE IsConverted = 0 LIMIT 1")[0]
    c.execute("UPDATE rec_Lead SET Company = ? WHERE key = ?", (name, key))


def _line_amount(c):
    key = one(c, "SELECT OpportunityId FROM rec_OpportunityLineItem LIMIT 1")[0]
    c.execute("UPDATE rec_Opportunity SET Amount = Amount + 1000 WHERE key = ?", (key,))


def _won_without_amount(c):
    key = one(c, "SELECT key FROM rec_Opportunity WHERE StageName = 'Closed Won' LIMIT 1")[0]
    c.execute("DELETE FROM rec_OpportunityLineItem WHERE OpportunityId = ?", (key,))
    c.execute("UPDATE rec_Opportunity SET Amount = NULL WHERE key = ?", (key,))


def _boss_below(c):
    key, boss = one(c, "SELECT key, ReportsToId FROM rec_Contact WHERE ReportsToId IS NOT NULL")
    c.execute("UPDATE rec_Contact SET Title = 'Claims Analyst' WHERE key = ?", (boss,))
    c.execute("UPDATE rec_Contact SET Title = 'VP of Underwriting' WHERE key = ?", (key,))


def _chart_loop(c):
    key, boss = one(c, "SELECT key, ReportsToId FROM rec_Contact WHERE ReportsToId IS NOT NULL")
    c.execute("UPDATE rec_Contact SET ReportsToId = ? WHERE key = ?", (key, boss))


def _parent_loop(c):
    a, b = (r[0] for r in c.execute("SELECT key FROM rec_Account ORDER BY key LIMIT 2"))
    c.execute("UPDATE rec_Account SET ParentId = ? WHERE key = ?", (b, a))
    c.execute("UPDATE rec_Account SET ParentId = ? WHERE key = ?", (a, b))


def _parent_elsewhere(c):
    a, b = one(
        c,
        "SELECT a.key, b.key FROM rec_Account a JOIN rec_Account b"
        " ON a.Industry != b.Industry LIMIT 1",
    )
    c.execute("UPDATE rec_Account SET ParentId = ? WHERE key = ?", (b, a))


def _member_twice(c):
    key = one(c, "SELECT key FROM rec_CampaignMember LIMIT 1")[0]
    c.execute(
        "INSERT INTO rec_CampaignMember SELECT key || 'x', account_idx, seq + 1000, tier, job,"
        " CampaignId, LeadId, ContactId, Status, HasResponded, FirstRespondedDate, CreatedDate,"
        " CreatedById, LastModifiedDate, LastModifiedById FROM rec_CampaignMember WHERE key = ?",
        (key,),
    )


def _member_responded(c):
    key = one(c, "SELECT key FROM rec_CampaignMember WHERE Status = 'Sent' LIMIT 1")[0]
    c.execute("UPDATE rec_CampaignMember SET HasResponded = 1 WHERE key = ?", (key,))


def _campaign_credit(c):
    campaign = one(c, "SELECT key FROM rec_Campaign ORDER BY key LIMIT 1")[0]
    key = one(c, "SELECT key FROM rec_Opportunity WHERE CampaignId IS NULL LIMIT 1")[0]
    c.execute("UPDATE rec_Opportunity SET CampaignId = ? WHERE key = ?", (campaign, key))


def _message_elsewhere(c):
    key = one(c, "SELECT key FROM rec_EmailMessage LIMIT 1")[0]
    other = one(c, "SELECT key FROM rec_Account ORDER BY key DESC LIMIT 1")[0]
    c.execute("UPDATE rec_EmailMessage SET RelatedToId = ? WHERE key = ?", (other, key))


def _message_of_open_task(c):
    task = one(c, "SELECT ActivityId FROM rec_EmailMessage LIMIT 1")[0]
    c.execute("UPDATE rec_Task SET Status = 'Not Started' WHERE key = ?", (task,))


def _weekend_comment(c):
    key = one(c, "SELECT key FROM rec_CaseComment LIMIT 1")[0]
    c.execute(  # Saturday 2026-11-21, midday in every zone the team works in
        "UPDATE rec_CaseComment SET CreatedDate = '2026-11-21T15:00:00.000Z' WHERE key = ?",
        (key,),
    )


def _night_stage_change(c):
    key, by = one(c, "SELECT key, LastModifiedById FROM rec_Opportunity LIMIT 1")
    tz = one(c, "SELECT TimeZoneSidKey FROM rec_User WHERE key = ?", by)[0]
    at = "2026-11-18T08:00:00.000Z" if tz.startswith("America/") else "2026-11-18T02:00:00.000Z"
    c.execute(  # a Wednesday, 02:00-03:00 local: nobody's working hours
        "UPDATE rec_Opportunity SET LastModifiedDate = ? WHERE key = ?", (at, key)
    )


BREAKS: dict[str, list[Callable[[sqlite3.Connection], None]]] = {
    "audit_fields_present": [_audit],
    "lookups_resolve": [_lookup],
    "created_after_parent": [_created],
    "activity_after_parent": [_activity_parent],
    "stage_history_matches": [_stage_history],
    "sales_steps_in_order": [_steps_order],
    "steps_follow_stage_history": [_steps_stage],
    "thanks_after_meeting": [_thanks],
    "activity_volume_fits_age": [_volume],
    "only_post_sale_after_close": [_post_sale],
    "tasks_tense": [_tasks_tense],
    "meetings_tense": [_meetings_tense],
    "no_double_booking": [_double_booking],
    "meetings_in_business_hours": [_business_hours],
    "case_status_history": [_case_history],
    "comments_follow_status": [_comment_tone],
    "closed_after_comments": [_closed_after_comments],
    "comments_about_their_case": [_comment_subject],
    "owners_have_the_right_role": [_owner_role, _no_se],
    "owners_cover_territory": [_owner_elsewhere, _case_agent_elsewhere],
    "signatures_match_owner": [_signature],
    "deals_close_consistently": [_deal],
    "one_primary_contact_role": [_primary],
    "activity_stays_in_account": [_in_account],
    "contacts_use_account_domain": [_domain],
    "account_names_unique": [_names],
    "account_tells_one_segment": [_segment],
    "place_names_match_address": [_place_name],
    "addresses_follow_country": [_phone_format, _postcode_format],
    "account_type_follows_history": [_customer_without_win, _prospect_with_win],
    "opportunity_type_follows_wins": [_new_customer_after_win, _renewal_of_nothing],
    "senior_titles_held_once": [_two_ceos],
    "names_spelled_as_people_do": [_census_spelling, _email_spelling],
    "case_text_about_subject": [_case_about_something_else],
    "known_patterns_exist": [_unknown_pattern],
    "leads_convert_before_deals": [_late_conversion, _lead_at_account],
    "amount_is_sum_of_lines": [_line_amount, _won_without_amount],
    "org_chart_follows_titles": [_boss_below, _chart_loop],
    "account_hierarchy_holds": [_parent_loop, _parent_elsewhere],
    "campaign_members_consistent": [_member_twice, _member_responded, _campaign_credit],
    "email_messages_match_tasks": [_message_elsewhere, _message_of_open_task],
    "work_in_working_hours": [_weekend_comment, _night_stage_change],
}


def test_every_rule_has_a_test_that_breaks_it():
    assert set(BREAKS) == set(RULES)


def test_the_generated_world_keeps_every_rule(small_world):
    result = orgforge.check(small_world)
    assert result.ok, [str(v) for v in result.violations[:10]]


@pytest.mark.parametrize(
    ("rule", "breaks"),
    [(rule, b) for rule, breaks in BREAKS.items() for b in breaks],
    ids=[f"{rule}-{b.__name__}" for rule, breaks in BREAKS.items() for b in breaks],
)
def test_each_rule_fires_on_a_world_that_breaks_it(small_world, tmp_path, rule, breaks):
    broken = tmp_path / "broken.db"
    shutil.copy(small_world, broken)
    with sqlite3.connect(broken) as conn:
        breaks(conn)
    result = orgforge.check(broken, [rule])
    assert result.violations, f"{rule} did not fire"
    violation = result.violations[0]
    assert violation.rule == rule and "/" in violation.key and violation.message


def test_weekends_are_working_days_when_the_world_says_so(tmp_path):
    """A world generated with skip_weekends: false works weekends: a Saturday comment is fine
    there, and its weekend records are not reported."""
    config = tmp_path / "orgforge.yaml"
    config.write_text("generate:\n  skip_weekends: false\n", encoding="utf-8")
    world = make_world(tmp_path, "weekends.db", config=str(config), accounts=40, seed=5)
    assert orgforge.check(world, ["work_in_working_hours"]).ok
    with sqlite3.connect(world) as conn:
        _weekend_comment(conn)
    assert orgforge.check(world, ["work_in_working_hours"]).ok


def test_a_territory_with_nobody_yet_is_served_from_elsewhere(tmp_path):
    """With one support agent at first, the West and International agents are hired at
    accounts 40 and 80: their earlier cases are worked by the East agent, which is no
    violation; a later case given to someone from elsewhere is."""
    import yaml

    from orgforge.packs import builtin_yaml

    _, team = builtin_yaml(["_team.yaml"])["_team.yaml"]
    for role in team["roles"]:
        if role["id"] == "support_agent":
            role["count"] = 1
    (tmp_path / "team.yaml").write_text(yaml.safe_dump(team), encoding="utf-8")
    config = tmp_path / "orgforge.yaml"
    config.write_text(f"generate:\n  team: {tmp_path / 'team.yaml'}\n", encoding="utf-8")
    world = make_world(tmp_path, config=str(config), accounts=120, seed=3)
    snapshot = from_world(str(world))
    territory = account_territories(snapshot)
    division = {u["key"]: u["Division"] for u in snapshot.rows("User")}
    served = [
        (case["key"], division[case["OwnerId"]], territory[case["AccountId"]])
        for case in snapshot.rows("Case")
        if case["AccountId"] in territory
    ]
    assert any(by != where for _, by, where in served)  # the first agent did serve elsewhere
    assert orgforge.check(world, ["owners_cover_territory"]).ok
    east_agent = next(
        u["key"]
        for u in snapshot.rows("User")
        if u["Division"] == "East" and u["UserRoleId"] == "UserRole/support_agent"
    )
    # the West's last case: its agent had taken earlier West cases, so was there to take it
    key = [key for key, by, where in served if by == where == "West"][-1]
    with sqlite3.connect(world) as conn:
        conn.execute("UPDATE rec_Case SET OwnerId = ? WHERE key = ?", (east_agent, key))
    broken = orgforge.check(world, ["owners_cover_territory"])
    assert [v.key for v in broken.violations] == [key]


def test_cli_reads_well_exits_1_and_speaks_json(small_world, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORGFORGE_")}
    clean = subprocess.run(
        [orgforge_bin(), "check", str(small_world)], capture_output=True, text=True, env=env
    )
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout.startswith("ok: ") and f"keep all {len(RULES)} rules" in clean.stdout
    broken = tmp_path / "broken.db"
    shutil.copy(small_world, broken)
    with sqlite3.connect(broken) as conn:
        _thanks(conn)
    done = subprocess.run(
        [orgforge_bin(), "check", str(broken)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 1
    first = done.stdout.splitlines()[0]
    assert first.startswith("Task/") and "no meeting with them before" in first
    assert first.endswith("[thanks_after_meeting]")
    as_json = subprocess.run(
        [orgforge_bin(), "check", str(broken), "--json"], capture_output=True, text=True, env=env
    )
    data = json.loads(as_json.stdout)
    assert as_json.returncode == 1 and data["ok"] is False
    assert data["rules"]["thanks_after_meeting"] >= 1
    assert {"rule", "key", "message"} <= set(data["violations"][0])


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORGFORGE_")}
    for args in (["check", str(tmp_path / "none.db")], ["check", str(tmp_path)]):
        done = subprocess.run(
            [orgforge_bin(), *args], capture_output=True, text=True, env=env, cwd=tmp_path
        )
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert done.stderr.startswith("error: ") and "\nhint: " in done.stderr
    done = subprocess.run(
        [orgforge_bin(), "check", "--rule", "nope", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 2 and "unknown rule 'nope'" in done.stderr


@pytest.mark.parametrize("fmt", ["json", "parquet", "csv"])
def test_an_exported_folder_is_checked_too(small_world, tmp_path, fmt):
    orgforge.export(small_world, tmp_path / fmt, fmt)
    result = orgforge.check(tmp_path / fmt)
    assert result.ok, [str(v) for v in result.violations[:10]]
    if fmt == "csv":  # load-ready CSV has no steps nor read-only fields: those rules skip
        assert "thanks_after_meeting" in result.skipped
    else:
        assert not result.skipped
    manifest = json.loads((tmp_path / fmt / "manifest.json").read_text())
    data = tmp_path / fmt / f"Contact.{fmt}"
    if fmt == "json":  # an edit in the export is caught
        contacts = json.loads(data.read_text())
        contacts[0]["Email"] = "pat@gmail.com"
        data.write_text(json.dumps(contacts))
        broken = orgforge.check(tmp_path / fmt, ["contacts_use_account_domain"])
        assert [v.key for v in broken.violations] == [contacts[0]["key"]]
    assert manifest["extras"][0]["name"] == "History"


def test_every_rule_is_documented():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "generate.md").read_text()
    for name, rule in RULES.items():
        assert f"| `{name}` | {rule.doc} |" in docs, name
