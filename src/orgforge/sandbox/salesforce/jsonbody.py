"""Request bodies and parameters checked at the boundary, the way a real org's parser refuses them.

A real org parses JSON with a streaming parser that has limits (Jackson's ``StreamReadConstraints``:
nesting depth, number length) and refuses what isn't JSON (``NaN``, invalid UTF-8, lone UTF-16
surrogates), answering 400 ``JSON_PARSER_ERROR`` with a ``[line:L, column:C]`` position. Python's
``json`` would instead raise RecursionError, ValueError (int conversion limit) or hand back strings
that can't be encoded; nothing here lets those reach a handler.

Integer parameters (``maxRecords``, ``batchSize``) are ASCII digits that fit a 32-bit int, as in
the Java platform (``str.isdigit()`` would also accept ``'²'``, which ``int()`` then refuses).
"""

from __future__ import annotations

import json
import re
from typing import Any

from orgforge.sandbox.salesforce.sferrors import SFError

MAX_DEPTH = 500  # Jackson's default maximum nesting depth (StreamReadConstraints, 2.16+)
MAX_NUMBER_LENGTH = 1000  # Jackson's default maximum number length
INT32_MAX = 2**31 - 1

_ASCII_INT = re.compile(r"[0-9]{1,10}")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class _Refused(Exception):
    """Raised from inside json.loads hooks; becomes a JSON_PARSER_ERROR with a message."""


def parser_error(message: str) -> SFError:
    return SFError("JSON_PARSER_ERROR", message, with_fields=False)


def _position(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"[line:{line}, column:{column}]"


def _number(raw: str) -> Any:
    if len(raw) > MAX_NUMBER_LENGTH:
        raise _Refused(
            f"Number value length ({len(raw)}) exceeds the maximum allowed ({MAX_NUMBER_LENGTH})"
        )
    return int(raw) if raw.lstrip("-").isdigit() else float(raw)


def _constant(name: str) -> Any:
    raise _Refused(
        f"Non-standard token '{name}': enable JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS to allow"
    )


def parse_json(body: bytes) -> Any:
    """Parse a request body; an empty body is ``None``. Refusals raise JSON_PARSER_ERROR."""
    if not body:
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise parser_error(
            f"Invalid UTF-8 byte 0x{body[exc.start]:02x} at byte offset {exc.start}"
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        value = json.loads(text, parse_int=_number, parse_float=_number, parse_constant=_constant)
    except _Refused as exc:
        raise parser_error(str(exc)) from None
    except RecursionError:
        raise parser_error(
            f"Document nesting depth exceeds the maximum allowed ({MAX_DEPTH})"
        ) from None
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text):
            raise parser_error(f"Unexpected end-of-input at {_position(text, exc.pos)}") from None
        char = text[exc.pos]
        raise parser_error(
            f"Unexpected character ('{char}' (code {ord(char)})) at {_position(text, exc.pos)}"
        ) from None
    # Walk the parsed value only when it could break a rule: more brackets than the depth limit
    # (cheap to count), or a \uD800-\uDFFF escape in the text. Most bodies skip the walk.
    deep = text.count("[") + text.count("{") > MAX_DEPTH
    surrogates = _SURROGATE_ESCAPE.search(text) is not None
    if deep or surrogates:
        _check_shape(value, check_surrogates=surrogates)
    return value


def _check_shape(value: Any, *, check_surrogates: bool) -> None:
    """Nesting depth (iteratively: no recursion on hostile input) and lone surrogates."""
    if check_surrogates and isinstance(value, str):
        _check_string(value)
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _depth_error(depth)
        if isinstance(node, dict):
            if check_surrogates:
                for key in node:
                    _check_string(key)
            children = node.values()
        else:
            children = node
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
            elif check_surrogates and isinstance(child, str):
                _check_string(child)


def _depth_error(depth: int) -> SFError:
    return parser_error(
        f"Document nesting depth ({depth}) exceeds the maximum allowed ({MAX_DEPTH})"
    )


def _check_string(text: str) -> None:
    found = _LONE_SURROGATE.search(text)
    if found:
        raise parser_error(
            f"Invalid UTF-16 surrogate \\u{ord(found.group()):04X}: a surrogate must be one half "
            "of a high/low pair"
        )


def json_token(value: Any) -> str:
    """The Jackson token name a real org's parse errors mention for a value of this type."""
    if isinstance(value, dict):
        return "START_OBJECT"
    if isinstance(value, list):
        return "START_ARRAY"
    if isinstance(value, bool):
        return "VALUE_TRUE" if value else "VALUE_FALSE"
    if isinstance(value, int):
        return "VALUE_NUMBER_INT"
    if isinstance(value, float):
        return "VALUE_NUMBER_FLOAT"
    if value is None:
        return "VALUE_NULL"
    return "VALUE_STRING"


def ascii_int(raw: str, maximum: int = INT32_MAX) -> int | None:
    """``raw`` as a non-negative int if it is 1-10 ASCII digits and at most ``maximum``."""
    if not _ASCII_INT.fullmatch(raw):
        return None
    value = int(raw)
    return value if value <= maximum else None
