"""One agents session: a feed, the lead workloads, a writer, and state that survives a restart.

Each step polls the feed once, hands Lead creates to routing and completed call/email Tasks and
EmailMessages to first-touch detection, runs the SLA checkpoints up to ``now``, and then saves
the feed position and the desk's state together (in the world's ``meta`` table under
``agents:<name>``), so a restarted session continues after the last event it finished.

Loop avoidance: orgforge's own OwnerId write shows up as a Lead UPDATE on the next sweep; a lead
is routed once, on the first event that shows it, and never again because of an update.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from orgforge.agents.events import ChangeEvent
from orgforge.agents.feeds import Feed, parse_ts
from orgforge.agents.first_touch import touch_from_email, touch_from_task
from orgforge.agents.routing import AccountMatch, Lead, RouterState
from orgforge.agents.workloads import LeadDesk, _Watch
from orgforge.clock import REAL, Clock

LEAD_FIELDS = (
    "Company",
    "Email",
    "Country",
    "NumberOfEmployees",
    "OwnerId",
    "Status",
    "FirstName",
    "LastName",
    "Title",
    "LeadSource",
    "Description",
)
TASK_FIELDS = ("WhoId", "OwnerId", "Status", "Type", "TaskSubtype", "CompletedDateTime")
EMAIL_FIELDS = ("RelatedToId", "Incoming", "MessageDate", "CreatedById", "FromAddress")
# how far before the overflowing transaction's commit (or the last event before it) the
# reconciling poll starts: a transaction with 100,000 changes runs for a while, and its records'
# SystemModstamp is when each was written, not when the transaction committed
OVERFLOW_MARGIN = timedelta(minutes=15)
POLL_OBJECTS = {"Lead": LEAD_FIELDS, "Task": TASK_FIELDS, "EmailMessage": EMAIL_FIELDS}


def _created(entity: str, record_id: str, at: datetime, fields: dict[str, Any]) -> ChangeEvent:
    return ChangeEvent(entity, "CREATE", (record_id,), at, record_id, fields=fields)


def lead_created(lead: Lead) -> ChangeEvent:
    """The Lead CREATE an org (or a world) publishes for ``lead``: what replays are made of."""
    fields = {
        "Company": lead.company,
        "Email": lead.email,
        "Country": lead.country,
        "NumberOfEmployees": lead.employees,
        "CreatedDate": lead.created.isoformat(),
    }
    return _created("Lead", lead.id, lead.created, fields)


def call_completed(touch: Any) -> ChangeEvent:
    """The Task CREATE of a completed call on a lead (a first-touch ``Touch``)."""
    fields = {
        "WhoId": touch.lead_id,
        "Status": "Completed",
        "TaskSubtype": "Call",
        "OwnerId": touch.user or None,
        "CompletedDateTime": touch.at.isoformat(),
    }
    return _created("Task", touch.record_id, touch.at, fields)


def replay_events(leads: Any, touches: Any) -> list[ChangeEvent]:
    """Leads and touches as one stream of change events in commit order."""
    events = [lead_created(lead) for lead in leads] + [call_completed(t) for t in touches]
    return sorted(events, key=lambda e: (e.commit_ts, e.entity, e.replay_id))


def lead_from_record(record_id: str, fields: dict[str, Any], fallback: datetime) -> Lead:
    employees = fields.get("NumberOfEmployees")
    created = fields.get("CreatedDate")
    return Lead(
        id=record_id,
        created=parse_ts(created) if isinstance(created, str) else fallback,
        company=fields.get("Company"),
        email=fields.get("Email"),
        country=fields.get("Country"),
        employees=int(employees) if isinstance(employees, int | float) else None,
    )


_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode  # one encoder, reused


class _Tracked(dict):
    """A dict that notes every key set or removed (``dirty``) until the encoder has seen it."""

    __slots__ = ("dirty",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dirty: set[Any] = set(self)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.dirty.add(key)
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        self.dirty.add(key)
        super().__delitem__(key)

    def pop(self, key: Any, *default: Any) -> Any:
        self.dirty.add(key)
        return super().pop(key, *default)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        self.dirty.add(key)  # owners.setdefault(lead, []).append(owner): the list changes
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        other = dict(*args, **kwargs)
        self.dirty.update(other)
        super().update(other)

    def popitem(self) -> tuple[Any, Any]:
        key, value = super().popitem()
        self.dirty.add(key)
        return key, value

    def clear(self) -> None:
        self.dirty.update(self)
        super().clear()


class _Encoder:
    """JSON objects of the session's growing maps, each entry's text kept between saves.

    The session hands the desk :class:`_Tracked` dicts; a save re-encodes only the keys set or
    removed since the previous one, and joins the kept texts. A map that was replaced by a new
    object (a restore) is encoded in full, and adopted as a tracked copy.
    """

    def __init__(self) -> None:
        self._texts: dict[str, dict[Any, str]] = {}
        self._seen: dict[str, _Tracked] = {}
        self._set: tuple[set[str], list[str]] = (set(), [])

    def map(self, owner: Any, attribute: str, encode: Any) -> str:
        mapping = getattr(owner, attribute)
        name = f"{type(owner).__name__}.{attribute}"
        if not isinstance(mapping, _Tracked) or self._seen.get(name) is not mapping:
            mapping = _Tracked(mapping)
            setattr(owner, attribute, mapping)
            self._seen[name] = mapping
            self._texts[name] = {}
        texts = self._texts[name]
        for key in mapping.dirty:
            if key in mapping:
                texts[key] = f"{_dumps(key)}:{_dumps(encode(mapping[key]))}"
            else:
                texts.pop(key, None)
        mapping.dirty.clear()
        return "{" + ",".join(texts.values()) + "}"

    def grown(self, items: set[str]) -> str:
        """A JSON list of a set that only grows: what is new since the last save, sorted, is
        appended to what was encoded before (a set that lost members is encoded afresh)."""
        seen, texts = self._set
        if not seen <= items:
            seen, texts = set(), []
        new = items - seen
        if new:
            texts.append(",".join(_dumps(x) for x in sorted(new)))
            seen = seen | new if seen else set(items)
        self._set = (seen, texts)
        return "[" + ",".join(texts) + "]"


@dataclass
class StepReport:
    events: int = 0
    routed: int = 0
    reassigned: int = 0
    touches: int = 0
    gaps: int = 0
    overflows: int = 0  # GAP_OVERFLOW events, each reconciled by polling its entity
    skipped: dict[str, int] = field(default_factory=dict)


class Session:
    def __init__(
        self,
        name: str,
        feed: Feed,
        desk: LeadDesk,
        store: Any,
        *,
        clock: Clock = REAL,
        decide_at: str = "now",  # now: live time; event: the event's commit time (replays)
        reader: Callable[[str, str, tuple[str, ...]], dict[str, Any] | None] | None = None,
        reconcile: Callable[[str, datetime], list[ChangeEvent]] | None = None,
    ) -> None:
        self.name = name
        self.feed = feed
        self.desk = desk
        self.store = store
        self.now = clock.now  # live decisions and SLA checkpoints are at this clock's time
        self.decide_at = decide_at
        self.reader = reader  # (entity, id, fields) → the record now, for partial events
        # (entity, since) → every change to entity since then, polled: after a GAP_OVERFLOW
        self.reconcile = reconcile
        self.last_commit: datetime | None = None  # of the last event handled (not a gap)
        self.lead_fields: dict[str, dict[str, Any]] = {}  # this run's leads, for outreach
        self._encoder = _Encoder()

    # -- state --------------------------------------------------------------------------------

    @staticmethod
    def saved(store: Any, name: str) -> dict[str, Any] | None:
        text = store.get_meta(f"agents:{name}") if store is not None else None
        return json.loads(text) if text else None

    def restore(self, saved: dict[str, Any]) -> None:
        desk = self.desk
        desk.router.state = RouterState.from_json(json.dumps(saved["router"]))
        desk.leads = {k: Lead.from_dict(v) for k, v in saved["leads"].items()}
        desk.assigned = {
            k: (o, datetime.fromisoformat(t)) for k, (o, t) in saved["assigned"].items()
        }
        desk.watch = {}
        for lead_id, (owner, assigned, checkpoint) in saved["watch"].items():
            desk._watch(
                _Watch(desk.leads[lead_id], owner, datetime.fromisoformat(assigned), checkpoint)
            )
        desk.responded = set(saved.get("responded", ()))
        for lead_id, (when, match) in saved.get("held", {}).items():
            desk.hold(
                lead_id, datetime.fromisoformat(when), AccountMatch(**match) if match else None
            )

    def save(self) -> None:
        if self.store is None:
            return
        self.store.set_meta(f"agents:{self.name}", self.state_json())

    def state_json(self) -> str:
        """The session's state as JSON (what :meth:`restore` reads). Saved after every step,
        it grows with the leads seen, so the big maps are encoded entry by entry and only the
        entries a step changed are encoded again (see :class:`_Encoder`)."""
        desk = self.desk
        state = desk.router.state
        enc = self._encoder
        router = {
            "chain": state.chain,
            "credit": state.credit,
            "daily": state.daily,
            "decisions": state.decisions,
        }
        parts = {
            "assigned": enc.map(desk, "assigned", lambda v: (v[0], v[1].isoformat())),
            "feed": _dumps(self.feed.name),
            "held": enc.map(
                desk, "held", lambda v: (v[0].isoformat(), v[1].__dict__ if v[1] else None)
            ),
            "leads": enc.map(desk, "leads", Lead.as_dict),
            "position": _dumps(self.feed.position),
            "responded": enc.grown(desk.responded),
            "router": _dumps(router)[:-1] + ',"owners":' + enc.map(state, "owners", list) + "}",
            "watch": enc.map(
                desk, "watch", lambda w: (w.owner, w.assigned.isoformat(), w.checkpoint)
            ),
        }
        return "{" + ",".join(f'"{k}":{v}' for k, v in parts.items()) + "}"

    # -- one step -----------------------------------------------------------------------------

    def step(self) -> StepReport:
        report = StepReport()
        events = self.feed.poll()
        report.events = len(events)
        for event in events:
            self._handle(event, report)
        # live, SLAs fall due on the clock; in a replay, time is the events' (the next batch
        # may hold the touch that beats a checkpoint, so wall-clock "now" would be wrong)
        until = self.now() if self.decide_at != "event" else self.last_commit
        if until is not None:
            report.reassigned += len(self.desk.check_slas(until))
        self.save()
        return report

    def _complete(self, event: ChangeEvent, needed: tuple[str, ...]) -> ChangeEvent:
        """A gap event, or an update that doesn't carry ``needed``, re-read by id: streaming
        updates carry only the fields that changed (a Task completed has no WhoId)."""
        if self.reader is None or not event.record_ids:
            return event
        if not event.is_gap and all(n in event.fields for n in needed):
            return event
        record = self.reader(event.entity, event.record_ids[0], needed)
        if record is None:
            return event
        kind = event.change_type.removeprefix("GAP_")
        return replace(event, change_type=kind, fields={**record, **event.fields})

    def _overflow(self, event: ChangeEvent, report: StepReport) -> None:
        """A GAP_OVERFLOW names no records: poll every change to its entity since before the
        transaction began, and handle each (routed leads and first touches are remembered, so
        what the stream already delivered decides nothing twice)."""
        if self.reconcile is None:
            return
        since = min(self.last_commit or event.commit_ts, event.commit_ts) - OVERFLOW_MARGIN
        for polled in self.reconcile(event.entity, since):
            self._handle(polled, report)

    def _handle(self, event: ChangeEvent, report: StepReport) -> None:
        if event.change_type == "GAP_OVERFLOW":
            report.gaps += 1
            report.overflows += 1
            self._overflow(event, report)
            return
        if event.is_gap:
            report.gaps += 1
            if self.reader is None:
                return  # no way to read the record: the next sweep catches up
        else:
            self.last_commit = event.commit_ts
        needed = POLL_OBJECTS.get(event.entity, ())
        if event.change_type in ("UPDATE", "GAP_CREATE", "GAP_UPDATE"):
            event = self._complete(event, needed)
        at = event.commit_ts if self.decide_at == "event" else self.now()
        self.desk.check_slas(at)
        if event.entity == "Lead" and event.change_type in ("CREATE", "UPDATE"):
            for record_id in event.record_ids:
                log = self.desk.log
                if record_id in self.desk.leads or (log is not None and log.routed(record_id, at)):
                    report.skipped["lead already routed"] = (
                        report.skipped.get("lead already routed", 0) + 1
                    )
                    continue
                lead = lead_from_record(record_id, dict(event.fields), event.commit_ts)
                self.lead_fields[record_id] = {"Id": record_id, **event.fields}
                self.desk.new_lead(lead, at, event)
                report.routed += 1
        elif event.entity == "Task" and event.change_type in ("CREATE", "UPDATE"):
            done = event.fields.get("CompletedDateTime")
            touch = touch_from_task(
                {"Id": event.record_ids[0], **event.fields},
                parse_ts(done) if isinstance(done, str) else event.commit_ts,
            )
            if touch and self.desk.touched(touch):
                report.touches += 1
        elif event.entity == "EmailMessage" and event.change_type == "CREATE":
            sent = event.fields.get("MessageDate")
            touch = touch_from_email(
                {"Id": event.record_ids[0], **event.fields},
                parse_ts(sent) if isinstance(sent, str) else event.commit_ts,
            )
            if touch and self.desk.touched(touch):
                report.touches += 1
