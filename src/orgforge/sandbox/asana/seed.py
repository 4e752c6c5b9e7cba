"""What a fresh Asana sandbox holds: one workspace, its teams, users with tokens, custom fields.

From ``--users N`` (N people from a fixed list, spread over the teams) or a small YAML file:

    workspace:
      name: Northwind Labs
      email_domain: northwind.test
      premium: true            # custom fields and search; false answers those with 402
    teams: [Marketing, Sales, Customer Success]
    users:
      - name: Ada Park
        token: ada-dev-token   # optional: a random token otherwise
        teams: [Marketing]     # optional: every team otherwise
      - name: Ben Ortiz
    custom_fields:             # premium workspaces only
      - {name: Priority, type: enum, options: [Low, Medium, High]}
      - {name: Estimate, type: number, precision: 1}
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orgforge.clock import REAL, Clock
from orgforge.errors import ConfigError
from orgforge.sandbox.asana.store import Store, now_iso

PEOPLE = (
    "Ada Park",
    "Ben Ortiz",
    "Chloe Nakamura",
    "Dev Patel",
    "Elena Rossi",
    "Farid Haddad",
    "Grace Kim",
    "Hugo Laurent",
    "Imani Brooks",
    "Jonas Berg",
    "Kira Novak",
    "Luis Mendes",
    "Maya Cohen",
    "Noah Williams",
    "Olga Ivanova",
    "Priya Raman",
)
DEFAULT_TEAMS = ("Marketing", "Sales", "Customer Success")
SEED_TYPES = ("workspace", "team", "user", "custom_field")


@dataclass
class SeedUser:
    name: str
    email: str
    token: str | None = None
    teams: list[str] | None = None


@dataclass
class Seed:
    workspace: str = "orgforge sandbox"
    email_domain: str = "orgforge.test"
    premium: bool = True
    teams: list[str] = field(default_factory=lambda: list(DEFAULT_TEAMS))
    users: list[SeedUser] = field(default_factory=list)
    custom_fields: list[dict[str, Any]] = field(default_factory=list)


def persona(name: str) -> str:
    """The env-var suffix for a person: 'Ada Park' → 'ADA_PARK' (ORGFORGE_ASANA_TOKEN__ADA_PARK)."""
    return re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_")


def _email(name: str, domain: str) -> str:
    return re.sub(r"[^a-z0-9]+", ".", name.lower()).strip(".") + "@" + domain


def default_seed(users: int, premium: bool = True) -> Seed:
    if not 1 <= users <= len(PEOPLE):
        raise ConfigError(
            f"--users {users}: must be between 1 and {len(PEOPLE)}",
            "Use a seed file (--seed-file) for other people.",
        )
    seed = Seed(premium=premium)
    for i, name in enumerate(PEOPLE[:users]):
        # The first person is in every team (the admin); the others in one team each.
        teams = None if i == 0 else [seed.teams[(i - 1) % len(seed.teams)]]
        seed.users.append(SeedUser(name, _email(name, seed.email_domain), teams=teams))
    return seed


def load_seed(path: Path, premium: bool | None = None) -> Seed:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"--seed-file {path}: cannot read it ({exc.strerror})", "Check the path."
        ) from exc
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise ConfigError(
            f"{path}{where}: not valid YAML", "See docs/asana.md for the seed file format."
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top", "See docs/asana.md.")
    unknown = set(raw) - {"workspace", "teams", "users", "custom_fields"}
    if unknown:
        raise ConfigError(
            f"{path}: unknown key '{sorted(unknown)[0]}'",
            "Known: workspace, teams, users, custom_fields.",
        )
    ws = raw.get("workspace") or {}
    if not isinstance(ws, dict):
        raise ConfigError(f"{path}: workspace must be a mapping", "See docs/asana.md.")
    seed = Seed(
        workspace=str(ws.get("name", Seed.workspace)),
        email_domain=str(ws.get("email_domain", Seed.email_domain)),
        premium=bool(ws.get("premium", True)) if premium is None else premium,
    )
    teams = raw.get("teams", list(DEFAULT_TEAMS))
    if not isinstance(teams, list) or not all(isinstance(t, str) and t for t in teams):
        raise ConfigError(f"{path}: teams must be a list of names", "e.g. teams: [Marketing]")
    seed.teams = teams
    users = raw.get("users") or []
    if not isinstance(users, list) or not users:
        raise ConfigError(f"{path}: users must list at least one person", "users: [{name: Ada}]")
    for i, entry in enumerate(users):
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, dict) or not entry.get("name"):
            raise ConfigError(f"{path}: users[{i}].name is missing", "Each user needs a name.")
        user_teams = entry.get("teams")
        for team in user_teams or []:
            if team not in seed.teams:
                raise ConfigError(
                    f"{path}: users[{i}].teams: unknown team '{team}'",
                    f"Teams: {', '.join(seed.teams)}.",
                )
        seed.users.append(
            SeedUser(
                name=str(entry["name"]),
                email=str(entry.get("email") or _email(str(entry["name"]), seed.email_domain)),
                token=str(entry["token"]) if entry.get("token") else None,
                teams=user_teams,
            )
        )
    fields = raw.get("custom_fields") or []
    for i, cf in enumerate(fields):
        if not isinstance(cf, dict) or not cf.get("name"):
            raise ConfigError(f"{path}: custom_fields[{i}].name is missing", "See docs/asana.md.")
        if cf.get("type", "text") not in ("text", "number", "enum", "multi_enum", "date"):
            raise ConfigError(
                f"{path}: custom_fields[{i}].type '{cf.get('type')}' is not supported",
                "Use text, number, enum, multi_enum or date.",
            )
    seed.custom_fields = fields
    return seed


def apply_seed(
    store: Store, seed: Seed, first_token: str | None = None, clock: Clock = REAL
) -> None:
    """Create the seed in an empty store (an existing sandbox file keeps what it has)."""
    if store.get_meta("seeded"):
        if first_token:
            first = store.of_type("user")[0]
            store.add_token(first_token, first["gid"])
        return
    ws = str(
        store.insert(
            "workspace",
            {
                "name": seed.workspace,
                "email_domains": [seed.email_domain],
                "is_organization": True,
                "_premium": seed.premium,
            },
        )
    )
    teams = {
        name: str(
            store.insert(
                "team",
                {
                    "name": name,
                    "description": "",
                    "html_description": "",
                    "organization": ws,
                    "visibility": "request_to_join",
                },
            )
        )
        for name in seed.teams
    }
    for i, user in enumerate(seed.users):
        gid = str(store.insert("user", {"name": user.name, "email": user.email, "photo": None}))
        store.link("ws_member", gid, ws)
        for team in user.teams if user.teams is not None else seed.teams:
            store.link("member", gid, teams[team])
        token = (first_token if i == 0 else None) or user.token or _new_token(gid)
        store.add_token(token, gid)
    creator = store.of_type("user")[0]["gid"]
    for cf in seed.custom_fields:
        subtype = cf.get("type", "text")
        store.insert(
            "custom_field",
            {
                "name": cf["name"],
                "resource_subtype": subtype,
                "description": str(cf.get("description", "")),
                "enum_options": [
                    {
                        "gid": str(store.new_gid()),
                        "resource_type": "enum_option",
                        "name": str(option),
                        "color": "none",
                        "enabled": True,
                    }
                    for option in cf.get("options", [])
                ],
                "precision": int(cf.get("precision", 0)) if subtype == "number" else None,
                "is_global_to_workspace": True,
                "created_by": creator,
                "workspace": ws,
            },
        )
    store.set_meta("seeded", now_iso(clock))


def _new_token(user_gid: str) -> str:
    """Looks like an Asana personal access token: 2/<user gid>/<id>:<secret>."""
    return f"2/{user_gid}/{secrets.randbelow(10**16):016d}:{secrets.token_hex(16)}"
