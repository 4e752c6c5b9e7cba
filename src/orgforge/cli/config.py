"""`orgforge config show|validate|lookup`: the resolved settings and where they come from."""

from __future__ import annotations

import json

import typer
import yaml

from orgforge.api import config_lookup
from orgforge.cli import _console
from orgforge.cli._options import ConfigOpt, JsonOpt, load
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

    weights = resolve_industries(load_packs(cfg.generate.packs), cfg.generate.industries)
    _console.out.print(
        f"config ok: {cfg.generate.accounts:,} accounts, seed {cfg.seed}, industries "
        + ", ".join(f"{name} {weight:g}%" for name, weight in weights.items())
    )


@app.command()
def lookup(
    key: str = typer.Argument(
        ..., help="A setting, dotted: seed, generate.accounts, content.model…"
    ),
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Where a setting's value comes from: default, file and line, env var or flag.

    Levels, later wins: built-in defaults < YAML file (--config, else ./orgforge.yaml) <
    .env, then the environment (ORGFORGE_<PATH>, __ between levels) < command-line flags.
    """
    found = config_lookup(key, config)
    if _console.json_or_quiet(as_json, found, quiet=False):
        return
    out = _console.out
    out.print(f"{found['key']} = {_show(found['value'])}", markup=False)
    out.print(f"  from {found['where']}", markup=False)
    for where, value in found["overridden"]:
        out.print(f"  overrides {where} ({_show(value)})", markup=False)
    setters = [f"env {found['env_var']}"] + ([f"flag {found['flag']}"] if found["flag"] else [])
    out.print(f"  set it with: {', '.join(setters)}, or {found['key']}: in the YAML file")


def _show(value: object) -> str:
    return json.dumps(value, default=str) if not isinstance(value, str) else value
