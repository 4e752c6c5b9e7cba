"""Who may use the web app: one token, as a bearer header (API) or a session cookie (browser).

* ``Authorization: Bearer <token>`` on any route (scripts, curl, the OpenAPI page's client).
* ``/login`` takes the token once and sets an HttpOnly, SameSite=Strict cookie holding an HMAC
  of it (never the token itself); ``/logout`` clears it.
* Every form post made with the cookie carries a CSRF token (an HMAC of the session, in a
  hidden field or the ``X-CSRF-Token`` header); a bearer call needs none, since a browser never
  adds that header by itself.

Comparisons are constant-time. Changing the token (a restart with another one) ends every
session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import HTTPException, Request

COOKIE = "orgforge_session"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def new_token() -> str:
    return secrets.token_urlsafe(24)


class Auth:
    def __init__(self, token: str) -> None:
        self.token = token
        self._key = hashlib.sha256(b"orgforge-web|" + token.encode()).digest()

    def _mac(self, what: str) -> str:
        return hmac.new(self._key, what.encode(), hashlib.sha256).hexdigest()

    @property
    def session(self) -> str:
        return self._mac("session")

    def csrf(self) -> str:
        return self._mac("csrf|" + self.session)

    def token_ok(self, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self.token.encode())

    def how(self, request: Request) -> str | None:
        """``bearer``, ``cookie`` or None (not signed in)."""
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value and self.token_ok(value.strip()):
            return "bearer"
        cookie = request.cookies.get(COOKIE)
        if cookie and hmac.compare_digest(cookie.encode(), self.session.encode()):
            return "cookie"
        return None

    async def csrf_ok(self, request: Request) -> bool:
        given = request.headers.get(CSRF_HEADER)
        if given is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
        return given is not None and hmac.compare_digest(given.encode(), self.csrf().encode())


class NotSignedIn(HTTPException):
    """A page asked for without a session: the handler sends the browser to /login."""

    def __init__(self, path: str) -> None:
        super().__init__(status_code=401, detail="sign in first")
        self.path = path
