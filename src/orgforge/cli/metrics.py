"""`orgforge metrics`: routing distribution, assignment latency and speed to lead from the logs."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from orgforge.cli import _console


def metrics(
    log_dir: str = typer.Option("flywheel", "--log-dir", help="Folder of flywheel logs."),
    sla_minutes: float = typer.Option(
        60.0, "--sla-minutes", min=0.0, help="A first response later than this is a breach."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    csv_dir: Path | None = typer.Option(None, "--csv", help="Write routing.csv and ttfr.csv here."),
    html_file: Path | None = typer.Option(None, "--html", help="Write a self-contained page."),
    png_dir: Path | None = typer.Option(None, "--png", help="Write PNG charts here (matplotlib)."),
) -> None:
    """KPIs a RevOps lead reports: distribution vs target, latency, TTFR, SLA breaches."""
    from orgforge.errors import UsageError
    from orgforge.metrics import routing

    result = routing.routing_metrics(log_dir, sla_minutes=sla_minutes)
    if png_dir is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise UsageError(
                "--png needs matplotlib, which is not installed",
                "pip install 'orgforge[charts]' (or use --html, which needs nothing).",
            ) from None
    written = []
    if csv_dir is not None:
        written += routing.write_csv(result, csv_dir)
    if html_file is not None:
        written.append(routing.write_html(result, html_file))
    if png_dir is not None:
        written += routing.write_png(result, png_dir)
    if _console.json_or_quiet(as_json, result, quiet=False):
        return
    if not _console.state.quiet:
        table = Table(title="routing: leads per rep against the weighted target", show_edge=False)
        for column, justify in (
            ("rep", "left"),
            ("leads", "right"),
            ("target", "right"),
            ("delta", "right"),
        ):
            table.add_column(column, justify=justify)
        for row in result["distribution"]:
            table.add_row(
                row["rep"], str(row["leads"]), f"{row['target']:.1f}", f"{row['delta']:+.1f}"
            )
        _console.out.print(table)
    t = result["ttfr_minutes"]

    def fmt(v: float | None) -> str:
        return "–" if v is None else f"{v:,.1f}"

    rate = result["sla_breach_rate"]
    _console.out.print(
        f"{result['leads_routed']} leads routed ({result['reassignments']} reassignments); "
        f"TTFR p50 {fmt(t['p50'])} / p90 {fmt(t['p90'])} / p95 {fmt(t['p95'])} / max "
        f"{fmt(t['max'])} min over {t['count']} first touches; SLA > {sla_minutes:g} min "
        f"breached by {'–' if rate is None else f'{rate:.0%}'}"
    )
    for path in written:
        _console.out.print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.command("metrics")(metrics)
