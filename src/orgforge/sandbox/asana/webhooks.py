"""Webhooks: the X-Hook-Secret handshake and signed, retried deliveries.

``POST /webhooks`` calls the target *while the request is still open* with an ``X-Hook-Secret``
header; the target must answer 200 or 204 echoing that header, or creation fails (400). Every
event the webhook's resource sees (after its filters) is then delivered as
``{"events": [...]}`` with ``X-Hook-Signature`` = hex HMAC-SHA256 of the body keyed with the
secret. A delivery that fails (no 2xx within the timeout) is retried with exponential back-off
(1 s, 2 s, 4 s … capped at 1 h) until 24 h after the first failure, then the webhook is
deactivated, as Asana does. Unlike Asana, loopback targets are allowed: that is the point of a
local sandbox.

Back-offs and the 24 h limit run on the sandbox's clock. The delivery thread looks at that clock
at least once a second of real time, so on a simulated clock a retry goes out within a second of
the clock being advanced past it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx

from orgforge.clock import REAL, Clock

HANDSHAKE_TIMEOUT = 10.0
DELIVERY_TIMEOUT = 10.0
GIVE_UP_AFTER = 24 * 3600.0
MAX_BACKOFF = 3600.0


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def handshake(target: str, timeout: float = HANDSHAKE_TIMEOUT) -> tuple[str | None, str]:
    """Send the handshake; (secret, "") when the target echoed it, else (None, why)."""
    secret = secrets.token_hex(16)
    try:
        response = httpx.post(
            target,
            headers={"X-Hook-Secret": secret, "Content-Type": "application/json"},
            content=b"",
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        return None, f"could not reach {target} ({type(exc).__name__})"
    if response.status_code not in (200, 204):
        return None, f"{target} answered the handshake with HTTP {response.status_code}"
    if response.headers.get("X-Hook-Secret") != secret:
        return None, f"{target} did not echo the X-Hook-Secret header"
    return secret, ""


def matches(filters: list[dict[str, Any]] | None, event: dict[str, Any]) -> bool:
    """An event passes when there are no filters or any filter matches all its given keys."""
    if not filters:
        return True
    resource = event.get("resource") or {}
    for f in filters:
        if f.get("resource_type") and f["resource_type"] != resource.get("resource_type"):
            continue
        if f.get("resource_subtype") and f["resource_subtype"] != resource.get("resource_subtype"):
            continue
        if f.get("action") and f["action"] != event.get("action"):
            continue
        wanted = f.get("fields")
        if wanted and (event.get("change") or {}).get("field") not in wanted:
            continue
        return True
    return False


@dataclass
class _Pending:
    webhook: str
    target: str
    secret: str
    events: list[dict[str, Any]]
    due: float = 0.0
    attempts: int = 0
    first_failure: float | None = None


@dataclass
class Deliveries:
    """A background thread that posts queued events to webhook targets and retries failures."""

    on_result: Any  # callable(webhook_gid, ok: bool, detail: str, retry_count: int, next_at)
    first_backoff: float = 1.0  # seconds before the first retry; doubles per attempt
    clock: Clock = REAL  # when deliveries are due and when to give up
    queue: deque[_Pending] = field(default_factory=deque)
    _wake: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    delivered: int = 0
    failed: int = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="asana-sandbox-webhooks", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def send(self, webhook: str, target: str, secret: str, events: list[dict[str, Any]]) -> None:
        self.queue.append(_Pending(webhook, target, secret, events, due=self.clock.monotonic()))
        self._wake.set()

    def idle(self) -> bool:
        return not self.queue

    def _run(self) -> None:
        with httpx.Client(timeout=DELIVERY_TIMEOUT) as client:
            while not self._stop.is_set():
                now = self.clock.monotonic()
                ready = [p for p in list(self.queue) if p.due <= now]
                for pending in ready:
                    self._deliver(client, pending)
                waits = [p.due - self.clock.monotonic() for p in self.queue]
                self._wake.wait(timeout=min([1.0, *waits]) if waits else 1.0)
                self._wake.clear()

    def _deliver(self, client: httpx.Client, pending: _Pending) -> None:
        body = json.dumps({"events": pending.events}).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Hook-Signature": sign(pending.secret, body),
        }
        try:
            response = client.post(pending.target, content=body, headers=headers)
            ok, detail = 200 <= response.status_code < 300, f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            ok, detail = False, type(exc).__name__
        now = self.clock.monotonic()
        if ok:
            self.queue.remove(pending)
            self.delivered += 1
            self.on_result(pending.webhook, True, detail, pending.attempts, None)
            return
        self.failed += 1
        pending.attempts += 1
        if pending.first_failure is None:  # not `or`: a clock's monotonic time may start at 0
            pending.first_failure = now
        if now - pending.first_failure >= GIVE_UP_AFTER:
            self.queue.remove(pending)
            self.on_result(pending.webhook, False, detail, pending.attempts, "deactivate")
            return
        pending.due = now + min(MAX_BACKOFF, self.first_backoff * 2.0 ** (pending.attempts - 1))
        self.on_result(pending.webhook, False, detail, pending.attempts, pending.due - now)
