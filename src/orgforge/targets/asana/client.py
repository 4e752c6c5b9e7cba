"""The Asana target on the official ``asana`` SDK (v5): one method call per action.

Every write returns one :class:`WriteResult` per record — key, gid or error — so a scheduler
can call ``create([record])`` for one action and ``create(records)`` for a plan alike. What the
target does about Asana's answers:

- **429**: honour ``Retry-After`` (that token waits, through the limiter), then send again; the
  client-side limiter keeps each token under 80% of its quota so this stays rare.
- **5xx and connection errors**: exponential back-off and retry, up to ``max_retries``.
- **401**: that persona's token is marked invalid with a clear message; its later records fail
  at once (``INVALID_TOKEN``) without a request, and the other personas go on.
- **402** (a premium-only feature on a free workspace): the feature is skipped and reported —
  a task's custom field values are dropped and the task created without them; a custom field
  or a project's custom field setting comes back as ``PAYMENT_REQUIRED`` (skipped, not failed).
- **400/403/404**: the record's error, not retried.

The SDK's own urllib3 retries are switched off (``Retry(total=0)``): it would sleep on its own
clock and never retry a POST, while the target's retries run on the injected clock and sleep.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import asana
import urllib3
from asana.rest import ApiException
from urllib3.util.retry import Retry

from orgforge.clock import REAL, Clock
from orgforge.errors import AuthError, ConfigError, TargetError
from orgforge.targets.asana.limiter import ClientRateLimiter
from orgforge.targets.asana.records import AsanaRecord
from orgforge.targets.asana.tokens import DEFAULT, Tokens, env_name
from orgforge.targets.base import RecordError, WriteResult

FREE_QUOTA, PAID_QUOTA = 150, 1500
PREMIUM_FEATURES = ("custom_fields",)


@dataclass
class TargetReport:
    """Figures and notices for the run summary."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0  # 429s received
    waited_seconds: float = 0.0
    skipped_features: Counter[str] = field(default_factory=Counter)
    invalid_tokens: dict[str, str] = field(default_factory=dict)  # persona → message
    acted_as: Counter[str] = field(default_factory=Counter)  # persona → requests

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "waited_seconds": round(self.waited_seconds, 3),
            "skipped_features": dict(self.skipped_features),
            "invalid_tokens": dict(self.invalid_tokens),
            "acted_as": dict(self.acted_as),
        }


class _Failure(Exception):
    def __init__(self, error: RecordError, status: int | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.status = status


def _message(exc: ApiException) -> str:
    try:
        body = json.loads(exc.body or b"{}")
        return "; ".join(e.get("message", "") for e in body.get("errors", [])) or str(exc.reason)
    except (ValueError, AttributeError, TypeError):
        return str(exc.reason or exc.status)


class _TimedApiClient(asana.ApiClient):
    """The SDK's client with a default per-request timeout (the SDK's own default is none)."""

    def __init__(self, configuration: asana.Configuration, timeout: float) -> None:
        super().__init__(configuration)
        # The SDK starts a ThreadPool per client for async_req calls, which orgforge never
        # makes: one client per persona would otherwise hold cpu_count + 3 idle threads each.
        pool = getattr(self, "pool", None)
        if pool is not None:
            pool.close()
            pool.join()
            del self.pool
        # A (connect, read) pair: the SDK's rest.py silently ignores a float (it checks int).
        self._timeout = (timeout, timeout)

    def call_api(self, *args: Any, **kwargs: Any) -> Any:
        # API methods pass _request_timeout by name, the page iterators as the 15th argument.
        if len(args) >= 15:
            if args[14] is None:
                args = (*args[:14], self._timeout, *args[15:])
        elif kwargs.get("_request_timeout") is None:
            kwargs["_request_timeout"] = self._timeout
        return super().call_api(*args, **kwargs)


def _retry_after(headers: Any) -> float:
    value = (headers or {}).get("Retry-After")
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return 1.0  # missing or an HTTP date: wait a second and let the limiter pace it


class AsanaTarget:
    """Asana through the official SDK, one ApiClient per persona's token."""

    name = "asana"

    def __init__(
        self,
        url: str,
        tokens: Tokens,
        *,
        quota_per_minute: int = FREE_QUOTA,
        share: float = 0.8,
        max_retries: int = 5,
        timeout: float = 60.0,
        clock: Clock = REAL,
        rate_window: float = 60.0,
    ) -> None:
        if not tokens.default:
            raise ConfigError(
                "no Asana token: ORGFORGE_ASANA_TOKEN is not set",
                "Put ORGFORGE_ASANA_TOKEN (and ORGFORGE_ASANA_TOKEN__<PERSONA> per person) in "
                "the environment or .env; `orgforge sandbox asana` prints a set.",
            )
        self.url = url.rstrip("/")
        self.tokens = tokens
        self.max_retries = max_retries
        self.timeout = timeout
        self._sleep = clock.sleep
        self.limiter = ClientRateLimiter(quota_per_minute, share, clock=clock, window=rate_window)
        self.gids: dict[str, str] = {}  # key → gid of what this target created (write())
        self.report = TargetReport()
        self._clients: dict[str, asana.ApiClient] = {}
        self._me: dict[str, dict[str, Any]] = {}

    # -- plumbing --------------------------------------------------------------------------

    def _client(self, persona: str) -> asana.ApiClient:
        if persona not in self._clients:
            cfg = asana.Configuration()
            cfg.host = self.url
            cfg.access_token = self.tokens.by_persona[persona]
            cfg.retry_strategy = Retry(total=0, redirect=0, raise_on_status=False)
            self._clients[persona] = _TimedApiClient(cfg, self.timeout)
        return self._clients[persona]

    def _call(self, persona: str | None, action: Callable[[asana.ApiClient], Any]) -> Any:
        """Run one SDK call as ``persona`` (or the default) with limits, retries and 401s."""
        who, token = self.tokens.for_persona(persona)
        if who in self.report.invalid_tokens:
            raise _Failure(RecordError("INVALID_TOKEN", self.report.invalid_tokens[who]), 401)
        assert token is not None
        attempt = 0
        while True:
            self.limiter.acquire(token)
            self.report.waited_seconds = self.limiter.waited
            self.report.requests += 1
            self.report.acted_as[who] += 1
            try:
                return action(self._client(who))
            except ApiException as exc:
                status = int(exc.status or 0)
                if status == 401:
                    message = (
                        f"{env_name(who)}: Asana answered 401 Not Authorized "
                        "(the token is wrong, expired or revoked)"
                    )
                    self.report.invalid_tokens[who] = message
                    raise _Failure(RecordError("INVALID_TOKEN", message), 401) from None
                retryable = status == 429 or status >= 500 or status == 0
                if not retryable or attempt >= self.max_retries:
                    code = {
                        402: "PAYMENT_REQUIRED",
                        403: "FORBIDDEN",
                        404: "NOT_FOUND",
                        429: "HTTP_429",
                    }.get(status, f"HTTP_{status}")
                    raise _Failure(RecordError(code, _message(exc)), status) from None
                if status == 429:
                    self.report.rate_limited += 1
                    self.limiter.block(token, _retry_after(exc.headers))
                else:
                    self._backoff(attempt)
            except urllib3.exceptions.HTTPError as exc:
                if attempt >= self.max_retries:
                    raise _Failure(
                        RecordError("CONNECTION_ERROR", f"{self.url}: {type(exc).__name__}")
                    ) from None
                self._backoff(attempt)
            attempt += 1
            self.report.retries += 1

    def _backoff(self, attempt: int) -> None:
        seconds = min(30.0, 0.5 * 2**attempt)
        self.limiter.waited += seconds
        self._sleep(seconds)

    # -- reading ---------------------------------------------------------------------------

    def me(self, persona: str | None = None) -> dict[str, Any]:
        """The user behind a persona's token (the default's when None); AuthError on a 401."""
        who, _ = self.tokens.for_persona(persona)
        if who not in self._me:
            try:
                self._me[who] = self._call(
                    who,
                    lambda c: asana.UsersApi(c).get_user(
                        "me", {"opt_fields": "name,email,workspaces.name"}
                    ),
                )
            except _Failure as failure:
                if failure.status == 401:
                    raise AuthError(failure.error.message) from None
                raise TargetError(
                    f"Asana {self.url}: cannot read /users/me ({failure.error})",
                    "Check ORGFORGE_ASANA__URL and that the server is an Asana API.",
                ) from None
        return self._me[who]

    def check_tokens(self) -> dict[str, dict[str, Any] | str]:
        """Every persona's user, or the reason its token does not work."""
        out: dict[str, dict[str, Any] | str] = {}
        for persona in self.tokens.by_persona:
            try:
                out[persona] = self.me(persona)
            except (AuthError, TargetError) as exc:
                out[persona] = exc.message
        return out

    def _list(self, persona: str | None, action: Callable[[asana.ApiClient], Any]) -> list[dict]:
        try:
            return list(self._call(persona, action))
        except _Failure as failure:
            raise TargetError(f"Asana: {failure.error}") from None

    def workspaces(self) -> list[dict[str, Any]]:
        return self._list(None, lambda c: asana.WorkspacesApi(c).get_workspaces({}))

    def teams(self, workspace: str) -> list[dict[str, Any]]:
        return self._list(None, lambda c: asana.TeamsApi(c).get_teams_for_workspace(workspace, {}))

    def team_members(self, team: str) -> list[dict[str, Any]]:
        return self._list(
            None,
            lambda c: asana.UsersApi(c).get_users_for_team(team, {"opt_fields": "name,email"}),
        )

    def custom_fields(self, workspace: str) -> list[dict[str, Any]]:
        """The workspace's custom fields (with their enum options)."""
        fields = "name,resource_subtype,enum_options.name,enum_options.enabled"
        return self._list(
            None,
            lambda c: asana.CustomFieldsApi(c).get_custom_fields_for_workspace(
                workspace, {"opt_fields": fields}
            ),
        )

    def read(self, object_name: str, gid: str, opt_fields: str | None = None) -> dict | None:
        """One object by gid (None when it is gone)."""
        opts = {"opt_fields": opt_fields} if opt_fields else {}
        readers: dict[str, Callable[[asana.ApiClient], Any]] = {
            "project": lambda c: asana.ProjectsApi(c).get_project(gid, opts),
            "section": lambda c: asana.SectionsApi(c).get_section(gid, opts),
            "task": lambda c: asana.TasksApi(c).get_task(gid, opts),
            "subtask": lambda c: asana.TasksApi(c).get_task(gid, opts),
            "story": lambda c: asana.StoriesApi(c).get_story(gid, opts),
            "status_update": lambda c: asana.StatusUpdatesApi(c).get_status(gid, opts),
            "tag": lambda c: asana.TagsApi(c).get_tag(gid, opts),
        }
        try:
            return self._call(None, readers[object_name])
        except _Failure as failure:
            if failure.status == 404:
                return None
            raise TargetError(f"Asana: reading {object_name} {gid}: {failure.error}") from None

    # -- writing ---------------------------------------------------------------------------

    def write(self, records: list[AsanaRecord]) -> list[WriteResult]:  # the Target protocol
        """Create the records, resolving refs against what this target created so far."""
        return self.create(records, self.gids)

    def create(
        self, records: Iterable[AsanaRecord], gids: dict[str, str] | None = None
    ) -> list[WriteResult]:
        """Create each record (parents before children); ``gids`` maps keys → gids and grows."""
        gids = self.gids if gids is None else gids
        results = []
        for record in records:
            result = self.create_one(record, gids)
            if result.ok:
                gids[record.key] = result.remote_id  # type: ignore[assignment]
            results.append(result)
        return results

    def create_one(self, record: AsanaRecord, gids: dict[str, str]) -> WriteResult:
        result = WriteResult(key=record.key, object=record.object)
        who, _ = self.tokens.for_persona(record.persona)
        result.extra["acted_as"] = who
        try:
            values = dict(record.values)
            for name, ref in record.refs.items():
                values[name] = self._resolve(ref, gids, name)
            created = self._create(record.object, values, record.persona, result)
            result.remote_id = str(created["gid"])
            result.created = True
        except _Failure as failure:
            result.error = failure.error
        return result

    def update(
        self, object_name: str, gid: str, values: dict[str, Any], persona: str | None = None
    ) -> WriteResult:
        """Change fields of a project, task or subtask (e.g. completed, assignee, due_on)."""
        result = WriteResult(key=gid, object=object_name, remote_id=gid)
        body = {"data": values}
        writers: dict[str, Callable[[asana.ApiClient], Any]] = {
            "project": lambda c: asana.ProjectsApi(c).update_project(body, gid, {}),
            "task": lambda c: asana.TasksApi(c).update_task(body, gid, {}),
            "subtask": lambda c: asana.TasksApi(c).update_task(body, gid, {}),
        }
        if object_name not in writers:
            raise ConfigError(f"Asana update: cannot update a {object_name}", "project or task")
        try:
            self._call(persona, writers[object_name])
        except _Failure as failure:
            result.error = failure.error
            result.remote_id = None
        return result

    def add_to_section(self, task: str, section: str, persona: str | None = None) -> WriteResult:
        """Move a task to a section of its project (``POST /sections/{section}/addTask``)."""
        result = WriteResult(key=task, object="task", remote_id=task)
        body = {"body": {"data": {"task": task}}}
        try:
            self._call(persona, lambda c: asana.SectionsApi(c).add_task_for_section(section, body))
        except _Failure as failure:
            result.error = failure.error
            result.remote_id = None
        return result

    def _resolve(self, ref: str | list[str], gids: dict[str, str], name: str) -> Any:
        keys = [ref] if isinstance(ref, str) else list(ref)
        missing = [k for k in keys if k not in gids]
        if missing:
            raise _Failure(RecordError("MISSING_PARENT", f"{missing[0]} was not created", (name,)))
        resolved = [gids[k] for k in keys]
        return resolved[0] if isinstance(ref, str) else resolved

    def _create(
        self, kind: str, values: dict[str, Any], persona: str | None, result: WriteResult
    ) -> dict[str, Any]:
        if kind == "task" and values.get("custom_fields"):
            if "custom_fields" in self.report.skipped_features:
                values.pop("custom_fields")
                self.report.skipped_features["custom_fields"] += 1
                result.extra["skipped"] = ["custom_fields"]
            else:
                try:
                    return self._call(persona, self._creator(kind, values))
                except _Failure as failure:
                    if failure.status != 402:
                        raise
                    # Premium-only on this workspace: skip the feature, keep the task.
                    values.pop("custom_fields")
                    self.report.skipped_features["custom_fields"] += 1
                    result.extra["skipped"] = ["custom_fields"]
        premium_only = kind in ("custom_field", "custom_field_setting")
        if premium_only and "custom_fields" in self.report.skipped_features:
            self.report.skipped_features["custom_fields"] += 1
            raise _Failure(
                RecordError("PAYMENT_REQUIRED", "custom fields need a premium workspace"), 402
            )
        try:
            return self._call(persona, self._creator(kind, values))
        except _Failure as failure:
            if failure.status == 402 and premium_only:
                self.report.skipped_features["custom_fields"] += 1
            raise

    def _creator(self, kind: str, values: dict[str, Any]) -> Callable[[asana.ApiClient], Any]:
        v = dict(values)
        if kind == "project":
            team = v.pop("team")
            return lambda c: asana.ProjectsApi(c).create_project_for_team({"data": v}, team, {})
        if kind == "section":
            project = v.pop("project")
            return lambda c: asana.SectionsApi(c).create_section_for_project(
                project, {"body": {"data": v}}
            )
        if kind == "task":
            project, section = v.pop("project", None), v.pop("section", None)
            if project:
                v["memberships"] = [
                    {"project": project, **({"section": section} if section else {})}
                ]
            return lambda c: asana.TasksApi(c).create_task({"data": v}, {})
        if kind == "subtask":
            parent = v.pop("parent")
            return lambda c: asana.TasksApi(c).create_subtask_for_task({"data": v}, parent, {})
        if kind == "story":
            task = v.pop("task")
            return lambda c: asana.StoriesApi(c).create_story_for_task({"data": v}, task, {})
        if kind == "status_update":
            return lambda c: asana.StatusUpdatesApi(c).create_status_for_object({"data": v}, {})
        if kind == "tag":
            workspace = v.pop("workspace")
            return lambda c: asana.TagsApi(c).create_tag_for_workspace({"data": v}, workspace, {})
        if kind == "custom_field":
            return lambda c: asana.CustomFieldsApi(c).create_custom_field({"data": v}, {})
        if kind == "custom_field_setting":
            project = v.pop("project")
            return lambda c: asana.ProjectsApi(c).add_custom_field_setting_for_project(
                {"data": v}, project, {}
            )
        raise ConfigError(f"Asana target: cannot create a {kind}", f"One of: {', '.join(_KINDS)}")

    def delete(
        self, object_name: str, gids: list[str], personas: Iterable[str | None] = (None,)
    ) -> list[WriteResult]:
        """Delete by gid; one result per gid. 404 counts as deleted (it is gone already).

        A comment can only be deleted by its author, so a 403 is tried again with each of the
        other personas' tokens before it is reported.
        """
        deleters: dict[str, Callable[[str], Callable[[asana.ApiClient], Any]]] = {
            "project": lambda g: lambda c: asana.ProjectsApi(c).delete_project(g),
            "section": lambda g: lambda c: asana.SectionsApi(c).delete_section(g),
            "task": lambda g: lambda c: asana.TasksApi(c).delete_task(g),
            "subtask": lambda g: lambda c: asana.TasksApi(c).delete_task(g),
            "story": lambda g: lambda c: asana.StoriesApi(c).delete_story(g),
            "status_update": lambda g: lambda c: asana.StatusUpdatesApi(c).delete_status(g),
            "tag": lambda g: lambda c: asana.TagsApi(c).delete_tag(g),
        }
        if object_name not in deleters:
            raise ConfigError(f"Asana target: cannot delete a {object_name}", "")
        order = list(dict.fromkeys([*personas, DEFAULT, *self.tokens.personas()]))
        results = []
        for gid in gids:
            result = WriteResult(key=gid, object=object_name, remote_id=gid)
            for persona in order:
                try:
                    self._call(persona, deleters[object_name](gid))
                    result.error = None
                    break
                except _Failure as failure:
                    if failure.status == 404:
                        result.error = None
                        result.extra["already_gone"] = True
                        break
                    result.error = failure.error
                    if failure.status not in (403, 401):
                        break
            if result.error is not None:
                result.remote_id = None
            results.append(result)
        return results


_KINDS = (
    "tag",
    "project",
    "custom_field_setting",
    "section",
    "task",
    "subtask",
    "story",
    "status_update",
    "custom_field",
)
