"""Starting the sandbox: configuration and uvicorn, on a thread (tests) or blocking (CLI)."""

from __future__ import annotations

import secrets
import socket
import sqlite3
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import uvicorn

from orgforge.clock import REAL, Clock
from orgforge.errors import ConfigError
from orgforge.inputs import check_path, read_text, require_regular
from orgforge.sandbox.salesforce.app import SandboxState, create_app
from orgforge.sandbox.salesforce.auth import Auth
from orgforge.sandbox.salesforce.faults import Faults
from orgforge.sandbox.salesforce.metadata import Metadata, standard_objects
from orgforge.sandbox.salesforce.org import SANDBOX_DOMAIN, SEED_USERS, Org
from orgforge.sandbox.salesforce.schema_file import apply_schema, load_schema
from orgforge.sandbox.salesforce.streaming import MAX_EVENT_BYTES, MAX_SELECTED, OVERFLOW_AT
from orgforge.sandbox.salesforce.tls import ensure_certificate
from orgforge.serving import QuietServer, base_url, bind, running, serve_foreground

DEFAULT_PORT = 8642


@dataclass
class SandboxConfig:
    """Everything a sandbox can be started with (the CLI flags map 1:1 onto these)."""

    db_path: str | Path | None = None  # None: a fresh temporary file
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port
    token: str | None = None  # static bearer token for the admin user; random if None
    faults: str | dict[str, float] | None = None  # "429=0.1,503=0.05,lock=0.05,expire=0.01"
    seed: int = 0
    schema: str | Path | dict[str, Any] | None = None  # schema file (YAML/JSON) or dict
    tls: bool = False
    consumer_key: str = "orgforge-sandbox"
    consumer_secret: str = "orgforge-sandbox-secret"
    jwt_public_key: str | Path | None = None  # PEM text or path (overrides the schema's)
    password: str = "orgforge"
    security_token: str = "SANDBOXTOKEN"
    daily_api_requests: int = 100_000
    api_version: str = "59.0"
    query_batch_size: int = 2000
    token_ttl: float | None = None  # seconds before OAuth-issued tokens expire
    clock: Clock = REAL  # what token expiry (and the state's ``clock``) reads; tests simulate
    log_level: str = "warning"
    # Change Data Capture: the selected entities (None: all, as with the CDC add-on; at most 5
    # otherwise), the changes per transaction before GAP_OVERFLOW, the largest event in bytes
    cdc_entities: tuple[str, ...] | None = None
    cdc_overflow_at: int = OVERFLOW_AT
    cdc_max_event_bytes: int = MAX_EVENT_BYTES
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Sandbox:
    """A running sandbox: where it is, how to log in, and a handle to stop it."""

    instance_url: str
    token: str
    db_path: Path
    cert_path: Path | None
    org_id: str
    admin_username: str
    usernames: list[str]
    password: str
    security_token: str
    consumer_key: str
    consumer_secret: str
    api_version: str
    state: SandboxState
    _server: Any = None
    _thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The REST base, e.g. ``http://127.0.0.1:8642/services/data/v59.0``."""
        return f"{self.instance_url}/services/data/v{self.api_version}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.state.bulk.stop()
        self.state.org.close()


def _public_key(config: SandboxConfig, schema_key: str | None) -> str | None:
    """The connected app's PEM public key, checked now: a key the JWT library can't use would
    otherwise only show as every JWT login failing."""
    value = config.jwt_public_key
    if value is None:
        text, shown = schema_key, "schema connected_app.public_key"
    elif "BEGIN" in str(value):
        text, shown = str(value), "--jwt-public-key"
    else:
        hint = "Give the PEM public key (-----BEGIN PUBLIC KEY-----) of the connected app."
        text = read_text(value, "--jwt-public-key", ConfigError, hint)
        shown = f"--jwt-public-key {value}"
    if text is None:
        return None
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        load_pem_public_key(text.encode("utf-8"))
    except (ValueError, TypeError):
        raise ConfigError(
            f"{shown}: not a PEM public key",
            "Give the PEM public key (-----BEGIN PUBLIC KEY-----) of the connected app, e.g. "
            "`openssl rsa -in server.key -pubout`.",
        ) from None
    return text


MAX_PORT = 65_535


def check_config(config: SandboxConfig) -> Path | None:
    """Refuse a bad setting before anything is created or bound; return the database path
    (None: a fresh temporary one).

    Port, host, faults, the daily limit and the database file are checked here, so a sandbox
    with bad flags exits 2 leaving no database, certificate or folder behind.
    """
    if not 0 <= config.port <= MAX_PORT:
        raise ConfigError(
            f"--port {config.port}: must be between 0 and {MAX_PORT}",
            "0 picks any free port.",
        )
    try:
        socket.getaddrinfo(config.host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(
            f"--host {config.host!r}: not an address or a known host name ({exc})",
            "Use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface).",
        ) from None
    Faults(config.faults, config.seed)  # raises ConfigError naming the bad fault
    _check_cdc(config)
    if not 0 <= config.daily_api_requests < 2**63:
        raise ConfigError(
            f"--daily-api-requests {config.daily_api_requests}: must be 0 or more",
            "It is the DailyApiRequests limit /limits reports (default 100000).",
        )
    if config.db_path is None:
        return None
    db_path = Path(config.db_path).expanduser()
    st = check_path(db_path, "--db", ConfigError)
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise ConfigError(
                f"--db {db_path} is a directory", "Give a file path, e.g. sandbox/salesforce.db."
            )
        require_regular(db_path, st, "--db", ConfigError)
        with open(db_path, "rb") as handle:
            header = handle.read(16)
        if header and header != b"SQLite format 3\x00":
            raise ConfigError(
                f"--db {db_path} is not a SQLite file",
                "Give a new path, or a database an earlier sandbox made.",
            )
    try:
        return db_path.resolve()
    except (OSError, RuntimeError) as exc:  # a symbolic-link loop
        raise ConfigError(f"--db {db_path}: can't be resolved ({exc})") from None


def _check_cdc(config: SandboxConfig) -> None:
    if config.cdc_entities is not None:
        chosen = list(dict.fromkeys(config.cdc_entities))
        if not chosen:
            raise ConfigError(
                "--cdc-entities: no entity given",
                "Name up to 5 objects, e.g. --cdc-entities Lead,Task,EmailMessage.",
            )
        if len(chosen) > MAX_SELECTED:
            raise ConfigError(
                f"--cdc-entities: {len(chosen)} entities selected ({', '.join(chosen)}); an org "
                f"allows change events for at most {MAX_SELECTED}",
                "Select at most 5, or leave the flag out: every entity publishes, as in an org "
                "with the Change Data Capture add-on.",
            )
    for flag, value in (
        ("--cdc-overflow-at", config.cdc_overflow_at),
        ("--cdc-max-event-bytes", config.cdc_max_event_bytes),
    ):
        if not 1 <= value < 2**63:
            raise ConfigError(
                f"{flag} {value}: must be 1 or more",
                f"Salesforce's values are {OVERFLOW_AT} changes and {MAX_EVENT_BYTES} bytes.",
            )


def build(config: SandboxConfig) -> tuple[SandboxState, Path, Path | None, Path | None]:
    """Open the org and assemble the sandbox state (no socket yet)."""
    db_path = (
        check_config(config) or Path(tempfile.mkdtemp(prefix="orgforge-sandbox-")) / "sandbox.db"
    )
    schema = load_schema(config.schema)
    objects = standard_objects()
    apply_schema(objects, schema, str(config.schema) if config.schema else "schema")
    for obj in objects.values():
        for f in obj.fields.values():
            for target in f.reference_to:
                if target not in objects and target != "Group":
                    raise ConfigError(
                        f"schema: {obj.name}.{f.name} refers to unknown object '{target}'"
                    )
    unknown = [e for e in config.cdc_entities or () if e not in objects]
    if unknown:
        raise ConfigError(
            f"--cdc-entities: no object named {unknown[0]!r} in the sandbox",
            "Names are API names, as in /data/LeadChangeEvent: Lead, Task, EmailMessage, ….",
        )
    app_key = schema.connected_app
    public_key = _public_key(config, app_key.public_key)
    faults = Faults(config.faults, config.seed)
    try:
        org = Org(db_path, Metadata(objects), seed=config.seed, clock=config.clock)
    except sqlite3.DatabaseError as exc:
        raise ConfigError(
            f"--db {db_path}: can't be used as the sandbox's database ({exc})",
            "Give a new path, or a database an earlier sandbox made.",
        ) from None
    auth = Auth(
        org,
        static_token=config.token or f"{org.org_id[:15]}!{secrets.token_urlsafe(32)}",
        password=config.password,
        security_token=config.security_token,
        consumer_key=app_key.consumer_key or config.consumer_key,
        consumer_secret=app_key.consumer_secret or config.consumer_secret,
        public_key=public_key,
        token_ttl=config.token_ttl,
        clock=config.clock,
    )
    state = SandboxState(
        org,
        auth,
        faults,
        daily_api_requests=config.daily_api_requests,
        api_version=config.api_version,
        query_batch_size=config.query_batch_size,
        cdc={
            "selected": config.cdc_entities,
            "overflow_at": config.cdc_overflow_at,
            "max_event_bytes": config.cdc_max_event_bytes,
        },
    )
    state.clock = config.clock  # the sandbox's one clock: `state.clock.today()` for SOQL dates
    cert = key = None
    if config.tls:
        cert = db_path.with_name(db_path.name + ".cert.pem")
        key = db_path.with_name(db_path.name + ".key.pem")
        ensure_certificate(cert, key)
    return state, db_path, cert, key


def _prepare(config: SandboxConfig) -> tuple[Sandbox, uvicorn.Server, socket.socket]:
    check_config(config)
    # Bind before the database exists: a port in use leaves nothing behind either.
    sock = bind(config.host, config.port, backlog=2048)
    sock.set_inheritable(True)
    try:
        state, db_path, cert, key = build(config)
    except BaseException:
        sock.close()
        raise
    state.instance_url = base_url("https" if config.tls else "http", config.host, sock)
    uv_config = uvicorn.Config(
        create_app(state),
        log_level=config.log_level,
        access_log=False,
        lifespan="off",
        ssl_certfile=str(cert) if cert else None,
        ssl_keyfile=str(key) if key else None,
        timeout_graceful_shutdown=2,
        timeout_keep_alive=30,
    )
    server = QuietServer(uv_config)
    usernames = [
        f"{first}.{last}".lower().replace("'", "") + f"@{SANDBOX_DOMAIN}"
        for first, last, *_ in SEED_USERS
    ]
    sandbox = Sandbox(
        instance_url=state.instance_url,
        token=state.auth.static_token,
        db_path=db_path,
        cert_path=cert,
        org_id=state.org.org_id,
        admin_username=usernames[0],
        usernames=usernames,
        password=config.password,
        security_token=config.security_token,
        consumer_key=state.auth.consumer_key,
        consumer_secret=state.auth.consumer_secret,
        api_version=config.api_version,
        state=state,
        _server=server,
    )
    return sandbox, server, sock


@contextmanager
def run_in_thread(config: SandboxConfig | None = None, **overrides: Any) -> Iterator[Sandbox]:
    """Start a sandbox on a background thread; yield it once it accepts connections; stop it.

    ``run_in_thread(SandboxConfig(...))`` or ``run_in_thread(faults="429=0.1", seed=3)``.
    """
    config = replace(config or SandboxConfig(), **overrides)
    with running(*_prepare(config), "orgforge-sandbox") as sandbox:
        yield sandbox


def serve(config: SandboxConfig, on_ready: Any = None) -> None:
    """Run the sandbox in the foreground until interrupted (the CLI uses this)."""
    serve_foreground(*_prepare(config), on_ready)
