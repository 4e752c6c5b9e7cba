"""Change Data Capture in the sandbox: a change-event bus and the CometD (Bayeux) endpoint.

Every committed create, update and delete becomes a change event with Salesforce's
``ChangeEventHeader`` (entityName, recordIds, changeType, changedFields, changeOrigin,
transactionKey, sequenceNumber, commitTimestamp, commitUser, commitNumber). Events are stored in
the org's own SQLite file *in the transaction that made the change* — so a rolled-back record
(``allOrNone: false`` with a failing row) publishes nothing, and a restart keeps them — and kept
for 72 hours, like a real org. Replay ids grow but are not contiguous (clients must not compute
them). Payloads follow the CometD shape: null fields left out, datetimes as UTC strings; an
UPDATE carries only its changed fields, always with ``LastModifiedDate``.

Transport: CometD long-polling on ``/cometd/<version>`` (handshake, subscribe with the
``replay`` extension: -1 new events only, -2 all retained, or a replay id to resume after;
connect; disconnect), which is what Salesforce's Streaming API clients speak. Channels:
``/data/ChangeEvents`` (everything) and ``/data/<Object>ChangeEvent``. A replay id older than
the retention window is refused with Salesforce's exact ``400::The replayId {…}`` error.
Fault injection (``gap`` in ``--faults``) turns an event into its ``GAP_*`` twin: headers only.

Salesforce's allocations, as documented (Change Data Capture Developer Guide, "Change Data
Capture Allocations" and "Overflow Events"):

* an event over 1 MB (``max_event_bytes``) is published as its ``GAP_*`` twin, headers only
  with the record ids, and the subscriber re-reads the record;
* a transaction with more than 100,000 changes (``overflow_at``; a create, delete or undelete
  counts 1, an update 1 per changed field) publishes the first 100,000 as usual and then one
  ``GAP_OVERFLOW`` event per entity type for the rest: headers only, **no record ids**;
* only the entities selected for Change Data Capture publish (``selected``; None: every entity,
  as with the CDC add-on). A default org allows at most 5 selections (``MAX_SELECTED``).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from orgforge.clock import REAL, Clock

RETENTION_MS = 72 * 3600 * 1000
MAX_EVENT_BYTES = 1024 * 1024  # larger events become gap events
OVERFLOW_AT = 100_000  # changes in one transaction before GAP_OVERFLOW
MAX_SELECTED = 5  # entities selected for change events in an org without the CDC add-on
MAX_BATCH = 1000  # events handed out per connect
DEFAULT_TIMEOUT_MS = 110_000  # Salesforce's long-poll advice
# A long poll waits for an event or its deadline on the org's clock. A simulated clock moves
# without waking anyone, so a waiting poll looks at it again after at most this much real time.
CLOCK_RECHECK_SECONDS = 1.0
BAD_REPLAY = (
    "400::The replayId {%s} you provided was invalid.  Please provide a valid ID, -2 to replay "
    "all events, or -1 to replay only new events."
)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS _change_events (
    replay_id INTEGER PRIMARY KEY,
    entity TEXT NOT NULL,
    committed_ms INTEGER NOT NULL,
    message TEXT NOT NULL
)"""


def channel_of(entity: str) -> str:
    base = entity[:-3] if entity.endswith("__c") else entity
    suffix = "__ChangeEvent" if entity.endswith("__c") else "ChangeEvent"
    return f"/data/{base}{suffix}"


class ChangeBus:
    """The org's change events: written inside write transactions, read by subscribers."""

    def __init__(
        self,
        conn_factory: Any,
        gap_rate: float = 0.0,
        seed: int = 0,
        *,
        selected: Iterable[str] | None = None,
        overflow_at: int = OVERFLOW_AT,
        max_event_bytes: int = MAX_EVENT_BYTES,
        clock: Clock = REAL,
    ) -> None:
        self._conn = conn_factory
        self.clock = clock  # commitTimestamp and the 72-hour retention
        self.selected = set(selected) if selected is not None else None
        self.overflow_at = overflow_at
        self.max_event_bytes = max_event_bytes
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = []
        self.gap_rate = gap_rate
        self._rng_state = seed or 1
        self.published = 0
        with self._lock:
            conn = self._conn()
            conn.execute(_SCHEMA)
            conn.commit()

    def clear(self) -> None:
        with self._lock:
            conn = self._conn()
            conn.execute("DELETE FROM _change_events")
            conn.commit()

    # -- writing (inside Org.transaction) -----------------------------------------------------

    def record(self, conn: Any, changes: list[dict[str, Any]], user_id: str | None) -> None:
        """Store one transaction's changes as events (call before COMMIT, on its connection)."""
        if self.selected is not None:
            changes = [c for c in changes if c["entity"] in self.selected]
        if not changes:
            return
        now_ms = int(self.clock.time() * 1000)
        row = conn.execute("SELECT max(replay_id) FROM _change_events").fetchone()
        replay = row[0] or 0
        transaction_key = str(uuid.uuid4())
        row = conn.execute("SELECT count(*) FROM _change_events").fetchone()
        commit_number = 10_000_000 + (row[0] or 0)
        counted = 0
        overflowed: dict[str, str | None] = {}  # entity → commit user of its first overflow
        messages: list[tuple[int, str, str]] = []
        for change in changes:
            weight = len(change.get("changed") or ()) if change["type"] == "UPDATE" else 1
            counted += max(weight, 1) * len(change["ids"])
            if counted > self.overflow_at:
                overflowed.setdefault(change["entity"], change.get("user") or user_id)
                continue
            replay += 1 + self._step()  # increasing, not contiguous
            header = {
                "entityName": change["entity"],
                "recordIds": change["ids"],
                "changeType": change["type"],
                "changedFields": change.get("changed", []),
                "changeOrigin": change.get("origin") or "com/salesforce/api/rest/59.0",
                "transactionKey": transaction_key,
                "sequenceNumber": len(messages) + 1,
                "commitTimestamp": now_ms,
                "commitUser": change.get("user") or user_id,
                "commitNumber": commit_number,
            }
            text = json.dumps({"ChangeEventHeader": header, **change.get("fields", {})})
            if (self.gap_rate and self._chance() < self.gap_rate) or (
                len(text) > self.max_event_bytes  # JSON is ASCII: characters are bytes
            ):
                text = json.dumps({"ChangeEventHeader": _gap(header, f"GAP_{change['type']}")})
            messages.append((replay, change["entity"], text))
        for entity, user in overflowed.items():  # headers only, no record ids
            header = {
                "entityName": entity,
                "recordIds": [],
                "changeType": "GAP_OVERFLOW",
                "changedFields": [],
                "changeOrigin": "",
                "transactionKey": transaction_key,
                "sequenceNumber": len(messages) + 1,
                "commitTimestamp": now_ms,
                "commitUser": user,
                "commitNumber": commit_number,
            }
            replay += 1 + self._step()
            messages.append((replay, entity, json.dumps({"ChangeEventHeader": header})))
        conn.executemany(
            "INSERT INTO _change_events VALUES (?, ?, ?, ?)",
            [(replay, entity, now_ms, text) for replay, entity, text in messages],
        )
        conn.execute("DELETE FROM _change_events WHERE committed_ms < ?", (now_ms - RETENTION_MS,))

    def committed(self) -> None:
        """Wake every waiting subscriber (call after COMMIT)."""
        with self._lock:
            waiters, self._waiters = self._waiters, []
            self.published += 1
        for loop, future in waiters:
            loop.call_soon_threadsafe(_resolve, future)

    def _step(self) -> int:
        self._rng_state = (self._rng_state * 1103515245 + 12345) % 2**31
        return self._rng_state % 3

    def _chance(self) -> float:
        self._rng_state = (self._rng_state * 1103515245 + 12345) % 2**31
        return self._rng_state / 2**31

    # -- reading ------------------------------------------------------------------------------

    def bounds(self) -> tuple[int, int]:
        """(oldest retained replay id or 0, latest replay id or 0)."""
        row = self._conn().execute("SELECT min(replay_id), max(replay_id) FROM _change_events")
        lo, hi = row.fetchone()
        return lo or 0, hi or 0

    def after(self, cursor: int, entities: set[str] | None, limit: int = MAX_BATCH):
        sql = "SELECT replay_id, entity, message FROM _change_events WHERE replay_id > ?"
        args: list[Any] = [cursor]
        if entities is not None:
            sql += f" AND entity IN ({', '.join('?' for _ in entities)})"
            args += sorted(entities)
        sql += " ORDER BY replay_id LIMIT ?"
        return self._conn().execute(sql, [*args, limit]).fetchall()

    async def wait(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._lock:
            self._waiters.append((loop, future))
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._waiters = [w for w in self._waiters if w[1] is not future]


def _gap(header: dict[str, Any], change_type: str) -> dict[str, Any]:
    """A gap event's header: the record ids stay, the change is for the subscriber to re-read."""
    return {
        **header,
        "changeType": change_type,
        "changedFields": [],
        "changeOrigin": "",
        "sequenceNumber": 1,
    }


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


@dataclass
class _Client:
    client_id: str
    user: str
    cursors: dict[str, int] = field(default_factory=dict)  # channel → last replay id delivered
    last_seen: float = 0.0  # on the org's clock


class CometD:
    """Bayeux sessions over the bus: one ``_Client`` per handshake."""

    def __init__(self, bus: ChangeBus, entities: Iterable[str], clock: Clock = REAL) -> None:
        self.bus = bus
        self.clock = clock  # long-poll deadlines
        self.entities = set(entities)
        self.clients: dict[str, _Client] = {}
        self.max_timeout_ms = DEFAULT_TIMEOUT_MS

    def _entities_of(self, channel: str) -> set[str] | None:
        if channel == "/data/ChangeEvents":
            return None
        for entity in self.entities:
            if channel_of(entity) == channel:
                return {entity}
        return set()  # unknown channel

    async def handle(self, messages: list[dict[str, Any]], user: str) -> list[dict[str, Any]]:
        replies: list[dict[str, Any]] = []
        for message in messages:
            channel = message.get("channel")
            mid = {"id": message["id"]} if "id" in message else {}
            if channel == "/meta/handshake":
                client = _Client(secrets.token_urlsafe(18), user, last_seen=self.clock.monotonic())
                self.clients[client.client_id] = client
                replies.append(
                    {
                        "channel": channel,
                        "version": "1.0",
                        "minimumVersion": "1.0",
                        "supportedConnectionTypes": ["long-polling"],
                        "clientId": client.client_id,
                        "successful": True,
                        "ext": {"replay": True, "payload.format": True},
                        "advice": {
                            "reconnect": "retry",
                            "interval": 0,
                            "timeout": self.max_timeout_ms,
                        },
                        **mid,
                    }
                )
                continue
            client = self.clients.get(str(message.get("clientId")))
            if client is None:
                replies.append(
                    {
                        "channel": channel,
                        "successful": False,
                        "error": "403::Unknown client",
                        "clientId": message.get("clientId"),
                        "advice": {"reconnect": "handshake", "interval": 0},
                        **mid,
                    }
                )
                continue
            client.last_seen = self.clock.monotonic()
            if channel == "/meta/subscribe":
                replies.append(self._subscribe(client, message, mid))
            elif channel == "/meta/unsubscribe":
                sub = message.get("subscription")
                client.cursors.pop(sub, None)
                replies.append(
                    {
                        "channel": channel,
                        "clientId": client.client_id,
                        "subscription": sub,
                        "successful": True,
                        **mid,
                    }
                )
            elif channel == "/meta/connect":
                replies.extend(await self._connect(client, message, mid))
            elif channel == "/meta/disconnect":
                self.clients.pop(client.client_id, None)
                replies.append(
                    {"channel": channel, "clientId": client.client_id, "successful": True, **mid}
                )
            else:
                replies.append(
                    {
                        "channel": channel,
                        "successful": False,
                        "error": f"400::Unsupported channel {channel}",
                        **mid,
                    }
                )
        return replies

    def _subscribe(self, client: _Client, message: dict[str, Any], mid: dict) -> dict[str, Any]:
        sub = message.get("subscription")
        base = {"channel": "/meta/subscribe", "clientId": client.client_id, "subscription": sub}
        if not isinstance(sub, str) or self._entities_of(sub) == set():
            return {
                **base,
                "successful": False,
                **mid,
                "error": f"400::The channel you requested to subscribe to does not exist {{{sub}}}",
            }
        replay = ((message.get("ext") or {}).get("replay") or {}).get(sub, -1)
        oldest, latest = self.bus.bounds()
        if not isinstance(replay, int) or isinstance(replay, bool):
            return {**base, "successful": False, "error": BAD_REPLAY % replay, **mid}
        if replay == -1:
            cursor = latest
        elif replay == -2:
            cursor = 0
        elif replay >= 0 and (replay >= oldest - 1 or oldest == 0) and replay <= latest:
            cursor = replay
        else:
            return {**base, "successful": False, "error": BAD_REPLAY % replay, **mid}
        client.cursors[sub] = cursor
        return {**base, "successful": True, **mid}

    async def _connect(self, client: _Client, message: dict[str, Any], mid: dict):
        advice = message.get("advice") or {}
        timeout_ms = advice.get("timeout", self.max_timeout_ms)
        if not isinstance(timeout_ms, int) or isinstance(timeout_ms, bool) or timeout_ms < 0:
            timeout_ms = self.max_timeout_ms
        deadline = self.clock.monotonic() + min(timeout_ms, self.max_timeout_ms) / 1000
        while True:
            events = self._pending(client)
            left = deadline - self.clock.monotonic()
            if events or left <= 0:
                break
            await self.bus.wait(min(left, CLOCK_RECHECK_SECONDS))
        return [
            *events,
            {
                "channel": "/meta/connect",
                "clientId": client.client_id,
                "successful": True,
                "advice": {"reconnect": "retry", "interval": 0},
                **mid,
            },
        ]

    def _pending(self, client: _Client) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for sub, cursor in list(client.cursors.items()):
            rows = self.bus.after(cursor, self._entities_of(sub))
            for replay_id, entity, text in rows:
                out.append(
                    {
                        "data": {
                            "schema": f"orgforge-{entity}",
                            "payload": json.loads(text),
                            "event": {"replayId": replay_id},
                        },
                        "channel": sub,
                    }
                )
                client.cursors[sub] = replay_id
        return out


def mount(app: FastAPI, state: Any, cometd: CometD) -> None:
    """``POST /cometd/<version>``: the Streaming API's Bayeux endpoint."""

    async def endpoint(request: Request, version: str) -> JSONResponse:
        session = state.auth.session(request.headers.get("authorization"))
        if session is None:
            return JSONResponse(
                [
                    {
                        "channel": "/meta/handshake",
                        "successful": False,
                        "error": "403::Handshake denied",
                        "advice": {"reconnect": "none"},
                    }
                ],
                status_code=401,
            )
        try:
            body = json.loads(await request.body() or b"[]")
        except (ValueError, RecursionError):
            body = None
        if isinstance(body, dict):
            body = [body]
        if not isinstance(body, list) or not all(isinstance(m, dict) for m in body):
            return JSONResponse([{"successful": False, "error": "400::Malformed message"}], 400)
        user = getattr(session, "user_id", "") or ""
        return JSONResponse(await cometd.handle(body, user))

    for path in ("/cometd/{version}", "/cometd/{version}/"):
        app.add_api_route(path, endpoint, methods=["POST"], include_in_schema=False)
