"""`orgforge agents run|replay|policy`: lead routing and first touch on an org's changes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from orgforge.cli import _console
from orgforge.cli._options import ConfigOpt, WorldOpt, load

app = typer.Typer(
    help="Agents on change events: lead routing, first response, decision logs.",
    no_args_is_help=True,
)
policy_app = typer.Typer(help="Show or check a routing policy file.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")

PolicyOpt = Annotated[
    str | None,
    typer.Option("--policy", "-p", help="Routing policy YAML (default: the built-in example)."),
]
LogDirOpt = Annotated[
    str, typer.Option("--log-dir", help="Folder of the flywheel decision logs (JSONL).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


@app.command()
def run(
    feed: str = typer.Option(
        "poll",
        "--feed",
        help="world (replay the change log) | poll | stream (an org), or a plugin's.",
    ),
    workload: list[str] = typer.Option(
        ["lead.route", "lead.first_touch"],
        "--workload",
        help="lead.route, lead.first_touch, outreach.suggest or a plugin's (repeatable).",
    ),
    templates: str | None = typer.Option(
        None, "--templates", help="Outreach templates YAML (default: the built-in ones)."
    ),
    send: bool = typer.Option(
        False, "--send", help="outreach.suggest: send through emailSimple, logged on the lead."
    ),
    policy: PolicyOpt = None,
    log_dir: LogDirOpt = "flywheel",
    once: bool = typer.Option(False, "--once", help="One sweep, then stop."),
    interval: float = typer.Option(
        5.0, "--interval", help="Seconds between sweeps (stream: the longest long poll)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Decide and show; write nothing."),
    llm_check: bool = typer.Option(
        False,
        "--llm-check",
        help="Have the content LLM (content.provider/model) confirm or flag each decision; "
        "it never changes an owner. Answers are cached in the world.",
    ),
    config: ConfigOpt = None,
    world: WorldOpt = None,
    instance_url: str | None = typer.Option(None, "--instance-url", help="Org URL."),
    auth: str | None = typer.Option(None, "--auth", help="auto | sf-cli | jwt | password | token."),
    org: str | None = typer.Option(None, "--org", help="sf CLI alias or username."),
    as_json: JsonOpt = False,
) -> None:
    """Route new leads and record first touches as changes arrive (Ctrl-C stops)."""
    from orgforge.agents.run import run_agents

    flags: dict[str, Any] = {"world": world}
    for name, value in (("instance_url", instance_url), ("auth", auth), ("org", org)):
        if value is not None:
            flags[f"salesforce.{name}"] = value
    cfg = load(config, flags)

    def progress(report) -> None:
        if not as_json and _console.show_progress() and not once:
            _console.err.print(
                f"[dim]sweep {report.steps}: {report.events} events, {report.routed} routed, "
                f"{report.touches} first touches[/dim]"
            )

    try:
        report = run_agents(
            cfg,
            feed=feed,
            workloads=tuple(workload),
            policy=policy,
            log_dir=log_dir,
            dry_run=dry_run,
            once=once,
            interval=interval,
            on_step=progress,
            templates=templates,
            send=send,
            llm_check=llm_check,
        )
    except KeyboardInterrupt:
        _console.err.print("stopped; the next run resumes after the last event handled")
        raise typer.Exit(130) from None
    summary = {
        k: getattr(report, k)
        for k in (
            "feed",
            "steps",
            "events",
            "routed",
            "reassigned",
            "touches",
            "gaps",
            "overflows",
            "writes",
            "log_lines",
            "log_dir",
            "dry_run",
            "missing_fields",
            "llm_check",
        )
    }
    json_summary = {**summary, "decisions": [d.as_dict() for d in report.decisions]}
    if _console.json_or_quiet(as_json, json_summary, quiet=False):
        return
    if dry_run and report.decisions and not _console.state.quiet:
        table = Table(title="decisions (dry run: nothing written)", show_edge=False)
        for column in ("lead", "owner", "rule", "why"):
            table.add_column(column)
        for d in report.decisions[:50]:
            table.add_row(d.lead_id, d.owner, d.rule, d.reason)
        _console.out.print(table)
    wrote = (
        "nothing written (dry run)"
        if dry_run
        else (f"{report.writes} Lead updates, {report.log_lines} log lines in {report.log_dir}/")
    )
    _console.out.print(
        f"{report.events} events: {report.routed} leads routed, {report.reassigned} reassigned, "
        f"{report.touches} first touches; {wrote}"
    )
    for line in report.reconciled:
        _console.err.print(f"note: {line}")
    if report.unwatched:
        _console.err.print(
            f"note: the org has no {', '.join(report.unwatched)}; first touches come from "
            "the other objects only"
        )
    if report.suggested:
        _console.out.print(
            f"outreach: {report.suggested} suggested, {report.sent} sent, "
            f"{report.send_failed} not sent"
        )
    if report.llm_check is not None:
        c = report.llm_check
        _console.out.print(
            f"llm check: {c['flagged']} flagged, {c['unchecked']} unchecked; "
            f"{c['calls']} calls, {c['cached']} answers from the cache"
        )
    if report.missing_fields:
        _console.err.print(
            f"warning: the org has no field {', '.join(report.missing_fields)} on Lead; "
            "first-response values were not written there (the log has them)"
        )


@app.command()
def replay(
    log: str = typer.Argument(..., help="A flywheel log file or its folder."),
    policy: PolicyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-run a log's routing decisions under a policy; show every one that differs."""
    from orgforge.agents.flywheel import replay as run_replay
    from orgforge.agents.policy import load_policy

    count, differences = run_replay(log, load_policy(policy))
    rows = [d.__dict__ for d in differences]
    if not _console.json_or_quiet(as_json, {"decisions": count, "differences": rows}, quiet=False):
        if differences:
            table = Table(show_edge=False)
            for column in ("where", "lead", "logged", "replayed", "why now"):
                table.add_column(column)
            for d in differences[:100]:
                table.add_row(
                    d.where,
                    d.lead_id,
                    "/".join(map(str, d.logged)),
                    "/".join(map(str, d.replayed)),
                    d.reason,
                )
            _console.out.print(table)
        _console.out.print(f"{count} decisions replayed, {len(differences)} differ")
    if differences:
        raise typer.Exit(1)


@policy_app.command("show")
def policy_show() -> None:
    """Print the built-in example policy (a starting point for yours)."""
    from importlib import resources

    text = (resources.files("orgforge.agents") / "data" / "policy.example.yaml").read_text()
    _console.out.print(text, end="", markup=False, highlight=False)


@policy_app.command("validate")
def policy_validate(file: Path = typer.Argument(..., help="Policy YAML file.")) -> None:
    """Check a routing policy file; errors name the file, line and field."""
    from orgforge.agents.policy import load_policy

    rules = load_policy(file)
    pools = ", ".join(p.name for p in rules.pools)
    _console.out.print(
        f"{file}: ok — version {rules.version}, {len(rules.reps)} reps, pools {pools}, "
        f"fallback {rules.fallback_owner}"
    )
