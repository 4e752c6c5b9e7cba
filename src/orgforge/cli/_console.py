"""Shared CLI plumbing: the Rich consoles, global flags, error printing and progress bars.

Rich is imported on first use: ``out`` and ``err`` are made when a command first prints, and
the progress bar's modules only when a bar is shown, so a quiet run (``-q``) never loads them.
"""

from __future__ import annotations

import re
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click
import typer

from orgforge.errors import OrgforgeError

if TYPE_CHECKING:
    from rich.console import Console

    out: Console  # standard output
    err: Console  # standard error: errors, hints, progress bars

# Typer ≥ 0.20 vendors its own click; older ones use click itself. Catch both.
_EXIT = (typer.Exit, click.exceptions.Exit)
_ABORT = (typer.Abort, click.exceptions.Abort)
_USAGE = (typer.TyperException, click.ClickException)


@dataclass
class _State:
    debug: bool = False
    quiet: bool = False


state = _State()


def console(name: str) -> Console:
    """The shared ``out`` or ``err`` console, made (and Rich imported) on first use."""
    made = globals().get(name)
    if made is None:
        from rich.console import Console

        made = Console(stderr=name == "err", highlight=False, soft_wrap=True)
        globals()[name] = made  # later `_console.out` lookups find it without __getattr__
    return made


def __getattr__(name: str) -> Any:
    if name in ("out", "err"):
        return console(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def print_error(error: OrgforgeError) -> None:
    from rich.markup import escape

    # emoji=False: "pack.yaml:100:" is a file and line, not Rich's :100: emoji code
    console("err").print(
        f"[bold red]error:[/] {escape(error.message)}", highlight=False, emoji=False
    )
    console("err").print(f"[dim]hint:[/] {escape(error.hint)}", highlight=False, emoji=False)


def _command_path(args: list[str]) -> str:
    """``orgforge config show -c x.yaml`` → ``config show``: the words before the first option."""
    words: list[str] = []
    for arg in args:
        if arg.startswith("-"):
            if words:
                break
            continue  # a global flag before the command
        words.append(arg)
        if len(words) == 2:
            break
    return " ".join(words)


def hint_elsewhere(hint: str, command: str) -> str:
    """The hint without the advice to run ``orgforge COMMAND``, the command that just failed.

    Errors carry hints written for every caller (``orgforge config show`` lists every setting),
    and that advice is useless when it is ``config show`` that failed. The hint keeps its other
    parts; with none left it points at the command's ``--help``.
    """
    if not command:
        return hint
    mine = re.compile(rf"`orgforge {re.escape(command)}(?! --help`)(?: [^`]*)?`")
    if not mine.search(hint):
        return hint
    parts = [p for p in re.split(r"(?<=[.;])\s+", hint) if not mine.search(p)]
    kept = " ".join(parts).strip().rstrip(";").strip()
    if not kept or not any(c.isalpha() for c in kept):
        return f"`orgforge {command} --help` lists what it accepts."
    return kept if kept.endswith(".") else kept + "."


def print_usage_error(error: Exception) -> None:
    """A click usage error (unknown option, missing argument…) as `error:` + `hint:` lines."""
    ctx = getattr(error, "ctx", None)
    command = ctx.command_path if ctx is not None else "orgforge"
    message = error.format_message() if hasattr(error, "format_message") else str(error)
    message = " ".join(message.split())  # one line, whatever click wrapped
    if not message:  # a group run without a command: click has printed its help
        return
    print_error(OrgforgeError(f"{command}: {message}", f"`{command} --help` lists what it takes."))


def run_app(app: typer.Typer, args: list[str] | None = None) -> int:
    """Run the Typer app; return the exit code. OrgforgeError → two lines, no traceback.

    Every command gets the global flags (``-q``, ``--debug``) here, after or before its name.
    """
    import typer.main

    from orgforge.cli._options import add_global_flags

    try:
        command = typer.main.get_command(app)
        add_global_flags(command)
        # outside standalone mode click *returns* a typer.Exit's code rather than raising it
        code = command.main(args=args, prog_name="orgforge", standalone_mode=False)
    except OrgforgeError as error:
        if state.debug:
            traceback.print_exc()
        if error.exit_code == 2:  # bad input: a hint must not send the user back here
            error.hint = hint_elsewhere(error.hint, _command_path(args or []))
        print_error(error)
        return error.exit_code
    except _EXIT as exit_:
        return exit_.exit_code
    except _ABORT:
        console("err").print("aborted")
        return 1
    except _USAGE as error:  # bad flag or argument: the same two lines as any bad input
        print_usage_error(error)
        return getattr(error, "exit_code", 2) or 2
    except KeyboardInterrupt:
        console("err").print("interrupted")
        return 130
    except Exception as error:  # a bug: still two lines, unless --debug asks for the traceback
        if state.debug:
            traceback.print_exc()
        print_error(
            OrgforgeError(
                f"internal error: {type(error).__name__}: {error}".splitlines()[0],
                "This is a bug in orgforge: run again with --debug and report the traceback.",
            )
        )
        return 1
    return code if isinstance(code, int) else 0


def json_or_quiet(as_json: bool, data: Any, *, quiet: bool = True) -> bool:
    """The prelude every command's output shares. With ``--json``, print ``data`` (or what a
    callable ``data`` returns, so the table path builds nothing) as indented JSON. True when
    the command has nothing more to print: ``--json`` was given, or ``-q`` (``quiet=False``
    for a command whose one line is its answer); False: print the Rich tables.

        if _console.json_or_quiet(as_json, report.as_dict):
            return
        _console.out.print(table)
    """
    if as_json:
        import json

        typer.echo(json.dumps(data() if callable(data) else data, indent=2, default=str))
        return True
    return quiet and state.quiet


def show_progress() -> bool:
    return not state.quiet and sys.stderr.isatty()


@contextmanager
def progress(label: str, total: int | None) -> Iterator:
    """A Rich progress bar on stderr, or a no-op advance() when quiet or not a TTY.

    ``advance.set_total(n)`` sets the total once it is known (e.g. after a selection).
    """
    if not show_progress():

        def noop(n: int = 1) -> None:
            return None

        noop.set_total = lambda total: None  # type: ignore[attr-defined]
        yield noop
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console("err"),
        transient=False,
    )
    with bar:
        task = bar.add_task(label, total=total)

        def advance(n: int = 1) -> None:
            bar.advance(task, n)

        advance.set_total = lambda n: bar.update(task, total=n)  # type: ignore[attr-defined]
        yield advance
