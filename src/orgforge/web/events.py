"""Waking server-sent event streams when something changed, from any thread.

Operations run on worker threads and the simulation runner acts from its own; the streams are
coroutines on the server's event loop. A :class:`Hub` is the one thing they share: a worker
calls :meth:`Hub.changed` (thread-safe), and every stream waiting in :meth:`Hub.wait` wakes and
re-reads what it shows. Nothing polls faster than the heartbeat when nothing happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any


class Hub:
    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self.version = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Attach to the server's loop (at start-up, on that loop)."""
        self.loop = loop
        self._event = asyncio.Event()

    def changed(self) -> None:
        """Something streams show has changed (call from any thread)."""
        loop = self.loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody listens
                loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        self.version += 1
        event, self._event = self._event, asyncio.Event()
        if event is not None:
            event.set()

    async def wait(self, timeout: float) -> bool:
        """Until the next change or ``timeout`` seconds; True when something changed."""
        event = self._event
        if event is None:
            return False
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return False
        return True


def sse(event: str, data: Any) -> str:
    """One server-sent event: a name and a JSON payload."""
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


HEARTBEAT = ": keep-alive\n\n"
