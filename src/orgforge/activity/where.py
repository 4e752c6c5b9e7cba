"""A safe subset of SOQL WHERE, parsed into a tree and translated to SQLAlchemy.

Grammar (keywords case-insensitive, fields case-sensitive like Salesforce API names)::

    expr       := term (OR term)*
    term       := factor (AND factor)*
    factor     := NOT factor | '(' expr ')' | comparison
    comparison := FIELD op value | FIELD [NOT] IN '(' value (',' value)* ')'
                | FIELD [NOT] LIKE 'pattern'
    op         := = | != | <> | < | <= | > | >=
    value      := 'string' | number | YYYY-MM-DD | TRUE | FALSE | NULL

Fields are the Opportunity's (``StageName``, ``Amount``, ``CloseDate``, ``Type``, …). The text
is never pasted into SQL: every value becomes a bound parameter. For a Salesforce source the
same text is passed through as SOQL once it has parsed here, so a bad filter fails before any
call. Errors say what is wrong, where (column in the filter, with a caret) and how to fix it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, not_, or_
from sqlalchemy.sql.elements import ColumnElement

from orgforge.errors import UsageError
from orgforge.schema import salesforce as sf

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*')
      | (?P<date>\d{4}-\d{2}-\d{2}(?![\d:T]))
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op><=|>=|!=|<>|=|<|>)
      | (?P<punct>[(),])
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<bad>\S)
    )""",
    re.VERBOSE,
)
KEYWORDS = {"AND", "OR", "NOT", "IN", "LIKE", "TRUE", "FALSE", "NULL"}


class FilterError(UsageError):
    default_hint = (
        "Use SOQL WHERE syntax over Opportunity fields, e.g. "
        "\"StageName IN ('Prospecting','Qualification') AND Amount > 50000\"."
    )


@dataclass(frozen=True)
class Token:
    kind: str  # string date number op punct word end
    text: str
    pos: int  # 0-based column in the filter

    @property
    def upper(self) -> str:
        return self.text.upper()


@dataclass(frozen=True)
class Compare:
    field: str
    op: str  # = != < <= > >= in notin like notlike
    value: Any


@dataclass(frozen=True)
class BoolOp:
    op: str  # and | or
    parts: tuple


@dataclass(frozen=True)
class Not:
    part: Any


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:  # only trailing whitespace left
            break
        kind = match.lastgroup or "bad"
        start = match.start(kind)
        value = match.group(kind)
        if kind == "bad":
            hint = "Quote strings with single quotes: StageName = 'Prospecting'."
            if value == '"':
                raise FilterError(_where(text, start, "double quotes are not SOQL"), hint)
            raise FilterError(_where(text, start, f"unexpected character {value!r}"), hint)
        tokens.append(Token(kind, value, start))
        position = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def _where(text: str, pos: int, message: str) -> str:
    near = text[pos : pos + 24].strip()
    place = f"near {near!r}" if near else "at the end"
    return f"--where: {message} at column {pos + 1} ({place}) in: {text}"


class _Parser:
    def __init__(self, text: str, fields: dict[str, sf.Field]) -> None:
        self.text = text
        self.fields = fields
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def fail(self, message: str, token: Token | None = None, hint: str | None = None):
        token = token or self.tok
        raise FilterError(_where(self.text, token.pos, message), hint)

    def take(self) -> Token:
        token = self.tok
        self.i += 1
        return token

    def keyword(self, word: str) -> bool:
        if self.tok.kind == "word" and self.tok.upper == word:
            self.i += 1
            return True
        return False

    def parse(self):
        if self.tok.kind == "end":
            self.fail("the filter is empty")
        node = self.expr()
        if self.tok.kind != "end":
            self.fail(f"expected AND, OR or the end, found {self.tok.text!r}")
        return node

    def expr(self):
        parts = [self.term()]
        while self.keyword("OR"):
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else BoolOp("or", tuple(parts))

    def term(self):
        parts = [self.factor()]
        while self.keyword("AND"):
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts))

    def factor(self):
        if self.keyword("NOT"):
            return Not(self.factor())
        if self.tok.kind == "punct" and self.tok.text == "(":
            self.take()
            node = self.expr()
            if not (self.tok.kind == "punct" and self.tok.text == ")"):
                self.fail(f"expected ')', found {self.tok.text or 'the end'!r}")
            self.take()
            return node
        return self.comparison()

    def comparison(self) -> Compare:
        token = self.tok
        if token.kind != "word" or token.upper in KEYWORDS:
            self.fail(f"expected a field name, found {token.text or 'the end'!r}")
        self.take()
        name = token.text
        if name not in self.fields:
            close = [f for f in self.fields if f.lower() == name.lower()]
            hint = (
                f"Did you mean {close[0]}? Field names are case-sensitive API names."
                if close
                else f"Opportunity fields: {', '.join(self.fields)}."
            )
            self.fail(f"unknown field {name!r}", token, hint)
        field = self.fields[name]
        negate = self.keyword("NOT")
        if self.keyword("IN"):
            return Compare(name, "notin" if negate else "in", self.value_list(field))
        if self.keyword("LIKE"):
            value_token = self.tok
            value = self.value(field)
            if not isinstance(value, str):
                self.fail("LIKE needs a quoted pattern such as 'Acme%'", value_token)
            return Compare(name, "notlike" if negate else "like", value)
        if negate:
            self.fail("NOT here must be followed by IN or LIKE")
        if self.tok.kind != "op":
            self.fail(f"expected an operator (=, !=, <, <=, >, >=, IN, LIKE) after {name}")
        op = self.take().text
        op = "!=" if op == "<>" else op
        value_token = self.tok
        value = self.value(field)
        if value is None and op not in ("=", "!="):
            self.fail(f"NULL can only be compared with = or !=, not {op}", value_token)
        return Compare(name, op, value)

    def value_list(self, field: sf.Field) -> tuple:
        if not (self.tok.kind == "punct" and self.tok.text == "("):
            self.fail("IN needs a list in parentheses: IN ('A', 'B')")
        self.take()
        values = [self.value(field)]
        while self.tok.kind == "punct" and self.tok.text == ",":
            self.take()
            values.append(self.value(field))
        if not (self.tok.kind == "punct" and self.tok.text == ")"):
            self.fail(f"expected ',' or ')' in the IN list, found {self.tok.text or 'the end'!r}")
        self.take()
        return tuple(values)

    def value(self, field: sf.Field) -> Any:
        token = self.take()
        kind = field.type
        if token.kind == "word" and token.upper == "NULL":
            return None
        if token.kind == "word" and token.upper in ("TRUE", "FALSE"):
            if kind != "boolean":
                self.fail(f"{field.name} is not a checkbox; TRUE/FALSE don't apply", token)
            return int(token.upper == "TRUE")
        if kind == "boolean":
            self.fail(f"{field.name} is a checkbox: compare it with TRUE or FALSE", token)
        if token.kind == "string":
            if kind in ("currency", "percent", "double", "int", "date", "datetime"):
                self.fail(
                    f"{field.name} is a {kind} field: don't quote the value",
                    token,
                    "Numbers and dates go unquoted: Amount > 50000, CloseDate < 2026-12-31.",
                )
            return token.text[1:-1].replace("\\'", "'").replace("\\\\", "\\")
        if token.kind == "number":
            if kind not in ("currency", "percent", "double", "int"):
                self.fail(f"{field.name} is a {kind} field: quote the value", token)
            return float(token.text) if "." in token.text else int(token.text)
        if token.kind == "date":
            if kind not in ("date", "datetime"):
                self.fail(f"{field.name} is a {kind} field, not a date", token)
            try:
                dt.date.fromisoformat(token.text)
            except ValueError:
                self.fail(f"{token.text} is not a real date", token)
            return token.text
        self.fail(f"expected a value, found {token.text or 'the end'!r}", token)


def opportunity_fields() -> dict[str, sf.Field]:
    obj = sf.get("Opportunity")
    fields = {f.name: f for f in obj.fields}
    fields["Id"] = sf.Field("Id", "string")  # the local key stands in for the record Id
    return fields


def parse(text: str) -> Any:
    """Parse a filter over Opportunity fields; FilterError (exit 2) on any mistake."""
    return _Parser(text, opportunity_fields()).parse()


def to_sql(node: Any, table: Any) -> ColumnElement:
    """The SQLAlchemy condition for a parsed filter on the world's rec_Opportunity table."""
    if isinstance(node, BoolOp):
        parts = [to_sql(p, table) for p in node.parts]
        return and_(*parts) if node.op == "and" else or_(*parts)
    if isinstance(node, Not):
        return not_(to_sql(node.part, table))
    column = table.c["key" if node.field == "Id" else node.field]
    op, value = node.op, node.value
    if op == "in":
        real = [v for v in value if v is not None]
        cond = column.in_(real)
        return or_(cond, column.is_(None)) if None in value else cond
    if op == "notin":
        real = [v for v in value if v is not None]
        cond = column.not_in(real)
        return and_(cond, column.is_not(None)) if None in value else cond
    if op in ("like", "notlike"):
        cond = column.like(value)  # SOQL LIKE is case-insensitive; SQLite's LIKE is too (ASCII)
        return not_(cond) if op == "notlike" else cond
    if value is None:
        return column.is_(None) if op == "=" else column.is_not(None)
    return {
        "=": column == value,
        "!=": column != value,
        "<": column < value,
        "<=": column <= value,
        ">": column > value,
        ">=": column >= value,
    }[op]


def condition(text: str, table: Any) -> ColumnElement:
    return to_sql(parse(text), table)
