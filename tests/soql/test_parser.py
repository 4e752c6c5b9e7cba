"""orgforge.soql on its own: limits, date literal bounds, and that it stands alone."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pytest

from orgforge import soql


def test_long_flat_chains_parse_without_recursion() -> None:
    text = " OR ".join(f"Name = 'n{i}'" for i in range(5000))
    node = soql.parse_condition(text)
    assert isinstance(node, soql.Logical) and node.op == "OR" and len(node.items) == 5000
    ands = soql.parse(
        "SELECT Id FROM Account WHERE " + " AND ".join(f"Amount != {i}" for i in range(5000))
    )
    assert len(ands.where.items) == 5000


@pytest.mark.parametrize(
    "text",
    [
        "(" * 5000 + "Name = 'x'" + ")" * 5000,
        "NOT " * 5000 + "Name = 'x'",
        "(" * (soql.MAX_DEPTH + 1) + "Name = 'x'" + ")" * (soql.MAX_DEPTH + 1),
        "NOT (" * 11 + "Name = 'x'" + ")" * 11,
    ],
)
def test_nesting_beyond_the_limit_is_malformed_not_a_recursion_error(text: str) -> None:
    with pytest.raises(soql.SOQLError) as info:
        soql.parse_condition(text)
    assert info.value.code == "MALFORMED_QUERY"
    assert "nested" in info.value.message and "nested" in info.value.friendly


def test_nesting_at_the_limit_parses() -> None:
    depth = soql.MAX_DEPTH
    node = soql.parse_condition("(" * depth + "Name = 'x'" + ")" * depth)
    assert isinstance(node, soql.Comparison)
    assert isinstance(soql.parse_condition("NOT " * depth + "Name = 'x'"), soql.Not)


@pytest.mark.parametrize(
    ("number", "ok"),
    [
        (str(2**63 - 1), True),
        (str(-(2**63)), True),
        (str(2**63), False),
        (str(2**64), False),
        ("9" * 5000, False),
        ("1" * 30 + ".5", True),
        ("1" * 400 + ".5", False),
    ],
)
def test_number_literals_are_bounded(number: str, ok: bool) -> None:
    text = f"Amount > {number}"
    if ok:
        assert soql.parse_condition(text).value.text == number
        return
    with pytest.raises(soql.SOQLError) as info:
        soql.parse_condition(text)
    assert info.value.code == "MALFORMED_QUERY" and info.value.pos == 9
    assert "out of range" in info.value.message and len(info.value.message) < 200


def test_and_or_mix_needs_parentheses_with_a_plain_explanation() -> None:
    with pytest.raises(soql.SOQLError) as info:
        soql.parse_condition("A = 1 AND B = 2 OR C = 3")
    assert info.value.message == "unexpected token: 'OR'" and info.value.pos == 16
    assert "parentheses" in info.value.friendly
    assert isinstance(soql.parse_condition("(A = 1 AND B = 2) OR C = 3"), soql.Logical)


def test_query_length_is_capped() -> None:
    with pytest.raises(soql.SOQLError, match="100,000 characters"):
        soql.parse("SELECT Id FROM Account WHERE Name = '" + "x" * 100_000 + "'")


@pytest.mark.parametrize(
    "literal",
    [
        ("LAST_N_DAYS", 10**6),
        ("NEXT_N_QUARTERS", 10**4),
        ("NEXT_N_YEARS", 2000),
        ("LAST_N_MONTHS", 2**31 - 1),
        ("N_YEARS_AGO", 400),
        ("NEXT_N_DAYS", 2**31 - 1),
    ],
)
def test_date_literal_ranges_outside_salesforce_dates_raise(literal) -> None:
    with pytest.raises(soql.DateRangeError):
        soql.date_range(*literal, today=dt.date(2026, 1, 15))


def test_date_literal_n_beyond_32_bits_is_malformed() -> None:
    with pytest.raises(soql.SOQLError) as info:
        soql.parse_condition("CloseDate = LAST_N_DAYS:99999999999999999999")
    assert info.value.code == "MALFORMED_QUERY" and info.value.pos == 24
    assert soql.date_range("LAST_N_YEARS", 300, dt.date(2026, 1, 15))[0] == dt.date(1726, 1, 1)


def test_the_package_imports_nothing_from_the_rest_of_orgforge_but_the_clock() -> None:
    """The sandbox and `activity --where` share it; the clock (TODAY & co.) is a leaf."""
    code = (
        "import sys, json, orgforge.soql; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('orgforge'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = json.loads(done.stdout)
    outside = [m for m in loaded if m != "orgforge" and not m.startswith("orgforge.soql")]
    assert outside == ["orgforge.clock"], loaded
