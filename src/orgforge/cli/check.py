"""`orgforge check`: run every coherence rule on a world or an exported folder."""

from __future__ import annotations

import typer

import orgforge
from orgforge.cli import _console
from orgforge.cli._options import ConfigOpt, QuietOpt, WorldOpt, load
from orgforge.errors import UsageError

SHOWN_PER_RULE = 20  # violations printed per rule (all of them with --json)


def check(
    source: str = typer.Argument(
        None, help="World file, SQLAlchemy URL or exported folder (default: the --world)."
    ),
    config: ConfigOpt = None,
    world: WorldOpt = None,
    rule: list[str] = typer.Option(None, "--rule", help="Run only this rule (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    quiet: QuietOpt = False,
) -> None:
    """Check a world's history against every coherence rule; exit 1 if any is broken."""
    from orgforge.checks import RULES

    _console.state.quiet |= quiet
    for name in rule or ():
        if name not in RULES:
            raise UsageError(
                f"--rule: unknown rule {name!r}",
                f"Rules: {', '.join(RULES)} (see docs/generate.md).",
            )
    target = source or load(config, {"world": world}).world
    result = orgforge.check(target, rule or None)
    # -q still shows violations: they are why the command fails
    if not _console.json_or_quiet(as_json, result.to_json, quiet=not result.violations):
        _print(result)
    if result.violations:
        raise typer.Exit(1)


def _print(result) -> None:
    out = _console.out
    shown: dict[str, int] = {}
    for violation in result.violations:
        shown[violation.rule] = shown.get(violation.rule, 0) + 1
        if shown[violation.rule] <= SHOWN_PER_RULE:
            out.print(f"{violation.key}: {violation.message} [{violation.rule}]", markup=False)
    for name, count in shown.items():
        if count > SHOWN_PER_RULE:
            out.print(f"… and {count - SHOWN_PER_RULE:,} more breaking {name} (see --json)")
    for name, why in result.skipped.items():
        out.print(f"skipped {name}: {why}", markup=False)
    ran = len(result.rules) - len(result.skipped)
    if result.violations:
        broken = sum(1 for n in result.by_rule().values() if n)
        out.print(
            f"{len(result.violations):,} violations of {broken} of {ran} rules in "
            f"{result.records:,} records ({result.source})",
            markup=False,
        )
    else:
        out.print(
            f"ok: {result.records:,} records keep all {ran} rules ({result.source})", markup=False
        )


def register(app: typer.Typer) -> None:
    app.command()(check)
