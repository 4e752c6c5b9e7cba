"""One way to run an ASGI app on a socket of our own: the sandboxes (and anything else orgforge
serves) bind first, so a taken port fails before any file exists, then run uvicorn on that socket
on a background thread (tests, ``run_in_thread``) or in the foreground (the CLI).

A leaf module: it imports nothing of orgforge but ``errors``, so the sandboxes, which stand alone
like a real org, may use it.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

import uvicorn

from orgforge.errors import ConfigError


class QuietServer(uvicorn.Server):
    """uvicorn's server, noticing ``should_exit`` within 10 ms instead of 100 ms (fast tests)."""

    async def main_loop(self) -> None:
        counter = 0
        while not self.should_exit:
            # uvicorn's own loop ticks every 100 ms: the Date header, max-requests limits
            if counter % 10 == 0 and await self.on_tick(counter // 10):
                break
            counter = (counter + 1) % 8_640_000
            await asyncio.sleep(0.01)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Like uvicorn's, minus its fixed 100 ms pause: give connections up to 0.2 s to finish."""
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        for _ in range(40):
            if not self.server_state.connections and not self.server_state.tasks:
                break
            await asyncio.sleep(0.005)
        for task in list(self.server_state.tasks):
            task.cancel()

    def stop(self) -> None:
        self.force_exit = True  # don't wait for idle keep-alive connections
        self.should_exit = True


def bind(host: str, port: int, backlog: int = 1024) -> socket.socket:
    """A listening TCP socket on ``host:port`` (0: any free port), or a ConfigError saying why."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port}: must be between 0 and 65535", "Use 0 for any free port.")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be IPPROTO_TCP: asyncio only sets TCP_NODELAY on accepted sockets whose proto
    # says TCP, and without it every response stalls ~40 ms on delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror})",
            "Choose another --port (or 0 for any free port).",
        ) from exc
    sock.listen(backlog)
    return sock


def base_url(scheme: str, host: str, sock: socket.socket) -> str:
    """The URL a client on this machine uses: a wildcard host is reached at 127.0.0.1."""
    port = sock.getsockname()[1]
    shown = host if ":" not in host else f"[{host}]"
    if shown in ("0.0.0.0", "[::]"):
        shown = "127.0.0.1"
    return f"{scheme}://{shown}:{port}"


def start_in_thread(server: QuietServer, sock: socket.socket, name: str) -> threading.Thread:
    """Run ``server`` on ``sock`` in a daemon thread; return once it accepts connections.

    Raises RuntimeError (after stopping it) if it could not start."""
    started = threading.Event()
    errors: list[BaseException] = []

    def target() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # surfaced to the caller below
            errors.append(exc)
        finally:
            started.set()

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        started.wait(0.005)
    if errors or not server.started:
        server.stop()
        thread.join(timeout=10)
        raise RuntimeError(f"{name} failed to start: {errors[0] if errors else 'unknown'}")
    return thread


class Stoppable(Protocol):
    _thread: threading.Thread | None

    def stop(self) -> None: ...


Handle = TypeVar("Handle", bound=Stoppable)


@contextmanager
def running(
    handle: Handle, server: QuietServer, sock: socket.socket, name: str
) -> Iterator[Handle]:
    """``handle`` (what ``run_in_thread`` yields: it knows how to stop the server and close
    what it opened) while ``server`` runs on a background thread; stopped on the way out."""
    try:
        handle._thread = start_in_thread(server, sock, name)
    except RuntimeError:
        handle.stop()
        sock.close()
        raise
    try:
        yield handle
    finally:
        handle.stop()
        sock.close()


def serve_foreground(
    handle: Stoppable, server: QuietServer, sock: socket.socket, on_ready: Any = None
) -> None:
    """Run ``server`` on ``sock`` in this thread until interrupted (the CLI's way), telling
    ``on_ready(handle)`` first; then stop ``handle`` (what it opened) and close the socket."""
    if on_ready is not None:
        on_ready(handle)
    try:
        server.run(sockets=[sock])
    finally:
        handle.stop()
        sock.close()
