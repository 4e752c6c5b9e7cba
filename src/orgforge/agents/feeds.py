"""Change feeds: where ``ChangeEvent``\\ s come from.

* :class:`WorldFeed` replays the world's change log (a generated or simulated world; no server).
  Its position is the change-log id. One log entry can cover many records (a bulk insert), like
  a Salesforce event with several ``recordIds``; ``fields`` carries the record's values when
  the entry covers one record.
* :class:`PollFeed` sweeps an org (a real one or the sandbox) with SOQL on ``SystemModstamp``
  and asks ``getDeleted`` for deletions. Its position per object is the last stamp swept (to
  the second, as SOQL datetime literals go) plus the ids already seen at that second, so a
  record is never delivered twice and never skipped. Polling can't tell which fields changed:
  its UPDATEs carry the record's current values and no ``changed_fields``, and a record first
  seen after the previous sweep began counts as a CREATE.

A feed yields batches; the caller stores ``feed.position`` (JSON-able) after it has handled a
batch, and a feed built with that position resumes right after it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from orgforge.agents.events import ChangeEvent
from orgforge.clock import REAL, Clock

_OPS = {"insert": "CREATE", "update": "UPDATE", "delete": "DELETE"}
SWEEP_LIMIT = 2000
# change-log entries per WorldFeed poll: a session saves its state after each one, so a replay
# of 100,000 events saves 20 times; a replay killed mid-batch re-decides that batch identically
# and the flywheel log keeps each decision once
REPLAY_BATCH = 5000


class Feed(Protocol):
    name: str

    @property
    def position(self) -> Any: ...

    def poll(self) -> list[ChangeEvent]: ...


def parse_ts(value: str) -> datetime:
    """Salesforce (``…+0000``) and ISO (``…Z`` / ``…+00:00``) timestamps, as aware UTC."""
    text = value.strip().replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"
    parsed = datetime.fromisoformat(text)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


class WorldFeed:
    name = "world"

    def __init__(
        self,
        world: Any,
        position: int = 0,
        objects: Iterable[str] | None = None,
        batch: int = REPLAY_BATCH,
    ):
        self.world = world
        self._position = int(position or 0)
        self.objects = set(objects) if objects else None
        self.batch = batch

    @property
    def position(self) -> int:
        return self._position

    def poll(self) -> list[ChangeEvent]:
        events = []
        for entry in self.world.changes_since(self._position, self.batch):
            self._position = entry["id"]
            if self.objects is not None and entry["object"] not in self.objects:
                continue
            keys = tuple(entry["keys"])
            body: dict[str, Any] = {}
            if len(keys) == 1 and entry["op"] != "delete":
                body = self.world.get(keys[0]) or {}
            events.append(
                ChangeEvent(
                    entity=entry["object"],
                    change_type=_OPS.get(entry["op"], "UPDATE"),
                    record_ids=keys,
                    commit_ts=parse_ts(entry["ts"]),
                    replay_id=str(entry["id"]),
                    changed_fields=tuple(entry["fields"] or ()),
                    transaction_key=entry.get("run_id"),
                    fields=body,
                )
            )
        return events


class ListFeed:
    """Events already in hand (a test, a bench, an exported stream), handed out ``batch`` at a
    time like the world's change log; its position is how many were handed out."""

    name = "world"

    def __init__(self, events: list[ChangeEvent], batch: int = REPLAY_BATCH, position: int = 0):
        self.events = events
        self.batch = batch
        self._position = int(position or 0)

    @property
    def position(self) -> int:
        return self._position

    def poll(self) -> list[ChangeEvent]:
        out = self.events[self._position : self._position + self.batch]
        self._position += len(out)
        return out


def soql_datetime(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PollFeed:
    """SystemModstamp sweeps of ``objects`` ({object: fields}) through a Salesforce client
    (anything with ``query_all(soql)`` and ``request("GET", path, params=…)``)."""

    name = "poll"

    def __init__(
        self,
        client: Any,
        objects: dict[str, tuple[str, ...]],
        position: dict[str, Any] | None = None,
        *,
        clock: Clock = REAL,
        start: datetime | None = None,
    ) -> None:
        self.client = client
        self.objects = objects
        self.now = clock.now
        first = soql_datetime((start or clock.now()) - timedelta(seconds=1))
        self._position: dict[str, Any] = {
            name: {"stamp": first, "ids": [], "deleted_from": first} for name in objects
        }
        for name, value in (position or {}).items():
            if name in self._position:
                self._position[name] = value

    @property
    def position(self) -> dict[str, Any]:
        return self._position

    def poll(self) -> list[ChangeEvent]:
        events: list[ChangeEvent] = []
        for name, fields in self.objects.items():
            events.extend(self._sweep(name, fields))
            events.extend(self._deleted(name))
        events.sort(key=lambda e: (e.commit_ts, e.entity, e.record_ids))
        return events

    def _sweep(self, name: str, fields: tuple[str, ...]) -> list[ChangeEvent]:
        pos = self._position[name]
        wanted = ["Id", "CreatedDate", "SystemModstamp", "LastModifiedById"]
        wanted += [f for f in fields if f not in wanted]
        soql = (
            f"SELECT {', '.join(wanted)} FROM {name} WHERE SystemModstamp >= {pos['stamp']} "
            f"ORDER BY SystemModstamp, Id LIMIT {SWEEP_LIMIT}"
        )
        seen = set(pos["ids"])
        since = parse_ts(pos["stamp"])
        events = []
        last_stamp, at_last = pos["stamp"], list(pos["ids"])
        for record in self.client.query_all(soql):
            record = {k: v for k, v in record.items() if k != "attributes"}
            stamp = parse_ts(record["SystemModstamp"])
            second = soql_datetime(stamp)
            if second == pos["stamp"] and record["Id"] in seen:
                continue
            if second != last_stamp:
                last_stamp, at_last = second, []
            at_last.append(record["Id"])
            created = parse_ts(record["CreatedDate"]) if record.get("CreatedDate") else stamp
            events.append(
                ChangeEvent(
                    entity=name,
                    change_type="CREATE" if created >= since else "UPDATE",
                    record_ids=(record["Id"],),
                    commit_ts=stamp,
                    replay_id=f"{second}/{record['Id']}",
                    commit_user=record.get("LastModifiedById"),
                    fields=record,
                )
            )
        self._position[name] = {**pos, "stamp": last_stamp, "ids": at_last}
        return events

    def _deleted(self, name: str) -> list[ChangeEvent]:
        pos = self._position[name]
        start = parse_ts(pos["deleted_from"])
        end = self.now()
        if end - start < timedelta(minutes=1):
            return []  # getDeleted works in whole minutes: wait for one to pass
        found = self.client.request(
            "GET",
            f"sobjects/{name}/deleted/",
            params={"start": soql_datetime(start), "end": soql_datetime(end)},
            what=f"getDeleted {name}",
        )
        covered = found.get("latestDateCovered") or soql_datetime(end)
        events = [
            ChangeEvent(
                entity=name,
                change_type="DELETE",
                record_ids=(row["id"],),
                commit_ts=parse_ts(row["deletedDate"]),
                replay_id=f"deleted/{row['id']}",
                fields={},
            )
            for row in found.get("deletedRecords", [])
            if parse_ts(row["deletedDate"]) >= start
        ]
        self._position[name] = {**pos, "deleted_from": soql_datetime(parse_ts(covered))}
        return events


def channel_of(entity: str) -> str:
    """The CDC channel of one object: /data/LeadChangeEvent, /data/Thing__ChangeEvent."""
    if entity.endswith("__c"):
        return f"/data/{entity[:-3]}__ChangeEvent"
    return f"/data/{entity}ChangeEvent"


class ReplayExpired(Exception):
    """The org no longer has the events after the stored replay id (older than retention)."""

    def __init__(self, channel: str, replay_id: int, message: str) -> None:
        super().__init__(message)
        self.channel = channel
        self.replay_id = replay_id


def http_for(client: Any) -> Any:
    """An httpx client that trusts what the Salesforce target's session trusts (the
    sandbox's own certificate with --tls)."""
    import httpx

    verify = getattr(client.sf.session, "verify", True)
    return httpx.Client(timeout=90.0, verify=verify if verify is not None else True)


class StreamFeed:
    """Change events over CometD (the Streaming API's Bayeux protocol), with replay.

    The position is the last replay id handled per channel: a feed built with it resubscribes
    with that id, so the org resends exactly what came after (-1, "new events only", when there
    is none). ``poll`` is one ``/meta/connect`` long poll of at most ``wait`` seconds. An
    expired replay id raises :class:`ReplayExpired`; the caller reconciles by polling.
    """

    name = "stream"

    def __init__(
        self,
        instance_url: str,
        token: str,
        channels: tuple[str, ...] = ("/data/ChangeEvents",),
        position: dict[str, Any] | None = None,
        *,
        version: str = "59.0",
        wait: float = 10.0,
        http: Any = None,
        clock: Clock = REAL,
    ) -> None:
        import httpx

        self.now = clock.now
        self._fresh = False

        self.url = f"{instance_url.rstrip('/')}/cometd/{version}"
        self.token = token
        self.channels = channels
        self.wait = wait
        self._position: dict[str, Any] = dict(position or {})
        self._http = http or httpx.Client(timeout=wait + 30)
        self._client_id: str | None = None
        self._next_id = 0

    @property
    def position(self) -> dict[str, Any]:
        return self._position

    def _post(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from orgforge.errors import AuthError, TargetError

        for m in messages:
            self._next_id += 1
            m["id"] = str(self._next_id)
        response = self._http.post(
            self.url, json=messages, headers={"Authorization": f"OAuth {self.token}"}
        )
        if response.status_code == 401:
            raise AuthError(f"cometd: {self.url}: HTTP 401: the org refused the session")
        if response.status_code >= 400:
            raise TargetError(f"cometd: {self.url}: HTTP {response.status_code}")
        return response.json()

    def connect(self) -> None:
        """Handshake and subscribe every channel from its stored replay id.

        A channel with no stored id but an earlier session on record (``_since``) may have
        missed changes while nobody listened: that raises :class:`ReplayExpired` too, so the
        caller reconciles by polling from ``_since`` instead of silently starting at "new"."""
        from orgforge.errors import TargetError

        if not self._fresh and "_since" in self._position:
            for channel in self.channels:
                if channel not in self._position:
                    raise ReplayExpired(
                        channel,
                        -1,
                        f"no replay id stored for {channel} since {self._position['_since']}",
                    )
        started = self.now()

        (reply,) = self._post(
            [
                {
                    "channel": "/meta/handshake",
                    "version": "1.0",
                    "supportedConnectionTypes": ["long-polling"],
                    "ext": {"replay": True},
                }
            ]
        )
        if not reply.get("successful"):
            raise TargetError(f"cometd: handshake refused: {reply.get('error')}")
        self._client_id = reply["clientId"]
        for channel in self.channels:
            replay = int(self._position.get(channel, -1))
            (sub,) = self._post(
                [
                    {
                        "channel": "/meta/subscribe",
                        "clientId": self._client_id,
                        "subscription": channel,
                        "ext": {"replay": {channel: replay}},
                    }
                ]
            )
            if not sub.get("successful"):
                error = str(sub.get("error"))
                if error.startswith("400::The replayId"):
                    raise ReplayExpired(channel, replay, error)
                raise TargetError(f"cometd: subscribe {channel}: {error}")
        if self._fresh or "_since" not in self._position:
            self._position["_since"] = started.isoformat()
        self._fresh = False

    def resubscribe_from_now(self) -> None:
        """After reconciling by polling: start again with new events only."""
        for channel in self.channels:
            self._position.pop(channel, None)
        self._client_id = None
        self._fresh = True

    def poll(self) -> list[ChangeEvent]:
        if self._client_id is None:
            self.connect()
        replies = self._post(
            [
                {
                    "channel": "/meta/connect",
                    "clientId": self._client_id,
                    "connectionType": "long-polling",
                    "advice": {"timeout": int(self.wait * 1000)},
                }
            ]
        )
        events = []
        for message in replies:
            channel = message.get("channel", "")
            if channel == "/meta/connect":
                if not message.get("successful"):
                    self._client_id = None  # 403::Unknown client: handshake again next time
                continue
            data = message.get("data") or {}
            payload = dict(data.get("payload") or {})
            header = payload.pop("ChangeEventHeader", None)
            if header is None:
                continue
            replay = data.get("event", {}).get("replayId")
            events.append(
                ChangeEvent(
                    entity=header["entityName"],
                    change_type=header["changeType"],
                    record_ids=tuple(header.get("recordIds") or ()),
                    commit_ts=datetime.fromtimestamp(header["commitTimestamp"] / 1000, UTC),
                    replay_id=str(replay),
                    changed_fields=tuple(header.get("changedFields") or ()),
                    transaction_key=header.get("transactionKey"),
                    sequence_number=int(header.get("sequenceNumber") or 1),
                    commit_user=header.get("commitUser"),
                    change_origin=header.get("changeOrigin"),
                    fields=payload,
                )
            )
            for sub in self.channels:
                if sub in (channel, "/data/ChangeEvents"):
                    self._position[sub] = replay
            self._position["_since"] = events[-1].commit_ts.isoformat()
        return events

    def close(self) -> None:
        self._http.close()
