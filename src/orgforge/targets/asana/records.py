"""What the Asana target writes: one record = one Asana object, named by a stable local key.

A record's ``refs`` name the records it hangs off by their *local keys* (``{"project":
"asana/marketing"}``); the target resolves them to gids from what it created before (the
world's sync table), so a plan never holds a remote id. Keys are hierarchical — a child's key
is its parent's key plus one segment (``asana/marketing/t3/c1`` is a comment on
``asana/marketing/t3``) — which is how cleanup knows a comment goes away with its task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OBJECTS = (
    "tag",
    "project",
    "custom_field_setting",
    "section",
    "task",
    "subtask",
    "story",
    "status_update",
)
"""Creation order: a record's parents come before it."""

DELETE_ORDER = (
    "story",
    "status_update",
    "subtask",
    "task",
    "section",
    "custom_field_setting",
    "project",
    "tag",
)
"""Children first."""

CASCADES = {
    "story": ("task", "subtask"),
    "section": ("project",),
    "custom_field_setting": ("project",),
}
"""Objects that Asana deletes with their parent: no request of their own when it goes too."""


@dataclass
class AsanaRecord:
    key: str
    object: str  # one of OBJECTS
    values: dict[str, Any]  # the fields sent (gids of remote objects such as team, assignee)
    refs: dict[str, str | list[str]] = field(default_factory=dict)  # field → local key(s)
    persona: str | None = None  # who acts: their ORGFORGE_ASANA_TOKEN__<PERSONA> if given

    def parent_key(self) -> str:
        return self.key.rsplit("/", 1)[0]
