"""The lead workloads as a driver feeds them: route new leads, watch SLAs, record first touches.

:class:`LeadDesk` holds one routing session: it routes each new lead as its CREATE arrives,
keeps every assigned-but-untouched lead on an SLA watch, reassigns the ones whose checkpoint
passes untouched (``check_slas``, called as time moves on), and turns the first touch of each
lead into response times. Writes go through an ``OwnerWriter`` (the Salesforce target, or
nothing on ``--dry-run``), so the desk itself never talks to an API.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from orgforge.agents.events import ChangeEvent
from orgforge.agents.first_touch import ResponseTime, Touch, response_time
from orgforge.agents.flywheel import FlywheelLog
from orgforge.agents.hours import add_working
from orgforge.agents.policy import Policy
from orgforge.agents.routing import AccountIndex, Decision, Lead, Router, RouterState


class OwnerWriter(Protocol):
    def set_owner(self, lead_id: str, owner: str) -> None: ...

    def set_fields(self, lead_id: str, fields: dict[str, object]) -> None: ...


@dataclass
class _Watch:
    lead: Lead
    owner: str
    assigned: datetime
    checkpoint: int  # index into policy.sla of the next SLA to apply
    due: datetime | None = None  # when that checkpoint passes untouched (None: never)


class LeadDesk:
    def __init__(
        self,
        policy: Policy,
        *,
        log: FlywheelLog | None = None,
        accounts: AccountIndex | None = None,
        writer: OwnerWriter | None = None,
        state: RouterState | None = None,
    ) -> None:
        self.policy = policy
        self.router = Router(policy, state)
        self.log = log
        self.accounts = accounts or AccountIndex()
        self.writer = writer
        self.watch: dict[str, _Watch] = {}
        self.assigned: dict[str, tuple[str, datetime]] = {}  # lead → (owner, first assignment)
        self.leads: dict[str, Lead] = {}
        self.responses: dict[str, ResponseTime] = {}  # this session's first touches
        self.responded: set[str] = set()  # every lead with a first touch, across restarts
        self.decisions: list[Decision] = []

    def _decide(self, fn, lead: Lead, action: str, why: str | None, event: ChangeEvent | None):
        before = self.router.state.digest()
        started = time.perf_counter()
        decision = fn()
        latency_ms = (time.perf_counter() - started) * 1000
        if self.log is not None:
            self.log.route(
                decision,
                lead,
                action=action,
                why=why,
                state_before=before,
                latency_ms=latency_ms,
                event=event,
            )
        if self.writer is not None:
            self.writer.set_owner(lead.id, decision.owner)
        self.decisions.append(decision)
        return decision

    def new_lead(self, lead: Lead, at: datetime, event: ChangeEvent | None = None) -> Decision:
        match = self.accounts.match(lead) if self.policy.match_accounts else None
        decision = self._decide(
            lambda: self.router.route(lead, at, match), lead, "route", None, event
        )
        self.leads[lead.id] = lead
        self.assigned[lead.id] = (decision.owner, at)
        if self.policy.sla and decision.owner in self.policy.rep_by_id:
            self._watch(_Watch(lead, decision.owner, at, 0))
        return decision

    def _watch(self, watch: _Watch) -> None:
        watch.due = self.sla_due(watch)
        self.watch[watch.lead.id] = watch

    def sla_due(self, watch: _Watch) -> datetime | None:
        sla = self.policy.sla[watch.checkpoint]
        if not sla.working_hours:
            return watch.assigned + timedelta(minutes=sla.minutes)
        rep = self.policy.rep_by_id[watch.owner]
        return add_working(rep, watch.assigned, sla.minutes * 60)

    def check_slas(self, at: datetime) -> list[Decision]:
        """Reassign every watched lead whose next SLA checkpoint has passed by ``at``."""
        moved = []
        dues = [(w.due, lead_id) for lead_id, w in self.watch.items()]
        for due, lead_id in sorted((d, k) for d, k in dues if d is not None and d <= at):
            watch = self.watch[lead_id]
            sla = self.policy.sla[watch.checkpoint]
            unit = "working minutes" if sla.working_hours else "minutes"
            why = f"SLA {sla.name} missed: untouched {sla.minutes} {unit} after assignment"
            if not sla.reassign:
                watch.checkpoint += 1
                if watch.checkpoint >= len(self.policy.sla):
                    del self.watch[lead_id]
                else:
                    self._watch(watch)
                continue
            decision = self._decide(
                lambda w=watch, why=why, due=due: self.router.reassign(w.lead, due, w.owner, why),
                watch.lead,
                "reassign",
                why,
                None,
            )
            moved.append(decision)
            self.assigned[lead_id] = (decision.owner, self.assigned[lead_id][1])
            nxt = watch.checkpoint + 1
            if nxt < len(self.policy.sla) and decision.owner in self.policy.rep_by_id:
                self._watch(_Watch(watch.lead, decision.owner, due, nxt))
            else:
                del self.watch[lead_id]
        return moved

    def touched(self, touch: Touch) -> ResponseTime | None:
        """A touch on a lead; the first one sets its response time (later ones are ignored)."""
        lead = self.leads.get(touch.lead_id)
        if lead is None or touch.lead_id in self.responded:
            return None
        self.responded.add(touch.lead_id)
        self.watch.pop(touch.lead_id, None)
        owner, assigned = self.assigned[touch.lead_id]
        rt = response_time(
            lead.id, owner, lead.created, assigned, touch, self.policy.rep_by_id.get(owner)
        )
        self.responses[lead.id] = rt
        if self.writer is not None:
            self.writer.set_fields(lead.id, rt.lead_fields())
        if self.log is not None:
            self.log.first_touch(
                touch.at,
                lead.id,
                {
                    "owner": owner,
                    "touch_user": touch.user,
                    "touch_kind": touch.kind,
                    "touch_record": touch.record_id,
                    "created": lead.created.isoformat(),
                    "assigned": assigned.isoformat(),
                    "first_touch_at": touch.at.isoformat(),
                    "ttfr_seconds": rt.ttfr_seconds,
                    "ttfr_working_seconds": rt.ttfr_working_seconds,
                    "system_delay_seconds": rt.system_delay_seconds,
                    "rep_delay_seconds": rt.rep_delay_seconds,
                    "rep_delay_working_seconds": rt.rep_delay_working_seconds,
                },
            )
        return rt


def run_timeline(
    desk: LeadDesk, leads: Iterable[tuple[Lead, datetime]], touches: Iterable[Touch]
) -> None:
    """Feed leads (with the instant each is routed) and touches to ``desk`` in time order,
    checking SLAs before each happening, so reassignments land where they would have live."""
    happenings: list[tuple[datetime, int, str, object]] = []
    for lead, at in leads:
        happenings.append((at, 0, lead.id, lead))
    for touch in touches:
        happenings.append((touch.at, 1, touch.record_id, touch))
    happenings.sort(key=lambda h: (h[0], h[1], h[2]))
    for at, kind, _id, item in happenings:
        desk.check_slas(at)
        if kind == 0:
            desk.new_lead(item, at)  # type: ignore[arg-type]
        else:
            desk.touched(item)  # type: ignore[arg-type]
