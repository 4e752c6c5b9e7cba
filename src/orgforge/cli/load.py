"""`orgforge load`, `cleanup`, `validate`, `smoke`: the world into an org and back out again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import orgforge
import orgforge.api
from orgforge.cli import _console
from orgforge.cli._options import ConfigOpt, WorldOpt

TargetOpt = Annotated[
    str,
    typer.Option(
        "--target", "-t", help="Where to: salesforce, or a plugin's (`orgforge plugins`)."
    ),
]
OrgOpt = Annotated[
    str | None, typer.Option("--org", help="sf CLI alias or username (auth via `sf org display`).")
]
InstanceOpt = Annotated[
    str | None, typer.Option("--instance-url", help="Org URL (with SF_ACCESS_TOKEN).")
]
LoginOpt = Annotated[str | None, typer.Option("--login-url", help="Login URL (JWT, password).")]
UserOpt = Annotated[str | None, typer.Option("--username", help="Salesforce username.")]
AuthOpt = Annotated[
    str | None, typer.Option("--auth", help="auto | sf-cli | jwt | password | token.")
]
RunsOpt = Annotated[
    str | None, typer.Option("--runs-dir", help="Where run logs go (default ./runs).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _options(**kw: Any) -> dict[str, Any]:
    return {k: v for k, v in kw.items() if v is not None}


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
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and count; write nothing."),
    force: bool = typer.Option(False, "--force", help="Load even past the daily API budget."),
    org: OrgOpt = None,
    instance_url: InstanceOpt = None,
    login_url: LoginOpt = None,
    username: UserOpt = None,
    auth: AuthOpt = None,
    runs_dir: RunsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Load the world into an org: parents first, resumable, idempotent (reruns write nothing)."""
    opts = _options(
        world=world,
        runs_dir=runs_dir,
        org=org,
        instance_url=instance_url,
        login_url=login_url,
        username=username,
        auth=auth,
    )
    with _bars("load") as (start, advance):
        report, run_dir = orgforge.load(
            config,
            target=target,
            from_dir=from_dir,
            api=api,
            dry_run=dry_run,
            force=force,
            progress=advance,
            on_start=start,
            **opts,
        )
    if as_json:
        typer.echo(json.dumps({**report.as_dict(), "run_dir": run_dir}, indent=2))
    elif not _console.state.quiet:
        out = _console.out
        for warning in report.warnings:
            out.print(f"[yellow]warning:[/] {warning}", markup=True)
        title = f"{'Dry run: ' if dry_run else ''}load → {report.target}"
        table = Table(title=title, show_edge=False)
        columns = ("object", "api", "total", "already", "created", "existing", "failed", "skipped")
        for column in columns:
            table.add_column(column, justify="left" if column in ("object", "api") else "right")
        for name, t in report.tallies.items():
            pending = t.total - t.already
            table.add_row(
                name,
                t.api,
                f"{t.total:,}",
                f"{t.already:,}",
                f"{pending:,}" if dry_run else f"{t.created:,}",
                f"{t.adopted:,}",
                f"{t.failed:,}",
                f"{t.skipped:,}",
            )
        out.print(table)
        if dry_run:
            out.print(f"would use ~{report.estimate:,} API requests; nothing was written")
        else:
            out.print(
                f"{report.requests:,} requests used ({report.retries:,} retries, "
                f"{report.reconciled:,} records reconciled from an earlier run) "
                f"in {report.seconds:.1f}s"
            )
        if run_dir:
            out.print(f"run log: {run_dir}/")
    failure = orgforge.api.load_failure(report, run_dir, dry_run=dry_run)
    if failure is not None:
        raise failure


def cleanup(
    target: TargetOpt = "salesforce",
    config: ConfigOpt = None,
    world: WorldOpt = None,
    run: str = typer.Option(None, "--run", help="Delete what this load run created."),
    everything: bool = typer.Option(False, "--all", help="Delete everything orgforge created."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only count what would be deleted."),
    org: OrgOpt = None,
    instance_url: InstanceOpt = None,
    login_url: LoginOpt = None,
    username: UserOpt = None,
    auth: AuthOpt = None,
    runs_dir: RunsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete exactly the records orgforge created (children first); pre-existing data stays."""
    opts = _options(
        world=world,
        runs_dir=runs_dir,
        org=org,
        instance_url=instance_url,
        login_url=login_url,
        username=username,
        auth=auth,
    )
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
    if as_json:
        typer.echo(json.dumps({**report.as_dict(), "run_dir": run_dir}, indent=2, default=str))
    elif not _console.state.quiet:
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
    opts = _options(
        world=world,
        org=org,
        instance_url=instance_url,
        login_url=login_url,
        username=username,
        auth=auth,
    )
    report = orgforge.validate(config, target=target, from_dir=from_dir, api=api, **opts)
    data = report.as_dict()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
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
        owners = ", ".join(f"{k}→{v}" for k, v in list(data["owners"].items())[:4])
        if owners:
            more = len(data["owners"]) - 4
            out.print(f"owners: {owners}" + (f" (+{more} more)" if more > 0 else ""))
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
    opts = _options(
        org=org, instance_url=instance_url, login_url=login_url, username=username, auth=auth
    )
    report = orgforge.smoke(config, target=target, **opts)
    if as_json:
        typer.echo(json.dumps(vars(report), indent=2))
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
