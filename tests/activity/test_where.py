from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from orgforge.activity import where
from orgforge.activity.source import WorldSource
from orgforge.world import World
from orgforge.world import tables as t


def _count(world_path, text: str) -> int:
    table = t.RECORD_TABLES["Opportunity"]
    with World(world_path, create=False) as w, w.engine.connect() as conn:
        query = select(func.count()).select_from(table).where(where.condition(text, table))
        return conn.execute(query).scalar_one()


def test_filters_match_python(prd_world) -> None:
    with World(prd_world, create=False) as w:
        rows = list(w.iter_dicts("Opportunity"))
    cases = {
        "StageName IN ('Prospecting', 'Qualification') AND Amount > 50000": lambda r: (
            r["StageName"] in ("Prospecting", "Qualification")
            and r["Amount"] is not None
            and r["Amount"] > 50000
        ),
        "NOT (IsClosed = TRUE) OR Amount = NULL": lambda r: (
            (not r["IsClosed"]) or r["Amount"] is None
        ),
        "StageName NOT IN ('Closed Won','Closed Lost') AND CloseDate < 2027-01-01": lambda r: (
            r["StageName"] not in ("Closed Won", "Closed Lost") and r["CloseDate"] < "2027-01-01"
        ),
        "Name LIKE '%Pilot%'": lambda r: "pilot" in r["Name"].lower(),
        "Amount >= 100000.5 and Type != 'New Business'": lambda r: (
            r["Amount"] is not None and r["Amount"] >= 100000.5 and r["Type"] != "New Business"
        ),
    }
    for text, predicate in cases.items():
        expected = sum(1 for r in rows if predicate(r))
        assert _count(prd_world, text) == expected, text
        assert 0 < expected < len(rows) or "LIKE" in text, text


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("Stage = 'x'", "unknown field 'Stage' at column 1"),
        ("StageName = 'a' AND Amount > 5 OR Amount < 1", "AND and OR can't be mixed"),
        ("Amount > '5'", "Amount is a currency field: don't quote the value at column 10"),
        ('StageName = "Prospecting"', "double quotes are not SOQL at column 13"),
        ("StageName IN ('a' AND", "expected ',' or ')' in the IN list"),
        ("(Amount > 5", "expected ')'"),
        ("", "the filter is empty"),
        ("Amount > 5 Amount", "expected AND, OR or the end"),
        ("IsClosed = 1", "IsClosed is a checkbox"),
        ("CloseDate > 2026-02-30", "is not a real date"),
        ("Amount ; DROP TABLE rec_Opportunity", "unexpected character ';'"),
        ("Amount < NULL", "NULL can only be compared"),
    ],
)
def test_bad_filters_say_what_and_where(text: str, fragment: str) -> None:
    with pytest.raises(where.FilterError) as info:
        where.parse(text)
    assert fragment in info.value.message
    assert info.value.exit_code == 2
    assert info.value.hint


def test_values_are_bound_never_pasted(prd_world) -> None:
    nasty = "Name = 'x''; DROP TABLE rec_Opportunity; --'"
    with pytest.raises(where.FilterError):
        where.parse(nasty)
    text = "Name = 'x\\'; DROP TABLE rec_Opportunity; --'"
    assert _count(prd_world, text) == 0
    with World(prd_world, create=False) as w:
        assert w.count("Opportunity") == 250
        assert len(WorldSource(w).select(None, None, 3)) == 3


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("(" * 5000 + "Amount > 5" + ")" * 5000, "more than 20 nested parentheses or NOTs"),
        ("NOT " * 5000 + "Amount > 5", "more than 20 nested parentheses or NOTs"),
        ("Amount > " + "9" * 5000, "out of range (integers must fit in 64 bits)"),
        (f"Amount > {2**64}", "the number 18446744073709551616 is out of range"),
        (f"Amount < {-(2**63) - 1}", "is out of range"),
        ("CloseDate = LAST_N_DAYS:99999999999999", "n must be at most 2147483647"),
        ("CloseDate = NEXT_N_YEARS:5000", "NEXT_N_YEARS:5000 is out of range"),
        ("CloseDate = LAST_N_MONTHS:2147483647", "is out of range"),
        ("CreatedDate > NEXT_N_QUARTERS:99999999", "is out of range"),
        ("StageName = 'a' AND Amount > 5 OR Amount < 1", "AND and OR can't be mixed"),
        ("Account.Name = 'x'", "relationship fields like Account.Name"),
        ("Name NOT LIKE 'x%'", "write NOT Name LIKE"),
        ("CreatedDate > 2026-01-01", "CreatedDate is a dateTime field"),
    ],
)
def test_hostile_filters_fail_cleanly(text: str, fragment: str) -> None:
    with pytest.raises(where.FilterError) as info:
        where.parse(text)
    assert fragment in info.value.message, info.value.message
    assert len(info.value.message) < 400 and info.value.hint


def test_soql_semantics_case_insensitive_fields_text_and_nulls(prd_world) -> None:
    with World(prd_world, create=False) as w:
        rows = list(w.iter_dicts("Opportunity"))
    assert any(r["LeadSource"] is None for r in rows)  # so != is seen to match nulls
    today = dt.date(2026, 11, 23)
    quarter = ("2026-10-01", "2027-01-01")
    cases = {
        "stagename = 'PROSPECTING'": lambda r: r["StageName"] == "Prospecting",
        "NAME like '%PILOT%'": lambda r: "pilot" in r["Name"].lower(),
        "leadsource != 'WEB'": lambda r: r["LeadSource"] != "Web",  # nulls too, as in SOQL
        "NOT (Amount > 100000)": lambda r: not (r["Amount"] is not None and r["Amount"] > 100000),
        "CloseDate = THIS_QUARTER": lambda r: quarter[0] <= r["CloseDate"] < quarter[1],
        "CreatedDate = LAST_N_DAYS:30": lambda r: r["CreatedDate"] >= "2026-10-24",
        " OR ".join(f"Amount = {a}" for a in range(0, 300000, 1000)): lambda r: (
            r["Amount"] is not None and r["Amount"] in range(0, 300000, 1000)
        ),
    }
    table = t.RECORD_TABLES["Opportunity"]
    with World(prd_world, create=False) as w, w.engine.connect() as conn:
        for text, predicate in cases.items():
            query = (
                select(func.count())
                .select_from(table)
                .where(where.condition(text, table, today=today))
            )
            expected = sum(1 for r in rows if predicate(r))
            assert conn.execute(query).scalar_one() == expected, text[:80]
            assert 0 < expected < len(rows), text[:80]
