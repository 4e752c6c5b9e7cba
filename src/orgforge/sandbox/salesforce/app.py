"""The HTTP surface: REST, composite collections, query, Bulk 2.0, OAuth, SOAP login, _sandbox.

Every handler runs in a worker thread (SQLite is blocking); the request body is read first on the
event loop, so chunked uploads without Content-Length work. Errors render exactly as a real org
renders them (see :mod:`orgforge.sandbox.salesforce.sferrors`).
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from orgforge.sandbox.salesforce import ids, streaming
from orgforge.sandbox.salesforce.auth import Auth, OAuthError, Session
from orgforge.sandbox.salesforce.bulk import Bulk
from orgforge.sandbox.salesforce.faults import Faults, Stats
from orgforge.sandbox.salesforce.jsonbody import ascii_int, json_token, parse_json, parser_error
from orgforge.sandbox.salesforce.metadata import SObject
from orgforge.sandbox.salesforce.org import Org, Record
from orgforge.sandbox.salesforce.query import Cursor, Cursors, Engine
from orgforge.sandbox.salesforce.sferrors import (
    SFError,
    invalid_session,
    not_found,
    rolled_back,
    unknown_exception,
)
from orgforge.sandbox.salesforce.streaming import ChangeBus, CometD
from orgforge.sandbox.salesforce.values import (
    format_datetime,
    now,
    parse_datetime,
    to_json,
)

VERSIONS = [f"{v}.0" for v in range(31, 63)]
RELEASES = {59: "Winter '24", 60: "Spring '24", 61: "Summer '24", 62: "Winter '25"}
MIN_VERSION, MAX_VERSION = 20.0, 66.0
MAX_COLLECTION = 200
UPDATED_WINDOW = dt.timedelta(days=30)
DELETED_WINDOW = dt.timedelta(days=15)
ID_CAP = 600_000


class ApiUsage:
    def __init__(self, maximum: int) -> None:
        self.max = maximum
        self.used = 0
        self._lock = threading.Lock()

    def take(self) -> int:
        with self._lock:
            self.used += 1
            return self.used


@dataclass
class Ctx:
    request: Request
    body: bytes
    params: dict[str, str]
    query: dict[str, str]
    session: Session | None
    version: str

    @property
    def user_id(self) -> str:
        assert self.session is not None
        return self.session.user_id

    def json(self) -> Any:
        return parse_json(self.body)


class SandboxState:
    """Everything one running sandbox owns."""

    def __init__(
        self,
        org: Org,
        auth: Auth,
        faults: Faults,
        *,
        daily_api_requests: int,
        api_version: str,
        query_batch_size: int,
        cdc: dict[str, Any] | None = None,
    ) -> None:
        self.org = org
        self.meta = org.meta
        self.auth = auth
        self.faults = faults
        self.stats = Stats()
        self.usage = ApiUsage(daily_api_requests)
        self.engine = Engine(org, api_version, clock=org.clock)  # SOQL TODAY & co.
        self.cursors = Cursors()
        self.bulk = Bulk(org, self.engine, faults)
        self.api_version = api_version
        self.query_batch_size = query_batch_size
        self.instance_url = ""
        self.started = now(org.clock)  # getDeleted's earliestDateAvailable
        self.bus = ChangeBus(
            org.conn, gap_rate=faults.rates.get("gap", 0.0), clock=org.clock, **(cdc or {})
        )
        org.bus = self.bus
        self.cometd = CometD(self.bus, self.meta.objects, clock=org.clock)

    def reset(self) -> None:
        self.org.reset()
        self.bus.clear()
        self.cursors.clear()
        self.stats.reset()
        self.usage.used = 0
        self.auth.reset()
        self.bulk.reset()


def create_app(state: SandboxState) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, redirect_slashes=False)
    app.state.sandbox = state
    api = Api(state)
    streaming.mount(app, state, state.cometd)

    async def last_resort(request: Request, exc: Exception) -> Response:
        # Anything that escapes dispatch (reading the body, routing) still gets no Python text.
        return _unknown_exception(f"{request.method} {request.url.path}")

    app.add_exception_handler(Exception, last_resort)

    def route(
        path: str,
        methods: list[str],
        family: str,
        handler: Callable[[Ctx], Any],
        *,
        auth: bool = True,
        api_call: bool = True,
    ) -> None:
        async def endpoint(request: Request) -> Response:
            body = await request.body()
            return await run_in_threadpool(
                api.dispatch, handler, family, auth, api_call, request, body
            )

        app.add_api_route(path, endpoint, methods=methods, include_in_schema=False)
        if not path.endswith("/"):
            app.add_api_route(path + "/", endpoint, methods=methods, include_in_schema=False)

    v = "/services/data/v{version}"
    route("/services/oauth2/token", ["POST"], "oauth", api.oauth_token, auth=False, api_call=False)
    route(
        "/services/oauth2/revoke", ["POST"], "oauth", api.oauth_revoke, auth=False, api_call=False
    )
    route("/services/oauth2/userinfo", ["GET"], "oauth", api.userinfo, api_call=False)
    route("/id/{org_id}/{user_id}", ["GET"], "oauth", api.identity, api_call=False)
    route(
        "/services/Soap/u/{version}", ["POST"], "soap", api.soap_login, auth=False, api_call=False
    )
    route("/services/data", ["GET"], "versions", api.versions, auth=False, api_call=False)
    route(v, ["GET"], "resources", api.resources)
    route(v + "/limits", ["GET"], "limits", api.limits)
    route(v + "/actions/standard/emailSimple", ["POST"], "actions", api.email_simple)
    route(v + "/sobjects", ["GET"], "describe", api.describe_global)
    route(v + "/sobjects/{sobject}", ["GET"], "describe", api.sobject_info)
    route(v + "/sobjects/{sobject}", ["POST"], "sobjects", api.create)
    route(v + "/sobjects/{sobject}/describe", ["GET"], "describe", api.describe)
    route(v + "/sobjects/{sobject}/updated", ["GET"], "replication", api.updated)
    route(v + "/sobjects/{sobject}/deleted", ["GET"], "replication", api.deleted)
    route(v + "/sobjects/{sobject}/{record_id}", ["GET", "PATCH", "DELETE"], "sobjects", api.record)
    route(
        v + "/sobjects/{sobject}/{field}/{value}",
        ["GET", "PATCH", "DELETE"],
        "sobjects",
        api.by_external_id,
    )
    route(v + "/query", ["GET"], "query", api.query)
    route(v + "/queryAll", ["GET"], "query", api.query_all)
    route(v + "/query/{locator}", ["GET", "DELETE"], "query", api.query_more)
    route(v + "/queryAll/{locator}", ["GET"], "query", api.query_more)
    route(v + "/composite/sobjects", ["POST", "PATCH", "DELETE"], "composite", api.collections)
    route(v + "/composite/sobjects/{sobject}", ["GET", "POST"], "composite", api.retrieve)
    route(v + "/composite/sobjects/{sobject}/{field}", ["PATCH"], "composite", api.upsert_many)
    route(v + "/jobs/ingest", ["GET", "POST"], "bulk_ingest", api.ingest_jobs)
    route(v + "/jobs/ingest/{job_id}", ["GET", "PATCH", "DELETE"], "bulk_ingest", api.ingest_job)
    route(v + "/jobs/ingest/{job_id}/batches", ["PUT"], "bulk_ingest", api.ingest_upload)
    route(v + "/jobs/ingest/{job_id}/{which}", ["GET"], "bulk_ingest", api.ingest_results)
    route(v + "/jobs/query", ["GET", "POST"], "bulk_query", api.query_jobs)
    route(v + "/jobs/query/{job_id}", ["GET", "PATCH", "DELETE"], "bulk_query", api.query_job)
    route(v + "/jobs/query/{job_id}/results", ["GET"], "bulk_query", api.query_job_results)
    # Only the health check is open (it says nothing an unauthenticated caller can't learn from
    # /services/data); stats and reset take the same Bearer token as the API.
    route("/_sandbox/health", ["GET"], "sandbox", api.health, auth=False, api_call=False)
    route("/_sandbox/stats", ["GET"], "sandbox", api.stats, auth=False, api_call=False)
    route("/_sandbox/reset", ["POST"], "sandbox", api.reset, auth=False, api_call=False)
    route(
        "/{path:path}",
        ["GET", "POST", "PUT", "PATCH", "DELETE"],
        "unknown",
        api.unknown,
        auth=False,
        api_call=False,
    )
    return app


def _unknown_exception(where: str) -> Response:
    _eid, message = unknown_exception(where)
    return _json([{"errorCode": "UNKNOWN_EXCEPTION", "message": message}], 500)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":"), ensure_ascii=False),
        status_code=status,
        media_type="application/json;charset=UTF-8",
        headers=headers,
    )


class Api:
    def __init__(self, state: SandboxState) -> None:
        self.s = state
        self.org = state.org
        self.meta = state.meta

    # ---- dispatch ----------------------------------------------------------------------------

    def dispatch(
        self,
        handler: Callable[[Ctx], Any],
        family: str,
        auth: bool,
        api_call: bool,
        request: Request,
        body: bytes,
    ) -> Response:
        s = self.s
        params = dict(request.path_params)
        version = params.pop("version", s.api_version)
        ctx = Ctx(request, body, params, dict(request.query_params), None, version)
        headers: dict[str, str] = {}
        try:
            if "version" in request.path_params and not _version_ok(version):
                raise not_found()
            if auth:
                ctx.session = s.auth.session(request.headers.get("authorization"))
                if ctx.session is None:
                    raise invalid_session()
            if api_call:
                used = s.usage.take()
                headers["Sforce-Limit-Info"] = f"api-usage={used}/{s.usage.max}"
                if used > s.usage.max:
                    raise SFError(
                        "REQUEST_LIMIT_EXCEEDED",
                        "TotalRequests Limit exceeded.",
                        status=403,
                        with_fields=False,
                    )
                fault = s.faults.request_fault()
                if fault:
                    s.stats.fault(fault)
                    if fault == "429":
                        raise SFError(
                            "REQUEST_LIMIT_EXCEEDED",
                            "TotalRequests Limit exceeded.",
                            status=429,
                            with_fields=False,
                            headers={"Retry-After": str(s.faults.retry_after)},
                        )
                    if fault == "503":
                        raise SFError(
                            "SERVER_UNAVAILABLE",
                            "Service temporarily unavailable",
                            status=503,
                            with_fields=False,
                        )
                    if fault == "expire" and ctx.session is not None:
                        s.auth.expire(ctx.session.token)
                        raise invalid_session()
            result = handler(ctx)
            response = result if isinstance(result, Response) else _json(result)
        except SFError as exc:
            response = _json(exc.rest_body(), exc.status, exc.headers)
        except OAuthError as exc:
            response = _json({"error": exc.error, "error_description": exc.description}, exc.status)
        except Exception:  # a bug in the sandbox: log it, answer like a real org (no details)
            response = _unknown_exception(f"{request.method} {request.url.path}")
        for key, value in headers.items():
            response.headers[key] = value
        s.stats.count(family, response.status_code)
        return response

    def _obj(self, name: str) -> SObject:
        obj = self.meta.get(name)
        if obj is None:
            raise not_found()
        return obj

    # ---- auth --------------------------------------------------------------------------------

    def oauth_token(self, ctx: Ctx) -> Any:
        form = {k: v[-1] for k, v in parse_qs(ctx.body.decode("utf-8", "replace")).items()}
        form.update({k: v for k, v in ctx.query.items() if k not in form})
        return self.s.auth.grant(form, self.s.instance_url)

    def oauth_revoke(self, ctx: Ctx) -> Any:
        form = {k: v[-1] for k, v in parse_qs(ctx.body.decode("utf-8", "replace")).items()}
        token = form.get("token") or ctx.query.get("token")
        if token:
            self.s.auth.expire(token)
        return Response(status_code=200)

    def identity(self, ctx: Ctx) -> Any:
        user = self.org.get(self.meta.objects["User"], ctx.params["user_id"])
        if user is None:
            raise not_found()
        return self._identity(user)

    def userinfo(self, ctx: Ctx) -> Any:
        user = self.org.get(self.meta.objects["User"], ctx.user_id)
        assert user is not None
        return self._identity(user)

    def _identity(self, user: Record) -> dict[str, Any]:
        base = self.s.instance_url
        return {
            "id": f"{base}/id/{self.org.org_id}/{user['Id']}",
            "user_id": user["Id"],
            "organization_id": self.org.org_id,
            "username": user["Username"],
            "display_name": user["Name"],
            "email": user["Email"],
            "first_name": user["FirstName"],
            "last_name": user["LastName"],
            "timezone": user["TimeZoneSidKey"],
            "active": user["IsActive"],
            "user_type": "STANDARD",
            "language": "en_US",
            "locale": "en_US",
            "utcOffset": 0,
            "urls": {
                "rest": f"{base}/services/data/v{{version}}/",
                "sobjects": f"{base}/services/data/v{{version}}/sobjects/",
                "query": f"{base}/services/data/v{{version}}/query/",
            },
        }

    def soap_login(self, ctx: Ctx) -> Response:
        try:
            root = ET.fromstring(ctx.body)
        except ET.ParseError:
            return _soap_fault(
                "INVALID_LOGIN", "Invalid username, password, security token; or user locked out."
            )
        fields = {el.tag.rsplit("}", 1)[-1]: (el.text or "") for el in root.iter()}
        try:
            token, user_id = self.s.auth.soap_login(fields.get("username"), fields.get("password"))
        except OAuthError:
            return _soap_fault(
                "INVALID_LOGIN", "Invalid username, password, security token; or user locked out."
            )
        version = ctx.version
        base = self.s.instance_url
        org_id = self.org.org_id
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns="urn:partner.soap.sforce.com" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><loginResponse>'
            f"<result><metadataServerUrl>{base}/services/Soap/m/{version}/{org_id}"
            "</metadataServerUrl><passwordExpired>false</passwordExpired><sandbox>true</sandbox>"
            f"<serverUrl>{base}/services/Soap/u/{version}/{org_id}</serverUrl>"
            f"<sessionId>{escape(token)}</sessionId><userId>{user_id}</userId>"
            f"<userInfo><organizationId>{org_id}</organizationId><userId>{user_id}</userId>"
            f"<userName>{escape(fields.get('username') or '')}</userName></userInfo>"
            "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
        )
        return Response(xml, media_type="text/xml;charset=UTF-8")

    # ---- discovery ---------------------------------------------------------------------------

    def versions(self, ctx: Ctx) -> Any:
        return [
            {
                "label": RELEASES.get(int(float(ver)), f"v{ver}"),
                "url": f"/services/data/v{ver}",
                "version": ver,
            }
            for ver in VERSIONS
        ]

    def resources(self, ctx: Ctx) -> Any:
        base = f"/services/data/v{ctx.version}"
        names = ["sobjects", "query", "queryAll", "composite", "limits", "jobs"]
        return {name: f"{base}/{name}" for name in names} | {"jobs": f"{base}/jobs"}

    def limits(self, ctx: Ctx) -> Any:
        usage = self.s.usage
        return {
            "DailyApiRequests": {"Max": usage.max, "Remaining": max(0, usage.max - usage.used)},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
            "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DataStorageMB": {"Max": 5, "Remaining": 5},
            "FileStorageMB": {"Max": 20, "Remaining": 20},
            "HourlyTimeBasedWorkflow": {"Max": 50, "Remaining": 50},
            "SingleEmail": {"Max": 15, "Remaining": 15},
        }

    def describe_global(self, ctx: Ctx) -> Any:
        return {
            "encoding": "UTF-8",
            "maxBatchSize": MAX_COLLECTION,
            "sobjects": [o.global_describe(ctx.version) for o in self.meta.objects.values()],
        }

    def sobject_info(self, ctx: Ctx) -> Any:
        obj = self._obj(ctx.params["sobject"])
        return {"objectDescribe": obj.global_describe(ctx.version), "recentItems": []}

    def describe(self, ctx: Ctx) -> Any:
        obj = self._obj(ctx.params["sobject"])
        return self.meta.describe(obj.name, ctx.version)

    # ---- records -----------------------------------------------------------------------------

    def _render_record(
        self, obj: SObject, rec: Record, fields: list[str] | None, version: str
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attributes": {
                "type": obj.name,
                "url": f"/services/data/v{version}/sobjects/{obj.name}/{rec['Id']}",
            }
        }
        names = list(obj.fields) if fields is None else fields
        for name in names:
            f = obj.field(name)
            if f is None:
                raise SFError(
                    "INVALID_FIELD",
                    f"No such column '{name}' on entity '{obj.name}'. "
                    "If you are attempting to use a custom field, be sure to append "
                    "the '__c' after the custom field name. Please reference your WSDL "
                    "or the describe call for the appropriate names.",
                    with_fields=False,
                )
            out[f.name] = to_json(f, rec.get(f.name))
        return out

    def _record_id(self, obj: SObject, raw: str) -> str:
        norm = ids.normalize(raw)
        if norm is None:
            if len(raw) in (15, 18):
                raise SFError(
                    "MALFORMED_ID", f"{obj.label} ID: id value of incorrect type: {raw}", ["Id"]
                )
            raise SFError(
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {raw}",
                status=404,
                with_fields=False,
            )
        if norm[:3] != obj.key_prefix:
            raise SFError(
                "MALFORMED_ID", f"{obj.label} ID: id value of incorrect type: {raw}", ["Id"]
            )
        return norm

    def _lock_fault(self, record_id: str | None) -> None:
        if self.s.faults.lock_hit():
            self.s.stats.fault("lock")
            suffix = f" or 1 records: {record_id}" if record_id else ""
            raise SFError(
                "UNABLE_TO_LOCK_ROW",
                f"unable to obtain exclusive access to this record{suffix}",
                [],
            )

    def create(self, ctx: Ctx) -> Any:
        obj = self._obj(ctx.params["sobject"])
        body = ctx.json()
        if not isinstance(body, dict):
            raise SFError(
                "JSON_PARSER_ERROR",
                "Cannot deserialize instance of sObject from START_ARRAY value",
                with_fields=False,
            )
        values, refs = self.org.prepare(obj, body)
        self._lock_fault(None)
        with self.org.transaction() as tx:
            record_id = tx.insert(obj, values, ctx.user_id, refs)
        return _json({"id": record_id, "success": True, "errors": []}, 201)

    def email_simple(self, ctx: Ctx) -> Any:
        """The ``emailSimple`` invocable action: nothing is mailed; with ``logEmailOnSend``
        the send is logged as a completed email Task on the recipient (and an EmailMessage
        where the org has that object), as Salesforce logs it."""
        body = ctx.json()
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if (
            not isinstance(inputs, list)
            or not inputs
            or not all(isinstance(i, dict) for i in inputs)
        ):
            raise SFError(
                "JSON_PARSER_ERROR",
                "inputs: expected a non-empty list of objects",
                with_fields=False,
            )
        results = []
        task = self.meta.get("Task")
        message = self.meta.get("EmailMessage")
        for item in inputs:
            missing = [
                k for k in ("emailAddresses", "emailSubject", "emailBody") if not item.get(k)
            ]
            if missing:
                results.append(
                    {
                        "actionName": "emailSimple",
                        "isSuccess": False,
                        "outputValues": None,
                        "errors": [
                            {
                                "statusCode": "REQUIRED_FIELD_MISSING",
                                "message": f"Missing required input parameter: {missing[0]}",
                                "fields": [],
                            }
                        ],
                    }
                )
                continue
            if item.get("logEmailOnSend") and item.get("recipientId"):
                with self.org.transaction() as tx:
                    values, _ = self.org.prepare(
                        task,
                        {
                            "Subject": f"Email: {item['emailSubject']}"[:255],
                            "Description": str(item["emailBody"])[:32000],
                            "Status": "Completed",
                            "TaskSubtype": "Email",
                            "WhoId": item["recipientId"],
                            "OwnerId": ctx.user_id,
                        },
                    )
                    task_id = tx.insert(task, values, ctx.user_id)
                    if message is not None:
                        # sent (Status 3) and linked to its Task; a person is no RelatedToId
                        # (that is the What: an account, opportunity or case)
                        values, _ = self.org.prepare(
                            message,
                            {
                                "Subject": item["emailSubject"],
                                "TextBody": item["emailBody"],
                                "ToAddress": item["emailAddresses"],
                                "Incoming": False,
                                "Status": "3",
                                "ActivityId": task_id,
                            },
                        )
                        tx.insert(message, values, ctx.user_id)
            results.append(
                {
                    "actionName": "emailSimple",
                    "errors": None,
                    "isSuccess": True,
                    "outputValues": None,
                }
            )
        return results

    def record(self, ctx: Ctx) -> Any:
        obj = self._obj(ctx.params["sobject"])
        record_id = self._record_id(obj, ctx.params["record_id"])
        method = ctx.request.method
        if method == "GET":
            rec = self.org.get(obj, record_id)
            if rec is None or rec["IsDeleted"]:
                raise not_found()
            fields = (
                [f.strip() for f in ctx.query["fields"].split(",")]
                if ctx.query.get("fields")
                else None
            )
            return self._render_record(obj, rec, fields, ctx.version)
        if method == "PATCH":
            body = ctx.json()
            if not isinstance(body, dict):
                raise SFError(
                    "JSON_PARSER_ERROR", "Cannot deserialize instance of sObject", with_fields=False
                )
            values, refs = self.org.prepare(obj, body)
            self._lock_fault(record_id)
            with self.org.transaction() as tx:
                try:
                    tx.update(obj, record_id, values, ctx.user_id, refs)
                except SFError as exc:
                    if exc.code == "ENTITY_IS_DELETED":  # in the recycle bin: 404, like DELETE
                        raise SFError("ENTITY_IS_DELETED", exc.message, exc.fields, 404) from None
                    raise
            return Response(status_code=204)
        self._lock_fault(record_id)
        with self.org.transaction() as tx:
            tx.delete(obj, record_id, ctx.user_id)
        return Response(status_code=204)

    def by_external_id(self, ctx: Ctx) -> Any:
        obj = self._obj(ctx.params["sobject"])
        key = obj.field(ctx.params["field"])
        value = ctx.params["value"]
        if key is None or not key.id_lookup:
            raise SFError(
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: "
                f"{ctx.params['field']}",
                status=404,
                with_fields=False,
            )
        method = ctx.request.method
        if method == "PATCH":
            body = ctx.json()
            if not isinstance(body, dict):
                raise SFError(
                    "JSON_PARSER_ERROR", "Cannot deserialize instance of sObject", with_fields=False
                )
            body_key = next((k for k in body if k.lower() == key.name.lower()), None)
            if body_key is not None and str(body[body_key]) != value:
                raise SFError(
                    "INVALID_FIELD",
                    f"The value of the external ID field {key.name} in "
                    "the body doesn't match the value in the URL",
                    [key.name],
                )
            values, refs = self.org.prepare(obj, {k: v for k, v in body.items() if k != body_key})
            self._lock_fault(None)
            with self.org.transaction() as tx:
                try:
                    record_id, created = tx.upsert(obj, key, value, values, ctx.user_id, refs)
                except SFError as exc:
                    if exc.code == "DUPLICATE_EXTERNAL_ID":
                        return self._multiple_choices(obj, key, value, ctx.version)
                    raise
            result = {"id": record_id, "success": True, "errors": [], "created": created}
            if created:
                return _json(result, 201)
            if float(ctx.version) < 46.0:
                return Response(status_code=204)
            return _json(result, 200)
        found = (
            [self._record_id(obj, value)] if key.type == "id" else self.org.find(obj, key, value)
        )
        if not found or (
            key.type == "id" and (self.org.get(obj, found[0]) or {}).get("IsDeleted", True)
        ):
            raise not_found()
        if len(found) > 1:
            return self._multiple_choices(obj, key, value, ctx.version)
        if method == "GET":
            rec = self.org.get(obj, found[0])
            assert rec is not None
            fields = (
                [f.strip() for f in ctx.query["fields"].split(",")]
                if ctx.query.get("fields")
                else None
            )
            return self._render_record(obj, rec, fields, ctx.version)
        self._lock_fault(found[0])
        with self.org.transaction() as tx:
            tx.delete(obj, found[0], ctx.user_id)
        return Response(status_code=204)

    def _multiple_choices(self, obj: SObject, key: Any, value: str, version: str) -> Response:
        found = self.org.find(obj, key, value)
        return _json([f"/services/data/v{version}/sobjects/{obj.name}/{i}" for i in found], 300)

    # ---- collections -------------------------------------------------------------------------

    def collections(self, ctx: Ctx) -> Any:
        method = ctx.request.method
        if method == "DELETE":
            raw_ids = [i for i in (ctx.query.get("ids") or "").split(",") if i.strip()]
            all_or_none = ctx.query.get("allOrNone", "false").lower() == "true"
            if not raw_ids:
                raise SFError("MISSING_ARGUMENT", "ids parameter is required", with_fields=False)
            _check_size(len(raw_ids))
            return self._run_collection(
                [(None, i.strip()) for i in raw_ids], all_or_none, ctx, self._delete_one
            )
        body = ctx.json()
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise SFError(
                "JSON_PARSER_ERROR",
                'The request body must be {"allOrNone": ..., "records": [...]}',
                with_fields=False,
            )
        records = body["records"]
        _check_size(len(records))
        all_or_none = _all_or_none(body)
        items = [self._parse_item(r) for r in records]
        op = self._create_one if method == "POST" else self._update_one
        return self._run_collection(items, all_or_none, ctx, op)

    def _parse_item(self, record: Any) -> tuple[SObject, Any]:
        if not isinstance(record, dict):
            raise SFError(
                "JSON_PARSER_ERROR", "Each record must be a JSON object", with_fields=False
            )
        attributes = record.get("attributes")
        if attributes is not None and not isinstance(attributes, dict):
            raise parser_error(
                f"Cannot deserialize instance of attributes from {json_token(attributes)} value"
            )
        type_name = (attributes or {}).get("type")
        if type_name is not None and not isinstance(type_name, str):
            raise parser_error(
                f"Cannot deserialize instance of string from {json_token(type_name)} value"
            )
        if not type_name:
            raise SFError("INVALID_TYPE", "Must send a concrete entity type.", with_fields=False)
        obj = self.meta.get(type_name)
        if obj is None:
            from orgforge.sandbox.salesforce.sferrors import invalid_type

            raise invalid_type(type_name)
        raw_id = next((v for k, v in record.items() if k.lower() == "id"), None)
        if raw_id is not None and not isinstance(raw_id, str):
            raise parser_error(f"Cannot deserialize instance of id from {json_token(raw_id)} value")
        values, refs = self.org.prepare(obj, {k: v for k, v in record.items() if k.lower() != "id"})
        return obj, (raw_id, values, refs)

    def _run_collection(
        self,
        items: list[tuple[Any, Any]],
        all_or_none: bool,
        ctx: Ctx,
        op: Callable[..., dict[str, Any]],
    ) -> Any:
        """Run op per record, each in its own savepoint; allOrNone rolls everything back."""
        results: list[dict[str, Any]] = []
        failed = False
        with self.org.transaction() as tx:
            for obj, payload in items:
                try:
                    with tx.savepoint():
                        results.append(op(tx, obj, payload, ctx))
                except SFError as exc:
                    failed = True
                    result: dict[str, Any] = {"success": False, "errors": [exc.result_error()]}
                    if _payload_id(payload):
                        result = {"id": _payload_id(payload), **result}
                    results.append(result)
            if all_or_none and failed:
                tx.rollback_only = True
        if not (all_or_none and failed):
            return results
        out = []
        for (_obj, payload), result in zip(items, results, strict=True):
            if result.get("success") is False:
                out.append(result)
                continue
            entry: dict[str, Any] = {"success": False, "errors": [rolled_back().result_error()]}
            if _payload_id(payload):
                entry = {"id": _payload_id(payload), **entry}
            out.append(entry)
        return out

    def _create_one(self, tx: Any, obj: SObject, payload: Any, ctx: Ctx) -> dict[str, Any]:
        raw_id, values, refs = payload
        if raw_id:
            raise SFError("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
        self._lock_fault(None)
        record_id = tx.insert(obj, values, ctx.user_id, refs)
        return {"id": record_id, "success": True, "errors": []}

    def _update_one(self, tx: Any, obj: SObject, payload: Any, ctx: Ctx) -> dict[str, Any]:
        raw_id, values, refs = payload
        if not raw_id:
            raise SFError("MISSING_ARGUMENT", "Id not specified in an update call", [])
        norm = ids.normalize(raw_id)
        if norm is None or norm[:3] != obj.key_prefix:
            raise SFError(
                "MALFORMED_ID", f"{obj.label} ID: id value of incorrect type: {raw_id}", ["Id"]
            )
        self._lock_fault(norm)
        try:
            tx.update(obj, norm, values, ctx.user_id, refs)
        except SFError as exc:
            if exc.code == "NOT_FOUND":
                raise SFError(
                    "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", []
                ) from None
            raise
        return {"id": norm, "success": True, "errors": []}

    def _delete_one(self, tx: Any, _obj: Any, raw_id: str, ctx: Ctx) -> dict[str, Any]:
        norm = ids.normalize(raw_id)
        obj = self.meta.by_prefix(norm[:3]) if norm else None
        if norm is None or obj is None:
            raise SFError("MALFORMED_ID", f"malformed id {raw_id}", [])
        self._lock_fault(norm)
        try:
            tx.delete(obj, norm, ctx.user_id)
        except SFError as exc:
            if exc.code == "NOT_FOUND":
                raise SFError(
                    "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", []
                ) from None
            if exc.code == "ENTITY_IS_DELETED":
                raise SFError("ENTITY_IS_DELETED", "entity is deleted", []) from None
            raise
        return {"id": norm, "success": True, "errors": []}

    def upsert_many(self, ctx: Ctx) -> Any:
        obj = self._obj(ctx.params["sobject"])
        key = obj.field(ctx.params["field"])
        if key is None or not key.id_lookup:
            raise SFError(
                "INVALID_FIELD",
                f"Field {ctx.params['field']} is not an external ID or "
                f"indexed field for {obj.name}",
                with_fields=False,
            )
        body = ctx.json()
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise SFError(
                "JSON_PARSER_ERROR", "The request body must have records", with_fields=False
            )
        _check_size(len(body["records"]))
        items = []
        for record in body["records"]:
            item_obj, (raw_id, values, refs) = self._parse_item(record)
            if item_obj is not obj:
                raise SFError(
                    "INVALID_TYPE", f"All records must be of type {obj.name}", with_fields=False
                )
            key_value = raw_id if key.name == "Id" else values.pop(key.name, None)
            items.append((obj, (key_value, values, refs)))

        def one(tx: Any, o: SObject, payload: Any, c: Ctx) -> dict[str, Any]:
            key_value, values, refs = payload
            self._lock_fault(None)
            record_id, created = tx.upsert(o, key, key_value, values, c.user_id, refs)
            return {"id": record_id, "success": True, "errors": [], "created": created}

        results = self._run_collection(items, _all_or_none(body), ctx, one)
        for result in results:
            if result.get("success") is False:
                result.pop("id", None)
        return results

    def retrieve(self, ctx: Ctx) -> Any:
        obj = self._obj(ctx.params["sobject"])
        if ctx.request.method == "POST":
            body = ctx.json()
            raw_ids = body.get("ids") if isinstance(body, dict) else None
            fields = body.get("fields") if isinstance(body, dict) else None
        else:
            raw_ids = [i for i in (ctx.query.get("ids") or "").split(",") if i]
            fields = [f for f in (ctx.query.get("fields") or "").split(",") if f]
        if (
            not isinstance(raw_ids, list)
            or not raw_ids
            or not isinstance(fields, list)
            or not fields
        ):
            raise SFError("MISSING_ARGUMENT", "ids and fields are required", with_fields=False)
        for value in (*raw_ids, *fields):
            if not isinstance(value, str):
                raise parser_error(
                    f"Cannot deserialize instance of string from {json_token(value)} value"
                )
        if len(raw_ids) > 2000:
            raise SFError(
                "EXCEEDED_ID_LIMIT", "Too many ids: at most 2000 per request", with_fields=False
            )
        out = []
        for raw in raw_ids:
            norm = ids.normalize(raw)
            rec = self.org.get(obj, norm) if norm and norm[:3] == obj.key_prefix else None
            if rec is None or rec["IsDeleted"]:
                out.append(None)
                continue
            out.append(
                self._render_record(
                    obj, rec, ["Id", *[f for f in fields if f.lower() != "id"]], ctx.version
                )
            )
        return out

    # ---- query -------------------------------------------------------------------------------

    def query(self, ctx: Ctx, include_deleted: bool = False) -> Any:
        text = ctx.query.get("q")
        if not text:
            raise SFError(
                "MALFORMED_QUERY", "A query string has to be specified", with_fields=False
            )
        plan, records, lookup = self.s.engine.run(text, include_deleted)
        if plan.count_only:
            return {"totalSize": len(records), "done": True, "records": []}
        if plan.counts:
            return {
                "totalSize": 1,
                "done": True,
                "records": [self.s.engine.aggregate(plan, records, lookup)],
            }
        batch = _batch_size(
            ctx.request.headers.get("sforce-query-options"), self.s.query_batch_size
        )
        cursor = Cursor(plan, records, lookup, batch)
        return self._page(cursor, ctx.version)

    def query_all(self, ctx: Ctx) -> Any:
        return self.query(ctx, include_deleted=True)

    def _page(self, cursor: Cursor, version: str) -> dict[str, Any]:
        start = cursor.position
        page = cursor.records[start : start + cursor.batch]
        cursor.position = start + len(page)
        body: dict[str, Any] = {
            "totalSize": len(cursor.records),
            "done": cursor.position >= len(cursor.records),
        }
        if not body["done"]:
            self.s.cursors.add(cursor)
            body["nextRecordsUrl"] = (
                f"/services/data/v{version}/query/{cursor.cursor_id}-{cursor.position}"
            )
        else:
            self.s.cursors.drop(cursor.cursor_id)
        body["records"] = [
            self.s.engine.render(cursor.plan, r, cursor.lookup, version) for r in page
        ]
        return body

    def query_more(self, ctx: Ctx) -> Any:
        locator = ctx.params["locator"]
        cursor_id, _, position = locator.rpartition("-")
        cursor = self.s.cursors.get(cursor_id)
        offset = ascii_int(position)  # not isdigit(): that accepts '²', which int() refuses
        if cursor is None or offset is None or offset > len(cursor.records):
            raise SFError("INVALID_QUERY_LOCATOR", "invalid query locator", with_fields=False)
        if ctx.request.method == "DELETE":
            self.s.cursors.drop(cursor_id)
            return Response(status_code=204)
        cursor.position = offset
        return self._page(cursor, ctx.version)

    # ---- replication -------------------------------------------------------------------------

    def _window(self, ctx: Ctx, span: dt.timedelta) -> tuple[dt.datetime, dt.datetime]:
        def parse(name: str) -> dt.datetime:
            raw = ctx.query.get(name)
            stamp = parse_datetime(raw.replace(" ", "+")) if raw else None
            if stamp is None:
                raise SFError(
                    "MALFORMED_QUERY",
                    f"{name} parameter is missing or not a valid ISO 8601 dateTime",
                    with_fields=False,
                )
            return stamp.replace(second=0, microsecond=0)  # like a real org: minute precision

        start, end = parse("start"), parse("end")
        current = now(self.org.clock)
        if start >= end:
            raise SFError(
                "INVALID_REPLICATION_DATE",
                "startDate must chronologically precede endDate",
                with_fields=False,
            )
        if start < current - span:
            raise SFError(
                "INVALID_REPLICATION_DATE",
                f"startDate cannot be more than {span.days} days ago",
                with_fields=False,
            )
        if start > current:
            raise SFError(
                "INVALID_REPLICATION_DATE", "startDate cannot be in the future", with_fields=False
            )
        return start, min(end, current.replace(second=0, microsecond=0) + dt.timedelta(minutes=1))

    def updated(self, ctx: Ctx) -> Any:
        obj = self._obj(ctx.params["sobject"])
        start, end = self._window(ctx, UPDATED_WINDOW)
        found = self.org.modified_between(obj, start, end, ID_CAP)
        if len(found) > ID_CAP:
            raise SFError(
                "EXCEEDED_ID_LIMIT",
                f"record limit reached. cannot submit more than {ID_CAP} records into this call",
                with_fields=False,
            )
        return {"ids": found, "latestDateCovered": format_datetime(end)}

    def deleted(self, ctx: Ctx) -> Any:
        obj = self._obj(ctx.params["sobject"])
        start, end = self._window(ctx, DELETED_WINDOW)
        found = self.org.deleted_between(obj, start, end, ID_CAP)
        if len(found) > ID_CAP:
            raise SFError(
                "EXCEEDED_ID_LIMIT",
                f"record limit reached. cannot submit more than {ID_CAP} records into this call",
                with_fields=False,
            )
        return {
            "deletedRecords": [{"id": i, "deletedDate": format_datetime(d)} for i, d in found],
            "earliestDateAvailable": format_datetime(
                self.s.started.replace(second=0, microsecond=0)
            ),
            "latestDateCovered": format_datetime(end),
        }

    # ---- bulk --------------------------------------------------------------------------------

    def ingest_jobs(self, ctx: Ctx) -> Any:
        if ctx.request.method == "GET":
            return self.s.bulk.list("ingest")
        body = ctx.json()
        if not isinstance(body, dict):
            raise SFError(
                "JSON_PARSER_ERROR", "Job definition must be a JSON object", with_fields=False
            )
        return self.s.bulk.create_ingest(body, ctx.user_id, ctx.version)

    def ingest_job(self, ctx: Ctx) -> Any:
        return self._job(ctx, "ingest")

    def _job(self, ctx: Ctx, kind: str) -> Any:
        job_id = ctx.params["job_id"]
        method = ctx.request.method
        if method == "GET":
            return self.s.bulk.public_info(self.s.bulk.get(job_id, kind))
        if method == "DELETE":
            self.s.bulk.delete(job_id, kind)
            return Response(status_code=204)
        body = ctx.json()
        state = body.get("state") if isinstance(body, dict) else None
        if state is not None and not isinstance(state, str):
            raise parser_error(
                f"Cannot deserialize instance of string from {json_token(state)} value"
            )
        return self.s.bulk.set_state(job_id, kind, state)

    def ingest_upload(self, ctx: Ctx) -> Any:
        content_type = ctx.request.headers.get("content-type", "text/csv")
        if not content_type.lower().startswith("text/csv"):
            raise SFError(
                "INVALIDJOB", f"Unsupported Content-Type: {content_type}", with_fields=False
            )
        self.s.bulk.upload(ctx.params["job_id"], ctx.body)
        return Response(status_code=201)

    def ingest_results(self, ctx: Ctx) -> Any:
        which = ctx.params["which"]
        if which not in ("successfulResults", "failedResults", "unprocessedrecords"):
            raise not_found()
        text = self.s.bulk.ingest_results(ctx.params["job_id"], which)
        return Response(text, media_type="text/csv")

    def query_jobs(self, ctx: Ctx) -> Any:
        if ctx.request.method == "GET":
            return self.s.bulk.list("query")
        body = ctx.json()
        if not isinstance(body, dict):
            raise SFError(
                "JSON_PARSER_ERROR", "Job definition must be a JSON object", with_fields=False
            )
        return self.s.bulk.create_query(body, ctx.user_id, ctx.version)

    def query_job(self, ctx: Ctx) -> Any:
        return self._job(ctx, "query")

    def query_job_results(self, ctx: Ctx) -> Any:
        raw_max = ctx.query.get("maxRecords")
        max_records = None
        if raw_max is not None:
            max_records = ascii_int(raw_max)
            if not max_records:  # zero, negative, not ASCII digits, or beyond a 32-bit int
                raise SFError(
                    "INVALIDURL",
                    f"maxRecords must be a positive integer of at most 2147483647: {raw_max[:50]}",
                    with_fields=False,
                )
        text, locator, count = self.s.bulk.query_results(
            ctx.params["job_id"], ctx.query.get("locator"), max_records
        )
        return Response(
            text,
            media_type="text/csv",
            headers={"Sforce-Locator": locator, "Sforce-NumberOfRecords": str(count)},
        )

    # ---- sandbox -----------------------------------------------------------------------------

    def health(self, ctx: Ctx) -> Any:
        return {"status": "ok", "instance_url": self.s.instance_url, "org_id": self.org.org_id}

    def _require_admin(self, ctx: Ctx) -> None:
        """The static token (even if an injected ``expire`` fault killed it) or a live session."""
        header = ctx.request.headers.get("authorization") or ""
        _scheme, _, token = header.strip().partition(" ")
        given, static = token.strip().encode(), self.s.auth.static_token.encode()
        if given and hmac.compare_digest(given, static):  # bytes: str refuses non-ASCII
            return
        if self.s.auth.session(header) is None:
            raise invalid_session()

    def stats(self, ctx: Ctx) -> Any:
        self._require_admin(ctx)
        snap = self.s.stats.snapshot()
        snap["api_usage"] = {"used": self.s.usage.used, "max": self.s.usage.max}
        snap["records"] = {name: self.org.count(obj) for name, obj in self.meta.objects.items()}
        return snap

    def reset(self, ctx: Ctx) -> Any:
        self._require_admin(ctx)
        self.s.reset()
        return {"status": "reset"}

    def unknown(self, ctx: Ctx) -> Any:
        raise not_found()


def _payload_id(payload: Any) -> str | None:
    if isinstance(payload, str):
        return ids.normalize(payload) or payload
    if isinstance(payload, tuple) and payload and isinstance(payload[0], str):
        return ids.normalize(payload[0]) or payload[0]
    return None


def _all_or_none(body: dict[str, Any]) -> bool:
    """``allOrNone``: a boolean, or the strings "true"/"false" (which the parser coerces)."""
    value = body.get("allOrNone", False)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if value is None or isinstance(value, bool):
        return bool(value)
    raise parser_error(f"Cannot deserialize instance of boolean from {json_token(value)} value")


def _check_size(n: int) -> None:
    if n > MAX_COLLECTION:
        raise SFError(
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than "
            f"{MAX_COLLECTION} records into this call",
            with_fields=False,
        )


def _batch_size(header: str | None, default: int) -> int:
    """``Sforce-Query-Options: batchSize=N``: a suggestion clamped to 200..2,000 (as documented).

    A value that isn't an int at all (not ASCII digits, or beyond a 32-bit int) is refused with
    INVALID_BATCH_SIZE, the API's code for "the query options have an invalid batch size value".
    """
    if not header:
        return default
    m = re.search(r"batchSize\s*=\s*([^,;\s]*)", header, re.IGNORECASE)
    if m is None:
        return default
    size = ascii_int(m.group(1))
    if size is None:
        raise SFError(
            "INVALID_BATCH_SIZE",
            f"invalid batch size: {m.group(1)[:50]} (batchSize must be an integer)",
            with_fields=False,
        )
    return max(200, min(2000, size))


def _version_ok(version: str) -> bool:
    try:
        number = float(version)
    except ValueError:
        return False
    return re.fullmatch(r"\d+\.\d", version) is not None and MIN_VERSION <= number <= MAX_VERSION


def _soap_fault(code: str, message: str) -> Response:
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
        'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:sf="urn:fault.partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault>'
        f"<faultcode>sf:{code}</faultcode><faultstring>{code}: {escape(message)}</faultstring>"
        f'<detail><sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>{code}'
        f"</sf:exceptionCode><sf:exceptionMessage>{escape(message)}</sf:exceptionMessage>"
        "</sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
    return Response(xml, status_code=500, media_type="text/xml;charset=UTF-8")


__all__ = ["JSONResponse", "SandboxState", "create_app"]
