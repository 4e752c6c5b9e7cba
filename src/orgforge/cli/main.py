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

import typer

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
    ("content", "content", ()),
    ("load", None, ("load", "cleanup", "validate", "smoke")),
]
GLOBAL_FLAGS = ("--debug", "--quiet", "-q")


def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or tables."),
) -> None:
    _console.state.debug = debug
    _console.state.quiet = quiet


def _invoked(argv: list[str] | None) -> str | None:
    """The command or group ``argv`` runs, if it names a known one; None means mount them all."""
    for arg in argv or ():
        if arg in GLOBAL_FLAGS:
            continue
        known = any(arg == name or arg in commands for _, name, commands in GROUPS)
        return arg if known else None
    return None


def build_app(argv: list[str] | None = None) -> typer.Typer:
    """The `orgforge` app: every group, or only the one that ``argv`` invokes."""
    app = typer.Typer(
        name="orgforge",
        help="Build realistic, living demo and test orgs for go-to-market SaaS.",
        no_args_is_help=True,
        add_completion=False,
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
