"""The run directory every run writes: ``runs/<run_id>/``.

    run.json               what ran, when, with which seed and as_of, how it ended
    config.resolved.yaml   the resolved config (secrets masked)
    events.jsonl           one JSON object per notable step
    errors.jsonl           one JSON object per failed record or step
    summary.json           the final figures

Each line is flushed as it is written, so a crashed run still says what it did. The run is
also recorded in the world's ``runs`` table.

Open one with ``with RunLog(...) as log:`` or :func:`open_run` (which also covers "no run log
wanted"): leaving the block always closes the files, and a block left by an exception — or left
without ``log.finish(...)`` — ends the run as failed, so no run stays "running" forever.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import yaml

from orgforge.clock import REAL, Clock
from orgforge.errors import OutputError
from orgforge.inputs import check_path
from orgforge.redact import masked
from orgforge.world.store import World

# libyaml's emitter when PyYAML has it: a few ms less per run than the pure-Python one, same
# document (it may fold a very long escaped string at other places; the values read back equal).
_SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def new_run_id(command: str, clock: Clock = REAL) -> str:
    stamp = clock.now().strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{command.replace(' ', '-')}-{secrets.token_hex(3)}"


def check_writable_dir(path: Path, what: str) -> None:
    """Fail before any write if ``path`` can't be created or written."""
    flag = "--runs-dir" if what == "runs directory" else what
    hint = f"Choose a directory you can write to with {flag}."
    probe = path
    while True:  # up to the first part that exists; it must be a directory we can write
        try:
            st: os.stat_result | None = os.stat(probe)
        except (FileNotFoundError, NotADirectoryError):
            st = None
        except (OSError, ValueError):  # too long, a symbolic-link loop: said in one line
            st = check_path(probe, what, OutputError)
        if st is not None or probe == probe.parent:
            break
        probe = probe.parent
    if st is not None and not stat.S_ISDIR(st.st_mode):
        raise OutputError(f"{what} {path}: {probe} is a file, not a directory", hint)
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(f"{what} {path}: {probe} is not writable", hint)


class RunLog:
    def __init__(
        self,
        runs_dir: str | Path,
        command: str,
        config: dict[str, Any],
        world: World | None = None,
        *,
        clock: Clock | None = None,
    ) -> None:
        # a run is stamped on its world's clock unless told otherwise, so a world opened on a
        # simulated clock never gets a run dated by the wall
        clock = clock or (world.clock if world is not None else REAL)
        self.clock = clock
        self.run_id = new_run_id(command, clock)
        self.command = command
        self.dir = Path(runs_dir) / self.run_id
        self.world = world
        self.started_at = clock.iso()
        self.status: str | None = None  # set by finish()
        self.config = masked(config)
        self._events: IO[str] | None = None
        self._errors: IO[str] | None = None
        self.error_count = 0

    def __enter__(self) -> RunLog:
        self.dir.mkdir(parents=True, exist_ok=False)
        (self.dir / "config.resolved.yaml").write_text(
            yaml.dump(self.config, Dumper=_SafeDumper, sort_keys=False), encoding="utf-8"
        )
        self._write_run_json(status="running")
        self._events = (self.dir / "events.jsonl").open("a", encoding="utf-8")
        self._errors = (self.dir / "errors.jsonl").open("a", encoding="utf-8")
        if self.world is not None:
            self.world.start_run(self.run_id, self.command, self.config)
        self.event("run.started", command=self.command)
        return self

    def _write_run_json(self, status: str, **extra: Any) -> None:
        data = {
            "run_id": self.run_id,
            "command": self.command,
            "status": status,
            "started_at": self.started_at,
            "seed": self.config.get("seed"),
            "as_of": self.config.get("as_of"),
            "world": self.config.get("world"),
            **extra,
        }
        (self.dir / "run.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    @staticmethod
    def _line(handle: IO[str] | None, record: dict[str, Any]) -> None:
        if handle is None:
            return
        handle.write(json.dumps(masked(record), default=str, sort_keys=False) + "\n")
        handle.flush()

    def event(self, kind: str, **data: Any) -> None:
        self._line(self._events, {"ts": self.clock.iso(), "event": kind, **data})

    def error(self, kind: str, **data: Any) -> None:
        self.error_count += 1
        self._line(self._errors, {"ts": self.clock.iso(), "error": kind, **data})

    def finish(self, status: str, summary: dict[str, Any]) -> None:
        summary = {"run_id": self.run_id, "status": status, "errors": self.error_count, **summary}
        (self.dir / "summary.json").write_text(
            json.dumps(masked(summary), indent=2, default=str) + "\n", encoding="utf-8"
        )
        self.status = status
        self._write_run_json(status=status, finished_at=self.clock.iso())
        self.event("run.finished", status=status)
        if self.world is not None:
            self.world.finish_run(self.run_id, status, summary)

    def __exit__(self, exc_type: type | None, exc: BaseException | None, _tb: object) -> None:
        try:
            if exc is not None and self.status is None:
                name = exc_type.__name__ if exc_type else ""
                self.error("run.failed", message=str(exc) or name, type=name)
                self._finish_failed(str(exc) or name)
            elif self.status is None:
                self.error("run.failed", message="the run ended without a result")
                self._finish_failed("the run ended without a result")
        finally:
            for handle in (self._events, self._errors):
                if handle is not None:
                    handle.close()
            self._events = self._errors = None

    def _finish_failed(self, failure: str) -> None:
        """Mark the run failed; the exception that ended it matters more than one saying the
        world couldn't record that (a locked or broken world), so that one is not raised."""
        try:
            self.finish("failed", {"failure": failure})
        except Exception as error:  # the run files still say it failed
            self._write_run_json(status="failed", finished_at=self.clock.iso())
            self.error("run.record_failed", message=str(error), type=type(error).__name__)


@contextmanager
def open_run(
    runs_dir: str | Path,
    command: str,
    config: dict[str, Any],
    world: World | None = None,
    *,
    enabled: bool = True,
    clock: Clock | None = None,
) -> Iterator[RunLog | None]:
    """``with open_run(...) as log:`` — a RunLog (None when ``enabled`` is false) that is always
    closed, and ends the run as failed if the block raises or never calls ``log.finish``."""
    if not enabled:
        yield None
        return
    with RunLog(runs_dir, command, config, world, clock=clock) as log:
        yield log
