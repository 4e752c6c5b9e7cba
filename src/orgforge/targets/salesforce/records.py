"""Where a load's records come from (the world or an exported folder); how they go on the wire."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from orgforge.errors import UsageError
from orgforge.schema import salesforce as sf
from orgforge.targets.base import Record
from orgforge.targets.salesforce.plan import ObjectPlan
from orgforge.world.store import World


class Source:
    """Records to load, by object, in generation order; lookups hold parent keys."""

    def __init__(self) -> None:
        self._indexed: set[str] = set()
        self._index: dict[str, Record] = {}

    def user_keys(self) -> list[str]:
        raise NotImplementedError

    def user_roles(self) -> dict[str, str]:
        """World user key → role (the user's Title), what owners are mapped by."""
        return dict.fromkeys(self.user_keys(), "")

    def records(self, object_name: str) -> list[Record]:
        raise NotImplementedError

    def keys(self, object_name: str) -> list[str]:
        return [r.key for r in self.records(object_name)]

    def lookup(self, key: str) -> Record | None:
        """One record by key (reconciliation only: indexes the key's object on first use)."""
        object_name = key.split("/", 1)[0]
        if object_name not in self._indexed:
            self._indexed.add(object_name)
            self._index.update({r.key: r for r in self.records(object_name)})
        return self._index.get(key)


class WorldSource(Source):
    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world

    def user_keys(self) -> list[str]:
        return [row[0] for row in self.world.iter_rows("User", ["key"])]

    def user_roles(self) -> dict[str, str]:
        return {key: title or "" for key, title in self.world.iter_rows("User", ["key", "Title"])}

    def keys(self, object_name: str) -> list[str]:
        return [row[0] for row in self.world.iter_rows(object_name, ["key"])]

    def records(self, object_name: str) -> list[Record]:
        obj = sf.get(object_name)
        names = ["key", *obj.field_names]
        return [
            Record(row[0], object_name, dict(zip(names[1:], row[1:], strict=True)))
            for row in self.world.iter_rows(object_name, names)
        ]


class ExportSource(Source):
    """A folder written by ``orgforge export`` / ``generate --out`` (CSV, JSON or Parquet)."""

    def __init__(self, folder: str | Path) -> None:
        super().__init__()
        from orgforge.targets.files import read_export

        self.folder = Path(folder)
        self._data: dict[str, list[Record]] = {}
        self._users: list[str] = []
        self._roles: dict[str, str] = {}
        for name, rows in read_export(folder):
            if name == "User":
                keys = [r.get("key") or r.get(sf.KEY_FIELD) for r in rows]  # JSON | CSV
                self._users = [key for key in keys if key]
                self._roles = {
                    k: r.get("Title") or "" for k, r in zip(keys, rows, strict=True) if k
                }
                continue
            if name not in sf.BY_NAME or name in sf.ORG_SETUP:
                continue
            self._data[name] = [_from_export(name, r, self.folder) for r in rows]

    def user_keys(self) -> list[str]:
        return list(self._users)

    def user_roles(self) -> dict[str, str]:
        return {k: self._roles.get(k, "") for k in self._users}

    def records(self, object_name: str) -> list[Record]:
        return self._data.get(object_name, [])


def _from_export(name: str, row: dict[str, Any], folder: Path) -> Record:
    obj = sf.get(name)
    key = row.get("key") or row.get(sf.KEY_FIELD)
    if not key:
        raise UsageError(
            f"--from {folder}/{name}: a row has no {sf.KEY_FIELD} (or key) value",
            "Load folders written by orgforge (they carry each record's key).",
        )
    values: dict[str, Any] = {}
    for f in obj.fields:
        if f.name in row:
            values[f.name] = row[f.name]
        elif f.is_reference and f.relationship_name:
            for parent in f.reference_to:
                for column in (
                    f"{parent}:{f.relationship_name}.{sf.KEY_FIELD}",
                    f"{f.relationship_name}.{sf.KEY_FIELD}",
                ):
                    if row.get(column):
                        values[f.name] = row[column]
    return Record(str(key), name, values)


def parents(record: Record) -> list[str]:
    """The records a record needs loaded first (not Users: they are mapped, not loaded; nor
    records of its own object: a self-reference is set after the create, see to_wire)."""
    obj = sf.get(record.object)
    values = (
        record.values.get(f.name)
        for f in obj.references
        if f.createable and f.reference_to != (obj.name,)
    )
    return [v for v in values if v and not str(v).startswith("User/")]


def not_loadable(record: Record, source: Source) -> str | None:
    """Why a record can't be created by a load (None: it can).

    A converted lead exists in an org only through lead conversion (convertLead: IsConverted,
    ConvertedDate and Converted*Id are read-only); the contact, account and opportunity it became
    are loaded, the lead is not, nor its campaign memberships."""
    if record.object == "Lead" and truthy(record.values.get("IsConverted")):
        return "converted lead"
    if record.object == "CampaignMember" and record.values.get("LeadId"):
        lead = source.lookup(str(record.values["LeadId"]))
        if lead is not None and truthy(lead.values.get("IsConverted")):
            return "member as a converted lead"
    return None


def truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _convert(field: sf.Field, value: Any) -> Any:
    kind = field.type
    if kind == "boolean":
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1", "yes")
        return bool(value)
    if kind == "int":
        return int(float(value))
    if kind in ("currency", "percent", "double"):
        number = float(value)
        return int(number) if number.is_integer() else number
    return value


def to_wire(
    record: Record,
    plan: ObjectPlan,
    ids: dict[str, str],
    owners: dict[str, str],
    *,
    create: bool = False,
) -> dict[str, Any]:
    """The field values sent for a record: parent keys → remote ids, owners mapped, picklists
    adapted, empties left out, read-only fields never included.

    ``create``: what the create sends, without lookups to records of the same object
    (ReportsToId, ParentId): the manager may be in the same batch. The update that follows the
    creates compares the full values with these and sends them; a self-reference to a record
    that didn't load is left out."""
    obj = sf.get(record.object)
    deferred = {f.name for f in sf.self_references(obj)}
    out: dict[str, Any] = {}
    if plan.sends_key:
        out[sf.KEY_FIELD] = record.key
    for name in (*plan.fields, *plan.audit):
        value = record.values.get(name)
        if value is None or value == "":
            continue
        if name in deferred and (create or value not in ids):
            continue
        field = obj.field(name)
        if name in ("OwnerId", "CreatedById", "LastModifiedById") or (
            field.is_reference and str(value).startswith("User/")
        ):  # world User keys: the team's users are mapped onto the org's
            value = owners.get(value)
            if not value:
                continue
        elif field.is_reference:
            value = ids[value]
        else:
            mapping = plan.picklist_map.get(name)
            if mapping and value in mapping:
                value = mapping[value]
                if value is None:
                    continue
            value = _convert(field, value)
        out[name] = value
    return out


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def fingerprint(values: dict[str, Any], fields: list[str]) -> tuple:
    """Comparable form of a record's identifying values (see plan.FINGERPRINT_TYPES)."""
    out = []
    for name in fields:
        value = values.get(name)
        text = "" if value is None else str(value).strip()
        if len(text) == 18 and name.endswith("Id"):
            text = text[:15]
        out.append(text)
    return tuple(out)


def _instant(text: str) -> dt.datetime | None:
    if len(text) < 19 or text[10] != "T":
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def same_value(org: Any, wire: Any) -> bool:
    """Whether a value read back from the org is the one orgforge sent: numbers by value,
    datetimes by instant (the org answers ``…T09:30:00.000+0000``), ids by their 15-character
    form, empty and missing alike."""
    if org in (None, "") or wire in (None, ""):
        return org in (None, "") and wire in (None, "")
    if isinstance(wire, bool) or isinstance(org, bool):
        return str(org).lower() == str(wire).lower()
    if isinstance(wire, int | float) or isinstance(org, int | float):
        try:
            return abs(float(org) - float(wire)) < 1e-6
        except (TypeError, ValueError):
            return False
    a, b = str(org), str(wire)
    if a == b:
        return True
    left, right = _instant(a), _instant(b)
    if left and right:
        return left == right
    if len(a) in (15, 18) and len(b) in (15, 18) and a.isalnum() and b.isalnum():
        return a[:15] == b[:15]
    return False
