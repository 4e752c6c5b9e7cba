"""SOQL: a tokenizer and a recursive-descent parser for the subset the sandbox serves.

Grammar (keywords are case-insensitive)::

    query      := SELECT items FROM name [alias] [WHERE cond] [ORDER BY order (',' order)*]
                  [LIMIT int] [OFFSET int] [FOR (VIEW | REFERENCE | UPDATE)]
    items      := item (',' item)*
    item       := COUNT '(' [path] ')' [alias] | '(' query ')' | path
    path       := name ('.' name)*
    cond       := term (AND term)* | term (OR term)*   -- mixing AND/OR needs parentheses
    term       := NOT term | '(' cond ')' | path op value | path [NOT] IN '(' values | query ')'
                  | path LIKE string | path (INCLUDES | EXCLUDES) '(' strings ')'
    op         := '=' | '!=' | '<>' | '<' | '<=' | '>' | '>='
    value      := string | number | date | datetime | NULL | TRUE | FALSE
                  | DATE_LITERAL [':' int]      -- TODAY, LAST_N_DAYS:7, THIS_MONTH, ...

Errors raise :class:`SOQLError` with the position of the offending token; the query engine
turns them into Salesforce's ``MALFORMED_QUERY`` message format (query line, caret, row/column).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from orgforge.sandbox.salesforce.values import parse_date, parse_datetime


class SOQLError(Exception):
    def __init__(self, message: str, pos: int, code: str = "MALFORMED_QUERY") -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos
        self.code = code


# ---- tokens ----------------------------------------------------------------------------------


@dataclass
class Token:
    kind: str  # IDENT STRING NUMBER DATE DATETIME OP LPAREN RPAREN COMMA DOT COLON EOF
    value: Any
    pos: int
    text: str

    def is_kw(self, *words: str) -> bool:
        return self.kind == "IDENT" and self.value.upper() in words


_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_LIKE_ESCAPES = {"%": "\x00%", "_": "\x00_"}  # marked; LIKE reads them as literal % and _


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        start = i
        if c.isalpha() or c == "_":
            while i < n and (text[i].isalnum() or text[i] == "_"):
                i += 1
            word = text[start:i]
            tokens.append(Token("IDENT", word, start, word))
            continue
        if c == "'":
            i += 1
            out = []
            while True:
                if i >= n:
                    raise SOQLError("unterminated string literal", start)
                ch = text[i]
                if ch == "\\":
                    if i + 1 >= n:
                        raise SOQLError("unterminated string literal", start)
                    nxt = text[i + 1]
                    if nxt in _ESCAPES:
                        out.append(_ESCAPES[nxt])
                    elif nxt in _LIKE_ESCAPES:
                        out.append(_LIKE_ESCAPES[nxt])  # kept escaped; only LIKE unescapes
                    else:
                        raise SOQLError(
                            f"Invalid string literal '{text[start : i + 2]}'. Illegal "
                            "character sequence '\\" + nxt + "' in string literal.",
                            start,
                        )
                    i += 2
                    continue
                if ch == "'":
                    i += 1
                    break
                out.append(ch)
                i += 1
            tokens.append(Token("STRING", "".join(out), start, text[start:i]))
            continue
        if c.isdigit() or (c in "+-" and i + 1 < n and text[i + 1].isdigit()):
            tok = _number_or_date(text, i)
            tokens.append(tok)
            i = tok.pos + len(tok.text)
            continue
        two = text[i : i + 2]
        if two in ("!=", "<>", "<=", ">="):
            tokens.append(Token("OP", "!=" if two == "<>" else two, start, two))
            i += 2
            continue
        if c in "=<>":
            tokens.append(Token("OP", c, start, c))
            i += 1
            continue
        simple = {"(": "LPAREN", ")": "RPAREN", ",": "COMMA", ".": "DOT", ":": "COLON"}
        if c in simple:
            tokens.append(Token(simple[c], c, start, c))
            i += 1
            continue
        raise SOQLError(f"unexpected token: '{c}'", start)
    tokens.append(Token("EOF", None, n, ""))
    return tokens


def _number_or_date(text: str, i: int) -> Token:
    n = len(text)
    j = i
    if text[j] in "+-":
        j += 1
    digits_start = j
    while j < n and text[j].isdigit():
        j += 1
    # A date or datetime: 4 digits then '-'
    if j - digits_start == 4 and j < n and text[j] == "-" and text[i] not in "+-":
        k = j
        while k < n and (text[k].isalnum() or text[k] in "-:.+"):
            k += 1
        word = text[i:k]
        if "T" in word or "t" in word:
            stamp = parse_datetime(word)
            if stamp is None or not (word.endswith("Z") or word[-6] in "+-"):
                raise SOQLError(f"line 1:{i} no viable alternative at character '{word}'", i)
            return Token("DATETIME", stamp, i, word)
        day = parse_date(word)
        if day is None:
            raise SOQLError(f"unexpected token: '{word}'", i)
        return Token("DATE", day, i, word)
    is_float = False
    if j < n and text[j] == "." and j + 1 < n and text[j + 1].isdigit():
        is_float = True
        j += 1
        while j < n and text[j].isdigit():
            j += 1
    word = text[i:j]
    if j < n and (text[j].isalpha() or text[j] == "_"):
        raise SOQLError(f"unexpected token: '{word}{text[j]}'", i)
    return Token("NUMBER", float(word) if is_float else int(word), i, word)


# ---- AST -------------------------------------------------------------------------------------


@dataclass
class Path:
    parts: list[str]
    pos: int

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass
class Count:
    path: Path | None
    alias: str | None
    pos: int


@dataclass
class Literal:
    kind: str  # string number date datetime dateliteral null bool
    value: Any
    pos: int
    text: str


@dataclass
class Comparison:
    path: Path
    op: str  # = != < <= > >= LIKE IN NOTIN INCLUDES EXCLUDES
    value: Literal | list[Literal] | Query
    pos: int


@dataclass
class Logical:
    op: str  # AND | OR
    items: list[Any]


@dataclass
class Not:
    item: Any


@dataclass
class Order:
    path: Path
    desc: bool
    nulls_last: bool


@dataclass
class Query:
    items: list[Path | Count | Query]
    sobject: str
    sobject_pos: int
    alias: str | None = None
    where: Any = None
    order: list[Order] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None
    pos: int = 0


DATE_LITERALS = {
    "YESTERDAY",
    "TODAY",
    "TOMORROW",
    "LAST_WEEK",
    "THIS_WEEK",
    "NEXT_WEEK",
    "LAST_MONTH",
    "THIS_MONTH",
    "NEXT_MONTH",
    "LAST_90_DAYS",
    "NEXT_90_DAYS",
    "THIS_QUARTER",
    "LAST_QUARTER",
    "NEXT_QUARTER",
    "THIS_YEAR",
    "LAST_YEAR",
    "NEXT_YEAR",
    "THIS_FISCAL_QUARTER",
    "LAST_FISCAL_QUARTER",
    "NEXT_FISCAL_QUARTER",
    "THIS_FISCAL_YEAR",
    "LAST_FISCAL_YEAR",
    "NEXT_FISCAL_YEAR",
}
DATE_LITERALS_N = {
    "LAST_N_DAYS",
    "NEXT_N_DAYS",
    "N_DAYS_AGO",
    "LAST_N_WEEKS",
    "NEXT_N_WEEKS",
    "N_WEEKS_AGO",
    "LAST_N_MONTHS",
    "NEXT_N_MONTHS",
    "N_MONTHS_AGO",
    "LAST_N_QUARTERS",
    "NEXT_N_QUARTERS",
    "N_QUARTERS_AGO",
    "LAST_N_YEARS",
    "NEXT_N_YEARS",
    "N_YEARS_AGO",
    "LAST_N_FISCAL_QUARTERS",
    "NEXT_N_FISCAL_QUARTERS",
    "LAST_N_FISCAL_YEARS",
    "NEXT_N_FISCAL_YEARS",
}
RESERVED = {
    "AND",
    "ASC",
    "DESC",
    "EXCLUDES",
    "FIRST",
    "FROM",
    "GROUP",
    "HAVING",
    "IN",
    "INCLUDES",
    "LAST",
    "LIKE",
    "LIMIT",
    "NOT",
    "NULL",
    "NULLS",
    "OR",
    "SELECT",
    "WHERE",
    "WITH",
    "ORDER",
    "OFFSET",
    "FOR",
    "USING",
    "TRUE",
    "FALSE",
    "BY",
    "TYPEOF",
}


class Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    # ---- helpers

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def unexpected(self, tok: Token | None = None) -> SOQLError:
        tok = tok or self.tok
        if tok.kind == "EOF":
            return SOQLError("unexpected token: <EOF>", tok.pos)
        return SOQLError(f"unexpected token: '{tok.text}'", tok.pos)

    def expect_kw(self, word: str) -> Token:
        if not self.tok.is_kw(word):
            raise self.unexpected()
        return self.advance()

    def expect(self, kind: str) -> Token:
        if self.tok.kind != kind:
            raise self.unexpected()
        return self.advance()

    def name(self) -> Token:
        tok = self.tok
        if tok.kind != "IDENT" or tok.value.upper() in RESERVED:
            raise self.unexpected()
        return self.advance()

    # ---- grammar

    def parse(self) -> Query:
        query = self.query(top=True)
        if self.tok.kind != "EOF":
            raise self.unexpected()
        return query

    def query(self, top: bool) -> Query:
        start = self.expect_kw("SELECT")
        items: list[Path | Count | Query] = [self.item(top)]
        while self.tok.kind == "COMMA":
            self.advance()
            items.append(self.item(top))
        self.expect_kw("FROM")
        obj = self.name()
        query = Query(items, obj.value, obj.pos, pos=start.pos)
        if self.tok.kind == "IDENT" and self.tok.value.upper() not in RESERVED:
            query.alias = self.advance().value
        if self.tok.is_kw("USING"):
            self.advance()
            self.expect_kw("SCOPE")
            self.name()
        if self.tok.is_kw("WHERE"):
            self.advance()
            query.where = self.condition()
        if self.tok.is_kw("WITH"):
            raise SOQLError("WITH clauses are not supported by the sandbox", self.tok.pos)
        if self.tok.is_kw("GROUP"):
            raise SOQLError("GROUP BY is not supported by the sandbox", self.tok.pos)
        if self.tok.is_kw("ORDER"):
            self.advance()
            self.expect_kw("BY")
            query.order.append(self.order_item())
            while self.tok.kind == "COMMA":
                self.advance()
                query.order.append(self.order_item())
        if self.tok.is_kw("LIMIT"):
            self.advance()
            query.limit = self.integer()
        if self.tok.is_kw("OFFSET"):
            self.advance()
            query.offset = self.integer()
        if self.tok.is_kw("FOR"):
            self.advance()
            if not self.tok.is_kw("VIEW", "REFERENCE", "UPDATE"):
                raise self.unexpected()
            self.advance()
        return query

    def integer(self) -> int:
        tok = self.tok
        if tok.kind != "NUMBER" or not isinstance(tok.value, int) or tok.value < 0:
            raise self.unexpected()
        self.advance()
        return tok.value

    def item(self, top: bool) -> Path | Count | Query:
        tok = self.tok
        if tok.is_kw("COUNT") and self.peek().kind == "LPAREN":
            self.advance()
            self.advance()
            path = None if self.tok.kind == "RPAREN" else self.path()
            self.expect("RPAREN")
            alias = None
            if self.tok.kind == "IDENT" and self.tok.value.upper() not in RESERVED:
                alias = self.advance().value
            return Count(path, alias, tok.pos)
        if tok.is_kw("TYPEOF"):
            raise SOQLError("TYPEOF is not supported by the sandbox", tok.pos)
        if tok.kind == "LPAREN":
            if not top:
                raise self.unexpected()
            self.advance()
            sub = self.query(top=False)
            self.expect("RPAREN")
            return sub
        if tok.kind == "IDENT" and self.peek().kind == "LPAREN":
            raise SOQLError(f"Unknown or unsupported function: {tok.text}", tok.pos)
        return self.path()

    def path(self) -> Path:
        first = self.name()
        parts = [first.value]
        while self.tok.kind == "DOT":
            self.advance()
            parts.append(self.name().value)
        return Path(parts, first.pos)

    def order_item(self) -> Order:
        path = self.path()
        desc = False
        if self.tok.is_kw("ASC", "DESC"):
            desc = self.advance().value.upper() == "DESC"
        nulls_last = desc
        if self.tok.is_kw("NULLS"):
            self.advance()
            if not self.tok.is_kw("FIRST", "LAST"):
                raise self.unexpected()
            nulls_last = self.advance().value.upper() == "LAST"
        return Order(path, desc, nulls_last)

    def condition(self) -> Any:
        first = self.term()
        if not self.tok.is_kw("AND", "OR"):
            return first
        op = self.tok.value.upper()
        items = [first]
        while self.tok.is_kw("AND", "OR"):
            if self.tok.value.upper() != op:
                raise self.unexpected()  # SOQL requires parentheses to mix AND and OR
            self.advance()
            items.append(self.term())
        return Logical(op, items)

    def term(self) -> Any:
        tok = self.tok
        if tok.is_kw("NOT"):
            self.advance()
            return Not(self.term())
        if tok.kind == "LPAREN":
            self.advance()
            inner = self.condition()
            self.expect("RPAREN")
            return inner
        path = self.path()
        op_tok = self.tok
        if op_tok.kind == "OP":
            self.advance()
            return Comparison(path, op_tok.value, self.value(), op_tok.pos)
        if op_tok.is_kw("LIKE"):
            self.advance()
            value = self.value()
            if value.kind != "string":
                raise self.unexpected(self.tokens[self.i - 1])
            return Comparison(path, "LIKE", value, op_tok.pos)
        if op_tok.is_kw("NOT") and self.peek().is_kw("IN"):
            self.advance()
            self.advance()
            return Comparison(path, "NOTIN", self.in_list(), op_tok.pos)
        if op_tok.is_kw("IN", "INCLUDES", "EXCLUDES"):
            self.advance()
            op = op_tok.value.upper()
            values = self.in_list(allow_query=op == "IN")
            return Comparison(path, op, values, op_tok.pos)
        raise self.unexpected()

    def in_list(self, allow_query: bool = True) -> list[Literal] | Query:
        self.expect("LPAREN")
        if self.tok.is_kw("SELECT"):
            if not allow_query:
                raise self.unexpected()
            sub = self.query(top=False)
            self.expect("RPAREN")
            return sub
        values = [self.value()]
        while self.tok.kind == "COMMA":
            self.advance()
            values.append(self.value())
        self.expect("RPAREN")
        return values

    def value(self) -> Literal:
        tok = self.tok
        if tok.kind == "STRING":
            self.advance()
            return Literal("string", tok.value, tok.pos, tok.text)
        if tok.kind == "NUMBER":
            self.advance()
            return Literal("number", tok.value, tok.pos, tok.text)
        if tok.kind == "DATE":
            self.advance()
            return Literal("date", tok.value, tok.pos, tok.text)
        if tok.kind == "DATETIME":
            self.advance()
            return Literal("datetime", tok.value, tok.pos, tok.text)
        if tok.kind == "IDENT":
            word = tok.value.upper()
            if word == "NULL":
                self.advance()
                return Literal("null", None, tok.pos, tok.text)
            if word in ("TRUE", "FALSE"):
                self.advance()
                return Literal("bool", word == "TRUE", tok.pos, tok.text)
            if word in DATE_LITERALS:
                self.advance()
                return Literal("dateliteral", (word, None), tok.pos, tok.text)
            if word in DATE_LITERALS_N:
                self.advance()
                if self.tok.kind != "COLON":
                    raise SOQLError(f"unexpected token: '{tok.text}'", tok.pos)
                self.advance()
                num = self.tok
                if num.kind != "NUMBER" or not isinstance(num.value, int) or num.value < 0:
                    raise self.unexpected()
                self.advance()
                return Literal("dateliteral", (word, num.value), tok.pos, f"{tok.text}:{num.text}")
        raise self.unexpected()


def parse(text: str) -> Query:
    return Parser(text).parse()


# ---- date literal ranges ---------------------------------------------------------------------


def _add_months(day: dt.date, months: int) -> dt.date:
    total = day.year * 12 + day.month - 1 + months
    return dt.date(total // 12, total % 12 + 1, 1)


def date_range(name: str, n: int | None, today: dt.date) -> tuple[dt.date, dt.date]:
    """The half-open [start, end) day range a date literal covers (weeks start on Sunday)."""
    day = dt.timedelta(days=1)
    week_start = today - dt.timedelta(days=(today.weekday() + 1) % 7)
    month_start = today.replace(day=1)
    quarter_start = dt.date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
    year_start = dt.date(today.year, 1, 1)
    name = name.replace("_FISCAL", "")
    simple = {
        "YESTERDAY": (today - day, today),
        "TODAY": (today, today + day),
        "TOMORROW": (today + day, today + 2 * day),
        "LAST_WEEK": (week_start - 7 * day, week_start),
        "THIS_WEEK": (week_start, week_start + 7 * day),
        "NEXT_WEEK": (week_start + 7 * day, week_start + 14 * day),
        "LAST_MONTH": (_add_months(month_start, -1), month_start),
        "THIS_MONTH": (month_start, _add_months(month_start, 1)),
        "NEXT_MONTH": (_add_months(month_start, 1), _add_months(month_start, 2)),
        "LAST_90_DAYS": (today - 90 * day, today + day),
        "NEXT_90_DAYS": (today + day, today + 91 * day),
        "THIS_QUARTER": (quarter_start, _add_months(quarter_start, 3)),
        "LAST_QUARTER": (_add_months(quarter_start, -3), quarter_start),
        "NEXT_QUARTER": (_add_months(quarter_start, 3), _add_months(quarter_start, 6)),
        "THIS_YEAR": (year_start, year_start.replace(year=today.year + 1)),
        "LAST_YEAR": (year_start.replace(year=today.year - 1), year_start),
        "NEXT_YEAR": (
            year_start.replace(year=today.year + 1),
            year_start.replace(year=today.year + 2),
        ),
    }
    if name in simple:
        return simple[name]
    assert n is not None
    years = today.year
    ranges = {
        "LAST_N_DAYS": (today - n * day, today + day),
        "NEXT_N_DAYS": (today + day, today + (n + 1) * day),
        "N_DAYS_AGO": (today - n * day, today - (n - 1) * day),
        "LAST_N_WEEKS": (week_start - 7 * n * day, week_start),
        "NEXT_N_WEEKS": (week_start + 7 * day, week_start + 7 * (n + 1) * day),
        "N_WEEKS_AGO": (week_start - 7 * n * day, week_start - 7 * (n - 1) * day),
        "LAST_N_MONTHS": (_add_months(month_start, -n), month_start),
        "NEXT_N_MONTHS": (_add_months(month_start, 1), _add_months(month_start, n + 1)),
        "N_MONTHS_AGO": (_add_months(month_start, -n), _add_months(month_start, -n + 1)),
        "LAST_N_QUARTERS": (_add_months(quarter_start, -3 * n), quarter_start),
        "NEXT_N_QUARTERS": (_add_months(quarter_start, 3), _add_months(quarter_start, 3 * n + 3)),
        "N_QUARTERS_AGO": (
            _add_months(quarter_start, -3 * n),
            _add_months(quarter_start, 3 - 3 * n),
        ),
        "LAST_N_YEARS": (year_start.replace(year=years - n), year_start),
        "NEXT_N_YEARS": (
            year_start.replace(year=years + 1),
            year_start.replace(year=years + n + 1),
        ),
        "N_YEARS_AGO": (year_start.replace(year=years - n), year_start.replace(year=years - n + 1)),
    }
    return ranges[name]
