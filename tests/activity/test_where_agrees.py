"""`--where` over the world and the same text as SOQL in the sandbox select the same rows.

The prd world's opportunities are copied into a sandbox org (world key in Orgforge_Key__c);
random filters built from both parsers' common grammar run through ``activity.where`` on the
world and through the sandbox's query engine, with the same ``today``.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import select

from orgforge.activity import where
from orgforge.sandbox.salesforce import EXAMPLE_SCHEMA, SandboxConfig
from orgforge.sandbox.salesforce.server import build
from orgforge.world import World
from orgforge.world import tables as t

TODAY = dt.date(2026, 11, 23)
COPIED = [
    "Name",
    "StageName",
    "CloseDate",
    "Amount",
    "Probability",
    "Type",
    "LeadSource",
    "NextStep",
    "ForecastCategoryName",
]


@pytest.fixture(scope="module")
def both(prd_world, tmp_path_factory):
    with World(prd_world, create=False) as w:
        rows = list(w.iter_dicts("Opportunity"))
    state, *_ = build(
        SandboxConfig(db_path=tmp_path_factory.mktemp("agree") / "org.db", schema=EXAMPLE_SCHEMA)
    )
    state.engine.today = lambda: TODAY
    opportunity = state.org.meta.get("Opportunity")
    with state.org.transaction() as tx:
        for row in rows:
            values = {name: row[name] for name in COPIED if row.get(name) is not None}
            values["CloseDate"] = dt.date.fromisoformat(row["CloseDate"])
            values["Orgforge_Key__c"] = row["key"]
            tx.insert(opportunity, values, state.org.admin_id)
    return prd_world, state.engine, rows


def _values(rows, name):
    return sorted({r[name] for r in rows if r[name] is not None})


def _leaf(rng: random.Random, rows) -> str:
    stage = rng.choice(_values(rows, "StageName"))
    kind = rng.choice(_values(rows, "Type"))
    amount = rng.choice(_values(rows, "Amount"))
    day = rng.choice(_values(rows, "CloseDate"))
    return rng.choice(
        [
            f"StageName = '{stage.upper()}'",
            f"stagename != '{stage}'",
            f"StageName IN ('{stage}', '{rng.choice(_values(rows, 'StageName'))}')",
            f"StageName NOT IN ('{stage}')",
            f"Type = '{kind}'",
            f"LeadSource != '{rng.choice(_values(rows, 'LeadSource'))}'",
            "LeadSource = null",
            f"NextStep LIKE '{rng.choice(['%a%', 'S%', '%quote%', '_e%'])}'",
            f"Amount {rng.choice(['=', '!=', '<', '<=', '>', '>='])} {amount}",
            "Amount = null",
            f"Probability >= {rng.choice([10, 50, 90])}",
            f"CloseDate {rng.choice(['=', '!=', '<', '>', '<=', '>='])} {day}",
            f"CloseDate = {rng.choice(['THIS_QUARTER', 'NEXT_N_MONTHS:3', 'LAST_N_DAYS:90'])}",
            f"Name LIKE '%{rng.choice(['Pilot', 'pilot', 'Renewal', 'e'])}%'",
        ]
    )


def _condition(rng, rows, depth=0) -> str:
    roll = rng.random()
    if depth >= 3 or roll < 0.4:
        return _leaf(rng, rows)
    if roll < 0.55:
        return f"NOT ({_condition(rng, rows, depth + 1)})"
    op = rng.choice(["AND", "OR"])
    return f" {op} ".join(f"({_condition(rng, rows, depth + 1)})" for _ in range(rng.randint(2, 3)))


def test_random_filters_select_the_same_opportunities(both) -> None:
    world, engine, rows = both
    table = t.RECORD_TABLES["Opportunity"]
    rng = random.Random(11)
    nonempty = 0
    with World(world, create=False) as w, w.engine.connect() as conn:
        for _ in range(100):
            text = _condition(rng, rows)
            local = {
                k
                for (k,) in conn.execute(
                    select(table.c.key).where(where.condition(text, table, today=TODAY))
                )
            }
            _, records, _ = engine.run(f"SELECT Orgforge_Key__c FROM Opportunity WHERE {text}")
            assert {r["Orgforge_Key__c"] for r in records} == local, text
            nonempty += 0 < len(local) < len(rows)
    assert nonempty > 30  # the filters discriminate, they don't all match everything or nothing
