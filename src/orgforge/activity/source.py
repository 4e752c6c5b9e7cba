"""Where opportunities come from: the seam between the activity job and a world or an org.

An :class:`OpportunitySource` selects opportunities (filter, explicit keys, a cap) and returns
each with what the planner needs: the account, the owner, the contact roles and the account's
contacts. :class:`WorldSource` reads the local world; a Salesforce source (with the target)
passes the same ``--where`` text through as SOQL and reads the same shape.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select

from orgforge.activity import where as where_mod
from orgforge.clock import REAL, Clock
from orgforge.errors import UsageError
from orgforge.generate.plan import TIMEZONES_BY_COUNTRY
from orgforge.generate.pools import pools
from orgforge.generate.timeutil import parse_stamp
from orgforge.world import tables as t
from orgforge.world.store import World


@dataclass(frozen=True)
class Person:
    key: str
    first: str
    last: str
    title: str
    department: str
    email: str
    role: str | None = None  # OpportunityContactRole.Role, if any
    primary: bool = False
    created: int = 0  # the contact's CreatedDate in absolute UTC minutes (0: unknown)

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}".strip()


@dataclass
class Opportunity:
    key: str
    account_idx: int
    number: int  # the opportunity's number within its account (the key's last part)
    row: dict[str, Any]  # the Opportunity's fields as stored
    account: dict[str, Any]
    owner: dict[str, Any]
    roles: list[Person] = field(default_factory=list)  # contacts with a role, primary first
    contacts: list[Person] = field(default_factory=list)  # every contact of the account
    contact_city: str | None = None  # where the account's contacts are (no BillingCity)
    se: str | None = None  # the account team's sales engineer (User key), who runs the demos
    # the stage history: (absolute UTC minute entered, stage name), in time order
    stages: list[tuple[int, str]] = field(default_factory=list)
    # the day a missing CreatedDate stands for: today on the source's clock
    today: dt.date = field(default_factory=REAL.today)

    @property
    def created_minute(self) -> int:
        """CreatedDate in absolute UTC minutes (midnight of ``created`` if it has no time)."""
        value = self.row.get("CreatedDate") or ""
        return parse_stamp(value) if len(value) >= 16 else self.created.toordinal() * 1440

    @property
    def stage(self) -> str:
        return self.row.get("StageName") or "Prospecting"

    @property
    def closed(self) -> bool:
        return bool(self.row.get("IsClosed")) or self.stage.startswith("Closed")

    @property
    def created(self) -> dt.date:
        value = self.row.get("CreatedDate") or ""
        return dt.date.fromisoformat(value[:10]) if value else self.today

    @property
    def close(self) -> dt.date:
        return dt.date.fromisoformat(self.row["CloseDate"])

    @property
    def prefix(self) -> str:
        """``0042/1``: the part every activity key of this opportunity shares."""
        return self.key.split("/", 1)[1]


def timezone_of(opp: Opportunity, prefer: str) -> str:
    """The opportunity's business time zone: account place (city, then country) or owner."""
    owner_tz = opp.owner.get("TimeZoneSidKey")
    if prefer == "owner" and owner_tz:
        return owner_tz
    city = opp.account.get("BillingCity") or opp.contact_city
    country = opp.account.get("BillingCountry")
    if city:
        for place in pools().places.values:
            if place.city == city and (not country or place.country == country):
                return place.tz
    if country in TIMEZONES_BY_COUNTRY:
        return TIMEZONES_BY_COUNTRY[country]
    return owner_tz or "UTC"


class OpportunitySource(Protocol):
    name: str

    def select(
        self, where: str | None, keys: Sequence[str] | None, limit: int | None
    ) -> list[Opportunity]: ...


class WorldSource:
    """Opportunities from the local world, filtered in SQL (bound parameters only)."""

    name = "world"

    def __init__(self, world: World, clock: Clock | None = None) -> None:
        self.world = world
        self.clock = clock or world.clock  # `--where` date literals and missing dates

    def select(
        self, where: str | None, keys: Sequence[str] | None = None, limit: int | None = None
    ) -> list[Opportunity]:
        table = t.RECORD_TABLES["Opportunity"]
        query = select(table).order_by(table.c.account_idx, table.c.seq)
        if where:
            query = query.where(where_mod.condition(where, table, clock=self.clock))
        if keys:
            query = query.where(table.c.key.in_(list(keys)))
        if limit:
            query = query.limit(limit)
        with self.world.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
            if keys:
                found = {r["key"] for r in rows}
                missing = [k for k in keys if k not in found]
                if missing:
                    raise UsageError(
                        f"--opp {missing[0]}: no such opportunity in world {self.world.location}",
                        "Keys look like Opportunity/0042/1; list them with "
                        "`orgforge activity plan --json` or `orgforge export`.",
                    )
            return self._expand(conn, rows)

    def _expand(self, conn, rows: list[dict]) -> list[Opportunity]:
        if not rows:
            return []
        accounts_t = t.RECORD_TABLES["Account"]
        contacts_t = t.RECORD_TABLES["Contact"]
        roles_t = t.RECORD_TABLES["OpportunityContactRole"]
        users_t = t.RECORD_TABLES["User"]
        idxs = sorted({r["account_idx"] for r in rows})
        accounts: dict[str, dict] = {}
        contacts: dict[str, list[Person]] = {}
        by_key: dict[str, Person] = {}
        cities: dict[str, str] = {}
        roles: dict[str, list[tuple[int, str, str | None, bool]]] = {}
        for start in range(0, len(idxs), 500):
            part = idxs[start : start + 500]
            for a in conn.execute(select(accounts_t).where(accounts_t.c.account_idx.in_(part))):
                accounts[a.key] = dict(a._mapping)
            for c in conn.execute(
                select(contacts_t)
                .where(contacts_t.c.account_idx.in_(part))
                .order_by(contacts_t.c.account_idx, contacts_t.c.seq)
            ):
                person = Person(
                    c.key,
                    c.FirstName or "",
                    c.LastName or "",
                    c.Title or "",
                    c.Department or "",
                    c.Email or "",
                    created=parse_stamp(c.CreatedDate) if c.CreatedDate else 0,
                )
                contacts.setdefault(c.AccountId, []).append(person)
                if c.MailingCity:
                    cities.setdefault(c.AccountId, c.MailingCity)
                by_key[c.key] = person
            for r in conn.execute(
                select(roles_t)
                .where(roles_t.c.account_idx.in_(part))
                .order_by(roles_t.c.account_idx, roles_t.c.seq)
            ):
                roles.setdefault(r.OpportunityId, []).append(
                    (r.seq, r.ContactId, r.Role, bool(r.IsPrimary))
                )
        stages: dict[str, list[tuple[int, str]]] = {}
        history_t = t.RECORD_TABLES[t.HISTORY]
        for start in range(0, len(idxs), 500):
            part = idxs[start : start + 500]
            for h in conn.execute(
                select(history_t.c.ParentKey, history_t.c.NewValue, history_t.c.CreatedDate).where(
                    history_t.c.account_idx.in_(part),
                    history_t.c.Object == "Opportunity",
                    history_t.c.Field == "StageName",
                )
            ):
                if h.CreatedDate and h.NewValue:
                    stages.setdefault(h.ParentKey, []).append(
                        (parse_stamp(h.CreatedDate), h.NewValue)
                    )
        users = {u.key: dict(u._mapping) for u in conn.execute(select(users_t))}
        ses = _sales_engineers(conn, users, self.world.get_meta("team_jobs"), idxs)
        out = []
        for row in rows:
            opp_roles = []
            for _, contact_key, role, primary in sorted(
                roles.get(row["key"], []), key=lambda x: (not x[3], x[0])
            ):
                person = by_key.get(contact_key)
                if person is not None:
                    opp_roles.append(
                        Person(**{**person.__dict__, "role": role, "primary": primary})
                    )
            out.append(
                Opportunity(
                    key=row["key"],
                    account_idx=row["account_idx"],
                    number=int(row["key"].rsplit("/", 1)[1]),
                    row=row,
                    account=accounts.get(row.get("AccountId") or "", {}),
                    owner=users.get(row.get("OwnerId") or "", {}),
                    roles=opp_roles,
                    contacts=contacts.get(row.get("AccountId") or "", []),
                    contact_city=cities.get(row.get("AccountId") or ""),
                    se=_pick_se(ses, row, users),
                    stages=sorted(stages.get(row["key"], [])),
                    today=self.clock.today(),
                )
            )
        return out


def _sales_engineers(
    conn, users: dict[str, dict], team_jobs: str | None, idxs: list[int]
) -> tuple[list[str], dict[int, str]]:
    """Every sales engineer User, and per account the one its generated demos invite.

    The base generator draws an account's team (its SE among them) from the account's own
    stream and invites the SE to the demos; the first such invitation names the team's SE.
    """
    import json

    jobs = json.loads(team_jobs) if team_jobs else {}
    engineers = sorted(k for k, u in users.items() if jobs.get(u.get("UserRoleId") or "") == "se")
    if not engineers:
        return [], {}
    relations = t.RECORD_TABLES["EventRelation"]
    wanted = set(engineers)
    by_account: dict[int, str] = {}
    for start in range(0, len(idxs), 500):
        part = idxs[start : start + 500]
        query = (
            select(relations.c.account_idx, relations.c.RelationId)
            .where(relations.c.account_idx.in_(part), relations.c.job != "activity")
            .order_by(relations.c.account_idx, relations.c.seq)
        )
        for idx, relation in conn.execute(query):
            if relation in wanted:
                by_account.setdefault(idx, relation)
    return engineers, by_account


def _pick_se(
    ses: tuple[list[str], dict[int, str]], row: dict[str, Any], users: dict[str, dict]
) -> str | None:
    """The account team's SE; else one of the owner's territory (Division), by account key."""
    engineers, by_account = ses
    if row["account_idx"] in by_account:
        return by_account[row["account_idx"]]
    if not engineers:
        return None
    division = (users.get(row.get("OwnerId") or "") or {}).get("Division")
    local = [k for k in engineers if users[k].get("Division") == division] or engineers
    digest = hashlib.blake2b(str(row.get("AccountId")).encode(), digest_size=4).digest()
    return local[int.from_bytes(digest, "little") % len(local)]
