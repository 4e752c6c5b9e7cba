"""What is in a world, side by side with what its recipe asked for.

Counts per object, field fill rates, and the distributions the generator promises (density
tiers, opportunity stages, case status and priority, activity mix), each as observed % next to
the configured target %. Computed with SQL aggregates, so it is fast on large worlds.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from orgforge.config import Config
from orgforge.generate.team import head_count, load_team
from orgforge.schema import salesforce as sf
from orgforge.world import tables as t
from orgforge.world.store import World

ACCOUNT_FIELD_TARGETS = {
    "Name": 100,
    "Industry": 100,
    "Phone": 75,
    "Website": 75,
    "Description": 50,
    "AnnualRevenue": 40,
    "NumberOfEmployees": 25,
}
TASK_KIND = {
    ("Call", "Call"): "Call",
    ("Email", "Email"): "Email",
    ("Task", "Meeting"): "Meeting Prep",
    ("Task", "Other"): "Follow Up",
}


def _recipe(world: World) -> Config:
    """The config of the world's last successful generate run (defaults if none)."""
    for run in world.runs(limit=50):
        if run["command"] == "generate" and run["status"] == "ok" and run["config"]:
            data = json.loads(run["config"])
            data.pop("industries_resolved", None)
            try:
                return Config.model_validate(data)
            except Exception:
                break
    return Config()


def _group(world: World, object_name: str, *columns: str) -> dict[Any, int]:
    """Counts by value among the generator's records (other jobs' records are not its recipe)."""
    table = t.RECORD_TABLES[object_name]
    cols = [table.c[c] for c in columns]
    with world.engine.connect() as conn:
        rows = conn.execute(
            select(*cols, func.count()).where(table.c.job == "generate").group_by(*cols)
        ).all()
    return {(r[0] if len(columns) == 1 else tuple(r[:-1])): r[-1] for r in rows}


def _group_all(world: World, object_name: str, column: str) -> dict[Any, int]:
    table = t.RECORD_TABLES[object_name]
    with world.engine.connect() as conn:
        rows = conn.execute(select(table.c[column], func.count()).group_by(table.c[column])).all()
    return {r[0]: r[1] for r in rows}


def _dist(
    observed: dict[Any, int], targets: dict[str, float], order: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    total = sum(observed.values()) or 1
    target_total = sum(targets.values()) or 1
    labels = [k for k in order if k in targets] + [k for k in targets if k not in order]
    labels += sorted((k for k in observed if k not in targets), key=str)
    return [
        {
            "value": label,
            "count": observed.get(label, 0),
            "observed_pct": round(100 * observed.get(label, 0) / total, 2),
            "target_pct": round(100 * targets.get(label, 0) / target_total, 2)
            if label in targets
            else None,
        }
        for label in labels
    ]


def fill_rates(world: World, object_name: str) -> dict[str, float]:
    table = t.RECORD_TABLES[object_name]
    obj = sf.get(object_name)
    names = [f.name for f in obj.fields]
    mine = table.c.job == "generate"
    with world.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(table).where(mine)).scalar_one()
        if not total:
            return {name: 0.0 for name in names}
        counts = conn.execute(select(*[func.count(table.c[n]) for n in names]).where(mine)).one()
    return {name: round(100 * c / total, 2) for name, c in zip(names, counts, strict=True)}


# Objects whose counts follow from the others (line items from deals, members from leads…).
DERIVED = (
    "Product2",
    "Pricebook2",
    "PricebookEntry",
    "Campaign",
    "OpportunityLineItem",
    "CampaignMember",
    "EmailMessage",
)


def _lead_status(world: World) -> list[dict[str, Any]]:
    """The leads' status mix, in lifecycle order; the target is the converted share."""
    from orgforge.config import CONVERTED_LEAD_SHARE as CONVERTED_SHARE

    observed = _group(world, "Lead", "Status")
    total = sum(observed.values()) or 1
    return [
        {
            "value": status,
            "count": observed.get(status, 0),
            "observed_pct": round(100 * observed.get(status, 0) / total, 2),
            "target_pct": round(100 * CONVERTED_SHARE, 2)
            if status == sf.CONVERTED_STATUS
            else None,
        }
        for status in sf.LEAD_STATUSES
    ]


def stats(world: World) -> dict[str, Any]:
    recipe = _recipe(world)
    gen = recipe.generate
    by_job: dict[str, dict[str, int]] = {}
    for name in sf.GENERATED:
        for job, n in _group_all(world, name, "job").items():
            by_job.setdefault(name, {})[job] = n
    counts = {name: by_job.get(name, {}).get("generate", 0) for name in sf.GENERATED}
    accounts = counts.get("Account", 0)
    team = load_team(gen.team)
    expected = {name: gen.count(name) for name in sf.GENERATED}
    if accounts != gen.accounts:  # the world was grown or shrunk since: scale the targets
        expected = {
            name: (
                round(gen.per_account[name] * accounts)
                if name in gen.per_account
                else expected[name]
            )
            for name in expected
        }
        expected["Account"] = accounts
    for name in DERIVED:  # no per_account target: drawn from the other objects (docs/generate.md)
        expected[name] = None
    expected["UserRole"] = len(team.roles)
    expected["User"] = sum(head_count(role, accounts or gen.accounts) for role in team.roles)

    tiers: dict[str, int] = {}
    for name in sf.GENERATED:
        for tier, n in _group(world, name, "tier").items():
            if tier:
                tiers[tier] = tiers.get(tier, 0) + n

    priority = {}
    for (status, prio), n in _group(world, "Case", "Status", "Priority").items():
        priority.setdefault(status, {})[prio] = n

    task_kinds: dict[str, int] = {}
    for (subtype, type_), n in _group(world, "Task", "TaskSubtype", "Type").items():
        kind = TASK_KIND.get((subtype, type_), f"{subtype}/{type_}")
        task_kinds[kind] = task_kinds.get(kind, 0) + n

    account_fill = fill_rates(world, "Account")
    return {
        "world": world.location,
        "recipe": {"seed": recipe.seed, "as_of": str(recipe.as_of), "accounts": gen.accounts},
        "counts": [
            {
                "object": name,
                "count": counts[name],
                "expected": expected[name],
                "other_jobs": sum(n for j, n in by_job.get(name, {}).items() if j != "generate"),
            }
            for name in sf.GENERATED
        ],
        "account_fields": [
            {"field": f, "observed_pct": account_fill.get(f, 0.0), "target_pct": target}
            for f, target in ACCOUNT_FIELD_TARGETS.items()
        ],
        "fill_rates": {name: fill_rates(world, name) for name in sf.GENERATED},
        "distributions": {
            "density_tier": _dist(tiers, gen.density.model_dump(), ("rich", "moderate", "sparse")),
            "opportunity_stage": _dist(
                _group(world, "Opportunity", "StageName"), gen.stages, sf.STAGES
            ),
            "case_status": _dist(
                _group(world, "Case", "Status"), gen.case_status, sf.CASE_STATUSES
            ),
            "task_type": _dist(
                task_kinds,
                {k: float(v) for k, v in gen.task_mix.items()},
                ("Call", "Email", "Meeting Prep", "Follow Up"),
            ),
            "event_type": _dist(
                _group(world, "Event", "Type"), {k: float(v) for k, v in gen.event_mix.items()}
            ),
            "industry": _dist(_group(world, "Account", "Industry"), {}),
            "lead_status": _lead_status(world),
        },
        "case_priority_by_status": priority,
    }
