"""The Asana API subset: one dispatcher for HTTP requests and ``/batch`` actions alike.

``AsanaApi.handle(call)`` takes a method, a path below ``/api/1.0``, the query and the body's
``data`` and returns (status, JSON body, headers), raising nothing: every refusal is one of
Asana's error bodies ``{"errors": [{"message", "help"}]}`` with Asana's status. Limits, faults
and authentication happen a layer up (app.py), once per HTTP request.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from orgforge.clock import REAL, Clock
from orgforge.sandbox.asana import webhooks
from orgforge.sandbox.asana.render import FieldTree, Ref, Renderer, parse_opt_fields
from orgforge.sandbox.asana.store import Store, asana_time, now_iso

HELP = (
    "For more information on API status codes and how to handle them, "
    "read the docs on errors: https://developers.asana.com/docs/errors"
)
SYNC_EXPIRED = (
    "Sync token invalid or too old. If you are attempting to keep resources in sync, you must "
    "fetch the full dataset for this query now and use the new sync token for the next sync."
)
RATE_LIMITED = (
    "You've made too many requests and hit a rate limit. "
    "Please retry after the given amount of time."
)
PROJECT_STATUS_TYPES = ("on_track", "at_risk", "off_track", "on_hold", "complete", "dropped")
GOAL_STATUS_TYPES = ("on_track", "at_risk", "off_track", "achieved", "partial", "missed", "dropped")
COLORS = [
    "dark-pink",
    "dark-green",
    "dark-blue",
    "dark-red",
    "dark-teal",
    "dark-brown",
    "dark-orange",
    "dark-purple",
    "dark-warm-gray",
    "light-pink",
    "light-green",
    "light-blue",
    "light-red",
    "light-teal",
    "light-brown",
    "light-orange",
    "light-purple",
    "light-warm-gray",
    "none",
]
TASK_SUBTYPES = ("default_task", "milestone", "section", "approval")
FIELD_TYPES = ("text", "number", "enum", "multi_enum", "date", "people")
MAX_BATCH = 10
MAX_EVENTS = 100
SYNC_TTL = 24 * 3600.0
OFFSET_TTL = 3600.0  # Asana's offsets "expire after a while"; an hour here
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "help": HELP}
        if self.status == 500:
            error["phrase"] = _phrase()
        return {"errors": [error], **self.extra}


def error_body(status: int, message: str) -> dict[str, Any]:
    return ApiError(status, message).body()


def _phrase() -> str:
    """Asana's 500 bodies carry a random phrase to quote to support, e.g. '6 sad squid snuggle'."""
    words = (
        ("sad", "happy", "sleepy", "brave", "quiet"),
        ("squid", "otters", "lions", "pandas", "moles"),
        ("snuggle", "dance", "wander", "whistle", "giggle"),
        ("softly", "loudly", "slowly", "gladly", "boldly"),
    )
    picks = [w[secrets.randbelow(len(w))] for w in words]
    return f"{2 + secrets.randbelow(20)} {' '.join(picks)}"


def bad(message: str) -> ApiError:
    return ApiError(400, message)


@dataclass
class Call:
    method: str
    path: str  # below /api/1.0, without the query: "/tasks/123"
    query: dict[str, str]
    data: Any  # the body's "data" (dict, list or None)
    user: dict[str, Any]
    base_url: str = ""
    in_batch: bool = False


@dataclass
class Result:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[..., Result]


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _unb64(token: str) -> dict[str, Any]:
    padded = token + "=" * (-len(token) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode()))


class AsanaApi:
    def __init__(
        self,
        store: Store,
        deliveries: webhooks.Deliveries | None = None,
        clock: Clock = REAL,
    ) -> None:
        self.store = store
        self.deliveries = deliveries
        self.clock = clock  # created_at/modified_at, sync tokens' and offsets' age
        self.render = Renderer(self._lookup, self._view)
        self._webhooks: list[dict[str, Any]] | None = None
        self._lock = threading.RLock()
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._add_routes()

    # == routing ===========================================================================

    def _route(self, method: str, pattern: str, handler: Handler) -> None:
        regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "/?$")
        self.routes.append((method, regex, handler))

    def _add_routes(self) -> None:
        r = self._route
        r("GET", "/users/me", self.get_me)
        r("GET", "/users", self.list_users)
        r("GET", "/users/{user}", self.get_user)
        r("GET", "/users/{user}/teams", self.user_teams)
        r("GET", "/workspaces", self.list_workspaces)
        r("GET", "/workspaces/{workspace}", self.get_workspace)
        r("GET", "/workspaces/{workspace}/users", self.list_users)
        r("GET", "/workspaces/{workspace}/teams", self.list_teams)
        r("GET", "/workspaces/{workspace}/projects", self.list_projects)
        r("POST", "/workspaces/{workspace}/projects", self.create_project)
        r("GET", "/workspaces/{workspace}/tags", self.list_tags)
        r("POST", "/workspaces/{workspace}/tags", self.create_tag)
        r("GET", "/workspaces/{workspace}/custom_fields", self.list_custom_fields)
        r("GET", "/workspaces/{workspace}/tasks/search", self.search_tasks)
        r("GET", "/workspaces/{workspace}/events", self.get_events)
        r("POST", "/teams", self.create_team)
        r("GET", "/teams/{team}", self.get_team)
        r("GET", "/teams/{team}/users", self.list_users)
        r("GET", "/teams/{team}/projects", self.list_projects)
        r("POST", "/teams/{team}/projects", self.create_project)
        r("GET", "/projects", self.list_projects)
        r("POST", "/projects", self.create_project)
        r("GET", "/projects/{project}", self.get_project)
        r("PUT", "/projects/{project}", self.update_project)
        r("DELETE", "/projects/{project}", self.delete_project)
        r("GET", "/projects/{project}/sections", self.list_sections)
        r("POST", "/projects/{project}/sections", self.create_section)
        r("POST", "/projects/{project}/sections/insert", self.insert_section)
        r("GET", "/projects/{project}/tasks", self.list_tasks)
        r("GET", "/projects/{project}/custom_field_settings", self.list_field_settings)
        r("POST", "/projects/{project}/addCustomFieldSetting", self.add_field_setting)
        r("POST", "/projects/{project}/project_statuses", self.create_project_status)
        r("GET", "/sections/{section}", self.get_section)
        r("PUT", "/sections/{section}", self.update_section)
        r("DELETE", "/sections/{section}", self.delete_section)
        r("GET", "/sections/{section}/tasks", self.list_tasks)
        r("POST", "/sections/{section}/addTask", self.section_add_task)
        r("GET", "/tasks", self.list_tasks)
        r("POST", "/tasks", self.create_task)
        r("GET", "/tasks/{task}", self.get_task)
        r("PUT", "/tasks/{task}", self.update_task)
        r("DELETE", "/tasks/{task}", self.delete_task)
        r("GET", "/tasks/{task}/subtasks", self.list_subtasks)
        r("POST", "/tasks/{task}/subtasks", self.create_subtask)
        r("POST", "/tasks/{task}/setParent", self.set_parent)
        for verb in ("addProject", "removeProject", "addTag", "removeTag"):
            r("POST", f"/tasks/{{task}}/{verb}", self.task_link)
        r("POST", "/tasks/{task}/addFollowers", self.task_followers)
        r("POST", "/tasks/{task}/removeFollowers", self.task_followers)
        r("GET", "/tasks/{task}/stories", self.list_stories)
        r("POST", "/tasks/{task}/stories", self.create_story)
        r("GET", "/stories/{story}", self.get_story)
        r("PUT", "/stories/{story}", self.update_story)
        r("DELETE", "/stories/{story}", self.delete_story)
        r("GET", "/status_updates", self.list_status_updates)
        r("POST", "/status_updates", self.create_status_update)
        r("GET", "/status_updates/{status_update}", self.get_status_update)
        r("DELETE", "/status_updates/{status_update}", self.delete_status_update)
        r("GET", "/tags", self.list_tags)
        r("POST", "/tags", self.create_tag)
        r("GET", "/tags/{tag}", self.get_tag)
        r("PUT", "/tags/{tag}", self.update_tag)
        r("DELETE", "/tags/{tag}", self.delete_tag)
        r("GET", "/tags/{tag}/tasks", self.list_tasks)
        r("POST", "/custom_fields", self.create_custom_field)
        r("GET", "/custom_fields/{custom_field}", self.get_custom_field)
        r("GET", "/events", self.get_events)
        r("GET", "/webhooks", self.list_webhooks)
        r("POST", "/webhooks", self.create_webhook)
        r("GET", "/webhooks/{webhook}", self.get_webhook)
        r("PUT", "/webhooks/{webhook}", self.update_webhook)
        r("DELETE", "/webhooks/{webhook}", self.delete_webhook)
        r("POST", "/batch", self.batch)

    def family(self, method: str, path: str) -> str:
        """The counter's name for a request, e.g. 'POST /tasks/{task}/stories'."""
        for verb, regex, _ in self.routes:
            if verb == method and regex.match(path):
                return f"{method} {regex.pattern[1:-3].replace('(?P<', '{')}".replace(
                    ">[^/]+)", "}"
                )
        return f"{method} (unknown)"

    def handle(self, call: Call) -> Result:
        allowed: list[str] = []
        for verb, regex, handler in self.routes:
            match = regex.match(call.path)
            if not match:
                continue
            if verb != call.method:
                allowed.append(verb)
                continue
            try:
                with self._lock:  # one write at a time keeps events and links consistent
                    if call.method == "GET" or handler == self.create_webhook:
                        return handler(call, **match.groupdict())
                    # One transaction per write: all of its rows and events, or none.
                    with self.store.transaction():
                        return handler(call, **match.groupdict())
            except ApiError as exc:
                return Result(exc.status, exc.body(), exc.headers)
        if allowed:
            return Result(404, error_body(404, f"No matching route for request: {call.method}"))
        return Result(404, error_body(404, "No matching route for request"))

    # == helpers ===========================================================================

    def _now(self) -> str:
        return now_iso(self.clock)

    def _lookup(self, gid: str) -> dict[str, Any] | None:
        return self.store.get(gid)

    def _need(self, kind: str, gid: Any, param: str | None = None) -> dict[str, Any]:
        """The stored record, or Asana's 400 (not a gid) / 404 (no such object)."""
        name = param or kind
        if kind == "user" and gid == "me":
            raise bad(f"{name}: 'me' is not allowed here")
        if not isinstance(gid, str | int) or not str(gid).isdigit():
            raise bad(f"{name}: Not a recognized ID: {gid}")
        record = self.store.get(gid, kind)
        if record is None:
            raise ApiError(404, f"{name}: Unknown object: {gid}")
        return record

    def _ref(self, kind: str, value: Any, param: str) -> dict[str, Any]:
        """A reference in a request body: 400 (not 404) when it does not resolve."""
        if kind == "user":
            user = self._user_ref(value)
            if user is None:
                raise bad(f"{param}: Not a recognized ID: {value}")
            return user
        if not isinstance(value, str | int) or not str(value).isdigit():
            raise bad(f"{param}: Not a recognized ID: {value}")
        record = self.store.get(value, kind)
        if record is None:
            raise bad(f"{param}: Not a recognized ID: {value}")
        return record

    def _user_ref(self, value: Any, me: dict[str, Any] | None = None) -> dict[str, Any] | None:
        if value == "me" and me is not None:
            return me
        if isinstance(value, str) and "@" in value:
            for user in self.store.of_type("user"):
                if user.get("email", "").lower() == value.lower():
                    return user
            return None
        if isinstance(value, str | int) and str(value).isdigit():
            return self.store.get(value, "user")
        return None

    def _body(self, call: Call) -> dict[str, Any]:
        if call.data is None:
            return {}
        if not isinstance(call.data, dict):
            raise bad("data: Value is not an object")
        return call.data

    def _workspace(self) -> dict[str, Any]:
        return self.store.of_type("workspace")[0]

    def _premium(self, workspace: dict[str, Any] | None = None) -> bool:
        return bool((workspace or self._workspace()).get("_premium"))

    def _require_premium(self, what: str, workspace: dict[str, Any] | None = None) -> None:
        if not self._premium(workspace):
            raise ApiError(
                402,
                f"{what} is a premium feature: upgrade the workspace to use it.",
            )

    def _tree(self, call: Call) -> FieldTree | None:
        return parse_opt_fields(call.query.get("opt_fields"))

    def _one(self, call: Call, record: dict[str, Any], status: int = 200) -> Result:
        body = {"data": self.render.render(record, self._tree(call), single=True)}
        headers = {}
        if status == 201:
            kind = record["resource_type"]
            headers["Location"] = f"{call.base_url}/{_plural(kind)}/{record['gid']}"
        return Result(status, body, headers)

    def _empty(self) -> Result:
        return Result(200, {"data": {}})

    def _page(self, call: Call, records: list[dict[str, Any]]) -> Result:
        """Pagination: all records without ``limit``; else ``limit`` of them and next_page."""
        tree = self._tree(call)
        raw_limit = call.query.get("limit")
        if raw_limit is None:
            return Result(
                200, {"data": [self.render.render(r, tree, single=False) for r in records]}
            )
        try:
            limit = int(raw_limit)
        except ValueError:
            raise bad(f"limit: Not an integer: {raw_limit}") from None
        if not 1 <= limit <= 100:
            raise bad(f"limit: Must be between 1 and 100, got {limit}")
        start = 0
        if call.query.get("offset"):
            try:
                token = _unb64(call.query["offset"])
                after, issued = str(token["after"]), float(token["t"])
            except (ValueError, KeyError, TypeError, binascii.Error):
                raise bad(
                    "offset: Your pagination token is invalid. Use the offset of a next_page."
                ) from None
            if self.clock.time() - issued > OFFSET_TTL:
                raise bad("offset: Your pagination token has expired. Start from the first page.")
            gids = [r["gid"] for r in records]
            # The token names the last record served, so pages stay right when records are
            # added meanwhile; a deleted one falls back to the gid order (gids only grow).
            start = (
                gids.index(after) + 1 if after in gids else sum(int(g) <= int(after) for g in gids)
            )
        chunk = records[start : start + limit]
        next_page = None
        if start + limit < len(records) and chunk:
            token = _b64({"after": chunk[-1]["gid"], "t": int(self.clock.time())})
            query = {k: v for k, v in call.query.items() if k != "offset"}
            query["offset"] = token
            path = f"{call.path}?{urlencode(query)}"
            next_page = {"offset": token, "path": path, "uri": f"{call.base_url}{path}"}
        data = [self.render.render(r, tree, single=False) for r in chunk]
        return Result(200, {"data": data, "next_page": next_page})

    def _bool(self, value: Any, param: str) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise bad(f"{param}: Not a boolean: {value}")

    def _date(self, value: Any, param: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not _DATE.match(value):
            raise bad(f"{param}: Invalid date string: {value}")
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            raise bad(f"{param}: Invalid date string: {value}") from None
        return value

    def _text(self, body: dict[str, Any], name: str, limit: int | None = None) -> str | None:
        value = body.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise bad(f"{name}: Not a string: {value!r}")
        if limit is not None and len(value) > limit:
            raise bad(f"{name}: Value is too long ({len(value)} > {limit} characters)")
        return value

    def _permalink(self, kind: str, gid: str) -> str:
        return f"https://app.asana.com/0/{kind}/{gid}"

    # == views (what a full record holds) ==================================================

    def _view(self, record: dict[str, Any]) -> dict[str, Any]:
        kind = record["resource_type"]
        view = getattr(self, f"_view_{kind}", None)
        base = {k: v for k, v in record.items() if not k.startswith("_")}
        return view(record, base) if view else base

    def _view_user(self, record: dict, base: dict) -> dict:
        base["workspaces"] = [Ref(g) for g in self.store.targets("ws_member", record["gid"])]
        base.setdefault("photo", None)
        return base

    def _view_team(self, record: dict, base: dict) -> dict:
        base["organization"] = Ref(record["organization"])
        base["permalink_url"] = self._permalink("team", record["gid"])
        return base

    def _view_project(self, record: dict, base: dict) -> dict:
        for name in ("team", "workspace", "owner", "current_status_update"):
            base[name] = Ref(record[name]) if record.get(name) else None
        base["members"] = [Ref(g) for g in self.store.targets("proj_member", record["gid"])]
        base["followers"] = list(base["members"])
        base["custom_field_settings"] = [
            Ref(g) for g in self.store.sources("setting_of", record["gid"])
        ]
        base["permalink_url"] = self._permalink("project", record["gid"])
        return base

    def _view_section(self, record: dict, base: dict) -> dict:
        base["project"] = Ref(record["project"])
        base["projects"] = [Ref(record["project"])]
        return base

    def _view_task(self, record: dict, base: dict) -> dict:
        gid = record["gid"]
        for name in ("assignee", "completed_by", "workspace", "created_by"):
            base[name] = Ref(record[name]) if record.get(name) else None
        projects = self.store.targets("in_project", gid)
        sections = {
            s["project"]: s["gid"] for s in self.store.many(self.store.targets("in_section", gid))
        }
        base["projects"] = [Ref(p) for p in projects]
        base["memberships"] = [
            {"project": Ref(p), "section": Ref(sections[p]) if p in sections else None}
            for p in projects
        ]
        parent = self.store.targets("subtask", gid)
        base["parent"] = Ref(parent[0]) if parent else None
        base["num_subtasks"] = len(self.store.sources("subtask", gid))
        base["tags"] = [Ref(t) for t in self.store.targets("tagged", gid)]
        base["followers"] = [Ref(u) for u in self.store.targets("follower", gid)]
        base["custom_fields"] = self._task_fields(record, projects)
        base["permalink_url"] = self._permalink(projects[0] if projects else "0", gid)
        base.setdefault("hearted", False)
        base.setdefault("num_hearts", 0)
        base.setdefault("likes", [])
        base.setdefault("num_likes", 0)
        return base

    def _task_fields(self, record: dict, projects: list[str]) -> list[dict[str, Any]]:
        values: dict[str, Any] = record.get("_custom_fields") or {}
        field_gids: list[str] = []
        for project in projects:
            for setting in self.store.many(self.store.sources("setting_of", project)):
                if setting["custom_field"] not in field_gids:
                    field_gids.append(setting["custom_field"])
        field_gids += [g for g in values if g not in field_gids]
        out = []
        for cf in self.store.many(field_gids):
            value = values.get(cf["gid"])
            entry = {
                "gid": cf["gid"],
                "resource_type": "custom_field",
                "name": cf["name"],
                "resource_subtype": cf["resource_subtype"],
                "type": cf["resource_subtype"],
                "display_value": _display(cf, value),
            }
            subtype = cf["resource_subtype"]
            if subtype == "enum":
                entry["enum_options"] = cf.get("enum_options", [])
                entry["enum_value"] = _option(cf, value)
            elif subtype == "multi_enum":
                entry["enum_options"] = cf.get("enum_options", [])
                entry["multi_enum_values"] = [_option(cf, v) for v in value or []]
            elif subtype == "number":
                entry["number_value"] = value
                entry["precision"] = cf.get("precision", 0)
            elif subtype == "date":
                entry["date_value"] = {"date": value, "date_time": None} if value else None
            elif subtype == "people":
                entry["people_value"] = [Ref(u) for u in value or []]
            else:
                entry["text_value"] = value
            out.append(entry)
        return out

    def _view_story(self, record: dict, base: dict) -> dict:
        base["created_by"] = Ref(record["created_by"]) if record.get("created_by") else None
        base["target"] = Ref(record["target"])
        return base

    def _view_status_update(self, record: dict, base: dict) -> dict:
        base["parent"] = Ref(record["parent"])
        base["author"] = Ref(record["created_by"])
        base["created_by"] = Ref(record["created_by"])
        return base

    def _view_tag(self, record: dict, base: dict) -> dict:
        base["workspace"] = Ref(record["workspace"])
        base["followers"] = [Ref(u) for u in self.store.targets("tag_follower", record["gid"])]
        base["permalink_url"] = self._permalink("tag", record["gid"])
        return base

    def _view_custom_field(self, record: dict, base: dict) -> dict:
        base["type"] = record["resource_subtype"]
        base["created_by"] = Ref(record["created_by"]) if record.get("created_by") else None
        base.setdefault("is_formula_field", False)
        return base

    def _view_custom_field_setting(self, record: dict, base: dict) -> dict:
        base["custom_field"] = Ref(record["custom_field"])
        base["project"] = Ref(record["project"])
        base["parent"] = Ref(record["project"])
        return base

    def _view_webhook(self, record: dict, base: dict) -> dict:
        base["resource"] = Ref(record["resource"])
        return base

    # == events and webhooks ===============================================================

    def _bubble(self, gid: str, depth: int = 0) -> set[str]:
        """The resource and every resource whose event stream sees its events."""
        record = self.store.get(gid)
        if record is None or depth > 5:
            return {gid}
        out = {gid}
        kind = record["resource_type"]
        if kind == "task":
            out.update(self.store.targets("in_project", gid))
            for parent in self.store.targets("subtask", gid):
                out |= self._bubble(parent, depth + 1)
            out.add(record["workspace"])
        elif kind == "story":
            out |= self._bubble(record["target"], depth + 1)
        elif kind == "section":
            out.add(record["project"])
        elif kind == "project":
            out.update(g for g in (record.get("team"), record.get("workspace")) if g)
        elif kind == "status_update":
            out |= self._bubble(record["parent"], depth + 1)
        elif kind in ("tag", "custom_field"):
            out.add(record["workspace"])
        return out

    def _emit(
        self,
        call: Call,
        record: dict[str, Any],
        action: str,
        parent: str | None = None,
        change: dict[str, Any] | None = None,
        subscribers: set[str] | None = None,
    ) -> None:
        resource = {"gid": record["gid"], "resource_type": record["resource_type"]}
        if record.get("resource_subtype"):
            resource["resource_subtype"] = record["resource_subtype"]
        if record.get("name") is not None:
            resource["name"] = record["name"]
        event: dict[str, Any] = {
            "user": {"gid": call.user["gid"], "resource_type": "user"},
            "created_at": self._now(),
            "type": record["resource_type"],
            "action": action,
            "resource": resource,
            "parent": None,
        }
        if parent:
            parent_record = self.store.get(parent)
            if parent_record is not None:
                event["parent"] = {
                    "gid": parent,
                    "resource_type": parent_record["resource_type"],
                    **(
                        {"resource_subtype": parent_record["resource_subtype"]}
                        if parent_record.get("resource_subtype")
                        else {}
                    ),
                }
        if change:
            event["change"] = change
        subs = subscribers if subscribers is not None else self._bubble(record["gid"])
        if parent:
            subs |= self._bubble(parent)
        self.store.add_event(event, subs)
        self._notify(event, subs)

    def _webhook_list(self) -> list[dict[str, Any]]:
        if self._webhooks is None:
            self._webhooks = self.store.of_type("webhook")
        return self._webhooks

    def _notify(self, event: dict[str, Any], subscribers: set[str]) -> None:
        if self.deliveries is None:
            return
        for hook in self._webhook_list():
            if (
                hook.get("active")
                and hook["resource"] in subscribers
                and webhooks.matches(hook.get("filters"), event)
            ):
                self.deliveries.send(hook["gid"], hook["target"], hook["_secret"], [event])

    def delivery_result(
        self, webhook: str, ok: bool, detail: str, retries: int, next_in: Any
    ) -> None:
        """Called by the delivery thread: record success/failure on the webhook."""
        with self._lock:
            if self.store.get(webhook, "webhook") is None:
                return
            now = self._now()
            if ok:
                changes: dict[str, Any] = {
                    "last_success_at": now,
                    "delivery_retry_count": 0,
                    "next_attempt_after": None,
                }
            else:
                changes = {
                    "last_failure_at": now,
                    "last_failure_content": detail,
                    "delivery_retry_count": retries,
                }
                if next_in == "deactivate":
                    changes["active"] = False
                elif next_in is not None:
                    at = self.clock.now() + dt.timedelta(seconds=float(next_in))
                    changes["next_attempt_after"] = asana_time(at)
            self.store.update(webhook, changes)
            self._webhooks = None

    # == users, workspaces, teams ==========================================================

    def get_me(self, call: Call) -> Result:
        return self._one(call, call.user)

    def get_user(self, call: Call, user: str) -> Result:
        found = self._user_ref(user, call.user)
        if found is None:
            if user.isdigit():
                raise ApiError(404, f"user: Unknown object: {user}")
            raise bad(f"user: Not a recognized ID: {user}")
        return self._one(call, found)

    def list_users(
        self, call: Call, workspace: str | None = None, team: str | None = None
    ) -> Result:
        workspace = workspace or call.query.get("workspace")
        team = team or call.query.get("team")
        if team:
            self._need("team", team)
            users = self.store.many(self.store.sources("member", team))
        elif workspace:
            self._need("workspace", workspace)
            users = self.store.many(self.store.sources("ws_member", workspace))
        else:
            raise bad("workspace: Missing input")
        return self._page(call, users)

    def user_teams(self, call: Call, user: str) -> Result:
        found = self._user_ref(user, call.user)
        if found is None:
            raise ApiError(404, f"user: Unknown object: {user}")
        if not call.query.get("workspace") and not call.query.get("organization"):
            raise bad("workspace: Missing input")
        return self._page(call, self.store.many(self.store.targets("member", found["gid"])))

    def list_workspaces(self, call: Call) -> Result:
        mine = set(self.store.targets("ws_member", call.user["gid"]))
        return self._page(call, [w for w in self.store.of_type("workspace") if w["gid"] in mine])

    def get_workspace(self, call: Call, workspace: str) -> Result:
        return self._one(call, self._need("workspace", workspace))

    def list_teams(self, call: Call, workspace: str) -> Result:
        self._need("workspace", workspace)
        teams = [t for t in self.store.of_type("team") if t["organization"] == workspace]
        return self._page(call, teams)

    def get_team(self, call: Call, team: str) -> Result:
        return self._one(call, self._need("team", team))

    def create_team(self, call: Call) -> Result:
        body = self._body(call)
        org = body.get("organization") or body.get("workspace")
        if not org:
            raise bad("organization: Missing input")
        workspace = self._ref("workspace", org, "organization")
        name = self._text(body, "name")
        if not name:
            raise bad("name: Missing input")
        gid = self.store.insert(
            "team",
            {
                "name": name,
                "description": self._text(body, "description") or "",
                "html_description": "",
                "organization": workspace["gid"],
                "visibility": body.get("visibility", "request_to_join"),
            },
        )
        self.store.link("member", call.user["gid"], gid)
        record = self._need("team", str(gid))
        return self._one(call, record, 201)

    # == projects ==========================================================================

    def list_projects(
        self, call: Call, workspace: str | None = None, team: str | None = None
    ) -> Result:
        team = team or call.query.get("team")
        workspace = workspace or call.query.get("workspace")
        if not team and not workspace:
            raise bad("workspace: Missing input")
        projects = self.store.of_type("project")
        if team:
            self._need("team", team)
            projects = [p for p in projects if p.get("team") == team]
        if workspace:
            self._need("workspace", workspace)
            projects = [p for p in projects if p.get("workspace") == workspace]
        if "archived" in call.query:
            archived = self._bool(call.query["archived"], "archived")
            projects = [p for p in projects if bool(p.get("archived")) == archived]
        return self._page(call, projects)

    def create_project(
        self, call: Call, workspace: str | None = None, team: str | None = None
    ) -> Result:
        body = self._body(call)
        team_gid = team or body.get("team")
        ws_gid = workspace or body.get("workspace")
        team_record = self._ref("team", team_gid, "team") if team_gid else None
        if team_record is not None:
            ws_gid = ws_gid or team_record["organization"]
        if not ws_gid:
            raise bad("workspace: Missing input")
        ws = self._ref("workspace", ws_gid, "workspace")
        if ws.get("is_organization") and team_record is None:
            raise bad("team: You should specify a team when creating a project in an organization")
        if team_record is not None and team_record["organization"] != ws["gid"]:
            raise bad("team: The team is not in this workspace")
        values = self._project_fields(body, ws)
        values.setdefault("name", "")
        now = self._now()
        gid = str(
            self.store.insert(
                "project",
                {
                    "archived": False,
                    "color": None,
                    "completed": False,
                    "completed_at": None,
                    "default_view": "list",
                    "due_on": None,
                    "start_on": None,
                    "notes": "",
                    "html_notes": "<body></body>",
                    "public": True,
                    "privacy_setting": "public_to_workspace",
                    "icon": "list",
                    **values,
                    "created_at": now,
                    "modified_at": now,
                    "owner": call.user["gid"],
                    "team": team_record["gid"] if team_record else None,
                    "workspace": ws["gid"],
                    "current_status_update": None,
                },
            )
        )
        self.store.link("proj_member", gid, call.user["gid"])
        record = self._need("project", gid)
        self._emit(call, record, "added", parent=record.get("team") or ws["gid"])
        return self._one(call, record, 201)

    def _project_fields(self, body: dict[str, Any], ws: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in ("name", "notes", "html_notes"):
            if name in body:
                out[name] = self._text(body, name) or ""
        if "color" in body:
            if body["color"] is not None and body["color"] not in COLORS:
                raise bad(f"color: Invalid color: {body['color']}")
            out["color"] = body["color"]
        if "default_view" in body:
            if body["default_view"] not in ("list", "board", "calendar", "timeline"):
                raise bad(f"default_view: Invalid value: {body['default_view']}")
            out["default_view"] = body["default_view"]
        for name in ("due_on", "start_on"):
            if name in body:
                out[name] = self._date(body[name], name)
        if "due_date" in body:
            out["due_on"] = self._date(body["due_date"], "due_date")
        for name in ("archived", "public", "completed"):
            if name in body:
                out[name] = self._bool(body[name], name)
        if "privacy_setting" in body:
            if body["privacy_setting"] not in (
                "public_to_workspace",
                "private_to_team",
                "private",
            ):
                raise bad(f"privacy_setting: Invalid value: {body['privacy_setting']}")
            out["privacy_setting"] = body["privacy_setting"]
        if body.get("custom_fields"):
            self._require_premium("Custom fields", ws)
        return out

    def get_project(self, call: Call, project: str) -> Result:
        return self._one(call, self._need("project", project))

    def update_project(self, call: Call, project: str) -> Result:
        record = self._need("project", project)
        body = self._body(call)
        ws = self._need("workspace", record["workspace"])
        for frozen in ("workspace", "team"):
            if frozen in body and body[frozen] != record.get(frozen):
                raise bad(f"{frozen}: Cannot write this property")
        changes = self._project_fields(body, ws)
        if "owner" in body:
            owner = self._user_ref(body["owner"], call.user) if body["owner"] else None
            if body["owner"] and owner is None:
                raise bad(f"owner: Not a recognized ID: {body['owner']}")
            changes["owner"] = owner["gid"] if owner else None
        if changes.get("completed") and not record.get("completed"):
            changes["completed_at"] = self._now()
        changes["modified_at"] = self._now()
        self.store.update(project, changes)
        updated = self._need("project", project)
        for name in changes:
            if name != "modified_at" and record.get(name) != changes[name]:
                self._emit(call, updated, "changed", change={"field": name, "action": "changed"})
        return self._one(call, updated)

    def delete_project(self, call: Call, project: str) -> Result:
        record = self._need("project", project)
        self._emit(call, record, "deleted", parent=record.get("team"))
        for section in self.store.sources("section_of", project):
            self.store.delete(section)
        for setting in self.store.sources("setting_of", project):
            self.store.delete(setting)
        for task in self.store.sources("in_project", project):
            if self.store.targets("in_project", task) == [project]:
                self._delete_task_tree(task)
        for status in [s for s in self.store.of_type("status_update") if s["parent"] == project]:
            self.store.delete(status["gid"])
        self.store.delete(project)
        return self._empty()

    # == sections ==========================================================================

    def _sections(self, project: str) -> list[dict[str, Any]]:
        sections = self.store.many(self.store.sources("section_of", project))
        return sorted(sections, key=lambda s: (s.get("_order", 0.0), int(s["gid"])))

    def list_sections(self, call: Call, project: str) -> Result:
        self._need("project", project)
        return self._page(call, self._sections(project))

    def create_section(self, call: Call, project: str) -> Result:
        record = self._need("project", project)
        body = self._body(call)
        name = self._text(body, "name")
        if not name:
            raise bad("name: Missing input")
        order = self._section_order(project, body)
        gid = str(
            self.store.insert(
                "section",
                {"name": name, "project": project, "created_at": self._now(), "_order": order},
            )
        )
        self.store.link("section_of", gid, project)
        section = self._need("section", gid)
        self._emit(call, section, "added", parent=record["gid"])
        return self._one(call, section, 201)

    def _section_order(self, project: str, body: dict[str, Any]) -> float:
        sections = self._sections(project)
        orders = [s.get("_order", 0.0) for s in sections]
        before, after = body.get("insert_before"), body.get("insert_after")
        if before and after:
            raise bad("insert_before: Cannot specify both insert_before and insert_after")
        gids = [s["gid"] for s in sections]
        for anchor, name in ((before, "insert_before"), (after, "insert_after")):
            if anchor and str(anchor) not in gids:
                raise bad(f"{name}: Not a section of this project: {anchor}")
        if before:
            i = gids.index(str(before))
            return (orders[i - 1] + orders[i]) / 2 if i else orders[i] - 1.0
        if after:
            i = gids.index(str(after))
            return (orders[i] + orders[i + 1]) / 2 if i + 1 < len(orders) else orders[i] + 1.0
        return (orders[-1] + 1.0) if orders else 1.0

    def insert_section(self, call: Call, project: str) -> Result:
        self._need("project", project)
        body = self._body(call)
        section = self._ref("section", body.get("section"), "section")
        if section["project"] != project:
            raise bad("section: Not a section of this project")
        others = {k: v for k, v in body.items() if k in ("before_section", "after_section")}
        moved = {
            "insert_before": others.get("before_section"),
            "insert_after": others.get("after_section"),
        }
        if not any(moved.values()):
            raise bad("before_section: Missing input (or after_section)")
        self.store.update(section["gid"], {"_order": -1e18})  # out of the way while computing
        self.store.update(section["gid"], {"_order": self._section_order(project, moved)})
        return self._empty()

    def get_section(self, call: Call, section: str) -> Result:
        return self._one(call, self._need("section", section))

    def update_section(self, call: Call, section: str) -> Result:
        self._need("section", section)
        body = self._body(call)
        name = self._text(body, "name")
        if not name:
            raise bad("name: Missing input")
        self.store.update(section, {"name": name})
        updated = self._need("section", section)
        self._emit(call, updated, "changed", change={"field": "name", "action": "changed"})
        return self._one(call, updated)

    def delete_section(self, call: Call, section: str) -> Result:
        record = self._need("section", section)
        if self.store.sources("in_section", section):
            raise bad("section: Sections must be empty to be deleted")
        if len(self.store.sources("section_of", record["project"])) <= 1:
            raise bad("section: The last remaining section of a project cannot be deleted")
        self._emit(call, record, "deleted", parent=record["project"])
        self.store.delete(section)
        return self._empty()

    def section_add_task(self, call: Call, section: str) -> Result:
        record = self._need("section", section)
        body = self._body(call)
        task = self._ref("task", body.get("task"), "task")
        self._place(task["gid"], record["project"], section)
        self._emit(call, task, "added", parent=section)
        return self._empty()

    def _place(self, task: str, project: str, section: str | None) -> None:
        """Put a task in a project and one of its sections (the first one by default)."""
        self.store.link("in_project", task, project)
        sections = self._sections(project)
        for s in sections:
            self.store.unlink("in_section", task, s["gid"])
        if section is None and sections:
            section = sections[0]["gid"]
        if section is not None:
            self.store.link("in_section", task, section)

    # == tasks =============================================================================

    def list_tasks(
        self,
        call: Call,
        project: str | None = None,
        section: str | None = None,
        tag: str | None = None,
    ) -> Result:
        q = call.query
        project = project or q.get("project")
        section = section or q.get("section")
        tag = tag or q.get("tag")
        if project:
            self._need("project", project)
            gids = self.store.sources("in_project", project)
        elif section:
            self._need("section", section)
            gids = self.store.sources("in_section", section)
        elif tag:
            self._need("tag", tag)
            gids = self.store.sources("tagged", tag)
        elif q.get("assignee") and q.get("workspace"):
            user = self._user_ref(q["assignee"], call.user)
            if user is None:
                raise bad(f"assignee: Not a recognized ID: {q['assignee']}")
            self._need("workspace", q["workspace"])
            gids = [
                t["gid"]
                for t in self.store.of_type("task")
                if t.get("assignee") == user["gid"] and t.get("workspace") == q["workspace"]
            ]
        else:
            raise bad(
                "Must specify exactly one of project, tag, section, user task list, "
                "or assignee + workspace"
            )
        tasks = self.store.many(gids)
        if q.get("completed_since"):
            since = q["completed_since"]
            tasks = [
                t
                for t in tasks
                if not t.get("completed")
                or (since != "now" and (t.get("completed_at") or "") >= since)
            ]
        if q.get("modified_since"):
            tasks = [t for t in tasks if t.get("modified_at", "") >= q["modified_since"]]
        return self._page(call, tasks)

    def _task_values(
        self, body: dict[str, Any], call: Call, ws: dict[str, Any], old: dict | None
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in ("name", "notes", "html_notes"):
            if name in body:
                out[name] = self._text(body, name) or ""
        if "assignee" in body:
            if body["assignee"] is None:
                out["assignee"] = None
            else:
                user = self._user_ref(body["assignee"], call.user)
                if user is None:
                    raise bad(f"assignee: Not a recognized ID: {body['assignee']}")
                if ws["gid"] not in self.store.targets("ws_member", user["gid"]):
                    raise bad("assignee: The user is not a member of the task's workspace")
                out["assignee"] = user["gid"]
        for name in ("due_on", "start_on"):
            if name in body:
                out[name] = self._date(body[name], name)
        if "due_at" in body:
            value = body["due_at"]
            if value is not None:
                try:
                    dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
                except ValueError:
                    raise bad(f"due_at: Invalid date-time string: {value}") from None
            out["due_at"] = value
            if value:
                out["due_on"] = str(value)[:10]
        if "completed" in body:
            out["completed"] = self._bool(body["completed"], "completed")
            was = bool(old and old.get("completed"))
            if out["completed"] and not was:
                out["completed_at"] = self._now()
                out["completed_by"] = call.user["gid"]
            elif not out["completed"]:
                out["completed_at"] = out["completed_by"] = None
        if "resource_subtype" in body:
            if body["resource_subtype"] not in TASK_SUBTYPES:
                raise bad(f"resource_subtype: Invalid value: {body['resource_subtype']}")
            out["resource_subtype"] = body["resource_subtype"]
        if "approval_status" in body:
            if body["approval_status"] not in (
                "pending",
                "approved",
                "rejected",
                "changes_requested",
            ):
                raise bad(f"approval_status: Invalid value: {body['approval_status']}")
            out["approval_status"] = body["approval_status"]
        if body.get("custom_fields"):
            self._require_premium("Custom fields", ws)
            out["_custom_fields"] = self._field_values(body["custom_fields"], old)
        return out

    def _field_values(self, given: Any, old: dict | None) -> dict[str, Any]:
        if not isinstance(given, dict):
            raise bad("custom_fields: Value is not an object of custom field gid → value")
        values = dict((old or {}).get("_custom_fields") or {})
        for gid, value in given.items():
            cf = self.store.get(gid, "custom_field")
            if cf is None:
                raise bad(f"custom_fields: Not a recognized ID: {gid}")
            values[str(gid)] = _field_value(cf, value)
        return values

    def create_task(self, call: Call, parent_task: dict[str, Any] | None = None) -> Result:
        body = self._body(call)
        projects = body.get("projects") or []
        memberships = body.get("memberships") or []
        if not isinstance(projects, list) or not isinstance(memberships, list):
            raise bad("projects: Value is not an array")
        placements: list[tuple[str, str | None]] = []
        for i, value in enumerate(projects):
            placements.append((self._ref("project", value, f"projects[{i}]")["gid"], None))
        for i, m in enumerate(memberships):
            if not isinstance(m, dict) or "project" not in m:
                raise bad(f"memberships[{i}].project: Missing input")
            project = self._ref("project", m["project"], f"memberships[{i}].project")
            section = None
            if m.get("section"):
                section_record = self._ref("section", m["section"], f"memberships[{i}].section")
                if section_record["project"] != project["gid"]:
                    raise bad(f"memberships[{i}].section: Not a section of that project")
                section = section_record["gid"]
            placements = [p for p in placements if p[0] != project["gid"]]
            placements.append((project["gid"], section))
        parent = parent_task
        if parent is None and body.get("parent"):
            parent = self._ref("task", body["parent"], "parent")
        ws_gid = body.get("workspace")
        if not ws_gid:
            if placements:
                ws_gid = self._need("project", placements[0][0])["workspace"]
            elif parent is not None:
                ws_gid = parent["workspace"]
            else:
                raise bad("workspace: Missing input (or projects, or parent)")
        ws = self._ref("workspace", ws_gid, "workspace")
        tags = [
            self._ref("tag", t, f"tags[{i}]")["gid"] for i, t in enumerate(body.get("tags") or [])
        ]
        followers = []
        for i, f in enumerate(body.get("followers") or []):
            user = self._user_ref(f, call.user)
            if user is None:
                raise bad(f"followers[{i}]: Not a recognized ID: {f}")
            followers.append(user["gid"])
        values = self._task_values(body, call, ws, None)
        now = self._now()
        gid = str(
            self.store.insert(
                "task",
                {
                    "name": "",
                    "notes": "",
                    "html_notes": "<body></body>",
                    "resource_subtype": "default_task",
                    "assignee": None,
                    "assignee_status": "inbox",
                    "completed": False,
                    "completed_at": None,
                    "completed_by": None,
                    "due_on": None,
                    "due_at": None,
                    "start_on": None,
                    "start_at": None,
                    **values,
                    "created_at": now,
                    "modified_at": now,
                    "created_by": call.user["gid"],
                    "workspace": ws["gid"],
                },
            )
        )
        for project, section in placements:
            self._place(gid, project, section)
        if parent is not None:
            self.store.link("subtask", gid, parent["gid"])
        for tag in tags:
            self.store.link("tagged", gid, tag)
        for user in dict.fromkeys([call.user["gid"], *followers, values.get("assignee")]):
            if user:
                self.store.link("follower", gid, user)
        record = self._need("task", gid)
        parent_gid = parent["gid"] if parent else (placements[0][0] if placements else None)
        self._emit(call, record, "added", parent=parent_gid)
        return self._one(call, record, 201)

    def get_task(self, call: Call, task: str) -> Result:
        return self._one(call, self._need("task", task))

    def update_task(self, call: Call, task: str) -> Result:
        record = self._need("task", task)
        body = self._body(call)
        for name in ("projects", "memberships", "parent", "tags", "followers", "workspace"):
            if name in body:
                raise bad(
                    f"{name}: Cannot write this property with PUT; use the task's "
                    "addProject/removeProject, setParent, addTag/removeTag or "
                    "addFollowers endpoints"
                )
        ws = self._need("workspace", record["workspace"])
        changes = self._task_values(body, call, ws, record)
        changes["modified_at"] = self._now()
        self.store.update(task, changes)
        if changes.get("assignee"):
            self.store.link("follower", task, changes["assignee"])
        updated = self._need("task", task)
        for name, value in changes.items():
            if name in ("modified_at", "completed_at", "completed_by"):
                continue
            if record.get(name) == value:
                continue
            public = name.lstrip("_")
            change: dict[str, Any] = {"field": public, "action": "changed"}
            if name == "assignee":
                change["new_value"] = {"gid": value, "resource_type": "user"} if value else None
                self._system_story(call, updated, "assigned", _assigned_text(self, value))
            elif name == "completed":
                change["new_value"] = value
                text = "marked this task complete" if value else "marked incomplete"
                self._system_story(
                    call, updated, "marked_complete" if value else "marked_incomplete", text
                )
            elif name == "due_on":
                change["new_value"] = value
                self._system_story(
                    call, updated, "due_date_changed", f"changed the due date to {value}"
                )
            elif not name.startswith("_"):
                change["new_value"] = value
            self._emit(call, updated, "changed", change=change)
        return self._one(call, updated)

    def _system_story(self, call: Call, task: dict[str, Any], subtype: str, text: str) -> None:
        gid = self.store.insert(
            "story",
            {
                "created_at": self._now(),
                "created_by": call.user["gid"],
                "resource_subtype": subtype,
                "type": "system",
                "text": f"{call.user.get('name', '')} {text}".strip(),
                "html_text": None,
                "is_pinned": False,
                "is_edited": False,
                "source": "api",
                "target": task["gid"],
            },
        )
        self.store.link("story_of", gid, task["gid"])

    def _delete_task_tree(self, task: str) -> None:
        for child in self.store.sources("subtask", task):
            self._delete_task_tree(child)
        for story in self.store.sources("story_of", task):
            self.store.delete(story)
        self.store.delete(task)

    def delete_task(self, call: Call, task: str) -> Result:
        record = self._need("task", task)
        subs = self._bubble(task)
        parent = self.store.targets("subtask", task)
        self._emit(call, record, "deleted", parent=parent[0] if parent else None, subscribers=subs)
        self._delete_task_tree(task)
        return self._empty()

    def list_subtasks(self, call: Call, task: str) -> Result:
        self._need("task", task)
        return self._page(call, self.store.many(self.store.sources("subtask", task)))

    def create_subtask(self, call: Call, task: str) -> Result:
        parent = self._need("task", task)
        return self.create_task(call, parent_task=parent)

    def set_parent(self, call: Call, task: str) -> Result:
        self._need("task", task)
        body = self._body(call)
        if "parent" not in body:
            raise bad("parent: Missing input")
        self.store.unlink("subtask", task)
        if body["parent"] is not None:
            parent = self._ref("task", body["parent"], "parent")
            if parent["gid"] == task:
                raise bad("parent: A task cannot be its own parent")
            self.store.link("subtask", task, parent["gid"])
        updated = self._need("task", task)
        self._emit(call, updated, "changed", change={"field": "parent", "action": "changed"})
        return self._one(call, updated)

    def task_link(self, call: Call, task: str) -> Result:
        record = self._need("task", task)
        verb = call.path.rsplit("/", 1)[-1]
        body = self._body(call)
        if verb in ("addProject", "removeProject"):
            project = self._ref("project", body.get("project"), "project")
            if verb == "addProject":
                section = None
                if body.get("section"):
                    section = self._ref("section", body["section"], "section")["gid"]
                self._place(task, project["gid"], section)
                self._emit(call, record, "added", parent=project["gid"])
            else:
                self._emit(call, record, "removed", parent=project["gid"])
                self.store.unlink("in_project", task, project["gid"])
                for s in self._sections(project["gid"]):
                    self.store.unlink("in_section", task, s["gid"])
        else:
            tag = self._ref("tag", body.get("tag"), "tag")
            if verb == "addTag":
                self.store.link("tagged", task, tag["gid"])
                self._emit(call, record, "added", parent=tag["gid"])
            else:
                self.store.unlink("tagged", task, tag["gid"])
                self._emit(call, record, "removed", parent=tag["gid"])
        return self._empty()

    def task_followers(self, call: Call, task: str) -> Result:
        self._need("task", task)
        body = self._body(call)
        followers = body.get("followers")
        if not isinstance(followers, list) or not followers:
            raise bad("followers: Missing input")
        for i, f in enumerate(followers):
            user = self._user_ref(f, call.user)
            if user is None:
                raise bad(f"followers[{i}]: Not a recognized ID: {f}")
            if call.path.endswith("addFollowers"):
                self.store.link("follower", task, user["gid"])
            else:
                self.store.unlink("follower", task, user["gid"])
        return self._one(call, self._need("task", task))

    def search_tasks(self, call: Call, workspace: str) -> Result:
        ws = self._need("workspace", workspace)
        self._require_premium("Search", ws)
        q = call.query
        tasks = [t for t in self.store.of_type("task") if t.get("workspace") == workspace]
        if q.get("text"):
            needle = q["text"].lower()
            tasks = [
                t for t in tasks if needle in (t.get("name", "") + " " + t.get("notes", "")).lower()
            ]
        if "completed" in q:
            done = self._bool(q["completed"], "completed")
            tasks = [t for t in tasks if bool(t.get("completed")) == done]
        if q.get("assignee.any"):
            wanted = {
                (self._user_ref(u, call.user) or {}).get("gid")
                for u in q["assignee.any"].split(",")
            }
            tasks = [t for t in tasks if t.get("assignee") in wanted]
        if q.get("projects.any"):
            wanted = set(q["projects.any"].split(","))
            tasks = [t for t in tasks if wanted & set(self.store.targets("in_project", t["gid"]))]
        sort_by = q.get("sort_by", "modified_at")
        key = {"created_at": "created_at", "modified_at": "modified_at", "due_date": "due_on"}.get(
            sort_by
        )
        if key is None:
            raise bad(f"sort_by: Invalid value: {sort_by}")
        ascending = self._bool(q.get("sort_ascending", "false"), "sort_ascending")
        tasks.sort(key=lambda t: (t.get(key) or "", int(t["gid"])), reverse=not ascending)
        limit = int(q.get("limit", 100))
        if not 1 <= limit <= 100:
            raise bad(f"limit: Must be between 1 and 100, got {limit}")
        tree = self._tree(call)
        return Result(
            200, {"data": [self.render.render(t, tree, single=False) for t in tasks[:limit]]}
        )

    # == stories ===========================================================================

    def list_stories(self, call: Call, task: str) -> Result:
        self._need("task", task)
        return self._page(call, self.store.many(self.store.sources("story_of", task)))

    def create_story(self, call: Call, task: str) -> Result:
        record = self._need("task", task)
        body = self._body(call)
        text = self._text(body, "text")
        html = self._text(body, "html_text")
        if not text and not html:
            raise bad("text: Missing input (or html_text)")
        if html and not text:
            text = re.sub(r"<[^>]+>", "", html)
        if body.get("type") not in (None, "comment") or body.get("resource_subtype") not in (
            None,
            "comment_added",
        ):
            raise bad("type: Only comment stories can be created")
        gid = str(
            self.store.insert(
                "story",
                {
                    "created_at": self._now(),
                    "created_by": call.user["gid"],
                    "resource_subtype": "comment_added",
                    "type": "comment",
                    "text": text,
                    "html_text": html or f"<body>{_escape(text or '')}</body>",
                    "is_pinned": self._bool(body.get("is_pinned", False), "is_pinned"),
                    "is_edited": False,
                    "sticker_name": body.get("sticker_name"),
                    "source": "api",
                    "target": task,
                },
            )
        )
        self.store.link("story_of", gid, task)
        self.store.update(task, {"modified_at": self._now()})
        story = self._need("story", gid)
        self._emit(call, story, "added", parent=record["gid"])
        return self._one(call, story, 201)

    def get_story(self, call: Call, story: str) -> Result:
        return self._one(call, self._need("story", story))

    def _own_comment(self, call: Call, story: str) -> dict[str, Any]:
        record = self._need("story", story)
        if record.get("type") != "comment":
            raise ApiError(403, "story: Only comments can be edited or deleted")
        if record.get("created_by") != call.user["gid"]:
            raise ApiError(403, "story: You can only edit or delete your own comments")
        return record

    def update_story(self, call: Call, story: str) -> Result:
        self._own_comment(call, story)
        body = self._body(call)
        changes: dict[str, Any] = {"is_edited": True}
        if "text" in body:
            changes["text"] = self._text(body, "text")
            changes["html_text"] = f"<body>{_escape(changes['text'] or '')}</body>"
        if "html_text" in body:
            changes["html_text"] = self._text(body, "html_text")
        if "is_pinned" in body:
            changes["is_pinned"] = self._bool(body["is_pinned"], "is_pinned")
        self.store.update(story, changes)
        updated = self._need("story", story)
        self._emit(
            call,
            updated,
            "changed",
            parent=updated["target"],
            change={"field": "text", "action": "changed"},
        )
        return self._one(call, updated)

    def delete_story(self, call: Call, story: str) -> Result:
        record = self._own_comment(call, story)
        self._emit(call, record, "removed", parent=record["target"])
        self.store.delete(story)
        return self._empty()

    # == status updates ====================================================================

    def list_status_updates(self, call: Call) -> Result:
        parent = call.query.get("parent")
        if not parent:
            raise bad("parent: Missing input")
        self._ref_any(parent, "parent")
        updates = [s for s in self.store.of_type("status_update") if s["parent"] == parent]
        if call.query.get("created_since"):
            updates = [s for s in updates if s["created_at"] >= call.query["created_since"]]
        return self._page(call, updates)

    def _ref_any(self, gid: Any, param: str) -> dict[str, Any]:
        if not isinstance(gid, str | int) or not str(gid).isdigit():
            raise bad(f"{param}: Not a recognized ID: {gid}")
        record = self.store.get(gid)
        if record is None:
            raise bad(f"{param}: Not a recognized ID: {gid}")
        return record

    def create_status_update(self, call: Call) -> Result:
        body = self._body(call)
        if not body.get("parent"):
            raise bad("parent: Missing input")
        parent = self._ref_any(body["parent"], "parent")
        kind = parent["resource_type"]
        allowed = {"project": PROJECT_STATUS_TYPES, "portfolio": PROJECT_STATUS_TYPES}.get(
            kind, GOAL_STATUS_TYPES if kind == "goal" else None
        )
        if allowed is None:
            raise bad(f"parent: A {kind} cannot have status updates")
        status_type = body.get("status_type")
        if not status_type:
            raise bad("status_type: Missing input")
        if status_type not in allowed:
            raise bad(f"status_type: Invalid value for a {kind}: {status_type}")
        text = self._text(body, "text")
        html = self._text(body, "html_text")
        if not text and not html:
            raise bad("text: Missing input (or html_text)")
        now = self._now()
        gid = str(
            self.store.insert(
                "status_update",
                {
                    "title": self._text(body, "title") or "",
                    "text": text or re.sub(r"<[^>]+>", "", html or ""),
                    "html_text": html or f"<body>{_escape(text or '')}</body>",
                    "status_type": status_type,
                    "resource_subtype": f"{kind}_status_update",
                    "parent": parent["gid"],
                    "created_by": call.user["gid"],
                    "created_at": now,
                    "modified_at": now,
                },
            )
        )
        if kind == "project":
            self.store.update(parent["gid"], {"current_status_update": gid, "modified_at": now})
        record = self._need("status_update", gid)
        self._emit(call, record, "added", parent=parent["gid"])
        return self._one(call, record, 201)

    def get_status_update(self, call: Call, status_update: str) -> Result:
        return self._one(call, self._need("status_update", status_update))

    def delete_status_update(self, call: Call, status_update: str) -> Result:
        record = self._need("status_update", status_update)
        self._emit(call, record, "deleted", parent=record["parent"])
        self.store.delete(status_update)
        parent = self.store.get(record["parent"])
        if parent and parent.get("current_status_update") == status_update:
            left = [s for s in self.store.of_type("status_update") if s["parent"] == parent["gid"]]
            self.store.update(
                parent["gid"], {"current_status_update": left[-1]["gid"] if left else None}
            )
        return self._empty()

    def create_project_status(self, call: Call, project: str) -> Result:
        """The deprecated POST /projects/{gid}/project_statuses, as a status update."""
        self._need("project", project)
        body = self._body(call)
        colors = {"green": "on_track", "yellow": "at_risk", "red": "off_track", "blue": "on_hold"}
        color = body.get("color")
        if color not in (*colors, "complete"):
            raise bad(f"color: Invalid value: {color}")
        call.data = {
            "parent": project,
            "title": body.get("title"),
            "text": body.get("text"),
            "html_text": body.get("html_text"),
            "status_type": colors.get(color, "complete"),
        }
        return self.create_status_update(call)

    # == tags ==============================================================================

    def list_tags(self, call: Call, workspace: str | None = None) -> Result:
        workspace = workspace or call.query.get("workspace")
        if not workspace:
            raise bad("workspace: Missing input")
        self._need("workspace", workspace)
        return self._page(
            call, [t for t in self.store.of_type("tag") if t["workspace"] == workspace]
        )

    def create_tag(self, call: Call, workspace: str | None = None) -> Result:
        body = self._body(call)
        ws_gid = workspace or body.get("workspace")
        if not ws_gid:
            raise bad("workspace: Missing input")
        ws = self._ref("workspace", ws_gid, "workspace")
        name = self._text(body, "name")
        if not name:
            raise bad("name: Missing input")
        color = body.get("color")
        if color is not None and color not in COLORS:
            raise bad(f"color: Invalid color: {color}")
        gid = str(
            self.store.insert(
                "tag",
                {
                    "name": name,
                    "color": color,
                    "notes": self._text(body, "notes") or "",
                    "created_at": self._now(),
                    "workspace": ws["gid"],
                },
            )
        )
        record = self._need("tag", gid)
        self._emit(call, record, "added", parent=ws["gid"])
        return self._one(call, record, 201)

    def get_tag(self, call: Call, tag: str) -> Result:
        return self._one(call, self._need("tag", tag))

    def update_tag(self, call: Call, tag: str) -> Result:
        self._need("tag", tag)
        body = self._body(call)
        changes: dict[str, Any] = {}
        if "name" in body:
            changes["name"] = self._text(body, "name") or ""
        if "color" in body:
            if body["color"] is not None and body["color"] not in COLORS:
                raise bad(f"color: Invalid color: {body['color']}")
            changes["color"] = body["color"]
        if "notes" in body:
            changes["notes"] = self._text(body, "notes") or ""
        self.store.update(tag, changes)
        return self._one(call, self._need("tag", tag))

    def delete_tag(self, call: Call, tag: str) -> Result:
        record = self._need("tag", tag)
        self._emit(call, record, "deleted", parent=record["workspace"])
        self.store.delete(tag)
        return self._empty()

    # == custom fields =====================================================================

    def list_custom_fields(self, call: Call, workspace: str) -> Result:
        self._need("workspace", workspace)
        fields = [f for f in self.store.of_type("custom_field") if f["workspace"] == workspace]
        return self._page(call, fields)

    def create_custom_field(self, call: Call) -> Result:
        body = self._body(call)
        if not body.get("workspace"):
            raise bad("workspace: Missing input")
        ws = self._ref("workspace", body["workspace"], "workspace")
        self._require_premium("Custom fields", ws)
        name = self._text(body, "name")
        if not name:
            raise bad("name: Missing input")
        subtype = body.get("resource_subtype") or body.get("type")
        if subtype not in FIELD_TYPES:
            raise bad(
                f"resource_subtype: Invalid value: {subtype} (one of {', '.join(FIELD_TYPES)})"
            )
        options = []
        if subtype in ("enum", "multi_enum"):
            for i, option in enumerate(body.get("enum_options") or []):
                if not isinstance(option, dict) or not option.get("name"):
                    raise bad(f"enum_options[{i}].name: Missing input")
                options.append(
                    {
                        "gid": str(self.store.new_gid()),
                        "resource_type": "enum_option",
                        "name": option["name"],
                        "color": option.get("color", "none"),
                        "enabled": option.get("enabled", True),
                    }
                )
        gid = str(
            self.store.insert(
                "custom_field",
                {
                    "name": name,
                    "resource_subtype": subtype,
                    "description": self._text(body, "description") or "",
                    "enum_options": options,
                    "precision": int(body.get("precision", 0)) if subtype == "number" else None,
                    "is_global_to_workspace": True,
                    "created_by": call.user["gid"],
                    "workspace": ws["gid"],
                },
            )
        )
        record = self._need("custom_field", gid)
        return self._one(call, record, 201)

    def get_custom_field(self, call: Call, custom_field: str) -> Result:
        return self._one(call, self._need("custom_field", custom_field))

    def list_field_settings(self, call: Call, project: str) -> Result:
        self._need("project", project)
        return self._page(call, self.store.many(self.store.sources("setting_of", project)))

    def add_field_setting(self, call: Call, project: str) -> Result:
        record = self._need("project", project)
        self._require_premium("Custom fields", self._need("workspace", record["workspace"]))
        body = self._body(call)
        cf = self._ref("custom_field", body.get("custom_field"), "custom_field")
        for setting in self.store.many(self.store.sources("setting_of", project)):
            if setting["custom_field"] == cf["gid"]:
                raise bad("custom_field: The custom field is already on this project")
        gid = str(
            self.store.insert(
                "custom_field_setting",
                {
                    "custom_field": cf["gid"],
                    "project": project,
                    "is_important": self._bool(body.get("is_important", False), "is_important"),
                },
            )
        )
        self.store.link("setting_of", gid, project)
        return self._one(call, self._need("custom_field_setting", gid))

    # == events ============================================================================

    def get_events(self, call: Call, workspace: str | None = None) -> Result:
        resource = workspace or call.query.get("resource")
        if not resource:
            raise bad("resource: Missing input")
        self._ref_any(resource, "resource")
        last = self.store.last_event_id()
        sync = call.query.get("sync")
        state = self.store.get_sync(sync) if sync else None
        if state is not None and (state[0] != resource or self.clock.time() - state[2] > SYNC_TTL):
            state = None
        if state is None:
            token = secrets.token_hex(16)
            self.store.put_sync(token, resource, last, self.clock.time())
            raise ApiError(412, SYNC_EXPIRED, extra={"sync": token})
        found = self.store.events_for(resource, state[1], MAX_EVENTS + 1)
        page = found[:MAX_EVENTS]
        token = secrets.token_hex(16)
        self.store.put_sync(token, resource, page[-1][0] if page else state[1], self.clock.time())
        return Result(
            200,
            {
                "data": [body for _, body in page],
                "sync": token,
                "has_more": len(found) > MAX_EVENTS,
            },
        )

    # == webhooks ==========================================================================

    def list_webhooks(self, call: Call) -> Result:
        workspace = call.query.get("workspace")
        if not workspace:
            raise bad("workspace: Missing input")
        self._need("workspace", workspace)
        hooks = [h for h in self.store.of_type("webhook") if h["_workspace"] == workspace]
        if call.query.get("resource"):
            hooks = [h for h in hooks if h["resource"] == call.query["resource"]]
        return self._page(call, hooks)

    def create_webhook(self, call: Call) -> Result:
        body = self._body(call)
        if not body.get("resource"):
            raise bad("resource: Missing input")
        if not body.get("target"):
            raise bad("target: Missing input")
        resource = self._ref_any(body["resource"], "resource")
        target = str(body["target"])
        if not target.startswith(("http://", "https://")):
            raise bad(f"target: Not a URL: {target}")
        filters = body.get("filters")
        if filters is not None and not isinstance(filters, list):
            raise bad("filters: Value is not an array")
        if resource["resource_type"] == "workspace" and not filters:
            raise bad("filters: Webhooks on a workspace need filters")
        # The handshake happens while this request is in flight (the lock is released so the
        # target may call the API back, as real receivers sometimes do).
        self._lock.release()
        try:
            secret, why = webhooks.handshake(target)
        finally:
            self._lock.acquire()
        if secret is None:
            raise bad(f"target: The webhook handshake failed: {why}")
        workspace = resource.get("workspace") or resource.get("organization") or resource["gid"]
        if resource["resource_type"] == "workspace":
            workspace = resource["gid"]
        gid = str(
            self.store.insert(
                "webhook",
                {
                    "active": True,
                    "resource": resource["gid"],
                    "target": target,
                    "filters": filters or [],
                    "created_at": self._now(),
                    "last_success_at": None,
                    "last_failure_at": None,
                    "last_failure_content": "",
                    "delivery_retry_count": 0,
                    "next_attempt_after": None,
                    "failure_deletion_timestamp": None,
                    "_secret": secret,
                    "_workspace": workspace,
                },
            )
        )
        self._webhooks = None
        result = self._one(call, self._need("webhook", gid), 201)
        result.headers["X-Hook-Secret"] = secret
        return result

    def get_webhook(self, call: Call, webhook: str) -> Result:
        return self._one(call, self._need("webhook", webhook))

    def update_webhook(self, call: Call, webhook: str) -> Result:
        self._need("webhook", webhook)
        body = self._body(call)
        filters = body.get("filters")
        if not isinstance(filters, list):
            raise bad("filters: Missing input")
        self.store.update(webhook, {"filters": filters})
        self._webhooks = None
        return self._one(call, self._need("webhook", webhook))

    def delete_webhook(self, call: Call, webhook: str) -> Result:
        self._need("webhook", webhook)
        self.store.delete(webhook)
        self._webhooks = None
        return self._empty()

    # == batch =============================================================================

    def batch(self, call: Call) -> Result:
        if call.in_batch:
            raise bad("relative_path: A batch request cannot contain another batch request")
        body = self._body(call)
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions:
            raise bad("actions: Missing input")
        if len(actions) > MAX_BATCH:
            raise bad(f"actions: At most {MAX_BATCH} actions per batch, got {len(actions)}")
        out = []
        for i, action in enumerate(actions):
            out.append(self._batch_action(call, i, action))
        return Result(200, {"data": out})

    def _batch_action(self, call: Call, i: int, action: Any) -> dict[str, Any]:
        def fail(status: int, message: str) -> dict[str, Any]:
            return {"status_code": status, "headers": {}, "body": error_body(status, message)}

        if not isinstance(action, dict):
            return fail(400, f"actions[{i}]: Value is not an object")
        path = action.get("relative_path")
        method = str(action.get("method", "")).upper()
        if not isinstance(path, str) or not path.startswith("/"):
            return fail(400, f"actions[{i}].relative_path: Missing input")
        if method not in ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"):
            return fail(400, f"actions[{i}].method: Invalid value: {action.get('method')}")
        bare, _, query_text = path.partition("?")
        query = dict(parse_qsl(query_text))
        for key, value in (action.get("options") or {}).items():
            if key == "fields":
                key, value = "opt_fields", ",".join(value) if isinstance(value, list) else value
            elif isinstance(value, list):
                value = ",".join(str(v) for v in value)
            query[key] = str(value).lower() if isinstance(value, bool) else str(value)
        sub = Call(
            method="PUT" if method == "PATCH" else ("GET" if method == "HEAD" else method),
            path=bare.rstrip("/") or "/",
            query=query,
            data=action.get("data"),
            user=call.user,
            base_url=call.base_url,
            in_batch=True,
        )
        result = self.handle(sub)
        return {"status_code": result.status, "headers": result.headers, "body": result.body}


def _plural(kind: str) -> str:
    return {"status_update": "status_updates", "story": "stories"}.get(kind, f"{kind}s")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _assigned_text(api: AsanaApi, user_gid: str | None) -> str:
    if not user_gid:
        return "unassigned this task"
    user = api.store.get(user_gid, "user") or {}
    return f"assigned to {user.get('name', user_gid)}"


def _option(cf: dict[str, Any], value: Any) -> dict[str, Any] | None:
    for option in cf.get("enum_options", []):
        if option["gid"] == value:
            return option
    return None


def _field_value(cf: dict[str, Any], value: Any) -> Any:
    subtype = cf["resource_subtype"]
    name = f"custom_fields.{cf['gid']}"
    if value is None:
        return None
    if subtype == "text":
        if not isinstance(value, str):
            raise bad(f"{name}: Not a string: {value!r}")
        if len(value) > 1024:
            raise bad(f"{name}: Value is too long ({len(value)} > 1024 characters)")
        return value
    if subtype == "number":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise bad(f"{name}: Not a number: {value!r}")
        try:
            return float(value)
        except ValueError:
            raise bad(f"{name}: Not a number: {value!r}") from None
    if subtype == "enum":
        if _option(cf, str(value)) is None:
            raise bad(f"{name}: Not an enum option of this field: {value}")
        return str(value)
    if subtype == "multi_enum":
        values = value if isinstance(value, list) else [value]
        for v in values:
            if _option(cf, str(v)) is None:
                raise bad(f"{name}: Not an enum option of this field: {v}")
        return [str(v) for v in values]
    if subtype == "date":
        date = value.get("date") if isinstance(value, dict) else value
        if not isinstance(date, str) or not _DATE.match(date):
            raise bad(f"{name}: Invalid date string: {value}")
        return date
    if subtype == "people":
        values = value if isinstance(value, list) else [value]
        return [str(v) for v in values]
    return value


def _display(cf: dict[str, Any], value: Any) -> str | None:
    if value is None or value == []:
        return None
    subtype = cf["resource_subtype"]
    if subtype == "enum":
        option = _option(cf, value)
        return option["name"] if option else None
    if subtype == "multi_enum":
        return ", ".join(o["name"] for o in (_option(cf, v) for v in value) if o)
    if subtype == "number":
        precision = cf.get("precision") or 0
        return f"{float(value):.{precision}f}"
    if subtype == "people":
        return ", ".join(str(v) for v in value)
    return str(value)
