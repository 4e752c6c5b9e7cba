"""``orgforge agents run``: a session over a feed, as the CLI and the library start it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from orgforge.agents.feeds import PollFeed, ReplayExpired, parse_ts
from orgforge.agents.flywheel import FlywheelLog
from orgforge.agents.outreach import suggest
from orgforge.agents.policy import load_policy
from orgforge.agents.routing import AccountIndex
from orgforge.agents.session import POLL_OBJECTS, Session, StepReport
from orgforge.agents.workloads import LeadDesk
from orgforge.clock import REAL, Clock
from orgforge.errors import ConfigError

DEFAULT_WORKLOADS = ("lead.route", "lead.first_touch")


_SF_ID = re.compile(r"^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$")


def org_owner_ids(client: Any, policy: Any, where: str) -> dict[str, str]:
    """Policy owner → org id: ids (005…, 00G…) as they are, usernames looked up; anything
    else can't become an OwnerId, so it is refused before the first write."""
    owners = [r.id for r in policy.reps] + [policy.fallback_owner]
    usernames = sorted({o for o in owners if "@" in o})
    found: dict[str, str] = {}
    if usernames:
        quoted = ", ".join("'" + u.replace("'", "\\'") + "'" for u in usernames)
        for row in client.query_all(f"SELECT Id, Username FROM User WHERE Username IN ({quoted})"):
            found[row["Username"].casefold()] = row["Id"]
    mapping = {}
    for owner in owners:
        if _SF_ID.match(owner):
            mapping[owner] = owner
        elif "@" in owner and owner.casefold() in found:
            mapping[owner] = found[owner.casefold()]
        else:
            what = "no user with that username" if "@" in owner else "not an org id or username"
            raise ConfigError(
                f"{where}: owner {owner!r}: {what}; the poll feed writes Lead.OwnerId",
                "Use org user/queue ids (005…/00G…) or usernames in the policy, or --dry-run.",
            )
    return mapping


class SalesforceLeadWriter:
    """Writes routing and first-touch results onto Leads through the Salesforce target."""

    def __init__(self, client: Any, owners: dict[str, str] | None = None) -> None:
        self.client = client
        self.owners = owners or {}
        self.writes = 0
        self.missing_fields: set[str] = set()

    def set_owner(self, lead_id: str, owner: str) -> None:
        self._patch(lead_id, {"OwnerId": self.owners.get(owner, owner)})

    def set_fields(self, lead_id: str, fields: dict[str, object]) -> None:
        self._patch(lead_id, {k: v for k, v in fields.items() if k not in self.missing_fields})

    def send_email(self, lead_id: str, to: str, subject: str, body: str) -> str | None:
        """Send through the emailSimple action, logged on the lead; the error text, or None."""
        result = self.client.request(
            "POST",
            "actions/standard/emailSimple",
            json={
                "inputs": [
                    {
                        "emailAddresses": to,
                        "emailSubject": subject,
                        "emailBody": body,
                        "senderType": "CurrentUser",
                        "recipientId": lead_id,
                        "logEmailOnSend": True,
                    }
                ]
            },
            idempotent=False,
            what=f"emailSimple to Lead {lead_id}",
        )
        first = result[0] if isinstance(result, list) and result else {}
        if first.get("isSuccess"):
            return None
        errors = first.get("errors") or [{}]
        return str(errors[0].get("message") or "not sent")

    def _patch(self, lead_id: str, fields: dict[str, object]) -> None:
        from orgforge.targets.salesforce.client import ApiError

        if not fields:
            return
        try:
            self.client.request(
                "PATCH",
                f"sobjects/Lead/{lead_id}",
                json=fields,
                # an org's active assignment rule would otherwise re-route the lead
                headers={"Sforce-Auto-Assign": "FALSE"},
                what=f"update Lead {lead_id}",
            )
        except ApiError as exc:
            if exc.code != "INVALID_FIELD":
                raise
            # The org lacks a first-response field: say so once, write the rest.
            bad = {f for f in fields if f in exc.detail}
            if not bad:
                raise
            self.missing_fields |= bad
            self._patch(lead_id, {k: v for k, v in fields.items() if k not in bad})
            return
        self.writes += 1


@dataclass
class AgentsReport:
    feed: str
    steps: int = 0
    events: int = 0
    routed: int = 0
    reassigned: int = 0
    touches: int = 0
    gaps: int = 0
    overflows: int = 0
    writes: int = 0
    log_lines: int = 0
    log_dir: str = ""
    dry_run: bool = False
    missing_fields: list[str] = field(default_factory=list)
    decisions: list[Any] = field(default_factory=list)  # this run's routing decisions
    unwatched: list[str] = field(default_factory=list)  # objects the org doesn't have
    reconciled: list[str] = field(default_factory=list)  # why a stream fell back to polling
    suggested: int = 0
    sent: int = 0
    send_failed: int = 0
    llm_check: dict[str, int] | None = None  # calls, cached, flagged, unchecked

    def add(self, step: StepReport) -> None:
        self.steps += 1
        self.events += step.events
        self.routed += step.routed
        self.reassigned += step.reassigned
        self.touches += step.touches
        self.gaps += step.gaps
        self.overflows += step.overflows
        if step.overflows:
            self.reconciled.append(
                f"{step.overflows} GAP_OVERFLOW event(s): a transaction changed more records "
                "than the org sends events for; reconciled by polling the entity"
            )


@dataclass
class Agents:
    """What a workload's ``attach`` hooks into (see :class:`orgforge.plugins.WorkloadPlugin`)."""

    desk: LeadDesk
    session: Session
    policy: Any
    log: FlywheelLog | None
    writer: SalesforceLeadWriter | None
    report: AgentsReport


def run_agents(
    cfg: Any,
    *,
    feed: str = "poll",
    workloads: tuple[str, ...] = DEFAULT_WORKLOADS,
    templates: str | Path | None = None,
    send: bool = False,
    llm_check: bool = False,
    policy: str | Path | None = None,
    log_dir: str | Path = "flywheel",
    dry_run: bool = False,
    once: bool = False,
    interval: float = 5.0,
    max_steps: int | None = None,
    name: str | None = None,
    session: Any = None,
    env: dict[str, str] | None = None,
    clock: Clock = REAL,
    on_step: Callable[[AgentsReport], None] | None = None,
) -> AgentsReport:
    """Run the lead workloads over ``feed`` until stopped (``once``: one sweep)."""
    from orgforge import plugins
    from orgforge.world.store import World

    source_spec = plugins.feed(feed)
    chosen = [plugins.workload(w) for w in dict.fromkeys(workloads)]
    if interval <= 0 or interval > 3600:
        raise ConfigError(f"--interval: {interval} is not between 0 and 3600 seconds")
    rules = load_policy(policy)
    if send and not any(w.sends for w in chosen):
        sending = sorted(n for n, w in plugins.workloads().items() if w.sends)
        raise ConfigError("--send: nothing to send", f"Add --workload {' or '.join(sending)}.")
    # each workload refuses its bad options (a templates file…) before the world opens
    attachers = [w.factory(cfg, templates=templates, send=send) for w in chosen]
    report = AgentsReport(feed=feed, log_dir=str(log_dir), dry_run=dry_run)
    name = name or f"{feed}:{'+'.join(workloads)}"
    writer = None
    client = None
    objects: dict[str, tuple[str, ...]] = {}
    if source_spec.org:  # whatever can refuse the run does so before the world opens
        from orgforge.targets.salesforce.ops import connect

        client = connect(cfg, session=session, env=env)
        # An org without Enhanced Email has no EmailMessage: watch what the org has
        listed = client.request("GET", "sobjects", what="describe global")["sobjects"]
        present = {o["name"] for o in listed}
        objects = {k: v for k, v in POLL_OBJECTS.items() if k in present}
        report.unwatched = sorted(set(POLL_OBJECTS) - set(objects))
        if not dry_run:
            where = str(policy) if policy else "builtin:policy.example.yaml"
            writer = SalesforceLeadWriter(client, org_owner_ids(client, rules, where))
    # a session writes its state (and a stream its position) into the world after every step:
    # it holds the writer lock until it stops; --dry-run writes nothing and takes none
    checker = None
    if llm_check:  # a missing key or endpoint is refused here, before the world opens
        from orgforge.agents.llm_check import RouteChecker

        checker = RouteChecker(cfg.content, seed=cfg.seed)
    world = World(cfg.world, writer=None if dry_run else "agents run")
    log = None
    try:
        saved = Session.saved(world, name)
        source = source_spec.factory(
            cfg,
            world=world,
            client=client,
            objects=objects if source_spec.org else None,
            position=saved["position"] if saved else None,
            interval=interval,
            clock=clock,
        )
        # --dry-run decides and reports but writes nothing: no org write, no log, no state
        log = None if dry_run else FlywheelLog(log_dir, client_id=_client_id(feed, client, cfg))
        if checker is not None and not dry_run:
            checker.store = world  # answers cached in the world: a rerun makes no calls
        desk = LeadDesk(rules, log=log, accounts=AccountIndex(), writer=writer, checker=checker)
        desk.route = desk.first_touch = False  # the chosen workloads switch theirs on
        report.decisions = desk.decisions
        reader = _reader(client) if client is not None else None
        run = Session(
            name,
            source,
            desk,
            None if dry_run else world,
            clock=clock,
            decide_at=source_spec.decide_at,
            reader=reader,
            reconcile=_overflow_poller(client, objects, clock) if client is not None else None,
        )
        if saved:
            run.restore(saved)
        agents = Agents(desk, run, rules, log, writer, report)
        for attach in attachers:
            attach(agents)
        while True:
            try:
                step = run.step()
            except ReplayExpired as exc:
                step = _reconcile(run, source, client, objects, exc, clock, report)
            report.add(step)
            report.log_lines = log.lines if log is not None else 0
            if writer is not None:
                report.writes = writer.writes
                report.missing_fields = sorted(writer.missing_fields)
            if on_step is not None:
                on_step(report)
            if once or (max_steps is not None and report.steps >= max_steps):
                return report
            if source_spec.waits:
                continue  # the long poll itself waited for events: no sleep between
            if source_spec.finite and step.events == 0:
                return report  # e.g. the world's log: a replay ends when it is read
            clock.sleep(interval)
    finally:
        if checker is not None:
            report.llm_check = checker.stats()
            checker.close()
        if log is not None:
            log.close()
        world.close()


def _client_id(feed: str, client: Any, cfg: Any) -> str:
    if client is not None:
        return f"salesforce:{client.org_id}"
    return f"world:{cfg.world}"


def _reader(client: Any):
    """Re-read one record by id (gap events, updates without the fields a workload needs)."""
    from orgforge.targets.salesforce.client import soql_quote

    def read(entity: str, record_id: str, fields: tuple[str, ...]) -> dict[str, Any] | None:
        wanted = ", ".join(dict.fromkeys(("Id", "CreatedDate", *fields)))
        rows = list(
            client.query_all(f"SELECT {wanted} FROM {entity} WHERE Id = {soql_quote(record_id)}")
        )
        if not rows:
            return None
        return {k: v for k, v in rows[0].items() if k != "attributes"}

    return read


def _overflow_poller(client, objects, clock):
    """After a GAP_OVERFLOW (no record ids): every change to the entity since ``since``, by
    SystemModstamp sweeps until one comes back empty."""

    def changes(entity: str, since: datetime) -> list[Any]:
        if entity not in objects:
            return []
        sweep = PollFeed(client, {entity: objects[entity]}, None, clock=clock, start=since)
        found: list[Any] = []
        while batch := sweep.poll():
            found += batch
        return found

    return changes


def _reconcile(run, stream, client, objects, exc, clock, report) -> StepReport:
    """The stored replay id is older than the org keeps: subscribe for new events first (so
    nothing after this instant can be lost), then sweep by polling from the last change handled
    — routed leads and first touches are remembered, so the overlap decides nothing twice."""
    since_text = stream.position.get("_since")
    since = parse_ts(since_text) if since_text else clock.now() - timedelta(hours=72)
    report.reconciled.append(
        f"{exc.channel}: replay id {exc.replay_id} is no longer kept by the org; "
        f"reconciled by polling changes since {since.isoformat(timespec='seconds')}"
    )
    stream.resubscribe_from_now()
    stream.connect()
    sweep = PollFeed(client, objects, None, clock=clock, start=since)
    run.feed = sweep
    try:
        step = run.step()
    finally:
        run.feed = stream
    run.save()  # the stream's position (new events from the resubscription on), not the sweep's
    return step


def outreach_hook(run, policy, templates, log, writer, report):
    """When a lead reaches a rep: pick and fill a template, log it, send it if asked."""

    def on_assigned(lead, decision, at) -> None:
        fields = run.lead_fields.get(lead.id) or {
            "Id": lead.id,
            "Company": lead.company,
            "Email": lead.email,
        }
        if log is not None and log.seen("outreach.suggest", at, f"outreach|{lead.id}"):
            return  # a restarted session re-deciding this lead: never email it twice
        rep = policy.rep_by_id.get(decision.owner)
        suggestion = suggest(templates, fields, (rep.name if rep and rep.name else "Your rep"))
        report.suggested += 1
        sent, error = None, None
        if writer is not None:
            if not suggestion.to:
                sent, error = False, "the lead has no email address"
            else:
                error = writer.send_email(
                    lead.id, suggestion.to, suggestion.subject, suggestion.body
                )
                sent = error is None
            report.sent += bool(sent)
            report.send_failed += not sent
        if log is not None:
            log.outreach(at, suggestion, sent, error)

    return on_assigned
