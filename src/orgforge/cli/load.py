"""`orgforge load`, `cleanup`, `validate`, `smoke`: the world into an org and back out again."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import orgforge
import orgforge.api
from orgforge.cli import _console
from orgforge.cli._options import (
    AuthOpt,
    ConfigOpt,
    DryRunOpt,
    InstanceOpt,
    JsonOpt,
    LoginOpt,
    OrgOpt,
    RunsOpt,
    TargetOpt,
    UserOpt,
    WorldOpt,
    YesOpt,
    given,
)


def _connection(
    org: str | None,
    instance_url: str | None,
    login_url: str | None,
    username: str | None,
    auth: str | None,
) -> dict[str, Any]:
    """The Salesforce connection flags every command here takes, as library options."""
    return given(
        org=org, instance_url=instance_url, login_url=login_url, username=username, auth=auth
    )


@contextmanager
def _bars(label: str) -> Iterator[tuple[Any, Any]]:
    """One progress bar per object; yields (start(totals), advance(object, n))."""
    if not _console.show_progress():
        yield (lambda totals: None), (lambda obj, n=1: None)
        return
    bar = Progress(
        TextColumn("{task.description:<24}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_console.err,
    )
    tasks: dict[str, Any] = {}

    def start(totals: dict[str, int]) -> None:
        for name, total in totals.items():
            if total:
                tasks[name] = bar.add_task(f"{label} {name}", total=total)

    def advance(name: str, n: int = 1) -> None:
        if name not in tasks:
            tasks[name] = bar.add_task(f"{label} {name}", total=None)
        bar.advance(tasks[name], n)

    with bar:
        yield start, advance


def load(
    target: TargetOpt = "salesforce",
    config: ConfigOpt = None,
    world: WorldOpt = None,
    from_dir: str = typer.Option(None, "--from", help="Load an exported folder instead."),
    api: str = typer.Option(None, "--api", help="auto | rest | bulk (default: auto)."),
    dry_run: DryRunOpt = False,
    prune: bool = typer.Option(
        False, "--prune", help="Delete records orgforge created that the world no longer has."
    ),
    force: bool = typer.Option(False, "--force", help="Load even past the daily API budget."),
    org: OrgOpt = None,
    instance_url: InstanceOpt = None,
    login_url: LoginOpt = None,
    username: UserOpt = None,
    auth: AuthOpt = None,
    runs_dir: RunsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Sync the world into an org: create what's missing, update changed fields; resumable."""
    opts = given(world=world, runs_dir=runs_dir)
    opts |= _connection(org, instance_url, login_url, username, auth)
    with _bars("load") as (start, advance):
        report, run_dir = orgforge.load(
            config,
            target=target,
            from_dir=from_dir,
            api=api,
            dry_run=dry_run,
            force=force,
            prune=prune,
            progress=advance,
            on_start=start,
            **opts,
        )
    if not _console.json_or_quiet(as_json, {**report.as_dict(), "run_dir": run_dir}):
        out = _console.out
        for warning in report.warnings:
            out.print(f"[yellow]warning:[/] {warning}", markup=True)
        _print_load(report, dry_run, prune)
        if run_dir:
            out.print(f"run log: {run_dir}/")
    failure = orgforge.api.load_failure(report, run_dir, dry_run=dry_run)
    if failure is not None:
        raise failure


def _print_load(report: Any, dry_run: bool, prune: bool) -> None:
    out = _console.out
    title = f"{'Dry run: ' if dry_run else ''}load → {report.target}"
    table = Table(title=title, show_edge=False)
    if dry_run:
        columns = ("object", "api", "total", "to create", "to update", "unchanged", "to prune")
    else:
        columns = ("object", "api", "total", "created", "updated", "unchanged", "existing")
        columns += ("pruned", "failed", "skipped")
    for column in columns:
        table.add_column(column, justify="left" if column in ("object", "api") else "right")
    for name, t in report.tallies.items():
        if dry_run:
            cells = (t.total - t.already, t.to_update, t.unchanged, t.to_prune)
        else:
            changed = t.updated + t.update_failed
            cells = (t.created, t.updated, t.already - changed, t.adopted, t.pruned)
            cells += (t.failed + t.update_failed, t.skipped)
        table.add_row(name, t.api, f"{t.total:,}", *(f"{c:,}" for c in cells))
    out.print(table)
    for name, t in report.tallies.items():
        if t.update_fields and (dry_run or t.updated):
            fields = ", ".join(f"{f} ({n:,})" for f, n in t.update_fields.items())
            out.print(f"{'to update' if dry_run else 'updated'} {name}: {fields}")
    gone = sum(len(keys) for keys in report.prune.values())
    if gone and dry_run:
        for name, keys in report.prune.items():
            shown = ", ".join(keys[:5]) + (f" (+{len(keys) - 5:,} more)" if len(keys) > 5 else "")
            out.print(f"{'would delete' if prune else 'not in the world'} {name}: {shown}")
    if gone and not prune:
        out.print(
            f"{gone:,} records orgforge created are no longer in the world; "
            "`orgforge load --prune` deletes them from the org"
        )
    if dry_run:
        out.print(f"would use ~{report.estimate:,} API requests; nothing was written")
        return
    faults = ", ".join(f"{kind} ×{n:,}" for kind, n in sorted(report.faults.items()))
    rode_out = sum(report.faults.values())
    out.print(
        f"{report.requests:,} HTTP requests ({report.http_retries:,} of them sent again), "
        f"{report.record_retries:,} record retries; "
        f"rode out {rode_out:,} transient faults" + (f" ({faults})" if faults else "") + "; "
        f"{report.reconciled:,} records reconciled from an earlier run; {report.seconds:.1f}s"
    )


def _confirm_cleanup(
    config: Any, target: str, run: str | None, everything: bool, opts: dict[str, Any]
) -> None:
    """On a terminal: show what would be deleted, per object, and ask."""
    preview, _ = orgforge.cleanup(
        config, target=target, run=run, all=everything, dry_run=True, **opts
    )
    counts = preview.would_delete
    if not counts:
        return
    from orgforge.targets.salesforce.plan import LOAD_OBJECTS

    per_object = ", ".join(f"{counts[n]:,} {n}" for n in reversed(LOAD_OBJECTS) if counts.get(n))
    total = sum(counts.values())
    if not typer.confirm(f"Delete {total:,} records from {preview.target} ({per_object})?"):
        raise typer.Abort()  # exit 1, "aborted" (click returns, not raises, an Exit here)


def cleanup(
    target: TargetOpt = "salesforce",
    config: ConfigOpt = None,
    world: WorldOpt = None,
    run: str = typer.Option(None, "--run", help="Delete what this load run created."),
    everything: bool = typer.Option(False, "--all", help="Delete everything orgforge created."),
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    org: OrgOpt = None,
    instance_url: InstanceOpt = None,
    login_url: LoginOpt = None,
    username: UserOpt = None,
    auth: AuthOpt = None,
    runs_dir: RunsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete exactly the records orgforge created (children first); pre-existing data stays."""
    opts = given(world=world, runs_dir=runs_dir)
    opts |= _connection(org, instance_url, login_url, username, auth)
    if not dry_run and not yes and sys.stdin.isatty():
        _confirm_cleanup(config, target, run, everything, opts)
    with _bars("delete") as (_start, advance):
        report, run_dir = orgforge.cleanup(
            config,
            target=target,
            run=run,
            all=everything,
            dry_run=dry_run,
            progress=advance,
            **opts,
        )
    if not _console.json_or_quiet(as_json, {**report.as_dict(), "run_dir": run_dir}):
        table = Table(title=f"cleanup → {report.target}", show_edge=False)
        for column in ("object", "would delete" if dry_run else "deleted", "failed"):
            table.add_column(column, justify="left" if column == "object" else "right")
        counts = report.would_delete if dry_run else report.deleted
        from orgforge.targets.salesforce.plan import LOAD_OBJECTS

        for name in [n for n in reversed(LOAD_OBJECTS) if n in counts or n in report.failed]:
            table.add_row(name, f"{counts.get(name, 0):,}", f"{report.failed.get(name, 0):,}")
        _console.out.print(table)
        _console.out.print(f"{report.requests:,} requests used in {report.seconds:.1f}s")
        if run_dir:
            _console.out.print(f"run log: {run_dir}/")
    failure = orgforge.api.cleanup_failure(report, run_dir)
    if failure is not None:
        raise failure


def validate(
    target: TargetOpt = "salesforce",
    config: ConfigOpt = None,
    world: WorldOpt = None,
    from_dir: str = typer.Option(None, "--from", help="Check an exported folder instead."),
    api: str = typer.Option(None, "--api", help="auto | rest | bulk, for the estimate."),
    org: OrgOpt = None,
    instance_url: InstanceOpt = None,
    login_url: LoginOpt = None,
    username: UserOpt = None,
    auth: AuthOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check an org before a load: fields, picklists, owners, required fields, API budget."""
    opts = given(world=world) | _connection(org, instance_url, login_url, username, auth)
    report = orgforge.validate(config, target=target, from_dir=from_dir, api=api, **opts)
    data = report.as_dict()
    if not _console.json_or_quiet(as_json, data, quiet=False):
        out = _console.out
        out.print(
            f"org {data['org_id']} as {data['username']} ({data['instance_url']}), "
            f"API v{data['api_version']}"
        )
        table = Table(show_edge=False)
        for column in ("object", "fields", "key mode", "to load", "api"):
            table.add_column(column, justify="right" if column == "to load" else "left")
        for name, info in data["objects"].items():
            table.add_row(
                name,
                str(info["fields"]),
                info["key_mode"],
                f"{report.counts.get(name, 0):,}",
                info["api"] or "",
            )
        out.print(table)
        by_how: dict[str, list[str]] = {}
        for key, how in data["owner_mapping"].items():
            by_how.setdefault(how, []).append(f"{key}→{data['owners'][key]}")
        for how, pairs in by_how.items():
            shown = ", ".join(pairs[:3]) + (f" (+{len(pairs) - 3} more)" if len(pairs) > 3 else "")
            out.print(f"owners by {how}: {shown}")
        remaining = data["remaining_requests"]
        left = f"{remaining:,}" if remaining is not None else "unknown"
        out.print(f"a load would use ~{data['estimated_requests']:,} requests; {left} left today")
        for warning in data["warnings"]:
            out.print(f"[yellow]warning:[/] {warning}", markup=True)
        for error in data["errors"]:
            out.print(f"[red]error:[/] {error}", markup=True)
    failure = orgforge.api.validate_failure(report)
    if failure is not None:
        raise failure


def smoke(
    target: TargetOpt = "salesforce",
    config: ConfigOpt = None,
    org: OrgOpt = None,
    instance_url: InstanceOpt = None,
    login_url: LoginOpt = None,
    username: UserOpt = None,
    auth: AuthOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create, read and delete one Account; print how long each step took."""
    opts = _connection(org, instance_url, login_url, username, auth)
    report = orgforge.smoke(config, target=target, **opts)
    if _console.json_or_quiet(as_json, vars(report), quiet=False):
        return
    steps = ", ".join(f"{k} {v:.0f} ms" for k, v in report.timings_ms.items())
    _console.out.print(
        f"ok: org {report.org_id} as {report.username}: {steps} "
        f"({report.requests} requests; Account {report.record_id} created and deleted)"
    )


def register(app: typer.Typer) -> None:
    app.command()(load)
    app.command()(cleanup)
    app.command()(validate)
    app.command()(smoke)
