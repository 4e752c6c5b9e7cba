"""A recursive-descent SOQL parser with bounded nesting.

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

Mixing AND and OR without parentheses is MALFORMED_QUERY in Salesforce ("unexpected token:
OR"; the SOQL reference: "Client applications must specify parentheses when nesting
operators"), so ``A AND B OR C`` fails here too, for the sandbox and ``--where`` alike.

Long flat chains (5,000 ORs) are read by a loop. Nesting -- parentheses, NOT, subqueries --
recurses, so it is capped at :data:`MAX_DEPTH` levels with a clean MALFORMED_QUERY instead of
a RecursionError; every evaluator downstream (Python closures, SQLite, SQLAlchemy) then stays
far from its own recursion and expression-depth limits.
"""

from __future__ import annotations

from typing import Any

from orgforge.soql.ast import Comparison, Count, Literal, Logical, Not, Order, Path, Query
from orgforge.soql.dates import DATE_LITERALS, DATE_LITERALS_N
from orgforge.soql.errors import SOQLError
from orgforge.soql.lexer import Token, tokenize

MAX_DEPTH = 20
# LAST_N_DAYS:n and friends take a 32-bit integer n, like Apex's Integer.
MAX_DATE_N = 2**31 - 1

RESERVED = frozenset(
    {
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
)


def _shown(tok: Token) -> str:
    return "the end" if tok.kind == "EOF" else repr(tok.text)


class Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

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

    def unexpected(self, tok: Token | None = None, expected: str | None = None) -> SOQLError:
        tok = tok or self.tok
        friendly = f"expected {expected}, found {_shown(tok)}" if expected else None
        if tok.kind == "EOF":
            return SOQLError("unexpected token: <EOF>", tok.pos, friendly=friendly)
        return SOQLError(f"unexpected token: '{tok.text}'", tok.pos, friendly=friendly)

    def expect_kw(self, word: str) -> Token:
        if not self.tok.is_kw(word):
            raise self.unexpected(expected=word)
        return self.advance()

    def expect(self, kind: str, expected: str | None = None) -> Token:
        if self.tok.kind != kind:
            raise self.unexpected(expected=expected)
        return self.advance()

    def name(self) -> Token:
        tok = self.tok
        if tok.kind != "IDENT" or tok.upper in RESERVED:
            raise self.unexpected(expected="a field name")
        return self.advance()

    def enter(self, tok: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise SOQLError(
                f"too many nested levels (parentheses, NOT or subqueries): the limit is "
                f"{MAX_DEPTH}",
                tok.pos,
                friendly=f"more than {MAX_DEPTH} nested parentheses or NOTs",
            )

    # ---- grammar

    def parse(self) -> Query:
        query = self.query(top=True)
        if self.tok.kind != "EOF":
            raise self.unexpected()
        return query

    def parse_condition(self) -> Any:
        if self.tok.kind == "EOF":
            raise SOQLError("unexpected token: <EOF>", 0, friendly="the filter is empty")
        cond = self.condition()
        if self.tok.kind != "EOF":
            raise self.unexpected(expected="AND, OR or the end")
        return cond

    def query(self, top: bool) -> Query:
        start = self.expect_kw("SELECT")
        if not top:
            self.enter(start)  # a subquery is a level of nesting; the query itself is not
        items: list[Path | Count | Query] = [self.item(top)]
        while self.tok.kind == "COMMA":
            self.advance()
            items.append(self.item(top))
        self.expect_kw("FROM")
        obj = self.name()
        query = Query(items, obj.value, obj.pos, pos=start.pos)
        if self.tok.kind == "IDENT" and self.tok.upper not in RESERVED:
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
        if not top:
            self.depth -= 1
        return query

    def integer(self) -> int:
        tok = self.tok
        if tok.kind != "NUMBER" or not isinstance(tok.value, int) or tok.value < 0:
            raise self.unexpected(expected="a whole number")
        self.advance()
        return tok.value

    def item(self, top: bool) -> Path | Count | Query:
        tok = self.tok
        if tok.is_kw("COUNT") and self.peek().kind == "LPAREN":
            self.advance()
            self.advance()
            path = None if self.tok.kind == "RPAREN" else self.path()
            self.expect("RPAREN", "')'")
            alias = None
            if self.tok.kind == "IDENT" and self.tok.upper not in RESERVED:
                alias = self.advance().value
            return Count(path, alias, tok.pos)
        if tok.is_kw("TYPEOF"):
            raise SOQLError("TYPEOF is not supported by the sandbox", tok.pos)
        if tok.kind == "LPAREN":
            if not top:
                raise self.unexpected()
            self.advance()
            sub = self.query(top=False)
            self.expect("RPAREN", "')'")
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
            desc = self.advance().upper == "DESC"
        nulls_last = desc
        if self.tok.is_kw("NULLS"):
            self.advance()
            if not self.tok.is_kw("FIRST", "LAST"):
                raise self.unexpected(expected="FIRST or LAST")
            nulls_last = self.advance().upper == "LAST"
        return Order(path, desc, nulls_last)

    def condition(self) -> Any:
        first = self.term()
        if not self.tok.is_kw("AND", "OR"):
            return first
        op = self.tok.upper
        items = [first]
        while self.tok.is_kw("AND", "OR"):
            if self.tok.upper != op:
                raise SOQLError(
                    f"unexpected token: '{self.tok.text}'",
                    self.tok.pos,
                    friendly="AND and OR can't be mixed without parentheses: write "
                    "(A AND B) OR C, or A AND (B OR C)",
                )
            self.advance()
            items.append(self.term())
        return Logical(op, items)

    def term(self) -> Any:
        tok = self.tok
        if tok.is_kw("NOT"):
            self.enter(tok)
            self.advance()
            node = Not(self.term())
            self.depth -= 1
            return node
        if tok.kind == "LPAREN":
            self.enter(tok)
            self.advance()
            inner = self.condition()
            self.expect("RPAREN", "')'")
            self.depth -= 1
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
                raise self.unexpected(
                    self.tokens[self.i - 1], expected="a quoted pattern such as 'Acme%'"
                )
            return Comparison(path, "LIKE", value, op_tok.pos)
        if op_tok.is_kw("NOT") and self.peek().is_kw("IN"):
            self.advance()
            self.advance()
            return Comparison(path, "NOTIN", self.in_list(), op_tok.pos)
        if op_tok.is_kw("NOT"):
            raise SOQLError(
                f"unexpected token: '{op_tok.text}'",
                op_tok.pos,
                friendly=f"NOT after a field must be followed by IN; to negate LIKE write "
                f"NOT {path.text} LIKE '...'",
            )
        if op_tok.is_kw("IN", "INCLUDES", "EXCLUDES"):
            self.advance()
            op = op_tok.upper
            values = self.in_list(allow_query=op == "IN")
            return Comparison(path, op, values, op_tok.pos)
        raise self.unexpected(
            expected=f"an operator (=, !=, <, <=, >, >=, IN, LIKE) after {path.text}"
        )

    def in_list(self, allow_query: bool = True) -> list[Literal] | Query:
        self.expect("LPAREN", "a list in parentheses, like IN ('A', 'B')")
        if self.tok.is_kw("SELECT"):
            if not allow_query:
                raise self.unexpected()
            sub = self.query(top=False)
            self.expect("RPAREN", "')'")
            return sub
        values = [self.value()]
        while self.tok.kind == "COMMA":
            self.advance()
            values.append(self.value())
        self.expect("RPAREN", "',' or ')' in the IN list")
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
            word = tok.upper
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
                    raise SOQLError(
                        f"unexpected token: '{tok.text}'",
                        tok.pos,
                        friendly=f"{word} needs a number: {word}:30",
                    )
                self.advance()
                num = self.tok
                if num.kind != "NUMBER" or not isinstance(num.value, int) or num.value < 0:
                    raise self.unexpected(expected=f"a whole number after {word}:")
                if num.value > MAX_DATE_N:
                    # n is read as a 32-bit integer; anything longer is not a literal at all.
                    raise SOQLError(
                        f"unexpected token: '{num.text}'",
                        num.pos,
                        friendly=f"{word}:{num.text} is out of range (n must be at most "
                        f"{MAX_DATE_N})",
                    )
                self.advance()
                return Literal("dateliteral", (word, num.value), tok.pos, f"{tok.text}:{num.text}")
        raise self.unexpected(expected="a value")


def parse(text: str) -> Query:
    """A whole SOQL query; :class:`SOQLError` on anything malformed."""
    return Parser(text).parse()


def parse_condition(text: str) -> Any:
    """A WHERE condition on its own (what ``activity --where`` takes)."""
    return Parser(text).parse_condition()
