"""Every route needs the token: 401 without it (each route family, found from the app itself),
the session cookie is HttpOnly and set only for the right token, and a form post made with the
cookie needs its CSRF token."""

from __future__ import annotations

import re

import httpx
import pytest

from orgforge.errors import ConfigError
from orgforge.web import run_in_thread
from orgforge.web.server import resolve_token
from tests.web.conftest import settings_for

PUBLIC = {"/login", "/_health", "/static", "/static/swagger"}


def _routes(app) -> list[tuple[str, str]]:
    """(method, path) of every route: the app's own, the API's (under /api) and the pages'."""
    from orgforge.web import api, pages

    every = [(r, "") for r in app.routes] + [(r, "/api") for r in api.router.routes]
    every += [(r, "") for r in pages.router.routes + pages.public.routes]
    out = []
    for route, prefix in every:
        path = prefix + getattr(route, "path", "")
        if path in PUBLIC:
            continue
        for method in sorted(getattr(route, "methods", None) or ()):
            if method != "HEAD":
                out.append((method, re.sub(r"\{(\w+)\}", "x", path)))
    return out


def test_every_route_but_login_answers_401_without_the_token(server):
    routes = _routes(server.app)
    families = {path.split("/")[2] if path.startswith("/api/") else path for _, path in routes}
    # the API's families and the pages are all there (a route added tomorrow is checked too)
    assert {"world", "ops", "jobs", "generate"} <= families
    assert {"/", "/world", "/generate", "/load", "/jobs", "/ops", "/docs", "/logout"} <= families
    with httpx.Client(base_url=server.url) as anon:
        for method, path in routes:
            response = anon.request(method, path, json={} if method == "POST" else None)
            assert response.status_code == 401, (method, path, response.status_code)
            if path.startswith("/api/") or path == "/openapi.json":
                assert response.json()["error"] == "not signed in"
                assert response.headers["www-authenticate"] == "Bearer"
            else:  # a page shows the sign-in form in place
                assert 'name="token"' in response.text
        wrong = {"Authorization": "Bearer " + "x" * 32}
        for method, path in routes:
            response = anon.request(method, path, headers=wrong)
            assert response.status_code == 401, (method, path)
        assert anon.get("/_health").status_code == 200
        assert anon.get("/static/app.css").status_code == 200


def test_the_token_opens_the_api_and_the_openapi_page(server, api):
    assert api.get("/api/ops").json() == []
    spec = api.get("/openapi.json").json()
    assert "/api/ops" in spec["paths"] and "/api/jobs/{job_id}/events" in spec["paths"]
    docs = api.get("/docs")
    assert docs.status_code == 200 and "/static/swagger/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()
    assert api.get("/static/swagger/swagger-ui-bundle.js").status_code == 200


def test_login_sets_an_httponly_session_cookie_and_forms_need_csrf(server):
    with httpx.Client(base_url=server.url) as browser:
        refused = browser.post("/login", data={"token": "not-it", "next": "/jobs"})
        assert refused.status_code == 401 and "orgforge_session" not in refused.headers.get(
            "set-cookie", ""
        )
        signed = browser.post("/login", data={"token": server.token, "next": "/jobs"})
        assert signed.status_code == 303 and signed.headers["location"] == "/jobs"
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert server.token not in cookie  # the cookie is a MAC of the token, not the token
        page = browser.get("/jobs")
        assert page.status_code == 200
        csrf = re.search(r'name="csrf" value="(\w+)"', page.text)[1]
        # the cookie alone does not make a form post: the CSRF token must come with it
        assert browser.post("/activity", data={"max_opps": "1"}).status_code == 403
        assert (
            browser.post("/activity", data={"max_opps": "1", "csrf": "0" * 64}).status_code == 403
        )
        assert browser.post("/logout", data={"csrf": csrf}).status_code == 303
        assert browser.get("/jobs").status_code == 401


def test_a_login_never_redirects_off_the_site(server):
    with httpx.Client(base_url=server.url) as browser:
        signed = browser.post("/login", data={"token": server.token, "next": "//evil.test/x"})
        assert signed.headers["location"] == "/"


def test_a_host_beyond_loopback_needs_a_token_someone_chose(tmp_path):
    with pytest.raises(ConfigError, match="needs a token"):
        resolve_token(settings_for(tmp_path, host="0.0.0.0"))
    token, generated = resolve_token(
        settings_for(tmp_path, host="0.0.0.0", environ={"ORGFORGE_WEB_TOKEN": "t" * 20})
    )
    assert (token, generated) == ("t" * 20, False)
    with pytest.raises(ConfigError, match="at least 16"):
        resolve_token(settings_for(tmp_path, environ={"ORGFORGE_WEB_TOKEN": "short"}))
    token, generated = resolve_token(settings_for(tmp_path))
    assert generated and len(token) >= 24


def test_a_token_from_the_environment_is_the_one_that_works(tmp_path):
    chosen = "s3cret-token-for-the-team"
    with run_in_thread(settings_for(tmp_path, environ={"ORGFORGE_WEB_TOKEN": chosen})) as web:
        assert web.token == chosen and not web.generated
        with httpx.Client(base_url=web.url) as client:
            ok = client.get("/api/ops", headers={"Authorization": f"Bearer {chosen}"})
            assert ok.status_code == 200
