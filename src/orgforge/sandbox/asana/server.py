"""Starting the Asana sandbox: configuration and uvicorn, on a thread (tests) or blocking (CLI)."""

from __future__ import annotations

import secrets
import socket
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import uvicorn

from orgforge.clock import REAL, Clock
from orgforge.errors import ConfigError
from orgforge.sandbox.asana.api import AsanaApi
from orgforge.sandbox.asana.app import API_PREFIX, SEARCH_QUOTA, SandboxState, create_app
from orgforge.sandbox.asana.limits import (
    FREE_QUOTA,
    PAID_QUOTA,
    Concurrency,
    Faults,
    RateLimiter,
)
from orgforge.sandbox.asana.seed import (
    SEED_TYPES,
    Seed,
    apply_seed,
    default_seed,
    load_seed,
    persona,
)
from orgforge.sandbox.asana.store import Store
from orgforge.sandbox.asana.webhooks import Deliveries
from orgforge.serving import QuietServer, base_url, bind, running, serve_foreground

DEFAULT_PORT = 8643


@dataclass
class SandboxConfig:
    """Everything the sandbox can be started with (the CLI flags map 1:1 onto these)."""

    db_path: str | Path | None = None  # None: a fresh temporary file
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port
    users: int = 4  # seed people when no seed file is given
    seed_file: str | Path | None = None
    token: str | None = None  # the first user's token (random if None)
    admin_token: str | None = None  # for /_sandbox/*; random if None
    tier: str = "paid"  # free: 150 requests/min per token, paid: 1,500
    rate_limit: int | None = None  # overrides the tier's quota
    rate_window: float = 60.0  # seconds; tests shorten it so Retry-After stays short
    premium: bool | None = None  # None: the seed file's (default premium)
    max_reads: int = 50
    max_writes: int = 15
    faults: str | dict[str, float] | None = None
    seed: int = 0  # fault injection RNG seed
    webhook_backoff: float = 1.0  # seconds before a failed delivery's first retry (doubles)
    log_level: str = "warning"
    clock: Clock = REAL  # timestamps, sync-token and offset expiry, rate limits, webhook retries


@dataclass
class Person:
    gid: str
    name: str
    email: str
    token: str

    @property
    def env_name(self) -> str:
        return f"ORGFORGE_ASANA_TOKEN__{persona(self.name)}"


@dataclass
class AsanaSandbox:
    """A running sandbox: where it is, who can log in, and a handle to stop it."""

    url: str  # http://127.0.0.1:PORT
    db_path: Path
    admin_token: str
    workspace_gid: str
    people: list[Person]
    state: SandboxState
    _server: Any = None
    _thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """What ``asana.Configuration().host`` takes: ``http://127.0.0.1:PORT/api/1.0``."""
        return self.url + API_PREFIX

    @property
    def token(self) -> str:
        """The first person's token (in every team)."""
        return self.people[0].token

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    def env(self) -> dict[str, str]:
        """The environment orgforge's Asana target reads: URL, default token, one per person."""
        out = {"ORGFORGE_ASANA__URL": self.base_url, "ORGFORGE_ASANA_TOKEN": self.token}
        out.update({p.env_name: p.token for p in self.people})
        return out

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self.state.api.deliveries is not None:
            self.state.api.deliveries.stop()
        self.state.store.close()


def _seed(config: SandboxConfig) -> Seed:
    if config.seed_file is not None:
        return load_seed(Path(config.seed_file), premium=config.premium)
    return default_seed(config.users, premium=True if config.premium is None else config.premium)


def build(config: SandboxConfig) -> SandboxState:
    """Open (or create and seed) the sandbox file and assemble the state (no socket yet)."""
    if config.tier not in ("free", "paid"):
        raise ConfigError(
            f"--tier {config.tier}: must be free or paid", "free: 150/min, paid: 1,500/min"
        )
    quota = config.rate_limit or (FREE_QUOTA if config.tier == "free" else PAID_QUOTA)
    if quota < 1:
        raise ConfigError(f"--rate-limit {quota}: must be at least 1", "Asana: 150 or 1500.")
    seed = _seed(config)
    faults = Faults(config.faults, config.seed)
    if config.db_path is None:
        db_path = Path(tempfile.mkdtemp(prefix="orgforge-asana-")) / "asana.db"
    else:
        db_path = Path(config.db_path).expanduser().resolve()
    try:
        store = Store(db_path)
    except Exception as exc:  # sqlite3.DatabaseError and OSError alike: one clear line
        raise ConfigError(
            f"--db {db_path}: cannot open it as the sandbox's SQLite file ({exc})",
            "Point --db at a new file or an earlier sandbox file.",
        ) from exc
    apply_seed(store, seed, config.token, clock=config.clock)
    if config.premium is not None:
        ws = store.of_type("workspace")[0]
        store.update(ws["gid"], {"_premium": config.premium})
    api = AsanaApi(store, clock=config.clock)
    deliveries = Deliveries(
        on_result=api.delivery_result, first_backoff=config.webhook_backoff, clock=config.clock
    )
    api.deliveries = deliveries
    return SandboxState(
        store=store,
        api=api,
        limiter=RateLimiter(quota, config.rate_window, config.clock),
        search_limiter=RateLimiter(SEARCH_QUOTA, config.rate_window, config.clock),
        concurrency=Concurrency(config.max_reads, config.max_writes),
        faults=faults,
        admin_token=config.admin_token or secrets.token_urlsafe(24),
        seed_types=SEED_TYPES,
    )


def _prepare(config: SandboxConfig) -> tuple[AsanaSandbox, uvicorn.Server, socket.socket]:
    # The socket first: a port that is taken or out of range must fail before the file exists.
    sock = bind(config.host, config.port)
    try:
        state = build(config)
    except BaseException:
        sock.close()
        raise
    state.base_url = base_url("http", config.host, sock)
    server = QuietServer(
        uvicorn.Config(
            create_app(state),
            log_level=config.log_level,
            access_log=False,
            lifespan="off",
            timeout_keep_alive=30,
        )
    )
    users = {u["gid"]: u for u in state.store.of_type("user")}
    people = [
        Person(gid, users[gid]["name"], users[gid]["email"], token)
        for gid, token in state.store.tokens().items()
        if gid in users
    ]
    sandbox = AsanaSandbox(
        url=state.base_url,
        db_path=state.store.path,
        admin_token=state.admin_token,
        workspace_gid=state.store.of_type("workspace")[0]["gid"],
        people=people,
        state=state,
        _server=server,
    )
    assert state.api.deliveries is not None
    state.api.deliveries.start()
    return sandbox, server, sock


@contextmanager
def run_in_thread(config: SandboxConfig | None = None, **overrides: Any) -> Iterator[AsanaSandbox]:
    """Start a sandbox on a background thread; yield it once it accepts connections; stop it.

    ``run_in_thread(SandboxConfig(...))`` or ``run_in_thread(tier="free", users=3)``.
    """
    config = replace(config or SandboxConfig(), **overrides)
    with running(*_prepare(config), "orgforge-asana-sandbox") as sandbox:
        yield sandbox


def serve(config: SandboxConfig, on_ready: Any = None) -> None:
    """Run the sandbox in the foreground until interrupted (the CLI uses this)."""
    serve_foreground(*_prepare(config), on_ready)
