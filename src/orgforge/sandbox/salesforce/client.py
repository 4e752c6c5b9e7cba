"""Connecting ordinary clients to a sandbox.

simple-salesforce always builds ``https://`` URLs (and logs in at ``https://login.salesforce.com``).
:func:`sandbox_session` returns a ``requests.Session`` that sends those requests to the sandbox:
for a plain-HTTP sandbox it maps https→http; for a TLS sandbox it trusts the sandbox's
self-signed certificate. Login hosts (``*.salesforce.com``) are routed to the sandbox too, so
simple-salesforce's own username/password and JWT logins work against it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests


class _SandboxSession(requests.Session):
    def __init__(self, instance_url: str, cert_path: str | Path | None) -> None:
        super().__init__()
        parts = urlsplit(instance_url)
        self._scheme = parts.scheme or "http"
        self._netloc = parts.netloc
        if cert_path is not None:
            self.verify = str(cert_path)

    def _target(self, url: str) -> str:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if (
            parts.netloc == self._netloc
            or host.endswith(".salesforce.com")
            or host.endswith(".force.com")
        ):
            return urlunsplit((self._scheme, self._netloc, parts.path, parts.query, parts.fragment))
        return url

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        target = self._target(str(url))
        if target != str(url) or target.startswith(f"{self._scheme}://{self._netloc}"):
            # An explicit verify beats REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE from the environment,
            # which requests would otherwise prefer over session.verify.
            kwargs.setdefault("verify", self.verify)
        return super().request(method, target, *args, **kwargs)


def sandbox_session(instance_url: str, cert_path: str | Path | None = None) -> requests.Session:
    """A ``requests.Session`` for simple-salesforce (``Salesforce(..., session=...)``).

    >>> sf = Salesforce(instance_url=sb.instance_url, session_id=sb.token,
    ...                 session=sandbox_session(sb.instance_url))
    """
    return _SandboxSession(instance_url, cert_path)


def simple_salesforce(sandbox: Any, **kwargs: Any) -> Any:
    """A logged-in ``simple_salesforce.Salesforce`` for a running sandbox (static token)."""
    from simple_salesforce import Salesforce

    session = sandbox_session(sandbox.instance_url, sandbox.cert_path)
    kwargs.setdefault("version", sandbox.api_version)
    return Salesforce(
        instance_url=sandbox.instance_url, session_id=sandbox.token, session=session, **kwargs
    )
