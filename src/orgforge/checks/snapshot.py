"""What the rules read: a world's (or an export's) records, history and as_of, in memory.

A check reads everything once; at 1,000 accounts that is ~30k small dicts. Records keep the
world's field names whatever the source: a CSV export's relationship columns
(``Account.Orgforge_Key__c``) come back as the lookup field (``AccountId``) holding the key.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orgforge.errors import UsageError, WorldError
from orgforge.schema import salesforce as sf
from orgforge.world import tables as t


@dataclass
class Snapshot:
    source: str
    as_of: dt.date
    objects: dict[str, list[dict[str, Any]]]
    history: list[dict[str, Any]] | None = None
    role_jobs: dict[str, str] | None = None  # UserRole key → job (owner, se, support, …)
    # Task/Event/CaseComment carry ``step``, records their read-only fields: a world, a JSON or
    # Parquet export (not CSV)
    steps: bool = True
    # the world's working days: weekdays only unless generated with skip_weekends: false
    weekdays_only: bool = True
    # territory → the time zones it covers, in the team file's order (the first takes any zone
    # no territory lists): a world's or export's team
    territories: dict[str, list[str]] | None = None
    _by_key: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for records in self.objects.values():
            for record in records:
                self._by_key[record["key"]] = record

    @property
    def now(self) -> str:
        """as_of's midnight (UTC) as a Salesforce datetime: what has happened is before it."""
        return f"{self.as_of.isoformat()}T00:00:00.000Z"

    @property
    def record_count(self) -> int:
        return sum(len(v) for v in self.objects.values())

    def rows(self, name: str) -> list[dict[str, Any]]:
        return self.objects.get(name, [])

    def get(self, key: str | None) -> dict[str, Any] | None:
        return self._by_key.get(key) if key else None

    def job_of(self, user_key: str | None) -> str | None:
        user = self.get(user_key)
        if user is None or self.role_jobs is None:
            return None
        return self.role_jobs.get(user.get("UserRoleId") or "")

    def has(self, need: str) -> bool:
        if need == "history":
            return self.history is not None
        if need == "jobs":
            return self.role_jobs is not None
        if need == "territories":
            return self.territories is not None
        if need in ("steps", "read_only"):
            # a CSV export is load-ready: no step, nor read-only fields (IsClosed, ClosedDate…)
            return self.steps
        return bool(self.objects.get(need))


def _generated(generated: str | dict | None) -> dict:
    info = json.loads(generated) if isinstance(generated, str) else generated
    return info if isinstance(info, dict) else {}


def _weekdays_only(generated: str | dict | None) -> bool:
    return _generated(generated).get("skip_weekends", True) is not False


def _as_of(generated: str | dict | None, source: str) -> dt.date:
    info = _generated(generated)
    if not info or "as_of" not in info:
        raise UsageError(
            f"{source}: no generation record (as_of unknown)",
            "Check a world made by `orgforge generate`, or an export of one.",
        )
    return dt.date.fromisoformat(info["as_of"])


def from_world(location: str) -> Snapshot:
    from orgforge.world.store import World, sqlite_file

    file = sqlite_file(location)
    if file is not None and not file.exists():
        raise UsageError(
            f"world {location}: no such file or folder",
            "Give a world file (--world) or a folder written by `orgforge export`.",
        )
    try:
        world = World(location, create=False)
    except WorldError:
        raise
    with world:
        generated = world.get_meta("generated")
        as_of = _as_of(generated, f"world {location}")
        objects = {name: list(world.iter_dicts(name)) for name in sf.GENERATED}
        history = list(world.iter_dicts(t.HISTORY))
        jobs = world.get_meta("team_jobs")
        territories = world.get_meta("team_territories")
    return Snapshot(
        f"world {location}",
        as_of,
        objects,
        history,
        json.loads(jobs) if jobs else None,
        weekdays_only=_weekdays_only(generated),
        territories=json.loads(territories) if territories else None,
    )


def _convert(obj: sf.SObject, record: dict[str, Any]) -> dict[str, Any]:
    """Values read back from text (CSV) as the world holds them."""
    for f in obj.fields:
        value = record.get(f.name)
        if value is None or not isinstance(value, str):
            continue
        if value == "":
            record[f.name] = None
        elif f.type == "boolean":
            record[f.name] = 1 if value == "true" else 0
        elif f.type == "int":
            record[f.name] = int(value)
        elif f.type in ("currency", "percent", "double"):
            record[f.name] = float(value)
    return record


def _read_csv(obj: sf.SObject, path: Path) -> list[dict[str, Any]]:
    from orgforge.targets.files import relationship_columns

    renames = {sf.KEY_FIELD: "key"}
    for f in obj.fields:
        if f.is_reference:
            for header, _parent in relationship_columns(f):
                renames[header] = f.name
    records = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            record: dict[str, Any] = {}
            for header, value in row.items():
                name = renames.get(header, header)
                if value or name not in record:  # a polymorphic lookup: the filled column
                    record[name] = value
            records.append(_convert(obj, record))
    return records


def _read_parquet(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


def from_folder(folder: Path) -> Snapshot:
    manifest_file = folder / "manifest.json"
    if not manifest_file.exists():
        raise UsageError(
            f"{folder}: no manifest.json, so not a folder written by `orgforge export`",
            "Give the folder `orgforge export --out` (or `generate --out`) wrote, or a world.",
        )
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        fmt = manifest["format"]
    except (ValueError, KeyError, TypeError):
        raise UsageError(
            f"{manifest_file}: unreadable manifest", "Export the world again."
        ) from None
    as_of = _as_of(manifest.get("seed"), str(folder))
    objects: dict[str, list[dict[str, Any]]] = {}
    for entry in manifest.get("objects", []):
        name = entry["name"]
        if name not in sf.BY_NAME:
            continue
        path = folder / entry["file"]
        if fmt == "csv":
            objects[name] = _read_csv(sf.get(name), path)
        elif fmt == "json":
            objects[name] = json.loads(path.read_text(encoding="utf-8"))
        else:
            objects[name] = _read_parquet(path)
        for record in objects[name]:  # booleans come back as true/false: the world's 0/1
            for key, value in record.items():
                if isinstance(value, bool):
                    record[key] = int(value)
    history = None
    for extra in manifest.get("extras", []):
        if extra.get("name") == t.HISTORY:
            path = folder / extra["file"]
            if fmt == "json":
                history = json.loads(path.read_text(encoding="utf-8"))
            elif fmt == "csv":
                with path.open(encoding="utf-8", newline="") as handle:
                    history = [
                        {k: (v if v != "" else None) for k, v in row.items()}
                        for row in csv.DictReader(handle)
                    ]
            else:
                history = _read_parquet(path)
    team = manifest.get("team_jobs")
    return Snapshot(
        str(folder),
        as_of,
        objects,
        history,
        team,
        steps=fmt != "csv",
        weekdays_only=_weekdays_only(manifest.get("seed")),
        territories=manifest.get("team_territories"),
    )
