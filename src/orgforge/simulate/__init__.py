"""The living org: jobs that keep Asana and Salesforce busy during working hours.

    from orgforge import simulate
    from orgforge.world import World

    with World("orgforge.db") as world:
        job = simulate.create_job(world, {"target": "asana", "rate": 40, "duration": "5d"})
        simulate.pause_job(world, job.id)        # what `orgforge jobs pause` does
        simulate.resume_job(world, job.id)
        report = simulate.run(world, clock="backfill:5d", environ=env)
        simulate.job_log(world, job.id, limit=20)

The jobs table is the single source of truth (see jobs.py); the CLI and the web app only
write it, and a runner anywhere on the same world obeys it (runner.py). See docs/simulate.md.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from orgforge.clock import REAL, Clock, as_datetime
from orgforge.simulate.behaviours import behaviours, descriptions
from orgforge.simulate.clocks import ClockMode, parse_clock
from orgforge.simulate.jobs import (
    Job,
    JobSpec,
    change_state,
    create_job,
    get_job,
    job_log,
    list_jobs,
    make_spec,
    pause_job,
    resume_job,
    stop_job,
)
from orgforge.simulate.runner import Runner, RunReport
from orgforge.simulate.scheduler import Persona, Schedule

__all__ = [
    "ClockMode",
    "Job",
    "JobSpec",
    "Persona",
    "PlannedAction",
    "RunReport",
    "Runner",
    "Schedule",
    "arun",
    "behaviours",
    "change_state",
    "create_job",
    "descriptions",
    "get_job",
    "job_log",
    "list_jobs",
    "make_spec",
    "parse_clock",
    "pause_job",
    "plan",
    "resume_job",
    "run",
    "stop_job",
]


def run(world: Any, **options: Any) -> RunReport:
    """Run the world's active jobs (``jobs=[ids]`` for some) until ``until``, the end of a
    backfill, ``max_actions``, or — on a real or fast clock — forever. See :class:`Runner`."""
    return Runner(world, **options).run()


async def arun(world: Any, **options: Any) -> RunReport:
    return await Runner(world, **options).arun()


@dataclass(frozen=True)
class PlannedAction:
    job: str
    seq: int
    at: str  # UTC ISO
    persona: str
    local: str  # the persona's local time, e.g. "Tue 09:12 Europe/London"

    def as_dict(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "seq": self.seq,
            "at": self.at,
            "persona": self.persona,
            "local": self.local,
        }


def plan(
    world: Any,
    *,
    jobs: list[str] | None = None,
    hours: float = 1.0,
    clock: str | ClockMode = "real",
    base: Clock = REAL,
    config: Any = None,
    environ: dict[str, str] | None = None,
) -> list[PlannedAction]:
    """The actions the active jobs would take in the next ``hours`` (on ``clock``): when and
    who, drawn from the same streams the runner uses. Writes nothing."""
    runner = Runner(world, clock, jobs=jobs, config=config, environ=environ, base=base)
    start = runner.clock.now()
    end = start + dt.timedelta(hours=hours)
    out: list[PlannedAction] = []
    for job in runner._selected():
        if job.state != "active":
            continue
        driver = runner.driver(job.target)
        personas = driver.personas(job, world)
        if not personas:
            continue
        live_schedule = Schedule(personas, job.rate, bursts=bool(job.schedule.get("bursts", True)))
        seq = job.seq
        after = max(start, as_datetime(job.next_at)) if job.next_at else start
        limit = min(end, as_datetime(job.ends_at)) if job.ends_at else end
        from orgforge.simulate.runner import action_rng

        while True:
            found = live_schedule.next_action(after, action_rng(job, seq, "when"), limit)
            if found is None:
                break
            when, persona = found
            local = when.astimezone(persona.zone)
            out.append(
                PlannedAction(
                    job.id,
                    seq,
                    when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    persona.name,
                    f"{local:%a %H:%M} {persona.timezone}",
                )
            )
            after, seq = when, seq + 1
    out.sort(key=lambda p: p.at)
    return out
