"""One asyncio runner for every active job of a world.

The runner keeps a heap of (next planned action, job) and nothing else per job: a job's
schedule, personas and the target facts they share, so a thousand jobs cost little memory and
a scheduler tick is a heap pop and one draw. It re-reads the jobs table about once a second of
wall time (``jobs pause`` in another terminal, a job the web app started), and before each
action checks that the job is still active.

Each action is journalled: its decided calls are written (``sim_actions``, status ``intent``)
and committed before anything is sent; the outcome, the job's objects and the job's next step
are written in one transaction after. A runner killed in between finds the intent on restart
and sends the same calls again — at most one duplicated action per job — and every decision
is drawn from a stream seeded by (seed, job, seq), so a resumed job carries on exactly as if
it had never stopped.

Actions are sent one at a time from a worker thread (the SDKs block), so the loop stays free
for the live view; the targets' own rate limiters pace them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import importlib
import json
import os
import random
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orgforge.clock import REAL, Clock, as_datetime
from orgforge.simulate.behaviours import Action, Context, choose
from orgforge.simulate.clocks import ClockMode, parse_clock
from orgforge.simulate.drivers import ActionError, make_driver
from orgforge.simulate.jobs import ACTION_COLUMNS, Job, list_jobs
from orgforge.simulate.objects import JobObjects
from orgforge.simulate.scheduler import Persona, Schedule
from orgforge.world.store import World, insert_sql

REFRESH_SECONDS = 1.0  # wall time between re-reads of the jobs table (real and fast clocks)
MAX_CONSECUTIVE_FAILURES = 5  # then the job is marked failed with the last error
CATCH_UP = dt.timedelta(hours=1)  # real clock: actions planned longer ago than this are skipped
_INSERT_ACTION = insert_sql("sim_actions", ACTION_COLUMNS)


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _decide_module(target: str) -> Any:
    """The registered target's behaviours module (TargetPlugin.behaviours)."""
    from orgforge.plugins import target as registered

    return importlib.import_module(registered(target, "simulate").behaviours)


def action_rng(job: Job, seq: int, what: str = "do") -> random.Random:
    """The stream one action draws from: the same seed, job and seq give the same action."""
    return random.Random(f"{job.seed}|simulate|{job.id}|{what}|{seq}")


@dataclass
class RunReport:
    clock: str
    started: str = ""
    ended: str = ""
    actions: Counter[str] = field(default_factory=Counter)  # status → count
    by_job: dict[str, Counter[str]] = field(default_factory=dict)
    by_behaviour: Counter[str] = field(default_factory=Counter)
    resent: int = 0  # journalled intents sent again after a restart
    paused: dict[str, str] = field(default_factory=dict)  # job → why
    finished: list[str] = field(default_factory=list)
    target: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "clock": self.clock,
            "started": self.started,
            "ended": self.ended,
            "actions": dict(self.actions),
            "by_job": {k: dict(v) for k, v in self.by_job.items()},
            "by_behaviour": dict(self.by_behaviour),
            "resent": self.resent,
            "paused": self.paused,
            "finished": self.finished,
            "target": self.target,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class _Live:
    job: Job
    schedule: Schedule
    personas: list[Persona]
    facts: dict[str, Any]
    next: tuple[dt.datetime, Persona] | None = None
    failures: int = 0


class Runner:
    def __init__(
        self,
        world: World,
        mode: ClockMode | str = "real",
        *,
        jobs: list[str] | None = None,
        config: Any = None,
        environ: dict[str, str] | None = None,
        on_action: Callable[[Job, dict[str, Any]], None] | None = None,
        until: dt.datetime | None = None,
        max_actions: int | None = None,
        follow: bool | None = None,
        base: Clock = REAL,
        drivers: dict[str, Any] | None = None,
    ) -> None:
        from orgforge.config import Config

        self.world = world
        self.mode = parse_clock(mode, base) if isinstance(mode, str) else mode
        self.clock = self.mode.clock
        self.base = base  # what the targets' rate limiters and the refreshes run on
        self.job_ids = jobs
        self.config = config or Config()
        self.environ = environ
        self.on_action = on_action
        self.until = until or self.mode.end
        self.max_actions = max_actions
        # waiting for jobs that don't exist yet only makes sense while real time passes
        self.follow = (self.until is None and self._real_base()) if follow is None else follow
        self.drivers: dict[str, Any] = dict(drivers or {})
        self.live: dict[str, _Live] = {}
        self.heap: list[tuple[dt.datetime, str]] = []
        self.report = RunReport(self.mode.spec)
        self.runner_id = f"{os.getpid()}@{socket.gethostname()}"
        self._engine: Any = None
        self._last_refresh = -1e9
        self._done = 0

    # -- setup ---------------------------------------------------------------------------------

    def driver(self, target: str) -> Any:
        if target not in self.drivers:
            self.drivers[target] = make_driver(target, self.config, self.environ, self.base)
        return self.drivers[target]

    def text(self, kind: str, key: str, context: dict[str, str]) -> str:
        if self._engine is None:
            from orgforge.content import engine_for

            self._engine = engine_for(self.config, world=self.world, clock=self.base)
        from orgforge.content.contract import ContentRequest

        return self._engine.fill([ContentRequest(kind, key, context)])[0]

    def _selected(self) -> list[Job]:
        jobs = list_jobs(self.world)
        if self.job_ids:
            wanted = set(self.job_ids)
            jobs = [j for j in jobs if j.id in wanted]
        return jobs

    def refresh(self) -> None:
        """Re-read the jobs table: start what became active, drop what was paused/stopped."""
        self._last_refresh = self.base.monotonic()
        for job in self._selected():
            live = self.live.get(job.id)
            if job.state != "active":
                if live is not None:
                    del self.live[job.id]
                continue
            if live is None:
                self._start(job)
            else:
                live.job = job

    def _start(self, job: Job) -> None:
        driver = self.driver(job.target)
        try:
            personas = driver.personas(job, self.world)
            facts = driver.facts(job)
        except Exception as exc:  # the target can't tell who works here: the job can't run
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            self._set_state(job, "failed", message)
            return
        if not personas:
            self._set_state(job, "failed", "no personas to act (no Users / team members)")
            return
        schedule = Schedule(personas, job.rate, bursts=bool(job.schedule.get("bursts", True)))
        live = _Live(job, schedule, personas, facts)
        now = self.clock.now()
        if job.started_at is None:
            job.started_at = _iso(now)
            if job.duration_s is not None:
                job.ends_at = _iso(now + dt.timedelta(seconds=job.duration_s))
            with self.world.transaction() as conn:
                conn.execute(
                    'UPDATE "sim_jobs" SET "started_at" = :s, "ends_at" = :e, "runner" = :r '
                    'WHERE "id" = :id',
                    {"s": job.started_at, "e": job.ends_at, "r": self.runner_id, "id": job.id},
                )
        self.live[job.id] = live
        self.report.by_job.setdefault(job.id, Counter())
        self._recover(live)
        if job.id not in self.live:
            return
        live.next = self._plan_next(live, job.seq)
        # a runner that was down doesn't replay hours of missed work: re-plan from now
        if live.next is not None and self.mode.kind == "real" and live.next[0] < now - CATCH_UP:
            live.next = self._plan_from(live, now, job.seq)
        self._push(live)

    def _previous_time(self, job: Job, seq: int) -> dt.datetime:
        if seq == 0:
            return as_datetime(job.started_at or self.clock.now())
        with self.world.reading() as conn:
            row = conn.execute(
                'SELECT "planned_at" FROM "sim_actions" WHERE "job_id" = :id AND "seq" = :seq',
                {"id": job.id, "seq": seq - 1},
            ).fetchone()
        return as_datetime(row[0]) if row else as_datetime(job.started_at or self.clock.now())

    def _plan_from(
        self, live: _Live, after: dt.datetime, seq: int
    ) -> tuple[dt.datetime, Persona] | None:
        limit = as_datetime(live.job.ends_at) if live.job.ends_at else None
        return live.schedule.next_action(after, action_rng(live.job, seq, "when"), limit)

    def _plan_next(self, live: _Live, seq: int) -> tuple[dt.datetime, Persona] | None:
        return self._plan_from(live, self._previous_time(live.job, seq), seq)

    def _push(self, live: _Live) -> None:
        if live.next is None:
            self._set_state(live.job, "done", None)
            self.report.finished.append(live.job.id)
            self.live.pop(live.job.id, None)
            return
        heapq.heappush(self.heap, (live.next[0], live.job.id))

    def _set_state(self, job: Job, state: str, message: str | None) -> None:
        with self.world.transaction() as conn:
            conn.execute(
                'UPDATE "sim_jobs" SET "state" = :state, "message" = :message, '
                '"updated_at" = :now WHERE "id" = :id AND "state" = :was',
                {
                    "state": state,
                    "message": message,
                    "now": REAL.iso(),
                    "id": job.id,
                    "was": job.state,
                },
            )
        if state == "paused" and message:
            self.report.paused[job.id] = message
        self.live.pop(job.id, None)

    # -- the journal -------------------------------------------------------------------------

    def _recover(self, live: _Live) -> None:
        """Send again the action a killed runner journalled but never finished."""
        job = live.job
        with self.world.reading() as conn:
            row = conn.execute(
                'SELECT "seq", "planned_at", "behaviour", "persona", "subject", "summary", '
                '"detail", "attempts" FROM "sim_actions" '
                'WHERE "job_id" = :id AND "status" = :s ORDER BY "seq"',
                {"id": job.id, "s": "intent"},
            ).fetchone()
        if row is None:
            return
        seq, planned, behaviour, persona_name, subject, summary, detail, attempts = row
        persona = next((p for p in live.personas if p.name == persona_name), live.personas[0])
        decided = json.loads(detail)
        action = Action(behaviour, summary, subject, decided["calls"], decided["objects"])
        self.report.resent += 1
        self._send(live, seq, as_datetime(planned), persona, action, attempts + 1)

    def _write_intent(
        self, job: Job, seq: int, when: dt.datetime, persona: Persona, action: Action
    ) -> None:
        row = {
            "job_id": job.id,
            "seq": seq,
            "planned_at": _iso(when),
            "behaviour": f"{job.target}.{action.behaviour}",
            "persona": persona.name,
            "status": "intent",
            "subject": action.subject,
            "remote_id": None,
            "summary": action.summary,
            "detail": json.dumps(action.as_detail(), sort_keys=True),
            "error": None,
            "attempts": 1,
            "started_at": self.clock.iso(),
            "finished_at": None,
        }
        with self.world.transaction() as conn:
            conn.execute(_INSERT_ACTION, row)

    def _send(
        self,
        live: _Live,
        seq: int,
        when: dt.datetime,
        persona: Persona,
        action: Action,
        attempts: int,
    ) -> None:
        job = live.job
        driver = self.driver(job.target)
        objects = JobObjects(self.world, job.id)
        error: ActionError | None = None
        created: dict[str, str] = {}
        try:
            created = driver.perform(action.calls, objects, persona)
        except ActionError as exc:
            error = exc
        status = "ok" if error is None else "failed"
        live.next = self._plan_from(live, when, seq + 1)
        now = self.clock.iso()
        with self.world.transaction() as conn:
            conn.execute(
                'UPDATE "sim_actions" SET "status" = :status, "remote_id" = :remote, '
                '"error" = :error, "attempts" = :attempts, "finished_at" = :now '
                'WHERE "job_id" = :id AND "seq" = :seq',
                {
                    "status": status,
                    "remote": created.get(action.subject or "")
                    or next(iter(created.values()), None),
                    "error": str(error) if error else None,
                    "attempts": attempts,
                    "now": now,
                    "id": job.id,
                    "seq": seq,
                },
            )
            if error is None:
                objects.apply(
                    conn, action.objects, created, now, getattr(driver, "sync_target", None)
                )
            counter = "done" if error is None else "failed"
            conn.execute(
                f'UPDATE "sim_jobs" SET "seq" = :next_seq, "{counter}" = "{counter}" + 1, '
                '"next_at" = :next_at, "runner" = :runner, "heartbeat_at" = :beat '
                'WHERE "id" = :id',
                {
                    "next_seq": seq + 1,
                    "next_at": _iso(live.next[0]) if live.next else None,
                    "runner": self.runner_id,
                    "beat": REAL.iso(),
                    "id": job.id,
                },
            )
        job.seq = seq + 1
        self._count(job, status, action.behaviour)
        if self.on_action is not None:
            self.on_action(
                job,
                {
                    "seq": seq,
                    "planned_at": _iso(when),
                    "behaviour": f"{job.target}.{action.behaviour}",
                    "persona": persona.name,
                    "status": status,
                    "summary": action.summary,
                    "error": str(error) if error else None,
                },
            )
        if error is None:
            live.failures = 0
        else:
            live.failures += 1
            if error.pause:
                self._set_state(job, "paused", error.message)
            elif live.failures >= MAX_CONSECUTIVE_FAILURES:
                self._set_state(
                    job, "failed", f"{live.failures} actions failed in a row; last: {error}"
                )

    def _count(self, job: Job, status: str, behaviour: str) -> None:
        self._done += 1
        self.report.actions[status] += 1
        self.report.by_job.setdefault(job.id, Counter())[status] += 1
        if status == "ok":
            self.report.by_behaviour[f"{job.target}.{behaviour}"] += 1

    def _idle(self, live: _Live, seq: int, when: dt.datetime, persona: Persona) -> None:
        """Nothing the job may do is possible (every behaviour needs something first)."""
        job = live.job
        live.next = self._plan_from(live, when, seq + 1)
        with self.world.transaction() as conn:
            conn.execute(
                _INSERT_ACTION,
                {
                    "job_id": job.id,
                    "seq": seq,
                    "planned_at": _iso(when),
                    "behaviour": f"{job.target}.idle",
                    "persona": persona.name,
                    "status": "skipped",
                    "subject": None,
                    "remote_id": None,
                    "summary": "nothing to do yet for the job's behaviours",
                    "detail": None,
                    "error": None,
                    "attempts": 0,
                    "started_at": self.clock.iso(),
                    "finished_at": self.clock.iso(),
                },
            )
            conn.execute(
                'UPDATE "sim_jobs" SET "seq" = :next_seq, "next_at" = :next_at WHERE "id" = :id',
                {
                    "next_seq": seq + 1,
                    "next_at": _iso(live.next[0]) if live.next else None,
                    "id": job.id,
                },
            )
        job.seq = seq + 1
        self._count(job, "skipped", "idle")

    # -- one action --------------------------------------------------------------------------

    def decide(self, live: _Live, seq: int, when: dt.datetime, persona: Persona) -> Action | None:
        job = live.job
        rng = action_rng(job, seq)
        ctx = Context(
            job.id,
            seq,
            when,
            persona,
            live.personas,
            rng,
            JobObjects(self.world, job.id),
            self.text,
            live.facts,
            job.options,
        )
        module = _decide_module(job.target)
        return choose(job.target, job.behaviours, rng, lambda name: module.DECIDE[name](ctx))

    def _still_active(self, job_id: str) -> bool:
        with self.world.reading() as conn:
            row = conn.execute(
                'SELECT "state" FROM "sim_jobs" WHERE "id" = :id', {"id": job_id}
            ).fetchone()
        return row is not None and row[0] == "active"

    def act(self, live: _Live) -> None:
        assert live.next is not None
        when, persona = live.next
        seq = live.job.seq
        action = self.decide(live, seq, when, persona)
        if action is None:
            self._idle(live, seq, when, persona)
        else:
            self._write_intent(live.job, seq, when, persona, action)
            self._send(live, seq, when, persona, action, 1)
        if live.job.id in self.live:
            self._push(live)

    # -- the loop ----------------------------------------------------------------------------

    def _real_base(self) -> bool:
        from orgforge.clock import RealClock

        return isinstance(self.base, RealClock)

    def _live_clock(self) -> bool:
        """True when others may change the jobs table while we wait (wall time passes): the
        wait is cut into refresh intervals. On a simulated base clock it is one jump."""
        return self.mode.kind in ("real", "fast") and self._real_base()

    async def arun(self) -> RunReport:
        started = time.monotonic()
        self.report.started = self.clock.iso()
        try:
            await asyncio.to_thread(self.refresh)
            while True:
                if self.max_actions is not None and self._done >= self.max_actions:
                    break
                if (
                    self._live_clock()
                    and self.base.monotonic() - self._last_refresh >= REFRESH_SECONDS
                ):
                    await asyncio.to_thread(self.refresh)
                if not self.heap:
                    if not self.follow:
                        break
                    await self.base.asleep(REFRESH_SECONDS)
                    await asyncio.to_thread(self.refresh)
                    continue
                when, job_id = self.heap[0]
                live = self.live.get(job_id)
                if live is None or live.next is None or live.next[0] != when:
                    heapq.heappop(self.heap)  # paused, stopped or re-planned since
                    continue
                if self.until is not None and when >= self.until:
                    break
                wait = (when - self.clock.now()).total_seconds()
                if wait > 0:
                    if self._live_clock():
                        factor = getattr(self.clock, "factor", 1.0)
                        await self.clock.asleep(min(wait, REFRESH_SECONDS * factor))
                    else:
                        await self.clock.asleep(wait)
                    continue
                heapq.heappop(self.heap)
                if not self._still_active(job_id):
                    self.live.pop(job_id, None)
                    continue
                await asyncio.to_thread(self.act, live)
        finally:
            if self._engine is not None:
                self._engine.close()
            self.report.ended = self.clock.iso()
            self.report.seconds = time.monotonic() - started
            self.report.target = {name: d.figures() for name, d in self.drivers.items()}
        return self.report

    def run(self) -> RunReport:
        return asyncio.run(self.arun())
