"""Salesforce behaviours: leads arrive and are worked, opportunities move and close, calls,
emails and meetings are logged, cases open, get comments and close.

Opportunities and cases are the world's records that a ``load`` put into the org (their ids
are in the sync table; the driver reads them once into ``facts``) plus what the job created.
Where a record is now (a stage, a status) is the job's object state, so a record moved once is
not moved back. A call's field value ``{"$ref": key}`` is the remote id of the job object
``key`` (one created by an earlier action or earlier in the same one).

Leads are not converted: conversion is an API action of its own (``convertLead``), not a
field update; a qualified lead is rated Hot and left for a rep, a disqualified one closed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from orgforge.schema.salesforce import STAGE_FACTS, STAGES
from orgforge.simulate.behaviours import Action, Context

LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Trade Show", "Seminar - Partner")
COMPANY_SUFFIXES = ("Group", "Labs", "Systems", "Partners", "Industries", "Holdings")
TITLES = ("VP Operations", "Head of IT", "Director of Finance", "Operations Manager", "CTO")
OPEN_STAGES = STAGES[:6]  # up to Negotiation/Review


def _created(
    behaviour: str,
    summary: str,
    sobject: str,
    key: str,
    fields: dict[str, Any],
    kind: str,
    state: dict[str, Any],
    **tracked: Any,
) -> Action:
    """An action that creates one record ``key`` and the job object (``kind``) tracking it;
    ``tracked`` adds to that object (``parent=``, ``open=False``)."""
    return Action(
        behaviour,
        summary,
        key,
        [{"op": "create", "sobject": sobject, "key": key, "fields": fields}],
        [{"key": key, "kind": kind, **tracked, "state": state}],
    )


def _updated(
    behaviour: str,
    summary: str,
    sobject: str,
    key: str,
    remote: Any,
    fields: dict[str, Any],
    state: dict[str, Any],
    **tracked: Any,
) -> Action:
    """An action that updates one record (``remote``: its id, or ``{"$ref": key}``) and the
    state of the job object ``key``; ``tracked`` adds ``kind=``, ``open=False``."""
    return Action(
        behaviour,
        summary,
        key,
        [{"op": "update", "sobject": sobject, "id": remote, "fields": fields}],
        [{"key": key, **tracked, "state": state}],
    )


def _pick(ctx: Context, items: list[Any]) -> Any:
    return items[ctx.rng.randrange(len(items))]


def _industry(ctx: Context, record: dict[str, Any] | None = None) -> str:
    packs = ctx.facts["packs"]
    wanted = (record or {}).get("pack")
    return wanted if wanted in packs else packs[ctx.rng.randrange(len(packs))]


def _opportunities(ctx: Context, stages: tuple[str, ...]) -> list[dict[str, Any]]:
    """Open opportunities (the world's, where the job's state says they are now)."""
    moved = {o.key: o for o in ctx.objects.of_kind("opportunity", open_only=False)}
    out = []
    for opp in ctx.facts["opportunities"]:
        state = moved.get(opp["key"])
        if state is not None and not state.open:
            continue
        stage = state.state["stage"] if state is not None else opp["stage"]
        if stage in stages:
            out.append({**opp, "stage": stage})
    return out


def _cases(ctx: Context) -> list[dict[str, Any]]:
    known = {o.key: o for o in ctx.objects.of_kind("case", open_only=False)}
    out = []
    for case in ctx.facts["cases"]:
        state = known.get(case["key"])
        if state is None or state.open:
            out.append({**case, "status": state.state["status"] if state else case["status"]})
    for key, obj in known.items():
        if obj.open and key.startswith("sim/"):
            out.append({"key": key, "id": {"$ref": key}, **obj.state})
    return out


def lead_arrive(ctx: Context) -> Action | None:
    names = ctx.facts["names"]
    first, last = _pick(ctx, names[0]), _pick(ctx, names[1])
    company = f"{_pick(ctx, names[1])} {_pick(ctx, list(COMPANY_SUFFIXES))}"
    key = f"sim/{ctx.job_id}/{ctx.key('lead')}"
    fields = {
        "FirstName": first,
        "LastName": last,
        "Company": company,
        "Title": _pick(ctx, list(TITLES)),
        "Email": f"{first}.{last}@{company.split()[0]}.example".lower(),
        "LeadSource": _pick(ctx, list(LEAD_SOURCES)),
        "Status": "Open - Not Contacted",
    }
    return _created(
        "lead.arrive",
        f"new lead {first} {last} ({company}) from {fields['LeadSource']}",
        "Lead",
        key,
        fields,
        "lead",
        {"status": fields["Status"], "name": f"{first} {last}", "company": company},
    )


def lead_work(ctx: Context) -> Action | None:
    leads = [o for o in ctx.objects.of_kind("lead") if o.state["status"] == "Open - Not Contacted"]
    if not leads:
        return None
    lead = _pick(ctx, leads)
    first = lead.state["name"].split()[0]
    task_key = f"{lead.key}/{ctx.key('email')}"
    context = {
        "industry": _industry(ctx),
        "stage": "Prospecting",
        "type": "intro",
        "contact_first": first,
        "account": lead.state["company"],
        "owner": ctx.persona.name,
        "product": ctx.facts["product"],
    }
    subject = ctx.text("email.subject", task_key, context)
    body = ctx.text("email.body", task_key, context)
    return Action(
        "lead.work",
        f"{ctx.persona.name} emailed lead {lead.state['name']}: {subject!r}",
        lead.key,
        [
            {
                "op": "update",
                "sobject": "Lead",
                "id": {"$ref": lead.key},
                "fields": {"Status": "Working - Contacted"},
            },
            {
                "op": "create",
                "sobject": "Task",
                "key": task_key,
                "fields": {
                    "Subject": f"Email: {subject}",
                    "Description": body,
                    "Status": "Completed",
                    "TaskSubtype": "Email",
                    "ActivityDate": ctx.when.date().isoformat(),
                    "WhoId": {"$ref": lead.key},
                },
            },
        ],
        [
            {
                "key": lead.key,
                "persona": ctx.persona.name,
                "state": {"status": "Working - Contacted"},
            },
            {"key": task_key, "kind": "task", "parent": lead.key, "open": False, "state": {}},
        ],
    )


def lead_qualify(ctx: Context) -> Action | None:
    leads = [o for o in ctx.objects.of_kind("lead") if o.state["status"] == "Working - Contacted"]
    if not leads:
        return None
    lead = _pick(ctx, leads)
    if ctx.rng.random() < 0.6:
        fields = {
            "Rating": "Hot",
            "Description": f"Qualified by {ctx.persona.name}: budget and timing confirmed.",
        }
        what, status = "qualified", "Working - Contacted"
    else:
        fields = {"Status": "Closed - Not Converted", "Rating": "Cold"}
        what, status = "disqualified", "Closed - Not Converted"
    return _updated(
        "lead.qualify",
        f"{ctx.persona.name} {what} lead {lead.state['name']}",
        "Lead",
        lead.key,
        {"$ref": lead.key},
        fields,
        {"status": status, "outcome": what},
        open=False,
    )


def opportunity_advance(ctx: Context) -> Action | None:
    opps = _opportunities(ctx, OPEN_STAGES[:-1])
    if not opps:
        return None
    opp = _pick(ctx, opps)
    stage = STAGES[STAGES.index(opp["stage"]) + 1]
    next_step = ctx.text(
        "opportunity.next_step",
        f"{opp['key']}/{ctx.seq}",
        {
            "industry": _industry(ctx, opp),
            "stage": stage,
            "contact": opp["contact"],
            "account": opp["account"],
        },
    )
    fields = {"StageName": stage, "NextStep": next_step[:255], "Probability": STAGE_FACTS[stage][0]}
    return _updated(
        "opportunity.advance",
        f"{ctx.persona.name} moved {opp['name']!r} to {stage}",
        "Opportunity",
        opp["key"],
        opp["id"],
        fields,
        {"stage": stage},
        kind="opportunity",
    )


def opportunity_close(ctx: Context) -> Action | None:
    opps = _opportunities(ctx, OPEN_STAGES[4:])
    if not opps:
        return None
    opp = _pick(ctx, opps)
    stage = "Closed Won" if ctx.rng.random() < 0.55 else "Closed Lost"
    fields = {
        "StageName": stage,
        "CloseDate": ctx.when.date().isoformat(),
        "Probability": STAGE_FACTS[stage][0],
    }
    return _updated(
        "opportunity.close",
        f"{ctx.persona.name} closed {opp['name']!r}: {stage}",
        "Opportunity",
        opp["key"],
        opp["id"],
        fields,
        {"stage": stage},
        kind="opportunity",
        open=False,
    )


def _activity(ctx: Context, kind: str) -> Action | None:
    opps = _opportunities(ctx, OPEN_STAGES)
    if not opps:
        return None
    opp = _pick(ctx, opps)
    key = f"sim/{ctx.job_id}/{ctx.key(kind)}"
    context = {
        "industry": _industry(ctx, opp),
        "stage": opp["stage"],
        "type": "follow_up",
        "contact": opp["contact"],
        "contact_first": opp["contact"].split()[0],
        "account": opp["account"],
        "attendees": opp["contact"],
        "owner": ctx.persona.name,
        "product": ctx.facts["product"],
    }
    day = ctx.when.date().isoformat()
    if kind == "email":
        subject = ctx.text("email.subject", key, context)
        sobject, fields = (
            "Task",
            {
                "Subject": f"Email: {subject}",
                "Description": ctx.text("email.body", key, context),
                "TaskSubtype": "Email",
            },
        )
    elif kind == "call":
        sobject, fields = (
            "Task",
            {
                "Subject": f"Call with {opp['contact']}",
                "Description": ctx.text("meeting.notes", key, context),
                "TaskSubtype": "Call",
                "CallType": "Outbound",
            },
        )
    else:
        start = ctx.when.replace(second=0, microsecond=0) + dt.timedelta(
            days=1 + ctx.rng.randrange(5)
        )
        sobject = "Event"
        fields = {
            "Subject": f"Meeting: {opp['account']} / {opp['stage']}",
            "Description": ctx.text("meeting.notes", key, context),
            "StartDateTime": start.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            "EndDateTime": (start + dt.timedelta(minutes=30)).strftime(
                "%Y-%m-%dT%H:%M:%S.000+0000"
            ),
        }
    if sobject == "Task":
        fields.update({"Status": "Completed", "ActivityDate": day})
    fields["WhatId"] = opp["id"]
    return _created(
        f"activity.{kind}",
        f"{ctx.persona.name} logged a {kind} on {opp['name']!r}",
        sobject,
        key,
        fields,
        sobject.lower(),
        {},
        parent=opp["key"],
        open=False,
    )


def activity_call(ctx: Context) -> Action | None:
    return _activity(ctx, "call")


def activity_email(ctx: Context) -> Action | None:
    return _activity(ctx, "email")


def activity_meeting(ctx: Context) -> Action | None:
    return _activity(ctx, "meeting")


def case_open(ctx: Context) -> Action | None:
    accounts = ctx.facts["accounts"]
    if not accounts:
        return None
    account = _pick(ctx, accounts)
    key = f"sim/{ctx.job_id}/{ctx.key('case')}"
    context = {
        "industry": _industry(ctx, account),
        "contact": account["contact"],
        "title": account["title"],
        "account": account["name"],
    }
    subject = ctx.text("case.subject", key, context)
    fields = {
        "AccountId": account["id"],
        "Subject": subject[:255],
        "Description": ctx.text("case.description", key, {**context, "subject": subject}),
        "Status": "New",
        "Origin": _pick(ctx, ["Web", "Email", "Phone"]),
        "Priority": _pick(ctx, ["High", "Medium", "Medium", "Low"]),
    }
    return _created(
        "case.open",
        f"{account['name']} opened a case: {subject!r}",
        "Case",
        key,
        fields,
        "case",
        {
            "status": "New",
            "subject": subject,
            "account": account["name"],
            "contact": account["contact"],
            "pack": account.get("pack"),
        },
    )


def case_comment(ctx: Context) -> Action | None:
    cases = _cases(ctx)
    if not cases:
        return None
    case = _pick(ctx, cases)
    key = f"{case['key']}/{ctx.key('c')}"
    body = ctx.text(
        "case_comment.body",
        key,
        {
            "industry": _industry(ctx, case),
            "status": case["status"],
            "contact": case.get("contact") or "the customer",
        },
    )
    calls: list[dict[str, Any]] = [
        {
            "op": "create",
            "sobject": "CaseComment",
            "key": key,
            "fields": {"ParentId": case["id"], "CommentBody": body, "IsPublished": True},
        }
    ]
    status = case["status"]
    if status == "New":
        status = "Working"
        calls.append(
            {"op": "update", "sobject": "Case", "id": case["id"], "fields": {"Status": status}}
        )
    return Action(
        "case.comment",
        f"{ctx.persona.name} commented on case {case.get('subject', case['key'])!r}",
        case["key"],
        calls,
        [
            {"key": key, "kind": "case_comment", "parent": case["key"], "open": False, "state": {}},
            {"key": case["key"], "kind": "case", "state": {"status": status}},
        ],
    )


def case_close(ctx: Context) -> Action | None:
    cases = [c for c in _cases(ctx) if c["status"] != "New"]
    if not cases:
        return None
    case = _pick(ctx, cases)
    return _updated(
        "case.close",
        f"{ctx.persona.name} closed case {case.get('subject', case['key'])!r}",
        "Case",
        case["key"],
        case["id"],
        {"Status": "Closed"},
        {"status": "Closed"},
        kind="case",
        open=False,
    )


DECIDE = {
    "lead.arrive": lead_arrive,
    "lead.work": lead_work,
    "lead.qualify": lead_qualify,
    "opportunity.advance": opportunity_advance,
    "opportunity.close": opportunity_close,
    "activity.call": activity_call,
    "activity.email": activity_email,
    "activity.meeting": activity_meeting,
    "case.open": case_open,
    "case.comment": case_comment,
    "case.close": case_close,
}
