"""`orgforge world info|reset`: look after the local world file."""

from __future__ import annotations

import typer
from rich.table import Table

from orgforge.cli import _console
from orgforge.cli._options import ConfigOpt, DryRunOpt, JsonOpt, WorldOpt, YesOpt, load
from orgforge.world.store import World

app = typer.Typer(help="Inspect or reset the local world.", no_args_is_help=True)


@app.command()
def info(config: ConfigOpt = None, world: WorldOpt = None, as_json: JsonOpt = False) -> None:
    """Schema version, record counts and recent runs of a world."""
    cfg = load(config, {"world": world})
    with World(cfg.world, create=False) as handle:
        data = {
            "world": handle.location,
            "schema_version": handle.schema_version,
            "counts": handle.counts(),
            "runs": handle.runs(limit=10),
        }
        if _console.json_or_quiet(as_json, data, quiet=False):
            return
        _console.out.print(f"world {handle.location} (schema v{handle.schema_version})")
        table = Table(show_edge=False)
        table.add_column("object")
        table.add_column("records", justify="right")
        for name, count in data["counts"].items():
            table.add_row(name, f"{count:,}")
        _console.out.print(table)
        runs = Table(title="recent runs", show_edge=False)
        for column in ("run", "command", "status", "started"):
            runs.add_column(column)
        for run in data["runs"]:
            runs.add_row(run["run_id"], run["command"], run["status"], run["started_at"])
        _console.out.print(runs)


def _refuse_if_loaded(handle: World, force: bool) -> None:
    """A reset forgets which org records orgforge created; afterwards cleanup can't find them."""
    from orgforge.errors import UsageError
    from orgforge.targets.salesforce.sync import loaded_by_target

    loaded = loaded_by_target(handle)
    if not loaded or force:
        return
    where = ", ".join(f"{n:,} records in {target}" for target, n in loaded.items())
    raise UsageError(
        f"world reset: {handle.location} has load history: orgforge created {where}, "
        "and they are still there",
        "Delete them first with `orgforge cleanup --all` (same --world), then reset; or pass "
        "--force to forget them (they stay in the org, and cleanup can no longer find them).",
    )


@app.command()
def reset(
    config: ConfigOpt = None,
    world: WorldOpt = None,
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
    force: bool = typer.Option(
        False, "--force", help="Reset even though an org still holds records loaded from it."
    ),
) -> None:
    """Remove every record, run, change and cache entry from the world (keeps the file)."""
    cfg = load(config, {"world": world})
    with World(cfg.world, create=False, writer=None if dry_run else "world reset") as handle:
        _refuse_if_loaded(handle, force)
        counts = handle.counts()
        total = sum(counts.values())
        summary = ", ".join(f"{n:,} {name}" for name, n in counts.items() if n) or "nothing"
        if dry_run:
            _console.out.print(f"would remove from {handle.location}: {summary}")
            return
        if not yes and not typer.confirm(f"Remove {total:,} records from {handle.location}?"):
            raise typer.Exit(1)
        handle.reset()
        _console.out.print(f"removed from {handle.location}: {summary}")
