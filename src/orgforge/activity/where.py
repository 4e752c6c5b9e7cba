"""``--where``: SOQL WHERE over the world's opportunities, read by the shared SOQL parser.

The text is parsed by :mod:`orgforge.soql` -- the same parser the Salesforce sandbox uses -- so a
filter that works here works as SOQL in an org (a Salesforce source passes the same text
through) and fails here the way it would fail there: ``A AND B OR C`` needs parentheses, field
names are case-insensitive (``stagename`` is ``StageName``), nesting and number literals are
bounded. This module then checks the filter against the Opportunity's fields and types and
translates it to SQLAlchemy over ``rec_Opportunity``.

Semantics follow SOQL, not SQL, so the world and an org select the same opportunities: text
comparisons are case-insensitive, ``!=`` matches nulls, ``NOT`` of a comparison on a null
field is true, and date literals (``CloseDate = THIS_QUARTER``, ``LAST_N_DAYS:30``) cover day
ranges relative to ``today``. The text is never pasted into SQL: every value becomes a bound
parameter. Errors say what is wrong, where (column in the filter) and how to fix it.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, and_, false, func, not_, or_, type_coerce
from sqlalchemy.sql.elements import ColumnElement

from orgforge import soql
from orgforge.clock import REAL, Clock
from orgforge.errors import UsageError
from orgforge.schema import salesforce as sf

TEXT_TYPES = {
    "string",
    "textarea",
    "picklist",
    "multipicklist",
    "email",
    "phone",
    "url",
    "reference",
}
NUMBER_TYPES = {"currency", "percent", "double", "int"}
CHAIN_GROUP = 64  # AND/OR chains longer than this are grouped (see _chained)


class FilterError(UsageError):
    default_hint = (
        "Use SOQL WHERE syntax over Opportunity fields, e.g. "
        "\"StageName IN ('Prospecting','Qualification') AND Amount > 50000\"."
    )


@dataclass(frozen=True)
class Compare:
    field: str
    op: str  # = != < <= > >= in notin like
    value: Any  # a bound value, a tuple for in/notin, a Span for date literals and dates
    text: bool = False  # compared case-insensitively (values are lower-cased already)


@dataclass(frozen=True)
class Span:
    """The half-open [lo, hi) range of stored text a date or date literal covers."""

    lo: str
    hi: str


@dataclass(frozen=True)
class BoolOp:
    op: str  # and | or
    parts: tuple


@dataclass(frozen=True)
class Not:
    part: Any


def _where(text: str, pos: int, message: str) -> str:
    near = text[pos : pos + 24].strip()
    place = f"near {near!r}" if near else "at the end"
    shown = text if len(text) <= 120 else f"{text[:100]}... ({len(text):,} characters)"
    return f"--where: {message} at column {pos + 1} ({place}) in: {shown}"


def _stamp(value: dt.datetime) -> str:
    """A UTC datetime as the world stores it: ``2026-01-15T09:30:00.000Z``."""
    value = value.astimezone(dt.UTC)
    return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}Z"


class _Checker:
    """Checks a parsed condition against Opportunity fields and builds the tree to_sql reads."""

    def __init__(self, text: str, fields: dict[str, sf.Field], today: dt.date) -> None:
        self.text = text
        self.fields = fields
        self.by_lower = {name.lower(): name for name in fields}
        self.today = today

    def fail(self, message: str, pos: int, hint: str | None = None):
        raise FilterError(_where(self.text, pos, message), hint)

    def node(self, node: Any) -> Any:
        if isinstance(node, soql.Logical):
            return BoolOp(node.op.lower(), tuple(self.node(n) for n in node.items))
        if isinstance(node, soql.Not):
            return Not(self.node(node.item))
        return self.comparison(node)

    def comparison(self, node: soql.Comparison) -> Compare:
        path = node.path
        if len(path.parts) > 1:
            self.fail(
                f"relationship fields like {path.text} aren't supported in --where",
                path.pos,
                "Filter on the Opportunity's own fields (StageName, Amount, CloseDate, ...).",
            )
        name = self.by_lower.get(path.parts[0].lower())
        if name is None:
            self.fail(
                f"unknown field {path.parts[0]!r}",
                path.pos,
                f"Opportunity fields: {', '.join(self.fields)}.",
            )
        field = self.fields[name]
        op = node.op
        if isinstance(node.value, soql.Query):
            self.fail("subqueries aren't supported in --where", node.pos)
        if op in ("INCLUDES", "EXCLUDES"):
            self.fail(
                f"{op} applies to multi-select picklists; {name} is a {field.type} field",
                node.pos,
                "Use IN ('A', 'B') for a picklist.",
            )
        if op in ("IN", "NOTIN"):
            values = tuple(self.value(field, lit, "=") for lit in node.value)  # type: ignore[union-attr]
            return Compare(name, op.lower(), tuple(_fold(v, field) for v in values), _folds(field))
        lit = node.value
        assert isinstance(lit, soql.Literal)
        if op == "LIKE":
            if field.type not in TEXT_TYPES:
                self.fail(f"LIKE needs a text field; {name} is a {field.type} field", node.pos)
            return Compare(name, "like", _like_pattern(lit.value))
        value = self.value(field, lit, op)
        if value is None and op not in ("=", "!="):
            self.fail(f"NULL can only be compared with = or !=, not {op}", lit.pos)
        return Compare(name, op, _fold(value, field), _folds(field))

    def value(self, field: sf.Field, lit: soql.Literal, op: str) -> Any:
        kind = field.type
        name = field.name
        if lit.kind == "null":
            return None
        if lit.kind == "bool":
            if kind != "boolean":
                self.fail(f"{name} is not a checkbox; TRUE/FALSE don't apply", lit.pos)
            if op not in ("=", "!="):
                self.fail(f"a checkbox can only be compared with = or !=, not {op}", lit.pos)
            return int(lit.value)
        if kind == "boolean":
            self.fail(f"{name} is a checkbox: compare it with TRUE or FALSE", lit.pos)
        if lit.kind == "string":
            if kind in NUMBER_TYPES or kind in ("date", "datetime"):
                self.fail(
                    f"{name} is a {kind} field: don't quote the value",
                    lit.pos,
                    "Numbers and dates go unquoted: Amount > 50000, CloseDate < 2026-12-31.",
                )
            return lit.value.replace(soql.LIKE_ESCAPE_MARK, "")
        if lit.kind == "number":
            if kind not in NUMBER_TYPES:
                self.fail(f"{name} is a {kind} field: quote the value", lit.pos)
            return lit.value
        if lit.kind == "datetime":
            if kind != "datetime":
                self.fail(f"{name} is a {kind} field, not a dateTime", lit.pos)
            return _stamp(lit.value)
        if lit.kind in ("date", "dateliteral"):
            if kind not in ("date", "datetime"):
                self.fail(f"{name} is a {kind} field, not a date", lit.pos)
            if lit.kind == "date":
                if kind == "datetime":
                    self.fail(
                        f"{name} is a dateTime field: compare it with a dateTime such as "
                        "2026-01-15T00:00:00Z or a date literal such as LAST_N_DAYS:30",
                        lit.pos,
                    )
                lo, hi = lit.value, lit.value + dt.timedelta(days=1)
            else:
                try:
                    lo, hi = soql.date_range(*lit.value, today=self.today)
                except soql.DateRangeError:
                    self.fail(
                        f"{lit.text} is out of range: dates run from 1700-01-01 to 4000-12-31",
                        lit.pos,
                        "Use a smaller n, e.g. LAST_N_DAYS:365.",
                    )
            return Span(lo.isoformat(), hi.isoformat())
        self.fail(f"expected a value, found {lit.text!r}", lit.pos)


def _like_pattern(pattern: str) -> str:
    r"""SOQL's LIKE pattern as a SQL LIKE pattern with ``\`` as the escape character."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == soql.LIKE_ESCAPE_MARK and i + 1 < len(pattern):
            out.append("\\" + pattern[i + 1])
            i += 2
            continue
        out.append("\\\\" if c == "\\" else c)
        i += 1
    return "".join(out)


def opportunity_fields() -> dict[str, sf.Field]:
    obj = sf.get("Opportunity")
    fields = {f.name: f for f in obj.fields}
    fields["Id"] = sf.Field("Id", "string")  # the local key stands in for the record Id
    return fields


def parse(text: str, today: dt.date | None = None, clock: Clock = REAL) -> Any:
    """Parse a filter over Opportunity fields; FilterError (exit 2) on any mistake.

    ``today`` anchors date literals (TODAY, LAST_N_DAYS:30); the default is the current UTC
    day on ``clock``, what an org would use.
    """
    try:
        node = soql.parse_condition(text)
    except soql.SOQLError as exc:
        hint = None
        if exc.friendly.startswith("double quotes") or exc.friendly.startswith("unexpected char"):
            hint = "Quote strings with single quotes: StageName = 'Prospecting'."
        raise FilterError(_where(text, exc.pos, exc.friendly), hint) from None
    checker = _Checker(text, opportunity_fields(), today or soql.today_utc(clock))
    return checker.node(soql.merge_equalities(node))  # F = a OR F = b ... is F IN (a, b)


def _chained(join: Any, parts: list[ColumnElement]) -> ColumnElement:
    """A long AND/OR chain as about sqrt(n) parenthesized groups of about sqrt(n) terms.

    SQLite parses ``a OR b OR ...`` into a tree as deep as the chain and refuses depth 1000,
    while every extra parenthesis level costs parser stack; one level of grouping keeps both
    small (5,000 terms: depth ~140, one extra level of parentheses). SQLAlchemy flattens
    nested ``or_`` calls, hence the explicit type_coerce wrapper around each group.
    """
    if len(parts) <= CHAIN_GROUP:
        return join(*parts)
    size = max(CHAIN_GROUP, math.isqrt(len(parts)) + 1)
    groups = [
        type_coerce(join(*parts[i : i + size]), Boolean).self_group()
        for i in range(0, len(parts), size)
    ]
    return join(*groups)


def _folds(field: sf.Field) -> bool:
    """Text compares case-insensitively, as in SOQL (the local key standing in for Id doesn't)."""
    return field.type in TEXT_TYPES and field.name != "Id"


def _fold(value: Any, field: sf.Field) -> Any:
    return value.lower() if isinstance(value, str) and _folds(field) else value


def _compare(column: Any, node: Compare, op: str, value: Any) -> ColumnElement:
    """One comparison, two-valued (never NULL), so NOT and OR mean what they mean in SOQL."""
    if value is None:
        if op == "=":
            return column.is_(None)
        return column.is_not(None)
    if isinstance(value, Span):
        inside = and_(column >= value.lo, column < value.hi)
        spans = {
            "=": and_(column.is_not(None), inside),
            "!=": or_(column.is_(None), column < value.lo, column >= value.hi),
            "<": and_(column.is_not(None), column < value.lo),
            "<=": and_(column.is_not(None), column < value.hi),
            ">": and_(column.is_not(None), column >= value.hi),
            ">=": and_(column.is_not(None), column >= value.lo),
        }
        return spans[op]
    left, right = (func.lower(column) if node.text else column), value
    if op == "!=":
        return or_(column.is_(None), left != right)
    compared = {
        "=": left == right,
        "<": left < right,
        "<=": left <= right,
        ">": left > right,
        ">=": left >= right,
    }[op]
    return and_(column.is_not(None), compared)


def to_sql(node: Any, table: Any) -> ColumnElement:
    """The SQLAlchemy condition for a parsed filter on the world's rec_Opportunity table."""
    if isinstance(node, BoolOp):
        parts = [to_sql(p, table) for p in node.parts]
        return _chained(and_ if node.op == "and" else or_, parts)
    if isinstance(node, Not):
        if isinstance(node.part, Not):  # NOT NOT x is x: comparisons here are two-valued
            return to_sql(node.part.part, table)
        return not_(to_sql(node.part, table))
    column = table.c["key" if node.field == "Id" else node.field]
    op, value = node.op, node.value
    if op in ("in", "notin"):
        points = [v for v in value if v is not None and not isinstance(v, Span)]
        left = func.lower(column) if node.text else column
        members = [and_(column.is_not(None), left.in_(points))] if points else []
        members += [
            _compare(column, node, "=", v) for v in value if v is None or isinstance(v, Span)
        ]
        cond = _chained(or_, members) if members else false()
        return not_(cond) if op == "notin" else cond
    if op == "like":
        # SOQL LIKE is case-insensitive; ilike is lower() LIKE lower() on every database.
        return and_(column.is_not(None), column.ilike(value, escape="\\"))
    return _compare(column, node, op, value)


def condition(
    text: str, table: Any, today: dt.date | None = None, clock: Clock = REAL
) -> ColumnElement:
    return to_sql(parse(text, today, clock), table)
