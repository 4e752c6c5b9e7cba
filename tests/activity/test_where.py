from __future__ import annotations

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
