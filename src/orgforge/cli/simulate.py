"""`orgforge simulate run`: the foreground runner of the living org, with a live view."""

from __future__ import annotations

import datetime as dt
from collections import deque
from typing import Annotated, Any

import typer

from orgforge.cli import _console
from orgforge.cli._options import ConfigOpt, JsonOpt, WorldOpt

app = typer.Typer(
    help="Run the living org: every active job of the world, in working hours.",
    no_args_is_help=True,
)


def _live_view(report_rows: deque, counts: dict[str, Any]) -> Any:
    from rich.table import Table

    table = Table(title="orgforge simulate", show_edge=False)
    for column in ("at", "job", "persona", "action", "status"):
        table.add_column(column)
    for row in report_rows:
        table.add_row(*row)
    table.caption = "  ".join(f"{k} {v:,}" for k, v in counts.items())
    return table


@app.command("run")
def run(
    job: Annotated[
        list[str] | None, typer.Option("--job", help="Only this job (repeatable).")
    ] = None,
    clock: Annotated[
        str, typer.Option("--clock", help="real | fast:60 | backfill:14d (default: real).")
    ] = "real",
    until: Annotated[
        str | None,
        typer.Option(
            "--for", help="Stop after this much clock time: 30m, 8h, 2d (default: never)."
        ),
    ] = None,
    max_actions: Annotated[
        int | None, typer.Option("--max-actions", help="Stop after this many actions.", min=1)
    ] = None,
    hours: Annotated[
        float, typer.Option("--hours", help="--dry-run: how far ahead to plan (hours).")
    ] = 1.0,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print the next hour of planned actions; act on nothing."),
    ] = False,
    url: Annotated[str | None, typer.Option("--url", help="Asana API base (asana.url).")] = None,
    config: ConfigOpt = None,
    world: WorldOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the active jobs in the foreground (Ctrl+C stops; jobs resume where they were)."""
    import sys

    from orgforge import simulate
    from orgforge.api import resolve
    from orgforge.errors import ConfigError
    from orgforge.simulate.jobs import parse_duration
    from orgforge.world import World

    cfg = resolve(config, world=world, asana_url=url)
    mode = simulate.parse_clock(clock)
    try:
        span = parse_duration(until)
    except ValueError as exc:
        raise ConfigError(f"--for: {exc}", "e.g. --for 8h") from None
    with World(cfg.world, create=False) as handle:
        if job:
            for job_id in job:
                simulate.get_job(handle, job_id)
        if dry_run:
            planned = simulate.plan(handle, jobs=job, hours=hours, clock=mode, config=cfg)
            if not _console.json_or_quiet(as_json, [p.as_dict() for p in planned]):
                for p in planned:
                    _console.out.print(
                        f"{p.at}  {p.job:<14} {p.persona:<20} {p.local}", markup=False
                    )
                _console.out.print(
                    f"{len(planned):,} actions planned in the next {hours:g} h (dry run)"
                )
            return
        stop_at = mode.clock.now() + dt.timedelta(seconds=span) if span else None
        recent: deque = deque(maxlen=15)
        counts: dict[str, int] = {"ok": 0, "failed": 0, "skipped": 0}
        live_view = None
        tty = sys.stdout.isatty() and not as_json and not _console.state.quiet

        def on_action(j: Any, action: dict[str, Any]) -> None:
            counts[action["status"]] = counts.get(action["status"], 0) + 1
            what = action["error"] or action["summary"]
            if live_view is not None:
                recent.append(
                    (action["planned_at"][:16], j.id, action["persona"], what, action["status"])
                )
                live_view.update(_live_view(recent, counts))
            elif not as_json and not _console.state.quiet:
                _console.out.print(
                    f"{action['planned_at'][:19]}Z {j.id} {action['status']:<7} "
                    f"{action['behaviour']}: {what}",
                    markup=False,
                )

        runner = simulate.Runner(
            handle,
            mode,
            jobs=job,
            config=cfg,
            on_action=on_action,
            until=stop_at,
            max_actions=max_actions,
        )
        try:
            if tty:
                from rich.live import Live

                with Live(
                    _live_view(recent, counts), console=_console.out, refresh_per_second=4
                ) as live_view:
                    report = runner.run()
            else:
                report = runner.run()
        except KeyboardInterrupt:
            report = runner.report
    if not _console.json_or_quiet(as_json, report.as_dict()):
        done = report.actions
        _console.out.print(
            f"{sum(done.values()):,} actions ({done.get('ok', 0):,} ok, {done.get('failed', 0):,} "
            f"failed, {done.get('skipped', 0):,} idle) on clock {report.clock}, "
            f"{report.started[:16]} → {report.ended[:16]}",
            markup=False,
        )
        for job_id, why in report.paused.items():
            _console.out.print(f"paused {job_id}: {why}", markup=False)
        if report.resent:
            _console.out.print(f"resent {report.resent} journalled action(s) after a restart")
