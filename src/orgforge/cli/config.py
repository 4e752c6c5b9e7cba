"""`orgforge config show|validate`: the resolved settings and where they come from."""

from __future__ import annotations

import typer
import yaml

from orgforge.cli import _console
from orgforge.cli._options import ConfigOpt, load
from orgforge.config import __doc__ as LOOKUP_DOC
from orgforge.config import dump

app = typer.Typer(help="Show or check the resolved configuration.", no_args_is_help=True)


@app.command()
def show(config: ConfigOpt = None) -> None:
    """Print the resolved config as YAML (secrets masked)."""
    typer.echo(yaml.safe_dump(dump(load(config, {})), sort_keys=False).rstrip())


@app.command()
def validate(config: ConfigOpt = None) -> None:
    """Check the config (file, .env, environment); exit 2 with the first problem."""
    cfg = load(config, {})
    from orgforge.packs import load_packs, resolve_industries

    packs = load_packs(cfg.generate.packs)
    resolve_industries(packs, cfg.generate.industries)
    _console.out.print(
        f"config ok: {cfg.generate.accounts:,} accounts, seed {cfg.seed}, "
        f"industries {', '.join(packs)}"
    )


@app.command()
def lookup() -> None:
    """Explain where settings come from and in which order."""
    typer.echo((LOOKUP_DOC or "").strip())
