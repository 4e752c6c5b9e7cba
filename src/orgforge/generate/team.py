"""The sales org as data: the team file (roles, territories, working hours) and its Users.

The team file (``packs/data/_team.yaml`` by default, ``generate.team`` to replace it) lists the
UserRole hierarchy and the territories. The Users are drawn from it per run: a role has
``count`` users at the prd preset and one more per ``accounts_per_user`` accounts beyond that.
A user hired for growth only takes accounts from the index they were hired at, so growing a
world keeps the first accounts' owners (prefix stability), and user keys are numbered in
hiring order (``User/01``, …) for the same reason.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path
from random import Random

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from orgforge.config import line_of
from orgforge.errors import PackError
from orgforge.generate.distributions import stream
from orgforge.generate.pools import Pools

JOBS = ("owner", "sdr", "se", "csm", "support", "manager")
"""What a role does in the generated history (see team.yaml)."""
HISTORY_START_DAYS = 2000
"""Every User exists this many days before as_of: before the oldest account (see accounts.py)."""
BUILTIN_TEAM = "_team.yaml"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Territory(_Model):
    name: str = Field(min_length=1, max_length=80)
    time_zone: str
    covers: list[str] = Field(min_length=1)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value


class Role(_Model):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=1, max_length=80)
    parent: str | None = None
    job: str
    titles: list[str] = Field(min_length=1)
    department: str = "Sales"
    count: int = Field(ge=1, le=500)
    accounts_per_user: int = Field(0, ge=0)

    @field_validator("job")
    @classmethod
    def _job(cls, value: str) -> str:
        if value not in JOBS:
            raise ValueError(f"unknown job {value!r}; one of {', '.join(JOBS)}")
        return value


class TeamFile(_Model):
    domain: str = Field(pattern=r"^[a-z0-9.-]+\.[a-z]+$")
    working_hours: tuple[int, int] = (8, 18)
    territories: list[Territory] = Field(min_length=1)
    roles: list[Role] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> TeamFile:
        start, end = self.working_hours
        if not (0 <= start < end <= 24) or end - start < 2:
            raise ValueError(f"working_hours must be [start, end] within 0-24, got {[start, end]}")
        seen: set[str] = set()
        for role in self.roles:
            if role.id in seen:
                raise ValueError(f"role {role.id!r} is listed twice")
            if role.parent is not None and role.parent not in seen:
                raise ValueError(
                    f"role {role.id!r}: parent {role.parent!r} must be listed above it"
                )
            seen.add(role.id)
        jobs = {role.job for role in self.roles}
        missing = [job for job in JOBS if job not in jobs]
        if missing:
            raise ValueError(f"no role does {', '.join(missing)}; every job needs a role")
        owners = sum(role.count for role in self.roles if role.job == "owner")
        if owners < len(self.territories):
            raise ValueError(
                f"{owners} account owner(s) for {len(self.territories)} territories; "
                "every territory needs one"
            )
        return self


@dataclass(frozen=True, slots=True)
class TeamUser:
    key: str
    seq: int
    role: str  # role id
    job: str
    first: str
    last: str
    email: str
    title: str
    department: str
    territory: str
    tz: str
    hours: tuple[int, int]
    manager: str | None  # the manager's User key
    start: int  # the first account index this user takes
    created: int  # day ordinal

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


def load_team(path: str | Path | None) -> TeamFile:
    """The team file at ``path`` (default: the built-in one), validated; errors name the line."""
    if path is None:
        from orgforge.packs import builtin_yaml

        text, data = builtin_yaml([BUILTIN_TEAM])[BUILTIN_TEAM]
        return _validate(text, data, f"packs/data/{BUILTIN_TEAM}")
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PackError(
            f"team file {source} not found", "Check generate.team (or --team)."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PackError(f"team file {source} can't be read ({exc.__class__.__name__})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise PackError(
            f"{where}: malformed YAML: {getattr(exc, 'problem', exc)}",
            "Fix the YAML syntax; packs/data/_team.yaml is a working example.",
        ) from None
    return _validate(text, data, source)


def _validate(text: str, data: object, source: str) -> TeamFile:
    if not isinstance(data, dict):
        raise PackError(
            f"{source}:1: a team file must be a mapping (domain, territories, roles)",
            "Start from packs/data/_team.yaml.",
        )
    try:
        return TeamFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(str(p) for p in first["loc"])
        line = line_of(yaml.compose(text), loc) if loc else None
        where = f"{source}:{line}" if line else source
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}"
        field = f"{'.'.join(loc)}: " if loc else ""
        raise PackError(f"{where}: {field}{message}", "Start from packs/data/_team.yaml.") from None


def head_count(role: Role, accounts: int) -> int:
    """Users of ``role`` in a world of ``accounts`` accounts."""
    if not role.accounts_per_user:
        return role.count
    return max(role.count, math.ceil(accounts / role.accounts_per_user))


def build_users(
    team: TeamFile, seed: int, accounts: int, as_of: int, pool: Pools
) -> tuple[TeamUser, ...]:
    """The users of a world of ``accounts`` accounts, in hiring order (their key order)."""
    slots = []  # (start, role order, n): hiring order
    for order, role in enumerate(team.roles):
        for n in range(1, head_count(role, accounts) + 1):
            start = 0 if n <= role.count else (n - 1) * role.accounts_per_user
            slots.append((start, order, n))
    slots.sort()
    used: set[tuple[str, str]] = set()
    users: list[TeamUser] = []
    by_role: dict[str, list[TeamUser]] = {}
    for seq, (start, order, n) in enumerate(slots, start=1):
        role = team.roles[order]
        rng = stream(seed, "user", role.id, n)
        while True:
            first, last = rng.choice(pool.first_names), rng.choice(pool.last_names)
            if (first, last) not in used:
                used.add((first, last))
                break
        territory = team.territories[(n - 1) % len(team.territories)]
        manager = _manager(by_role.get(role.parent or "", ()), territory.name, rng)
        email_user = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
        user = TeamUser(
            key=f"User/{seq:02d}",
            seq=seq,
            role=role.id,
            job=role.job,
            first=first,
            last=last,
            email=f"{email_user}@{team.domain}",
            title=rng.choice(role.titles),
            department=role.department,
            territory=territory.name,
            tz=territory.time_zone,
            hours=team.working_hours,
            manager=manager,
            start=start,
            created=as_of - HISTORY_START_DAYS - int(rng.random() * 200),
        )
        users.append(user)
        by_role.setdefault(role.id, []).append(user)
    return tuple(users)


def _manager(candidates, territory: str, rng: Random) -> str | None:
    if not candidates:
        return None
    local = [u for u in candidates if u.territory == territory]
    return rng.choice(local or list(candidates)).key


class Staffing:
    """Who does what for an account: the users of a job in a territory, as of an account index."""

    def __init__(self, team: TeamFile, users: tuple[TeamUser, ...]) -> None:
        self.territory_of_zone = {z: t.name for t in team.territories for z in t.covers}
        self.default_territory = team.territories[0].name
        self._pools: dict[tuple[str, str | None], tuple[list[int], list[TeamUser]]] = {}
        for user in users:  # users are in hiring order: starts ascend within every pool
            for where in (user.territory, None):
                starts, members = self._pools.setdefault((user.job, where), ([], []))
                starts.append(user.start)
                members.append(user)

    def territory(self, zone: str) -> str:
        return self.territory_of_zone.get(zone, self.default_territory)

    def pick(self, job: str, territory: str | None, index: int, u: float) -> TeamUser:
        """A user of ``job`` (in ``territory`` when it has one) hired by account ``index``."""
        pool = self._pools.get((job, territory))
        if pool is None or pool[0][0] > index:
            pool = self._pools[(job, None)]
        starts, members = pool
        hired = bisect_right(starts, index)
        return members[int(u * hired)]
