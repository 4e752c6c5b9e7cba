"""What a load will send, checked against the org's own describe: ``orgforge validate``.

For every object orgforge writes: the fields exist and are createable (a missing field is an
error, unless listed in ``salesforce.skip_fields``), fields the org requires are set, our
picklist values exist in the org (otherwise they are mapped: same value ignoring case, else a
known synonym (``New Business`` → ``New Customer``, ``Demo`` → ``Meeting``), else ``Other``,
else the field's default, else the first active value, else left empty — with a warning), and which
key mode applies (``upsert`` / ``key`` / ``none``, see the package docstring). Owners are mapped
onto the org's active users. Nothing is written.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from orgforge.config import SalesforceConfig
from orgforge.errors import ConfigError
from orgforge.schema import salesforce as sf
from orgforge.targets.salesforce.client import SalesforceClient, soql_quote

AUDIT_FIELDS = ("CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById")
"""A record's history: createable only with "Set Audit Fields upon Record Creation"."""
AUDIT_HINT = (
    "to keep the world's dates, enable Setup → User Interface → 'Enable \"Set Audit Fields "
    'upon Record Creation" and "Update Records with Inactive Owners" User Permissions\', '
    "then give the loading user the 'Set Audit Fields upon Record Creation' permission "
    "(a permission set); audit fields can only be set when a record is created"
)

LOAD_OBJECTS: tuple[str, ...] = tuple(
    n for n in sf.GENERATED if n not in sf.ORG_SETUP and n not in sf.NOT_LOADED
)
"""Objects a load writes, parents first. Users (and their roles) are mapped onto the org's
users, not created; sf.NOT_LOADED says why the others aren't loaded."""

# Fields compared to find a record whose create answer was lost (key mode ``none``).
FINGERPRINT_TYPES = {"string", "picklist", "email", "phone", "url", "reference", "date"}
# One indexed-ish field per object that narrows the reconciliation query.
NARROW_FIELD = {
    "Account": "Name",
    "Contact": "LastName",
    "Opportunity": "Name",
    "OpportunityContactRole": "OpportunityId",
    "Case": "AccountId",
    "CaseComment": "ParentId",
    "Task": "Subject",
    "Event": "Subject",
}


SYNONYMS = {
    "New Business": "New Customer",  # Opportunity.Type in a default org
    "Existing Customer - Upgrade": "Existing Customer - Upgrade",
    "Demo": "Meeting",  # Event.Type in orgs without a Demo value
    "Meeting Prep": "Other",
}
"""orgforge picklist value → the value a default org is likely to have instead."""


@dataclass
class ObjectPlan:
    name: str
    fields: list[str]  # fields sent, in schema order (lookups and OwnerId included)
    key_mode: str  # upsert | key | none
    picklist_map: dict[str, dict[str, str | None]] = field(default_factory=dict)
    fingerprint: list[str] = field(default_factory=list)
    org_types: dict[str, str] = field(default_factory=dict)
    updateable: list[str] = field(default_factory=list)  # of ``fields``: what an update may send
    audit: list[str] = field(default_factory=list)  # audit fields the world has, sent on create

    @property
    def sends_key(self) -> bool:
        return self.key_mode in ("upsert", "key")


@dataclass
class Plan:
    target: str
    org_id: str
    user_id: str
    username: str
    instance_url: str
    api_version: str
    objects: dict[str, ObjectPlan]
    owners: dict[str, str]  # orgforge User key → org user Id
    owner_names: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    limits: dict[str, Any] = field(default_factory=dict)
    owner_how: dict[str, str] = field(default_factory=dict)  # world user key → how it was mapped

    @property
    def remaining_requests(self) -> int | None:
        daily = self.limits.get("DailyApiRequests") or {}
        value = daily.get("Remaining")
        return int(value) if value is not None else None


def target_name(client: SalesforceClient) -> str:
    return f"salesforce:{client.org_id or client.instance_url}"


def _skip_set(settings: SalesforceConfig) -> set[str]:
    return set(settings.skip_fields)


def build_plan(
    client: SalesforceClient, settings: SalesforceConfig, users: dict[str, str] | list[str]
) -> Plan:
    """Describe the org and decide what each object sends; errors collected, not raised."""
    plan = Plan(
        target=target_name(client),
        org_id=client.org_id,
        user_id=client.user_id,
        username=str(client.identity.get("username") or ""),
        instance_url=client.instance_url,
        api_version=settings.api_version,
        objects={},
        owners={},
        owner_names={},
    )
    skip = _skip_set(settings)
    audit_off: list[str] = []
    for name in LOAD_OBJECTS:
        obj = sf.get(name)
        try:
            describe = client.describe(name)
        except Exception as exc:  # an org without the object (e.g. no Cases): an error
            code = getattr(exc, "code", exc.__class__.__name__)
            plan.errors.append(f"{name}: can't describe the object ({code})")
            continue
        org_fields = {f["name"]: f for f in describe.get("fields", [])}
        if not describe.get("createable", True):
            plan.errors.append(f"{name}: the object is not createable for {plan.username}")
        sent: list[str] = []
        picklists: dict[str, dict[str, str | None]] = {}
        for f in obj.fields:
            if not f.createable or f"{name}.{f.name}" in skip:
                continue
            org = org_fields.get(f.name)
            if org is None:
                plan.errors.append(f"{name}.{f.name}: the field does not exist in the org")
                continue
            if not org.get("createable"):
                plan.errors.append(
                    f"{name}.{f.name}: the field is not createable for {plan.username} "
                    "(field-level security or a formula field)"
                )
                continue
            sent.append(f.name)
            if (
                f.picklist
                and org.get("picklistValues") is not None
                and org.get("type")
                in (
                    "picklist",
                    "multipicklist",
                )
            ):
                mapping = _map_picklist(name, f, org, plan.warnings)
                if mapping:
                    picklists[f.name] = mapping
        for org_name, org in org_fields.items():
            if (
                org.get("createable")
                and not org.get("nillable", True)
                and not org.get("defaultedOnCreate", False)
                and org.get("type") != "boolean"
                and org_name not in sent
                and org_name not in ("OwnerId", sf.KEY_FIELD)
            ):
                plan.errors.append(
                    f"{name}.{org_name}: the org requires this field and orgforge doesn't set it"
                )
        key = org_fields.get(sf.KEY_FIELD)
        mode = _key_mode(name, key, settings.external_id, plan)
        fingerprint = [
            n
            for n in sent
            if obj.field(n).type in FINGERPRINT_TYPES and n != "OwnerId" and n != "Id"
        ]
        plan.objects[name] = ObjectPlan(
            name,
            sent,
            mode,
            picklists,
            fingerprint,
            {n: str(org_fields[n].get("type")) for n in sent},
            [n for n in sent if org_fields[n].get("updateable", True)],
        )
        world_audit = [n for n in AUDIT_FIELDS if n in obj.field_names]
        if world_audit:
            allowed = [n for n in world_audit if (org_fields.get(n) or {}).get("createable")]
            plan.objects[name].audit = allowed
            if len(allowed) < len(world_audit):
                audit_off.append(name)
    if audit_off:  # said once for the whole load, not per object or record
        plan.warnings.append(
            f"audit fields: {plan.username or 'the loading user'} can't set CreatedDate/"
            f"CreatedById ({', '.join(audit_off)}): records will look created today; " + AUDIT_HINT
        )
    if not isinstance(users, dict):
        users = dict.fromkeys(users, "")
    _map_owners(client, settings, users, plan)
    try:
        plan.limits = client.limits()
    except Exception as exc:
        plan.warnings.append(f"limits: can't read /limits ({exc})")
    return plan


def _key_mode(name: str, key: dict | None, wanted: str, plan: Plan) -> str:
    usable = bool(key and key.get("createable"))
    external = bool(usable and key and key.get("externalId"))
    if wanted == "auto":
        return "upsert" if external else ("key" if usable and key.get("filterable") else "none")
    if wanted == "upsert" and not external:
        plan.errors.append(
            f"{name}.{sf.KEY_FIELD}: external_id is 'upsert' but the org has no such "
            "external-ID field"
        )
    if wanted == "key" and not usable:
        plan.errors.append(f"{name}.{sf.KEY_FIELD}: external_id is 'key' but the field is missing")
    return wanted


def _map_picklist(
    name: str, f: sf.Field, org: dict[str, Any], warnings: list[str]
) -> dict[str, str | None]:
    active = [p["value"] for p in org["picklistValues"] if p.get("active", True)]
    if not active:
        return {}
    by_lower = {v.lower(): v for v in active}
    default = next(
        (p["value"] for p in org["picklistValues"] if p.get("defaultValue") and p.get("active")),
        None,
    )
    mapping: dict[str, str | None] = {}
    for value in f.picklist:
        if value in active:
            continue
        if value.lower() in by_lower:
            mapping[value] = by_lower[value.lower()]
        elif SYNONYMS.get(value) in active:
            mapping[value] = SYNONYMS[value]
        elif "Other" in active:
            mapping[value] = "Other"
        elif default:
            mapping[value] = default
        elif f.required or not org.get("nillable", True):
            mapping[value] = active[0]
        else:
            mapping[value] = None
        target = repr(mapping[value]) if mapping[value] is not None else "(left empty)"
        warnings.append(f"{name}.{f.name}: the org has no value {value!r}; sending {target}")
    return mapping


def _org_users(client: SalesforceClient) -> list[dict[str, Any]]:
    soql = (
        "SELECT Id, Username, Title FROM User WHERE IsActive = true AND UserType = 'Standard' "
        "ORDER BY Username"
    )
    try:
        return list(client.query_all(soql))
    except Exception:  # an org whose users have no UserType (or the field is hidden)
        soql = "SELECT Id, Username, Title FROM User WHERE IsActive = true ORDER BY Username"
        return list(client.query_all(soql))


def _map_owners(
    client: SalesforceClient, settings: SalesforceConfig, users: dict[str, str], plan: Plan
) -> None:
    """World Users (key → role, their Title) → the org's active users, deterministically.

    First ``salesforce.owners``: a world user key, else the user's role, → an org user's
    Username or Id. Then by ``owner_mapping``: ``role`` (default) — the org's active users with
    the same Title, a role's world users spread over them in Username order; ``running-user``
    — the loading user; ``round-robin`` — every active user in turn. A world user nothing maps
    is owned by the loading user, and validate and load say so (never silently)."""
    org_users = _org_users(client)
    by_id = {str(u["Id"])[:15]: u for u in org_users}
    by_name = {str(u["Username"]).lower(): u for u in org_users}
    by_role: dict[str, list[dict[str, Any]]] = {}
    for user in org_users:
        if user.get("Title"):
            by_role.setdefault(str(user["Title"]).strip().lower(), []).append(user)
    roles = {str(r).strip().lower() for r in users.values() if r}
    wanted = {str(k).strip().lower(): v for k, v in settings.owners.items()}
    for key, who in settings.owners.items():
        if key not in users and key.strip().lower() not in roles:
            plan.errors.append(
                f"salesforce.owners.{key}: the world has no user or role {key!r} "
                "(keys look like User/03; roles are the users' titles)"
            )
        elif (by_id.get(who[:15]) if len(who) in (15, 18) else None) is None and (
            who.lower() not in by_name
        ):
            plan.errors.append(
                f"salesforce.owners.{key}: no active user {who!r} in the org "
                f"(query: Username = {soql_quote(who)})"
            )
    running = (client.user_id, plan.username)
    seen: Counter[str] = Counter()
    unmapped: dict[str, int] = {}
    for index, (key, role) in enumerate(sorted(users.items())):
        role_key = str(role or "").strip().lower()
        who = settings.owners.get(key) or wanted.get(role_key)
        target = None
        if who:
            found = (by_id.get(who[:15]) if len(who) in (15, 18) else None) or by_name.get(
                who.lower()
            )
            target = (found["Id"], found["Username"]) if found else None
            how = "salesforce.owners"
        elif settings.owner_mapping == "running-user":
            target, how = running, "running user"
        elif settings.owner_mapping == "round-robin" and org_users:
            chosen = org_users[index % len(org_users)]
            target, how = (chosen["Id"], chosen["Username"]), "round-robin"
        elif by_role.get(role_key):
            candidates = by_role[role_key]
            chosen = candidates[seen[role_key] % len(candidates)]
            seen[role_key] += 1
            target, how = (chosen["Id"], chosen["Username"]), f"role {role}"
        if target is None:
            target, how = running, "running user (unmapped)"
            if not who:
                unmapped[str(role or "(no title)")] = unmapped.get(str(role or "(no title)"), 0) + 1
        plan.owners[key], plan.owner_names[key] = target
        plan.owner_how[key] = how
    if unmapped:
        listed = ", ".join(f"{role} ({n})" for role, n in sorted(unmapped.items()))
        plan.warnings.append(
            f"owners: no active user in the org has the role {listed}: those world users' "
            f"records will be owned by {plan.username or 'the loading user'}; map them in "
            "config, e.g. salesforce.owners: {'Sales Director': 'someone@your.org'}"
        )


def estimate_requests(
    counts: dict[str, int],
    apis: dict[str, str],
    batch_size: int,
    updates: dict[str, int] | None = None,
) -> int:
    """HTTP requests a load will use: REST ⌈n/batch⌉ per object, Bulk ~6 per object, for the
    creates and again for the updates."""
    total = 4  # userinfo, limits, users query, slack
    for work in (counts, updates or {}):
        for name, count in work.items():
            if not count:
                continue
            if apis.get(name) == "bulk":
                total += 6
            else:
                total += math.ceil(count / batch_size)
    return total + len(counts)  # describes


def raise_if_errors(plan: Plan) -> None:
    if plan.errors:
        more = f" (and {len(plan.errors) - 1} more)" if len(plan.errors) > 1 else ""
        raise ConfigError(
            f"salesforce org {plan.org_id or plan.instance_url}: {plan.errors[0]}{more}",
            "Create the field in the org (Setup → Object Manager) or list it in "
            "salesforce.skip_fields; `orgforge validate --target salesforce` lists every problem.",
        )


def summarize_warnings(warnings: list[str]) -> list[str]:
    counts = Counter(warnings)
    return [w if n == 1 else f"{w} (x{n})" for w, n in counts.items()]
