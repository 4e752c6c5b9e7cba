"""`orgforge sandbox ...`: local API-compatible sandboxes (Salesforce today)."""

from __future__ import annotations

from pathlib import Path

import typer

from orgforge.cli import _console

app = typer.Typer(
    help="Run local API-compatible sandboxes (a Salesforce-compatible org over SQLite).",
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
        None, "--schema", help="YAML/JSON file with custom fields, custom objects, connected app."
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
) -> None:
    """Serve a Salesforce-compatible REST + Bulk 2.0 API over a local SQLite org."""
    from orgforge.sandbox.salesforce import SandboxConfig, serve

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
