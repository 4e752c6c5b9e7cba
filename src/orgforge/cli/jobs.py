"""`orgforge jobs start|pause|resume|stop|list|show|log`: the jobs table of the living org.

These commands only write the world's jobs table; a runner (`orgforge simulate run`, started
here or anywhere else on the same world) picks the change up within a second.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from orgforge.cli import _console
from orgforge.cli._options import ConfigOpt, JsonOpt, WorldOpt

app = typer.Typer(
    help="Start, pause, resume and stop living-org jobs; list them and read their logs.",
    no_args_is_help=True,
)
JobArg = Annotated[str, typer.Argument(help="The job's id (e.g. asana-1; see `jobs list`).")]


def _world(config_file: str | None, world: str | None, create: bool = False) -> Any:
    from orgforge.api import resolve
    from orgforge.world import World

    config = resolve(config_file, world=world)
    return World(config.world, create=create)


def _print_job(job: Any, as_json: bool) -> None:
    if not _console.json_or_quiet(as_json, job.as_dict()):
        table = Table(show_header=False, show_edge=False)
        for name, value in job.as_dict().items():
            if value not in (None, [], {}):
                table.add_row(
                    name, json.dumps(value) if isinstance(value, list | dict) else str(value)
                )
        _console.out.print(table)


@app.command("start")
def start(
    target: Annotated[str, typer.Option("--target", "-t", help="asana | salesforce.")],
    behaviour: Annotated[
        list[str] | None,
        typer.Option("--behaviour", help="Only this behaviour (repeatable; see docs)."),
    ] = None,
    persona: Annotated[
        list[str] | None, typer.Option("--persona", help="Only this person acts (repeatable).")
    ] = None,
    rate: Annotated[float, typer.Option("--rate", help="Actions per working hour.")] = 30.0,
    duration: Annotated[
        str | None, typer.Option("--duration", help="30m, 8h, 5d, 2w (default: until stopped).")
    ] = None,
    clock: Annotated[
        str, typer.Option("--clock", help="The job's clock: real | fast:60 | backfill:14d.")
    ] = "real",
    timezone: Annotated[
        str, typer.Option("--timezone", help="For personas the world doesn't place.")
    ] = "UTC",
    hours: Annotated[
        str, typer.Option("--hours", help="Working hours for those personas, e.g. 9-17.")
    ] = "9-17",
    country: Annotated[
        str | None, typer.Option("--country", help="Public holidays of this country (e.g. US).")
    ] = None,
    no_bursts: Annotated[
        bool, typer.Option("--no-bursts", help="A flat rate over the day.")
    ] = False,
    team: Annotated[str | None, typer.Option("--team", help="Asana: the team to work in.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="A name to show.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the job's streams.")] = 42,
    config: ConfigOpt = None,
    world: WorldOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add an active job (a runner picks it up: `orgforge simulate run`)."""
    from orgforge.errors import ConfigError
    from orgforge.simulate import create_job, make_spec

    try:
        start_hour, end_hour = (int(part) for part in hours.split("-"))
    except ValueError:
        raise ConfigError(f"--hours {hours!r}: not a range of hours", "e.g. --hours 9-17") from None
    options = {"team": team} if team else {}
    spec = make_spec(
        flags=True,
        target=target,
        name=name,
        behaviours=behaviour or [],
        personas=persona or [],
        rate=rate,
        duration=duration,
        clock=clock,
        seed=seed,
        schedule={
            "timezone": timezone,
            "start": start_hour,
            "end": end_hour,
            "country": country,
            "bursts": not no_bursts,
        },
        options=options,
    )
    with _world(config, world, create=True) as handle:
        job = create_job(handle, spec)
    if not _console.json_or_quiet(as_json, job.as_dict()):
        _console.out.print(
            f"started job {job.id} ({job.target}, {job.rate:g} actions/working hour)"
        )


def _change(
    command: str, job_id: str, config: str | None, world: str | None, as_json: bool
) -> None:
    from orgforge.simulate import change_state

    with _world(config, world) as handle:
        job = change_state(handle, job_id, command)
    if not _console.json_or_quiet(as_json, job.as_dict()):
        _console.out.print(f"job {job.id} is {job.state}")


@app.command("pause")
def pause(
    job: JobArg, config: ConfigOpt = None, world: WorldOpt = None, as_json: JsonOpt = False
) -> None:
    """Pause a job: the runner stops acting for it until `jobs resume`."""
    _change("pause", job, config, world, as_json)


@app.command("resume")
def resume(
    job: JobArg, config: ConfigOpt = None, world: WorldOpt = None, as_json: JsonOpt = False
) -> None:
    """Resume a paused (or failed) job where it stopped."""
    _change("resume", job, config, world, as_json)


@app.command("stop")
def stop(
    job: JobArg, config: ConfigOpt = None, world: WorldOpt = None, as_json: JsonOpt = False
) -> None:
    """Stop a job for good (its log and what it made stay)."""
    _change("stop", job, config, world, as_json)


@app.command("list")
def list_(
    state: Annotated[
        str | None, typer.Option("--state", help="active | paused | stopped | done | failed.")
    ] = None,
    config: ConfigOpt = None,
    world: WorldOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every job of the world, oldest first."""
    from orgforge.simulate import list_jobs

    with _world(config, world) as handle:
        jobs = list_jobs(handle, state)
    if _console.json_or_quiet(as_json, [j.as_dict() for j in jobs]):
        return
    table = Table(show_edge=False)
    for column in ("job", "target", "state", "rate/h", "done", "failed", "next action"):
        table.add_column(
            column, justify="right" if column in ("rate/h", "done", "failed") else "left"
        )
    for job in jobs:
        table.add_row(
            job.id,
            job.target,
            job.state,
            f"{job.rate:g}",
            f"{job.done:,}",
            f"{job.failed:,}",
            (job.next_at or "-")[:19],
        )
    _console.out.print(table if jobs else "no jobs yet: orgforge jobs start --target asana")


@app.command("show")
def show(
    job: JobArg, config: ConfigOpt = None, world: WorldOpt = None, as_json: JsonOpt = False
) -> None:
    """One job: its settings, state, counts and next planned action."""
    from orgforge.simulate import get_job

    with _world(config, world) as handle:
        _print_job(get_job(handle, job), as_json)


@app.command("log")
def log(
    job: JobArg,
    limit: Annotated[int, typer.Option("--limit", help="The last N actions.", min=1)] = 20,
    status: Annotated[
        str | None, typer.Option("--status", help="Only ok | failed | skipped | intent.")
    ] = None,
    config: ConfigOpt = None,
    world: WorldOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The job's latest actions: when (its clock), who, what, and how it went."""
    from orgforge.simulate import job_log

    with _world(config, world) as handle:
        rows = job_log(handle, job, limit, status)
    if _console.json_or_quiet(as_json, rows):
        return
    table = Table(show_edge=False)
    for column, width in (("seq", 4), ("at (UTC)", 11), ("status", 7)):
        table.add_column(column, no_wrap=True, min_width=width)
    table.add_column("what", no_wrap=True, overflow="ellipsis")
    for row in rows:
        table.add_row(
            str(row["seq"]),
            row["planned_at"][5:16].replace("T", " "),
            row["status"],
            row["error"] or row["summary"] or row["behaviour"],
        )
    _console.out.print(table if rows else f"job {job} has no actions yet")
