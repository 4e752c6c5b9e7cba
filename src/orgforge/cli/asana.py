"""`orgforge asana seed | cleanup | whoami`: a used-looking workspace into Asana and out again."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

import orgforge
from orgforge.cli import _console
from orgforge.cli._options import (
    AsanaUrlOpt,
    ConfigOpt,
    JsonOpt,
    RateOpt,
    RunsOpt,
    TierOpt,
    WorkspaceOpt,
    WorldOpt,
    given,
)
from orgforge.errors import TargetError

app = typer.Typer(
    help="Seed an Asana workspace (a project per team) and clean up exactly what was created.",
    no_args_is_help=True,
)


def _table(report: Any, title: str, done_label: str) -> Table:
    table = Table(title=title, show_edge=False)
    columns = ["object", "planned", done_label, "already there", "with parent", "failed"]
    if report.skipped:
        columns.insert(-1, "skipped")
    for column in columns:
        table.add_column(column, justify="left" if column == "object" else "right")
    for name, planned in report.planned.items():
        row = [
            name,
            f"{planned:,}",
            f"{report.done.get(name, 0):,}",
            f"{report.already.get(name, 0):,}",
            f"{report.with_parent.get(name, 0):,}",
            f"{report.failed.get(name, 0):,}",
        ]
        if report.skipped:
            row.insert(-1, f"{report.skipped.get(name, 0):,}")
        table.add_row(*row)
    return table


def _print(report: Any, run_dir: str | None, as_json: bool, done_label: str) -> None:
    if _console.json_or_quiet(as_json, {**report.as_dict(), "run_dir": run_dir}):
        return
    out = _console.out
    title = (
        f"{report.command}{' (dry run)' if report.dry_run else ''} → {report.workspace or 'Asana'}"
    )
    out.print(_table(report, title, done_label))
    figures = report.target
    if figures:
        out.print(
            f"{figures['requests']:,} requests, {figures['retries']:,} retries, "
            f"{figures['rate_limited']:,} rate-limited, {report.seconds:.1f}s"
        )
        for feature, count in figures.get("skipped_features", {}).items():
            out.print(f"skipped: {feature} ({count:,} records) — the workspace is not premium")
        for persona, message in figures.get("invalid_tokens", {}).items():
            out.print(f"invalid token: {persona}: {message}", markup=False)
    if run_dir:
        out.print(f"run log: {run_dir}/")


def _fail_if_failed(report: Any, run_dir: str | None, done: str, then: str) -> None:
    """Exit 1 when any object failed, pointing at the run's errors."""
    failed = sum(report.failed.values())
    if failed:
        raise TargetError(
            f"{report.command}: {failed:,} objects could not be {done}",
            f"See {run_dir}/errors.jsonl; {then}.",
        )


@app.command("seed")
def seed(
    config: ConfigOpt = None,
    world: WorldOpt = None,
    url: AsanaUrlOpt = None,
    workspace: WorkspaceOpt = None,
    team: Annotated[
        list[str] | None, typer.Option("--team", help="Only this team (repeatable).")
    ] = None,
    tasks_per_project: Annotated[
        int | None, typer.Option("--tasks-per-project", help="Tasks in each project (default 12).")
    ] = None,
    seed_value: Annotated[int | None, typer.Option("--seed", help="Seed of the plan.")] = None,
    tier: TierOpt = None,
    rate_limit: RateOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Plan and count; write nothing.")
    ] = False,
    runs_dir: RunsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a project per team from a template: sections, tasks, subtasks, comments, status."""
    opts = given(
        world=world,
        runs_dir=runs_dir,
        asana_url=url,
        workspace=workspace,
        tier=tier,
        rate_limit=rate_limit,
        tasks_per_project=tasks_per_project,
        seed=seed_value,
    )
    with _console.progress("asana seed", None) as advance:
        report, run_dir = orgforge.asana_seed(
            config,
            teams=team or None,
            dry_run=dry_run,
            progress=lambda _object, n: advance(n),
            on_total=advance.set_total,
            **opts,
        )
    _print(report, run_dir, as_json, "would create" if dry_run else "created")
    _fail_if_failed(report, run_dir, "created", "run seed again to create only what is missing")


@app.command("cleanup")
def cleanup(
    config: ConfigOpt = None,
    world: WorldOpt = None,
    url: AsanaUrlOpt = None,
    run: Annotated[
        str | None, typer.Option("--run", help="Only what this seed run created.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only count what would be deleted.")
    ] = False,
    tier: TierOpt = None,
    rate_limit: RateOpt = None,
    runs_dir: RunsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete exactly the Asana objects orgforge created (children first); the rest stays."""
    opts = given(world=world, runs_dir=runs_dir, asana_url=url, tier=tier, rate_limit=rate_limit)
    with _console.progress("asana cleanup", None) as advance:
        report, run_dir = orgforge.asana_cleanup(
            config,
            run=run,
            dry_run=dry_run,
            progress=lambda _object, n: advance(n),
            on_total=advance.set_total,
            **opts,
        )
    _print(report, run_dir, as_json, "would delete" if dry_run else "deleted")
    _fail_if_failed(report, run_dir, "deleted", "run cleanup again once the cause is fixed")


@app.command("whoami")
def whoami(config: ConfigOpt = None, url: AsanaUrlOpt = None, as_json: JsonOpt = False) -> None:
    """Each persona with a token (ORGFORGE_ASANA_TOKEN[__<PERSONA>]) and its Asana user."""
    rows = orgforge.asana_whoami(config, **given(asana_url=url))
    if not _console.json_or_quiet(as_json, rows):
        table = Table(show_edge=False)
        for column in ("persona", "user", "email", "note"):
            table.add_column(column)
        for row in rows:
            if row["ok"]:
                note = "" if row["matches_name"] else "token belongs to someone else"
                table.add_row(row["persona"], row["name"], row["email"] or "", note)
            else:
                table.add_row(row["persona"], "-", "-", row["error"])
        _console.out.print(table)
    bad = [r for r in rows if not r["ok"]]
    if bad:
        from orgforge.errors import AuthError

        raise AuthError(f"{len(bad)} of {len(rows)} Asana tokens do not work: {bad[0]['error']}")
