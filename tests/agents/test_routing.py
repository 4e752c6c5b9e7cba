"""Routing: fairness, never an off-shift or out-of-office rep, no lead unassigned, SLAs."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from orgforge.agents.policy import Policy
from orgforge.agents.routing import AccountIndex, AccountMatch, Lead, Router, company_key
from orgforge.agents.workloads import LeadDesk, run_timeline

from .conftest import START

ALWAYS = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "hours": ["00:00", "23:59:59"]}


def _policy(**over) -> Policy:
    data = {
        "version": "t1",
        "segments": [{"name": "ALL"}],
        "regions": [{"name": "W", "countries": ["US"]}],
        "default_region": "W",
        "fallback_owner": "Queue/Q",
        "reps": [{"id": f"R{i}", **ALWAYS} for i in range(1, 4)],
        "pools": [
            {
                "name": "p",
                "members": [
                    {"rep": "R1", "weight": 3},
                    {"rep": "R2", "weight": 2},
                    {"rep": "R3", "weight": 1},
                ],
            }
        ],
    }
    data.update(over)
    return Policy.model_validate(data)


def _lead(i: int, at: datetime, **kw) -> Lead:
    return Lead(id=f"L{i:05d}", created=at, country="US", employees=100, **kw)


def test_weighted_round_robin_is_exact_every_cycle_and_within_one_between():
    router = Router(_policy())
    counts: Counter[str] = Counter()
    weights = {"R1": 3, "R2": 2, "R3": 1}
    for n in range(1, 601):
        decision = router.route(_lead(n, START), START + timedelta(seconds=n))
        counts[decision.owner] += 1
        for rep, w in weights.items():
            target = n * w / 6
            assert abs(counts[rep] - target) <= 1, (n, rep, counts[rep], target)
        if n % 6 == 0:
            assert counts == Counter({r: n // 6 * w for r, w in weights.items()}), n


def _independent_off(rep: dict, at: datetime) -> bool:
    """Off shift or out of office, computed without the router's helpers."""
    local = at.astimezone(ZoneInfo(rep.get("timezone", "UTC")))
    for absence in rep.get("out_of_office", ()):
        if str(absence["start"]) <= local.date().isoformat() <= str(absence["end"]):
            return True
    if ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][local.weekday()] not in rep.get(
        "days", ["mon", "tue", "wed", "thu", "fri"]
    ):
        return True
    start, end = (time.fromisoformat(h) for h in rep.get("hours", ["09:00", "17:00"]))
    return not start <= local.time() < end


def test_thousand_leads_never_go_to_off_shift_or_ooo_reps_and_none_is_unassigned(leads):
    reps = [
        {"id": "NY", "timezone": "America/New_York", "hours": ["09:00", "17:00"]},
        {"id": "LA", "timezone": "America/Los_Angeles", "hours": ["08:00", "16:00"]},
        {
            "id": "LDN",
            "timezone": "Europe/London",
            "hours": ["09:00", "17:30"],
            "out_of_office": [{"start": "2026-10-28", "end": "2026-10-30"}],
        },
        {
            "id": "TYO",
            "timezone": "Asia/Tokyo",
            "hours": ["09:00", "18:00"],
            "days": ["mon", "tue", "wed", "thu", "fri", "sat"],
        },
    ]
    policy = _policy(
        regions=[
            {
                "name": "W",
                "countries": [
                    "US",
                    "Canada",
                    "UK",
                    "Germany",
                    "France",
                    "Japan",
                    "Australia",
                    "Brazil",
                ],
            }
        ],
        reps=reps,
        pools=[{"name": "all", "members": [{"rep": r["id"]} for r in reps]}],
        match_accounts=False,
    )
    desk = LeadDesk(policy)
    run_timeline(desk, [(lead, lead.created) for lead in leads], [])
    desk.check_slas(datetime(2027, 1, 1, tzinfo=UTC))  # dispatch whatever is still held
    assert not desk.held
    by_id = {r["id"]: r for r in reps}
    held = 0
    for decision in desk.decisions:
        assert decision.owner, decision.lead_id
        if decision.rule == "held":
            held += 1
            assert decision.owner == "Queue/Q" and decision.exclusions
            assert all(_independent_off(r, decision.decided_at) for r in reps)
            # held until the first instant someone is on shift, not a minute later
            at = decision.dispatch_at
            assert any(not _independent_off(r, at) for r in reps)
            assert all(_independent_off(r, at - timedelta(seconds=1)) for r in reps)
        else:
            assert decision.rule == "pool"
            assert not _independent_off(by_id[decision.owner], decision.decided_at), decision
            excluded = {e["rep"] for e in decision.exclusions}
            assert excluded == {r["id"] for r in reps if _independent_off(r, decision.decided_at)}
    final = {}
    for decision in desk.decisions:
        final[decision.lead_id] = decision.owner
    assert len(final) == len(leads) and set(final.values()) <= set(by_id)
    assert 0 < held < len(leads)  # the fixture exercises both paths


def test_a_lead_no_pool_serves_goes_to_the_fallback_owner():
    policy = _policy(
        pools=[{"name": "p", "segments": [], "regions": [], "members": [{"rep": "R1"}]}],
        regions=[{"name": "W", "countries": ["US"]}, {"name": "E", "countries": ["DE"]}],
    )
    policy = Policy.model_validate(
        {
            **policy.model_dump(mode="json"),
            "default_region": None,
            "pools": [{"name": "p", "regions": ["W"], "members": [{"rep": "R1"}]}],
        }
    )
    decision = Router(policy).route(Lead("L1", START, country="Peru"), START)
    assert (decision.owner, decision.rule) == ("Queue/Q", "fallback")
    assert "no pool serves ALL / no region" in decision.reason


def test_account_owner_wins_on_shift_and_is_skipped_with_a_reason_off_shift():
    policy = _policy(
        reps=[{"id": f"R{i}", **ALWAYS} for i in range(1, 3)]
        + [{"id": "OWNER", "timezone": "UTC", "hours": ["09:00", "17:00"]}],
        pools=[{"name": "p", "members": [{"rep": "R1"}, {"rep": "R2"}]}],
    )
    index = AccountIndex()
    index.add("Account/0001", "OWNER", "Acme Holdings, Inc.", "acme.example.com")
    router = Router(policy)
    noon = datetime(2026, 11, 3, 12, tzinfo=UTC)  # Tuesday
    by_domain = _lead(1, noon, email="cfo@acme.example.com")
    d = router.route(by_domain, noon, index.match(by_domain))
    assert (d.owner, d.rule) == ("OWNER", "account_match") and "by domain" in d.reason
    by_name = _lead(2, noon, company="ACME holdings LLC", email="x@gmail.com")
    assert index.match(by_name) == AccountMatch("Account/0001", "OWNER", "company")
    night = noon.replace(hour=22)
    d = router.route(by_name, night, index.match(by_name))
    assert d.rule == "pool" and d.owner in {"R1", "R2"}
    assert d.exclusions[0]["rep"] == "OWNER" and "off shift" in d.exclusions[0]["reason"]
    assert company_key("Acme Holdings, Inc.") == company_key("acme holdings") == "acme"


def test_daily_cap_excludes_a_rep_until_their_next_local_day():
    policy = _policy(
        pools=[{"name": "p", "members": [{"rep": "R1", "cap_per_day": 2}, {"rep": "R2"}]}]
    )
    router = Router(policy)
    day = datetime(2026, 11, 3, 10, tzinfo=UTC)
    owners = [router.route(_lead(i, day), day + timedelta(minutes=i)).owner for i in range(8)]
    assert owners.count("R1") == 2
    d = router.route(_lead(99, day), day + timedelta(hours=1))
    assert {"rep": "R1", "reason": "daily cap reached (2/2)"} in d.exclusions
    tomorrow = router.route(_lead(100, day), day + timedelta(days=1))
    assert not any(e["rep"] == "R1" for e in tomorrow.exclusions)


def test_untouched_lead_is_reassigned_after_sla_in_working_minutes_never_to_a_recent_owner():
    reps = [{"id": f"R{i}", "timezone": "UTC", "hours": ["09:00", "17:00"]} for i in range(1, 4)]
    policy = _policy(
        reps=reps,
        pools=[{"name": "p", "members": [{"rep": r["id"]} for r in reps]}],
        sla=[{"name": "s15", "minutes": 15}, {"name": "s30", "minutes": 30}],
    )
    desk = LeadDesk(policy)
    at = datetime(2026, 11, 3, 16, 50, tzinfo=UTC)  # 10 working minutes left today
    first = desk.new_lead(_lead(1, at), at)
    assert desk.check_slas(datetime(2026, 11, 3, 23, tzinfo=UTC)) == []  # 10 of 15 min used
    moved = desk.check_slas(datetime(2026, 11, 4, 9, 5, tzinfo=UTC))
    assert len(moved) == 1
    assert moved[0].decided_at == datetime(2026, 11, 4, 9, 5, tzinfo=UTC)  # 10 + 5 minutes
    assert moved[0].owner != first.owner and moved[0].reassigned_from == first.owner
    assert "SLA s15 missed" in moved[0].reason
    again = desk.check_slas(datetime(2026, 11, 4, 12, tzinfo=UTC))
    assert again[0].owner not in {first.owner, moved[0].owner}
    assert desk.check_slas(datetime(2026, 11, 9, tzinfo=UTC)) == []  # no third checkpoint


@pytest.mark.parametrize(
    "employees,segment",
    [(None, "SMB"), (199, "SMB"), (200, "MM"), (1999, "MM"), (2000, "ENT"), (10**9, "ENT")],
)
def test_segments_by_employee_count(policy, employees, segment):
    assert policy.segment_for(employees) == segment


def test_unknown_country_goes_to_the_default_region(policy):
    assert policy.region_for("united kingdom") == "EMEA"
    assert policy.region_for("Atlantis") == policy.default_region == "NA"
