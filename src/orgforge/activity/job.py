"""The activity job: select opportunities → plan → text → scorecards → sink, in chunks.

Chunks of ``activity.chunk_size`` opportunities are prepared (planned, diffed against what the
sink already holds, text filled for new items only, scorecards filled) by up to
``activity.concurrency`` workers; each prepared chunk is written by the main thread, in order,
in one transaction per chunk. Bad input (filter, framework, subject types, unknown --opp) fails
before the first write.

Idempotency: an activity is the same activity when its signature (opportunity, kind, scheduled
time, subject) is the same. A rerun with the same seed and config writes nothing; a changed
config creates the new items, and removes items orgforge created that are no longer planned
(``activity.prune``, default on). Records not made by this job are never touched.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from orgforge.activity import where as where_mod
from orgforge.activity.frameworks import (
    Evidence,
    Framework,
    Scorecard,
    apply_engine,
    heuristic,
    load_frameworks,
    select_frameworks,
)
from orgforge.activity.planner import SEQ_BASE, OpportunityPlan, Planned, Planner, signature
from orgforge.activity.sink import JOB, ChunkWork, WorldSink, opp_prefix_of
from orgforge.activity.source import Opportunity, OpportunitySource, WorldSource
from orgforge.activity.subjects import load_holidays, load_subject_types
from orgforge.config import Config, dump
from orgforge.content.contract import ContentEngine, ContentRequest
from orgforge.content.offline import OfflineEngine
from orgforge.errors import UsageError
from orgforge.generate.calendar import Calendar
from orgforge.generate.timeutil import iso_date, stamp, utc
from orgforge.packs import load_packs
from orgforge.world import tables as t
from orgforge.world.runlog import check_writable_dir, open_run
from orgforge.world.store import World

EMAIL_SENT = "3"  # EmailMessage.Status: Sent
COLUMNS = {name: tuple(c.name for c in t.RECORD_TABLES[name].columns) for name in t.RECORD_TABLES}


@dataclass
class Setup:
    """Everything resolved and validated before the first write."""

    config: Config
    planner: Planner
    frameworks: list[Framework]
    industry_ids: dict[str, str]  # Account.Industry → pack id (the text engine's vocabulary)
    packs: dict


def world_as_of(config: Config) -> dt.date | None:
    """The day the world's records were generated as of (its last generate run), if known."""
    try:
        with World(config.world, create=False) as world:
            generated = world.get_meta("generated")
    except UsageError:
        return None  # no world (yet): the job itself reports that
    if not generated:
        return None
    value = json.loads(generated).get("as_of")
    return dt.date.fromisoformat(value) if value else None


def anchor_as_of(config: Config) -> tuple[Config, str | None]:
    """The config with as_of defaulting to the world's, and a warning for an as_of before it.

    Activity is planned around the day the world's histories end: past meetings and emails
    fall between a deal's CreatedDate and as_of. Today is the wrong default for an old world
    (a month of activity crowds into the days before today); an as_of before the world's
    squeezes the past activity of deals created after it into a few days.
    """
    anchor = world_as_of(config)
    if anchor is None:
        return config, None
    if config.as_of is None:
        return config.model_copy(update={"as_of": anchor}), None
    if config.as_of < anchor:
        return config, (
            f"as-of {config.as_of.isoformat()} is before the world's history ends "
            f"({anchor.isoformat()}): deals created after it get their past activity crowded "
            "into a few days; drop --as-of to use the world's"
        )
    return config, None


def setup(config: Config) -> Setup:
    act = config.activity
    if act.where:
        where_mod.parse(act.where)
    subjects = load_subject_types(act.subjects)
    holidays = load_holidays(act.holidays)
    frameworks = select_frameworks(
        load_frameworks(act.scorecards.files, subjects), act.scorecards.frameworks
    )
    packs = load_packs(config.generate.packs)
    products = {p.industry: tuple(x.name for x in p.products) for p in packs.values()}
    planner = Planner(act, config.seed, config.today.toordinal(), subjects, holidays, products)
    return Setup(config, planner, frameworks, {p.industry: p.id for p in packs.values()}, packs)


# -- selection -------------------------------------------------------------------------------


def select_opportunities(
    source: OpportunitySource,
    config: Config,
    where: str | None = None,
    opps: Sequence[str] | None = None,
    max_opps: int | None = None,
) -> list[Opportunity]:
    # Explicit --opp keys are taken as given: the configured default filter and cap don't apply.
    where = where if where is not None else (None if opps else config.activity.where)
    limit = max_opps if max_opps is not None else (None if opps else config.activity.max_opps)
    with _where_errors(where):
        if where:
            where_mod.parse(where)  # fail on a bad filter before touching anything
        return source.select(where, list(opps) if opps else None, limit)


@contextmanager
def _where_errors(where: str | None) -> Iterator[None]:
    """A filter that parses but can't be run (nesting past Python's stack, a number past
    SQLite's 64-bit integers, an expression past SQLite's limits) is bad input, said so."""
    from sqlalchemy.exc import OperationalError

    try:
        yield
    except RecursionError:
        raise UsageError(
            "--where: the filter is nested too deeply", "Simplify it (fewer parentheses or NOTs)."
        ) from None
    except OverflowError:
        raise UsageError(
            "--where: a number is out of range (beyond 64-bit integers)",
            "Use numbers between -9223372036854775808 and 9223372036854775807.",
        ) from None
    except OperationalError as exc:
        text = str(exc.orig)
        if "too large" not in text and "too many" not in text:
            raise
        raise UsageError(
            f"--where: the filter is too large for the database ({text})",
            "Split it, or select with fewer conditions (e.g. IN (...) instead of many ORs).",
        ) from None


# -- one chunk -------------------------------------------------------------------------------


def evidence_for(s: Setup, plan: OpportunityPlan) -> Evidence:
    opp = plan.opportunity
    people = [(s.planner.persona(p), p.name, p.title) for p in opp.roles]
    return Evidence(
        opportunity=opp.row,
        contacts=people,
        activities=[(i.type.id, i.type.label, i.date) for i in plan.past],
        context={
            "account": opp.account.get("Name") or "",
            "product": plan.product,
            "industry": s.industry_ids.get(opp.account.get("Industry") or "", ""),
        },
    )


def scorecards_for(s: Setup, plan: OpportunityPlan) -> tuple[list[Scorecard], Evidence]:
    ev = evidence_for(s, plan)
    cards = [
        heuristic(fw, ev, f"Scorecard/{plan.opportunity.prefix}/{fw.id}") for fw in s.frameworks
    ]
    return cards, ev


def _text_requests(s: Setup, plan: OpportunityPlan, item: Planned) -> ContentRequest:
    opp = plan.opportunity
    person = item.participants[0] if item.participants else None
    owner = " ".join(x for x in (opp.owner.get("FirstName"), opp.owner.get("LastName")) if x)
    name = opp.row.get("Name") or ""
    context = {
        "account": opp.account.get("Name") or "",
        "industry": s.industry_ids.get(opp.account.get("Industry") or "", ""),
        "industry_label": (opp.account.get("Industry") or "").lower(),
        "opportunity": name.split(" - ", 1)[1] if " - " in name else name,
        "product": plan.product,
        "stage": opp.stage,
        "subject": item.subject,
        "type": item.type.id,
        "contact": person.name if person else "",
        "contact_first": person.first if person else "",
        "title": person.title if person else "",
        "owner": owner,
        "timing": item.when,
        "next_step_hint": (opp.row.get("NextStep") or "").rstrip(".").lower(),
        "attendees": ", ".join(p.name for p in item.participants),
    }
    kind = "meeting.notes" if item.kind == "meeting" else "email.body"
    return ContentRequest(kind, item.key, context)


def _rows(s: Setup, plan: OpportunityPlan, item: Planned, text: str) -> dict[str, list[tuple]]:
    opp = plan.opportunity
    tag = s.config.activity.tag
    if tag.mode == "description":
        text = f"{text}\n\n{tag.marker}"
    who = item.participants[0].key if item.participants else None
    owner = opp.row.get("OwnerId")
    base = {
        "key": item.key,
        "account_idx": opp.account_idx,
        "seq": item.seq,
        "tier": None,
        "job": JOB,
        "Subject": item.subject,
        "Description": text,
        "WhoId": who,
        "WhatId": opp.key,
        "OwnerId": owner,
        **_audit(item.created, owner, item.modified),
    }
    out: dict[str, list[tuple]] = {}
    if item.kind == "meeting":
        start = item.scheduled
        record = {
            **base,
            "StartDateTime": start,
            "EndDateTime": item.end,
            "DurationInMinutes": item.minutes,
            "ActivityDateTime": start,
            "Location": item.location,
            "Type": item.type.event_type,
            "ShowAs": "Busy",
            "IsAllDayEvent": 0,
        }
        out["Event"] = [tuple(record.get(c) for c in COLUMNS["Event"])]
        out["EventRelation"] = [
            tuple(
                {
                    "key": f"EventRelation/{item.key.split('/', 1)[1]}/{n}",
                    "account_idx": opp.account_idx,
                    "seq": item.seq * 10 + n,
                    "tier": None,
                    "job": JOB,
                    "EventId": item.key,
                    "RelationId": relation,
                    "IsInvitee": 1,
                    "Status": "Accepted"
                    if item.when == "past" or relation in item.users
                    else "New",
                    **_audit(item.created, owner),
                }.get(c)
                for c in COLUMNS["EventRelation"]
            )
            # the contacts, then the Users invited with the owner (the SE on a demo)
            for n, relation in enumerate(
                [*(p.key for p in item.participants), *item.users], start=1
            )
        ]
    else:
        record = {
            **base,
            "Status": "Completed",
            "Priority": "Normal",
            "ActivityDate": item.date,
            "TaskSubtype": "Email",
            "Type": "Email",
            "IsClosed": 1,
        }
        out["Task"] = [tuple(record.get(c) for c in COLUMNS["Task"])]
        if item.when == "past":  # a sent email: its message too (Enhanced Email)
            out["EmailMessage"] = [_email_message(opp, item, record)]
    return out


def _audit(created: int, by: str | None, modified: int | None = None) -> dict[str, Any]:
    """The four audit fields of an activity record (absolute UTC minutes), by the owner."""
    return {
        "CreatedDate": stamp(created),
        "CreatedById": by,
        "LastModifiedDate": stamp(max(created, modified if modified is not None else created)),
        "LastModifiedById": by,
    }


def calendar_for(world: World) -> tuple[Calendar, dict[str, list[tuple]]]:
    """Everyone's meetings in the world, and per opportunity (key prefix) the calendar entries
    of the meetings this job holds for it (users, start, end)."""
    calendar = Calendar()
    events = t.RECORD_TABLES["Event"]
    relations = t.RECORD_TABLES["EventRelation"]
    times: dict[str, tuple[str, str]] = {}
    users: dict[str, list[str]] = {}
    with world.engine.connect() as conn:
        query = select(
            events.c.key,
            events.c.job,
            events.c.OwnerId,
            events.c.StartDateTime,
            events.c.EndDateTime,
        )
        jobs: dict[str, str] = {}
        for key, job, owner, start, end in conn.execute(query):
            if start and end:
                times[key], jobs[key] = (start, end), job
                users[key] = [owner] if owner else []
        query = select(relations.c.EventId, relations.c.RelationId).where(
            relations.c.RelationId.like("User/%")
        )
        for event, user in conn.execute(query):
            if event in times:
                users[event].append(user)
    held: dict[str, list[tuple]] = {}
    for key, (start, end) in times.items():
        calendar.add(users[key], start, end)
        if jobs[key] == JOB:
            held.setdefault(opp_prefix_of(key), []).append((users[key], start, end))
    return calendar, held


def plan_all(s: Setup, world: World, opps: Sequence[Opportunity]) -> list[OpportunityPlan]:
    """The opportunities' plans, in order, each meeting placed in everyone's calendar so no
    owner or invited user is in two meetings at once (generate/calendar.py).

    The calendar holds the base world's meetings and all the activity this job made; each
    opportunity's own is freed just before it is planned again. So a meeting moves only for
    one placed before it (in account order), and a rerun, a grown config or a smaller one
    changes no other deal's meetings than those a new meeting displaced.
    """
    calendar, held = calendar_for(world)
    plans = []
    for opp in opps:
        for entry in held.get(opp.prefix, ()):
            calendar.remove(*entry)
        plans.append(s.planner.plan(opp, calendar))
    return plans


def _email_message(opp: Any, item: Planned, task: dict[str, Any]) -> tuple:
    """The EmailMessage of a sent email task (generate/emails.py: the same shape): from the
    deal's owner to the task's contact, related to the deal, sent mid-morning of its day."""
    owner = opp.owner or {}
    person = item.participants[0] if item.participants else None
    # sent when the task was (its CreatedDate: the send time), else mid-morning of its day
    sent = task.get("CreatedDate") or utc(item.day, 10 * 60, item.tz)
    name = f"{owner.get('FirstName') or ''} {owner.get('LastName') or ''}".strip()
    message = {
        "key": f"EmailMessage/{item.key.split('/', 1)[1]}",
        "account_idx": task["account_idx"],
        "seq": task["seq"],
        "tier": None,
        "job": JOB,
        "ActivityId": task["key"],
        "RelatedToId": task["WhatId"],
        "Subject": task["Subject"],
        "TextBody": task["Description"],
        "FromName": name or None,
        "FromAddress": owner.get("Email"),
        "ToAddress": person.email if person else None,
        "MessageDate": sent,
        "Status": EMAIL_SENT,
        "Incoming": 0,
        "CreatedDate": task.get("CreatedDate"),
        "CreatedById": task.get("CreatedById"),
        "LastModifiedDate": task.get("LastModifiedDate"),
        "LastModifiedById": task.get("LastModifiedById"),
    }
    return tuple(message.get(c) for c in COLUMNS["EmailMessage"])


def prepare_chunk(
    s: Setup, sink: WorldSink, engine: ContentEngine, plans: list[OpportunityPlan]
) -> tuple[ChunkWork, list[OpportunityPlan]]:
    """Keep what exists of a chunk's plans, fill text for what is new, fill scorecards."""
    act = s.config.activity
    opps = [p.opportunity for p in plans]
    existing = sink.existing(opps)
    work = ChunkWork(
        prefixes={o.prefix for o in opps},
        account_range=(min(o.account_idx for o in opps), max(o.account_idx for o in opps) + 1),
        opportunities=[o.key for o in opps],
        held={key for k, v in existing.items() for key in (k, *v["relations"])},
    )
    new: list[tuple[OpportunityPlan, Planned]] = []
    planned_keys: set[str] = set()
    for plan in plans:
        for item in plan.items:
            work.planned += 1
            planned_keys.add(item.key)
            old = existing.get(item.key)
            if old is not None and old["signature"] == item.signature:
                work.keep.add(item.key)
                work.keep.update(old["relations"])
            else:
                new.append((plan, item))
    texts = engine.fill([_text_requests(s, plan, item) for plan, item in new]) if new else []
    for (plan, item), text in zip(new, texts, strict=True):
        for name, rows in _rows(s, plan, item, text).items():
            work.rows.setdefault(name, []).extend(rows)
    cards = []
    for plan in plans:
        made, ev = scorecards_for(s, plan)
        cards.extend((c, ev) for c in made)
    sc = act.scorecards
    apply_engine(cards, engine, sc.mode, sc.min_confidence, sc.llm_confidence)
    work.scorecards = [c for c, _ in cards]
    if sc.salesforce.mode == "task":  # each scorecard also as a completed Task on the deal
        by_opp = {p.opportunity.key: p for p in plans}
        for card, _ in cards:
            key, sig, row = _scorecard_task(s, by_opp[card.opportunity], card)
            planned_keys.add(key)
            old = existing.get(key)
            if old is not None and old["signature"] == sig:
                work.keep.add(key)
            else:
                work.rows.setdefault("Task", []).append(row)
    if not act.prune:  # keep what orgforge made earlier even if it is no longer planned
        for key, old in existing.items():
            if key not in planned_keys:
                work.keep.add(key)
                work.keep.update(old["relations"])
    return work, plans


def _scorecard_task(s: Setup, plan: OpportunityPlan, card: Scorecard) -> tuple[str, str, tuple]:
    """(key, signature, Task row) of a scorecard written as a completed Task on the deal.

    The key carries a digest of the text, so a changed scorecard is a new Task (the old one is
    pruned): an org kept in line through creates and deletes shows the current scorecard.
    """
    opp = plan.opportunity
    names = {fw.id: fw for fw in s.frameworks}
    framework = names[card.framework]
    subject = (
        f"{framework.name} scorecard: {card.answered}/{card.total} answered "
        f"({card.coverage:.0%}), confidence {card.confidence:.2f}"
    )
    lines = [f"{framework.name} scorecard ({card.mode}) for {opp.row.get('Name') or opp.key}", ""]
    for a in card.answers:
        lines.append(f"{a.text}")
        lines.append(
            f"  {a.answer} (confidence {a.confidence:.2f})" if a.answer else "  Unanswered."
        )
    text = "\n".join(lines)
    tag = s.config.activity.tag
    if tag.mode == "description":
        text = f"{text}\n\n{tag.marker}"
    digest = hashlib.blake2b(f"{subject}\n{text}".encode(), digest_size=3).hexdigest()
    key = f"Task/{opp.prefix}/sc-{framework.id}-{digest}"
    # Scored at the end of the deal's history so far: the day before as_of, or the day it
    # closed (nothing but post-sale activity comes after a close), never before it began.
    now = s.planner.asof * 1440
    last = min(s.planner.asof - 1, opp.close.toordinal()) if opp.closed else s.planner.asof - 1
    at = min(max(last * 1440 + 17 * 60, opp.created_minute + 1), now - 1)
    day = iso_date(at // 1440)
    position = list(names).index(card.framework)
    record = {
        "key": key,
        "account_idx": opp.account_idx,
        "seq": SEQ_BASE + opp.number * 1000 + 900 + position,
        "tier": None,
        "job": JOB,
        "Subject": subject[:255],
        "Description": text[:32000],
        "Status": "Completed",
        "Priority": "Normal",
        "ActivityDate": day,
        "TaskSubtype": "Task",
        "Type": "Other",
        "WhoId": opp.roles[0].key if opp.roles else None,
        "WhatId": opp.key,
        "IsClosed": 1,
        "OwnerId": opp.row.get("OwnerId"),
        **_audit(at, opp.row.get("OwnerId")),
    }
    return (
        key,
        signature(opp.key, "email", day, subject[:255]),
        tuple(record.get(c) for c in COLUMNS["Task"]),
    )


# -- run -------------------------------------------------------------------------------------


@dataclass
class ActivityResult:
    run_id: str | None
    world: str
    opportunities: int
    planned: int
    written: dict[str, dict[str, int]] = field(default_factory=dict)
    scorecards: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    run_dir: str | None = None
    salesforce: dict[str, Any] | None = None

    @property
    def created(self) -> int:
        return sum(v.get("inserted", 0) for k, v in self.written.items() if k != "Scorecard")

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "world": self.world,
            "opportunities": self.opportunities,
            "planned": self.planned,
            "created": self.created,
            "written": self.written,
            "scorecards": self.scorecards,
            "seconds": round(self.seconds, 3),
            "run_dir": self.run_dir,
            **({"salesforce": self.salesforce} if self.salesforce is not None else {}),
        }


def _merge(total: dict[str, dict[str, int]], part: dict[str, dict[str, int]]) -> None:
    for name, counts in part.items():
        into = total.setdefault(name, {})
        for op, n in counts.items():
            into[op] = into.get(op, 0) + n


def _chunks(opps: list[Opportunity], size: int) -> list[list[Opportunity]]:
    return [opps[i : i + size] for i in range(0, len(opps), size)]


def default_engine(config: Config, s: Setup, world: World | None = None) -> ContentEngine:
    """The engine ``content.engine`` names; the LLM engine caches in this world."""
    from orgforge.content import engine_for

    return engine_for(config, world=world, packs=s.packs)


def run(
    config: Config,
    *,
    where: str | None = None,
    opps: Sequence[str] | None = None,
    max_opps: int | None = None,
    engine: ContentEngine | None = None,
    progress: Callable[[int], None] | None = None,
    command: str = "activity run",
    write_run: bool = True,
    on_total: Callable[[int], None] | None = None,
    target: str = "world",
    env: dict[str, str] | None = None,
    session: Any = None,
) -> ActivityResult:
    """Plan and write activity and scorecards for the selected opportunities.

    ``target="salesforce"`` (any target that registers ``push_activity``) then pushes the
    world's activity to the org (see ``activity/salesforce.py``): new records loaded,
    no-longer-planned ones deleted.
    """
    push = _remote(target, "push_activity")
    check_max_opps(max_opps)
    config, _warning = anchor_as_of(config)
    started = time.perf_counter()
    s = setup(config)
    if write_run:
        check_writable_dir(Path(config.runs_dir), "runs directory")
        # A bad --where or an unknown --opp is refused before the world is locked for writing.
        with _where_errors(where):
            if where:
                where_mod.parse(where)
        if opps:
            with World(config.world, create=False) as world, world.engine.connect() as conn:
                _check_opportunities(conn, world, opps)
    with World(config.world, create=False, writer=command if write_run else None) as world:
        selected = select_opportunities(WorldSource(world), config, where, opps, max_opps)
        if on_total:
            on_total(len(selected))
        engine = engine or default_engine(config, s, world)
        sink = WorldSink(world)
        # The run log always closes; a failure anywhere in the block ends the run as failed.
        with open_run(config.runs_dir, command, dump(config), world, enabled=write_run) as log:
            result = ActivityResult(None, world.location, len(selected), 0)
            coverage: list[float] = []
            confidence: list[float] = []
            plans = plan_all(s, world, selected)
            size = config.activity.chunk_size
            chunks = [plans[i : i + size] for i in range(0, len(plans), size)]
            # CPU-bound offline text gains nothing from more threads (one worker still overlaps
            # the next chunk's preparation with this chunk's write); I/O-bound engines do.
            workers = 1 if isinstance(engine, OfflineEngine) else config.activity.concurrency
            with ThreadPoolExecutor(max_workers=workers) as pool:
                prepared = pool.map(lambda c: prepare_chunk(s, sink, engine, c), chunks)
                for chunk, (work, _plans) in zip(chunks, prepared, strict=True):
                    first, last = chunk[0].opportunity, chunk[-1].opportunity
                    stats = sink.write(work, log.run_id if log else None)
                    _merge(result.written, stats)
                    result.planned += work.planned
                    for card in work.scorecards:
                        coverage.append(card.coverage)
                        confidence.append(card.confidence)
                    if log:
                        log.event(
                            "chunk.written",
                            opportunities=[first.key, last.key],
                            written=stats,
                        )
                    if progress:
                        progress(len(chunk))
            result.scorecards = {
                "count": len(coverage),
                "coverage_mean": round(sum(coverage) / len(coverage), 4) if coverage else 0.0,
                "coverage_min": min(coverage) if coverage else 0.0,
                "confidence_mean": round(sum(confidence) / len(confidence), 4)
                if confidence
                else 0.0,
            }
            result.seconds = time.perf_counter() - started
            if log is not None:
                result.run_id, result.run_dir = log.run_id, str(log.dir)
                log.finish(
                    "ok",
                    {
                        **result.as_dict(),
                        "text": {"engine": engine.name, **engine.stats()},
                        "sink": sink.name,
                    },
                )
    if push is not None:
        result.salesforce = push(config, env=env, session=session)
    return result


def _remote(target: str, operation: str) -> Callable[..., Any] | None:
    """The registered target's activity operation, or None for the world alone."""
    if target == "world":
        return None
    from orgforge.plugins import target as lookup

    return getattr(lookup(target, operation), operation)


# -- plan (dry run) --------------------------------------------------------------------------


@dataclass
class PlanReport:
    opportunities: list[dict[str, Any]]

    @property
    def totals(self) -> dict[str, int]:
        out = {"opportunities": len(self.opportunities), "planned": 0, "new": 0, "exists": 0}
        for o in self.opportunities:
            for item in o["activities"]:
                out["planned"] += 1
                out[item["status"]] += 1
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"totals": self.totals, "opportunities": self.opportunities}


def plan(
    config: Config,
    *,
    where: str | None = None,
    opps: Sequence[str] | None = None,
    max_opps: int | None = None,
) -> PlanReport:
    """What ``run`` would do, without writing anything (no run log, no text)."""
    check_max_opps(max_opps)
    config, _warning = anchor_as_of(config)
    s = setup(config)
    with World(config.world, create=False) as world:
        selected = select_opportunities(WorldSource(world), config, where, opps, max_opps)
        sink = WorldSink(world)
        out = []
        planned = iter(plan_all(s, world, selected))
        for chunk in _chunks(selected, config.activity.chunk_size):
            existing = sink.existing(chunk)
            for opp in chunk:
                p = next(planned)
                cards, _ = scorecards_for(s, p)
                items = []
                for item in p.items:
                    d = item.as_dict()
                    old = existing.get(item.key)
                    same = old is not None and old["signature"] == item.signature
                    d["status"] = "exists" if same else "new"
                    items.append(d)
                out.append(
                    {
                        "opportunity": opp.key,
                        "name": opp.row.get("Name"),
                        "stage": opp.stage,
                        "tz": p.tz,
                        "past_meetings": p.count("meeting", "past"),
                        "future_meetings": p.count("meeting", "future"),
                        "emails": p.count("email"),
                        "activities": items,
                        "scorecards": [
                            {
                                "framework": c.framework,
                                "coverage": c.coverage,
                                "confidence": c.confidence,
                            }
                            for c in cards
                        ],
                    }
                )
        return PlanReport(out)


# -- status, reset, smoke --------------------------------------------------------------------


def status(config: Config, limit: int = 10) -> dict[str, Any]:
    """Recent activity runs and what the world holds from the activity job."""
    if not 1 <= limit <= MAX_STATUS_RUNS:
        raise UsageError(
            f"--limit {limit}: must be between 1 and {MAX_STATUS_RUNS}",
            "It is how many recent runs to list (default 10).",
        )
    with World(config.world, create=False) as world:
        runs = [
            r for r in world.runs(limit=max(200, limit)) if str(r["command"]).startswith("activity")
        ]
        held = {}
        with world.engine.connect() as conn:
            for name in ("Event", "EventRelation", "Task", "EmailMessage"):
                table = t.RECORD_TABLES[name]
                held[name] = conn.execute(
                    select(func.count()).select_from(table).where(table.c.job == JOB)
                ).scalar_one()
            held["Scorecard"] = conn.execute(
                select(func.count()).select_from(t.scorecards)
            ).scalar_one()
            opps = conn.execute(
                select(func.count(func.distinct(t.scorecards.c.opportunity)))
            ).scalar_one()
    return {
        "world": config.world,
        "held": held,
        "opportunities_with_activity": opps,
        "runs": [
            {
                "run_id": r["run_id"],
                "command": r["command"],
                "status": r["status"],
                "started_at": r["started_at"],
                "summary": json.loads(r["summary"]) if r["summary"] else None,
            }
            for r in runs[:limit]
        ],
    }


MAX_STATUS_RUNS = 10_000
"""Most runs `activity status --limit` lists."""


def check_max_opps(max_opps: int | None) -> None:
    """--max-opps is a count of at least one (0 or a negative number used to mean "all")."""
    if max_opps is not None and not 1 <= max_opps < 2**63:
        raise UsageError(
            f"--max-opps {max_opps}: must be a whole number of at least 1",
            "Leave it out to take every selected opportunity.",
        )


def _check_opportunities(conn: Any, world: World, opps: Sequence[str]) -> None:
    table = t.RECORD_TABLES["Opportunity"]
    wanted = list(dict.fromkeys(opps))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        found.update(r[0] for r in conn.execute(select(table.c.key).where(table.c.key.in_(part))))
    missing = [k for k in wanted if k not in found]
    if missing:
        raise UsageError(
            f"--opp {missing[0]}: no such opportunity in world {world.location}",
            "Keys look like Opportunity/0042/1; list them with `orgforge activity plan --json`.",
        )


def _keys_for(world: World, run_id: str | None, opps: Sequence[str] | None) -> dict[str, list]:
    """Keys of activity records (and scorecards) a reset would remove."""
    out: dict[str, list[str]] = {
        "Event": [],
        "EventRelation": [],
        "Task": [],
        "EmailMessage": [],
        "Scorecard": [],
    }
    with world.engine.connect() as conn:
        if run_id is not None:
            if not conn.execute(select(t.runs.c.run_id).where(t.runs.c.run_id == run_id)).first():
                raise UsageError(
                    f"--run {run_id}: no such run in world {world.location}",
                    "List runs with `orgforge activity status`.",
                )
            query = select(t.changes.c.object, t.changes.c["keys"]).where(
                t.changes.c.run_id == run_id,
                t.changes.c.op.in_(["insert", "update"]),
                t.changes.c.object.in_(list(out)),
            )
            seen: set[str] = set()
            for obj, keys in conn.execute(query):
                for key in json.loads(keys):
                    if key not in seen:
                        seen.add(key)
                        out[obj].append(key)
            events = set(out["Event"])
            er = t.RECORD_TABLES["EventRelation"]
            for (key,) in conn.execute(select(er.c.key).where(er.c.job == JOB)):
                event_key = "Event/" + key.split("/", 1)[1].rsplit("/", 1)[0]
                if event_key in events and key not in seen:
                    out["EventRelation"].append(key)
            tasks = set(out["Task"])
            em = t.RECORD_TABLES["EmailMessage"]
            for (key,) in conn.execute(select(em.c.key).where(em.c.job == JOB)):
                if "Task/" + key.split("/", 1)[1] in tasks and key not in seen:
                    out["EmailMessage"].append(key)
            return out
        if opps:
            _check_opportunities(conn, world, opps)
        prefixes = {k.split("/", 1)[1] for k in opps} if opps else None
        for name in ("Event", "EventRelation", "Task", "EmailMessage"):
            table = t.RECORD_TABLES[name]
            for (key,) in conn.execute(select(table.c.key).where(table.c.job == JOB)):
                if prefixes is None or opp_prefix_of(key) in prefixes:
                    out[name].append(key)
        query = select(t.scorecards.c.key)
        if opps:
            query = query.where(t.scorecards.c.opportunity.in_(list(opps)))
        out["Scorecard"] = [r[0] for r in conn.execute(query)]
    return out


def reset(
    config: Config,
    *,
    run_id: str | None = None,
    opps: Sequence[str] | None = None,
    dry_run: bool = False,
    write_run: bool = True,
    target: str = "world",
    env: dict[str, str] | None = None,
    session: Any = None,
) -> dict[str, Any]:
    """Remove what the activity job created: by run, by opportunity, or all of it.

    Only records whose ``job`` is ``activity`` are ever removed; the base generator's Events
    and Tasks stay. A dry run only counts. ``target="salesforce"`` also deletes the removed
    records from the org (those orgforge loaded there).
    """
    prune = _remote(target, "prune_activity")
    if run_id and opps:
        raise UsageError("reset: give --run or --opp, not both")
    if not dry_run:  # an unknown --run or --opp is refused before the world is locked
        if write_run:
            check_writable_dir(Path(config.runs_dir), "runs directory")
        with World(config.world, create=False) as world:
            _keys_for(world, run_id, opps)
    writer = None if dry_run or not write_run else "activity reset"
    with World(config.world, create=False, writer=writer) as world:
        keys = _keys_for(world, run_id, opps)
        sink = WorldSink(world)
        if dry_run:
            # count only keys that still exist
            existing = {}
            with world.engine.connect() as conn:
                for name, wanted in keys.items():
                    table = t.scorecards if name == "Scorecard" else t.RECORD_TABLES[name]
                    n = 0
                    for start in range(0, len(wanted), 500):
                        part = wanted[start : start + 500]
                        n += len(
                            conn.execute(select(table.c.key).where(table.c.key.in_(part))).all()
                        )
                    existing[name] = n
            return {"dry_run": True, "removed": existing, "run_id": None}
        # A delete that fails ends this run as failed (never "running" forever).
        with open_run(
            config.runs_dir, "activity reset", dump(config), world, enabled=write_run
        ) as log:
            removed = sink.remove(keys, log.run_id if log else None)
            if log is not None:
                log.finish("ok", {"removed": removed, "by_run": run_id, "opportunities": opps})
    out: dict[str, Any] = {
        "dry_run": False,
        "removed": removed,
        "run_id": log.run_id if log else None,
    }
    if prune is not None:
        out["salesforce"] = prune(config, env=env, session=session)
    return out


def _fresh_opportunity(world: World, config: Config) -> str:
    """The first selected opportunity the activity job has not touched yet and plans both a
    meeting and an email for (a deal days old may get neither: counts scale with age)."""
    planner = setup(config).planner
    candidates = select_opportunities(WorldSource(world), config)
    if not candidates:
        raise UsageError(
            f"smoke: world {world.location} has no opportunities (matching the filter)",
            "Generate some first: `orgforge generate --preset tiny`.",
        )
    sink = WorldSink(world)
    for chunk in _chunks(candidates, 200):
        held = {opp_prefix_of(k) for k in sink.existing(chunk)}
        for o in chunk:
            if o.prefix not in held:
                plan = planner.plan(o)
                if plan.count("meeting") and plan.count("email"):
                    return o.key
    raise UsageError(
        "smoke: every selected opportunity already has activity (or is too young for a "
        "meeting and an email), so a smoke run would create nothing",
        "Pass --opp KEY after `orgforge activity reset --opp KEY`, or narrow with --where.",
    )


def smoke(
    config: Config,
    *,
    opp: str | None = None,
    engine: ContentEngine | None = None,
    target: str = "world",
    env: dict[str, str] | None = None,
    session: Any = None,
) -> dict[str, Any]:
    """One opportunity end to end: plan, write, read back, check, then remove what was made.

    With ``target="salesforce"`` the records also go to the org and are deleted there again;
    the check then includes what the org reports as created and deleted.
    """
    _remote(target, "push_activity")
    config, _warning = anchor_as_of(config)
    with World(config.world, create=False) as world:
        if opp is None:
            opp = _fresh_opportunity(world, config)
    started = time.perf_counter()
    result = run(
        config,
        opps=[opp],
        engine=engine,
        command="activity smoke",
        max_opps=1,
        target=target,
        env=env,
        session=session,
    )
    checks: dict[str, Any] = {}
    with World(config.world, create=False) as world:
        keys = _keys_for(world, result.run_id, None)
        with world.engine.connect() as conn:
            for name in ("Event", "EventRelation", "Task"):
                table = t.RECORD_TABLES[name]
                rows = conn.execute(select(table).where(table.c.key.in_(keys[name]))).all()
                checks[name] = len(rows)
                if name in ("Event", "Task"):
                    checks[f"{name}_linked"] = all(r.WhatId == opp for r in rows)
                    checks[f"{name}_text"] = all(r.Description for r in rows)
            checks["Scorecard"] = len(keys["Scorecard"])
    removed = reset(config, run_id=result.run_id, target=target, env=env, session=session)
    remote: dict[str, Any] = {}
    if target != "world":
        pushed, pruned = result.salesforce or {}, removed.get("salesforce") or {}
        remote = {"created": pushed.get("created", {}), "deleted": pruned.get("deleted", {})}
        for name in ("Event", "Task"):
            checks[f"{name}_in_org"] = remote["created"].get(name, 0) >= checks.get(name, 0)
            checks[f"{name}_gone_from_org"] = remote["deleted"].get(name, 0) >= checks.get(name, 0)
    ok = (
        checks.get("Event", 0) > 0
        and checks.get("Task", 0) > 0
        and all(v for k, v in checks.items() if k.endswith(("_linked", "_text", "_org")))
        and sum(removed["removed"].values()) == sum(len(v) for v in keys.values())
    )
    return {
        "ok": ok,
        "opportunity": opp,
        "run_id": result.run_id,
        "created": checks,
        "removed": removed["removed"],
        **({"salesforce": remote} if remote else {}),
        "seconds": round(time.perf_counter() - started, 3),
    }
