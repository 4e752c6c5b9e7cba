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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from orgforge.errors import UsageError, WorldError
from orgforge.schema import salesforce as sf
from orgforge.world import tables as t
from orgforge.world.store import World, now_iso

DATE_TYPES = ("date", "datetime")


@dataclass
class ShiftResult:
    days: int
    as_of_before: str | None
    as_of_after: str | None
    records: dict[str, int] = field(default_factory=dict)  # object → records with a date moved
    fields: dict[str, list[str]] = field(default_factory=dict)  # object → date fields moved
    history_rows: int = 0  # History rows whose change time moved
    dry_run: bool = False

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


def delta_days(
    world: World, *, days: int | None, to: str | None, today: dt.date, exact: bool = False
) -> int:
    """The shift asked for: ``days`` as given, or from the world's as-of date to ``to`` — in
    whole weeks back from that day unless ``exact``, so that every meeting stays on its weekday
    and in working hours (the world's as-of lands up to six days before ``to``; the activity job
    or the living org fills those days)."""
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
    raw = (target - as_of).days
    return raw if exact else raw - raw % 7


def _moved(value: Any, kind: str, delta: dt.timedelta, zone: ZoneInfo | None = None) -> Any:
    """``value`` moved by ``delta``: a date by whole days, a datetime by ``delta`` of wall-clock
    time in ``zone`` (the account's), so a 9:00 meeting stays at 9:00 there across a
    daylight-saving change — its UTC time moves by up to an hour, as generate's as_of does."""
    if value in (None, ""):
        return value
    text = str(value)
    if kind == "date":
        return (dt.date.fromisoformat(text[:10]) + delta).isoformat()
    # keep the world's own spelling (…T16:45:00.000Z): only the date and time part changes
    head, rest = text[:19], text[19:]
    when = dt.datetime.fromisoformat(head)
    if zone is None:
        moved = when + delta
    else:
        local = when.replace(tzinfo=dt.UTC).astimezone(zone).replace(tzinfo=None)
        moved = (local + delta).replace(tzinfo=zone).astimezone(dt.UTC)
    return moved.strftime("%Y-%m-%dT%H:%M:%S") + rest


def _history_rows(world: World) -> list[tuple[str, int, Any]]:
    with world.reading() as conn:
        return list(
            conn.execute(
                'SELECT "key", "account_idx", "CreatedDate" '
                f'FROM "{t.record_table_name(t.HISTORY)}"'
            )
        )


def _moves(
    world: World, days: int, zones: Mapping[int, ZoneInfo]
) -> Iterator[tuple[str, list[str], list[dict[str, Any]]]]:
    """(object, its date fields, one update per record that has a date), object by object;
    the History table's change times last, under its own name."""
    delta = dt.timedelta(days=days)
    for obj in sf.OBJECTS:
        kinds = {f.name: f.type for f in obj.fields if f.type in DATE_TYPES}
        names = list(kinds)
        if not names:
            continue
        updates = []
        for row in world.iter_rows(obj.name, ["key", "account_idx", *names]):
            values = dict(zip(names, row[2:], strict=True))
            zone = zones.get(row[1])
            if all(v in (None, "") for v in values.values()):
                continue
            try:
                moved = {n: _moved(v, kinds[n], delta, zone) for n, v in values.items()}
            except (ValueError, OverflowError):
                raise UsageError(
                    f"shift: {row[0]} has a date that can't move {days} days ({values})",
                    "Use a smaller shift.",
                ) from None
            updates.append({"key": row[0], **{f"v{i}": moved[n] for i, n in enumerate(names)}})
        if updates:
            yield obj.name, names, updates
    history = [
        {"key": key, "v0": _moved(when, "datetime", delta, zones.get(idx))}
        for key, idx, when in _history_rows(world)
        if when not in (None, "")
    ]
    if history:  # the changes that led to each record move with it, or check sees a past
        yield t.HISTORY, ["CreatedDate"], history  # that disagrees with the record


def shift(
    world: World,
    days: int,
    run_id: str | None = None,
    *,
    zones: Mapping[int, ZoneInfo] | None = None,
    dry_run: bool = False,
) -> ShiftResult:
    """Move every date/datetime field of every record and history row, and the world's as-of,
    by ``days``; datetimes in the wall clock of their account's zone (``zones``: account_idx →
    zone; UTC for the others). One transaction: a failure leaves the world as it was.
    ``dry_run``: the same result, nothing written."""
    before = _as_of(world)
    result = ShiftResult(days, before.isoformat() if before else None, None)
    after = before + dt.timedelta(days=days) if before is not None else None
    moves = list(_moves(world, days, zones or {})) if days else []
    for name, names, updates in moves:
        if name == t.HISTORY:
            result.history_rows = len(updates)
        else:
            result.records[name] = len(updates)
            result.fields[name] = names
    if after is not None:
        result.as_of_after = after.isoformat()
    if dry_run:
        result.dry_run = True
        return result
    ts = now_iso()
    with world.transaction() as conn:
        for name, names, updates in moves:
            sets = ", ".join(f'"{n}" = :v{i}' for i, n in enumerate(names))
            table = t.record_table_name(name)
            conn.executemany(f'UPDATE "{table}" SET {sets} WHERE "key" = :key', updates)
            if name != t.HISTORY:  # history rows are not records: no change events
                world.log_change(conn, name, "update", [u["key"] for u in updates], run_id,
                                 fields=names, ts=ts)  # fmt: skip
        if after is not None:
            generated = json.loads(world.get_meta("generated") or "{}")
            generated["as_of"] = after.isoformat()
            world.set_meta("generated", json.dumps(generated), conn)
    return result
