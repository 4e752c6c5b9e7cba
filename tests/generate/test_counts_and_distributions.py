"""Counts are exact at the presets; distributions match their targets within 4 standard errors.

Tolerances come from the binomial standard error sqrt(p(1-p)/n) at the sample size used, so each
check fails if the generator's distribution is off by more than a few points.
"""

from __future__ import annotations

import math
from collections import Counter

import pytest
from tests.worlds import AS_OF, make_world, rows

from orgforge import api
from orgforge.config import PRD_PER_ACCOUNT
from orgforge.metrics.world_stats import TASK_KIND
from orgforge.schema.salesforce import STAGE_FACTS
from orgforge.world.store import World

PRD_COUNTS = {
    "Account": 100,
    "Contact": 400,
    "Opportunity": 250,
    "OpportunityContactRole": 500,
    "Case": 200,
    "CaseComment": 400,
    "Task": 400,
    "Event": 150,
}


def within(observed: int, n: int, p: float, sigmas: float = 4.0) -> bool:
    se = math.sqrt(p * (1 - p) / n)
    return abs(observed / n - p) <= sigmas * se


def assert_dist(counter: Counter, targets: dict[str, float]) -> None:
    n = sum(counter.values())
    total = sum(targets.values())
    for value, weight in targets.items():
        p = weight / total
        share = counter.get(value, 0) / n
        assert within(counter.get(value, 0), n, p), f"{value}: {share:.3f} vs {p:.3f} (n={n})"
    assert set(counter) <= set(targets), f"unexpected values {set(counter) - set(targets)}"


def test_prd_preset_counts_are_exact(prd_world):
    for name, expected in PRD_COUNTS.items():
        assert len(rows(prd_world, name)) == expected, name


def test_prd_activity_mix_is_exact(prd_world):
    tasks = Counter(TASK_KIND[(t["TaskSubtype"], t["Type"])] for t in rows(prd_world, "Task"))
    assert tasks == {"Call": 150, "Email": 100, "Meeting Prep": 50, "Follow Up": 100}
    events = Counter(e["Type"] for e in rows(prd_world, "Event"))
    assert events == {"Meeting": 100, "Demo": 50}


def test_counts_scale_with_accounts(stats_world):
    for name, ratio in PRD_PER_ACCOUNT.items():
        assert len(rows(stats_world, name)) == round(ratio * 1000), name


def test_density_tiers(stats_world):
    for name in ("Account", "Contact", "Opportunity", "Case", "Task", "Event"):
        tiers = Counter(r["tier"] for r in rows(stats_world, name))
        assert_dist(tiers, {"rich": 25, "moderate": 50, "sparse": 25})


@pytest.mark.parametrize(
    ("field", "target"),
    [
        ("Name", 1.0),
        ("Industry", 1.0),
        ("Phone", 0.75),
        ("Website", 0.75),
        ("Description", 0.50),
        ("AnnualRevenue", 0.40),
        ("NumberOfEmployees", 0.25),
    ],
)
def test_account_field_density(stats_world, field, target):
    accounts = rows(stats_world, "Account")
    filled = sum(1 for a in accounts if a[field] not in (None, ""))
    if target == 1.0:
        assert filled == len(accounts)
    else:
        assert within(filled, len(accounts), target), f"{field}: {filled / len(accounts):.3f}"


def test_opportunity_stages(stats_world):
    stages = Counter(o["StageName"] for o in rows(stats_world, "Opportunity"))
    assert_dist(
        stages,
        {
            "Prospecting": 15,
            "Qualification": 15,
            "Needs Analysis": 15,
            "Value Proposition": 10,
            "Proposal/Price Quote": 15,
            "Negotiation/Review": 10,
            "Closed Won": 12,
            "Closed Lost": 8,
        },
    )


def test_case_status_and_priority_mix(stats_world):
    cases = rows(stats_world, "Case")
    assert_dist(
        Counter(c["Status"] for c in cases),
        {"New": 20, "Working": 35, "Escalated": 10, "On Hold": 10, "Closed": 25},
    )
    escalated = Counter(c["Priority"] for c in cases if c["Status"] == "Escalated")
    assert_dist(escalated, {"High": 75, "Medium": 20, "Low": 5})
    working = Counter(c["Priority"] for c in cases if c["Status"] == "Working")
    assert working["High"] + working["Medium"] > 3 * working["Low"]


def test_industries_default_to_equal_weights(stats_world):
    industries = Counter(a["Industry"] for a in rows(stats_world, "Account"))
    assert_dist(
        industries, dict.fromkeys(("Insurance", "Finance", "Technology", "Manufacturing"), 25)
    )


def test_probability_and_forecast_follow_stage(stats_world):
    for opp in rows(stats_world, "Opportunity"):
        probability, forecast = STAGE_FACTS[opp["StageName"]]
        assert opp["Probability"] == probability
        assert opp["ForecastCategoryName"] == forecast


def test_amount_scales_with_account_size(stats_world):
    size = {a["key"]: a for a in rows(stats_world, "Account")}
    by_employees: dict[str, list[float]] = {"small": [], "large": []}
    for opp in rows(stats_world, "Opportunity"):
        account = size[opp["AccountId"]]
        if opp["Amount"] is None or account["NumberOfEmployees"] is None:
            continue
        bucket = "large" if account["NumberOfEmployees"] > 2000 else "small"
        if account["NumberOfEmployees"] < 500 or bucket == "large":
            by_employees[bucket].append(opp["Amount"])
    small, large = by_employees["small"], by_employees["large"]
    assert len(small) > 30 and len(large) > 30
    assert sum(large) / len(large) > 1.5 * sum(small) / len(small)


def test_a_dry_run_counts_what_the_run_writes(tmp_path):
    """The preview's totals are the run's, drawn objects (one EventRelation per demo, one
    History row per change) included: exact when the sample is the whole world."""
    preview = api.generate_preview(world=str(tmp_path / "w.db"), preset="prd", as_of=AS_OF)
    assert preview["estimated"] == []
    world = make_world(tmp_path, preset="prd", as_of=AS_OF)
    with World(str(world), create=False) as handle:
        assert {n: c for n, c in handle.counts().items() if c} == preview["counts"]
        with handle.reading() as conn:
            history = conn.execute('SELECT COUNT(*) FROM "rec_History"').fetchone()[0]
    assert history == preview["history_rows"]


def test_a_dry_run_of_a_bigger_world_scales_its_drawn_counts(tmp_path):
    """Beyond the sample (100 accounts) the drawn counts are scaled: per account they vary
    (demos are a share of events, changes follow each deal's path), so the estimate of a
    300-account world is held to 4 standard errors of a 100-account mean."""
    preview = api.generate_preview(world=str(tmp_path / "w.db"), accounts=300, as_of=AS_OF)
    drawn = ["EventRelation", "OpportunityLineItem", "CampaignMember", "EmailMessage", "History"]
    assert preview["estimated"] == drawn
    world = make_world(tmp_path, accounts=300)
    per_account: dict[str, list[int]] = {name: [0] * 300 for name in drawn}
    with World(str(world), create=False) as handle, handle.reading() as conn:
        for name in drawn:
            for (idx,) in conn.execute(f'SELECT "account_idx" FROM "rec_{name}"'):
                per_account[name][idx] += 1
    for name, counts in per_account.items():
        mean = sum(counts) / 300
        sd = math.sqrt(sum((c - mean) ** 2 for c in counts) / 299)
        estimate = preview["counts"][name] if name != "History" else preview["history_rows"]
        # the sample is a third of the world: finite-population correction sqrt(1 - 1/3)
        tolerance = 4 * sd / math.sqrt(100) * math.sqrt(2 / 3) * 300
        assert abs(estimate - sum(counts)) <= tolerance, (name, estimate, sum(counts))


def test_a_dry_run_of_chosen_industries_counts_those_industries(tmp_path):
    """The drawn counts come from the same plan as the rest: the industries asked for."""
    preview = api.generate_preview(
        world=str(tmp_path / "w.db"), preset="prd", as_of=AS_OF, industries=["insurance"]
    )
    world = tmp_path / "w.db"
    api.generate(
        world=str(world), runs_dir=str(tmp_path / "runs"), preset="prd", seed=42,
        as_of=AS_OF.isoformat(), industries=["insurance"],
    )  # fmt: skip
    with World(str(world), create=False) as handle:
        assert {n: c for n, c in handle.counts().items() if c} == preview["counts"]
