"""Entry point of the `orgforge` command: assembles the command groups and maps errors to exits.

Each command group lives in its own module and exposes either ``app`` (a Typer sub-app, mounted
under its name) or ``register(app)`` (top-level commands). Add a group by adding it to GROUPS.

The entry point mounts only the group the command line names (``orgforge generate …`` never
imports the sandbox, the LLM SDKs' wrappers or the Salesforce target), which keeps start-up
short; ``--help`` and anything unrecognised get every group. ``from orgforge.cli.main import
app`` gives the full app.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer
import typer.core

from orgforge.cli import _console

# (module under orgforge.cli, sub-command name or None, the top-level commands it registers)
GROUPS: list[tuple[str, str | None, tuple[str, ...]]] = [
    ("generate", None, ("generate", "export", "stats")),
    ("check", None, ("check",)),
    ("config", "config", ()),
    ("packs", "packs", ()),
    ("world", "world", ()),
    ("activity", "activity", ()),
    ("sandbox", "sandbox", ()),
    ("asana", "asana", ()),
    ("content", "content", ()),
    ("load", None, ("load", "cleanup", "validate", "smoke")),
    ("agents", "agents", ()),
    ("simulate", "simulate", ()),
    ("jobs", "jobs", ()),
    ("metrics", None, ("metrics",)),
    ("shift", None, ("shift",)),
    ("plugins", None, ("plugins",)),
    ("serve", None, ("serve",)),
]
GLOBAL_FLAGS = ("--debug", "--quiet", "-q")

# `orgforge --help` groups commands by job. Every command and group needs a panel here
# (tests/cli/test_conventions.py fails naming the one that has none).
MAKE, PUT, ALIVE, WATCH = "Make data", "Put it somewhere", "Keep it alive", "Watch it"
PANELS: dict[str, str] = {
    "generate": MAKE,
    "content": MAKE,
    "packs": MAKE,
    "config": MAKE,
    "export": PUT,
    "validate": PUT,
    "load": PUT,
    "cleanup": PUT,
    "smoke": PUT,
    "sandbox": PUT,
    "asana": PUT,
    "activity": ALIVE,
    "shift": ALIVE,
    "simulate": ALIVE,
    "jobs": ALIVE,
    "agents": ALIVE,
    "stats": WATCH,
    "world": WATCH,
    "check": WATCH,
    "metrics": WATCH,
    "plugins": WATCH,
    "serve": WATCH,
}


PANEL_ORDER = (MAKE, PUT, ALIVE, WATCH)


class _ByJob(typer.core.TyperGroup):
    """The root group: commands listed panel by panel (make data first, watch it last)."""

    def list_commands(self, ctx: Any) -> list[str]:
        def job(name: str) -> int:
            panel = PANELS.get(name)
            return PANEL_ORDER.index(panel) if panel in PANEL_ORDER else len(PANEL_ORDER)

        return sorted(super().list_commands(ctx), key=job)


def _print_version(value: bool) -> None:
    if value:
        from orgforge import __version__

        typer.echo(f"orgforge {__version__}")
        raise typer.Exit(0)


def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="No progress bars, tables or summaries."
    ),
    version: bool = typer.Option(
        False,
        "--version",
        "-V",
        help="Print the version and exit.",
        callback=_print_version,
        is_eager=True,
    ),
) -> None:
    _console.state.debug |= debug
    _console.state.quiet |= quiet


def _invoked(argv: list[str] | None) -> str | None:
    """The command or group ``argv`` runs, if it names a known one; None means mount them all."""
    for arg in argv or ():
        if arg in GLOBAL_FLAGS:
            continue
        if arg in ("--version", "-V"):
            return ""  # mounts no group: printing the version needs none of them
        known = any(arg == name or arg in commands for _, name, commands in GROUPS)
        return arg if known else None
    return None


def build_app(argv: list[str] | None = None) -> typer.Typer:
    """The `orgforge` app: every group, or only the one that ``argv`` invokes."""
    app = typer.Typer(
        name="orgforge",
        help="Build realistic, living demo and test orgs for go-to-market SaaS.",
        no_args_is_help=True,
        cls=_ByJob,
        add_completion=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root)
    wanted = _invoked(argv)
    for module_name, name, commands in GROUPS:
        if wanted is not None and wanted != name and wanted not in commands:
            continue
        module = importlib.import_module(f"orgforge.cli.{module_name}")
        if name is None:
            module.register(app)
        else:
            app.add_typer(module.app, name=name)
    for command in app.registered_commands:
        command.rich_help_panel = PANELS.get(command.name or command.callback.__name__)
    for group in app.registered_groups:
        group.rich_help_panel = PANELS.get(group.name)
    return app


def __getattr__(name: str) -> typer.Typer:
    if name == "app":  # the full app, built on first use and kept
        globals()["app"] = full = build_app()
        return full
    raise AttributeError(name)


def run() -> None:
    """Console-script entry point: run the app, turning OrgforgeError into two lines + exit code."""
    argv = sys.argv[1:]
    sys.exit(_console.run_app(build_app(argv), argv))


if __name__ == "__main__":
    run()
