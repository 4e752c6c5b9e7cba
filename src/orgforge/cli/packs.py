"""`orgforge packs list|show|validate`: the industry packs (data files) generation draws from."""

from __future__ import annotations

import typer
import yaml
from rich.markup import escape
from rich.table import Table

from orgforge.cli import _console
from orgforge.cli._options import JsonOpt
from orgforge.errors import PackError
from orgforge.packs import builtin_packs, load_packs, pack_problems

app = typer.Typer(help="List, show and validate industry packs.", no_args_is_help=True)


@app.command("list")
def list_packs(
    pack: list[str] = typer.Option(None, "--pack", help="Also load this pack file."),
    as_json: JsonOpt = False,
) -> None:
    """List the industry packs with their sizes."""
    packs = load_packs(pack or [])
    rows = [
        {
            "id": pid,
            "label": p.label,
            "industry": p.industry,
            "titles": len(p.titles),
            "products": len(p.products),
            "case_subjects": len(p.case.subjects),
            "source": p.source,
        }
        for pid, p in packs.items()
    ]
    if _console.json_or_quiet(as_json, rows, quiet=False):
        return
    table = Table(show_edge=False)
    for column in ("id", "label", "Industry", "titles", "products", "case subjects", "source"):
        table.add_column(column)
    for pid, p in packs.items():
        table.add_row(
            pid,
            p.label,
            p.industry,
            str(len(p.titles)),
            str(len(p.products)),
            str(len(p.case.subjects)),
            p.source,
        )
    _console.out.print(table)


@app.command()
def show(pack_id: str = typer.Argument(..., help="A pack id, e.g. insurance.")) -> None:
    """Print one built-in pack as YAML."""
    packs = builtin_packs()
    if pack_id not in packs:
        raise PackError(f"no pack {pack_id!r}", f"Known packs: {', '.join(packs)}.")
    typer.echo(yaml.safe_dump(packs[pack_id].model_dump(), sort_keys=False, allow_unicode=True))


@app.command()
def validate(files: list[str] = typer.Argument(..., help="Pack YAML files to check.")) -> None:
    """Validate pack files; list every problem (file:line: field: what), exit 2 if any."""
    results = [(file, *pack_problems(file)) for file in files]
    problems = [line for _, _, found in results for line in found]
    hint = "Fix each line; src/orgforge/packs/FORMAT.md describes every key."
    for file, p, found in results:
        if p is not None:
            _console.out.print(f"{file}: ok (pack {p.id!r}, {len(p.titles)} titles)")
        elif len(problems) > 1:
            for line in found:
                _console.err.print(escape(line), highlight=False)
    if len(problems) == 1:  # one problem: it is the error line
        raise PackError(problems[0], hint)
    if problems:
        bad = sum(1 for _, _, found in results if found)
        raise PackError(
            f"{len(problems)} problem{'s' * (len(problems) != 1)} in {bad} of "
            f"{len(files)} pack file{'s' * (len(files) != 1)} (listed above)",
            hint,
        )
