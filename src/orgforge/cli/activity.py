"""`orgforge activity plan|run|status|reset|smoke|frameworks`: activity and scorecards on deals."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from orgforge import activity as lib
from orgforge.cli import _console
from orgforge.cli._options import (
    AsOfOpt,
    ConfigOpt,
    DryRunOpt,
    JsonOpt,
    RunsOpt,
    SeedOpt,
    TextOpt,
    WorldOpt,
    YesOpt,
    load,
)
from orgforge.config import Config
from orgforge.errors import FrameworkError

app = typer.Typer(
    help="Meetings, emails and sales scorecards on opportunities (the People.ai demo job).",
    no_args_is_help=True,
)

WhereOpt = Annotated[
    str | None,
    typer.Option(
        "--where", help="Opportunity filter, SOQL WHERE syntax: \"StageName = 'Prospecting'\"."
    ),
]
MaxOpt = Annotated[
    int | None, typer.Option("--max-opps", min=1, help="At most this many opportunities.")
]
OppOpt = Annotated[
    list[str] | None,
    typer.Option("--opp", help="An opportunity key, e.g. Opportunity/0042/1 (repeatable)."),
]
FrameworkOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--framework", help="Scorecard framework id: meddicc, meddpicc, bant (repeatable)."
    ),
]
ModeOpt = Annotated[
    str | None, typer.Option("--scorecard-mode", help="heuristic (default) | llm | hybrid.")
]
ActivityTargetOpt = Annotated[
    str,
    typer.Option(
        "--target",
        "-t",
        help="world (default) | salesforce: the world, then load/prune the org (salesforce.*).",
    ),
]


def _config(
    config: str | None,
    world: str | None,
    seed: int | None = None,
    as_of: str | None = None,
    runs_dir: str | None = None,
    framework: list[str] | None = None,
    mode: str | None = None,
    text: str | None = None,
) -> Config:
    flags: dict[str, Any] = {
        "world": world,
        "seed": seed,
        "as_of": as_of,
        "runs_dir": runs_dir,
        "activity.scorecards.frameworks": list(framework) if framework else None,
        "activity.scorecards.mode": mode,
        "content.engine": text,
    }
    cfg, warning = lib.anchor_as_of(load(config, flags))
    if warning:
        _console.err.print(f"[yellow]warning:[/] {warning}")
    return cfg


def _written_table(written: dict[str, dict[str, int]], title: str) -> Table:
    table = Table(title=title, show_edge=False)
    for column in ("object", "created", "updated", "removed", "unchanged"):
        table.add_column(column, justify="left" if column == "object" else "right")
    for name, c in written.items():
        table.add_row(
            name,
            f"{c.get('inserted', 0):,}",
            f"{c.get('updated', 0):,}",
            f"{c.get('deleted', 0):,}",
            f"{c.get('unchanged', 0):,}",
        )
    return table


@app.command()
def plan(
    config: ConfigOpt = None,
    world: WorldOpt = None,
    where: WhereOpt = None,
    max_opps: MaxOpt = None,
    opp: OppOpt = None,
    seed: SeedOpt = None,
    as_of: AsOfOpt = None,
    framework: FrameworkOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Dry run: what `run` would create (nothing is written, no text is generated)."""
    cfg = _config(config, world, seed, as_of, framework=framework)
    _print_plan(cfg, lib.plan(cfg, where=where, opps=opp, max_opps=max_opps), as_json)


def _print_plan(cfg: Config, report: Any, as_json: bool) -> None:
    if _console.json_or_quiet(as_json, report.as_dict(), quiet=False):
        return
    table = Table(title=f"Activity plan (as of {cfg.today.isoformat()})", show_edge=False)
    for column in ("opportunity", "stage", "tz", "past mtg", "future mtg", "emails", "new"):
        table.add_column(
            column, justify="left" if column in ("opportunity", "stage", "tz") else "right"
        )
    table.add_column("scorecards")
    for o in report.opportunities:
        new = sum(1 for a in o["activities"] if a["status"] == "new")
        cards = ", ".join(
            f"{c['framework']} {c['coverage']:.0%}/{c['confidence']:.2f}" for c in o["scorecards"]
        )
        table.add_row(
            o["opportunity"].removeprefix("Opportunity/"),
            o["stage"],
            o["tz"],
            str(o["past_meetings"]),
            str(o["future_meetings"]),
            str(o["emails"]),
            str(new),
            cards,
        )
    _console.out.print(table)
    totals = report.totals
    _console.out.print(
        f"{totals['opportunities']:,} opportunities, {totals['planned']:,} activities planned: "
        f"{totals['new']:,} new, {totals['exists']:,} already there. Nothing written (dry run)."
    )


@app.command()
def run(
    config: ConfigOpt = None,
    world: WorldOpt = None,
    where: WhereOpt = None,
    max_opps: MaxOpt = None,
    opp: OppOpt = None,
    seed: SeedOpt = None,
    as_of: AsOfOpt = None,
    runs_dir: RunsOpt = None,
    framework: FrameworkOpt = None,
    scorecard_mode: ModeOpt = None,
    text: TextOpt = None,
    target: ActivityTargetOpt = "world",
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Create meetings (Events + invitees), emails (Tasks) and scorecards on opportunities."""
    cfg = _config(config, world, seed, as_of, runs_dir, framework, scorecard_mode, text)
    if dry_run:  # the same as `activity plan`: what would be created, nothing written
        _print_plan(cfg, lib.plan(cfg, where=where, opps=opp, max_opps=max_opps), as_json)
        return
    with _console.progress("opportunities", None) as advance:
        result = lib.run(
            cfg,
            where=where,
            opps=opp,
            max_opps=max_opps,
            progress=advance,
            on_total=advance.set_total,
            target=target,
        )
    if _console.json_or_quiet(as_json, result.as_dict()):
        return
    _console.out.print(_written_table(result.written, f"Activity → world {result.world}"))
    sc = result.scorecards
    _console.out.print(
        f"{result.opportunities:,} opportunities, {result.planned:,} activities planned, "
        f"{result.created:,} records created in {result.seconds:.2f}s; scorecards: "
        f"{sc.get('count', 0):,}, coverage {sc.get('coverage_mean', 0):.0%} "
        f"(min {sc.get('coverage_min', 0):.0%}), confidence {sc.get('confidence_mean', 0):.2f}"
    )
    if result.run_dir:
        _console.out.print(f"run log: {result.run_dir}/")
    if result.salesforce is not None:
        pushed = result.salesforce
        created = ", ".join(f"{n:,} {k}" for k, n in pushed["created"].items()) or "nothing"
        deleted = ", ".join(f"{n:,} {k}" for k, n in pushed["deleted"].items()) or "nothing"
        _console.out.print(
            f"{pushed['target']}: created {created}; deleted {deleted}; "
            f"{pushed['failed']} failed, {pushed['requests']} requests"
        )


@app.command()
def status(
    config: ConfigOpt = None,
    world: WorldOpt = None,
    limit: int = typer.Option(10, "--limit", help="How many recent runs."),
    as_json: JsonOpt = False,
) -> None:
    """Recent activity runs with their counts, and what the world holds from this job."""
    cfg = _config(config, world)
    report = lib.status(cfg, limit)
    if _console.json_or_quiet(as_json, report, quiet=False):
        return
    held = report["held"]
    _console.out.print(
        f"world {report['world']}: {held['Event']:,} meetings ({held['EventRelation']:,} "
        f"invitees), {held['Task']:,} emails, {held['Scorecard']:,} scorecards on "
        f"{report['opportunities_with_activity']:,} opportunities"
    )
    table = Table(title="recent activity runs", show_edge=False)
    for column in ("run", "command", "status", "started", "opps", "created", "removed"):
        table.add_column(
            column, justify="right" if column in ("opps", "created", "removed") else "left"
        )
    for r in report["runs"]:
        s = r["summary"] or {}
        written = s.get("written") or {}
        removed = s.get("removed") or {}
        deleted = sum(v.get("deleted", 0) for v in written.values()) + sum(removed.values())
        table.add_row(
            r["run_id"],
            r["command"],
            r["status"],
            r["started_at"][:19],
            str(s.get("opportunities", "")),
            str(s.get("created", "")),
            str(deleted),
        )
    _console.out.print(table)


@app.command()
def reset(
    config: ConfigOpt = None,
    world: WorldOpt = None,
    run_id: str = typer.Option(None, "--run", help="Remove what this run created."),
    opp: OppOpt = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    runs_dir: RunsOpt = None,
    target: ActivityTargetOpt = "world",
) -> None:
    """Remove activity orgforge created (by run, by opportunity, or all); nothing else."""
    cfg = _config(config, world, runs_dir=runs_dir)
    if not (run_id or opp or dry_run or yes):
        preview = lib.reset(cfg, dry_run=True)
        total = sum(preview["removed"].values())
        if not typer.confirm(f"Remove all {total:,} activity records and scorecards?"):
            raise typer.Exit(1)
    result = lib.reset(cfg, run_id=run_id, opps=opp, dry_run=dry_run, target=target)
    verb = "would remove" if dry_run else "removed"
    summary = ", ".join(f"{n:,} {name}" for name, n in result["removed"].items())
    _console.out.print(f"{verb}: {summary}")
    if result.get("salesforce"):
        pruned = result["salesforce"]
        deleted = ", ".join(f"{n:,} {k}" for k, n in pruned["deleted"].items()) or "nothing"
        _console.out.print(f"{pruned['target']}: deleted {deleted}")


@app.command()
def smoke(
    config: ConfigOpt = None,
    world: WorldOpt = None,
    opp: str = typer.Option(None, "--opp", help="Opportunity key (default: one without activity)."),
    runs_dir: RunsOpt = None,
    as_of: AsOfOpt = None,
    target: ActivityTargetOpt = "world",
) -> None:
    """One opportunity end to end (plan, write, read back, check), then removed again."""
    cfg = _config(config, world, as_of=as_of, runs_dir=runs_dir)
    report = lib.smoke(cfg, opp=opp, target=target)
    created = report["created"]
    _console.out.print(
        f"smoke {'ok' if report['ok'] else 'FAILED'} on {report['opportunity']}: created "
        f"{created.get('Event', 0)} meetings, {created.get('EventRelation', 0)} invitees, "
        f"{created.get('Task', 0)} emails, {created.get('Scorecard', 0)} scorecards; removed "
        f"{sum(report['removed'].values())} again ({report['seconds']:.2f}s, run "
        f"{report['run_id']})" + (" — in the org too" if "salesforce" in report else "")
    )
    if not report["ok"]:
        _console.err.print(json.dumps(report, indent=2))
        raise typer.Exit(1)


@app.command()
def frameworks(
    files: list[str] = typer.Argument(None, help="Framework YAML files to validate and list."),
    as_json: JsonOpt = False,
) -> None:
    """List the scorecard frameworks; validate your own framework files."""
    try:
        found = lib.frameworks(files or [])
    except FrameworkError as error:
        if error.hint != FrameworkError.default_hint:
            raise
        raise FrameworkError(  # the default hint sends the user back to this command
            error.message,
            "docs/activity.md (Scorecards) describes the format; the built-ins are in "
            "src/orgforge/activity/frameworks/.",
        ) from None
    dumped = {k: v.model_dump(exclude_none=True) for k, v in found.items()}
    if _console.json_or_quiet(as_json, dumped, quiet=False):
        return
    table = Table(title="Scorecard frameworks", show_edge=False)
    for column in ("id", "name", "questions", "source"):
        table.add_column(column, justify="right" if column == "questions" else "left")
    for fw in found.values():
        table.add_row(fw.id, fw.name, str(len(fw.questions)), fw.source)
    _console.out.print(table)
    for file in files or []:
        _console.out.print(f"{file}: ok")
