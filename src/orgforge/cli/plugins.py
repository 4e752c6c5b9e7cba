"""`orgforge plugins`: the targets, text engines, LLM providers, feeds and workloads registered."""

from __future__ import annotations

import typer

import orgforge.api
from orgforge.cli import _console


def plugins(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List what is registered (built-ins and installed plugins) and which plugin provides it."""
    rows = orgforge.api.plugins()
    if _console.json_or_quiet(as_json, rows, quiet=False):
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(show_edge=False)
    for column in ("kind", "name", "provided by", "description"):
        table.add_column(column)
    for row in rows:
        source = row["package"] or row["plugin"]
        if row["version"]:
            source += f" {row['version']}"
        what = row["description"]
        if row.get("operations"):
            what += f" ({', '.join(row['operations'])})"
        table.add_row(row["kind"], row["name"], source, escape(what))
    _console.out.print(table)


def register(app: typer.Typer) -> None:
    app.command()(plugins)
