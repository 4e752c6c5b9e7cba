"""Rewrites of a parsed condition that keep its meaning and make it cheaper to evaluate."""

from __future__ import annotations

from typing import Any

from orgforge.soql.ast import Comparison, Literal, Logical, Not


def merge_equalities(node: Any) -> Any:
    """``F = a OR F = b OR ...`` on the same field becomes ``F IN (a, b, ...)``.

    Both evaluators define IN as "equal to one of the values" (null included), so the rows are
    the same; the IN is one indexed lookup instead of thousands of OR terms (a loader asking
    for 5,000 keys one ``=`` at a time stays fast). Other terms keep their order.
    """
    if isinstance(node, Not):
        return Not(merge_equalities(node.item))
    if not isinstance(node, Logical):
        return node
    items = [merge_equalities(item) for item in node.items]
    if node.op != "OR":
        return Logical(node.op, items)
    groups: dict[str, list[Comparison]] = {}
    for item in items:
        if _equality(item):
            groups.setdefault(".".join(item.path.parts).lower(), []).append(item)
    merged: list[Any] = []
    placed: set[str] = set()
    for item in items:
        key = ".".join(item.path.parts).lower() if _equality(item) else None
        if key is None or len(groups[key]) < 2:
            merged.append(item)
            continue
        if key in placed:
            continue
        placed.add(key)
        first = groups[key][0]
        values = [c.value for c in groups[key]]
        merged.append(Comparison(first.path, "IN", values, first.pos))  # type: ignore[arg-type]
    return merged[0] if len(merged) == 1 else Logical("OR", merged)


def _equality(node: Any) -> bool:
    return isinstance(node, Comparison) and node.op == "=" and isinstance(node.value, Literal)
