"""The target contract: what every remote target (Salesforce, Asana, …) returns for a write.

A write takes records that carry their stable local key and returns **one result per record**:
the key and either the remote id or an error (code, message, fields). Partial failure is
normal: a batch of 200 may come back with 3 failures; those are reported, logged to the run's
``errors.jsonl`` and retried only when retrying can help (:func:`retryable`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

RETRYABLE_CODES = frozenset(
    {
        "UNABLE_TO_LOCK_ROW",  # another transaction holds the parent row: try again later
        "REQUEST_LIMIT_EXCEEDED",  # 429 / concurrent-request limit
        "SERVER_UNAVAILABLE",  # 503
        "HTTP_429",
        "HTTP_500",
        "HTTP_502",
        "HTTP_503",
        "HTTP_504",
        "CONNECTION_ERROR",
        "INVALID_SESSION_ID",  # the session expired mid-load: re-authenticate, send again
        "TOO_MANY_APEX_REQUESTS",
        "QUERY_TIMEOUT",
    }
)
"""Error codes a later attempt can fix. Everything else (validation, required field, bad
value, permissions) would fail the same way again, so it is reported and not retried."""


@dataclass(frozen=True)
class RecordError:
    code: str
    message: str
    fields: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "fields": list(self.fields)}

    def __str__(self) -> str:
        where = f" [{', '.join(self.fields)}]" if self.fields else ""
        return f"{self.code}: {self.message}{where}"


@dataclass
class WriteResult:
    """The outcome of one record of a write."""

    key: str
    object: str
    remote_id: str | None = None
    error: RecordError | None = None
    created: bool | None = None  # upsert: False when the record already existed
    attempts: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None and self.remote_id is not None

    @property
    def retryable(self) -> bool:
        return self.error is not None and retryable(self.error.code)


def retryable(code: str) -> bool:
    return code in RETRYABLE_CODES


@dataclass
class Record:
    """One record to write: its key, object and field values (lookups hold parent *keys*)."""

    key: str
    object: str
    values: dict[str, Any]


class Target(Protocol):
    """What the load/cleanup machinery needs from a remote target."""

    name: str

    def write(self, records: list[Record]) -> list[WriteResult]:
        """Create the records; one result per record, in order."""
        ...

    def delete(self, object_name: str, remote_ids: list[str]) -> list[WriteResult]:
        """Delete records by remote id; one result per id, in order (key = remote id)."""
        ...
