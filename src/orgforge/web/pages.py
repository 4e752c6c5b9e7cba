"""The HTML pages: server-rendered Jinja2 templates, a little plain JS for the live streams.

Forms post back here (with the session cookie and a CSRF token); a form's bad input shows the
same page again with the error and hint, status 400. Long work starts a background operation
and goes to its page, which follows the operation's server-sent progress.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import jinja2
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from orgforge.errors import ConfigError, OrgforgeError
from orgforge.web.app import HERE, state_of
from orgforge.web.auth import COOKIE

# autoescaping on for every template: record text (names, descriptions) is user-controlled data
templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, enable_async=False
    )
)
public = APIRouter(include_in_schema=False)
router = APIRouter(include_in_schema=False)

INDUSTRIES_SHOWN = 12


def render(request: Request, name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    web = state_of(request)
    signed_in = web.auth.how(request) is not None
    context = {
        "csrf": web.auth.csrf() if signed_in else "",
        "signed_in": signed_in,
        "world": web.settings.world,
        "path": request.url.path,
        **values,
    }
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def login_page(
    request: Request, status_code: int = 200, next_path: str = "/", error: str | None = None
) -> HTMLResponse:
    safe_next = next_path if next_path.startswith("/") and not next_path.startswith("//") else "/"
    return render(request, "login.html", status_code, next_path=safe_next, login_error=error)


@public.get("/login")
async def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return login_page(request, next_path=next)


@public.post("/login")
async def login(request: Request, token: str = Form(""), next: str = Form("/")) -> Any:
    web = state_of(request)
    if not web.auth.token_ok(token.strip()):
        return login_page(request, 401, next, "That token is not this server's.")
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE, web.auth.session, httponly=True, samesite="strict", secure=False, path="/"
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Any:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# -- the world --------------------------------------------------------------------------------


def _world_view(web: Any) -> dict[str, Any]:
    """The world page's figures, or why there are none yet."""
    try:
        stats = web.stats()
    except OrgforgeError as exc:
        return {"stats": None, "problem": exc.message}
    if not any(row["count"] for row in stats["counts"]):
        return {"stats": None, "problem": "The world holds no records yet: generate some."}
    fills = []
    for name, rates in stats["fill_rates"].items():
        if rates:
            fills.append({"object": name, "mean": sum(rates.values()) / len(rates), "rates": rates})
    return {"stats": stats, "fills": fills, "problem": None}


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> HTMLResponse:
    return await world_page(request)


@router.get("/world", response_class=HTMLResponse)
async def world_page(request: Request) -> HTMLResponse:
    web = state_of(request)
    view = await asyncio.to_thread(_world_view, web)
    check = None
    if view["stats"] is not None:
        check = await asyncio.to_thread(web.check)
    recent = await asyncio.to_thread(web.ops.list, 5)
    return render(request, "world.html", check=check, recent=recent, **view)


# -- generate ---------------------------------------------------------------------------------


def _industries() -> list[str]:
    from orgforge.packs import load_packs

    return sorted(load_packs([]))


# The density sliders: (object, label, min, max, step) in records per account. Contacts stay
# ≥ 1 (opportunities need a contact); contact roles and case comments follow their parents.
DENSITY_SLIDERS = (
    ("Contact", "Contacts", 1, 20, 0.5),
    ("Opportunity", "Opportunities", 0, 10, 0.5),
    ("Case", "Cases", 0, 10, 0.5),
    ("Task", "Tasks (calls, emails, follow-ups)", 0, 20, 0.5),
    ("Event", "Meetings and demos", 0, 10, 0.5),
    ("Lead", "Leads", 0, 20, 0.5),
)


def _density_defaults(settings: Any) -> dict[str, float]:
    from orgforge.web.ops import density_defaults

    return density_defaults(settings)


def _density_sliders(settings: Any, form: dict[str, Any]) -> list[dict[str, Any]]:
    defaults = _density_defaults(settings)
    sliders = []
    for name, label, low, high, step in DENSITY_SLIDERS:
        value = form.get(f"per_account.{name}")
        sliders.append(
            {
                "object": name,
                "label": label,
                "min": low,
                "max": high,
                "step": step,
                "default": defaults[name],
                "value": value if value not in (None, "") else defaults[name],
            }
        )
    return sliders


def _density_params(form: dict[str, Any], defaults: dict[str, float]) -> dict[str, float] | None:
    """The sliders moved away from the config's values, as ``per_account`` (None: none)."""
    chosen: dict[str, float] = {}
    for name, label, low, high, _step in DENSITY_SLIDERS:
        raw = str(form.get(f"per_account.{name}") or "").strip()
        if not raw:
            continue
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(
                f"{label}: {raw!r} is not a number", f"Records per account, {low} to {high}."
            ) from None
        if not low <= value <= high:
            raise ConfigError(
                f"{label}: {value:g} per account is out of range",
                f"Records per account, {low} to {high}.",
            )
        if value != defaults[name]:
            chosen[name] = value
    return chosen or None  # contact roles and case comments follow (ops._density)


def _generate_params(form: dict[str, Any], defaults: dict[str, float]) -> dict[str, Any]:
    params: dict[str, Any] = {
        "preset": form.get("preset") or None,
        "seed": int(form["seed"]) if str(form.get("seed") or "").strip() else None,
        "as_of": form.get("as_of") or None,
        "text": form.get("text") or None,
        "industries": list(form.get("industries") or []),
    }
    accounts = str(form.get("accounts") or "").strip()
    if accounts:
        try:
            params["accounts"] = int(accounts)
        except ValueError:
            raise ConfigError(
                f"accounts: {accounts!r} is not a whole number", "Give a number such as 50."
            ) from None
        params["preset"] = None
    if form.get("max_cost"):
        params["max_cost"] = float(form["max_cost"])
    params["per_account"] = _density_params(form, defaults)
    return {k: v for k, v in params.items() if v not in (None, "")}


async def _form(request: Request) -> dict[str, Any]:
    form = await request.form()
    values: dict[str, Any] = {k: form.get(k) for k in form}
    values["industries"] = form.getlist("industries")
    return values


@router.get("/generate", response_class=HTMLResponse)
async def generate_form(request: Request) -> HTMLResponse:
    web = state_of(request)
    industries = await asyncio.to_thread(_industries)
    sliders = await asyncio.to_thread(_density_sliders, web.settings, {})
    return render(
        request, "generate.html", industries=industries, form={}, preview=None, sliders=sliders
    )


@router.post("/generate", response_class=HTMLResponse)
async def generate(request: Request) -> Any:
    """``action=preview`` shows what it would write (and an LLM run's cost); ``run`` starts it."""
    from orgforge.web import ops

    web = state_of(request)
    form = await _form(request)
    industries = await asyncio.to_thread(_industries)
    defaults = await asyncio.to_thread(_density_defaults, web.settings)
    sliders = await asyncio.to_thread(_density_sliders, web.settings, form)
    try:
        params = _generate_params(form, defaults)
        if form.get("action") == "run":
            op = await asyncio.to_thread(web.ops.start, "generate", params)
            return RedirectResponse(f"/ops/{op.id}", status_code=303)
        preview = await asyncio.to_thread(ops.generate_preview, web.settings, params)
        estimate = None
        if params.get("text") == "llm":
            estimate = await asyncio.to_thread(ops.generate_estimate, web.settings, params)
    except (OrgforgeError, ValueError) as exc:
        error = exc if isinstance(exc, OrgforgeError) else ConfigError(str(exc))
        return render(
            request,
            "generate.html",
            400,
            industries=industries,
            form=form,
            preview=None,
            error=error,
            sliders=sliders,
        )
    return render(
        request,
        "generate.html",
        industries=industries,
        form=form,
        preview=preview,
        estimate=estimate,
        sliders=sliders,
    )


# -- load / validate / cleanup ----------------------------------------------------------------

_TARGET_FIELDS = ("target", "instance_url", "auth", "org")


def _target_params(form: dict[str, Any]) -> dict[str, Any]:
    params = {k: form.get(k) for k in _TARGET_FIELDS if form.get(k)}
    if form.get("instance_url") and not form.get("auth"):
        params["auth"] = "token"
    return params


@router.get("/load", response_class=HTMLResponse)
async def load_form(request: Request) -> HTMLResponse:
    return render(request, "load.html", form={})


@router.post("/load", response_class=HTMLResponse)
async def load(request: Request) -> Any:
    """validate | load | cleanup; load and cleanup run as a dry run first unless told not."""
    from orgforge.web.api import secret_env

    web = state_of(request)
    form = await _form(request)
    kind = form.get("operation") or "load"
    params = _target_params(form)
    if kind in ("load", "cleanup"):
        params["dry_run"] = form.get("dry_run") != "no"
    if kind == "load" and form.get("prune"):
        params["prune"] = True
    if kind == "cleanup":
        params["all"] = bool(form.get("all"))
        if form.get("run"):
            params["run"] = form["run"]
    try:
        env = secret_env({"access_token": form.get("access_token") or ""})
        op = await asyncio.to_thread(web.ops.start, kind, params, env)
    except OrgforgeError as exc:
        return render(request, "load.html", 400, form=form, error=exc)
    return RedirectResponse(f"/ops/{op.id}", status_code=303)


# -- activity ---------------------------------------------------------------------------------


@router.get("/activity", response_class=HTMLResponse)
async def activity_form(request: Request) -> HTMLResponse:
    recent = await asyncio.to_thread(state_of(request).ops.list, 10, "activity")
    return render(request, "activity.html", form={}, recent=recent)


@router.post("/activity", response_class=HTMLResponse)
async def activity(request: Request) -> Any:
    web = state_of(request)
    form = await _form(request)
    params = {k: form[k] for k in ("max_opps", "seed", "text") if form.get(k)}
    params["target"] = "world"
    try:
        op = await asyncio.to_thread(web.ops.start, "activity", params)
    except OrgforgeError as exc:
        recent = await asyncio.to_thread(web.ops.list, 10, "activity")
        return render(request, "activity.html", 400, form=form, error=exc, recent=recent)
    return RedirectResponse(f"/ops/{op.id}", status_code=303)


# -- operations -------------------------------------------------------------------------------


@router.get("/ops", response_class=HTMLResponse)
async def ops_page(request: Request) -> HTMLResponse:
    ops = await asyncio.to_thread(state_of(request).ops.list, 100)
    return render(request, "ops.html", ops=ops)


@router.get("/ops/{op_id}", response_class=HTMLResponse)
async def op_page(request: Request, op_id: str) -> HTMLResponse:
    try:
        op = await asyncio.to_thread(state_of(request).ops.get, op_id)
    except ConfigError as exc:
        return render(request, "error.html", 404, error=exc)
    return render(request, "op.html", op=op)


@router.post("/ops/{op_id}/cancel")
async def op_cancel(request: Request, op_id: str) -> Any:
    state_of(request).ops.cancel(op_id)
    return RedirectResponse(f"/ops/{op_id}", status_code=303)


@router.post("/ops/{op_id}/confirm")
async def op_confirm(request: Request, op_id: str) -> Any:
    """After a dry run: the same operation for real (with the credentials it was given)."""
    web = state_of(request)
    try:
        dry = web.ops.get(op_id)
        if not dry.params.get("dry_run") or dry.state != "ok":
            raise ConfigError(
                f"{op_id} is not a finished dry run", "Start a dry run from the load page first."
            )
        params = {**dry.params, "dry_run": False}
        op = await asyncio.to_thread(web.ops.start, dry.kind, params, web.ops.secrets(op_id))
    except OrgforgeError as exc:
        return render(request, "error.html", 400, error=exc)
    return RedirectResponse(f"/ops/{op.id}", status_code=303)


# -- jobs -------------------------------------------------------------------------------------


def _jobs_view(request: Request) -> dict[str, Any]:
    from orgforge import simulate
    from orgforge.world.store import World

    with World(state_of(request).settings.world) as world:
        jobs = simulate.list_jobs(world)
    return {
        "jobs": jobs,
        "behaviours": {t: simulate.behaviours(t) for t in ("asana", "salesforce")},
    }


@router.get("/jobs", response_class=HTMLResponse)
async def jobs_page(request: Request) -> HTMLResponse:
    view = await asyncio.to_thread(_jobs_view, request)
    return render(request, "jobs.html", form={}, **view)


@router.post("/jobs", response_class=HTMLResponse)
async def jobs_start(request: Request) -> Any:
    from orgforge.web.api import start_job

    form = await _form(request)
    spec: dict[str, Any] = {
        "target": form.get("target") or "asana",
        "name": form.get("name") or None,
        "rate": form.get("rate") or None,
        "duration": form.get("duration") or None,
        "clock": form.get("clock") or None,
        "seed": form.get("seed") or None,
    }
    if form.get("team"):
        spec["options"] = {"team": form["team"]}
    if form.get("timezone") or form.get("start") or form.get("end"):
        spec["schedule"] = {
            k: form[k] for k in ("timezone", "start", "end") if form.get(k) not in (None, "")
        }
    try:
        job = await start_job(request, {k: v for k, v in spec.items() if v is not None})
    except OrgforgeError as exc:
        view = await asyncio.to_thread(_jobs_view, request)
        return render(request, "jobs.html", 400, form=form, error=exc, **view)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
async def job_page(request: Request, job_id: str) -> HTMLResponse:
    from orgforge import simulate
    from orgforge.web.api import _with_world

    try:
        job = await asyncio.to_thread(_with_world, request, simulate.get_job, job_id)
        recent = await asyncio.to_thread(_with_world, request, simulate.job_log, job_id, 1000)
    except ConfigError as exc:
        return render(request, "error.html", 404, error=exc)
    done = Counter(a["behaviour"] for a in recent if a["status"] == "ok")
    top = max(done.values(), default=1)
    by_behaviour = [(name, n, 100 * n / top) for name, n in done.most_common()]
    return render(
        request, "job.html", job=job, log=recent[-50:], by_behaviour=by_behaviour, seen=len(recent)
    )


@router.post("/jobs/{job_id}/{command}")
async def job_command(request: Request, job_id: str, command: str) -> Any:
    from orgforge.web.api import change_job

    try:
        if command not in ("pause", "resume", "stop"):
            raise ConfigError(f"{command!r} is not a job command", "pause, resume or stop.")
        await change_job(request, job_id, command)
    except OrgforgeError as exc:
        return render(request, "error.html", 400, error=exc)
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


# -- agents -----------------------------------------------------------------------------------


@router.get("/agents", response_class=HTMLResponse)
async def agents_page(request: Request, lead: str | None = None) -> HTMLResponse:
    from orgforge.web.api import decisions

    web = state_of(request)
    try:
        rows = await asyncio.to_thread(decisions, web.settings, 200, lead or None)
    except OrgforgeError as exc:
        return render(
            request, "agents.html", 400, rows=[], by_owner=[], error=exc, lead=lead, log_dir=""
        )
    owners = Counter(r.get("owner") or "—" for r in rows)
    top = max(owners.values(), default=1)
    by_owner = [(name, n, 100 * n / top) for name, n in owners.most_common()]
    return render(
        request,
        "agents.html",
        rows=rows,
        by_owner=by_owner,
        lead=lead,
        log_dir=web.settings.log_dir,
    )
