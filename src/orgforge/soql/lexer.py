"""The SOQL tokenizer: words, quoted strings with backslash escapes, numbers, dates, operators.

Number literals are bounded here, before any conversion: a 5,000-digit literal is rejected by
its length (Python refuses to convert more than 4,300 digits, and SQLite can't bind an integer
beyond 64 bits), so every caller gets a clean MALFORMED_QUERY instead of a crash.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from orgforge.soql.dates import parse_date, parse_datetime
from orgforge.soql.errors import SOQLError

# A real org rejects SOQL longer than 100,000 characters; the sandbox and --where do too.
MAX_QUERY_LENGTH = 100_000
# Integers must fit the signed 64-bit range SQLite stores; decimals a finite double.
MAX_INTEGER = 2**63 - 1
MAX_NUMBER_CHARS = 40


@dataclass
class Token:
    kind: str  # IDENT STRING NUMBER DATE DATETIME OP LPAREN RPAREN COMMA DOT COLON EOF
    value: Any
    pos: int
    text: str
    upper: str = ""  # IDENT only: the word in upper case, for keyword checks

    def is_kw(self, *words: str) -> bool:
        return self.kind == "IDENT" and self.upper in words


_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
# LIKE wildcards escaped with a backslash are kept marked with NUL; only LIKE reads the mark
# (as a literal % or _), every other comparison drops it.
LIKE_ESCAPE_MARK = "\x00"
_LIKE_ESCAPES = {"%": "\x00%", "_": "\x00_"}
_SIMPLE = {"(": "LPAREN", ")": "RPAREN", ",": "COMMA", ".": "DOT", ":": "COLON"}
# Fast paths (a 100,000-character query is read in milliseconds, not a character at a time):
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[^\W\d]\w*")
_PLAIN_STRING = re.compile(r"'([^'\\]*)'")  # a string without escapes


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_QUERY_LENGTH:
        raise SOQLError(
            f"SOQL statements cannot be longer than {MAX_QUERY_LENGTH:,} characters",
            0,
            friendly=f"the text is {len(text):,} characters long, the limit is "
            f"{MAX_QUERY_LENGTH:,}",
        )
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i = _SPACE.match(text, i).end()  # type: ignore[union-attr]
            continue
        start = i
        if c.isalpha() or c == "_":
            word = _WORD.match(text, i).group()  # type: ignore[union-attr]
            i += len(word)
            tokens.append(Token("IDENT", word, start, word, word.upper()))
            continue
        if c == "'":
            plain = _PLAIN_STRING.match(text, i)
            if plain is not None:
                tokens.append(Token("STRING", plain.group(1), start, plain.group()))
                i = plain.end()
                continue
            token = _string(text, i)
            tokens.append(token)
            i += len(token.text)
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
        if c in _SIMPLE:
            tokens.append(Token(_SIMPLE[c], c, start, c))
            i += 1
            continue
        friendly = "double quotes are not SOQL" if c == '"' else f"unexpected character {c!r}"
        raise SOQLError(
            f"line 1:{start} no viable alternative at character '{c}'", start, friendly=friendly
        )
    tokens.append(Token("EOF", None, n, ""))
    return tokens


def _string(text: str, start: int) -> Token:
    n = len(text)
    i = start + 1
    out = []
    while True:
        if i >= n:
            raise SOQLError(
                "unterminated string literal",
                start,
                friendly="the quoted string never ends (a ' is missing)",
            )
        ch = text[i]
        if ch == "\\":
            if i + 1 >= n:
                raise SOQLError(
                    "unterminated string literal",
                    start,
                    friendly="the quoted string never ends (a ' is missing)",
                )
            nxt = text[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
            elif nxt in _LIKE_ESCAPES:
                out.append(_LIKE_ESCAPES[nxt])
            else:
                raise SOQLError(
                    f"Invalid string literal '{text[start : i + 2]}'. Illegal "
                    "character sequence '\\" + nxt + "' in string literal.",
                    start,
                    friendly=f"'\\{nxt}' is not an escape SOQL knows",
                )
            i += 2
            continue
        if ch == "'":
            i += 1
            break
        out.append(ch)
        i += 1
    return Token("STRING", "".join(out), start, text[start:i])


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
                raise SOQLError(
                    f"line 1:{i} no viable alternative at character '{word}'",
                    i,
                    friendly=f"{word} is not a dateTime like 2026-01-15T09:30:00Z",
                )
            return Token("DATETIME", stamp, i, word)
        day = parse_date(word)
        if day is None:
            raise SOQLError(f"unexpected token: '{word}'", i, friendly=f"{word} is not a real date")
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
    shown = word if len(word) <= 24 else f"{word[:20]}... ({len(word)} characters)"
    out_of_range = SOQLError(
        f"number out of range: {shown}",
        i,
        friendly=f"the number {shown} is out of range (integers must fit in 64 bits)",
    )
    if len(word) > MAX_NUMBER_CHARS:
        raise out_of_range
    if is_float:
        value: int | float = float(word)
        if not math.isfinite(value):
            raise out_of_range
    else:
        value = int(word)
        if not -MAX_INTEGER - 1 <= value <= MAX_INTEGER:
            raise out_of_range
    return Token("NUMBER", value, i, word)
