"""Field values: parsing client input, storing in SQLite, and formatting like a real org.

In Python a record holds ``str``, ``int``, ``float``, ``bool``, ``datetime.date`` or an aware UTC
``datetime.datetime``. SQLite stores booleans as 0/1, dates as ``YYYY-MM-DD`` and datetimes as
``YYYY-MM-DDTHH:MM:SS.fffZ`` (sortable). REST output formats datetimes as
``2026-01-15T09:30:00.000+0000``; Bulk CSV as ``2026-01-15T09:30:00.000Z``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from orgforge.clock import REAL, Clock
from orgforge.sandbox.salesforce import ids
from orgforge.sandbox.salesforce.metadata import NUMBER_TYPES, Field
from orgforge.sandbox.salesforce.sferrors import SFError
from orgforge.soql.dates import parse_date, parse_datetime

UTC = dt.UTC
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def now(clock: Clock = REAL) -> dt.datetime:
    """The current time on ``clock``, truncated to milliseconds like Salesforce stores it."""
    t = clock.now().astimezone(UTC)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def format_datetime(value: dt.datetime) -> str:
    """``2026-01-15T09:30:00.000+0000`` as REST returns datetimes."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def format_datetime_z(value: dt.datetime) -> str:
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _parse_error(f: Field, value: Any) -> SFError:
    kind = {"datetime": "datetime", "date": "date", "boolean": "boolean", "int": "int"}.get(
        f.type, "double" if f.type in NUMBER_TYPES else "String"
    )
    token = "VALUE_STRING" if isinstance(value, str) else "VALUE_" + type(value).__name__.upper()
    return SFError(
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {kind} from {token} value {value} or request may be "
        f"missing a required field",
    )


def coerce(f: Field, value: Any) -> Any:
    """Parse a client-supplied value for field ``f``; raise JSON_PARSER_ERROR if it can't be."""
    if value is None:
        return None
    t = f.type
    if t in ("id", "reference"):
        if value == "":
            return None
        if not isinstance(value, str):
            raise _parse_error(f, value)
        return value  # checked (MALFORMED_ID etc.) at DML time
    if t == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise _parse_error(f, value)
    if t in NUMBER_TYPES:
        if isinstance(value, bool):
            raise _parse_error(f, value)
        if isinstance(value, str):
            if value.strip() == "":
                return None
            try:
                value = float(value) if any(c in value for c in ".eE") else int(value)
            except ValueError:
                raise _parse_error(f, value) from None
        if not isinstance(value, int | float) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            raise _parse_error(f, value)
        if t == "int":
            if isinstance(value, float):
                if not value.is_integer():
                    raise _parse_error(f, value)
                value = int(value)
            return value
        return float(value)
    if t == "date":
        if isinstance(value, str):
            parsed = parse_date(value)
            if parsed is None:
                stamp = parse_datetime(value)
                parsed = stamp.date() if stamp else None
            if parsed is not None:
                return parsed
        raise _parse_error(f, value)
    if t == "datetime":
        if isinstance(value, str):
            parsed_dt = parse_datetime(value)
            if parsed_dt is None and parse_date(value) is not None:
                parsed_dt = dt.datetime.combine(parse_date(value), dt.time(), UTC)  # type: ignore[arg-type]
            if parsed_dt is not None:
                return parsed_dt
        raise _parse_error(f, value)
    # text types
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list) and t == "multipicklist":
        return ";".join(str(v) for v in value)
    if not isinstance(value, str):
        raise _parse_error(f, value)
    return value if value != "" else None


def check(f: Field, value: Any, label: str | None = None) -> None:
    """Length, range, picklist and format checks for a non-null coerced value."""
    label = label or f.label
    if f.type in ("string", "textarea", "phone", "email", "url", "picklist", "multipicklist"):
        if len(value) > f.length:
            raise SFError(
                "STRING_TOO_LONG",
                f"{label}: data value too large: {value[:100]} (max length={f.length})",
                [f.name],
            )
        if f.type == "email" and not _EMAIL.match(value):
            raise SFError(
                "INVALID_EMAIL_ADDRESS", f"{label}: invalid email address: {value}", [f.name]
            )
        if f.type == "picklist" and f.restricted and value not in f.picklist:
            raise SFError(
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{label}: bad value for restricted picklist field: {value}",
                [f.name],
            )
        if f.type == "multipicklist" and f.restricted:
            for part in value.split(";"):
                if part not in f.picklist:
                    raise SFError(
                        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                        f"{label}: bad value for restricted picklist field: {part}",
                        [f.name],
                    )
    elif f.type in NUMBER_TYPES:
        digits = (f.precision or 18) - f.scale
        if abs(value) >= 10**digits:
            raise SFError(
                "NUMBER_OUTSIDE_VALID_RANGE",
                f"{label}: value outside of valid range on numeric field: {value}",
                [f.name],
            )


# ---- storage ---------------------------------------------------------------------------------


def to_db(f: Field, value: Any) -> Any:
    if value is None:
        return None
    if f.type == "boolean":
        return 1 if value else 0
    if f.type == "datetime":
        return format_datetime_z(value)
    if f.type == "date":
        return value.isoformat()
    if f.type in ("double", "currency", "percent"):
        return round(float(value), f.scale) if f.scale else float(value)
    return value


def from_db(f: Field, value: Any) -> Any:
    if value is None:
        return None
    if f.type == "boolean":
        return bool(value)
    if f.type == "datetime":
        if len(value) == 24 and value[-1] == "Z":  # the stored form: C-speed fast path
            try:
                return dt.datetime.fromisoformat(value[:-1]).replace(tzinfo=UTC)
            except ValueError:
                pass
        return parse_datetime(value)
    if f.type == "date":
        return dt.date.fromisoformat(value)
    if f.type in ("double", "currency", "percent"):
        return float(value)
    if f.type == "int":
        return int(value)
    return value


def to_json(f: Field | None, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def to_csv(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return format_datetime_z(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(value)
    return str(value)


def id_or_none(value: Any) -> str | None:
    return ids.normalize(value) if isinstance(value, str) else None
