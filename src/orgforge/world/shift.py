"""Roll a world forward (or back): every date and datetime of every record moves by one delta.

A demo generated in March is made current in June by ``orgforge shift --to today``; the next
``orgforge load`` compares each record with what it last pushed and sends the moved dates as
updates, so the org keeps its Ids. The world's as-of date moves with it, so a later
``generate`` or ``activity`` run agrees with the records. Audit fields (CreatedDate…) move in
the world too, but an org only takes them on create: see docs/salesforce.md.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from orgforge.errors import UsageError, WorldError
from orgforge.schema import salesforce as sf
from orgforge.world.store import World, now_iso

DATE_TYPES = ("date", "datetime")


@dataclass
class ShiftResult:
    days: int
    as_of_before: str | None
    as_of_after: str | None
    records: dict[str, int] = field(default_factory=dict)  # object → records with a date moved
    fields: dict[str, list[str]] = field(default_factory=dict)  # object → date fields moved

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def _as_of(world: World) -> dt.date | None:
    text = world.get_meta("generated")
    if not text:
        return None
    try:
        return dt.date.fromisoformat(json.loads(text)["as_of"])
    except (ValueError, KeyError, TypeError):
        return None


def delta_days(world: World, *, days: int | None, to: str | None, today: dt.date) -> int:
    """The shift asked for: ``days`` as given, or from the world's as-of date to ``to``."""
    if (days is None) == (to is None):
        raise UsageError(
            "shift: say how far: --to DATE (or today) or --days N, one of them",
            "orgforge shift --to today   # the world's as-of date becomes today",
        )
    if days is not None:
        if abs(days) > 36_500:
            raise UsageError(f"shift --days {days}: more than a hundred years", "Use a smaller N.")
        return days
    assert to is not None
    try:
        target = today if to.strip().lower() == "today" else dt.date.fromisoformat(to.strip())
    except ValueError:
        raise UsageError(
            f"shift --to {to}: not a date", "Use today or YYYY-MM-DD (e.g. --to 2027-03-01)."
        ) from None
    as_of = _as_of(world)
    if as_of is None:
        raise WorldError(
            f"shift --to: world {world.location} has no as-of date (was it generated?)",
            "Use --days N instead, or generate the world first.",
        )
    return (target - as_of).days


def _moved(value: Any, kind: str, delta: dt.timedelta) -> Any:
    if value in (None, ""):
        return value
    text = str(value)
    if kind == "date":
        return (dt.date.fromisoformat(text[:10]) + delta).isoformat()
    # keep the world's own spelling (…T16:45:00.000Z): only the date and time part changes
    head, rest = text[:19], text[19:]
    moved = dt.datetime.fromisoformat(head) + delta
    return moved.strftime("%Y-%m-%dT%H:%M:%S") + rest


def shift(world: World, days: int, run_id: str | None = None) -> ShiftResult:
    """Move every date/datetime field of every record, and the world's as-of, by ``days``.

    One transaction: a failure leaves the world as it was."""
    delta = dt.timedelta(days=days)
    before = _as_of(world)
    result = ShiftResult(days, before.isoformat() if before else None, None)
    ts = now_iso()
    with world.transaction() as conn:
        for obj in sf.OBJECTS:
            names = [f.name for f in obj.fields if f.type in DATE_TYPES]
            if not names or not days:
                continue
            kinds = {f.name: f.type for f in obj.fields if f.type in DATE_TYPES}
            updates = []
            for row in world.iter_rows(obj.name, ["key", *names]):
                values = dict(zip(names, row[1:], strict=True))
                if all(v in (None, "") for v in values.values()):
                    continue
                try:
                    moved = {n: _moved(v, kinds[n], delta) for n, v in values.items()}
                except (ValueError, OverflowError):
                    raise UsageError(
                        f"shift: {row[0]} has a date that can't move {days} days ({values})",
                        "Use a smaller shift.",
                    ) from None
                updates.append({"key": row[0], **{f"v{i}": moved[n] for i, n in enumerate(names)}})
            if not updates:
                continue
            sets = ", ".join(f'"{n}" = :v{i}' for i, n in enumerate(names))
            conn.executemany(f'UPDATE "rec_{obj.name}" SET {sets} WHERE "key" = :key', updates)
            world.log_change(conn, obj.name, "update", [u["key"] for u in updates], run_id,
                             fields=names, ts=ts)  # fmt: skip
            result.records[obj.name] = len(updates)
            result.fields[obj.name] = names
        if before is not None:
            after = before + delta
            generated = json.loads(world.get_meta("generated") or "{}")
            generated["as_of"] = after.isoformat()
            world.set_meta("generated", json.dumps(generated), conn)
            result.as_of_after = after.isoformat()
    return result
