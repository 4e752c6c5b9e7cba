"""Starting the web app: uvicorn on a thread (tests, benchmarks) or in the foreground (the CLI).

The socket is bound before anything else happens (a port in use fails with nothing written),
and the world is opened — created if missing — before the first request, so a path that is not
a world fails at start with the usual two lines.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import uvicorn

from orgforge.config import WEB_TOKEN_ENV
from orgforge.serving import QuietServer, base_url, bind, running, serve_foreground
from orgforge.web.app import WebSettings, create_app
from orgforge.web.auth import new_token

TOKEN_ENV = WEB_TOKEN_ENV


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound now: a port in use is a ConfigError before anything else."""
    sock = bind(host.strip("[]"), port, backlog=2048)
    sock.set_inheritable(True)
    return sock


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_token(settings: WebSettings) -> tuple[str, bool]:
    """(token, generated): the settings', else ORGFORGE_WEB_TOKEN, else a new random one.

    A host other than loopback needs a token someone chose (ConfigError otherwise)."""
    from orgforge.errors import ConfigError

    environ = settings.environ if settings.environ is not None else os.environ
    token = settings.token or environ.get(TOKEN_ENV) or ""
    if token and len(token) < 16:
        raise ConfigError(
            f"{TOKEN_ENV}: a token needs at least 16 characters (got {len(token)})",
            'Make one with: python -c "import secrets; print(secrets.token_urlsafe(24))"',
        )
    if not token and not is_loopback(settings.host):
        raise ConfigError(
            f"--host {settings.host}: listening beyond this machine needs a token",
            f"Set {TOKEN_ENV} to a long random token, or keep the default --host 127.0.0.1.",
        )
    return (token, False) if token else (new_token(), True)


@dataclass
class WebServer:
    url: str
    token: str
    generated: bool
    settings: WebSettings
    app: Any
    _server: Any = None
    _thread: threading.Thread | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def web(self) -> Any:
        return self.app.state.web

    def stop(self) -> None:
        self.web.closing = True  # live streams end now
        self.web.hub.changed()
        if self._server is not None:  # not force_exit: that would skip the app's shutdown
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)


def prepare(settings: WebSettings) -> tuple[WebServer, Any, Any]:
    from orgforge.world.store import World

    token, generated = resolve_token(settings)
    sock = listen(settings.host, settings.port)
    try:
        World(settings.world).close()  # creates a new world; refuses a file that is not one
        app = create_app(settings, token)
    except BaseException:
        sock.close()
        raise
    url = base_url("http", settings.host.strip("[]"), sock)
    config = uvicorn.Config(
        app,
        log_level=settings.log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
        timeout_keep_alive=30,
    )
    server = QuietServer(config)
    web = WebServer(url, token, generated, settings, app, server)
    return web, server, sock


@contextmanager
def run_in_thread(settings: WebSettings | None = None, **overrides: Any) -> Iterator[WebServer]:
    """Start the web app on a background thread (port 0: any free one); stop it after."""
    with running(
        *prepare(replace(settings or WebSettings(port=0), **overrides)), "orgforge-web"
    ) as web:
        yield web


def serve(settings: WebSettings, on_ready: Any = None) -> None:
    """Run the web app in the foreground until interrupted (the CLI uses this)."""
    serve_foreground(*prepare(settings), on_ready)
