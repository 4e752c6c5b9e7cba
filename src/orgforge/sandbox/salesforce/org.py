"""The org: records in SQLite (one table per object, WAL mode) and Salesforce DML semantics.

Writes go through :meth:`Org.transaction` (one writer at a time, ``BEGIN IMMEDIATE``); each record
operation runs inside a savepoint so one record's failure never leaks into another's. Reads use a
connection per thread and see the last committed state.

DML rules implemented: field access (createable/updateable), types, lengths, required fields,
restricted picklists, email format, numeric range, lookups (type, existence, deleted targets,
active owners), unique and external-ID fields (case-insensitive unless case-sensitive), derived
read-only fields, system audit fields, soft delete with cascades (master-detail style children),
restrict (a Contact linked to Cases can't be deleted on its own) and set-null for other lookups.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from orgforge.clock import REAL, Clock
from orgforge.sandbox.salesforce import ids, sqlfuncs
from orgforge.sandbox.salesforce.metadata import (
    CASE_CLOSED,
    FORECAST_CATEGORY,
    OPPORTUNITY_STAGES,
    TASK_CLOSED,
    Field,
    Metadata,
    SObject,
)
from orgforge.sandbox.salesforce.sferrors import SFError
from orgforge.sandbox.salesforce.values import check, coerce, from_db, now, to_db, to_json

Record = dict[str, Any]

_SQL_TYPES = {
    "boolean": "INTEGER",
    "int": "INTEGER",
    "double": "REAL",
    "currency": "REAL",
    "percent": "REAL",
}

SEED_USERS = [
    # first, last, alias, title, department, time zone, profile, active
    (
        "Ada",
        "Admin",
        "aadmin",
        "Salesforce Administrator",
        "IT",
        "America/Los_Angeles",
        "System Administrator",
        True,
    ),
    (
        "Maya",
        "Patel",
        "mpatel",
        "Account Executive",
        "Sales",
        "America/New_York",
        "Standard User",
        True,
    ),
    (
        "Daniel",
        "Okafor",
        "dokafor",
        "Sales Development Representative",
        "Sales",
        "America/Chicago",
        "Standard User",
        True,
    ),
    (
        "Sofia",
        "Martinez",
        "smart",
        "Customer Success Manager",
        "Customer Success",
        "America/Denver",
        "Standard User",
        True,
    ),
    (
        "Liam",
        "O'Connor",
        "loconn",
        "Support Engineer",
        "Support",
        "Europe/London",
        "Standard User",
        True,
    ),
    (
        "Hannah",
        "Schmidt",
        "hschm",
        "Sales Manager",
        "Sales",
        "Europe/Berlin",
        "Standard User",
        True,
    ),
    (
        "Kenji",
        "Watanabe",
        "kwata",
        "Solutions Engineer",
        "Sales",
        "Asia/Tokyo",
        "Standard User",
        True,
    ),
    (
        "Grace",
        "Hopper",
        "ghopp",
        "Former Account Executive",
        "Sales",
        "America/New_York",
        "Standard User",
        False,
    ),
]
SANDBOX_DOMAIN = "orgforge-sandbox.example"


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Org:
    """An org over one SQLite file."""

    def __init__(
        self, db_path: Path, metadata: Metadata, seed: int = 0, clock: Clock = REAL
    ) -> None:
        self.bus: Any = None  # a streaming.ChangeBus when change events are on
        self.db_path = Path(db_path)
        self.clock = clock  # CreatedDate, LastModifiedDate, SystemModstamp, getUpdated windows
        self.meta = metadata
        self.lock = threading.RLock()
        self._local = threading.local()
        self._all_conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self._init_db(seed)

    # ---- connections -------------------------------------------------------------------------

    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.db_path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            sqlfuncs.register(conn)  # SOQL's text rules, for filters pushed into SQLite
            self._local.conn = conn
            with self._conns_lock:
                self._all_conns.append(conn)
        return conn

    def close(self) -> None:
        with self._conns_lock:
            for conn in self._all_conns:
                with suppress(sqlite3.Error):
                    conn.close()
            self._all_conns.clear()
        self._local = threading.local()

    # ---- schema ------------------------------------------------------------------------------

    def _init_db(self, seed: int) -> None:
        conn = self.conn()
        with self.lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
                )
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS _counters (name TEXT PRIMARY KEY, n INTEGER)"
                )
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS _deleted (id TEXT PRIMARY KEY, sobject TEXT, "
                    "deleted_date TEXT)"
                )
                conn.execute("CREATE INDEX IF NOT EXISTS _deleted_obj ON _deleted(sobject)")
                for obj in self.meta.objects.values():
                    self._ensure_table(conn, obj)
                row = conn.execute("SELECT value FROM _meta WHERE key='org_id'").fetchone()
                if row is None:
                    org_id = ids.make_id("00D", 1 + seed % 1000)
                    conn.execute("INSERT INTO _meta VALUES ('org_id', ?)", (org_id,))
                    self.org_id = org_id
                else:
                    self.org_id = row[0]
                if conn.execute('SELECT COUNT(*) FROM "User"').fetchone()[0] == 0:
                    self._seed_users(conn)
                self._seed_standard_pricebook(conn)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        self.admin_id = (
            self.conn()
            .execute(
                "SELECT Id FROM \"User\" WHERE ProfileName='System Administrator' "
                "ORDER BY Id LIMIT 1"
            )
            .fetchone()[0]
        )

    def _ensure_table(self, conn: sqlite3.Connection, obj: SObject) -> None:
        cols = [f"{q(f.name)} {_SQL_TYPES.get(f.type, 'TEXT')}" for f in obj.fields.values()]
        cols[0] = '"Id" TEXT PRIMARY KEY'
        conn.execute(f"CREATE TABLE IF NOT EXISTS {q(obj.name)} ({', '.join(cols)})")
        existing = {r[1] for r in conn.execute(f"PRAGMA table_info({q(obj.name)})")}
        for f in obj.fields.values():
            if f.name not in existing:
                sql_type = _SQL_TYPES.get(f.type, "TEXT")
                conn.execute(f"ALTER TABLE {q(obj.name)} ADD COLUMN {q(f.name)} {sql_type}")
        for f in obj.fields.values():
            index = q(f"ix_{obj.name}_{f.name}")
            collate = (
                "" if f.case_sensitive or f.type not in ("string", "email") else " COLLATE NOCASE"
            )
            if f.unique and f.name != "Id":
                conn.execute(
                    f"CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {q(obj.name)} "
                    f'({q(f.name)}{collate}) WHERE "IsDeleted" = 0'
                )
            elif (
                f.external_id
                or (f.type == "reference" and f.name not in ("CreatedById", "LastModifiedById"))
                or f.name == "SystemModstamp"
            ):
                conn.execute(
                    f"CREATE INDEX IF NOT EXISTS {index} ON {q(obj.name)} ({q(f.name)}{collate})"
                )

    def _seed_users(self, conn: sqlite3.Connection) -> None:
        user = self.meta.objects["User"]
        stamp = now(self.clock)
        first_id = ids.make_id("005", 1)
        for first, last, alias, title, dept, tz, profile, active in SEED_USERS:
            uid = self._next_id(conn, user)
            username = f"{first}.{last}".lower().replace("'", "") + f"@{SANDBOX_DOMAIN}"
            rec: Record = {
                "Id": uid,
                "Username": username,
                "FirstName": first,
                "LastName": last,
                "Name": f"{first} {last}",
                "Alias": alias,
                "Email": username,
                "Title": title,
                "Department": dept,
                "IsActive": active,
                "TimeZoneSidKey": tz,
                "LocaleSidKey": "en_US",
                "LanguageLocaleKey": "en_US",
                "EmailEncodingKey": "UTF-8",
                "ProfileName": profile,
                "UserType": "Standard",
                "IsDeleted": False,
                "CreatedDate": stamp,
                "CreatedById": first_id,
                "LastModifiedDate": stamp,
                "LastModifiedById": first_id,
                "SystemModstamp": stamp,
            }
            self._write_row(conn, user, rec, insert=True)

    def _seed_standard_pricebook(self, conn: sqlite3.Connection) -> None:
        """Every org has one standard price book, made with the org (a client can't create
        one: IsStandard is read-only)."""
        book = self.meta.objects.get("Pricebook2")
        if (
            book is None
            or conn.execute('SELECT COUNT(*) FROM "Pricebook2" WHERE "IsStandard" = 1').fetchone()[
                0
            ]
        ):
            return
        stamp = now(self.clock)
        admin = ids.make_id("005", 1)
        rec: Record = {
            "Id": self._next_id(conn, book),
            "Name": "Standard Price Book",
            "IsActive": True,
            "IsStandard": True,
            "IsDeleted": False,
            "CreatedDate": stamp,
            "CreatedById": admin,
            "LastModifiedDate": stamp,
            "LastModifiedById": admin,
            "SystemModstamp": stamp,
        }
        self._write_row(conn, book, rec, insert=True)

    def reset(self) -> None:
        """Delete every record except Users (and the standard price book); keep schema and
        users."""
        with self.lock:
            conn = self.conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                for obj in self.meta.objects.values():
                    if obj.name != "User":
                        conn.execute(f"DELETE FROM {q(obj.name)}")
                conn.execute("DELETE FROM _deleted")
                conn.execute("DELETE FROM _counters WHERE name != '005'")
                self._seed_standard_pricebook(conn)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    # ---- reads -------------------------------------------------------------------------------

    def _decode(self, obj: SObject, row: sqlite3.Row | tuple, names: list[str]) -> Record:
        rec: Record = {}
        fields = obj.fields
        for name, value in zip(names, row, strict=True):
            f = fields.get(name)
            if f is not None:
                rec[name] = from_db(f, value)
        return rec

    def get(
        self, obj: SObject, record_id: str, conn: sqlite3.Connection | None = None
    ) -> Record | None:
        """A record by 18-character ID (deleted ones included), or None."""
        cur = (conn or self.conn()).execute(
            f'SELECT * FROM {q(obj.name)} WHERE "Id" = ?', (record_id,)
        )
        row = cur.fetchone()
        if row is None:
            return None
        return self._decode(obj, row, [d[0] for d in cur.description])

    def get_any(
        self, record_id: str, conn: sqlite3.Connection | None = None
    ) -> tuple[SObject, Record] | None:
        obj = self.meta.by_prefix(record_id[:3])
        if obj is None:
            return None
        rec = self.get(obj, record_id, conn)
        return (obj, rec) if rec is not None else None

    def rows(self, obj: SObject, include_deleted: bool = False) -> list[Record]:
        sql = f"SELECT * FROM {q(obj.name)}"
        if not include_deleted:
            sql += ' WHERE "IsDeleted" = 0'
        cur = self.conn().execute(sql + ' ORDER BY "Id"')
        names = [d[0] for d in cur.description]
        return [self._decode(obj, row, names) for row in cur.fetchall()]

    def select(
        self,
        obj: SObject,
        where: str | None = None,
        params: list[Any] | None = None,
        order: list[str] | None = None,
        limit: int | None = None,
        offset: int | None = None,
        include_deleted: bool = False,
    ) -> list[Record]:
        """Decoded rows matching a SQL condition, in ``order`` then Id order, sliced.

        ``where`` and ``order`` are SQL the query engine compiled from SOQL (values are always
        bound ``params``); this is what lets a query read 100 rows by an indexed external ID
        instead of decoding the whole table.
        """
        conditions = [] if include_deleted else ['"IsDeleted" = 0']
        if where is not None:
            conditions.append(where)
        sql = f"SELECT * FROM {q(obj.name)}"
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        sql += " ORDER BY " + ", ".join([*(order or []), '"Id"'])
        args = list(params or [])
        if limit is not None or offset is not None:
            sql += " LIMIT ? OFFSET ?"
            args += [-1 if limit is None else limit, offset or 0]
        cur = self.conn().execute(sql, args)
        names = [d[0] for d in cur.description]
        return [self._decode(obj, row, names) for row in cur.fetchall()]

    def find(
        self, obj: SObject, f: Field, value: Any, conn: sqlite3.Connection | None = None
    ) -> list[str]:
        """IDs of live records whose field ``f`` equals value (case-insensitive for text)."""
        collate = "" if f.case_sensitive or f.type not in ("string", "email") else " COLLATE NOCASE"
        cur = (conn or self.conn()).execute(
            f'SELECT "Id" FROM {q(obj.name)} WHERE {q(f.name)} = ?{collate} AND "IsDeleted" = 0 '
            'ORDER BY "Id" LIMIT 2',
            (to_db(f, value),),
        )
        return [r[0] for r in cur.fetchall()]

    def modified_between(
        self, obj: SObject, start: dt.datetime, end: dt.datetime, cap: int
    ) -> list[str]:
        from orgforge.sandbox.salesforce.values import format_datetime_z

        cur = self.conn().execute(
            f'SELECT "Id" FROM {q(obj.name)} WHERE "SystemModstamp" >= ? AND "SystemModstamp" < ? '
            'AND "IsDeleted" = 0 ORDER BY "Id" LIMIT ?',
            (format_datetime_z(start), format_datetime_z(end), cap + 1),
        )
        return [r[0] for r in cur.fetchall()]

    def deleted_between(
        self, obj: SObject, start: dt.datetime, end: dt.datetime, cap: int
    ) -> list[tuple[str, dt.datetime]]:
        from orgforge.sandbox.salesforce.values import format_datetime_z, parse_datetime

        cur = self.conn().execute(
            "SELECT id, deleted_date FROM _deleted WHERE sobject = ? AND deleted_date >= ? "
            "AND deleted_date < ? ORDER BY deleted_date, id LIMIT ?",
            (obj.name, format_datetime_z(start), format_datetime_z(end), cap + 1),
        )
        return [(r[0], parse_datetime(r[1])) for r in cur.fetchall()]  # type: ignore[misc]

    def count(self, obj: SObject) -> int:
        return (
            self.conn()
            .execute(f'SELECT COUNT(*) FROM {q(obj.name)} WHERE "IsDeleted" = 0')
            .fetchone()[0]
        )

    # ---- writes ------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One write transaction (the single writer lock is held throughout)."""
        with self.lock:
            conn = self.conn()
            conn.execute("BEGIN IMMEDIATE")
            tx = Tx(self, conn)
            try:
                yield tx
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            if tx.rollback_only:
                conn.execute("ROLLBACK")
                return
            if self.bus is not None and tx.changes:
                self.bus.record(conn, tx.changes, None)  # in the same transaction as the change
            conn.execute("COMMIT")
            if self.bus is not None and tx.changes:
                self.bus.committed()

    def _next_id(self, conn: sqlite3.Connection, obj: SObject) -> str:
        return ids.make_id(obj.key_prefix, self._counter(conn, obj.key_prefix))

    def _counter(self, conn: sqlite3.Connection, name: str, start: int = 1) -> int:
        row = conn.execute("SELECT n FROM _counters WHERE name = ?", (name,)).fetchone()
        n = (row[0] + 1) if row else start
        conn.execute(
            "INSERT INTO _counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET n = excluded.n",
            (name, n),
        )
        return n

    def _write_row(self, conn: sqlite3.Connection, obj: SObject, rec: Record, insert: bool) -> None:
        names = [n for n in rec if n in obj.fields]
        values = [to_db(obj.fields[n], rec[n]) for n in names]
        if insert:
            conn.execute(
                f"INSERT INTO {q(obj.name)} ({', '.join(q(n) for n in names)}) "
                f"VALUES ({', '.join('?' for _ in names)})",
                values,
            )
        else:
            sets = ", ".join(f"{q(n)} = ?" for n in names if n != "Id")
            conn.execute(
                f'UPDATE {q(obj.name)} SET {sets} WHERE "Id" = ?',
                [v for n, v in zip(names, values, strict=True) if n != "Id"] + [rec["Id"]],
            )

    # ---- input parsing -----------------------------------------------------------------------

    def prepare(
        self, obj: SObject, raw: dict[str, Any], conn: sqlite3.Connection | None = None
    ) -> tuple[Record, dict[str, Any]]:
        """Map a client's field dict to canonical names and parsed values.

        Returns (values, relationship references). Unknown fields → INVALID_FIELD; values that
        don't parse → JSON_PARSER_ERROR. Relationship references (``"Account": {"Key__c": "X"}``)
        are returned separately and resolved at DML time.
        """
        values: Record = {}
        refs: dict[str, Any] = {}
        for key, value in raw.items():
            if key == "attributes":
                continue
            f = obj.field(key)
            if f is None:
                rel = obj.relationship(key)
                if rel is not None and isinstance(value, dict):
                    refs[rel.name] = value
                    continue
                raise SFError(
                    "INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}", [key]
                )
            values[f.name] = coerce(f, value)
        return values, refs


class Tx:
    """DML inside one write transaction."""

    def __init__(self, org: Org, conn: sqlite3.Connection) -> None:
        self.org = org
        self.conn = conn
        self.meta = org.meta
        self.rollback_only = False
        self._sp = 0
        self.changes: list[dict[str, Any]] = []  # change events, published at commit

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        self._sp += 1
        name = f"sp{self._sp}"
        self.conn.execute(f"SAVEPOINT {name}")
        published = len(self.changes)
        try:
            yield
        except BaseException:
            del self.changes[published:]  # a rolled-back record publishes nothing
            self.conn.execute(f"ROLLBACK TO {name}")
            self.conn.execute(f"RELEASE {name}")
            raise
        self.conn.execute(f"RELEASE {name}")

    # ---- references --------------------------------------------------------------------------

    def resolve_ref(self, obj: SObject, f: Field, spec: dict[str, Any]) -> str:
        """``{"attributes": {"type": T}, "ExtKey__c": "X"}`` → the parent's ID."""
        target_name = (spec.get("attributes") or {}).get("type")
        if target_name is None:
            if f.polymorphic:
                raise SFError(
                    "INVALID_FIELD",
                    f"Polymorphic relationship {f.relationship_name} needs attributes.type",
                    [f.name],
                )
            target_name = f.reference_to[0]
        target = self.meta.get(target_name)
        if target is None or target.name not in f.reference_to:
            raise SFError(
                "INVALID_FIELD",
                f"{f.relationship_name}: invalid type {target_name} for this relationship",
                [f.name],
            )
        keys = [k for k in spec if k != "attributes"]
        if len(keys) != 1:
            raise SFError(
                "INVALID_FIELD",
                f"{f.relationship_name}: exactly one external ID field is needed to identify "
                "the related record",
                [f.name],
            )
        return self.lookup_external(target, keys[0], spec[keys[0]], f)

    def lookup_external(self, target: SObject, key_name: str, value: Any, via: Field) -> str:
        key = target.field(key_name)
        if key is None or not key.id_lookup:
            raise SFError(
                "INVALID_FIELD",
                f"Field {key_name} is not an external ID or indexed field on {target.name}",
                [via.name],
            )
        if key.type == "id":
            norm = ids.normalize(value)
            found = [norm] if norm and self.org.get(target, norm, self.conn) else []
        else:
            found = self.org.find(target, key, coerce(key, value), self.conn)
        if not found:
            raise SFError(
                "INVALID_FIELD",
                f"Foreign key external ID: {value} not found for field {key.name} in entity "
                f"{target.name}",
                [via.name],
            )
        if len(found) > 1:
            raise SFError(
                "INVALID_FIELD",
                f"Foreign key external ID: {value} matched more than one record for field "
                f"{key.name} in entity {target.name}",
                [via.name],
            )
        return found[0]

    def _check_reference(self, obj: SObject, f: Field, value: str) -> str:
        norm = ids.normalize(value)
        if norm is None:
            raise SFError(
                "MALFORMED_ID", f"{f.label}: id value of incorrect type: {value}", [f.name]
            )
        target = self.meta.by_prefix(norm[:3])
        allowed = f.reference_to
        if target is None or target.name not in allowed:
            if "Group" in allowed and norm.startswith("00G"):
                target = None
            else:
                raise SFError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    f"{f.label}: id value of incorrect type: {value}",
                    [f.name],
                )
        rec = self.org.get(target, norm, self.conn) if target else None
        if rec is None:
            raise SFError(
                "INVALID_CROSS_REFERENCE_KEY",
                "invalid cross reference id",
                [f.name],
            )
        if rec.get("IsDeleted"):
            raise SFError("ENTITY_IS_DELETED", "entity is deleted", [f.name])
        if target.name == "User" and not rec.get("IsActive"):
            raise SFError(
                "INACTIVE_OWNER_OR_USER",
                "operation performed with inactive user",
                [f.name],
            )
        return norm

    # ---- DML ---------------------------------------------------------------------------------

    def insert(
        self, obj: SObject, values: Record, user_id: str, refs: dict[str, Any] | None = None
    ) -> str:
        if not obj.createable:
            raise SFError(
                "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be inserted: {obj.name}"
            )
        if "Id" in values:
            raise SFError("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
        blocked = [n for n in values if not obj.fields[n].createable]
        if blocked:
            raise _not_writable(blocked)
        rec: Record = {n: None for n in obj.fields}
        for f in obj.fields.values():
            if f.type == "boolean":
                rec[f.name] = bool(f.default) if f.default is not None else False
            elif f.default is not None and not f.auto_number:
                rec[f.name] = f.default
        if "OwnerId" in obj.fields:
            rec["OwnerId"] = user_id
        rec.update({k: v for k, v in values.items()})
        for name, spec in (refs or {}).items():
            rec[name] = self.resolve_ref(obj, obj.fields[name], spec)
        explicit = set(values) | set(refs or {})
        self._validate(obj, rec, explicit, insert=True)
        stamp = now(self.org.clock)
        rec["Id"] = self.org._next_id(self.conn, obj)
        # Audit fields sent (allowed only with "Set Audit Fields upon Record Creation") stand.
        created = rec.get("CreatedDate") if "CreatedDate" in explicit else None
        rec.update(
            IsDeleted=False,
            CreatedDate=created or stamp,
            CreatedById=rec.get("CreatedById") if "CreatedById" in explicit else user_id,
            LastModifiedDate=(
                rec.get("LastModifiedDate") if "LastModifiedDate" in explicit else None
            )
            or created
            or stamp,
            LastModifiedById=(
                rec.get("LastModifiedById") if "LastModifiedById" in explicit else user_id
            ),
            SystemModstamp=stamp,
        )
        for f in obj.fields.values():
            if f.auto_number:
                n = self.org._counter(
                    self.conn, f"{obj.name}.{f.name}", 1001 if obj.name == "Case" else 1
                )
                fmt = f.default or "{00000000}"
                rec[f.name] = _auto_number(fmt, n) if obj.custom else f"{n:08d}"
        self._derive(obj, rec, None, explicit)
        self.org._write_row(self.conn, obj, rec, insert=True)
        self._changed(obj, "CREATE", rec["Id"], user_id, rec, None)
        return rec["Id"]

    def _changed(
        self,
        obj: SObject,
        kind: str,
        record_id: str,
        user_id: str,
        rec: Record | None,
        before: Record | None,
    ) -> None:
        """Note a change event (CometD body: nulls left out; an update has its changed
        fields, always with LastModifiedDate)."""
        if self.org.bus is None:
            return
        skip = {"Id", "IsDeleted", "SystemModstamp"}
        fields: dict[str, Any] = {}
        changed: list[str] = []
        if rec is not None:
            for name, f in obj.fields.items():
                if name in skip:
                    continue
                value = rec.get(name)
                if before is not None:
                    if value == before.get(name) and name != "LastModifiedDate":
                        continue
                    changed.append(name)
                if value is not None:
                    fields[name] = to_json(f, value)
        self.changes.append(
            {
                "entity": obj.name,
                "type": kind,
                "ids": [record_id],
                "changed": changed,
                "fields": fields,
                "user": user_id,
            }
        )

    def update(
        self,
        obj: SObject,
        record_id: str,
        values: Record,
        user_id: str,
        refs: dict[str, Any] | None = None,
    ) -> None:
        if not obj.updateable:
            raise SFError(
                "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be updated: {obj.name}"
            )
        current = self.org.get(obj, record_id, self.conn)
        if current is None:
            raise SFError("NOT_FOUND", "The requested resource does not exist", status=404)
        if current["IsDeleted"]:
            raise SFError("ENTITY_IS_DELETED", "entity is deleted", [])
        values = {k: v for k, v in values.items() if k != "Id"}
        blocked = [n for n in values if not obj.fields[n].updateable]
        if blocked:
            raise _not_writable(blocked)
        rec = dict(current)
        rec.update(values)
        for name, spec in (refs or {}).items():
            rec[name] = self.resolve_ref(obj, obj.fields[name], spec)
        explicit = set(values) | set(refs or {})
        self._validate(obj, rec, explicit, insert=False, current=current)
        stamp = now(self.org.clock)
        rec.update(LastModifiedDate=stamp, LastModifiedById=user_id, SystemModstamp=stamp)
        self._derive(obj, rec, current, explicit)
        self.org._write_row(self.conn, obj, rec, insert=False)
        self._changed(obj, "UPDATE", record_id, user_id, rec, current)

    def upsert(
        self,
        obj: SObject,
        key: Field,
        key_value: Any,
        values: Record,
        user_id: str,
        refs: dict[str, Any] | None = None,
    ) -> tuple[str, bool]:
        """Update the record whose external ID ``key`` equals key_value, or insert one.

        Returns (id, created). More than one match → DUPLICATE_EXTERNAL_ID (the REST endpoint
        turns it into 300 Multiple Choices).
        """
        if key.type == "id":
            norm = ids.normalize(key_value)
            if norm is None or self.org.get(obj, norm, self.conn) is None:
                raise SFError("NOT_FOUND", "The requested resource does not exist", status=404)
            self.update(obj, norm, values, user_id, refs)
            return norm, False
        if key_value in (None, ""):
            raise SFError("MISSING_ARGUMENT", f"{key.name} not specified", [key.name])
        parsed = coerce(key, key_value)
        found = self.org.find(obj, key, parsed, self.conn)
        if len(found) > 1:
            raise SFError(
                "DUPLICATE_EXTERNAL_ID",
                f"{key.label}: more than one record found for external id field: "
                f"[{', '.join(found)}]",
                [key.name],
                status=300,
            )
        values = {k: v for k, v in values.items() if k != key.name}
        if found:
            self.update(obj, found[0], values, user_id, refs)
            return found[0], False
        values[key.name] = parsed
        return self.insert(obj, values, user_id, refs), True

    def delete(self, obj: SObject, record_id: str, user_id: str, hard: bool = False) -> None:
        if not obj.deletable:
            raise SFError(
                "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be deleted: {obj.name}"
            )
        current = self.org.get(obj, record_id, self.conn)
        if current is None:
            raise SFError("NOT_FOUND", "The requested resource does not exist", status=404)
        if current["IsDeleted"]:
            if hard:
                self.conn.execute(f'DELETE FROM {q(obj.name)} WHERE "Id" = ?', (record_id,))
                return
            raise SFError("ENTITY_IS_DELETED", "entity is deleted", [], status=404)
        # Collect the cascade: every live record under this one through cascade lookups.
        doomed: dict[str, SObject] = {record_id: obj}
        frontier = [(obj, record_id)]
        while frontier:
            parent, pid = frontier.pop()
            for child, f, _rel in self.meta.children_of(parent.name):
                if f.delete_constraint != "cascade":
                    continue
                for (cid,) in self.conn.execute(
                    f'SELECT "Id" FROM {q(child.name)} WHERE {q(f.name)} = ? AND "IsDeleted" = 0',
                    (pid,),
                ):
                    if cid not in doomed:
                        doomed[cid] = child
                        frontier.append((child, cid))
        # Restrict: live children outside the cascade that forbid deleting their parent.
        for did, dobj in doomed.items():
            for child, f, _rel in self.meta.children_of(dobj.name):
                if f.delete_constraint != "restrict":
                    continue
                blockers = [
                    cid
                    for (cid,) in self.conn.execute(
                        f'SELECT "Id" FROM {q(child.name)} WHERE {q(f.name)} = ? '
                        'AND "IsDeleted" = 0',
                        (did,),
                    )
                    if cid not in doomed
                ]
                if blockers:
                    name = self._display_name(dobj, did)
                    names = ", ".join(self._display_name(child, b) for b in blockers[:5])
                    raise SFError(
                        "DELETE_FAILED",
                        f"Your attempt to delete {name} could not be completed because it is "
                        f"associated with the following {child.label_plural.lower()}.: {names}",
                        [],
                    )
        stamp = now(self.org.clock)
        stamp_db = to_db(obj.fields["SystemModstamp"], stamp)
        # Set-null lookups from surviving records.
        for did, dobj in doomed.items():
            for child, f, _rel in self.meta.children_of(dobj.name):
                if f.delete_constraint != "set_null" or not f.nillable:
                    continue
                self.conn.execute(
                    f'UPDATE {q(child.name)} SET {q(f.name)} = NULL, "SystemModstamp" = ? '
                    f'WHERE {q(f.name)} = ? AND "IsDeleted" = 0',
                    (stamp_db, did),
                )
        for did, dobj in doomed.items():
            if hard:
                self.conn.execute(f'DELETE FROM {q(dobj.name)} WHERE "Id" = ?', (did,))
            else:
                self.conn.execute(
                    f'UPDATE {q(dobj.name)} SET "IsDeleted" = 1, "SystemModstamp" = ?, '
                    '"LastModifiedDate" = ?, "LastModifiedById" = ? WHERE "Id" = ?',
                    (stamp_db, stamp_db, user_id, did),
                )
            self.conn.execute(
                "INSERT OR REPLACE INTO _deleted VALUES (?, ?, ?)", (did, dobj.name, stamp_db)
            )
            self._changed(dobj, "DELETE", did, user_id, None, None)

    def _display_name(self, obj: SObject, record_id: str) -> str:
        nf = obj.name_field
        if nf is None:
            return record_id
        row = self.conn.execute(
            f'SELECT {q(nf.name)} FROM {q(obj.name)} WHERE "Id" = ?', (record_id,)
        ).fetchone()
        return str(row[0]) if row and row[0] is not None else record_id

    # ---- validation & derived fields ---------------------------------------------------------

    def _validate(
        self,
        obj: SObject,
        rec: Record,
        explicit: set[str],
        insert: bool,
        current: Record | None = None,
    ) -> None:
        # Opportunity defaults that depend on the stage must exist before the required check.
        missing = [
            f.name
            for f in obj.fields.values()
            if not f.nillable
            and f.createable
            and not f.defaulted_on_create
            and rec.get(f.name) in (None, "")
        ]
        if missing:
            raise SFError(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                missing,
            )
        for name in explicit:
            f = obj.fields[name]
            value = rec.get(name)
            if value is None:
                if not f.nillable and not f.defaulted_on_create:
                    raise SFError(
                        "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{name}]", [name]
                    )
                if f.type == "picklist" and f.restricted and not f.nillable:
                    raise SFError(
                        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                        f"{f.label}: bad value for restricted picklist field: null",
                        [name],
                    )
                continue
            if f.type == "reference":
                rec[name] = self._check_reference(obj, f, value)
                continue
            check(f, value)
            if f.unique and f.name != "Id":
                dupes = [i for i in self.org.find(obj, f, value, self.conn) if i != rec.get("Id")]
                if dupes:
                    raise SFError(
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {f.name} duplicates value on record with id: "
                        f"{dupes[0]}",
                        [],
                    )
        if obj.name == "Event":
            self._validate_event(rec)
        elif obj.name == "OpportunityLineItem" and insert:
            self._validate_line_item(rec, explicit)

    def _validate_line_item(self, rec: Record, explicit: set[str]) -> None:
        """As an org does: a line needs a price book entry, one price (UnitPrice or
        TotalPrice, not both), and the entry's price book is the opportunity's."""
        if not rec.get("PricebookEntryId"):
            raise SFError(
                "REQUIRED_FIELD_MISSING",
                "Required fields are missing: [PricebookEntryId]",
                ["PricebookEntryId"],
            )
        if {"UnitPrice", "TotalPrice"} <= explicit:
            raise SFError(
                "FIELD_INTEGRITY_EXCEPTION",
                "You can't specify both the unit price and the total price for a line item.",
                ["TotalPrice"],
            )
        books = self.org.meta.objects
        entry = self.org.get(books["PricebookEntry"], rec["PricebookEntryId"], self.conn)
        opp_obj = self.org.meta.objects["Opportunity"]
        opp = self.org.get(opp_obj, rec.get("OpportunityId") or "", self.conn)
        if entry is None or opp is None:
            return
        book = opp.get("Pricebook2Id")
        if book and book != entry.get("Pricebook2Id"):
            raise SFError(
                "FIELD_INTEGRITY_EXCEPTION",
                "field integrity exception: PricebookEntryId (pricebook entry is in a different "
                "pricebook than the one assigned to the opportunity)",
                ["PricebookEntryId"],
            )
        if not book:  # the first product sets the opportunity's price book
            self.conn.execute(
                'UPDATE "Opportunity" SET "Pricebook2Id" = ? WHERE "Id" = ?',
                (entry.get("Pricebook2Id"), opp["Id"]),
            )

    def _validate_event(self, rec: Record) -> None:
        start = rec.get("StartDateTime") or rec.get("ActivityDateTime")
        if start is None:
            if rec.get("IsAllDayEvent") and rec.get("ActivityDate"):
                return
            raise SFError(
                "REQUIRED_FIELD_MISSING",
                "Required fields are missing: [StartDateTime]",
                ["StartDateTime"],
            )
        end = rec.get("EndDateTime")
        if end is None and rec.get("DurationInMinutes") is None:
            raise SFError(
                "REQUIRED_FIELD_MISSING",
                "Required fields are missing: [DurationInMinutes]",
                ["DurationInMinutes"],
            )
        if end is not None and end < start:
            raise SFError(
                "FIELD_INTEGRITY_EXCEPTION",
                "End Date Time: The end time must be on or after the start time.",
                ["EndDateTime"],
            )
        if rec.get("DurationInMinutes") is not None and rec["DurationInMinutes"] < 0:
            raise SFError(
                "FIELD_INTEGRITY_EXCEPTION", "Duration: must not be negative", ["DurationInMinutes"]
            )

    def _derive(
        self, obj: SObject, rec: Record, current: Record | None, explicit: set[str]
    ) -> None:
        name = obj.name
        if name in ("Contact", "Lead", "User"):
            rec["Name"] = " ".join(p for p in (rec.get("FirstName"), rec.get("LastName")) if p)
        elif name == "Opportunity":
            stage = rec.get("StageName")
            prob, category, closed, won = OPPORTUNITY_STAGES.get(
                stage, (0, "Pipeline", False, False)
            )
            stage_changed = current is None or current.get("StageName") != stage
            if "Probability" not in explicit and (stage_changed or rec.get("Probability") is None):
                rec["Probability"] = float(prob)
            if "ForecastCategoryName" not in explicit and (
                stage_changed or rec.get("ForecastCategoryName") is None
            ):
                rec["ForecastCategoryName"] = category
            if closed:  # a closed stage always forecasts as Closed/Omitted
                rec["ForecastCategoryName"] = category
            rec["ForecastCategory"] = FORECAST_CATEGORY.get(rec["ForecastCategoryName"], "Pipeline")
            rec["IsClosed"] = closed
            rec["IsWon"] = won
            amount, probability = rec.get("Amount"), rec.get("Probability")
            rec["ExpectedRevenue"] = (
                round(amount * probability / 100.0, 2)
                if amount is not None and probability is not None
                else None
            )
            close = rec.get("CloseDate")
            rec["FiscalYear"] = close.year if close else None
            rec["FiscalQuarter"] = (close.month - 1) // 3 + 1 if close else None
        elif name == "Case":
            closed = rec.get("Status") in CASE_CLOSED
            was_closed = bool(current and current.get("IsClosed"))
            rec["IsClosed"] = closed
            if closed and not was_closed:
                rec["ClosedDate"] = rec.get("LastModifiedDate") or now(self.org.clock)
            elif not closed:
                rec["ClosedDate"] = None
        elif name == "Task":
            closed = rec.get("Status") in TASK_CLOSED
            rec["IsHighPriority"] = rec.get("Priority") == "High"
            if closed and not (current and current.get("IsClosed")):
                rec["CompletedDateTime"] = rec.get("LastModifiedDate") or now(self.org.clock)
            elif not closed:
                rec["CompletedDateTime"] = None
            rec["IsClosed"] = closed
            if current is None and rec.get("TaskSubtype") is None:
                rec["TaskSubtype"] = "Call" if rec.get("Type") == "Call" else "Task"
        elif name == "Event":
            start = rec.get("StartDateTime") or rec.get("ActivityDateTime")
            if "ActivityDateTime" in explicit and "StartDateTime" not in explicit:
                start = rec["ActivityDateTime"]
            if start is not None:
                rec["StartDateTime"] = start
                rec["ActivityDateTime"] = start
                rec["ActivityDate"] = start.date()
                if rec.get("EndDateTime") is not None and (
                    "EndDateTime" in explicit or "DurationInMinutes" not in explicit
                ):
                    minutes = int((rec["EndDateTime"] - start).total_seconds() // 60)
                    rec["DurationInMinutes"] = minutes
                elif rec.get("DurationInMinutes") is not None:
                    rec["EndDateTime"] = start + dt.timedelta(minutes=rec["DurationInMinutes"])
            if current is None:
                rec["EventSubtype"] = "Event"
        elif name == "EventRelation":
            rec["IsWhat"] = False
        elif name == "OpportunityLineItem":
            entry = self.org.get(
                self.org.meta.objects["PricebookEntry"],
                rec.get("PricebookEntryId") or "",
                self.conn,
            )
            if entry is not None:
                rec["Product2Id"] = entry.get("Product2Id")
                rec["ListPrice"] = entry.get("UnitPrice")
                if rec.get("UnitPrice") is None:
                    rec["UnitPrice"] = entry.get("UnitPrice")
            quantity, unit = rec.get("Quantity") or 0, rec.get("UnitPrice")
            if "TotalPrice" in explicit and rec.get("TotalPrice") is not None and quantity:
                rec["UnitPrice"] = rec["TotalPrice"] / quantity
            elif unit is not None:
                rec["TotalPrice"] = round(
                    quantity * unit * (1 - (rec.get("Discount") or 0) / 100), 2
                )
        elif name == "CampaignMember":
            responded = rec.get("Status") == "Responded"
            if responded and not rec.get("FirstRespondedDate"):
                stamp = rec.get("LastModifiedDate") or now(self.org.clock)
                rec["FirstRespondedDate"] = stamp.date() if hasattr(stamp, "date") else stamp
            rec["HasResponded"] = responded
        elif name == "Lead" and current is None:
            rec["IsConverted"] = False
        if name in ("Task", "Event"):
            rec["AccountId"] = self._activity_account(rec)

    def _activity_account(self, rec: Record) -> str | None:
        for key in ("WhatId", "WhoId"):
            ref = rec.get(key)
            if not ref:
                continue
            found = self.org.get_any(ref, self.conn)
            if found is None:
                continue
            obj, parent = found
            if obj.name == "Account":
                return parent["Id"]
            if "AccountId" in parent and parent.get("AccountId"):
                return parent["AccountId"]
        return None


def _not_writable(names: list[str]) -> SFError:
    return SFError(
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        f"Unable to create/update fields: {', '.join(names)}. Please check the security settings "
        "of this field and verify that it is read/write for your profile or permission set.",
        names,
    )


def _auto_number(fmt: str, n: int) -> str:
    start = fmt.find("{")
    end = fmt.find("}", start)
    if start < 0 or end < 0:
        return f"{fmt}{n}"
    width = end - start - 1
    return f"{fmt[:start]}{n:0{width}d}{fmt[end + 1 :]}"
