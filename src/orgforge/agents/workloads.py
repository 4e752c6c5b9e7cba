"""The lead workloads as a driver feeds them: route new leads, watch SLAs, record first touches.

:class:`LeadDesk` holds one routing session: it routes each new lead as its CREATE arrives,
keeps every assigned-but-untouched lead on an SLA watch, reassigns the ones whose checkpoint
passes untouched (``check_slas``, called as time moves on), and turns the first touch of each
lead into response times. Writes go through an ``OwnerWriter`` (the Salesforce target, or
nothing on ``--dry-run``), so the desk itself never talks to an API.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from orgforge.agents.events import ChangeEvent
from orgforge.agents.first_touch import ResponseTime, Touch, response_time
from orgforge.agents.flywheel import FlywheelLog
from orgforge.agents.hours import add_working
from orgforge.agents.policy import Policy
from orgforge.agents.routing import (
    AccountIndex,
    AccountMatch,
    Decision,
    Lead,
    Router,
    RouterState,
)


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
        checker: Any = None,
    ) -> None:
        self.policy = policy
        # the optional LLM check (agents/llm_check.py): reviews each decision, never changes it
        self.checker = checker
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
        self.held: dict[str, tuple[datetime, AccountMatch | None]] = {}  # lead → (when, match)
        self._due: list[tuple[datetime, int, str, object]] = []
        # called when a lead reaches a rep (routed, or dispatched after a hold): outreach
        self.on_assigned: Any = None
        # the lead.route / lead.first_touch workloads: off, a new lead is only remembered (for
        # its first touch) and never assigned; a touch only ends the lead's SLA watch
        self.route = True
        self.first_touch = True
        self._order = itertools.count()

    def _decide(self, fn, lead: Lead, action: str, why: str | None, event: ChangeEvent | None):
        before = self.router.state.digest()
        started = time.perf_counter()
        decision = fn()
        decision.action = action
        latency_ms = (time.perf_counter() - started) * 1000
        check = None
        if self.checker is not None:
            check = self.checker.check(decision, lead).as_dict()
        # the owner is written before the decision is logged: a session killed in between
        # re-decides the lead on restart (its log line is missing) instead of leaving it unset
        if self.writer is not None:
            self.writer.set_owner(lead.id, decision.owner)
        if self.log is not None:
            self.log.route(
                decision,
                lead,
                action=action,
                why=why,
                state_before=before,
                latency_ms=latency_ms,
                event=event,
                check=check,
            )
        self.decisions.append(decision)
        return decision

    def new_lead(
        self, lead: Lead, at: datetime, event: ChangeEvent | None = None
    ) -> Decision | None:
        if not self.route:
            self.leads[lead.id] = lead
            self.assigned[lead.id] = ("", at)
            return None
        match = self.accounts.match(lead) if self.policy.match_accounts else None
        decision = self._decide(
            lambda: self.router.route(lead, at, match), lead, "route", None, event
        )
        self.leads[lead.id] = lead
        self._assigned(lead, decision, at, match)
        return decision

    def _assigned(
        self, lead: Lead, decision: Decision, at: datetime, match: AccountMatch | None = None
    ) -> None:
        self.assigned[lead.id] = (decision.owner, at)
        if self.on_assigned is not None and decision.rule in ("pool", "account_match"):
            self.on_assigned(lead, decision, at)
        if decision.rule == "held" and decision.dispatch_at is not None:
            self.hold(lead.id, decision.dispatch_at, match)
        elif self.policy.sla and decision.owner in self.policy.rep_by_id:
            self._watch(_Watch(lead, decision.owner, at, 0))

    # Held leads and SLA watches wait in one heap of (when, order, lead, entry); an entry that
    # was replaced or cleared (touched, reassigned) is stale and skipped when it comes up.

    def hold(self, lead_id: str, when: datetime, match: AccountMatch | None) -> None:
        entry = (when, match)
        self.held[lead_id] = entry
        heapq.heappush(self._due, (when, next(self._order), lead_id, entry))

    def _watch(self, watch: _Watch) -> None:
        watch.due = self.sla_due(watch)
        self.watch[watch.lead.id] = watch
        if watch.due is not None:
            heapq.heappush(self._due, (watch.due, next(self._order), watch.lead.id, watch))

    def sla_due(self, watch: _Watch) -> datetime | None:
        sla = self.policy.sla[watch.checkpoint]
        if not sla.working_hours:
            return watch.assigned + timedelta(minutes=sla.minutes)
        rep = self.policy.rep_by_id[watch.owner]
        return add_working(rep, watch.assigned, sla.minutes * 60)

    def check_slas(self, at: datetime) -> list[Decision]:
        """Everything due by ``at``, in time order: held leads are dispatched once a pool
        member is on shift, and watched leads whose SLA checkpoint passed are reassigned."""
        moved: list[Decision] = []
        while self._due and self._due[0][0] <= at:
            when, _order, lead_id, entry = heapq.heappop(self._due)
            if isinstance(entry, _Watch):
                if self.watch.get(lead_id) is entry:
                    moved.extend(self._sla_passed(entry, when))
            elif self.held.get(lead_id) is entry:
                moved.append(self._dispatch(lead_id, when, entry[1]))
        return moved

    def _dispatch(self, lead_id: str, when: datetime, match: AccountMatch | None) -> Decision:
        del self.held[lead_id]
        lead = self.leads[lead_id]
        decision = self._decide(
            lambda: self.router.route(lead, when, match),
            lead,
            "dispatch",
            "held until a pool member came on shift",
            None,
        )
        self._assigned(lead, decision, when, match)
        return decision

    def _sla_passed(self, watch: _Watch, due: datetime) -> list[Decision]:
        lead_id = watch.lead.id
        sla = self.policy.sla[watch.checkpoint]
        nxt = watch.checkpoint + 1
        more = nxt < len(self.policy.sla)
        if not sla.reassign:
            if more:
                self._watch(_Watch(watch.lead, watch.owner, watch.assigned, nxt))
            else:
                del self.watch[lead_id]
            return []
        unit = "working minutes" if sla.working_hours else "minutes"
        why = f"SLA {sla.name} missed: untouched {sla.minutes} {unit} after assignment"
        decision = self._decide(
            lambda: self.router.reassign(watch.lead, due, watch.owner, why),
            watch.lead,
            "reassign",
            why,
            None,
        )
        if decision.rule == "kept":
            if more:
                self._watch(_Watch(watch.lead, watch.owner, watch.assigned, nxt))
            else:
                del self.watch[lead_id]
            return [decision]
        self.assigned[lead_id] = (decision.owner, self.assigned[lead_id][1])
        if more and decision.owner in self.policy.rep_by_id:
            self._watch(_Watch(watch.lead, decision.owner, due, nxt))
        else:
            del self.watch[lead_id]
        return [decision]

    def touched(self, touch: Touch) -> ResponseTime | None:
        """A touch on a lead; the first one sets its response time (later ones are ignored)."""
        lead = self.leads.get(touch.lead_id)
        if lead is None or touch.lead_id in self.responded:
            return None
        self.responded.add(touch.lead_id)
        self.watch.pop(touch.lead_id, None)
        self.held.pop(touch.lead_id, None)
        if not self.first_touch:
            return None
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
