"""`orgforge serve`: the web app and job API over one world (see orgforge.web)."""

from __future__ import annotations

import typer

from orgforge.cli import _console
from orgforge.cli._options import ConfigOpt, RunsOpt, WorldOpt


def serve(
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Interface to listen on (other than loopback: needs a token)."
    ),
    port: int = typer.Option(8700, "--port", help="Port to listen on (0: any free port)."),
    config: ConfigOpt = None,
    world: WorldOpt = None,
    runs_dir: RunsOpt = None,
    log_dir: str = typer.Option(
        "flywheel", "--log-dir", help="Folder of the flywheel decision logs (JSONL)."
    ),
    no_simulate: bool = typer.Option(
        False, "--no-simulate", help="Don't run the jobs' simulation in this process."
    ),
) -> None:
    """Serve the web app and job API (OpenAPI at /docs) for one world; token auth."""
    from orgforge.cli._options import load
    from orgforge.web import WebSettings
    from orgforge.web import serve as run

    cfg = load(config, {"world": world, "runs_dir": runs_dir})
    settings = WebSettings(
        world=cfg.world,
        config=config,
        runs_dir=str(cfg.runs_dir),
        host=host,
        port=port,
        simulate=not no_simulate,
        log_dir=log_dir,
    )
    run(settings, on_ready=_banner)


def _banner(server) -> None:  # type: ignore[no-untyped-def]
    from orgforge.web import TOKEN_ENV

    lines = [
        "orgforge web app",
        f"  open           {server.url}/",
        f"  API docs       {server.url}/docs",
        f"  world          {server.settings.world}",
        f"  token          {server.token}   (generated: set {TOKEN_ENV} to keep one)"
        if server.generated
        else f"  token          from {TOKEN_ENV}",
        "",
        "curl:",
        '  curl -H "Authorization: Bearer $TOKEN" ' + f"{server.url}/api/ops",
        "Press Ctrl+C to stop.",
    ]
    for line in lines:
        _console.out.print(line, markup=False, highlight=False)
    _console.out.file.flush()


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
