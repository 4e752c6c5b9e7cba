"""`orgforge shift`: roll a world's whole history forward (or back) by one delta."""

from __future__ import annotations

import typer

import orgforge
from orgforge.cli import _console
from orgforge.cli._options import ConfigOpt, DryRunOpt, WorldOpt, load


def shift(
    config: ConfigOpt = None,
    world: WorldOpt = None,
    to: str = typer.Option(
        None, "--to", help="today or YYYY-MM-DD: the world's as-of date becomes this day."
    ),
    days: int = typer.Option(None, "--days", help="Move every date by N days (negative: back)."),
    runs_dir: str = typer.Option(None, "--runs-dir", help="Where run logs go (default ./runs)."),
    exact: bool = typer.Option(
        False,
        "--exact",
        help="With --to: move by exactly the days to that date (default: whole weeks, so "
        "meetings keep their weekdays and working hours).",
    ),
    dry_run: DryRunOpt = False,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Move every date of every record, and the as-of date, by one delta; `load` then
    pushes the moved dates as updates (same Ids)."""
    cfg = load(config, {"world": world, "runs_dir": runs_dir})
    result = orgforge.shift(
        cfg.world, days=days, to=to, runs_dir=cfg.runs_dir, exact=exact, dry_run=dry_run
    )
    if _console.json_or_quiet(as_json, result.as_dict()):
        return
    moved = sum(result.records.values())
    what = (
        f"{moved:,} records and {result.history_rows:,} History rows by {result.days:+,} days "
        f"(as of {result.as_of_before or '?'} → {result.as_of_after or '?'})"
    )
    if result.days % 7:
        _console.err.print(
            f"warning: {result.days:+,} days is not a whole number of weeks: meetings move to "
            "other weekdays, some onto weekends (`orgforge check` will say which)",
            highlight=False,
        )
    if dry_run:
        _console.out.print(f"would shift {what}; nothing was written")
        return
    _console.out.print(f"shifted {what}; `orgforge load` pushes the new dates")


def register(app: typer.Typer) -> None:
    app.command()(shift)
