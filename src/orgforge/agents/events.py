"""``ChangeEvent``: the one shape a change has, whatever feed it came from.

Field names follow Salesforce's ``ChangeEventHeader`` (entityName → ``entity``, changeType →
``change_type``, …) so an event read from the world's change log, from polling or from a
streaming subscription reads the same to a workload. ``replay_id`` is the feed's own position
(an opaque string: a change-log id, a CometD replay id): a subscriber stores the last one it
handled and resumes after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

CHANGE_TYPES = frozenset(
    {
        "CREATE",
        "UPDATE",
        "DELETE",
        "UNDELETE",
        "GAP_CREATE",
        "GAP_UPDATE",
        "GAP_DELETE",
        "GAP_UNDELETE",
        "GAP_OVERFLOW",
    }
)


@dataclass(frozen=True)
class ChangeEvent:
    entity: str  # API name: Lead, Task, EmailMessage, ...
    change_type: str  # one of CHANGE_TYPES
    record_ids: tuple[str, ...]
    commit_ts: datetime  # timezone-aware, UTC
    replay_id: str
    changed_fields: tuple[str, ...] = ()  # UPDATE only, as Salesforce sends them
    transaction_key: str | None = None
    sequence_number: int = 1
    commit_user: str | None = None
    change_origin: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)  # body: the values the event carries

    def __post_init__(self) -> None:
        if self.change_type not in CHANGE_TYPES:
            raise ValueError(f"unknown change type {self.change_type!r}")
        if self.commit_ts.tzinfo is None:
            raise ValueError("commit_ts must be timezone-aware")

    @property
    def is_gap(self) -> bool:
        """Gap and overflow events carry headers only: the record must be re-read by id."""
        return self.change_type.startswith("GAP_")
