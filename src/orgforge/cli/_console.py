"""Shared CLI plumbing: the Rich consoles, global flags, error printing and progress bars."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from orgforge.errors import OrgforgeError

# Typer ≥ 0.20 vendors its own click; older ones use click itself. Catch both.
_EXIT = (typer.Exit, click.exceptions.Exit)
_ABORT = (typer.Abort, click.exceptions.Abort)
_USAGE = (typer.TyperException, click.ClickException)


@dataclass
class _State:
    debug: bool = False
    quiet: bool = False


state = _State()
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def print_error(error: OrgforgeError) -> None:
    err.print(f"[bold red]error:[/] {escape(error.message)}", highlight=False)
    err.print(f"[dim]hint:[/] {escape(error.hint)}", highlight=False)


def run_app(app: typer.Typer, args: list[str] | None = None) -> int:
    """Run the Typer app; return the exit code. OrgforgeError → two lines, no traceback."""
    try:
        app(args=args, standalone_mode=False)
    except OrgforgeError as error:
        if state.debug:
            traceback.print_exc()
        print_error(error)
        return error.exit_code
    except _EXIT as exit_:
        return exit_.exit_code
    except _ABORT:
        err.print("aborted")
        return 1
    except _USAGE as error:  # bad flag or argument: click prints usage + the error line
        error.show()
        return getattr(error, "exit_code", 2) or 2
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    return 0


def show_progress() -> bool:
    return not state.quiet and sys.stderr.isatty()


@contextmanager
def progress(label: str, total: int | None) -> Iterator:
    """A Rich progress bar on stderr, or a no-op advance() when quiet or not a TTY."""
    if not show_progress():
        yield lambda n=1: None
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )
    with bar:
        task = bar.add_task(label, total=total)
        yield lambda n=1: bar.advance(task, n)
