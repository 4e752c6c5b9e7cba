"""One SOQL reader for everything that speaks SOQL: the Salesforce sandbox and ``--where``.

Pure Python, no dependencies on the generator, the world, targets or the sandbox: it turns
text into a syntax tree (:func:`parse` for a query, :func:`parse_condition` for a WHERE
expression) and knows what date literals mean for a given ``today``. Each caller evaluates
the tree its own way -- the sandbox against its SQLite org, ``activity --where`` as a
SQLAlchemy condition over the world's opportunities.
"""

from orgforge.soql.ast import (
    Comparison,
    Condition,
    Count,
    Literal,
    Logical,
    Not,
    Order,
    Path,
    Query,
)
from orgforge.soql.dates import (
    DATE_LITERALS,
    DATE_LITERALS_N,
    MAX_DATE,
    MIN_DATE,
    DateRangeError,
    date_range,
    parse_date,
    parse_datetime,
    today_utc,
)
from orgforge.soql.errors import SOQLError
from orgforge.soql.lexer import LIKE_ESCAPE_MARK, MAX_QUERY_LENGTH, tokenize
from orgforge.soql.parser import MAX_DEPTH, RESERVED, Parser, parse, parse_condition
from orgforge.soql.rewrite import merge_equalities

__all__ = [
    "DATE_LITERALS",
    "DATE_LITERALS_N",
    "LIKE_ESCAPE_MARK",
    "MAX_DATE",
    "MAX_DEPTH",
    "MAX_QUERY_LENGTH",
    "MIN_DATE",
    "RESERVED",
    "Comparison",
    "Condition",
    "Count",
    "DateRangeError",
    "Literal",
    "Logical",
    "Not",
    "Order",
    "Parser",
    "Path",
    "Query",
    "SOQLError",
    "date_range",
    "merge_equalities",
    "parse",
    "parse_condition",
    "parse_date",
    "parse_datetime",
    "today_utc",
    "tokenize",
]
