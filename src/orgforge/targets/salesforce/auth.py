"""Logging in to Salesforce the way the field does, on simple-salesforce.

Modes (``salesforce.auth``; ``auto`` picks the first that applies, in this order):

``token``     ``instance_url`` + ``SF_ACCESS_TOKEN`` (a session id you already have);
``jwt``       OAuth 2.0 JWT bearer: ``username``, ``consumer_key``, ``key_file``, ``login_url``;
``password``  ``username`` + ``SF_PASSWORD`` (+ ``SF_SECURITY_TOKEN``), SOAP login at ``login_url``;
``sf-cli``    reuse the Salesforce CLI's stored auth: ``sf org display --json --target-org ALIAS``
              (falls back to the legacy ``sfdx force:org:display --json -u ALIAS``).

Secrets come only from the environment, ``.env`` or flags, never from orgforge.yaml, and never
appear in messages, logs or run directories.

simple-salesforce always builds ``https://`` URLs. When an instance or login URL is plain
``http://`` (the local sandbox), :class:`RoutingSession` sends those requests over http to
that host, and login hosts (``login.salesforce.com``…) to the login URL's host. Any
``requests.Session`` can be injected instead (tests, proxies, custom TLS).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from orgforge.config import SalesforceConfig
from orgforge.errors import AuthError, ConfigError

SECRET_ENV = ("SF_ACCESS_TOKEN", "SF_PASSWORD", "SF_SECURITY_TOKEN", "SF_CONSUMER_SECRET")
PLAIN_ENV = {
    "SF_ORG_ALIAS": "org",
    "SF_INSTANCE_URL": "instance_url",
    "SF_USERNAME": "username",
}
"""Non-secret variables the field uses (PRD §10.1), applied when the setting is not given."""


def read_env(cwd: Path | None = None, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """SF_* variables from ``.env`` (in ``cwd``) then the process environment (which wins)."""
    values: dict[str, str] = {}
    dotenv_path = (cwd or Path.cwd()) / ".env"
    if dotenv_path.is_file():
        from dotenv import dotenv_values

        values.update(
            {k: v for k, v in dotenv_values(dotenv_path).items() if v and k.startswith("SF_")}
        )
    source = os.environ if environ is None else environ
    values.update({k: v for k, v in source.items() if k.startswith("SF_") and v})
    return values


def mask(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "****")
    return text


def _check_private_key(path: Path, shown: str) -> None:
    """The JWT key file is a PEM private key, checked before any request: a missing file,
    a FIFO or a file of garbage is a ConfigError, not a crash inside the JWT library."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from orgforge.inputs import check_path, read_bytes

    hint = "Point key_file at the PEM private key of the connected app's certificate."
    if check_path(path, "salesforce.key_file:", ConfigError) is None:
        raise ConfigError(f"salesforce.key_file: {shown} does not exist", hint)
    data = read_bytes(path, "salesforce.key_file:", ConfigError, hint)
    try:
        load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        reason = "it needs a password" if isinstance(exc, TypeError) else "not a PEM private key"
        raise ConfigError(f"salesforce.key_file: {shown}: {reason}", hint) from None


class RequestCounter:
    """Counts HTTP requests made through a session (a response hook), thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.total = 0

    def __call__(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        with self._lock:
            self.total += 1


class RoutingSession(requests.Session):
    """Sends https requests for plain-http hosts over http (see the module docstring)."""

    def __init__(self, http_hosts: set[str], login_netloc: str | None = None) -> None:
        super().__init__()
        self.http_hosts = set(http_hosts)
        self.login_netloc = login_netloc

    def route(self, url: str) -> str:
        parts = urlsplit(url)
        host = parts.hostname or ""
        netloc = parts.netloc
        if self.login_netloc and (host.endswith(".salesforce.com") or host.endswith(".force.com")):
            netloc = self.login_netloc
        elif netloc not in self.http_hosts:
            return url
        return urlunsplit(("http", netloc, parts.path, parts.query, parts.fragment))

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return super().request(method, self.route(str(url)), *args, **kwargs)


def _netloc(url: str) -> str:
    return urlsplit(url).netloc


def login_domain(login_url: str) -> str:
    """simple-salesforce's ``domain`` for a login URL: login, test, or a My Domain prefix."""
    parts = urlsplit(login_url if "://" in login_url else f"https://{login_url}")
    host = parts.hostname or ""
    if parts.scheme == "http" or not host.endswith(".salesforce.com"):
        return "login"  # a local sandbox: RoutingSession sends login.salesforce.com to it
    return host.removesuffix(".salesforce.com")


@dataclass
class Credentials:
    """What a login produced: enough to build a simple_salesforce.Salesforce."""

    mode: str
    instance_url: str
    sf: Any  # simple_salesforce.Salesforce
    username: str | None = None
    secrets: list[str] = field(default_factory=list)


class Authenticator:
    """Resolves the auth mode and logs in; :meth:`login` can be called again to re-auth."""

    def __init__(
        self,
        settings: SalesforceConfig,
        *,
        session: requests.Session | None = None,
        env: Mapping[str, str] | None = None,
        run_cli: Callable[[list[str]], subprocess.CompletedProcess] | None = None,
    ) -> None:
        self.settings = settings
        self.env = dict(read_env() if env is None else env)
        for name, attr in PLAIN_ENV.items():
            if self.env.get(name) and not getattr(settings, attr, None):
                settings = settings.model_copy(update={attr: self.env[name]})
        self.settings = settings
        self.secrets = [self.env[n] for n in SECRET_ENV if self.env.get(n)]
        self._injected = session
        self.counter = RequestCounter()
        self.session = session
        self._run_cli = run_cli or _run
        self.mode = self._mode()

    # -- mode --------------------------------------------------------------------------------

    def _mode(self) -> str:
        s = self.settings
        mode = s.auth
        if mode != "auto":
            return mode
        if self.env.get("SF_ACCESS_TOKEN"):
            return "token"
        if s.key_file and s.consumer_key and s.username:
            return "jwt"
        if self.env.get("SF_PASSWORD") and s.username:
            return "password"
        return "sf-cli"

    @property
    def can_reauth(self) -> bool:
        return self.mode != "token"

    def _session_for(self, *urls: str | None) -> requests.Session:
        if self.session is None:
            http_hosts = {_netloc(u) for u in urls if u and u.startswith("http://")}
            login = self.settings.login_url
            login_netloc = _netloc(login) if login.startswith("http://") else None
            self.session = RoutingSession(http_hosts, login_netloc)
            self.session.hooks["response"].append(self.counter)
        else:
            if isinstance(self.session, RoutingSession):
                self.session.http_hosts |= {
                    _netloc(u) for u in urls if u and u.startswith("http://")
                }
            if self.counter not in self.session.hooks["response"]:
                self.session.hooks["response"].append(self.counter)
        return self.session

    # -- login -------------------------------------------------------------------------------

    def login(self) -> Credentials:
        method = {
            "token": self._token,
            "jwt": self._jwt,
            "password": self._password,
            "sf-cli": self._sf_cli,
        }[self.mode]
        return method()

    def _build(self, **kwargs: Any) -> Any:
        from simple_salesforce import Salesforce
        from simple_salesforce.exceptions import SalesforceAuthenticationFailed

        try:
            return Salesforce(version=self.settings.api_version, **kwargs)
        except SalesforceAuthenticationFailed as exc:
            code = getattr(exc, "code", "") or "INVALID_LOGIN"
            message = mask(str(getattr(exc, "message", "") or exc), self.secrets)
            who = kwargs.get("username") or "?"
            raise AuthError(
                f"salesforce ({self.mode}): login as {who} at {self.settings.login_url} failed: "
                f"{code}: {message}".rstrip(": "),
                self._hint(),
            ) from None
        except requests.RequestException as exc:
            raise AuthError(
                f"salesforce ({self.mode}): can't reach {self.settings.login_url} "
                f"({exc.__class__.__name__})",
                "Check login_url / instance_url and your network.",
            ) from None

    def _hint(self) -> str:
        return {
            "token": "Set SF_ACCESS_TOKEN to a live session id for instance_url "
            "(e.g. from `sf org display --json`).",
            "jwt": "Check username, consumer_key, key_file and login_url (test.salesforce.com "
            "for sandboxes); the user must be pre-authorized for the connected app.",
            "password": "Check SF_PASSWORD and SF_SECURITY_TOKEN in your environment or .env.",
            "sf-cli": "Run `sf org login web --alias ALIAS`, then pass --org ALIAS.",
        }[self.mode]

    def _token(self) -> Credentials:
        token = self.env.get("SF_ACCESS_TOKEN")
        url = self.settings.instance_url
        if not url:
            raise ConfigError(
                "salesforce.instance_url is not set (needed with SF_ACCESS_TOKEN)",
                "Set it in orgforge.yaml, ORGFORGE_SALESFORCE__INSTANCE_URL or --instance-url.",
            )
        if not token:
            raise ConfigError(
                "salesforce: auth is 'token' but SF_ACCESS_TOKEN is not set",
                "Export SF_ACCESS_TOKEN or put it in .env (never in orgforge.yaml).",
            )
        sf = self._build(instance_url=url, session_id=token, session=self._session_for(url))
        return Credentials("token", url.rstrip("/"), sf, self.settings.username, self.secrets)

    def _jwt(self) -> Credentials:
        s = self.settings
        missing = [n for n in ("username", "consumer_key", "key_file") if not getattr(s, n)]
        if missing:
            raise ConfigError(
                f"salesforce: auth 'jwt' needs {', '.join('salesforce.' + m for m in missing)}",
                "Set them in orgforge.yaml (the key file path, never the key itself).",
            )
        _check_private_key(Path(s.key_file).expanduser(), s.key_file)
        sf = self._build(
            username=s.username,
            consumer_key=s.consumer_key,
            privatekey_file=str(Path(s.key_file).expanduser()),
            domain=login_domain(s.login_url),
            session=self._session_for(s.login_url, s.instance_url),
        )
        return Credentials("jwt", _instance_of(sf), sf, s.username, self.secrets)

    def _password(self) -> Credentials:
        s = self.settings
        password = self.env.get("SF_PASSWORD")
        if not s.username or not password:
            raise ConfigError(
                "salesforce: auth 'password' needs salesforce.username and SF_PASSWORD",
                "Set username in orgforge.yaml and SF_PASSWORD (+ SF_SECURITY_TOKEN) in .env.",
            )
        session = self._session_for(s.login_url, s.instance_url)
        sf = self._build(
            username=s.username,
            password=password,
            security_token=self.env.get("SF_SECURITY_TOKEN", ""),
            domain=login_domain(s.login_url),
            session=session,
        )
        return Credentials("password", _instance_of(sf), sf, s.username, self.secrets)

    def _sf_cli(self) -> Credentials:
        alias = self.settings.org
        info = self.org_display(alias)
        token = info.get("accessToken")
        url = info.get("instanceUrl")
        if not token or not url:
            raise AuthError(
                f"salesforce (sf-cli): org {alias or '(default)'} has no access token "
                f"(connectedStatus: {info.get('connectedStatus', '?')})",
                "Log in again: `sf org login web --alias ALIAS`.",
            )
        self.secrets.append(token)
        sf = self._build(instance_url=url, session_id=token, session=self._session_for(url))
        return Credentials("sf-cli", url.rstrip("/"), sf, info.get("username"), self.secrets)

    def org_display(self, alias: str | None) -> dict[str, Any]:
        """``sf org display --json`` (or legacy sfdx) → its ``result`` object."""
        if shutil.which("sf"):
            cmd = ["sf", "org", "display", "--json"]
            if alias:
                cmd += ["--target-org", alias]
        elif shutil.which("sfdx"):
            cmd = ["sfdx", "force:org:display", "--json"]
            if alias:
                cmd += ["-u", alias]
        else:
            raise ConfigError(
                "salesforce: no credentials given and the Salesforce CLI (sf) is not on PATH",
                "Install the sf CLI and `sf org login web`, or set SF_ACCESS_TOKEN + "
                "instance_url, or username + SF_PASSWORD, or JWT settings.",
            )
        proc = self._run_cli(cmd)
        try:
            data = json.loads(proc.stdout or proc.stderr or "{}")
        except json.JSONDecodeError:
            raise AuthError(
                f"salesforce (sf-cli): `{' '.join(cmd)}` printed no JSON (exit {proc.returncode})",
                "Run the command yourself to see what is wrong with the CLI.",
            ) from None
        if data.get("status", proc.returncode) != 0 or "result" not in data:
            name = data.get("name", "error")
            message = mask(str(data.get("message", "")).strip(), self.secrets)
            error_class = ConfigError if "NotFound" in name or "NoAuth" in name else AuthError
            raise error_class(
                f"salesforce (sf-cli): org {alias or '(default)'}: {name}: {message}",
                "List your orgs with `sf org list`; log in with "
                "`sf org login web --alias ALIAS`, then pass --org ALIAS.",
            )
        return data["result"]


def _instance_of(sf: Any) -> str:
    return f"https://{sf.sf_instance}"


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AuthError(
            f"salesforce (sf-cli): `{' '.join(cmd)}` failed to run ({exc.__class__.__name__})",
            "Check the sf CLI installation (`sf --version`).",
        ) from None
