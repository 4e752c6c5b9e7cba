"""The simulation runner inside `orgforge serve`: what runs the jobs the web app starts.

The jobs table stays the single source of truth (orgforge.simulate): the web app's routes only
write it (create, pause, resume, stop). This module keeps one :class:`orgforge.simulate.Runner`
per clock mode (``real``, ``fast:60`` …) on the server's event loop, for the active jobs of
that mode; a runner re-reads the table about once a second, so a pause from the browser, the
CLI or another process is obeyed the same way. Each action wakes the live streams.

A job may equally be run by ``orgforge simulate run`` elsewhere: the table says who (``runner``,
``heartbeat_at``), and the pages show its log either way.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from orgforge.world.store import World


class Simulations:
    def __init__(self, settings: Any, on_change: Any) -> None:
        self.settings = settings
        self.on_change = on_change
        self._runners: dict[str, tuple[Any, asyncio.Task[Any], World]] = {}
        self.errors: dict[str, str] = {}  # clock mode → why its runner ended

    def _job_ids(self, mode: str) -> list[str]:
        from orgforge import simulate

        with World(self.settings.world) as world:
            return [j.id for j in simulate.list_jobs(world) if j.clock == mode]

    def start_active(self) -> None:
        """At start-up: a runner for every clock mode that has an active job."""
        from orgforge import simulate

        with World(self.settings.world) as world:
            modes = {j.clock for j in simulate.list_jobs(world, state="active")}
        for mode in sorted(modes):
            self.ensure(mode)

    def ensure(self, mode: str) -> None:
        """A runner for ``mode`` running (started, or told about the mode's newest jobs)."""
        running = self._runners.get(mode)
        if running is not None and not running[1].done():
            running[0].job_ids[:] = self._job_ids(mode)
            return
        from orgforge import simulate
        from orgforge.api import resolve

        world = World(self.settings.world)
        runner = simulate.Runner(
            world,
            mode,
            jobs=self._job_ids(mode),
            config=resolve(self.settings.config, world=self.settings.world),
            environ=self.settings.environ,
            on_action=lambda job, row: self.on_change(),
            follow=True,
        )
        task = asyncio.get_running_loop().create_task(runner.arun(), name=f"simulate {mode}")
        task.add_done_callback(lambda done, mode=mode: self._ended(mode, done))
        self._runners[mode] = (runner, task, world)

    def _ended(self, mode: str, task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self.errors[mode] = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        entry = self._runners.get(mode)
        if entry is not None and entry[1] is task:
            entry[2].close()
        self.on_change()

    def status(self) -> dict[str, Any]:
        return {
            mode: {"running": not task.done(), "jobs": list(runner.job_ids)}
            for mode, (runner, task, _world) in self._runners.items()
        }

    async def stop(self) -> None:
        for _runner, task, world in list(self._runners.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            world.close()
        self._runners.clear()
