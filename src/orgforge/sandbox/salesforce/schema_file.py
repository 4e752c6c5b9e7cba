"""Custom fields, custom objects and a connected app from a schema file (YAML or JSON).

Format (all keys optional)::

    fields:                      # custom fields added to existing objects
      Account:
        - {name: Orgforge_Key__c, type: string, length: 80, external_id: true, unique: true}
    objects:                     # custom objects
      - name: Scorecard__c
        label: Scorecard
        label_plural: Scorecards
        key_prefix: a0X          # optional; a00, a01, ... otherwise
        name_field: {type: string, label: Scorecard Name}
        # or name_field: {type: autonumber, format: "SC-{0000}"}
        fields:
          - {name: Opportunity__c, type: masterdetail, reference_to: Opportunity}
          - {name: Score__c, type: percent}
    permissions:                 # what the org lets its users do
      set_audit_fields: true     # "Set Audit Fields upon Record Creation": CreatedDate,
                                 # CreatedById, LastModifiedDate, LastModifiedById createable
    connected_app:               # OAuth client (password / refresh / JWT bearer grants)
      consumer_key: my-key
      consumer_secret: my-secret
      public_key: "-----BEGIN PUBLIC KEY-----..."   # or public_key_file: path/to/key.pem

Field keys: name (must end in __c), type (string, textarea, longtextarea, picklist,
multipicklist, boolean, int, double, currency, percent, date, datetime, email, phone, url,
lookup/reference, masterdetail), label, length, precision, scale, required, unique,
external_id, case_sensitive, default, picklist (list of values), restricted, reference_to,
relationship_name (default: name with __c → __r), child_relationship_name,
delete_constraint (set_null | restrict | cascade; masterdetail is always cascade).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from orgforge.errors import ConfigError
from orgforge.sandbox.salesforce.metadata import (
    DEFAULT_LENGTHS,
    SOAP_TYPES,
    Field,
    SObject,
    _owner,
    _system_fields,
)

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*__c$")
_TYPE_ALIASES = {
    "text": "string",
    "longtextarea": "textarea",
    "lookup": "reference",
    "masterdetail": "reference",
    "number": "double",
    "checkbox": "boolean",
    "integer": "int",
}


@dataclass
class ConnectedApp:
    consumer_key: str | None = None
    consumer_secret: str | None = None
    public_key: str | None = None


@dataclass
class Schema:
    fields: dict[str, list[dict[str, Any]]]
    objects: list[dict[str, Any]]
    connected_app: ConnectedApp
    set_audit_fields: bool = False


def load_schema(source: str | Path | dict[str, Any] | None) -> Schema:
    """Read and check a schema file (or an already-parsed dict)."""
    if source is None:
        return Schema({}, [], ConnectedApp())
    where = "schema"
    base_dir = Path.cwd()
    if isinstance(source, dict):
        data = source
    else:
        path = Path(source)
        where = str(path)
        base_dir = path.parent
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"{path}: cannot read schema file ({exc.strerror})", "Check the --schema path."
            ) from exc
        try:
            data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: not valid YAML/JSON ({exc})") from exc
        data = data or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: the top level must be a mapping")
    unknown = set(data) - {"fields", "objects", "connected_app", "permissions"}
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))}",
            "Allowed: fields, objects, permissions, connected_app (see docs/sandbox.md).",
        )
    permissions = data.get("permissions") or {}
    if not isinstance(permissions, dict) or set(permissions) - {"set_audit_fields"}:
        raise ConfigError(
            f"{where}: permissions: only set_audit_fields (true/false) is known",
            "Example: permissions: {set_audit_fields: true}",
        )
    if not isinstance(permissions.get("set_audit_fields", False), bool):
        raise ConfigError(f"{where}: permissions.set_audit_fields must be true or false")
    fields = data.get("fields") or {}
    objects = data.get("objects") or []
    if not isinstance(fields, dict) or not isinstance(objects, list):
        raise ConfigError(f"{where}: 'fields' must be a mapping and 'objects' a list")
    app = data.get("connected_app") or {}
    public_key = app.get("public_key")
    if app.get("public_key_file"):
        key_path = Path(app["public_key_file"])
        if not key_path.is_absolute():
            key_path = base_dir / key_path
        try:
            public_key = key_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{where}: connected_app.public_key_file: {exc.strerror}") from exc
    return Schema(
        fields=fields,
        objects=objects,
        connected_app=ConnectedApp(app.get("consumer_key"), app.get("consumer_secret"), public_key),
        set_audit_fields=permissions.get("set_audit_fields", False),
    )


AUDIT_FIELDS = ("CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById")


def apply_schema(objects: dict[str, SObject], schema: Schema, where: str = "schema") -> None:
    """Add the schema's custom objects and fields to ``objects`` (in place); with the
    ``set_audit_fields`` permission, the audit fields become createable (never updateable)."""
    _custom(objects, schema, where)
    if schema.set_audit_fields:
        for obj in objects.values():
            if obj.name == "User":
                continue
            for name in AUDIT_FIELDS:
                if name in obj.fields:
                    obj.fields[name].createable = True


def _custom(objects: dict[str, SObject], schema: Schema, where: str) -> None:
    used_prefixes = {o.key_prefix for o in objects.values()}
    next_prefix = 0
    for spec in schema.objects:
        name = spec.get("name", "")
        if not _NAME.match(name):
            raise ConfigError(f"{where}: objects: '{name}' is not a custom object name (X__c)")
        if name in objects:
            raise ConfigError(f"{where}: objects: '{name}' is defined twice")
        prefix = spec.get("key_prefix")
        if prefix is None:
            while f"a{next_prefix:02d}" in used_prefixes:
                next_prefix += 1
            prefix = f"a{next_prefix:02d}"
        if len(prefix) != 3 or prefix in used_prefixes:
            raise ConfigError(f"{where}: objects: {name}: key_prefix '{prefix}' is taken/invalid")
        used_prefixes.add(prefix)
        label = spec.get("label") or name.removesuffix("__c").replace("_", " ")
        obj = SObject(name, prefix, label, spec.get("label_plural") or label + "s", custom=True)
        _system_fields(obj)
        name_spec = spec.get("name_field") or {}
        auto = name_spec.get("type") == "autonumber"
        obj.add(
            Field(
                "Name",
                "string",
                length=80,
                label=name_spec.get("label") or f"{label} Name",
                nillable=auto,
                createable=not auto,
                updateable=not auto,
                auto_number=auto,
                defaulted_on_create=auto,
                name_field=True,
                default=name_spec.get("format", "{0}") if auto else None,
            )
        )
        objects[name] = obj
    for spec in schema.objects:
        obj = objects[spec["name"]]
        fields = [_field(obj, f, where) for f in spec.get("fields") or []]
        for f in fields:
            obj.add(f)
        if not any(f.delete_constraint == "cascade" and not f.nillable for f in fields):
            _owner(obj)  # master-detail children take their owner from the master
    for obj_name, specs in schema.fields.items():
        obj = objects.get(obj_name)
        if obj is None:
            raise ConfigError(
                f"{where}: fields: no object '{obj_name}'",
                "Add it under 'objects' or use a standard object name.",
            )
        for spec in specs or []:
            f = _field(obj, spec, where)
            obj.add(f)


def _field(obj: SObject, spec: dict[str, Any], where: str) -> Field:
    name = spec.get("name", "")
    at = f"{where}: {obj.name}.{name}"
    if not _NAME.match(name):
        raise ConfigError(f"{at}: custom field names must end in __c")
    if obj.field(name):
        raise ConfigError(f"{at}: the field already exists")
    raw_type = str(spec.get("type", "string")).lower()
    ftype = _TYPE_ALIASES.get(raw_type, raw_type)
    if ftype not in SOAP_TYPES or ftype == "id":
        raise ConfigError(f"{at}: unknown type '{spec.get('type')}'")
    master = raw_type == "masterdetail"
    kw: dict[str, Any] = {
        "label": spec.get("label") or "",
        "custom": True,
        "external_id": bool(spec.get("external_id")),
        "unique": bool(spec.get("unique")),
        "case_sensitive": bool(spec.get("case_sensitive")),
        "nillable": not (spec.get("required") or master),
        "restricted": bool(spec.get("restricted")),
        "picklist": [str(v) for v in spec.get("picklist") or []],
        "default": spec.get("default"),
        "defaulted_on_create": spec.get("default") is not None or ftype == "boolean",
    }
    if raw_type == "longtextarea":
        kw["length"] = int(spec.get("length", 32768))
    elif "length" in spec:
        kw["length"] = int(spec["length"])
    elif ftype in DEFAULT_LENGTHS:
        kw["length"] = DEFAULT_LENGTHS[ftype]
    if "precision" in spec:
        kw["precision"] = int(spec["precision"])
        kw["scale"] = int(spec.get("scale", 0))
    if ftype == "reference":
        targets = spec.get("reference_to")
        if isinstance(targets, str):
            targets = [targets]
        if not targets:
            raise ConfigError(f"{at}: a {raw_type} field needs reference_to")
        kw["reference_to"] = list(targets)
        kw["relationship_name"] = spec.get("relationship_name") or name[:-3] + "__r"
        kw["child_relationship"] = (
            spec.get("child_relationship_name") or obj.label_plural.replace(" ", "_") + "__r"
        )
        constraint = "cascade" if master else spec.get("delete_constraint", "set_null")
        if constraint not in ("set_null", "restrict", "cascade"):
            raise ConfigError(f"{at}: delete_constraint must be set_null, restrict or cascade")
        kw["delete_constraint"] = constraint
        if master:
            kw["updateable"] = bool(spec.get("reparentable", False))
    if kw["external_id"] and ftype not in ("string", "email", "int", "double"):
        raise ConfigError(f"{at}: only text, email and number fields can be external IDs")
    return Field(name, ftype, **kw)
