"""`orgforge sandbox ...`: local API-compatible sandboxes (Salesforce and Asana)."""

from __future__ import annotations

from pathlib import Path

import typer

from orgforge.cli import _console

# --schema NAME: schema files shipped with the package, usable from any directory (and from a
# pip-installed orgforge, which has no src/ tree to point at).
_DATA = Path(__file__).resolve().parents[1]
BUNDLED_SCHEMAS = {
    "orgforge": _DATA / "sandbox" / "salesforce" / "examples" / "orgforge-fields.yaml",
    "lead-response": _DATA / "agents" / "data" / "lead-response-fields.yaml",
}

app = typer.Typer(
    help="Run local API-compatible sandboxes (Salesforce- and Asana-compatible, over SQLite).",
    no_args_is_help=True,
)


@app.callback()
def _group() -> None:
    """Local API-compatible sandboxes (keeps `sandbox salesforce` a sub-command)."""


@app.command("salesforce")
def salesforce(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8642, "--port", help="Port to listen on (0: any free port)."),
    db: Path = typer.Option(
        Path("sandbox/salesforce.db"), "--db", help="SQLite file holding the org's records."
    ),
    token: str | None = typer.Option(
        None, "--token", help="Static bearer token for the admin user (random if omitted)."
    ),
    faults: str | None = typer.Option(
        None,
        "--faults",
        help="Fault injection, e.g. '429=0.1,503=0.05,lock=0.05,expire=0.01[,retry_after=1]'.",
    ),
    schema: Path | None = typer.Option(
        None,
        "--schema",
        help="YAML/JSON file with custom fields, custom objects, connected app; or a bundled "
        "one: `orgforge` (orgforge's fields, Orgforge_Key__c…), `lead-response` (the agents').",
    ),
    tls: bool = typer.Option(False, "--tls", help="Serve HTTPS with a self-signed certificate."),
    seed: int = typer.Option(0, "--seed", help="Seed for fault injection (repeatable runs)."),
    jwt_public_key: Path | None = typer.Option(
        None, "--jwt-public-key", help="PEM public key of the connected app (JWT bearer grant)."
    ),
    consumer_key: str = typer.Option(
        "orgforge-sandbox", "--consumer-key", help="Connected app consumer key (client_id)."
    ),
    api_requests: int = typer.Option(
        100_000, "--daily-api-requests", help="DailyApiRequests limit reported by /limits."
    ),
    cdc_entities: str | None = typer.Option(
        None,
        "--cdc-entities",
        help="Objects selected for change events, e.g. 'Lead,Task,EmailMessage' (at most 5, "
        "like an org without the CDC add-on; default: every object publishes).",
    ),
    cdc_overflow_at: int = typer.Option(
        100_000,
        "--cdc-overflow-at",
        help="Changes in one transaction before the rest become GAP_OVERFLOW events.",
    ),
    cdc_max_event_bytes: int = typer.Option(
        1024 * 1024,
        "--cdc-max-event-bytes",
        help="Largest change event; a bigger one is published as its GAP_* twin.",
    ),
) -> None:
    """Serve a Salesforce-compatible REST + Bulk 2.0 API over a local SQLite org."""
    from orgforge.sandbox.salesforce import SandboxConfig, serve

    if schema is not None and str(schema) in BUNDLED_SCHEMAS and not schema.exists():
        schema = BUNDLED_SCHEMAS[str(schema)]

    config = SandboxConfig(
        db_path=db,
        host=host,
        port=port,
        token=token,
        faults=faults,
        seed=seed,
        schema=schema,
        tls=tls,
        jwt_public_key=jwt_public_key,
        consumer_key=consumer_key,
        daily_api_requests=api_requests,
        cdc_entities=(
            tuple(e.strip() for e in cdc_entities.split(",") if e.strip())
            if cdc_entities is not None
            else None
        ),
        cdc_overflow_at=cdc_overflow_at,
        cdc_max_event_bytes=cdc_max_event_bytes,
        log_level="warning",
    )
    serve(config, on_ready=_print_banner)


def _print_banner(sb) -> None:  # type: ignore[no-untyped-def]
    out = _console.out
    tls = sb.cert_path is not None
    lines = [
        "orgforge Salesforce sandbox",
        "  serving        "
        + ("HTTPS (TLS, self-signed certificate below)" if tls else "plain HTTP (no TLS)"),
        f"  instance URL   {sb.instance_url}",
        f"  access token   {sb.token}",
        f"  database       {sb.db_path}",
        f"  org ID         {sb.org_id}",
        f"  login          {sb.admin_username} / {sb.password} "
        f"(+ security token {sb.security_token})",
        f"  OAuth client   client_id={sb.consumer_key} client_secret={sb.consumer_secret}",
        "",
        "curl:",
        "  curl"
        + (f" --cacert {sb.cert_path}" if tls else "")
        + f' -H "Authorization: Bearer {sb.token}" {sb.base_url}/limits',
    ]
    if sb.cert_path:
        lines += [
            "",
            f"TLS: self-signed certificate {sb.cert_path}",
            f"  trust it:  export REQUESTS_CA_BUNDLE={sb.cert_path}   (Python requests)",
            f"             export NODE_EXTRA_CA_CERTS={sb.cert_path}  (Node / jsforce)",
            f"             curl --cacert {sb.cert_path} ...",
        ]
    lines += [
        "",
        "simple-salesforce:",
        "  from simple_salesforce import Salesforce",
        "  from orgforge.sandbox.salesforce import sandbox_session",
        f'  sf = Salesforce(instance_url="{sb.instance_url}", session_id="{sb.token}",',
        f'                  session=sandbox_session("{sb.instance_url}"'
        + (f', cert_path="{sb.cert_path}"' if sb.cert_path else "")
        + "))",
        (
            "  (TLS: sandbox_session verifies the sandbox's certificate on every request)"
            if tls
            else "  (plain HTTP: sandbox_session maps simple-salesforce's https:// URLs to http://)"
        ),
        "",
        f"Health: {sb.instance_url}/_sandbox/health (open)",
        f"Stats: {sb.instance_url}/_sandbox/stats   Reset: POST {sb.instance_url}/_sandbox/reset"
        "   (both need the access token)",
        "Press Ctrl+C to stop.",
    ]
    for line in lines:
        out.print(line, markup=False, highlight=False)


@app.command("asana")
def asana(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8643, "--port", help="Port to listen on (0: any free port)."),
    db: Path = typer.Option(
        Path("sandbox/asana.db"), "--db", help="SQLite file holding the workspace."
    ),
    users: int = typer.Option(4, "--users", help="People to seed (without --seed-file), 1-16."),
    seed_file: Path | None = typer.Option(
        None, "--seed-file", help="YAML with the workspace, teams, users, custom fields."
    ),
    token: str | None = typer.Option(
        None, "--token", help="Token of the first person (random if omitted)."
    ),
    admin_token: str | None = typer.Option(
        None, "--admin-token", help="Token for /_sandbox/stats and reset (random if omitted)."
    ),
    tier: str = typer.Option("paid", "--tier", help="free (150 requests/min) or paid (1,500)."),
    rate_limit: int | None = typer.Option(
        None, "--rate-limit", help="Requests per minute per token (overrides --tier)."
    ),
    premium: bool | None = typer.Option(
        None,
        "--premium/--no-premium",
        help="Custom fields and search on, or 402 payment_required (default: seed file's, on).",
    ),
    faults: str | None = typer.Option(
        None, "--faults", help="Fault injection, e.g. '429=0.05,500=0.01,503=0.02[,retry_after=1]'."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed for fault injection (repeatable runs)."),
    env_file: Path | None = typer.Option(
        None, "--env-file", help="Also write ORGFORGE_ASANA__URL and the tokens to this .env file."
    ),
) -> None:
    """Serve an Asana-compatible API (/api/1.0) over a local SQLite workspace."""
    from orgforge.sandbox.asana import SandboxConfig, serve

    config = SandboxConfig(
        db_path=db,
        host=host,
        port=port,
        users=users,
        seed_file=seed_file,
        token=token,
        admin_token=admin_token,
        tier=tier,
        rate_limit=rate_limit,
        premium=premium,
        faults=faults,
        seed=seed,
    )

    def ready(sb) -> None:  # type: ignore[no-untyped-def]
        if env_file is not None:
            _write_env(env_file, sb.env())
        _print_asana_banner(sb, env_file)

    serve(config, on_ready=ready)


def _write_env(path: Path, values: dict[str, str]) -> None:
    from orgforge.errors import OutputError

    text = "".join(f"{name}={value}\n" for name, value in values.items())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        path.chmod(0o600)  # it holds tokens
    except OSError as exc:
        raise OutputError(f"--env-file {path}: cannot write it ({exc.strerror})") from exc


def _print_asana_banner(sb, env_file: Path | None) -> None:  # type: ignore[no-untyped-def]
    limiter = sb.state.limiter
    lines = [
        "orgforge Asana sandbox",
        f"  API base       {sb.base_url}",
        f"  database       {sb.db_path}",
        f"  workspace      {sb.workspace_gid}",
        f"  rate limit     {limiter.quota:,} requests/min per token",
        f"  admin token    {sb.admin_token}   (for {sb.url}/_sandbox/stats)",
        "",
        "people (one token each):",
    ]
    lines += [f"  {p.name:<18} {p.email:<32} {p.token}" for p in sb.people]
    lines += ["", "environment for orgforge's Asana target:"]
    lines += [f"  export {name}={value}" for name, value in sb.env().items()]
    if env_file is not None:
        lines.append(f"  (also written to {env_file})")
    lines += [
        "",
        "curl:",
        f'  curl -H "Authorization: Bearer {sb.token}" {sb.base_url}/users/me',
        "",
        "asana SDK:",
        "  import asana",
        f'  cfg = asana.Configuration(); cfg.host = "{sb.base_url}"',
        f'  cfg.access_token = "{sb.token}"',
        '  me = asana.UsersApi(asana.ApiClient(cfg)).get_user("me", {})',
        "",
        "Press Ctrl+C to stop.",
    ]
    for line in lines:
        _console.out.print(line, markup=False, highlight=False)
    _console.out.file.flush()  # the banner must show before the server blocks, even in a pipe
