"""The HTTP layer: authentication, limits, faults and the request counter around the API.

Everything below ``/api/1.0`` goes through one route: bearer token → user (401 otherwise), then
the per-token rate limit (a ``/batch`` of n actions counts n), the search limit, the
concurrency limit, fault injection, and finally :class:`AsanaApi`. ``/_sandbox/*`` are the
admin routes (stats, reset, tokens), protected by the admin token; ``/_sandbox/health`` is open.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from orgforge.sandbox.asana.api import RATE_LIMITED, AsanaApi, Call, error_body
from orgforge.sandbox.asana.limits import Concurrency, Faults, RateLimiter, Stats
from orgforge.sandbox.asana.store import Store

API_PREFIX = "/api/1.0"
logger = logging.getLogger("orgforge.sandbox.asana")
SEARCH_QUOTA = 60


@dataclass
class SandboxState:
    store: Store
    api: AsanaApi
    limiter: RateLimiter
    search_limiter: RateLimiter
    concurrency: Concurrency
    faults: Faults
    admin_token: str
    seed_types: tuple[str, ...]
    stats: Stats = field(default_factory=Stats)
    base_url: str = ""

    def reset(self) -> None:
        """Back to the seed: workspace, teams, users and tokens stay; everything else goes."""
        with self.api._lock:
            self.store.clear_content(self.seed_types)
            self.api._webhooks = None
        self.stats.reset()
        self.limiter.reset()
        self.search_limiter.reset()


def _json(body: Any, status: int, headers: dict[str, str] | None = None, pretty: bool = False):
    text = json.dumps(body, indent=2 if pretty else None, separators=None if pretty else (",", ":"))
    return Response(text, status_code=status, headers=headers or {}, media_type="application/json")


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return _json(error_body(status, message), status, headers)


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def _data(request: Request) -> tuple[Any, str | None]:
    """The body's ``data`` (JSON ``{"data": …}`` or form fields), or an error message."""
    raw = await request.body()
    if not raw:
        return None, None
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        return dict(parse_qsl(raw.decode("utf-8", "replace"))), None
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None, "Could not parse request data, invalid JSON"
    if body == {}:  # the SDK sends "{}" with DELETE
        return None, None
    if not isinstance(body, dict) or "data" not in body:
        return None, 'data: Missing input (the body must be {"data": {...}})'
    return body["data"], None


def create_app(state: SandboxState) -> FastAPI:
    app = FastAPI(title="orgforge Asana sandbox", docs_url=None, redoc_url=None, openapi_url=None)

    def admin(request: Request) -> Response | None:
        if _token(request) != state.admin_token:
            return _error(401, "Not Authorized: the admin routes need the sandbox's admin token")
        return None

    @app.get("/_sandbox/health")
    async def health() -> Response:
        return _json({"status": "ok"}, 200)

    @app.get("/_sandbox/stats")
    async def stats(request: Request) -> Response:
        refused = admin(request)
        if refused is not None:
            return refused
        body = {
            "requests": state.stats.snapshot(),
            "records": state.store.counts(),
            "peak_in_flight": dict(state.concurrency.peak),
            "rate_limit_per_minute": state.limiter.quota,
            "webhook_deliveries": {
                "delivered": state.api.deliveries.delivered if state.api.deliveries else 0,
                "failed": state.api.deliveries.failed if state.api.deliveries else 0,
                "queued": len(state.api.deliveries.queue) if state.api.deliveries else 0,
            },
        }
        return _json(body, 200)

    @app.post("/_sandbox/reset")
    async def reset(request: Request) -> Response:
        refused = admin(request)
        if refused is not None:
            return refused
        await run_in_threadpool(state.reset)
        return _json({"status": "reset", "records": state.store.counts()}, 200)

    @app.get("/_sandbox/tokens")
    async def tokens(request: Request) -> Response:
        refused = admin(request)
        if refused is not None:
            return refused
        users = {u["gid"]: u for u in state.store.of_type("user")}
        rows = [
            {"user": gid, "name": users[gid]["name"], "email": users[gid]["email"], "token": tok}
            for gid, tok in state.store.tokens().items()
            if gid in users
        ]
        return _json({"data": rows}, 200)

    @app.post("/_sandbox/revoke")
    async def revoke(request: Request) -> Response:
        refused = admin(request)
        if refused is not None:
            return refused
        body = json.loads(await request.body() or b"{}")
        return _json({"revoked": state.store.revoke(str(body.get("token", "")))}, 200)

    @app.api_route(
        API_PREFIX + "/{path:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]
    )
    async def api(request: Request, path: str) -> Response:
        return await _serve(state, request, "/" + path.rstrip("/"))

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    async def elsewhere(path: str) -> Response:
        return _error(404, f"No matching route for request: /{path} (the API is under /api/1.0)")

    return app


async def _serve(state: SandboxState, request: Request, path: str) -> Response:
    method = request.method
    family = state.api.family(method, path)
    query = dict(request.query_params)
    pretty = query.pop("opt_pretty", "false").lower() in ("true", "1", "")
    client = request.headers.get("x-asana-client-lib")
    token = _token(request)
    user_gid = state.store.token_user(token) if token else None
    user = state.store.get(user_gid, "user") if user_gid else None

    def done(response: Response, status: int) -> Response:
        state.stats.count(family, status, user["gid"] if user else None, client)
        return response

    if user is None:
        return done(_error(401, "Not Authorized"), 401)
    data, problem = await _data(request)
    if problem:
        return done(_error(400, problem), 400)
    cost = 1
    if path == "/batch" and method == "POST" and isinstance(data, dict):
        actions = data.get("actions")
        cost = max(1, len(actions)) if isinstance(actions, list) else 1
    wait = state.limiter.take(token or "", cost)
    if wait is None and path.endswith("/tasks/search"):
        wait = state.search_limiter.take(token or "")
    if wait is not None:
        state.stats.limited["rate"] += 1
        return done(_error(429, RATE_LIMITED, {"Retry-After": str(wait)}), 429)
    kind = "read" if method in ("GET", "HEAD") else "write"
    if not state.concurrency.enter(token or "", kind):
        state.stats.limited[f"concurrent_{kind}s"] += 1
        message = f"You have too many concurrent {kind} requests in flight; retry shortly."
        return done(_error(429, message, {"Retry-After": "1"}), 429)
    try:
        fault = state.faults.draw()
        if fault is not None:
            state.stats.faults[fault] += 1
            if fault == "429":
                headers = {"Retry-After": str(state.faults.retry_after)}
                return done(_error(429, RATE_LIMITED, headers), 429)
            if fault == "503":
                return done(_error(503, "Service Unavailable", {"Retry-After": "1"}), 503)
            return done(_error(500, "Server Error"), 500)
        call = Call(
            method="GET" if method == "HEAD" else method,
            path=path or "/",
            query=query,
            data=data,
            user=user,
            base_url=state.base_url + API_PREFIX,
        )
        try:
            result = await run_in_threadpool(state.api.handle, call)
        except Exception:  # a sandbox bug: answer like Asana's 500, keep the trace in the log
            logger.exception("asana sandbox: %s %s failed", method, path)
            return done(_error(500, "Server Error"), 500)
    finally:
        state.concurrency.leave(token or "", kind)
    return done(_json(result.body, result.status, result.headers, pretty), result.status)


__all__ = ["API_PREFIX", "SandboxState", "create_app"]
