"""Salesforce record IDs: 15-character case-sensitive IDs and their 18-character case-safe form.

An ID is a 3-character key prefix (the object), 2 characters of instance, 1 reserved character and
a 9-character base-62 counter. The 18-character form appends three characters that encode, for
each 5-character chunk, which characters are upper case, so the ID survives case-insensitive
handling (Excel, some databases). The sandbox issues 18-character IDs and accepts both forms.
"""

from __future__ import annotations

import string

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_SUFFIX = string.ascii_uppercase + "012345"
_ID_CHARS = frozenset(_BASE62)
INSTANCE = "8a"  # 2-char pod/instance marker in every sandbox ID


def _suffix(id15: str) -> str:
    out = []
    for chunk in range(3):
        flags = 0
        for pos, char in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= char <= "Z":
                flags |= 1 << pos
        out.append(_SUFFIX[flags])
    return "".join(out)


def to18(id15: str) -> str:
    """The 18-character case-safe form of a 15-character ID."""
    return id15 + _suffix(id15)


def make_id(prefix: str, counter: int) -> str:
    """A new 18-character ID for key prefix ``prefix`` and a per-object counter."""
    digits = []
    n = counter
    for _ in range(9):
        n, rem = divmod(n, 62)
        digits.append(_BASE62[rem])
    if n:
        raise OverflowError("ID counter exhausted")
    return to18(prefix + INSTANCE + "0" + "".join(reversed(digits)))


def normalize(value: object) -> str | None:
    """The canonical 18-character ID for a 15- or 18-character input, or None if malformed.

    An 18-character ID whose first 15 characters lost their case (but whose suffix is intact) is
    repaired from the suffix, as a real org does.
    """
    if not isinstance(value, str) or len(value) not in (15, 18):
        return None
    if not all(c in _ID_CHARS for c in value):
        return None
    if len(value) == 15:
        return to18(value)
    head, suffix = value[:15], value[15:].upper()
    if any(c not in _SUFFIX for c in suffix):
        return None
    chars = list(head)
    for chunk, flag_char in enumerate(suffix):
        flags = _SUFFIX.index(flag_char)
        for pos in range(5):
            i = chunk * 5 + pos
            upper = bool(flags & (1 << pos))
            if chars[i].isalpha():
                chars[i] = chars[i].upper() if upper else chars[i].lower()
            elif upper:
                return None
    fixed = "".join(chars)
    return fixed + _suffix(fixed)


def prefix_of(record_id: str) -> str:
    return record_id[:3]
