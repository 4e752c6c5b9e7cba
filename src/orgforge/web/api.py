"""The JSON API (/api/…): world figures, background operations, simulation jobs, live streams.

Bad input answers 400 with ``{"error": one line, "hint": one line}`` (the CLI's two lines) and
writes nothing; an unknown id is 404.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from orgforge.errors import ConfigError
from orgforge.web.app import error_body, state_of
from orgforge.web.events import HEARTBEAT, sse

router = APIRouter()
HEARTBEAT_SECONDS = 15.0
JOB_LOG_POLL_SECONDS = 1.0  # a runner in another process wakes nobody here: re-read this often


class OpRequest(BaseModel):
    kind: Literal["generate", "load", "validate", "cleanup", "activity"]
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="generate: preset, accounts, industries, seed, as_of, text, per_account "
        "(records per account by object); load/validate/"
        "cleanup: target, instance_url, auth, org, dry_run, prune (load), run, all (cleanup); "
        "activity: max_opps, target, seed, text.",
    )
    secrets: dict[str, str] = Field(
        default_factory=dict,
        description="access_token: a Salesforce access token for this operation (kept in "
        "memory, never stored or shown).",
    )


def secret_env(secrets: dict[str, str]) -> dict[str, str]:
    from orgforge.web.ops import SECRET_PARAMS

    unknown = [k for k in secrets if k not in SECRET_PARAMS]
    if unknown:
        raise ConfigError(
            f"secrets: {unknown[0]!r} is not one orgforge takes",
            f"Secrets: {', '.join(SECRET_PARAMS)}.",
        )
    return {SECRET_PARAMS[k]: v for k, v in secrets.items() if v}


def _not_found(exc: ConfigError) -> JSONResponse:
    return JSONResponse(error_body(exc), status_code=404)


# -- the world ------------------------------------------------------------------------------


@router.get("/world", summary="Counts, fill rates and distributions (`orgforge stats`)")
async def world_stats(request: Request) -> Any:
    return await asyncio.to_thread(state_of(request).stats)


@router.get("/world/check", summary="Coherence rules on the world (`orgforge check`)")
async def world_check(request: Request) -> Any:
    return await asyncio.to_thread(state_of(request).check)


@router.post("/generate/preview", summary="What a generate would write; writes nothing")
async def generate_preview(request: Request, params: dict[str, Any]) -> Any:
    from orgforge.web import ops

    return await asyncio.to_thread(ops.generate_preview, state_of(request).settings, params)


@router.post("/generate/estimate", summary="LLM calls, tokens and cost of a generate")
async def generate_estimate(request: Request, params: dict[str, Any]) -> Any:
    from orgforge.web import ops

    return await asyncio.to_thread(ops.generate_estimate, state_of(request).settings, params)


# -- background operations ------------------------------------------------------------------


@router.get("/ops", summary="Background operations, newest first")
async def list_ops(request: Request, limit: int = 50, kind: str | None = None) -> Any:
    ops = await asyncio.to_thread(state_of(request).ops.list, limit, kind)
    return [op.as_dict() for op in ops]


@router.post("/ops", status_code=202, summary="Start a background operation")
async def start_op(request: Request, body: OpRequest) -> Any:
    web = state_of(request)
    op = await asyncio.to_thread(web.ops.start, body.kind, body.params, secret_env(body.secrets))
    return op.as_dict()


@router.get("/ops/{op_id}", summary="One operation: state, progress, result, run directory")
async def get_op(request: Request, op_id: str) -> Any:
    try:
        return (await asyncio.to_thread(state_of(request).ops.get, op_id)).as_dict()
    except ConfigError as exc:
        return _not_found(exc)


@router.post("/ops/{op_id}/cancel", summary="Ask a running operation to stop")
async def cancel_op(request: Request, op_id: str) -> Any:
    try:
        return state_of(request).ops.cancel(op_id).as_dict()
    except ConfigError as exc:
        return _not_found(exc)


async def op_stream(request: Request, op_id: str) -> AsyncIterator[str]:
    """``progress`` events while the operation runs (each change), then one ``end``."""
    web = state_of(request)
    last: Any = None
    while True:
        op = await asyncio.to_thread(web.ops.get, op_id)
        shown = op.as_dict()
        if shown != last:
            yield sse("end" if op.finished else "progress", shown)
            last = shown
        if op.finished or web.closing or await request.is_disconnected():
            return
        if not await web.hub.wait(HEARTBEAT_SECONDS):
            yield HEARTBEAT


@router.get("/ops/{op_id}/events", summary="Server-sent progress of one operation")
async def op_events(request: Request, op_id: str) -> Any:
    try:
        await asyncio.to_thread(state_of(request).ops.get, op_id)
    except ConfigError as exc:
        return _not_found(exc)
    return StreamingResponse(op_stream(request, op_id), media_type="text/event-stream")


# -- simulation jobs ------------------------------------------------------------------------


def _with_world(request: Request, fn: Any, *args: Any, **kwargs: Any) -> Any:
    from orgforge.world.store import World

    with World(state_of(request).settings.world) as world:
        return fn(world, *args, **kwargs)


@router.get("/jobs", summary="Simulation jobs (`orgforge jobs list`)")
async def list_jobs(request: Request, state: str | None = None) -> Any:
    from orgforge import simulate

    jobs = await asyncio.to_thread(_with_world, request, simulate.list_jobs, state)
    return [job.as_dict() for job in jobs]


@router.post("/jobs", status_code=201, summary="Start a job (a JobSpec: target, rate, clock…)")
async def create_job(request: Request, spec: dict[str, Any]) -> Any:
    return (await start_job(request, spec)).as_dict()


async def start_job(request: Request, spec: dict[str, Any]) -> Any:
    from orgforge import simulate

    web = state_of(request)
    checked = simulate.make_spec(**spec)
    job = await asyncio.to_thread(_with_world, request, simulate.create_job, checked)
    if web.settings.simulate:
        web.sims.ensure(job.clock)
    web.hub.changed()
    return job


@router.get("/jobs/{job_id}", summary="One job and its counts")
async def get_job(request: Request, job_id: str) -> Any:
    from orgforge import simulate

    try:
        return (await asyncio.to_thread(_with_world, request, simulate.get_job, job_id)).as_dict()
    except ConfigError as exc:
        return _not_found(exc)


async def change_job(request: Request, job_id: str, command: str) -> Any:
    from orgforge import simulate

    web = state_of(request)
    await asyncio.to_thread(_with_world, request, simulate.get_job, job_id)  # 404 first
    job = await asyncio.to_thread(_with_world, request, simulate.change_state, job_id, command)
    if command == "resume" and web.settings.simulate:
        web.sims.ensure(job.clock)
    web.hub.changed()
    return job


@router.post("/jobs/{job_id}/{command}", summary="pause | resume | stop a job")
async def job_command(
    request: Request, job_id: str, command: Literal["pause", "resume", "stop"]
) -> Any:
    try:
        return (await change_job(request, job_id, command)).as_dict()
    except ConfigError as exc:
        if "does not exist" in exc.message or "no job" in exc.message.lower():
            return _not_found(exc)
        raise


@router.get("/jobs/{job_id}/log", summary="A job's latest actions, oldest first")
async def job_log(request: Request, job_id: str, limit: int = 50) -> Any:
    from orgforge import simulate

    try:
        return await asyncio.to_thread(_with_world, request, simulate.job_log, job_id, limit)
    except ConfigError as exc:
        return _not_found(exc)


def _job_snapshot(request: Request, job_id: str) -> tuple[Any, list[dict[str, Any]]]:
    from orgforge import simulate

    def read(world: Any) -> tuple[Any, list[dict[str, Any]]]:
        return simulate.get_job(world, job_id), simulate.job_log(world, job_id, limit=100)

    return _with_world(request, read)


_SNAPSHOT_SECONDS = 0.25  # streams woken together share one read of the table


async def shared_snapshot(request: Request, job_id: str) -> tuple[Any, list[dict[str, Any]]]:
    """The job and its latest actions, read once for every stream woken by the same change."""
    web = state_of(request)
    cache = web.job_snapshots
    lock = cache.setdefault(("lock", job_id), asyncio.Lock())
    async with lock:
        now = asyncio.get_running_loop().time()
        entry = cache.get(job_id)
        if entry is None or entry[0] != web.hub.version or now - entry[1] > _SNAPSHOT_SECONDS:
            entry = (web.hub.version, now, await asyncio.to_thread(_job_snapshot, request, job_id))
            cache[job_id] = entry
        return entry[2]


async def job_stream(request: Request, job_id: str) -> AsyncIterator[str]:
    """``job`` events when its state or counts change, ``action`` events for each action."""
    web = state_of(request)
    after, last = -1, None
    while not web.closing and not await request.is_disconnected():
        job, rows = await shared_snapshot(request, job_id)
        shown = job.as_dict()
        if shown != last:
            yield sse("job", shown)
            last = shown
        for row in rows:
            if row["seq"] > after and row["status"] != "intent":
                yield sse("action", row)
                after = max(after, row["seq"])
        if not await web.hub.wait(JOB_LOG_POLL_SECONDS):
            yield HEARTBEAT


@router.get("/jobs/{job_id}/events", summary="Server-sent job state and live action log")
async def job_events(request: Request, job_id: str) -> Any:
    from orgforge import simulate

    try:
        await asyncio.to_thread(_with_world, request, simulate.get_job, job_id)
    except ConfigError as exc:
        return _not_found(exc)
    return StreamingResponse(job_stream(request, job_id), media_type="text/event-stream")


# -- agents' decisions -----------------------------------------------------------------------


def decisions(settings: Any, limit: int = 200, lead: str | None = None) -> list[dict[str, Any]]:
    """The latest routing decisions of the flywheel logs (newest first), or [] if none yet."""
    from pathlib import Path

    from orgforge.agents.flywheel import iter_decisions

    if not Path(settings.log_dir).exists():
        return []
    found = [d for d in iter_decisions(settings.log_dir) if not lead or d.get("lead_id") == lead]
    return list(reversed(found[-limit:]))


@router.get("/agents/decisions", summary="The agents' routing decisions: who, which rule, why")
async def agents_decisions(request: Request, limit: int = 200, lead: str | None = None) -> Any:
    return await asyncio.to_thread(decisions, state_of(request).settings, limit, lead)
