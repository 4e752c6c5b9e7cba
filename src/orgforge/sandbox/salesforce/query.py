"""Running parsed SOQL against the org: field resolution, filters, ordering, rendering, cursors.

Semantics follow SOQL rather than SQL: text comparisons are case-insensitive, ``!=`` matches
nulls, date literals cover day ranges (in UTC), IDs compare in their 18-character form whatever
length the query used, and relationship paths (``Account.Owner.Name``) and polymorphic Name
fields (``What.Type``, ``Who.Name``) resolve through the parent records.

Every filter is compiled twice from the same literal rules: to a Python predicate over decoded
records, and -- where SQL can say it -- to a SQLite condition (pushdown). When the whole WHERE
compiles exactly, SQLite filters, orders and slices (``LIMIT``/``OFFSET``) and uses its indexes
(the external ID ``Orgforge_Key__c``, lookups, ``Id``); only the matching rows are decoded.
Parent paths (``Account.Owner.Name``) and polymorphic Name fields (``What.Type``) become
``IN (SELECT "Id" ...)`` subqueries. What SQL can't express (INCLUDES/EXCLUDES, filters too
deep for SQLite's parser) leaves the SQL a superset, and Python decides the rest.
SQL leaves are two-valued (``col IS NOT NULL AND col = ?``) so NOT means what it means in
Python, and long AND/OR chains are nested as balanced trees to stay within SQLite's
expression-depth limit.

One deliberate rule in the pushed-down path: equality and IN on text with an ASCII literal
use SQLite's ``COLLATE NOCASE`` (so the NOCASE indexes serve them) -- the same rule the org's
unique and external-ID checks use. It differs from ``str.casefold`` only for the few non-ASCII
characters that fold into ASCII (the Kelvin sign, long s, ß, ligatures); every other text rule
runs the same Python function inside SQLite (see ``sqlfuncs``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orgforge.clock import REAL, Clock
from orgforge.sandbox.salesforce import ids
from orgforge.sandbox.salesforce.metadata import NUMBER_TYPES, Field, Metadata, SObject
from orgforge.sandbox.salesforce.org import Org, Record, q
from orgforge.sandbox.salesforce.sferrors import SFError
from orgforge.sandbox.salesforce.sqlfuncs import like_pattern
from orgforge.sandbox.salesforce.values import UTC, format_datetime_z, to_csv, to_json
from orgforge.soql import (
    Comparison,
    Count,
    DateRangeError,
    Literal,
    Logical,
    Not,
    Path,
    Query,
    SOQLError,
    date_range,
    merge_equalities,
    parse,
)

# Fields of the polymorphic "Name" entity (What, Who, Owner on some objects).
NAME_FIELDS = [
    "Id",
    "Type",
    "Name",
    "FirstName",
    "LastName",
    "Alias",
    "Email",
    "Phone",
    "Title",
    "IsActive",
    "Username",
    "LastModifiedDate",
]
TEXT_KINDS = {"string", "textarea", "picklist", "multipicklist", "email", "phone", "url"}
MAX_OFFSET = 2000
# Stay well inside SQLite's bound-parameter limit (32,766); beyond it, Python filters.
MAX_SQL_PARAMS = 30_000
# SQLite's parser overflows its stack at about 35 nested parentheses; deeper filters (up to the
# parser's MAX_DEPTH) are evaluated in Python instead.
MAX_SQL_DEPTH = 24
CHAIN_GROUP = 64


@dataclass
class Sql:
    """A two-valued SQLite condition; ``exact`` when it is the whole filter, not a superset."""

    text: str
    params: list[Any]
    exact: bool
    depth: int = 1  # parenthesis nesting, bounded by MAX_SQL_DEPTH


def _chained(op: str, parts: list[Sql]) -> Sql:
    """``a OP b OP ...`` as about sqrt(n) parenthesized groups of about sqrt(n) terms.

    SQLite parses a flat chain into a tree as deep as the chain (it refuses depth 1000) and
    every parenthesis level costs parser stack (about 35 levels fit); one level of grouping
    keeps both small: 5,000 ORs become ~70 groups of ~70, depth ~140.
    """
    if len(parts) == 1:
        return parts[0]
    if len(parts) > CHAIN_GROUP:
        size = max(CHAIN_GROUP, math.isqrt(len(parts)) + 1)
        parts = [_chained(op, parts[i : i + size]) for i in range(0, len(parts), size)]
    return Sql(
        "(" + f" {op} ".join(p.text for p in parts) + ")",
        [x for p in parts for x in p.params],
        all(p.exact for p in parts),
        max(p.depth for p in parts) + 1,
    )


@dataclass
class Resolved:
    path: Path
    steps: list[Field]  # lookups followed, in order
    final: Field | None  # None for Name-entity pseudo fields
    final_name: str
    name_entity: bool  # the final field sits on a polymorphic Name entity

    @property
    def keys(self) -> list[str]:
        return [s.relationship_name or s.name for s in self.steps] + [self.final_name]

    @property
    def kind(self) -> str:
        if self.final is not None:
            return self.final.type
        if self.final_name == "Id":
            return "id"
        if self.final_name == "IsActive":
            return "boolean"
        if self.final_name == "LastModifiedDate":
            return "datetime"
        return "string"


@dataclass
class ChildPlan:
    rel_name: str
    child: SObject
    via: Field
    plan: Plan


@dataclass
class Plan:
    obj: SObject
    columns: list[Resolved | ChildPlan]
    counts: list[tuple[Resolved | None, str]]  # COUNT(field) items: (field, alias)
    count_only: bool
    where: Callable[[Record], bool] | None
    order: list[tuple[Callable[[Record], Any], bool, bool]]
    limit: int | None
    offset: int | None
    include_deleted: bool
    where_sql: Sql | None = None  # the WHERE in SQL (or a superset of it), None: all rows
    order_sql: list[str] | None = None  # ORDER BY in SQL, None when Python must sort

    @property
    def pushed_down(self) -> bool:
        """SQLite filters, orders and slices on its own: nothing is left for Python."""
        exact = self.where is None or (self.where_sql is not None and self.where_sql.exact)
        return exact and self.order_sql is not None


class Lookup:
    """Per-query cache of parent records by ID (deleted ones included)."""

    def __init__(self, org: Org) -> None:
        self.org = org
        self.cache: dict[str, tuple[SObject, Record] | None] = {}

    def __call__(self, record_id: str) -> tuple[SObject, Record] | None:
        if record_id not in self.cache:
            self.cache[record_id] = self.org.get_any(record_id)
        return self.cache[record_id]


class Engine:
    def __init__(self, org: Org, version: str = "59.0", clock: Clock = REAL) -> None:
        self.org = org
        self.meta: Metadata = org.meta
        self.version = version
        self.today = clock.today  # the day date literals (TODAY, LAST_N_DAYS:7) count from

    # ---- public ------------------------------------------------------------------------------

    def run(self, text: str, include_deleted: bool = False) -> tuple[Plan, list[Record], Lookup]:
        """Parse, plan and execute; return the plan, the matching records and the lookup cache."""
        try:
            query = parse(text)
            lookup = Lookup(self.org)
            plan = self.plan(query, include_deleted, lookup, text)
        except SOQLError as exc:
            raise malformed(text, exc) from None
        return plan, self.execute(plan), lookup

    def check(self, text: str, include_deleted: bool = False) -> Plan:
        """Parse and plan without reading any rows: field, type and literal errors only."""
        try:
            return self.plan(parse(text), include_deleted, Lookup(self.org), text)
        except SOQLError as exc:
            raise malformed(text, exc) from None

    def execute(self, plan: Plan) -> list[Record]:
        sql = plan.where_sql
        if plan.pushed_down:
            return self.org.select(
                plan.obj,
                sql.text if sql else None,
                sql.params if sql else None,
                plan.order_sql,
                plan.limit,
                plan.offset,
                plan.include_deleted,
            )
        records = self.org.select(
            plan.obj,
            sql.text if sql else None,
            sql.params if sql else None,
            include_deleted=plan.include_deleted,
        )
        if plan.where is not None and not (sql is not None and sql.exact):
            records = [r for r in records if plan.where(r)]
        for key, desc, nulls_last in reversed(plan.order):
            present = [r for r in records if key(r) is not None]
            missing = [r for r in records if key(r) is None]
            present.sort(key=key, reverse=desc)
            records = present + missing if nulls_last else missing + present
        start = plan.offset or 0
        end = None if plan.limit is None else start + plan.limit
        return records[start:end]

    def render(
        self, plan: Plan, rec: Record, lookup: Lookup, version: str | None = None
    ) -> dict[str, Any]:
        version = version or self.version
        out: dict[str, Any] = {"attributes": self._attributes(plan.obj.name, rec["Id"], version)}
        for col in plan.columns:
            if isinstance(col, ChildPlan):
                out[col.rel_name] = self._render_children(col, rec, lookup, version)
                continue
            self._put(out, col, rec, lookup, version)
        return out

    def flat(self, plan: Plan, rec: Record, lookup: Lookup) -> list[str]:
        row = []
        for col in plan.columns:
            if isinstance(col, Resolved):
                row.append(to_csv(self.value(col, rec, lookup)))
        return row

    def headers(self, plan: Plan) -> list[str]:
        return [".".join(c.keys) for c in plan.columns if isinstance(c, Resolved)]

    # ---- planning ----------------------------------------------------------------------------

    def plan(
        self,
        query: Query,
        include_deleted: bool,
        lookup: Lookup,
        text: str,
        parent: tuple[SObject, Field] | None = None,
    ) -> Plan:
        obj = self.meta.get(query.sobject) if parent is None else parent[0]
        if obj is None:
            raise SOQLError(
                f"sObject type '{query.sobject}' is not supported. If you are attempting to use a "
                "custom object, be sure to append the '__c' after the entity name. Please "
                "reference your WSDL or the describe call for the appropriate names.",
                query.sobject_pos,
                "INVALID_TYPE",
            )
        alias = query.alias or (obj.name if parent is None else query.sobject)
        columns: list[Resolved | ChildPlan] = []
        counts: list[tuple[Resolved | None, str]] = []
        count_only = False
        seen: set[str] = set()
        for item in query.items:
            if isinstance(item, Count):
                if item.path is None:
                    if len(query.items) != 1:
                        raise SOQLError(
                            "COUNT() must be the only element in the SELECT list", item.pos
                        )
                    count_only = True
                else:
                    counts.append(
                        (self.resolve(obj, item.path, alias), item.alias or f"expr{len(counts)}")
                    )
            elif isinstance(item, Query):
                columns.append(self._child_plan(obj, item, include_deleted, lookup, text))
            else:
                resolved = self.resolve(obj, item, alias)
                key = ".".join(resolved.keys).lower()
                if key in seen:
                    raise SOQLError(f"duplicate field selected: {item.text}", item.pos)
                seen.add(key)
                columns.append(resolved)
        if counts and columns:
            bad = next(c for c in columns if isinstance(c, Resolved))
            raise SOQLError(f"Field must be grouped or aggregated: {bad.final_name}", bad.path.pos)
        where, where_sql = None, None
        if query.where:
            merged = merge_equalities(query.where)  # F = a OR F = b ... is F IN (a, b, ...)
            where, where_sql = self._condition(obj, merged, alias, lookup, text)
            if where_sql is not None and len(where_sql.params) > MAX_SQL_PARAMS:
                where_sql = None
        order = []
        order_sql: list[str] | None = []
        for item in query.order:
            resolved = self.resolve(obj, item.path, alias)
            if (
                resolved.final is not None
                and resolved.final.type == "textarea"
                and (resolved.final.length > 255)
            ):
                raise SOQLError(
                    f"field '{resolved.final.name}' can not be sorted in a query call",
                    item.path.pos,
                    "INVALID_FIELD",
                )
            order.append((self._sort_key(resolved, lookup), item.desc, item.nulls_last))
            order_sql = _order_sql(resolved, item.desc, item.nulls_last, order_sql)
        if query.offset is not None and query.offset > MAX_OFFSET:
            raise SOQLError(
                f"Maximum SOQL offset allowed is {MAX_OFFSET}",
                query.pos,
                "NUMBER_OUTSIDE_VALID_RANGE",
            )
        plan = Plan(
            obj,
            columns,
            counts,
            count_only,
            where,
            order,
            query.limit,
            query.offset,
            include_deleted,
            where_sql,
            order_sql,
        )
        if parent is not None:
            plan.include_deleted = False
        return plan

    def _child_plan(
        self, obj: SObject, sub: Query, include_deleted: bool, lookup: Lookup, text: str
    ) -> ChildPlan:
        for child, f, rel in self.meta.children_of(obj.name):
            if rel and rel.lower() == sub.sobject.lower():
                plan = self.plan(sub, False, lookup, text, parent=(child, f))
                if plan.count_only or plan.counts:
                    raise SOQLError("aggregates are not supported in subqueries", sub.pos)
                return ChildPlan(rel, child, f, plan)
        raise SOQLError(
            f"Didn't understand relationship '{sub.sobject}' in FROM part of query call. If you "
            "are attempting to use a custom relationship, be sure to append the '__r' after the "
            "custom relationship name. Please reference your WSDL or the describe call for the "
            "appropriate names.",
            sub.sobject_pos,
            "INVALID_TYPE",
        )

    def resolve(self, obj: SObject, path: Path, alias: str) -> Resolved:
        parts = list(path.parts)
        if (
            len(parts) > 1
            and parts[0].lower() == alias.lower()
            and obj.relationship(parts[0]) is None
        ):
            parts = parts[1:]
        steps: list[Field] = []
        current: SObject | None = obj
        for part in parts[:-1]:
            if current is None:  # past a polymorphic Name entity: no further hops
                raise _bad_relationship(part, path.pos)
            f = current.relationship(part)
            if f is None:
                raise _bad_relationship(part, path.pos)
            steps.append(f)
            if len(steps) > 5:
                raise SOQLError(
                    "SOQL statements cannot query more than 5 levels of relationships", path.pos
                )
            current = None if f.polymorphic else self.meta.get(f.reference_to[0])
        last = parts[-1]
        if current is None:
            match = next((n for n in NAME_FIELDS if n.lower() == last.lower()), None)
            if match is None:
                raise SOQLError(
                    f"No such column '{last}' on entity 'Name'. If you are attempting to use a "
                    "custom field, be sure to append the '__c' after the custom field name. "
                    "Please reference your WSDL or the describe call for the appropriate names.",
                    path.pos,
                    "INVALID_FIELD",
                )
            return Resolved(path, steps, None, match, True)
        f = current.field(last)
        if f is None:
            raise SOQLError(
                f"No such column '{last}' on entity '{current.name}'. If you are attempting to "
                "use a custom field, be sure to append the '__c' after the custom field name. "
                "Please reference your WSDL or the describe call for the appropriate names.",
                path.pos,
                "INVALID_FIELD",
            )
        return Resolved(path, steps, f, f.name, False)

    # ---- values ------------------------------------------------------------------------------

    def value(self, r: Resolved, rec: Record | None, lookup: Lookup) -> Any:
        target_obj: SObject | None = None
        for step in r.steps:
            if rec is None:
                return None
            ref = rec.get(step.name)
            if ref is None:
                return None
            found = lookup(ref)
            if found is None:
                return None
            target_obj, rec = found
        if rec is None:
            return None
        if r.name_entity:
            return _name_value(target_obj, rec, r.final_name)  # type: ignore[arg-type]
        return rec.get(r.final_name)

    def _sort_key(self, r: Resolved, lookup: Lookup) -> Callable[[Record], Any]:
        def key(rec: Record) -> Any:
            v = self.value(r, rec, lookup)
            return v.casefold() if isinstance(v, str) else v

        return key

    # ---- conditions --------------------------------------------------------------------------

    def _condition(
        self, obj: SObject, node: Any, alias: str, lookup: Lookup, text: str
    ) -> tuple[Callable[[Record], bool], Sql | None]:
        """The Python predicate for a WHERE node, and its SQL (None: SQL can't narrow it)."""
        if isinstance(node, Logical):
            compiled = [self._condition(obj, n, alias, lookup, text) for n in node.items]
            parts = [p for p, _ in compiled]
            sqls = [s for _, s in compiled]
            if node.op == "AND":
                known = [s for s in sqls if s is not None]
                sql = _chained("AND", known) if known else None
                if sql is not None and len(known) < len(sqls):
                    sql.exact = False  # a superset: Python checks the parts SQL can't
                sql = _bounded(sql)
                return (lambda rec: all(p(rec) for p in parts)), sql
            sql = None if any(s is None for s in sqls) else _chained("OR", sqls)  # type: ignore[arg-type]
            return (lambda rec: any(p(rec) for p in parts)), _bounded(sql)
        if isinstance(node, Not):
            inner, inner_sql = self._condition(obj, node.item, alias, lookup, text)
            # NOT of a superset is no superset: only an exact inner condition can be negated.
            sql = _negate(inner_sql) if inner_sql is not None and inner_sql.exact else None
            return (lambda rec: not inner(rec)), _bounded(sql)
        assert isinstance(node, Comparison)
        return self._comparison(obj, node, alias, lookup, text)

    def _comparison(
        self, obj: SObject, node: Comparison, alias: str, lookup: Lookup, text: str
    ) -> tuple[Callable[[Record], bool], Sql | None]:
        """A comparison as a test on the field's raw value, and as SQL over any path."""
        r = self.resolve(obj, node.path, alias)
        if r.final is not None and r.final.type == "textarea" and r.final.length > 255:
            raise SOQLError(
                f"field '{r.final.name}' can not be filtered in a query call",
                node.path.pos,
                "INVALID_FIELD",
            )
        test, leaf = self._tests(obj, node, r, lookup, text)
        sql: Sql | None = None
        if leaf is not None:
            sql = leaf(q(r.final_name)) if not r.steps else self._path_sql(r, leaf, test)
        return (lambda rec: test(self.value(r, rec, lookup))), _bounded(sql)

    def _tests(
        self, obj: SObject, node: Comparison, r: Resolved, lookup: Lookup, text: str
    ) -> tuple[Callable[[Any], bool], Callable[[str], Sql] | None]:
        """The test on a raw field value, and a builder of the same test as SQL on a column
        (None where SQL can't say it)."""
        kind = r.kind
        op = node.op
        if isinstance(node.value, Query):  # semi-join
            sub = node.value
            plan = self.plan(sub, False, lookup, text)
            cols = [c for c in plan.columns if isinstance(c, Resolved)]
            if len(cols) != 1 or plan.counts or plan.count_only:
                raise SOQLError("semi join sub-selects must select exactly one field", sub.pos)
            if cols[0].kind not in ("id", "reference") or kind not in ("id", "reference"):
                raise SOQLError(
                    "semi join sub-selects can only compare ID fields", sub.pos, "INVALID_FIELD"
                )
            found = {self.value(cols[0], rec, lookup) for rec in self.execute(plan)}
            found.discard(None)
            found_json = json.dumps(sorted(found))

            def members(column: str) -> Sql:
                return Sql(
                    f"({column} IS NOT NULL AND {column} IN (SELECT value FROM json_each(?)))",
                    [found_json],
                    True,
                )

            if op == "NOTIN":
                return (lambda v: v not in found), (lambda c: _negate(members(c)))
            return (lambda v: v in found), members

        if op in ("IN", "NOTIN", "INCLUDES", "EXCLUDES"):
            lits = node.value
            assert isinstance(lits, list)
            if op in ("INCLUDES", "EXCLUDES"):
                if kind != "multipicklist":
                    raise SOQLError(
                        "INCLUDES/EXCLUDES only apply to multi-select picklists",
                        node.pos,
                        "INVALID_FIELD",
                    )
                wanted = [
                    {p.strip().casefold() for p in lit.value.split(";")}
                    for lit in lits
                    if lit.kind == "string"
                ]

                def includes(v: Any) -> bool:
                    have = {p.casefold() for p in v.split(";")} if v else set()
                    return any(w <= have for w in wanted)

                # Set containment over ';'-lists: left to Python.
                return (includes if op == "INCLUDES" else (lambda v: not includes(v))), None
            values = [self._literal_value("=", kind, r, lit) for lit in lits]
            tests = [_python_test("=", kind, v) for v in values]
            if op == "IN":
                return (lambda v: any(t(_norm(kind, v)) for t in tests)), (
                    lambda c: _in_sql(c, kind, values)
                )
            return (lambda v: not any(t(_norm(kind, v)) for t in tests)), (
                lambda c: _negate(_in_sql(c, kind, values))
            )

        lit = node.value
        assert isinstance(lit, Literal)
        if op == "LIKE":
            if kind not in TEXT_KINDS and kind not in ("id", "reference"):
                raise SOQLError(
                    f"invalid operator on {kind} field: LIKE", node.pos, "INVALID_FIELD"
                )
            pattern = like_pattern(lit.value)
            raw = lit.value
            return (lambda v: isinstance(v, str) and pattern.fullmatch(v) is not None), (
                lambda c: Sql(f"soql_like(?, {c})", [raw], True)
            )
        value = self._literal_value(op, kind, r, lit)
        test = _python_test(op, kind, value)
        return (lambda v: test(_norm(kind, v))), (lambda c: _leaf_sql(c, op, kind, value))

    def _path_sql(
        self, r: Resolved, leaf: Callable[[str], Sql], test: Callable[[Any], bool]
    ) -> Sql | None:
        """A filter on a parent field (``Account.Owner.Name``, ``What.Type``) as nested
        ``IN (SELECT "Id" ...)``; a record whose chain of parents breaks has the value None,
        so it matches exactly when the test accepts None, as in Python."""

        def chain(index: int, outer: str, with_leaf: bool) -> Sql:
            step = r.steps[index]
            ref = f"{outer}{q(step.name)}"
            alias = f"_r{index}"
            names = step.reference_to if step.polymorphic else step.reference_to[:1]
            pieces: list[Sql] = []
            for target in filter(None, (self.meta.get(n) for n in names)):
                cond: Sql | None = None
                if index + 1 < len(r.steps):
                    cond = chain(index + 1, f"{alias}.", with_leaf)
                elif with_leaf:
                    column = _name_column(target, r.final_name) if r.name_entity else r.final_name
                    if column is None:  # a Name-entity value that is the same for every row
                        if not test(_name_value(target, {}, r.final_name)):
                            continue
                    else:
                        cond = leaf(f"{alias}.{q(column)}")
                sub = f'SELECT "Id" FROM {q(target.name)} AS {alias}'
                if cond is not None:
                    sub += f" WHERE {cond.text}"
                pieces.append(
                    Sql(
                        f"({ref} IS NOT NULL AND {ref} IN ({sub}))",
                        cond.params if cond else [],
                        cond.exact if cond else True,
                        (cond.depth if cond else 0) + 2,
                    )
                )
            return _chained("OR", pieces) if pieces else Sql("(0)", [], True)

        matched = chain(0, "", True)
        if not test(None):
            return matched
        resolved = chain(0, "", False)
        return _chained("OR", [matched, _negate(resolved)])

    def _literal_value(self, op: str, kind: str, r: Resolved, lit: Literal) -> LiteralValue:
        """What a literal means for a field: null, one point, or a [lo, hi) span of time."""
        name = r.final_name
        if lit.kind == "null":
            return LiteralValue("null", None)
        if kind in TEXT_KINDS:
            if lit.kind != "string":
                raise _type_error(name, "string", lit, quoted=True)
            return LiteralValue("point", lit.value.replace("\x00", "").casefold())
        if kind in ("id", "reference"):
            if lit.kind != "string":
                raise _type_error(name, "id", lit, quoted=True)
            point = ids.normalize(lit.value.replace("\x00", ""))
            if point is None:
                raise SOQLError(
                    f"invalid ID field: {lit.value}", lit.pos, "INVALID_QUERY_FILTER_OPERATOR"
                )
            return LiteralValue("point", point)
        if kind in NUMBER_TYPES:
            if lit.kind != "number":
                raise _type_error(name, "double" if kind != "int" else "int", lit)
            return LiteralValue("point", lit.value)
        if kind == "boolean":
            if lit.kind != "bool":
                raise _type_error(name, "boolean", lit)
            if op not in ("=", "!="):
                raise SOQLError(
                    f"invalid operator on boolean field: {op}", lit.pos, "INVALID_FIELD"
                )
            return LiteralValue("point", lit.value)
        if kind == "date":
            if lit.kind == "date":
                return LiteralValue("span", (lit.value, lit.value + dt.timedelta(days=1)))
            if lit.kind == "dateliteral":
                return LiteralValue("span", self._literal_range(lit))
            raise _type_error(name, "date", lit)
        if kind == "datetime":
            if lit.kind == "datetime":
                return LiteralValue("point", lit.value)
            if lit.kind == "dateliteral":
                a, b = self._literal_range(lit)
                return LiteralValue(
                    "span",
                    (
                        dt.datetime.combine(a, dt.time(), UTC),
                        dt.datetime.combine(b, dt.time(), UTC),
                    ),
                )
            raise _type_error(name, "dateTime", lit)
        raise SOQLError(f"cannot filter on field {name}", lit.pos, "INVALID_FIELD")

    def _literal_range(self, lit: Literal) -> tuple[dt.date, dt.date]:
        try:
            return date_range(*lit.value, today=self.today())
        except DateRangeError:
            # Salesforce documents no error code for this. An out-of-range literal is a bad
            # literal, like an impossible date (2024-13-01), which a real org rejects as
            # MALFORMED_QUERY while reading the query, before any field check -- so it is
            # MALFORMED_QUERY here too, not INVALID_QUERY_FILTER_OPERATOR (which a real org
            # uses for a well-formed value that doesn't suit the field, like a bad ID).
            raise SOQLError(
                f"date literal {lit.text} is out of range: Salesforce dates run from "
                "1700-01-01 to 4000-12-31",
                lit.pos,
            ) from None

    # ---- rendering ---------------------------------------------------------------------------

    def _attributes(self, type_name: str, record_id: str, version: str) -> dict[str, str]:
        return {
            "type": type_name,
            "url": f"/services/data/v{version}/sobjects/{type_name}/{record_id}",
        }

    def _put(
        self, out: dict[str, Any], r: Resolved, rec: Record, lookup: Lookup, version: str
    ) -> None:
        node = out
        current: Record | None = rec
        for step in r.steps:
            key = step.relationship_name or step.name
            ref = current.get(step.name) if current is not None else None
            found = lookup(ref) if ref else None
            if found is None:
                if key not in node:
                    node[key] = None
                return
            target_obj, current = found
            child = node.get(key)
            if child is None:
                type_name = "Name" if step.polymorphic else target_obj.name
                child = {
                    "attributes": {
                        "type": type_name,
                        "url": f"/services/data/v{version}/sobjects/"
                        f"{target_obj.name}/{current['Id']}",
                    }
                }
                node[key] = child
            node = child
        if r.name_entity:
            node[r.final_name] = to_json(None, _name_value(target_obj, current, r.final_name))  # type: ignore[arg-type]
        else:
            node[r.final_name] = to_json(r.final, current.get(r.final_name) if current else None)

    def _render_children(
        self, col: ChildPlan, rec: Record, lookup: Lookup, version: str
    ) -> dict[str, Any] | None:
        plan = col.plan
        children = self._children_by_parent(col, lookup).get(rec["Id"], [])
        if plan.where is not None:
            children = [c for c in children if plan.where(c)]
        for key, desc, nulls_last in reversed(plan.order):
            present = [c for c in children if key(c) is not None]
            missing = [c for c in children if key(c) is None]
            present.sort(key=key, reverse=desc)
            children = present + missing if nulls_last else missing + present
        start = plan.offset or 0
        children = children[start : None if plan.limit is None else start + plan.limit]
        if not children:
            return None
        return {
            "totalSize": len(children),
            "done": True,
            "records": [self.render(plan, c, lookup, version) for c in children],
        }

    def _children_by_parent(self, col: ChildPlan, lookup: Lookup) -> dict[str, list[Record]]:
        """The subquery's candidate children, read once per query and grouped by parent.

        The subquery's WHERE narrows the read in SQLite; the Python filter still runs per
        parent, so a superset is fine. Grouping makes a page of parents linear, not
        parents x children.
        """
        key = f"__children__{col.child.name}.{col.via.name}"
        cached = lookup.cache.get(key)
        if cached is None:
            sql = col.plan.where_sql
            grouped: dict[str, list[Record]] = {}
            for child in self.org.select(
                col.child, sql.text if sql else None, sql.params if sql else None
            ):
                grouped.setdefault(child.get(col.via.name), []).append(child)  # type: ignore[arg-type]
            cached = grouped  # type: ignore[assignment]
            lookup.cache[key] = cached  # type: ignore[assignment]
        return cached  # type: ignore[return-value]

    def aggregate(self, plan: Plan, records: list[Record], lookup: Lookup) -> dict[str, Any]:
        row: dict[str, Any] = {"attributes": {"type": "AggregateResult"}}
        for r, alias in plan.counts:
            row[alias] = sum(
                1 for rec in records if r is None or self.value(r, rec, lookup) is not None
            )
        return row


def _name_value(obj: SObject, rec: Record, name: str) -> Any:
    if name == "Type":
        return obj.name
    if name == "Name":
        nf = obj.name_field
        if nf is not None:
            return rec.get(nf.name)
        return rec.get("Subject")
    return rec.get(name) if name in obj.fields else None


def _name_column(obj: SObject, name: str) -> str | None:
    """The column holding a polymorphic Name-entity field on ``obj`` (None: not a column)."""
    if name == "Type":
        return None
    if name == "Name":
        nf = obj.name_field
        if nf is not None:
            return nf.name
        return "Subject" if "Subject" in obj.fields else None
    return name if name in obj.fields else None


def _norm(kind: str, v: Any) -> Any:
    if isinstance(v, str) and kind not in ("id", "reference"):
        return v.casefold()
    return v


@dataclass
class LiteralValue:
    kind: str  # null | point | span
    value: Any


def _python_test(op: str, kind: str, value: LiteralValue) -> Callable[[Any], bool]:
    if value.kind == "null":
        if op == "=":
            return lambda v: v is None
        if op == "!=":
            return lambda v: v is not None
        return lambda v: False
    if value.kind == "span":
        lo, hi = value.value
        spans = {
            "=": lambda v: v is not None and lo <= v < hi,
            "!=": lambda v: v is None or not (lo <= v < hi),
            "<": lambda v: v is not None and v < lo,
            "<=": lambda v: v is not None and v < hi,
            ">": lambda v: v is not None and v >= hi,
            ">=": lambda v: v is not None and v >= lo,
        }
        return spans[op]
    point = value.value
    tests = {
        "=": lambda v: v is not None and v == point,
        "!=": lambda v: v is None or v != point,
        "<": lambda v: v is not None and v < point,
        "<=": lambda v: v is not None and v <= point,
        ">": lambda v: v is not None and v > point,
        ">=": lambda v: v is not None and v >= point,
    }
    return tests[op]


def _db_param(kind: str, value: Any) -> Any:
    """A literal's value as the org stores it (ISO text for dates, 0/1 for booleans)."""
    if isinstance(value, dt.datetime):
        return format_datetime_z(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def _leaf_sql(column: str, op: str, kind: str, value: LiteralValue) -> Sql:
    """One comparison as SQL that is never NULL (so NOT and OR behave as in Python)."""
    c = column
    if value.kind == "null":
        return Sql({"=": f"({c} IS NULL)", "!=": f"({c} IS NOT NULL)"}.get(op, "(0)"), [], True)
    if value.kind == "span":
        lo, hi = (_db_param(kind, v) for v in value.value)
        spans = {
            "=": (f"({c} IS NOT NULL AND {c} >= ? AND {c} < ?)", [lo, hi]),
            "!=": (f"({c} IS NULL OR {c} < ? OR {c} >= ?)", [lo, hi]),
            "<": (f"({c} IS NOT NULL AND {c} < ?)", [lo]),
            "<=": (f"({c} IS NOT NULL AND {c} < ?)", [hi]),
            ">": (f"({c} IS NOT NULL AND {c} >= ?)", [hi]),
            ">=": (f"({c} IS NOT NULL AND {c} >= ?)", [lo]),
        }
        text, params = spans[op]
        return Sql(text, params, True)
    point = _db_param(kind, value.value)
    lhs, collate = c, ""
    if kind in TEXT_KINDS:
        if op in ("=", "!=") and point.isascii():
            collate = " COLLATE NOCASE"  # the NOCASE indexes serve it (see the module doc)
        else:
            lhs = f"soql_fold({c})"
    if op == "!=":
        return Sql(f"({c} IS NULL OR {lhs} != ?{collate})", [point], True)
    return Sql(f"({c} IS NOT NULL AND {lhs} {op} ?{collate})", [point], True)


def _in_sql(column: str, kind: str, values: list[LiteralValue]) -> Sql:
    """``col IN (...)`` as one bound JSON list per kind of value (no parameter per key)."""
    c = column
    pieces: list[Sql] = []
    points = [_db_param(kind, v.value) for v in values if v.kind == "point"]
    if kind in TEXT_KINDS:
        plain = [p for p in points if p.isascii()]
        other = [p for p in points if not p.isascii()]
        if plain:
            pieces.append(
                Sql(
                    f"({c} IS NOT NULL AND {c} COLLATE NOCASE IN (SELECT value FROM json_each(?)))",
                    [json.dumps(plain)],
                    True,
                )
            )
        if other:
            pieces.append(
                Sql(
                    f"({c} IS NOT NULL AND soql_fold({c}) IN (SELECT value FROM json_each(?)))",
                    [json.dumps(other)],
                    True,
                )
            )
    elif points:
        pieces.append(
            Sql(
                f"({c} IS NOT NULL AND {c} IN (SELECT value FROM json_each(?)))",
                [json.dumps(points)],
                True,
            )
        )
    pieces += [_leaf_sql(c, "=", kind, v) for v in values if v.kind != "point"]
    return _chained("OR", pieces) if pieces else Sql("(0)", [], True)


def _negate(sql: Sql) -> Sql:
    if sql.text.startswith("(NOT ") and sql.exact:  # NOT NOT x is x: leaves are two-valued
        inner = sql.text[5:-1]
        if _balanced_parens(inner):
            return Sql(inner, sql.params, True, max(1, sql.depth - 1))
    return Sql(f"(NOT {sql.text})", sql.params, sql.exact, sql.depth + 1)


def _balanced_parens(text: str) -> bool:
    """Whether text is one complete parenthesized expression (quotes never occur: all bound)."""
    level = 0
    for i, c in enumerate(text):
        level += c == "("
        level -= c == ")"
        if level == 0 and i < len(text) - 1:
            return False
    return level == 0 and text.startswith("(")


def _bounded(sql: Sql | None) -> Sql | None:
    """Too deep for SQLite's parser: leave it to Python (still exact, just not pushed down)."""
    return sql if sql is None or sql.depth <= MAX_SQL_DEPTH else None


def _order_sql(
    r: Resolved, desc: bool, nulls_last: bool, so_far: list[str] | None
) -> list[str] | None:
    """ORDER BY terms that sort exactly like the Python keys, or None if SQL can't."""
    if so_far is None or r.steps or r.name_entity:
        return None
    c = q(r.final_name)
    value = f"soql_fold({c})" if r.kind in TEXT_KINDS or r.kind in ("id", "reference") else c
    return [
        *so_far,
        f"({c} IS NULL) {'ASC' if nulls_last else 'DESC'}",
        value + (" DESC" if desc else ""),
    ]


def _bad_relationship(part: str, pos: int) -> SOQLError:
    return SOQLError(
        f"Didn't understand relationship '{part}' in field path. If you are attempting to use a "
        "custom relationship, be sure to append the '__r' after the custom relationship name. "
        "Please reference your WSDL or the describe call for the appropriate names.",
        pos,
        "INVALID_FIELD",
    )


def _type_error(name: str, type_name: str, lit: Literal, quoted: bool = False) -> SOQLError:
    how = "should be enclosed in quotes" if quoted else "should not be enclosed in quotes"
    return SOQLError(
        f"value of filter criterion for field '{name}' must be of type {type_name} and {how}",
        lit.pos,
        "INVALID_FIELD",
    )


def malformed(text: str, exc: SOQLError) -> SFError:
    """Salesforce's query error message: the query line, a caret, row/column and the reason."""
    pos = max(0, min(exc.pos, len(text)))
    row = text.count("\n", 0, pos) + 1
    line_start = text.rfind("\n", 0, pos) + 1
    line_end = text.find("\n", pos)
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    col = pos - line_start + 1
    message = f"\n{line}\n{' ' * (col - 1)}^\nERROR at Row:{row}:Column:{col}\n{exc.message}"
    return SFError(exc.code, message, with_fields=False)


# ---- server-side cursors (queryMore) ---------------------------------------------------------


@dataclass
class Cursor:
    plan: Plan
    records: list[Record]
    lookup: Lookup
    batch: int
    position: int = 0
    cursor_id: str = field(
        default_factory=lambda: "01g" + ids.INSTANCE + secrets.token_hex(5).upper()
    )


class Cursors:
    """Open query cursors, least recently used evicted first (like a real org's limit)."""

    def __init__(self, capacity: int = 200) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, Cursor] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, cursor: Cursor) -> None:
        with self._lock:
            self._items[cursor.cursor_id] = cursor
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def get(self, cursor_id: str) -> Cursor | None:
        with self._lock:
            cursor = self._items.get(cursor_id)
            if cursor is not None:
                self._items.move_to_end(cursor_id)
            return cursor

    def drop(self, cursor_id: str) -> None:
        with self._lock:
            self._items.pop(cursor_id, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
