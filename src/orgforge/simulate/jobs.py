"""Jobs: a target + a behaviour set + personas + a schedule + a rate + a duration, in the world.

The jobs table (``sim_jobs``) is the single source of truth: ``orgforge jobs start|pause|
resume|stop``, the web app and this module only write rows there, and a runner started
anywhere on the same world picks the changes up on its next refresh. Each job's actions are
logged in ``sim_actions`` (also the journal a restarted runner resumes from) and what they made
in ``sim_objects``. States::

    active ──pause──► paused ──resume──► active        stop (from active or paused) ► stopped
    active ──duration over──► done                     a target failure ──► failed / paused
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from orgforge.clock import REAL, Clock
from orgforge.errors import ConfigError, UsageError
from orgforge.simulate.clocks import check_clock_spec
from orgforge.world.store import World, insert_sql

STATES = ("active", "paused", "stopped", "done", "failed")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_JOB_COLUMNS = (
    "id",
    "name",
    "target",
    "behaviours",
    "personas",
    "schedule",
    "rate",
    "duration_s",
    "clock",
    "seed",
    "options",
    "state",
    "message",
    "created_at",
    "updated_at",
    "started_at",
    "ends_at",
    "next_at",
    "seq",
    "done",
    "failed",
    "runner",
    "heartbeat_at",
)
_ACTION_COLUMNS = (
    "job_id",
    "seq",
    "planned_at",
    "behaviour",
    "persona",
    "status",
    "subject",
    "remote_id",
    "summary",
    "detail",
    "error",
    "attempts",
    "started_at",
    "finished_at",
)


def parse_duration(text: str | None) -> float | None:
    """``30m``, ``8h``, ``5d``, ``2w`` → seconds; None/empty/``forever`` → None."""
    if text is None or str(text).strip().lower() in ("", "forever", "none"):
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([mhdw])", str(text).strip().lower())
    if not match or float(match[1]) <= 0:
        raise ValueError(f"{text!r} is not a duration (e.g. 30m, 8h, 5d, 2w, forever)")
    return float(match[1]) * _UNITS[match[2]]


class ScheduleSpec(BaseModel):
    """Working hours for personas the world doesn't describe, holidays and bursts."""

    model_config = ConfigDict(extra="forbid")
    timezone: str = "UTC"  # personas with no time zone of their own
    start: int = Field(9, ge=0, le=23)
    end: int = Field(17, ge=1, le=24)
    country: str | None = None  # public holidays for every persona (default: from time zone)
    bursts: bool = True

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(value)
        except Exception:
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/London)") from None
        return value


class JobSpec(BaseModel):
    """What ``jobs start`` (and the web app's POST) gives: everything a job is."""

    model_config = ConfigDict(extra="forbid")
    target: str  # a registered target that can simulate (asana, salesforce, a plugin's)
    name: str | None = None
    behaviours: list[str] = []  # [] = every behaviour of the target
    personas: list[str] = []  # names; [] = everyone (the world's Users / the team's members)
    rate: float = Field(30.0, gt=0, le=100_000)  # actions per working hour
    duration: str | None = None  # 8h, 5d … (None: until stopped)
    clock: str = "real"
    seed: int = 42
    schedule: ScheduleSpec = ScheduleSpec()
    options: dict[str, Any] = {}  # asana: team, workspace; salesforce: owner …

    @field_validator("target")
    @classmethod
    def _target(cls, value: str) -> str:
        from orgforge.plugins import target as registered

        try:
            registered(value, "simulate")
        except UsageError as exc:
            raise ValueError(f"{exc.message} ({exc.hint})") from None
        return value

    @field_validator("duration")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        parse_duration(value)
        return value

    @field_validator("clock")
    @classmethod
    def _clock(cls, value: str) -> str:
        try:
            return check_clock_spec(value)
        except ConfigError as exc:
            raise ValueError(exc.message) from None

    @field_validator("behaviours")
    @classmethod
    def _behaviours(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(v.strip() for v in value if v.strip()))


@dataclass
class Job:
    """One row of the jobs table, decoded."""

    id: str
    name: str
    target: str
    behaviours: list[str]
    personas: list[str]
    schedule: dict[str, Any]
    rate: float
    duration_s: float | None
    clock: str
    seed: int
    options: dict[str, Any]
    state: str
    message: str | None
    created_at: str
    updated_at: str
    started_at: str | None
    ends_at: str | None
    next_at: str | None
    seq: int
    done: int
    failed: int
    runner: str | None
    heartbeat_at: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Job:
        values = dict(row)
        for name in ("behaviours", "personas", "schedule", "options"):
            values[name] = json.loads(values[name])
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _JOB_COLUMNS}


def spec_error(exc: ValidationError, flags: bool = False) -> ConfigError:
    """One line naming the field (as its ``jobs start`` flag when ``flags``)."""
    first = exc.errors()[0]
    loc = [str(p) for p in first["loc"]]
    if flags:
        field = "--" + loc[-1].replace("_", "-").removesuffix("s") if loc else "job"
        field = {"--behaviour": "--behaviour", "--start": "--hours", "--end": "--hours"}.get(
            field, field
        )
    else:
        field = "job " + ".".join(loc)
    message = str(first["msg"]).removeprefix("Value error, ")
    return ConfigError(
        f"{field}: {message}",
        "docs/simulate.md lists every job option and its values.",
    )


def make_spec(flags: bool = False, **values: Any) -> JobSpec:
    """A JobSpec from keyword values, or ConfigError naming the first bad one (by its
    ``jobs start`` flag when ``flags``)."""
    try:
        return JobSpec.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        raise spec_error(exc, flags) from None


def _select(conn: Any, where: str = "", params: dict[str, Any] | None = None) -> list[Job]:
    columns = ", ".join(f'"{c}"' for c in _JOB_COLUMNS)
    rows = conn.execute(f'SELECT {columns} FROM "sim_jobs" {where}', params or {}).fetchall()
    return [Job.from_row(dict(zip(_JOB_COLUMNS, row, strict=True))) for row in rows]


def create_job(world: World, spec: JobSpec | dict[str, Any], clock: Clock = REAL) -> Job:
    """Add an active job to the jobs table; a runner picks it up on its next refresh."""
    if isinstance(spec, dict):
        spec = make_spec(**spec)
    from orgforge.simulate.behaviours import check_behaviours

    check_behaviours(spec.target, spec.behaviours)
    now = clock.iso()
    with world.transaction() as conn:
        taken = {
            row[0]
            for row in conn.execute(
                'SELECT "id" FROM "sim_jobs" WHERE "target" = :t', {"t": spec.target}
            ).fetchall()
        }
        number = len(taken) + 1
        while f"{spec.target}-{number}" in taken:
            number += 1
        job_id = f"{spec.target}-{number}"
        row = {
            "id": job_id,
            "name": spec.name or job_id,
            "target": spec.target,
            "behaviours": json.dumps(spec.behaviours),
            "personas": json.dumps(spec.personas),
            "schedule": json.dumps(spec.schedule.model_dump()),
            "rate": spec.rate,
            "duration_s": parse_duration(spec.duration),
            "clock": spec.clock,
            "seed": spec.seed,
            "options": json.dumps(spec.options, sort_keys=True),
            "state": "active",
            "message": None,
            "created_at": now,
            "updated_at": now,
            "started_at": None,
            "ends_at": None,
            "next_at": None,
            "seq": 0,
            "done": 0,
            "failed": 0,
            "runner": None,
            "heartbeat_at": None,
        }
        conn.execute(insert_sql("sim_jobs", _JOB_COLUMNS), row)
    return get_job(world, job_id)


def get_job(world: World, job_id: str) -> Job:
    with world.reading() as conn:
        found = _select(conn, 'WHERE "id" = :id', {"id": job_id})
    if not found:
        known = [j.id for j in list_jobs(world)]
        raise ConfigError(
            f"no job {job_id!r} in world {world.location}",
            ("Jobs: " + ", ".join(known[:10])) if known else "Start one: orgforge jobs start …",
        )
    return found[0]


def list_jobs(world: World, state: str | None = None) -> list[Job]:
    if state is not None and state not in STATES:
        raise ConfigError(f"--state {state!r}: not a job state", "One of: " + ", ".join(STATES))
    with world.reading() as conn:
        if state is None:
            return _select(conn, 'ORDER BY "created_at", "id"')
        return _select(conn, 'WHERE "state" = :s ORDER BY "created_at", "id"', {"s": state})


_TRANSITIONS = {  # command → (states it applies to, the state it leads to)
    "pause": (("active",), "paused"),
    "resume": (("paused", "failed"), "active"),
    "stop": (("active", "paused", "failed"), "stopped"),
}


def change_state(
    world: World, job_id: str, command: str, clock: Clock = REAL, message: str | None = None
) -> Job:
    """pause | resume | stop a job (only what the jobs table says; the runner obeys it)."""
    allowed, new_state = _TRANSITIONS[command]
    job = get_job(world, job_id)
    if job.state == new_state:
        return job  # already there: asking twice is fine
    if job.state not in allowed:
        raise ConfigError(
            f"job {job_id} is {job.state}: it can't {command}",
            f"`jobs {command}` works on {' or '.join(allowed)} jobs.",
        )
    with world.transaction() as conn:
        conn.execute(
            'UPDATE "sim_jobs" SET "state" = :state, "message" = :message, '
            '"updated_at" = :now WHERE "id" = :id',
            {"state": new_state, "message": message, "now": clock.iso(), "id": job_id},
        )
    return get_job(world, job_id)


def pause_job(world: World, job_id: str, clock: Clock = REAL) -> Job:
    return change_state(world, job_id, "pause", clock)


def resume_job(world: World, job_id: str, clock: Clock = REAL) -> Job:
    return change_state(world, job_id, "resume", clock)


def stop_job(world: World, job_id: str, clock: Clock = REAL) -> Job:
    return change_state(world, job_id, "stop", clock)


def job_log(
    world: World, job_id: str, limit: int = 50, status: str | None = None
) -> list[dict[str, Any]]:
    """The job's latest actions, newest last (each: seq, planned_at, behaviour, persona,
    status, subject, remote_id, summary, error, attempts, started_at, finished_at)."""
    get_job(world, job_id)
    columns = ", ".join(f'"{c}"' for c in _ACTION_COLUMNS)
    where = 'WHERE "job_id" = :id' + (' AND "status" = :status' if status else "")
    with world.reading() as conn:
        rows = conn.execute(
            f'SELECT {columns} FROM "sim_actions" {where} ORDER BY "seq" DESC LIMIT :limit',
            {"id": job_id, "status": status, "limit": limit},
        ).fetchall()
    out = [dict(zip(_ACTION_COLUMNS, row, strict=True)) for row in reversed(rows)]
    for row in out:
        row["detail"] = json.loads(row["detail"]) if row["detail"] else {}
    return out


ACTION_COLUMNS = _ACTION_COLUMNS
JOB_COLUMNS = _JOB_COLUMNS
