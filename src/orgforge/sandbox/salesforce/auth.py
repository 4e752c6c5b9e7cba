"""Sessions and OAuth 2.0: password, refresh-token and JWT-bearer grants, plus SOAP login.

Tokens live in memory. A static token (``--token``) belongs to the System Administrator. An
injected ``expire`` fault invalidates the token used for that request; OAuth-issued tokens stay
invalid, and a static token comes back when its user logs in again (so long-running scripts that
re-authenticate keep working).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from typing import Any

import jwt

from orgforge.clock import REAL, Clock
from orgforge.sandbox.salesforce.org import Org

OAUTH_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


@dataclass
class Session:
    token: str
    user_id: str
    static: bool = False
    expired: bool = False
    issued_at: float = 0.0


class Auth:
    def __init__(
        self,
        org: Org,
        *,
        static_token: str,
        password: str,
        security_token: str,
        consumer_key: str,
        consumer_secret: str,
        public_key: str | None,
        token_ttl: float | None = None,
        clock: Clock = REAL,
    ) -> None:
        self.org = org
        self.clock = clock  # token expiry and JWT exp are read on it
        self.password = password
        self.security_token = security_token
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.public_key = public_key
        self.token_ttl = token_ttl
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        self._refresh: dict[str, str] = {}
        self.static_token = static_token
        self._sessions[static_token] = Session(static_token, org.admin_id, static=True)

    # ---- sessions

    def session(self, header: str | None) -> Session | None:
        """The live session for an ``Authorization: Bearer|OAuth <token>`` header, or None."""
        if not header:
            return None
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() not in ("bearer", "oauth") or not token.strip():
            return None
        with self._lock:
            sess = self._sessions.get(token.strip())
            if sess is None or sess.expired:
                return None
            if (
                self.token_ttl is not None
                and not sess.static
                and self.clock.time() - sess.issued_at > self.token_ttl
            ):
                sess.expired = True
                return None
            return sess

    def expire(self, token: str) -> None:
        with self._lock:
            if token in self._sessions:
                self._sessions[token].expired = True

    def _issue(self, user_id: str) -> str:
        token = f"{self.org.org_id[:15]}!AQ{secrets.token_urlsafe(48)}"
        with self._lock:
            self._sessions[token] = Session(token, user_id, issued_at=self.clock.time())
            for sess in self._sessions.values():  # re-auth revives the static token
                if sess.static and sess.user_id == user_id:
                    sess.expired = False
        return token

    # ---- users

    def _user_by_username(self, username: str | None) -> dict[str, Any] | None:
        if not username:
            return None
        user_obj = self.org.meta.objects["User"]
        found = self.org.find(user_obj, user_obj.fields["Username"], username)
        if not found:
            return None
        return self.org.get(user_obj, found[0])

    def check_password(self, username: str | None, password: str | None) -> dict[str, Any]:
        user = self._user_by_username(username)
        ok = password in (self.password, self.password + self.security_token)
        if user is None or not ok or not user.get("IsActive"):
            raise OAuthError("invalid_grant", "authentication failure")
        return user

    # ---- grants

    def token_response(self, user_id: str, instance_url: str, refresh: bool) -> dict[str, Any]:
        token = self._issue(user_id)
        issued = str(int(self.clock.time() * 1000))
        ident = f"{instance_url}/id/{self.org.org_id}/{user_id}"
        signature = base64.b64encode(
            hmac.new(
                self.consumer_secret.encode(), (ident + issued).encode(), hashlib.sha256
            ).digest()
        ).decode()
        body: dict[str, Any] = {
            "access_token": token,
            "instance_url": instance_url,
            "id": ident,
            "token_type": "Bearer",
            "issued_at": issued,
            "signature": signature,
        }
        if refresh:
            refresh_token = f"5Aep{secrets.token_urlsafe(40)}"
            with self._lock:
                self._refresh[refresh_token] = user_id
            body["refresh_token"] = refresh_token
            body["scope"] = "api refresh_token"
        return body

    def _check_client(self, form: dict[str, str], secret_required: bool) -> None:
        client_id = form.get("client_id")
        if client_id is None and not secret_required:
            return
        if client_id != self.consumer_key:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        secret = form.get("client_secret")
        if secret is not None and secret != self.consumer_secret:
            raise OAuthError("invalid_client", "invalid client credentials")

    def grant(self, form: dict[str, str], instance_url: str) -> dict[str, Any]:
        grant_type = form.get("grant_type")
        if grant_type == "password":
            self._check_client(form, secret_required=False)
            user = self.check_password(form.get("username"), form.get("password"))
            return self.token_response(user["Id"], instance_url, refresh=True)
        if grant_type == "refresh_token":
            self._check_client(form, secret_required=False)
            with self._lock:
                user_id = self._refresh.get(form.get("refresh_token", ""))
            if user_id is None:
                raise OAuthError("invalid_grant", "expired access/refresh token")
            return self.token_response(user_id, instance_url, refresh=False)
        if grant_type == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self._jwt(form.get("assertion", ""), instance_url)
        raise OAuthError("unsupported_grant_type", "grant type not supported")

    def _jwt(self, assertion: str, instance_url: str) -> dict[str, Any]:
        if not self.public_key:
            raise OAuthError("invalid_grant", "invalid assertion")
        try:
            claims = jwt.decode(
                assertion,
                self.public_key,
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_aud": False},
            )
        except jwt.PyJWTError:
            raise OAuthError("invalid_grant", "invalid assertion") from None
        if claims.get("iss") != self.consumer_key:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        audiences = (*OAUTH_AUDIENCES, instance_url)
        aud = claims.get("aud")
        if (aud if isinstance(aud, str) else None) not in audiences and not (
            isinstance(aud, list) and set(aud) & set(audiences)
        ):
            raise OAuthError("invalid_grant", "audience is invalid")
        try:
            exp = float(claims["exp"])  # simple-salesforce sends exp as a string
        except (KeyError, TypeError, ValueError):
            raise OAuthError("invalid_grant", "invalid assertion") from None
        if exp < self.clock.time():
            raise OAuthError("invalid_grant", "expired authorization code")
        user = self._user_by_username(claims.get("sub"))
        if user is None or not user.get("IsActive"):
            raise OAuthError("invalid_grant", "user hasn't approved this consumer")
        return self.token_response(user["Id"], instance_url, refresh=False)

    def soap_login(self, username: str | None, password: str | None) -> tuple[str, str]:
        """(session id, user id) for a SOAP ``login()`` call; raises OAuthError on bad input."""
        user = self.check_password(username, password)
        return self._issue(user["Id"]), user["Id"]

    def reset(self) -> None:
        with self._lock:
            self._refresh.clear()
            self._sessions = {t: s for t, s in self._sessions.items() if s.static or not s.expired}
            for sess in self._sessions.values():
                sess.expired = False
