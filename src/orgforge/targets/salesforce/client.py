"""The HTTP side of the Salesforce target: one request path with retries, on simple-salesforce.

Every call goes through :meth:`SalesforceClient.request`, which knows which failures a second
attempt can fix:

* 401 ``INVALID_SESSION_ID`` — re-authenticate once (sf CLI, JWT, password) and send again;
* 429 / ``REQUEST_LIMIT_EXCEEDED`` — never processed: wait (Retry-After, bounded) and resend;
* 5xx and connection errors — resent when the call is idempotent (reads, deletes);
  for a non-idempotent write the outcome is *unknown*, so :class:`OutcomeUnknown` is raised and
  the caller reconciles against the org before sending anything again (no duplicates).

Backoff is exponential with jitter, capped (``RETRY_CAP`` seconds), at most
``salesforce.max_retries`` times.
"""

from __future__ import annotations

import contextlib
import csv
import io
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import requests

from orgforge.clock import REAL, Clock
from orgforge.config import SalesforceConfig
from orgforge.errors import AuthError, TargetError
from orgforge.targets.base import RecordError
from orgforge.targets.salesforce.auth import Authenticator, Credentials, mask

RETRY_BASE = 0.2
RETRY_CAP = 8.0


class ApiError(TargetError):
    """A request Salesforce answered with an error (after any retries)."""

    def __init__(self, status: int, code: str, message: str, where: str, hint: str | None = None):
        super().__init__(f"salesforce: {where}: HTTP {status} {code}: {message}", hint)
        self.status = status
        self.code = code
        self.detail = message


class LimitExceeded(TargetError):
    """The org's 24-hour API request allowance is used up: nothing will succeed until it rolls."""


class OutcomeUnknown(TargetError):
    """A non-idempotent write got no usable answer: it may or may not have been applied."""


def _first_error(body: Any) -> tuple[str, str]:
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return str(body[0].get("errorCode", "ERROR")), str(body[0].get("message", ""))
    if isinstance(body, dict):
        if "error" in body:
            return str(body["error"]), str(body.get("error_description", ""))
        return str(body.get("errorCode", "ERROR")), str(body.get("message", ""))
    return "ERROR", str(body)[:300]


def parse_errors(errors: list[dict[str, Any]]) -> RecordError:
    """A Salesforce per-record ``errors`` list → one RecordError (the first, others appended)."""
    if not errors:
        return RecordError("UNKNOWN_ERROR", "no error detail returned")
    first = errors[0]
    message = str(first.get("message", ""))
    if len(errors) > 1:
        message += " (+ " + "; ".join(str(e.get("message", "")) for e in errors[1:3]) + ")"
    return RecordError(
        str(first.get("statusCode") or first.get("errorCode") or "UNKNOWN_ERROR"),
        message,
        tuple(first.get("fields") or ()),
    )


def soql_quote(value: str) -> str:
    """A SOQL string literal with backslash escapes (quotes, backslashes, newlines)."""
    escaped = (
        str(value)
        .replace("\\", "\\\\")
        .replace("'", "\\'")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f"'{escaped}'"


def soql_in(values: list[str]) -> str:
    return "(" + ",".join(soql_quote(v) for v in values) + ")"


class SalesforceClient:
    def __init__(
        self,
        settings: SalesforceConfig,
        *,
        session: requests.Session | None = None,
        env: dict[str, str] | None = None,
        run_cli: Callable | None = None,
        clock: Clock = REAL,
    ) -> None:
        self.settings = settings
        self.auth = Authenticator(settings, session=session, env=env, run_cli=run_cli)
        self.clock = clock  # back-offs and Retry-After waits sleep on it
        self.sleep = clock.sleep
        self.creds: Credentials | None = None
        self._auth_lock = threading.Lock()
        self._generation = 0
        self.retries = 0  # HTTP requests sent again (after a 429, 5xx, lost connection, 401)
        self.reauths = 0
        # transient faults ridden out, by kind: 429, 503 (any 5xx), connection, session expired
        self.faults: Counter[str] = Counter()
        self._count_lock = threading.Lock()
        self.identity: dict[str, Any] = {}

    # -- connection --------------------------------------------------------------------------

    def connect(self) -> SalesforceClient:
        self.creds = self.auth.login()
        info = self.request("GET", self._oauth_url("userinfo"), absolute=True, what="userinfo")
        self.identity = {
            "org_id": info.get("organization_id"),
            "user_id": info.get("user_id"),
            "username": info.get("preferred_username") or info.get("username"),
        }
        return self

    @property
    def sf(self) -> Any:
        assert self.creds is not None, "connect() first"
        return self.creds.sf

    @property
    def requests_used(self) -> int:
        return self.auth.counter.total

    @property
    def org_id(self) -> str:
        return str(self.identity.get("org_id") or "")

    @property
    def user_id(self) -> str:
        return str(self.identity.get("user_id") or "")

    @property
    def instance_url(self) -> str:
        return self.creds.instance_url if self.creds else ""

    def _oauth_url(self, path: str) -> str:
        return f"{self.sf.oauth2_url}{path}"

    def _reauth(self, generation: int) -> None:
        with self._auth_lock:
            if generation != self._generation:
                return  # another thread already logged in again
            if not self.auth.can_reauth and not self.identity:
                raise AuthError(
                    f"salesforce: {self.settings.instance_url} refused the access token "
                    "(HTTP 401 INVALID_SESSION_ID)",
                    "Set SF_ACCESS_TOKEN to a live session id for that instance "
                    "(e.g. `sf org display --json` → result.accessToken).",
                )
            if not self.auth.can_reauth:
                raise AuthError(
                    "salesforce: the session expired (INVALID_SESSION_ID) and an access token "
                    "can't be renewed",
                    "Get a fresh SF_ACCESS_TOKEN, or use sf CLI / JWT / password auth, which "
                    "orgforge renews by itself.",
                )
            self.creds = self.auth.login()
            self._generation += 1
            self.reauths += 1

    # -- the one request path ----------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: str | bytes | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        absolute: bool = False,
        idempotent: bool = True,
        expect: str = "json",
        what: str = "",
    ) -> Any:
        url = path if absolute else self.sf.base_url + path
        what = what or f"{method} {path.split('?')[0]}"
        attempt = 0
        reauths = 0
        while True:
            generation = self._generation
            sent_headers = dict(self.sf.headers)
            sent_headers.pop("X-PrettyPrint", None)
            if headers:
                sent_headers.update(headers)
            try:
                response = self.sf.session.request(
                    method,
                    url,
                    json=json,
                    data=data,
                    params=params,
                    headers=sent_headers,
                    timeout=self.settings.timeout,
                )
            except requests.RequestException as exc:
                if not idempotent:
                    self._fault("connection")  # ridden out by reconciling, then resending
                    raise OutcomeUnknown(
                        f"salesforce: {what}: no answer ({exc.__class__.__name__})"
                    ) from None
                attempt = self._backoff(attempt, None, what, f"{exc.__class__.__name__}")
                self._fault("connection")
                continue
            status = response.status_code
            if status < 300:
                if expect == "none" or status == 204 or not response.content:
                    return None
                if expect == "text":
                    return response.content.decode("utf-8")
                return response.json()
            body: Any
            try:
                body = response.json()
            except ValueError:
                body = response.text
            code, message = _first_error(body)
            message = mask(message, self.auth.secrets)
            if (
                status == 401
                and code in ("INVALID_SESSION_ID", "ERROR")
                and reauths <= self.settings.max_retries
            ):
                # Expired: log in again (once per expiry; a fresh session that expires again
                # is a new expiry) and resend. The request was refused, never applied.
                self._reauth(generation)
                reauths += 1
                self._fault("session expired")
                with self._count_lock:
                    self.retries += 1
                continue
            if status == 401:
                raise AuthError(
                    f"salesforce: {what}: HTTP 401 {code}: {message}",
                    self.auth._hint(),
                )
            if status == 403 and code == "REQUEST_LIMIT_EXCEEDED":
                raise LimitExceeded(
                    f"salesforce: {what}: the org's daily API request limit is used up ({message})",
                    "Run the same command again once the 24-hour window rolls; it resumes "
                    "where it stopped (Bulk API uses far fewer requests: --api bulk).",
                )
            if status == 429 or code == "REQUEST_LIMIT_EXCEEDED":
                attempt = self._backoff(attempt, response.headers.get("Retry-After"), what, code)
                self._fault("429")
                continue
            if status >= 500:
                if not idempotent:
                    self._fault(str(status))  # ridden out by reconciling, then resending
                    raise OutcomeUnknown(f"salesforce: {what}: HTTP {status} {code}: {message}")
                attempt = self._backoff(attempt, response.headers.get("Retry-After"), what, code)
                self._fault(str(status))
                continue
            raise ApiError(status, code, message, what)

    def _backoff(self, attempt: int, retry_after: str | None, what: str, code: str) -> int:
        if attempt >= self.settings.max_retries:
            raise ApiError(
                0,
                code,
                f"still failing after {attempt + 1} attempts",
                what,
                "Salesforce is overloaded or unreachable; run the command again later "
                "(it resumes where it stopped).",
            )
        delay = min(RETRY_CAP, RETRY_BASE * 2**attempt) * (0.5 + random.random() / 2)
        if retry_after:
            with contextlib.suppress(ValueError):
                delay = min(RETRY_CAP, max(delay, float(retry_after)))
        with self._count_lock:
            self.retries += 1
        self.sleep(delay)
        return attempt + 1

    def _fault(self, kind: str) -> None:
        with self._count_lock:
            self.faults[kind] += 1

    # -- REST helpers ------------------------------------------------------------------------

    def versions(self) -> list[dict[str, Any]]:
        base = self.sf.base_url.split("/services/data/")[0]
        return self.request("GET", f"{base}/services/data", absolute=True, what="versions")

    def limits(self) -> dict[str, Any]:
        return self.request("GET", "limits", what="limits")

    def describe(self, object_name: str) -> dict[str, Any]:
        return self.request(
            "GET", f"sobjects/{object_name}/describe", what=f"describe {object_name}"
        )

    def query_all(self, soql: str) -> Iterator[dict[str, Any]]:
        result = self.request("GET", "query", params={"q": soql}, what="query")
        while True:
            yield from result.get("records", [])
            next_url = result.get("nextRecordsUrl")
            if result.get("done", True) or not next_url:
                return
            base = self.sf.base_url.split("/services/data/")[0]
            result = self.request("GET", base + next_url, absolute=True, what="query more")

    def create_many(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """POST /composite/sobjects (allOrNone false): one result per record, in order."""
        return self.request(
            "POST",
            "composite/sobjects",
            json={"allOrNone": False, "records": records},
            headers={"Sforce-Auto-Assign": "FALSE"},
            idempotent=False,
            what=f"create {len(records)} records",
        )

    def upsert_many(
        self, object_name: str, field: str, records: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """PATCH /composite/sobjects/{object}/{externalIdField}.

        Resending can't duplicate, but it would answer ``created: false`` for records the lost
        attempt created, and orgforge would take them for pre-existing ones; so a lost answer
        is reconciled (by key) like an insert's."""
        return self.request(
            "PATCH",
            f"composite/sobjects/{object_name}/{field}",
            json={"allOrNone": False, "records": records},
            headers={"Sforce-Auto-Assign": "FALSE"},
            idempotent=False,
            what=f"upsert {len(records)} {object_name}",
        )

    def update_many(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """PATCH /composite/sobjects (allOrNone false): records carry ``attributes`` and ``id``.

        Setting the same values twice leaves the same record, so a lost answer is simply sent
        again (idempotent), unlike a create."""
        return self.request(
            "PATCH",
            "composite/sobjects",
            json={"allOrNone": False, "records": records},
            headers={"Sforce-Auto-Assign": "FALSE"},
            what=f"update {len(records)} records",
        )

    def delete_many(self, ids: list[str]) -> list[dict[str, Any]]:
        return self.request(
            "DELETE",
            "composite/sobjects",
            params={"ids": ",".join(ids), "allOrNone": "false"},
            what=f"delete {len(ids)} records",
        )

    # -- Bulk API 2.0 ------------------------------------------------------------------------

    def bulk_create_job(
        self, object_name: str, operation: str, external_id: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "object": object_name,
            "operation": operation,
            "contentType": "CSV",
            "lineEnding": "LF",
            "columnDelimiter": "COMMA",
        }
        if external_id:
            body["externalIdFieldName"] = external_id
        # A job with no data can't create anything, so retrying its creation is harmless.
        return self.request("POST", "jobs/ingest", json=body, what=f"bulk job {object_name}")

    def bulk_upload(self, job_id: str, csv_text: str) -> None:
        self.request(
            "PUT",
            f"jobs/ingest/{job_id}/batches",
            data=csv_text.encode("utf-8"),
            headers={"Content-Type": "text/csv"},
            idempotent=False,
            expect="none",
            what=f"bulk upload {job_id}",
        )

    def bulk_set_state(self, job_id: str, state: str) -> dict[str, Any]:
        return self.request(
            "PATCH",
            f"jobs/ingest/{job_id}",
            json={"state": state},
            idempotent=False,
            what=f"bulk {state} {job_id}",
        )

    def bulk_job(self, job_id: str) -> dict[str, Any]:
        return self.request("GET", f"jobs/ingest/{job_id}", what=f"bulk job {job_id}")

    def bulk_results(self, job_id: str, which: str) -> list[dict[str, str]]:
        text = self.request(
            "GET",
            f"jobs/ingest/{job_id}/{quote(which)}",
            headers={"Accept": "text/csv"},
            expect="text",
            what=f"bulk {which} {job_id}",
        )
        if not text:
            return []
        return list(csv.DictReader(io.StringIO(text)))
