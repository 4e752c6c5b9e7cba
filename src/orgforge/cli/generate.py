"""`orgforge generate`, `export`, `stats`: build, write out and inspect a world."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

import orgforge
from orgforge import api
from orgforge.cli import _console
from orgforge.cli._options import (
    AccountsOpt,
    AsOfOpt,
    BaseUrlOpt,
    ConfigOpt,
    DryRunOpt,
    FormatOpt,
    JsonOpt,
    MaxCostOpt,
    ModelOpt,
    OutOpt,
    PresetOpt,
    ProviderOpt,
    RunsOpt,
    SeedOpt,
    TextOpt,
    WorldOpt,
    load,
)
from orgforge.errors import UsageError

if TYPE_CHECKING:
    from rich.table import Table


def _industries(value: str | None) -> list[str] | None:
    if not value:
        return None
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise UsageError("--industries: empty list", "Give ids like insurance,high_tech.")
    return names


def generate(
    config: ConfigOpt = None,
    seed: SeedOpt = None,
    preset: PresetOpt = None,
    accounts: AccountsOpt = None,
    industries: str = typer.Option(None, "--industries", help="Comma list of industry ids."),
    pack: list[str] = typer.Option(None, "--pack", help="Extra industry pack YAML (repeatable)."),
    as_of: AsOfOpt = None,
    team: str = typer.Option(None, "--team", help="Team YAML (roles, territories, hours)."),
    world: WorldOpt = None,
    out: OutOpt = None,
    format: FormatOpt = None,
    text: TextOpt = None,
    provider: ProviderOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    max_cost: MaxCostOpt = None,
    runs_dir: RunsOpt = None,
    workers: int = typer.Option(None, "--workers", help="Processes (0 = automatic)."),
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Generate a realistic CRM world (accounts and their subtrees), offline by default."""
    flags = {
        "seed": seed,
        "preset": preset,
        "generate.accounts": accounts,
        "as_of": as_of,
        "generate.team": team,
        "world": world,
        "export.out": out,
        "export.format": format,
        "content.engine": text,
        "content.provider": provider,
        "content.model": model,
        "content.base_url": base_url,
        "content.max_cost": max_cost,
        "runs_dir": runs_dir,
        "generate.workers": workers,
    }
    cfg = load(config, flags)
    only = _industries(industries)
    if dry_run:
        _print_preview(api.generate_preview(cfg, industries=only), as_json)
        return
    if cfg.content.engine == "llm":
        # With an LLM the time goes into text: show text items (cache hits count as done).
        with _console.progress("text items", None) as advance:
            result = orgforge.generate(cfg, industries=only, packs=pack, text_progress=advance)
    else:
        with _console.progress("accounts", cfg.generate.accounts) as advance:
            result = orgforge.generate(cfg, industries=only, packs=pack, progress=advance)
    if _console.json_or_quiet(as_json, _result_dict(result, cfg)):
        return
    table = _table(f"World {result.world}", "object", "records", "inserted", "updated", "deleted")
    for name, count in result.counts.items():
        w = result.written.get(name, {})
        if not count and not any(w.values()):
            continue  # objects other jobs fill (EventRelation…) when this world has none
        table.add_row(
            name,
            f"{count:,}",
            f"{w.get('inserted', 0):,}",
            f"{w.get('updated', 0):,}",
            f"{w.get('deleted', 0):,}",
        )
    _console.out.print(table)
    removed = result.written.get("History", {}).get("deleted", 0)
    _console.out.print(
        f"history: {result.history:,} stage and status changes"
        + (f" ({removed:,} deleted with their accounts)" if removed else "")
    )
    rate = result.records / result.seconds if result.seconds else 0
    _console.out.print(
        f"{result.records:,} records in {result.seconds:.2f}s ({rate:,.0f}/s), "
        f"seed {cfg.seed}, as of {cfg.today.isoformat()}, text: {result.text.get('engine')}"
    )
    from orgforge.cli.content import print_text_summary

    print_text_summary(result.text)
    if result.export_dir:
        _console.out.print(f"export: {result.export_dir}/ ({cfg.export.format})")
    if result.run_dir:
        _console.out.print(f"run log: {result.run_dir}/")


def export(
    config: ConfigOpt = None,
    world: WorldOpt = None,
    out: OutOpt = None,
    format: FormatOpt = None,
    dry_run: DryRunOpt = False,
) -> None:
    """Write a world out as files: one per object, streaming (memory stays flat)."""
    cfg = load(config, {"world": world, "export.out": out, "export.format": format})
    if not cfg.export.out:
        raise UsageError("export: --out is required", "Example: orgforge export --out export/")
    planned = orgforge.export(cfg.world, cfg.export.out, cfg.export.format, dry_run=True)
    counts = {name: n for name, n in planned.items() if n}
    total = sum(counts.values())
    if dry_run:
        _console.out.print(
            f"would write {total:,} records in {len(counts)} {cfg.export.format} files to "
            f"{cfg.export.out}/; nothing was written"
        )
        return
    with _console.progress("records", total) as advance:
        counts = orgforge.export(cfg.world, cfg.export.out, cfg.export.format, progress=advance)
    if not _console.state.quiet:
        _console.out.print(
            f"wrote {sum(counts.values()):,} records in {len(counts)} {cfg.export.format} files "
            f"to {cfg.export.out}/"
        )


def stats(
    config: ConfigOpt = None,
    world: WorldOpt = None,
    text: Annotated[
        bool,
        typer.Option(
            "--text",
            help="How much each long text field repeats: distinct values and sentences, "
            "the most repeated sentence.",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Counts, fill rates and distributions of a world, next to the configured targets."""
    cfg = load(config, {"world": world})
    if text:
        _text_stats(orgforge.text_stats(cfg.world), as_json)
        return
    report = orgforge.stats(cfg.world)
    if _console.json_or_quiet(as_json, report, quiet=False):
        return
    out = _console.out
    counts = _table("Records (generate job)", "object", "count", "expected", "other jobs")
    for row in report["counts"]:
        expected = "—" if row["expected"] is None else f"{row['expected']:,}"
        counts.add_row(row["object"], f"{row['count']:,}", expected, f"{row['other_jobs']:,}")
    out.print(counts)
    fields = _table("Account field fill rate (%)", "field", "observed", "target")
    for row in report["account_fields"]:
        fields.add_row(row["field"], f"{row['observed_pct']:.1f}", f"{row['target_pct']:.0f}")
    out.print(fields)
    for name, rows in report["distributions"].items():
        table = _table(name.replace("_", " "), "value", "count", "observed %", "target %")
        for row in rows:
            target = "" if row["target_pct"] is None else f"{row['target_pct']:.1f}"
            table.add_row(
                str(row["value"]), f"{row['count']:,}", f"{row['observed_pct']:.1f}", target
            )
        out.print(table)


def _text_stats(rows: list[dict[str, Any]], as_json: bool) -> None:
    if _console.json_or_quiet(as_json, {"fields": rows}, quiet=False):
        return
    table = _table(
        "Long text fields: distinct values and sentences, top sentence (% of values)",
        "field",
        "values",
        "values %",
        "sentences %",
        "top %",
    )
    for row in rows:
        table.add_row(
            f"{row['object']}.{row['field']}",
            f"{row['values']:,}",
            f"{row['distinct_values_pct']:.1f}",
            f"{row['distinct_sentences_pct']:.1f}",
            f"{row['top_sentence_pct']:.2f}",
        )
    _console.out.print(table)
    for row in rows:
        if row["top_sentence"]:
            _console.out.print(
                f"{row['object']}.{row['field']}: most repeated sentence "
                f"({row['top_sentence_values']:,} values): {row['top_sentence']!r}",
                markup=False,
                highlight=False,
            )


def _result_dict(result: Any, cfg: Any) -> dict[str, Any]:
    return {
        "world": result.world,
        "counts": result.counts,
        "written": result.written,
        "records": result.records,
        "seconds": result.seconds,
        "seed": cfg.seed,
        "as_of": cfg.today.isoformat(),
        "text": result.text,
        "export_dir": result.export_dir,
        "run_dir": result.run_dir,
    }


def _print_preview(preview: dict[str, Any], as_json: bool) -> None:
    if _console.json_or_quiet(as_json, preview, quiet=False):
        return
    table = _table(f"Dry run: generate → {preview['world']}", "object", "records", "in the world")
    about = "~" if preview["estimated"] else ""
    for name, count in preview["counts"].items():
        shown = f"{'~' if name in preview['estimated'] else ''}{count:,}"
        table.add_row(name, shown, f"{preview['existing'].get(name, 0):,}")
    _console.out.print(table)
    verdict = (
        "the world already holds this recipe: a run would write nothing"
        if preview["up_to_date"]
        else f"a run would write up to {about}{preview['records']:,} records and "
        f"{about}{preview['history_rows']:,} History rows"
    )
    _console.out.print(
        f"{verdict}; seed {preview['seed']}, as of {preview['as_of']}, industries "
        f"{', '.join(preview['industries'])}; nothing was written"
    )


def _table(title: str, first: str, *numbers: str) -> Table:
    """A borderless table: a left-aligned label column, then right-aligned figures."""
    from rich.table import Table  # here, not at the top: a quiet run prints no table

    table = Table(title=title, show_edge=False)
    table.add_column(first)
    for column in numbers:
        table.add_column(column, justify="right")
    return table


def register(app: typer.Typer) -> None:
    app.command()(generate)
    app.command()(export)
    app.command()(stats)
