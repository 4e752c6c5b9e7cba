"""How resources look on the wire: full, compact, or exactly the ``opt_fields`` asked for.

A full view holds references as :class:`Ref`; rendering turns each into the referenced
object's compact form, or into the sub-fields asked for (``opt_fields=assignee.name`` →
``"assignee": {"gid": "…", "name": "…"}``). ``gid`` always comes back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

COMPACT: dict[str, tuple[str, ...]] = {
    "story": ("gid", "resource_type", "created_at", "created_by", "resource_subtype", "text"),
    "status_update": ("gid", "resource_type", "title", "resource_subtype"),
    "webhook": ("gid", "resource_type", "active", "resource", "target"),
    "custom_field": (
        "gid",
        "resource_type",
        "name",
        "resource_subtype",
        "type",
        "enum_options",
        "is_formula_field",
    ),
    "custom_field_setting": ("gid", "resource_type", "custom_field", "is_important", "project"),
    "task": ("gid", "resource_type", "name", "resource_subtype"),
}
DEFAULT_COMPACT = ("gid", "resource_type", "name")

FieldTree = dict[str, "FieldTree"]


@dataclass(frozen=True, slots=True)
class Ref:
    gid: str


def parse_opt_fields(text: str | None) -> FieldTree | None:
    """``"name,assignee.name,memberships.section.name"`` → a nested dict of field names."""
    if text is None:
        return None
    tree: FieldTree = {}
    for path in (p.strip() for p in text.split(",")):
        if not path:
            continue
        node = tree
        for part in path.split("."):
            node = node.setdefault(part, {})
    return tree


class Renderer:
    """Renders records; ``lookup(gid)`` gives a stored record, ``view(record)`` its full view."""

    def __init__(
        self,
        lookup: Callable[[str], dict[str, Any] | None],
        view: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> None:
        self._lookup = lookup
        self._view = view

    def full(self, record: dict[str, Any]) -> dict[str, Any]:
        return {k: self._finish(v, None) for k, v in self._view(record).items()}

    def compact(self, record: dict[str, Any]) -> dict[str, Any]:
        kind = record.get("resource_type", "")
        names = COMPACT.get(kind, DEFAULT_COMPACT)
        if all(n in record for n in names) and kind not in COMPACT:
            return {n: record[n] for n in names}  # no view needed: gid, resource_type, name
        view = self._view(record)
        return {n: self._finish(view.get(n), None) for n in names if n in view}

    def select(self, record: dict[str, Any], tree: FieldTree) -> dict[str, Any]:
        view = self._view(record)
        out: dict[str, Any] = {"gid": record["gid"]}
        for name, sub in tree.items():
            if name in view:
                out[name] = self._finish(view[name], sub)
        return out

    def render(self, record: dict[str, Any], tree: FieldTree | None, *, single: bool) -> dict:
        """opt_fields when given; otherwise the full record (single GET) or compact (lists)."""
        if tree is not None:
            return self.select(record, tree)
        return self.full(record) if single else self.compact(record)

    def _finish(self, value: Any, sub: FieldTree | None) -> Any:
        if isinstance(value, Ref):
            target = self._lookup(value.gid)
            if target is None:
                return {"gid": value.gid}
            return self.select(target, sub) if sub else self.compact(target)
        if isinstance(value, list):
            return [self._finish(v, sub) for v in value]
        if isinstance(value, dict):
            if sub:
                picked = {k: self._finish(value[k], s) for k, s in sub.items() if k in value}
                if "gid" in value:
                    picked.setdefault("gid", value["gid"])
                return picked
            return {k: self._finish(v, None) for k, v in value.items()}
        return value
