"""The org's own metadata: objects, fields, picklists and relationships, and their describe output.

The sandbox is an org, not a mirror of orgforge: it ships describe data for the standard objects
it serves (Account, Contact, Opportunity, OpportunityContactRole, Case, CaseComment, Task, Event,
EventRelation, Lead, User) as a data file, ``data/standard_objects.yaml``, and adds custom fields
and objects from a schema file (see :mod:`orgforge.sandbox.salesforce.schema_file`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

# Field types and the SOAP type describe reports for each.
SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "string": "xsd:string",
    "textarea": "xsd:string",
    "picklist": "xsd:string",
    "multipicklist": "xsd:string",
    "phone": "xsd:string",
    "email": "xsd:string",
    "url": "xsd:string",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
}
TEXT_TYPES = {"string", "textarea", "picklist", "multipicklist", "phone", "email", "url"}
NUMBER_TYPES = {"int", "double", "currency", "percent"}
DEFAULT_LENGTHS = {
    "string": 255,
    "textarea": 32000,
    "picklist": 255,
    "multipicklist": 4099,
    "phone": 40,
    "email": 80,
    "url": 255,
    "id": 18,
    "reference": 18,
}


@dataclass
class Field:
    name: str
    type: str
    label: str = ""
    length: int = 0
    precision: int = 0
    scale: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    defaulted_on_create: bool = False
    default: Any = None
    picklist: list[str] = field(default_factory=list)
    picklist_default: str | None = None
    restricted: bool = False
    reference_to: list[str] = field(default_factory=list)
    relationship_name: str | None = None
    child_relationship: str | None = None  # name of the parent's child relationship
    delete_constraint: str = "set_null"  # set_null | cascade | restrict
    external_id: bool = False
    unique: bool = False
    case_sensitive: bool = False
    id_lookup: bool = False
    custom: bool = False
    calculated: bool = False
    name_field: bool = False
    auto_number: bool = False
    html_formatted: bool = False

    def __post_init__(self) -> None:
        if not self.label:
            self.label = _label(self.name)
        if not self.length and self.type in DEFAULT_LENGTHS:
            self.length = DEFAULT_LENGTHS[self.type]
        if self.type == "currency" and not self.precision:
            self.precision, self.scale = 18, 2
        if self.type == "double" and not self.precision:
            self.precision, self.scale = 18, 0
        if self.type == "percent" and not self.precision:
            self.precision, self.scale = 3, 0
        if self.type == "int" and not self.precision:
            self.precision = 9
        if self.external_id or self.unique or self.type == "id":
            self.id_lookup = True

    @property
    def polymorphic(self) -> bool:
        return len(self.reference_to) > 1

    @property
    def required(self) -> bool:
        return not self.nillable and self.createable and not self.defaulted_on_create

    def describe(self) -> dict[str, Any]:
        is_text = self.type in TEXT_TYPES or self.type in ("id", "reference")
        return {
            "aggregatable": self.type not in ("textarea",),
            "autoNumber": self.auto_number,
            "byteLength": self.length * 3 if is_text else 0,
            "calculated": self.calculated,
            "cascadeDelete": self.delete_constraint == "cascade",
            "caseSensitive": self.case_sensitive,
            "createable": self.createable,
            "custom": self.custom,
            "defaultValue": self.default if not isinstance(self.default, bool) else None,
            "defaultedOnCreate": self.defaulted_on_create,
            "dependentPicklist": False,
            "deprecatedAndHidden": False,
            "digits": self.precision if self.type == "int" else 0,
            "externalId": self.external_id,
            "filterable": self.type != "textarea" or self.length <= 255,
            "groupable": self.type not in ("double", "currency", "percent", "textarea"),
            "htmlFormatted": self.html_formatted,
            "idLookup": self.id_lookup,
            "label": self.label,
            "length": self.length if is_text else 0,
            "name": self.name,
            "nameField": self.name_field,
            "nillable": self.nillable,
            "permissionable": self.nillable and self.createable and not self.name_field,
            "picklistValues": [
                {
                    "active": True,
                    "defaultValue": value == self.picklist_default,
                    "label": value,
                    "validFor": None,
                    "value": value,
                }
                for value in self.picklist
            ],
            "polymorphicForeignKey": self.polymorphic,
            "precision": self.precision if self.type in ("double", "currency", "percent") else 0,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "relationshipOrder": None,
            "restrictedDelete": self.delete_constraint == "restrict",
            "restrictedPicklist": self.restricted,
            "scale": self.scale if self.type in ("double", "currency", "percent") else 0,
            "soapType": SOAP_TYPES[self.type],
            "sortable": self.type != "textarea" or self.length <= 255,
            "type": self.type,
            "unique": self.unique,
            "updateable": self.updateable,
        }


@dataclass
class SObject:
    name: str
    key_prefix: str
    label: str
    label_plural: str
    fields: dict[str, Field] = field(default_factory=dict)
    custom: bool = False
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    # lower-case name → canonical field name; relationship name (lower) → field
    _by_lower: dict[str, str] = field(default_factory=dict, repr=False)
    _by_relationship: dict[str, str] = field(default_factory=dict, repr=False)

    def add(self, f: Field) -> None:
        self.fields[f.name] = f
        self._by_lower[f.name.lower()] = f.name
        if f.relationship_name:
            self._by_relationship[f.relationship_name.lower()] = f.name

    def field(self, name: str) -> Field | None:
        canonical = self._by_lower.get(name.lower())
        return self.fields[canonical] if canonical else None

    def relationship(self, name: str) -> Field | None:
        canonical = self._by_relationship.get(name.lower())
        return self.fields[canonical] if canonical else None

    @property
    def name_field(self) -> Field | None:
        return next((f for f in self.fields.values() if f.name_field), None)

    def urls(self, version: str) -> dict[str, str]:
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {
            "compactLayouts": f"{base}/describe/compactLayouts",
            "rowTemplate": f"{base}/{{ID}}",
            "approvalLayouts": f"{base}/describe/approvalLayouts",
            "defaultValues": f"{base}/defaultValues?recordTypeId&fields",
            "listviews": f"{base}/listviews",
            "describe": f"{base}/describe",
            "quickActions": f"{base}/quickActions",
            "layouts": f"{base}/describe/layouts",
            "sobject": base,
        }

    def global_describe(self, version: str) -> dict[str, Any]:
        return {
            "activateable": False,
            "createable": self.createable,
            "custom": self.custom,
            "customSetting": False,
            "deepCloneable": False,
            "deletable": self.deletable,
            "deprecatedAndHidden": False,
            "feedEnabled": False,
            "hasSubtypes": False,
            "isInterface": False,
            "isSubtype": False,
            "keyPrefix": self.key_prefix,
            "label": self.label,
            "labelPlural": self.label_plural,
            "layoutable": True,
            "mergeable": self.name in ("Account", "Contact", "Lead", "Case"),
            "mruEnabled": True,
            "name": self.name,
            "queryable": True,
            "replicateable": True,
            "retrieveable": True,
            "searchable": True,
            "triggerable": True,
            "undeletable": self.deletable,
            "updateable": self.updateable,
            "urls": self.urls(version),
        }


def _label(name: str) -> str:
    base = name.removesuffix("__c").replace("_", " ")
    if base.endswith("Id") and len(base) > 2:
        base = base[:-2] + " ID"
    out = []
    for i, char in enumerate(base):
        if i and char.isupper() and base[i - 1].islower():
            out.append(" ")
        out.append(char)
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Standard objects

OPPORTUNITY_STAGES: dict[str, tuple[int, str, bool, bool]] = {
    # stage: (default probability, forecast category name, closed, won)
    "Prospecting": (10, "Pipeline", False, False),
    "Qualification": (10, "Pipeline", False, False),
    "Needs Analysis": (20, "Pipeline", False, False),
    "Value Proposition": (50, "Pipeline", False, False),
    "Id. Decision Makers": (60, "Pipeline", False, False),
    "Perception Analysis": (70, "Pipeline", False, False),
    "Proposal/Price Quote": (75, "Pipeline", False, False),
    "Negotiation/Review": (90, "Pipeline", False, False),
    "Closed Won": (100, "Closed", True, True),
    "Closed Lost": (0, "Omitted", True, False),
}
FORECAST_CATEGORY = {
    "Omitted": "Omitted",
    "Pipeline": "Pipeline",
    "Best Case": "BestCase",
    "Commit": "Forecast",
    "Closed": "Closed",
}
CASE_CLOSED = {"Closed"}
TASK_CLOSED = {"Completed"}

SYSTEM_FIELDS = (
    "IsDeleted",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
)


def _system_fields(obj: SObject) -> None:
    ro = {"createable": False, "updateable": False, "nillable": False, "defaulted_on_create": True}
    obj.add(Field("Id", "id", label=f"{obj.label} ID", **ro))
    obj.add(Field("IsDeleted", "boolean", label="Deleted", **ro))
    obj.add(Field("CreatedDate", "datetime", label="Created Date", **ro))
    obj.add(
        Field(
            "CreatedById",
            "reference",
            label="Created By ID",
            reference_to=["User"],
            relationship_name="CreatedBy",
            **ro,
        )
    )
    obj.add(Field("LastModifiedDate", "datetime", label="Last Modified Date", **ro))
    obj.add(
        Field(
            "LastModifiedById",
            "reference",
            label="Last Modified By ID",
            reference_to=["User"],
            relationship_name="LastModifiedBy",
            **ro,
        )
    )
    obj.add(Field("SystemModstamp", "datetime", label="System Modstamp", **ro))


def _owner(obj: SObject, refs: list[str] | None = None, child: str | None = None) -> None:
    obj.add(
        Field(
            "OwnerId",
            "reference",
            label="Owner ID",
            reference_to=refs or ["User"],
            relationship_name="Owner",
            child_relationship=child,
            nillable=False,
            defaulted_on_create=True,
        )
    )


STANDARD_OBJECTS_FILE = "data/standard_objects.yaml"
"""The standard objects' describe data: per object its key prefix, labels and flags, and per
field what differs from a plain ``Field(name, type)`` (the system fields every object has are
added by :func:`_system_fields`)."""


@cache
def _standard_data() -> dict[str, Any]:
    text = (resources.files(__package__) / STANDARD_OBJECTS_FILE).read_text(encoding="utf-8")
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def standard_objects() -> dict[str, SObject]:
    """Fresh definitions of the standard objects (callers may add custom fields to them)."""
    objs: dict[str, SObject] = {}
    for name, spec in _standard_data().items():
        flags = {
            k: spec[k] for k in ("custom", "createable", "updateable", "deletable") if k in spec
        }
        obj = SObject(name, spec["prefix"], spec["label"], spec["plural"], **flags)
        _system_fields(obj)
        for field_name, attrs in spec["fields"].items():
            options = {k: list(v) if isinstance(v, list) else v for k, v in attrs.items()}
            obj.add(Field(field_name, options.pop("type"), **options))
        objs[name] = obj
    return objs


CHILD_RELATIONSHIP_NAMES = {
    # (child object, field) → relationship name on the parent for polymorphic activity lookups
    ("Task", "WhatId"): "Tasks",
    ("Task", "WhoId"): "Tasks",
    ("Event", "WhatId"): "Events",
    ("Event", "WhoId"): "Events",
}


class Metadata:
    """All objects of the org, by name and by key prefix."""

    def __init__(self, objects: dict[str, SObject]) -> None:
        self.objects = objects
        self._by_lower = {name.lower(): name for name in objects}
        self._by_prefix = {o.key_prefix: name for name, o in objects.items()}

    def get(self, name: str) -> SObject | None:
        canonical = self._by_lower.get(name.lower())
        return self.objects[canonical] if canonical else None

    def by_prefix(self, prefix: str) -> SObject | None:
        name = self._by_prefix.get(prefix)
        return self.objects[name] if name else None

    def children_of(self, parent: str) -> list[tuple[SObject, Field, str | None]]:
        """Every (child object, lookup field, relationship name) whose lookup points at parent."""
        out = []
        for obj in self.objects.values():
            for f in obj.fields.values():
                if (
                    f.type == "reference"
                    and parent in f.reference_to
                    and f.name
                    not in (
                        "CreatedById",
                        "LastModifiedById",
                    )
                ):
                    rel = f.child_relationship or CHILD_RELATIONSHIP_NAMES.get((obj.name, f.name))
                    out.append((obj, f, rel))
        return out

    def describe(self, name: str, version: str) -> dict[str, Any]:
        obj = self.objects[name]
        info = obj.global_describe(version)
        info.update(
            {
                "actionOverrides": [],
                "childRelationships": [
                    {
                        "cascadeDelete": f.delete_constraint == "cascade",
                        "childSObject": child.name,
                        "deprecatedAndHidden": False,
                        "field": f.name,
                        "junctionIdListNames": [],
                        "junctionReferenceTo": [],
                        "relationshipName": rel,
                        "restrictedDelete": f.delete_constraint == "restrict",
                    }
                    for child, f, rel in self.children_of(name)
                ],
                "compactLayoutable": True,
                "fields": [f.describe() for f in obj.fields.values()],
                "listviewable": None,
                "lookupLayoutable": None,
                "namedLayoutInfos": [],
                "networkScopeFieldName": None,
                "recordTypeInfos": [
                    {
                        "active": True,
                        "available": True,
                        "defaultRecordTypeMapping": True,
                        "developerName": "Master",
                        "master": True,
                        "name": "Master",
                        "recordTypeId": "012000000000000AAA",
                        "urls": {
                            "layout": f"/services/data/v{version}/sobjects/{name}/describe/"
                            "layouts/012000000000000AAA"
                        },
                    }
                ],
                "searchLayoutable": True,
                "supportedScopes": [
                    {"label": "All " + obj.label_plural.lower(), "name": "everything"}
                ],
                "sobjectDescribeOption": "FULL",
            }
        )
        return info
