"""Entry point of the `orgforge` command: assembles the command groups and maps errors to exits.

Each command group lives in its own module and exposes either ``app`` (a Typer sub-app, mounted
under its name) or ``register(app)`` (top-level commands). Add a group by adding it to GROUPS.
"""

from __future__ import annotations

import importlib
import sys

import typer

from orgforge.cli import _console

app = typer.Typer(
    name="orgforge",
    help="Build realistic, living demo and test orgs for go-to-market SaaS.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# (module under orgforge.cli, sub-command name or None for top-level commands)
GROUPS: list[tuple[str, str | None]] = [
    ("generate", None),
    ("config", "config"),
    ("packs", "packs"),
    ("world", "world"),
    ("activity", "activity"),
    ("sandbox", "sandbox"),
    ("content", "content"),
    ("load", None),
]


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or tables."),
) -> None:
    _console.state.debug = debug
    _console.state.quiet = quiet


def _mount() -> None:
    for module_name, name in GROUPS:
        module = importlib.import_module(f"orgforge.cli.{module_name}")
        if name is None:
            module.register(app)
        else:
            app.add_typer(module.app, name=name)


_mount()


def run() -> None:
    """Console-script entry point: run the app, turning OrgforgeError into two lines + exit code."""
    sys.exit(_console.run_app(app))


if __name__ == "__main__":
    run()
