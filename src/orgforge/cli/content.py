"""`orgforge content fill|estimate`: (re-)write a world's text with an LLM, and price it first."""

from __future__ import annotations

from typing import Any

import typer

from orgforge import api
from orgforge.cli import _console
from orgforge.cli._options import (
    AccountsOpt,
    BaseUrlOpt,
    ConfigOpt,
    JsonOpt,
    MaxCostOpt,
    ModelOpt,
    PresetOpt,
    ProviderOpt,
    RunsOpt,
    TextOpt,
    WorldOpt,
    load,
)
from orgforge.content.contract import KINDS
from orgforge.errors import UsageError

app = typer.Typer(
    help="Text for the text fields: re-fill a world with an LLM, estimate what it costs.",
    no_args_is_help=True,
)


def _kinds(value: str | None) -> list[str] | None:
    from orgforge.content.contract import check_kinds

    if not value:
        return None
    kinds = [k.strip() for k in value.split(",") if k.strip()]
    if not kinds:
        raise UsageError("--kinds: empty list", f"Kinds: {', '.join(KINDS)}")
    return check_kinds(kinds)


def print_text_summary(text: dict[str, Any]) -> None:
    """One line of what the text engine did (calls, cache, fallbacks, tokens, cost)."""
    if text.get("engine") != "llm":
        return
    reasons = ", ".join(f"{k} {v}" for k, v in (text.get("fallback_reasons") or {}).items())
    cost = text.get("cost_usd")
    cost_text = "cost unknown (no price)" if cost is None else f"${cost:,.4f}"
    _console.out.print(
        f"text: {text.get('provider')} {text.get('model')}: {text.get('calls', 0):,} calls, "
        f"{text.get('llm_items', 0):,} items from the model, {text.get('cache_hits', 0):,} "
        f"from cache, {text.get('fallbacks', 0):,} offline fallbacks"
        + (f" ({reasons})" if reasons else "")
        + f"; tokens {text.get('input_tokens', 0):,} in / {text.get('output_tokens', 0):,} out, "
        f"{cost_text}"
        + (" — budget reached, the rest is offline text" if text.get("budget_stopped") else "")
        + (" — provider down, the rest is offline text" if text.get("provider_down") else "")
    )


@app.command()
def fill(
    config: ConfigOpt = None,
    world: WorldOpt = None,
    kinds: str = typer.Option(None, "--kinds", help="Comma list of kinds (default: all)."),
    text: TextOpt = "llm",
    provider: ProviderOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    max_cost: MaxCostOpt = None,
    runs_dir: RunsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-write the text fields of an existing world (LLM by default); structure never changes.

    `orgforge content estimate` prices the run first (there is no --dry-run: the estimate is it).
    """
    cfg = load(
        config,
        {
            "world": world,
            "content.engine": text,
            "content.provider": provider,
            "content.model": model,
            "content.base_url": base_url,
            "content.max_cost": max_cost,
            "runs_dir": runs_dir,
        },
    )
    chosen = _kinds(kinds)
    with _console.progress("text items", None) as advance:
        summary = api.content_fill(cfg, kinds=chosen, progress=advance)
    if _console.json_or_quiet(as_json, summary):
        return
    updated = summary["updated"]
    _console.out.print(
        f"{summary['requests']:,} text requests; records updated: "
        + (", ".join(f"{k} {v:,}" for k, v in updated.items() if v) or "none")
    )
    print_text_summary(summary["text"])
    if summary.get("run_dir"):
        _console.out.print(f"run log: {summary['run_dir']}/")


@app.command()
def estimate(
    config: ConfigOpt = None,
    preset: PresetOpt = None,
    accounts: AccountsOpt = None,
    provider: ProviderOpt = None,
    model: ModelOpt = None,
    batch_size: int = typer.Option(None, "--batch-size", help="Requests per call."),
    as_json: JsonOpt = False,
) -> None:
    """Calls, tokens and cost an LLM run would take, before anything is spent."""
    cfg = load(
        config,
        {
            "preset": preset,
            "generate.accounts": accounts,
            "content.provider": provider,
            "content.model": model,
            "content.batch_size": batch_size,
        },
    )
    report = api.content_estimate(cfg)
    if _console.json_or_quiet(as_json, report, quiet=False):
        return
    from orgforge.cli.generate import _table

    title = (
        f"LLM text for {report['accounts']:,} accounts: {report['provider']} "
        f"{report['model']} (batch {report['batch_size']})"
    )
    table = _table(title, "kind", "items", "calls", "input tokens", "output tokens", "cost USD")

    def cost(value: float | None) -> str:
        return "?" if value is None else f"{value:,.4f}"

    for kind, row in report["kinds"].items():
        table.add_row(
            kind,
            f"{row['items']:,}",
            f"{row['calls']:,}",
            f"{row['input_tokens']:,}",
            f"{row['output_tokens']:,}",
            cost(row["cost_usd"]),
        )
    total = report["total"]
    table.add_row(
        "total",
        f"{total['items']:,}",
        f"{total['calls']:,}",
        f"{total['input_tokens']:,}",
        f"{total['output_tokens']:,}",
        cost(total["cost_usd"]),
        style="bold",
    )
    _console.out.print(table)
    if report["price_per_1m"] is None:
        _console.out.print("no price known for this model: add it with content.prices_file")
    if report["max_cost"] is not None and (total["cost_usd"] or 0) > report["max_cost"]:
        _console.out.print(
            f"over the budget of ${report['max_cost']:,.2f}: calls stop there and the rest "
            "gets offline text"
        )
