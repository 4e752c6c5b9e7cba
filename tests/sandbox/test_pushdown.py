"""Pushdown: SQLite answers exactly what the Python evaluator answers, on random queries.

The reference is the engine with its SQL switched off (filter, sort and slice in Python over
every row, as before pushdown); both run over the same org with nulls, mixed case, non-ASCII
text, dates and datetimes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import pytest

from orgforge.sandbox.salesforce import EXAMPLE_SCHEMA, SandboxConfig
from orgforge.sandbox.salesforce.server import build

TODAY = dt.date(2026, 1, 15)
NAMES = ["Acme", "acme", "ACME Corp", "Globex", "Émile", "émile", "Zed", "a_b", "a%b", "Ünder"]
INDUSTRIES = ["Technology", "Banking", "technology", None]
OPS = ["=", "!=", "<", "<=", ">", ">="]
DATE_LITERALS = ["TODAY", "LAST_N_DAYS:30", "THIS_YEAR", "NEXT_N_QUARTERS:2"]
LIKE_PATTERNS = ["a%", "%e", "_cme%", "a\\_b%", "%ü%", "É%"]


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    state, *_ = build(
        SandboxConfig(db_path=tmp_path_factory.mktemp("pd") / "org.db", schema=EXAMPLE_SCHEMA)
    )
    state.engine.today = lambda: TODAY
    rng = random.Random(7)
    with state.org.transaction() as tx:
        for i in range(300):
            fields = {
                "Name": rng.choice(NAMES) + ("" if rng.random() < 0.5 else f" {i % 7}"),
                "Industry": rng.choice(INDUSTRIES),
                "AnnualRevenue": rng.choice([None, 0.0, 1e6, 2.5e6, float(i * 1000)]),
                "NumberOfEmployees": rng.choice([None, 5, 50, 500]),
                "Orgforge_Key__c": f"Account/{i:04d}" if rng.random() < 0.9 else None,
            }
            tx.insert(state.org.meta.get("Account"), fields, state.org.admin_id)
    meta = state.org.meta
    accounts = [r["Id"] for r in state.org.select(meta.get("Account"))]
    with state.org.transaction() as tx:
        contacts = [
            tx.insert(
                meta.get("Contact"),
                {"LastName": rng.choice(NAMES), "AccountId": rng.choice([None, *accounts])},
                state.org.admin_id,
            )
            for _ in range(120)
        ]
        for i in range(120):
            what = rng.choice([None, *accounts[:50]])
            who = rng.choice([None, *contacts[:40]])
            tx.insert(
                meta.get("Task"),
                {"Subject": f"{rng.choice(NAMES)} {i}", "WhatId": what, "WhoId": who},
                state.org.admin_id,
            )
    with state.org.transaction() as tx:  # deleted parents still resolve, like a real org
        for record_id in accounts[:10]:
            tx.delete(meta.get("Account"), record_id, state.org.admin_id)
    return state.engine


def _tx_ready(engine) -> bool:
    return engine.org.count(engine.meta.get("Account")) == 290


def _leaf(rng: random.Random) -> str:
    name = rng.choice(NAMES)
    key = rng.randrange(300)
    choices = [
        f"Name = '{name}'",
        f"Name != '{name}'",
        f"Name < '{name}'",
        f"Name >= '{name}'",
        f"Name IN ('{name}', '{rng.choice(NAMES)}', null)",
        f"Name NOT IN ('{name}')",
        "Name LIKE '" + rng.choice(LIKE_PATTERNS) + "'",
        f"Industry = {rng.choice(['null', repr('technology'), repr('Banking')])}",
        f"Industry != {rng.choice(['null', repr('TECHNOLOGY')])}",
        f"AnnualRevenue {rng.choice(OPS)} {rng.choice(['0', '1000000', '150000.5'])}",
        f"AnnualRevenue = {rng.choice(['null', '2500000'])}",
        "NumberOfEmployees IN (5, 500, null)",
        "NumberOfEmployees NOT IN (50)",
        f"Orgforge_Key__c IN ('account/{rng.randrange(300):04d}', 'ACCOUNT/{key:04d}')",
        "Orgforge_Key__c = null",
        f"CreatedDate {rng.choice(OPS)} {rng.choice(DATE_LITERALS)}",
        "CreatedDate > 2020-01-01T00:00:00Z",
        "Owner.Name = 'Ada Admin'",  # a parent field: Python only
    ]
    return rng.choice(choices)


def _condition(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth >= 3 or roll < 0.4:
        return _leaf(rng)
    if roll < 0.55:
        return f"NOT ({_condition(rng, depth + 1)})"
    op = rng.choice(["AND", "OR"])
    return f" {op} ".join(f"({_condition(rng, depth + 1)})" for _ in range(rng.randint(2, 4)))


def _related_leaf(rng: random.Random, sobject: str) -> str:
    name = rng.choice(NAMES)
    if sobject == "Contact":
        return rng.choice(
            [
                f"Account.Name = '{name}'",
                f"Account.Name != '{name}'",
                f"Account.Industry = {rng.choice(['null', repr('Banking')])}",
                f"Account.AnnualRevenue > {rng.choice(['0', '1000000'])}",
                f"Account.Owner.Name LIKE '{rng.choice(['Ada%', '%a%', 'Nobody'])}'",
                f"Account.Orgforge_Key__c IN ('account/{rng.randrange(300):04d}', 'x')",
                f"LastName = '{name}'",
                "AccountId = null",
            ]
        )
    return rng.choice(
        [
            f"What.Type = '{rng.choice(['Account', 'Opportunity'])}'",
            f"What.Type != '{rng.choice(['Account', 'Opportunity'])}'",
            f"What.Name = '{name}'",
            f"What.Name LIKE '{rng.choice(['a%', '%e%'])}'",
            f"Who.Name != '{name}'",
            "Who.Type IN ('Contact', 'Lead')",
            "Who.Name = null",
            f"Subject LIKE '{name}%'",
        ]
    )


def _related_condition(rng: random.Random, sobject: str, depth: int = 0) -> str:
    roll = rng.random()
    if depth >= 2 or roll < 0.45:
        return _related_leaf(rng, sobject)
    if roll < 0.6:
        return f"NOT ({_related_condition(rng, sobject, depth + 1)})"
    op = rng.choice(["AND", "OR"])
    parts = [f"({_related_condition(rng, sobject, depth + 1)})" for _ in range(rng.randint(2, 3))]
    return f" {op} ".join(parts)


def _query(rng: random.Random) -> str:
    if rng.random() < 0.35:
        sobject = rng.choice(["Contact", "Task"])
        text = f"SELECT Id FROM {sobject} WHERE " + _related_condition(rng, sobject)
        if rng.random() < 0.3:
            text += " ORDER BY Id DESC LIMIT 7"
        return text
    text = "SELECT Id FROM Account"
    if rng.random() < 0.9:
        text += " WHERE " + _condition(rng)
    if rng.random() < 0.6:
        keys = rng.sample(["Name", "Industry", "AnnualRevenue", "NumberOfEmployees", "Id"], 2)
        text += " ORDER BY " + ", ".join(
            f"{k} {rng.choice(['', 'ASC', 'DESC'])} {rng.choice(['', 'NULLS FIRST', 'NULLS LAST'])}"
            for k in keys[: rng.randint(1, 2)]
        )
    if rng.random() < 0.4:
        text += f" LIMIT {rng.randint(0, 50)}"
    if rng.random() < 0.3:
        text += f" OFFSET {rng.randint(0, 30)}"
    return text


def _python_only(engine, text: str) -> list[str]:
    plan, _, _ = engine.run(text)
    reference = dataclasses.replace(plan, where_sql=None, order_sql=None)
    return [r["Id"] for r in engine.execute(reference)]


def test_random_queries_give_identical_rows(engine) -> None:
    assert _tx_ready(engine)
    rng = random.Random(2026)
    pushed = 0
    for _ in range(100):
        text = _query(rng)
        plan, records, _ = engine.run(text)
        assert [r["Id"] for r in records] == _python_only(engine, text), text
        pushed += plan.pushed_down
    assert pushed > 50  # most random queries run entirely in SQLite, the rest fall back


def test_the_external_id_lookup_uses_its_index(engine) -> None:
    keys = ", ".join(f"'account/{i:04d}'" for i in range(0, 300, 3))
    plan, records, _ = engine.run(f"SELECT Id FROM Account WHERE Orgforge_Key__c IN ({keys})")
    assert plan.pushed_down and 80 <= len(records) <= 100
    conn = engine.org.conn()
    rows = conn.execute(
        'EXPLAIN QUERY PLAN SELECT * FROM "Account" WHERE "IsDeleted" = 0 AND '
        + plan.where_sql.text
        + ' ORDER BY "Id"',
        plan.where_sql.params,
    ).fetchall()
    assert any("USING INDEX ix_Account_Orgforge_Key__c" in row[-1] for row in rows), rows


def test_child_subqueries_read_their_children_once_and_filter_them(engine) -> None:
    text = (
        "SELECT Id, (SELECT Id, LastName FROM Contacts WHERE LastName LIKE 'a%' "
        "ORDER BY LastName DESC, Id) FROM Account"
    )
    plan, records, lookup = engine.run(text)
    contacts = engine.org.select(engine.meta.get("Contact"))
    for account in records:
        rendered = engine.render(plan, account, lookup)["Contacts"]
        expected = sorted(
            (
                c
                for c in contacts
                if c["AccountId"] == account["Id"] and c["LastName"].casefold().startswith("a")
            ),
            key=lambda c: c["Id"],
        )
        expected.sort(key=lambda c: c["LastName"].casefold(), reverse=True)
        got = [c["Id"] for c in rendered["records"]] if rendered else []
        assert got == [c["Id"] for c in expected], account["Id"]
