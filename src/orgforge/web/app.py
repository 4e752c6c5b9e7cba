"""The FastAPI app of `orgforge serve`: the JSON API (/api, OpenAPI at /docs) and the pages.

Every route but /login, /static and /_health needs the token (see auth.py). The app holds a
:class:`WebState`: the settings, the auth, the background operations (ops.py), the simulation
runners (simulations.py) and the hub that wakes the live streams (events.py). Everything it
shows or does is a call into the library (``orgforge``, ``orgforge.simulate``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from orgforge.errors import OrgforgeError
from orgforge.web.auth import SAFE_METHODS, Auth, NotSignedIn
from orgforge.web.events import Hub
from orgforge.web.ops import Operations
from orgforge.web.simulations import Simulations

HERE = Path(__file__).resolve().parent


@dataclass
class WebSettings:
    """What a server is started with (the `orgforge serve` flags map onto these)."""

    world: str = "orgforge.db"
    config: str | None = None  # YAML config file (None: the usual lookup)
    runs_dir: str = "runs"
    host: str = "127.0.0.1"
    port: int = 8700
    token: str | None = None  # None: ORGFORGE_WEB_TOKEN, else a random one
    environ: dict[str, str] | None = None  # for targets and jobs (None: the process's)
    simulate: bool = True  # run the jobs' simulation in this process
    log_dir: str = "flywheel"  # the agents' decision logs (`orgforge agents run --log-dir`)
    log_level: str = "warning"
    extra: dict[str, Any] = field(default_factory=dict)


class WebState:
    def __init__(self, settings: WebSettings, token: str) -> None:
        self.settings = settings
        self.auth = Auth(token)
        self.hub = Hub()
        self.ops = Operations(settings, on_change=self.hub.changed, on_finish=self.warm_later)
        self.sims = Simulations(settings, on_change=self.hub.changed)
        self.closing = False  # set on stop: live streams end instead of holding it up
        self.job_snapshots: dict[Any, Any] = {}  # api.shared_snapshot's reads, per job
        self._stats: tuple[Any, dict[str, Any]] | None = None
        self._check: tuple[Any, dict[str, Any]] | None = None

    def world_version(self) -> tuple[float, ...]:
        """Changes whenever the world file does (its WAL too): the cache key of the stats."""
        path = Path(self.settings.world)
        stamps = []
        for file in (path, path.with_name(path.name + "-wal")):
            with contextlib.suppress(OSError):
                stat = file.stat()
                stamps += [stat.st_mtime_ns, stat.st_size]
        return tuple(stamps)

    def warm(self) -> None:
        """Compute the world page's figures now, so the next visit doesn't wait for them."""
        with contextlib.suppress(Exception):  # an empty or broken world: the page says so
            self.stats()
            self.check()

    def warm_later(self, *_: Any) -> None:
        import threading

        threading.Thread(target=self.warm, name="orgforge-web-warm", daemon=True).start()

    def stats(self) -> dict[str, Any]:
        """``orgforge stats`` of the world, computed again only after the world changed."""
        import orgforge

        version = self.world_version()
        if self._stats is None or self._stats[0] != version:
            self._stats = (version, orgforge.stats(self.settings.world))
        return self._stats[1]

    def check(self) -> dict[str, Any]:
        """``orgforge check`` of the world (cached like the stats)."""
        import orgforge

        version = self.world_version()
        if self._check is None or self._check[0] != version:
            self._check = (version, orgforge.check(self.settings.world).to_json())
        return self._check[1]


def state_of(request: Request) -> WebState:
    return request.app.state.web


async def _signed_in(request: Request) -> str:
    """Bearer or session cookie; a form post with the cookie also needs its CSRF token."""
    web = state_of(request)
    how = web.auth.how(request)
    if how is None:
        raise NotSignedIn(request.url.path)
    if (
        how == "cookie"
        and request.method not in SAFE_METHODS
        and not await web.auth.csrf_ok(request)
    ):
        raise _Forbidden()
    return how


class _Forbidden(Exception):
    """A cookie-authenticated post without a valid CSRF token."""


def error_body(exc: OrgforgeError) -> dict[str, str]:
    return {"error": exc.message, "hint": exc.hint}


def create_app(settings: WebSettings, token: str) -> FastAPI:
    from orgforge import __version__
    from orgforge.web import api, pages

    web = WebState(settings, token)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        import asyncio

        web.hub.bind(asyncio.get_running_loop())
        web.ops.recover()
        web.warm_later()
        if settings.simulate:
            web.sims.start_active()
        try:
            yield
        finally:
            await web.sims.stop()
            web.ops.join_all()

    app = FastAPI(
        title="orgforge",
        version=__version__,
        description="Background operations (generate, load, validate, cleanup, activity), "
        "simulation jobs and world figures of one orgforge world. Every route needs the "
        "server's token: `Authorization: Bearer <token>`.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    # The locally served Swagger UI (swagger-ui-bundle, 4.x) renders OpenAPI 3.0 documents
    # only; FastAPI's schema for these routes is 3.0-compatible, so it is labelled 3.0.3.
    app.openapi_version = "3.0.3"
    app.state.web = web
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/static/swagger", StaticFiles(directory=swagger_ui_path), name="swagger")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(NotSignedIn)
    async def _not_signed_in(request: Request, exc: NotSignedIn) -> Any:
        if request.url.path.startswith("/api/") or request.url.path == "/openapi.json":
            return JSONResponse(
                {"error": "not signed in", "hint": "Send `Authorization: Bearer <token>`."},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return pages.login_page(request, status_code=401, next_path=request.url.path)

    @app.exception_handler(_Forbidden)
    async def _forbidden(request: Request, exc: _Forbidden) -> Any:
        return JSONResponse(
            {"error": "missing or wrong CSRF token", "hint": "Reload the page and submit again."},
            status_code=403,
        )

    @app.exception_handler(OrgforgeError)
    async def _orgforge_error(request: Request, exc: OrgforgeError) -> Any:
        return JSONResponse(error_body(exc), status_code=400 if exc.exit_code == 2 else 500)

    @app.get("/_health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(_signed_in)])
    async def openapi() -> Any:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=[Depends(_signed_in)])
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="orgforge API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png",
        )

    app.include_router(api.router, prefix="/api", dependencies=[Depends(_signed_in)])
    app.include_router(pages.public)
    app.include_router(pages.router, dependencies=[Depends(_signed_in)])
    return app
