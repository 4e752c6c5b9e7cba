"""The options commands share, declared once, and the one way a command resolves its config.

Every command uses these blocks instead of declaring its own, so a flag has the same name,
short flag and help everywhere (``tests/cli/test_conventions.py`` checks that across the whole
app). The global flags (``--quiet/-q``, ``--debug``) are not declared per command at all:
:func:`add_global_flags` adds them to every command once the app is built, so a command merged
tomorrow gets them too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from orgforge.cli import _console

if TYPE_CHECKING:  # the config (pydantic) loads when a command resolves one, not for --version
    from orgforge.config import Config

# -- where things are ------------------------------------------------------------------------
ConfigOpt = Annotated[
    str | None,
    typer.Option("--config", "-c", help="YAML config file (default ./orgforge.yaml if present)."),
]
WorldOpt = Annotated[
    str | None,
    typer.Option("--world", "-w", help="World file or SQLAlchemy URL (default ./orgforge.db)."),
]
RunsOpt = Annotated[
    str | None, typer.Option("--runs-dir", help="Where run logs go (default ./runs).")
]
OutOpt = Annotated[str | None, typer.Option("--out", "-o", help="Folder to write files to.")]
FormatOpt = Annotated[
    str | None, typer.Option("--format", help="File format: csv (load-ready) | json | parquet.")
]

# -- what to make ----------------------------------------------------------------------------
SeedOpt = Annotated[
    int | None, typer.Option("--seed", help="Seed for every random stream (default 42).")
]
PresetOpt = Annotated[str | None, typer.Option("--preset", help="Size: tiny | prd | large | xl.")]
AccountsOpt = Annotated[
    int | None, typer.Option("--accounts", help="Number of accounts; every other object scales.")
]
AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="Dates are relative to this day (YYYY-MM-DD).")
]

# -- text ------------------------------------------------------------------------------------
TextOpt = Annotated[str | None, typer.Option("--text", help="Text engine: offline | llm.")]
ProviderOpt = Annotated[
    str | None,
    typer.Option("--provider", help="LLM provider: openai | azure | anthropic | compatible."),
]
ModelOpt = Annotated[
    str | None, typer.Option("--model", help="LLM model (Azure: the model behind the deployment).")
]
BaseUrlOpt = Annotated[
    str | None,
    typer.Option("--base-url", help="LLM API base URL (OpenAI-compatible servers: Ollama, vLLM…)."),
]
MaxCostOpt = Annotated[
    float | None,
    typer.Option("--max-cost", help="LLM budget in USD; past it the rest is offline text."),
]

# -- what a command does with its output -----------------------------------------------------
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Check and count what would change; write nothing.")
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Don't ask for confirmation.")]

# -- where to (targets) ----------------------------------------------------------------------
TargetOpt = Annotated[
    str,
    typer.Option(
        "--target", "-t", help="Where to: salesforce, or a plugin's (`orgforge plugins`)."
    ),
]
OrgOpt = Annotated[
    str | None, typer.Option("--org", help="sf CLI alias or username (auth via `sf org display`).")
]
InstanceOpt = Annotated[
    str | None, typer.Option("--instance-url", help="Org URL (with SF_ACCESS_TOKEN).")
]
LoginOpt = Annotated[str | None, typer.Option("--login-url", help="Login URL (JWT, password).")]
UserOpt = Annotated[str | None, typer.Option("--username", help="Salesforce username.")]
AuthOpt = Annotated[
    str | None, typer.Option("--auth", help="auto | sf-cli | jwt | password | token.")
]


# -- Asana ------------------------------------------------------------------------------------
AsanaUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--url", help="Asana API base (default asana.url: https://app.asana.com/api/1.0)."
    ),
]
WorkspaceOpt = Annotated[
    str | None, typer.Option("--workspace", help="Workspace gid or name (default: the first).")
]
TierOpt = Annotated[
    str | None, typer.Option("--tier", help="free (150 requests/min) or paid (1,500).")
]
RateOpt = Annotated[
    int | None, typer.Option("--rate-limit", help="Requests/min per token (overrides --tier).")
]


def given(**options: Any) -> dict[str, Any]:
    """The options a command was given: the ones left at None are dropped, so the config (and
    the library's defaults) decide them."""
    return {k: v for k, v in options.items() if v is not None}


def load(config_file: str | None, flags: dict[str, Any]) -> Config:
    """Resolve the config: defaults < YAML < .env/env < these flags (see orgforge.config)."""
    from orgforge.config import load_config

    return load_config(config_file, flags=flags)


def quiet() -> bool:
    """True when the user asked for no progress bars or tables (``-q`` anywhere)."""
    return _console.state.quiet


# -- the global flags, on every command --------------------------------------------------------


def _set_quiet(ctx: Any, param: Any, value: bool) -> bool:
    if value:
        _console.state.quiet = True
    return value


def _set_debug(ctx: Any, param: Any, value: bool) -> bool:
    if value:
        _console.state.debug = True
    return value


QuietOpt = Annotated[
    bool,
    typer.Option(
        "--quiet",
        "-q",
        help="No progress bars, tables or summaries.",
        callback=_set_quiet,
        expose_value=False,
        rich_help_panel="Global options",
    ),
]
DebugOpt = Annotated[
    bool,
    typer.Option(
        "--debug",
        help="Show full tracebacks on errors.",
        callback=_set_debug,
        expose_value=False,
        rich_help_panel="Global options",
    ),
]


def _global_flags(quiet: QuietOpt = False, debug: DebugOpt = False) -> None:
    """The template the global flags are built from (Typer makes their click parameters)."""


_GLOBAL_PARAMS: list[Any] = []


def _global_params() -> list[Any]:
    if not _GLOBAL_PARAMS:
        import typer.main

        template = typer.Typer(add_completion=False)
        template.command()(_global_flags)
        _GLOBAL_PARAMS.extend(typer.main.get_command(template).params)
    return _GLOBAL_PARAMS


def add_global_flags(command: Any) -> None:
    """Give every leaf command of a click command tree ``--quiet/-q`` and ``--debug``.

    They work after the command's name as they do before it (``orgforge load -q`` is
    ``orgforge -q load``). A command that already declares one of the flags keeps its own.
    """
    subcommands = getattr(command, "commands", None)
    if subcommands is not None:
        for sub in subcommands.values():
            add_global_flags(sub)
        return
    taken = {opt for param in command.params for opt in getattr(param, "opts", ())}
    taken |= {opt for param in command.params for opt in getattr(param, "secondary_opts", ())}
    for param in _global_params():
        if not taken & set(param.opts):
            command.params.append(param)
