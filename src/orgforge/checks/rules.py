"""The coherence rules of a world with a history: each a small named function.

A rule yields a :class:`Violation` per broken record, with a sentence that names the record and
what is wrong. Datetimes are Salesforce UTC strings (``2026-01-31T09:00:00.000Z``), which sort
as text; dates (``2026-01-31``) compare with a datetime's first ten characters.

Each rule is documented in docs/generate.md ("What `orgforge check` verifies") and has a test in
tests/check/ that breaks a world and sees the rule fire.
"""

from __future__ import annotations

import contextlib
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from orgforge.schema import salesforce as sf

if TYPE_CHECKING:
    from orgforge.checks.snapshot import Snapshot


@dataclass(frozen=True)
class Violation:
    rule: str
    key: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"rule": self.rule, "key": self.key, "message": self.message}

    def __str__(self) -> str:
        return f"{self.key}: {self.message} [{self.rule}]"


class Rule:
    def __init__(self, fn: Callable[[Snapshot], Iterator[Violation]], needs: tuple[str, ...]):
        self.fn, self.needs = fn, needs
        self.name = fn.__name__
        self.doc = " ".join((fn.__doc__ or "").strip().split("\n\n")[0].split())

    def __call__(self, snapshot: Snapshot) -> Iterator[Violation]:
        return self.fn(snapshot)


RULES: dict[str, Rule] = {}


def rule(*needs: str):
    def register(fn):
        RULES[fn.__name__] = Rule(fn, needs)
        return fn

    return register


def _v(name: str, record: dict[str, Any], message: str) -> Violation:
    return Violation(name, record["key"], message)


# Steps of an opportunity's sales script, in order (generate/accounts.py SCRIPT), with the stage
# each happens in; and the steps allowed after a deal closed.
SCRIPT_ORDER = (
    "intro_call",
    "discovery",
    "thanks",
    "demo_prep",
    "demo",
    "demo_follow_up",
    "proposal",
    "negotiation_call",
    "negotiation_meeting",
)
STEP_STAGE = {
    "intro_call": 0,
    "discovery": 1,
    "thanks": 1,
    "demo_prep": 2,
    "demo": 3,
    "demo_follow_up": 3,
    "proposal": 4,
    "negotiation_call": 5,
    "negotiation_meeting": 5,
}
POST_SALE = ("kickoff", "check_in", "keep_in_touch")
CASE_MOVES = {  # status → the statuses a case may move to next
    None: {"New"},
    "New": {"Working", "Closed"},
    "Working": {"Escalated", "On Hold", "Closed"},
    "Escalated": {"Working", "Closed"},
    "On Hold": {"Working", "Closed"},
    "Closed": {"Working"},  # reopened
}
PARENT_FIELDS = ("AccountId", "ParentId", "OpportunityId", "WhatId", "EventId")
CONTACT_FIELDS = ("ContactId", "WhoId")
USER_FIELDS = ("OwnerId", "CreatedById", "LastModifiedById", "ManagerId")
SIGN_OFF = re.compile(r"\n(?:Best regards|Kind regards|Best|Regards|Thanks),\n([^\n]+)")
PAST_NOTES = re.compile(r"^Notes:|\bwent well\b|\bwe discussed\b|\bwas held\b", re.I)


def _date_of_start(snapshot: Snapshot, event: dict, user_key: str | None) -> str:
    """An event's start as the calendar date of its owner (their time zone)."""
    from orgforge.generate.timeutil import iso_date, parse_stamp, utc_offset_minutes

    start = event.get("StartDateTime")
    if not start:
        return ""
    user = snapshot.get(user_key) or {}
    tz = user.get("TimeZoneSidKey") or "UTC"
    minute = parse_stamp(start)
    try:
        offset = utc_offset_minutes(tz, minute // 1440)
    except Exception:  # an unknown zone in an edited world: read it as UTC
        offset = 0
    return iso_date((minute + offset) // 1440)


def _when(record: dict, obj: str, snapshot: Snapshot) -> str | None:
    """The date an activity happens (tasks: ActivityDate; events: the owner's date)."""
    if obj == "Task":
        return record.get("ActivityDate")
    return _date_of_start(snapshot, record, record.get("OwnerId"))


# -- records and their audit fields --------------------------------------------------------------


@rule()
def audit_fields_present(s: Snapshot) -> Iterator[Violation]:
    """Every record carries CreatedDate, CreatedById, LastModifiedDate and LastModifiedById,
    created no later than last modified, and both before as_of."""
    now = s.now
    for name in sf.GENERATED:
        for r in s.rows(name):
            missing = [f for f in sf.AUDIT_FIELD_NAMES if not r.get(f)]
            if missing:
                yield _v("audit_fields_present", r, f"has no {', '.join(missing)}")
                continue
            if r["LastModifiedDate"] < r["CreatedDate"]:
                yield _v(
                    "audit_fields_present",
                    r,
                    f"was last modified ({r['LastModifiedDate']}) before it was created "
                    f"({r['CreatedDate']})",
                )
            if r["LastModifiedDate"] >= now:
                yield _v(
                    "audit_fields_present",
                    r,
                    f"is dated {r['LastModifiedDate']}, on or after as_of ({s.as_of})",
                )


@rule()
def lookups_resolve(s: Snapshot) -> Iterator[Violation]:
    """Every lookup names an existing record of a type the field allows; owners and audit
    users are existing Users."""
    for name in sf.GENERATED:
        obj = sf.get(name)
        lookups = [f for f in obj.fields if f.is_reference]
        for r in s.rows(name):
            for f in lookups:
                value = r.get(f.name)
                if not value:
                    continue
                target = s.get(value)
                if target is None or value.split("/", 1)[0] not in f.reference_to:
                    kind = " or ".join(f.reference_to)
                    yield _v("lookups_resolve", r, f"{f.name} {value} is not an existing {kind}")


@rule()
def created_after_parent(s: Snapshot) -> Iterator[Violation]:
    """No record is created before its parent (account, case, opportunity, WhatId, event) or
    its contact (ContactId, WhoId) was."""
    for name in sf.GENERATED:
        for r in s.rows(name):
            created = r.get("CreatedDate")
            if not created:
                continue
            for f in (*PARENT_FIELDS, *CONTACT_FIELDS):
                parent = s.get(r.get(f))
                if parent and parent.get("CreatedDate") and created < parent["CreatedDate"]:
                    yield _v(
                        "created_after_parent",
                        r,
                        f"was created {created}, before its {f} {parent['key']} "
                        f"({parent['CreatedDate']})",
                    )


@rule()
def activity_after_parent(s: Snapshot) -> Iterator[Violation]:
    """A task's or event's date is not before the day its parent record or its contact was
    created."""
    for obj in ("Task", "Event"):
        for r in s.rows(obj):
            when = _when(r, obj, s)
            if not when:
                continue
            for f in ("WhatId", "WhoId"):
                parent = s.get(r.get(f))
                if parent and parent.get("CreatedDate") and when < parent["CreatedDate"][:10]:
                    yield _v(
                        "activity_after_parent",
                        r,
                        f"happens on {when}, before its {f} {parent['key']} existed "
                        f"({parent['CreatedDate'][:10]})",
                    )


# -- opportunities and their activity ----------------------------------------------------------


def _by_what(s: Snapshot) -> dict[str, list[tuple[str, dict]]]:
    out: dict[str, list[tuple[str, dict]]] = defaultdict(list)
    for obj in ("Task", "Event"):
        for r in s.rows(obj):
            if r.get("WhatId"):
                out[r["WhatId"]].append((obj, r))
    return out


def _stage_entries(s: Snapshot) -> dict[str, list[tuple[str, str]]]:
    """Opportunity key → [(stage, when entered)] from the history, in time order."""
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for h in s.history or ():
        if h.get("Object") == "Opportunity" and h.get("Field") == "StageName":
            out[h["ParentKey"]].append((h["NewValue"], h["CreatedDate"]))
    for entries in out.values():
        entries.sort(key=lambda e: e[1])
    return out


@rule()
def stage_history_matches(s: Snapshot) -> Iterator[Violation]:
    """An opportunity's stage history starts when it was created, moves forward through the
    stages, and ends at its current stage; a closed deal closed on its CloseDate."""
    entries = _stage_entries(s)
    for opp in s.rows("Opportunity"):
        steps = entries.get(opp["key"], [])
        if not steps:
            yield _v("stage_history_matches", opp, "has no stage history")
            continue
        if steps[-1][0] != opp.get("StageName"):
            yield _v(
                "stage_history_matches",
                opp,
                f"is at {opp.get('StageName')} but its history ends at {steps[-1][0]}",
            )
        if steps[0][1] != opp.get("CreatedDate"):
            yield _v("stage_history_matches", opp, "history does not start at its CreatedDate")
        order = [sf.STAGES.index(st) if st in sf.STAGES else -1 for st, _ in steps]
        if order != sorted(order):
            yield _v("stage_history_matches", opp, "moved back to an earlier stage")
        if opp.get("IsClosed") and steps[-1][1][:10] != opp.get("CloseDate"):
            yield _v(
                "stage_history_matches",
                opp,
                f"closed on {steps[-1][1][:10]} by its history, but CloseDate is "
                f"{opp.get('CloseDate')}",
            )


@rule("steps")
def sales_steps_in_order(s: Snapshot) -> Iterator[Violation]:
    """On an opportunity, a step never comes before one it follows (intro call → discovery →
    thanks → demo prep → demo → demo follow-up → proposal → negotiation)."""
    rank = {step: i for i, step in enumerate(SCRIPT_ORDER)}
    for what, items in _by_what(s).items():
        if not what.startswith("Opportunity/"):
            continue
        dated = sorted(
            (rank[r["step"]], _when(r, obj, s) or "", r)
            for obj, r in items
            if r.get("step") in rank
        )
        latest = ""
        latest_step = None
        for _, when, r in dated:
            if when < latest:
                yield _v(
                    "sales_steps_in_order",
                    r,
                    f"{r['step']} on {when} comes before {latest_step} on {latest} for {what}",
                )
            if when > latest:
                latest, latest_step = when, r["step"]


@rule("steps", "history")
def steps_follow_stage_history(s: Snapshot) -> Iterator[Violation]:
    """A sales step happens once the opportunity has reached the stage it belongs to."""
    entries = _stage_entries(s)
    for what, items in _by_what(s).items():
        stages = entries.get(what)
        if not stages:
            continue
        entered = {stage: when for stage, when in stages}
        for obj, r in items:
            stage_index = STEP_STAGE.get(r.get("step"))
            if stage_index is None:
                continue
            stage = sf.STAGES[stage_index]
            when = _when(r, obj, s) or ""
            reached = entered.get(stage)
            if reached is None:
                yield _v(
                    "steps_follow_stage_history",
                    r,
                    f"is a {r['step']} step, but {what} never reached {stage}",
                )
            elif when < reached[:10]:
                yield _v(
                    "steps_follow_stage_history",
                    r,
                    f"{r['step']} on {when} is before {what} reached {stage} ({reached[:10]})",
                )


@rule("steps")
def thanks_after_meeting(s: Snapshot) -> Iterator[Violation]:
    """A "thanks for your time" email comes on or after a meeting with that contact on the
    same opportunity."""
    meetings: dict[tuple[str, str], list[str]] = defaultdict(list)
    for event in s.rows("Event"):
        meetings[(event.get("WhatId"), event.get("WhoId"))].append(
            _date_of_start(s, event, event.get("OwnerId"))
        )
    for task in s.rows("Task"):
        if task.get("step") != "thanks":
            continue
        days = meetings.get((task.get("WhatId"), task.get("WhoId")), [])
        if not any(day <= (task.get("ActivityDate") or "") for day in days):
            yield _v(
                "thanks_after_meeting",
                task,
                f"thanks {task.get('WhoId')} on {task.get('ActivityDate')} with no meeting "
                "with them before",
            )


@rule("steps")
def activity_volume_fits_age(s: Snapshot) -> Iterator[Violation]:
    """Activity grows with age and stage: an opportunity has at most two steps per stage it
    reached plus its post-sale steps, and an account at most 5 activities plus 3 per 10 days
    of its age. The activity job's meetings and emails (orgforge activity) have their own
    allowance per opportunity: its default densities, the past ones scaled with the deal's age
    and stage (see docs/activity.md); its scorecard Tasks are summaries, not activity."""
    import datetime as dt

    from orgforge.activity.planner import allowance, is_activity_key, is_scorecard_key
    from orgforge.config import ActivityConfig
    from orgforge.generate.timeutil import parse_stamp

    densities = ActivityConfig()
    asof = s.as_of.toordinal()
    stage_count = {}
    for opp in s.rows("Opportunity"):
        stage = opp.get("StageName")
        stage_count[opp["key"]] = (sf.STAGES.index(stage) + 1) if stage in sf.STAGES else 8
    per_account: dict[str, int] = defaultdict(int)
    for what, every in _by_what(s).items():
        items = [(obj, r) for obj, r in every if not is_activity_key(r["key"])]
        planned = [
            r for _, r in every if is_activity_key(r["key"]) and not is_scorecard_key(r["key"])
        ]
        if what in stage_count:
            limit = 2 * min(stage_count[what], 6) + len(POST_SALE)
            if len(items) > limit:
                yield Violation(
                    "activity_volume_fits_age",
                    what,
                    f"has {len(items)} tasks and events, more than {limit} for its stage",
                )
            opp = s.get(what) or {}
            if planned and opp.get("CreatedDate") and opp.get("CloseDate"):
                created = dt.date.fromisoformat(opp["CreatedDate"][:10]).toordinal()
                close = dt.date.fromisoformat(opp["CloseDate"][:10]).toordinal()
                closed = bool(opp.get("IsClosed")) or str(opp.get("StageName")).startswith("Closed")
                most = allowance(densities, created, close, closed, asof, opp.get("StageName"))
                if len(planned) > most:
                    yield Violation(
                        "activity_volume_fits_age",
                        what,
                        f"has {len(planned)} meetings and emails from the activity job, more "
                        f"than {most} for a deal of {max(0, asof - 1 - created)} days at "
                        f"{opp.get('StageName')}",
                    )
        for _, r in items:
            contact = s.get(r.get("WhoId"))
            if contact and contact.get("AccountId"):
                per_account[contact["AccountId"]] += 1
    now_minute = parse_stamp(s.now)
    for account in s.rows("Account"):
        if not account.get("CreatedDate"):
            continue
        age = (now_minute - parse_stamp(account["CreatedDate"])) // 1440
        limit = 5 + 3 * age // 10
        if per_account[account["key"]] > limit:
            yield _v(
                "activity_volume_fits_age",
                account,
                f"is {age} days old with {per_account[account['key']]} tasks and events "
                f"(at most {limit})",
            )


@rule("steps")
def only_post_sale_after_close(s: Snapshot) -> Iterator[Violation]:
    """After a deal closes, its activity is post-sale only (kickoff, check-in, keep in touch)."""
    for opp in s.rows("Opportunity"):
        if not opp.get("IsClosed"):
            continue
    closed = {o["key"]: o["CloseDate"] for o in s.rows("Opportunity") if o.get("IsClosed")}
    for what, items in _by_what(s).items():
        close = closed.get(what)
        if close is None:
            continue
        for obj, r in items:
            when = _when(r, obj, s) or ""
            if when > close and r.get("step") not in POST_SALE:
                yield _v(
                    "only_post_sale_after_close",
                    r,
                    f"{r.get('step') or obj} on {when} is after {what} closed ({close})",
                )


@rule()
def tasks_tense(s: Snapshot) -> Iterator[Violation]:
    """Completed tasks are in the past; open tasks are due today or later."""
    today = s.as_of.isoformat()
    for task in s.rows("Task"):
        day = task.get("ActivityDate")
        if not day:
            continue
        if task.get("Status") == "Completed" and day >= today:
            yield _v("tasks_tense", task, f"is Completed but dated {day}, not before {today}")
        elif task.get("Status") != "Completed" and day < today:
            yield _v("tasks_tense", task, f"is open ({task.get('Status')}) but was due {day}")


@rule()
def meetings_tense(s: Snapshot) -> Iterator[Violation]:
    """A meeting after as_of is an agenda (future tense), not notes; a past one is not an
    agenda."""
    now = s.now
    for event in s.rows("Event"):
        text = event.get("Description") or ""
        if not text or not event.get("StartDateTime"):
            continue
        if event["StartDateTime"] >= now and PAST_NOTES.search(text):
            yield _v("meetings_tense", event, "is still to come but reads as notes of the past")
        elif event["StartDateTime"] < now and text.startswith("Agenda:"):
            yield _v("meetings_tense", event, "is over but its description is still an agenda")


@rule()
def no_double_booking(s: Snapshot) -> Iterator[Violation]:
    """No user's calendar (the events they own or are invited to) has overlapping meetings."""
    calendars: dict[str, list[tuple[str, str, dict]]] = defaultdict(list)
    for event in s.rows("Event"):
        if event.get("StartDateTime") and event.get("EndDateTime"):
            calendars[event.get("OwnerId")].append(
                (event["StartDateTime"], event["EndDateTime"], event)
            )
    for relation in s.rows("EventRelation"):
        event = s.get(relation.get("EventId"))
        user = relation.get("RelationId") or ""
        if event and user.startswith("User/") and event.get("StartDateTime"):
            calendars[user].append((event["StartDateTime"], event["EndDateTime"], event))
    for user, items in calendars.items():
        items.sort(key=lambda i: (i[0], i[1]))
        busy_until, holder = "", None
        for start, end, event in items:
            if holder is not None and start < busy_until:
                yield _v(
                    "no_double_booking",
                    event,
                    f"starts {start}, while {holder['key']} still holds {user}'s calendar "
                    f"(until {busy_until})",
                )
            if end > busy_until:
                busy_until, holder = end, event


@rule()
def meetings_in_business_hours(s: Snapshot) -> Iterator[Violation]:
    """Meetings fall on weekdays, 8:00-18:00 in the account's time zone (found from its city)."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from orgforge.generate.pools import pools

    tz_of_city = {p.city: p.tz for p in pools().places.values}
    for event in s.rows("Event"):
        contact = s.get(event.get("WhoId")) or {}
        account = s.get(contact.get("AccountId")) or {}
        city = account.get("BillingCity") or contact.get("MailingCity")
        if city not in tz_of_city or not event.get("StartDateTime"):
            continue
        zone = ZoneInfo(tz_of_city[city])
        start = dt.datetime.fromisoformat(event["StartDateTime"].replace("Z", "+00:00"))
        end = dt.datetime.fromisoformat(event["EndDateTime"].replace("Z", "+00:00"))
        local_start, local_end = start.astimezone(zone), end.astimezone(zone)
        minutes_end = local_end.hour * 60 + local_end.minute
        if (
            local_start.weekday() >= 5
            or local_start.hour < 8
            or minutes_end > 18 * 60
            or local_end.date() != local_start.date()
        ):
            yield _v(
                "meetings_in_business_hours",
                event,
                f"is at {local_start:%a %H:%M}-{local_end:%H:%M} {zone.key} time, outside "
                "weekday business hours",
            )


# -- cases -------------------------------------------------------------------------------------


def _status_entries(s: Snapshot) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for h in s.history or ():
        if h.get("Object") == "Case" and h.get("Field") == "Status":
            out[h["ParentKey"]].append((h["NewValue"], h["CreatedDate"]))
    for entries in out.values():
        entries.sort(key=lambda e: e[1])
    return out


@rule("history", "read_only")
def case_status_history(s: Snapshot) -> Iterator[Violation]:
    """A case opens New, moves New → Working → maybe Escalated or On Hold (and back) → Closed,
    ends at its current Status, and closed cases closed at their ClosedDate."""
    entries = _status_entries(s)
    for case in s.rows("Case"):
        steps = entries.get(case["key"], [])
        previous = None
        for status, _ in steps:
            if status not in CASE_MOVES.get(previous, set()):
                yield _v(
                    "case_status_history",
                    case,
                    f"moved from {previous or 'nothing'} to {status}, which cases don't do",
                )
            previous = status
        if previous != case.get("Status"):
            yield _v(
                "case_status_history",
                case,
                f"is {case.get('Status')} but its history ends at {previous}",
            )
        closed = case.get("Status") == "Closed"
        if closed != bool(case.get("IsClosed")) or closed != bool(case.get("ClosedDate")):
            yield _v(
                "case_status_history",
                case,
                "Status, IsClosed and ClosedDate disagree on whether it is closed",
            )
        elif closed and steps and steps[-1][1] != case.get("ClosedDate"):
            yield _v("case_status_history", case, "ClosedDate is not when its history closed it")


@rule("history", "steps")
def comments_follow_status(s: Snapshot) -> Iterator[Violation]:
    """A comment's tone is the case's status when it was written (the closing comment of a
    closed case excepted)."""
    entries = _status_entries(s)
    comments: dict[str, list[dict]] = defaultdict(list)
    for comment in s.rows("CaseComment"):
        comments[comment.get("ParentId")].append(comment)
    for case_key, items in comments.items():
        steps = entries.get(case_key)
        case = s.get(case_key)
        if not steps or case is None:
            continue
        items.sort(key=lambda c: c.get("CreatedDate") or "")
        for n, comment in enumerate(items):
            at = comment.get("CreatedDate") or ""
            status = steps[0][0]
            for name, when in steps:
                if when <= at:
                    status = name
            closing = (
                case.get("Status") == "Closed"
                and n == len(items) - 1
                and comment["step"] == "Closed"
            )
            if comment.get("step") != status and not closing:
                yield _v(
                    "comments_follow_status",
                    comment,
                    f"is written as {comment.get('step')} while {case_key} was {status}",
                )


@rule("read_only")
def closed_after_comments(s: Snapshot) -> Iterator[Violation]:
    """A closed case's ClosedDate is after every one of its comments."""
    closed = {c["key"]: c["ClosedDate"] for c in s.rows("Case") if c.get("ClosedDate")}
    for comment in s.rows("CaseComment"):
        when = closed.get(comment.get("ParentId"))
        if when and (comment.get("CreatedDate") or "") > when:
            yield _v(
                "closed_after_comments",
                comment,
                f"was written {comment['CreatedDate']}, after {comment['ParentId']} closed "
                f"({when})",
            )


@rule()
def comments_about_their_case(s: Snapshot) -> Iterator[Violation]:
    """A comment talks about its own case: it never quotes another case's subject."""
    subjects: dict[str, dict[str, str]] = defaultdict(dict)
    for case in s.rows("Case"):
        if case.get("Subject") and len(case["Subject"]) > 12:
            subjects[case.get("AccountId")][case["key"]] = case["Subject"]
    for comment in s.rows("CaseComment"):
        case = s.get(comment.get("ParentId")) or {}
        body = comment.get("CommentBody") or ""
        own = case.get("Subject")
        for key, subject in subjects.get(case.get("AccountId"), {}).items():
            if key != case.get("key") and subject != own and subject in body:
                yield _v("comments_about_their_case", comment, f"quotes {key}'s subject")


# -- people ------------------------------------------------------------------------------------


@rule("jobs")
def owners_have_the_right_role(s: Snapshot) -> Iterator[Violation]:
    """Accounts and opportunities are owned by account executives, cases by support agents,
    and every demo has a sales engineer invited."""
    wanted = {"Account": "owner", "Opportunity": "owner", "Case": "support"}
    for name, job in wanted.items():
        for r in s.rows(name):
            have = s.job_of(r.get("OwnerId"))
            if have != job:
                yield _v(
                    "owners_have_the_right_role",
                    r,
                    f"is owned by {r.get('OwnerId')} ({have or 'no known role'}), not by a "
                    f"{'support agent' if job == 'support' else 'account executive'}",
                )
    invited: dict[str, set[str | None]] = defaultdict(set)
    for relation in s.rows("EventRelation"):
        invited[relation.get("EventId")].add(s.job_of(relation.get("RelationId")))
    for event in s.rows("Event"):
        if event.get("Type") == "Demo" and "se" not in invited.get(event["key"], set()):
            yield _v("owners_have_the_right_role", event, "is a demo with no sales engineer")


def _key_number(key: str) -> int:
    """A key's number: users are numbered in hiring order (generate/team.py), accounts in
    generation order."""
    number = key.rsplit("/", 1)[-1]
    return int(number) if number.isdigit() else 1 << 30


def account_territories(s: Snapshot) -> dict[str, str]:
    """Account key → its territory: the one covering its billing city's time zone, else its
    contacts' mailing city's, else the only territory its billing country lies in."""
    from orgforge.generate.pools import pools

    territories = s.territories or {}
    default = next(iter(territories), None)
    of_zone = {zone: name for name, covers in territories.items() for zone in covers}
    places = pools().places.values
    of_city = {p.city: of_zone.get(p.tz, default) for p in places}
    in_country: dict[str, set[str | None]] = defaultdict(set)
    for p in places:
        in_country[p.country].add(of_zone.get(p.tz, default))
    found: dict[str, str] = {}
    for account in s.rows("Account"):
        territory = of_city.get(account.get("BillingCity") or "")
        if territory is None and len(in_country.get(account.get("BillingCountry"), ())) == 1:
            (territory,) = in_country[account["BillingCountry"]]
        if territory is not None:
            found[account["key"]] = territory
    for contact in s.rows("Contact"):
        account_key = contact.get("AccountId")
        territory = of_city.get(contact.get("MailingCity") or "")
        if account_key and territory is not None and account_key not in found:
            found[account_key] = territory
    return found


@rule("jobs", "territories")
def owners_cover_territory(s: Snapshot) -> Iterator[Violation]:
    """Accounts, their contacts and opportunities are owned by an account executive of the
    account's territory (found from its city's time zone), cases by a support agent of it;
    another territory's user only while the team had no one of that role there yet."""
    wanted = {"Account": "owner", "Contact": "owner", "Opportunity": "owner", "Case": "support"}
    label = {"owner": "account executive", "support": "support agent"}
    territory_of = account_territories(s)
    hired: dict[tuple[str, str], list[str]] = defaultdict(list)  # (job, territory) → users
    for user in s.rows("User"):
        job = s.job_of(user["key"])
        if job and user.get("Division"):
            hired[(job, user["Division"])].append(user["key"])
    for people in hired.values():
        people.sort(key=_key_number)
    owned = []  # (record, job, its account and territory, owner): owners from elsewhere
    first_local: dict[tuple[str, str], int] = {}  # the first account a local user took
    for name, job in wanted.items():
        for r in s.rows(name):
            account_key = r["key"] if name == "Account" else r.get("AccountId") or ""
            territory = territory_of.get(account_key)
            owner = s.get(r.get("OwnerId"))
            if territory is None or owner is None or s.job_of(owner["key"]) != job:
                continue  # no territory to tell, or lookups_resolve / the role rule speak
            number = _key_number(account_key)
            if owner.get("Division") == territory:
                first_local[(job, territory)] = min(
                    number, first_local.get((job, territory), number)
                )
            else:
                owned.append((r, job, account_key, territory, owner))
    # The generator gives an account another territory's user only while its own territory has
    # no one of that role hired: someone hired earlier than that user, or who took an earlier
    # account there, was there to take it.
    for r, job, account_key, territory, owner in owned:
        local = hired.get((job, territory), [])
        earlier_hire = bool(local) and _key_number(local[0]) < _key_number(owner["key"])
        number = _key_number(account_key)
        if earlier_hire or first_local.get((job, territory), number + 1) <= number:
            yield _v(
                "owners_cover_territory",
                r,
                f"is owned by {owner['key']} of {owner.get('Division') or 'no territory'}, "
                f"but {'it' if account_key == r['key'] else account_key} is in {territory}, "
                f"whose {label[job]}s are "
                f"{', '.join(local[:3])}{' …' if len(local) > 3 else ''}",
            )


@rule()
def signatures_match_owner(s: Snapshot) -> Iterator[Violation]:
    """An email's signature is its owner's name."""
    for task in s.rows("Task"):
        text = task.get("Description") or ""
        match = SIGN_OFF.search(text)
        if not match:
            continue
        owner = s.get(task.get("OwnerId")) or {}
        name = f"{owner.get('FirstName') or ''} {owner.get('LastName') or ''}".strip()
        if match.group(1).strip() != name:
            yield _v(
                "signatures_match_owner",
                task,
                f"is signed {match.group(1).strip()!r} but owned by {name or task.get('OwnerId')}",
            )


# -- the consistency promises of the README ----------------------------------------------------


@rule("read_only")
def deals_close_consistently(s: Snapshot) -> Iterator[Violation]:
    """Closed deals have past close dates and IsClosed/IsWon; open ones future close dates;
    Probability and ForecastCategoryName follow the stage."""
    today = s.as_of.isoformat()
    for opp in s.rows("Opportunity"):
        stage = opp.get("StageName")
        closed = bool(stage and stage.startswith("Closed"))
        if bool(opp.get("IsClosed")) != closed or bool(opp.get("IsWon")) != (stage == "Closed Won"):
            yield _v("deals_close_consistently", opp, f"IsClosed/IsWon disagree with {stage}")
        close = opp.get("CloseDate") or ""
        if closed and close >= today:
            yield _v("deals_close_consistently", opp, f"closed but CloseDate {close} is not past")
        if not closed and close < today:
            yield _v("deals_close_consistently", opp, f"open but CloseDate {close} has passed")
        facts = sf.STAGE_FACTS.get(stage or "")
        if facts and (
            opp.get("Probability") != float(facts[0]) or opp.get("ForecastCategoryName") != facts[1]
        ):
            yield _v(
                "deals_close_consistently",
                opp,
                f"Probability/ForecastCategoryName don't match {stage} ({facts[0]}%, {facts[1]})",
            )


@rule()
def one_primary_contact_role(s: Snapshot) -> Iterator[Violation]:
    """Every opportunity has exactly one primary contact role, from its own account."""
    primaries: dict[str, int] = defaultdict(int)
    for role in s.rows("OpportunityContactRole"):
        opp = s.get(role.get("OpportunityId")) or {}
        contact = s.get(role.get("ContactId")) or {}
        if role.get("IsPrimary"):
            primaries[role.get("OpportunityId")] += 1
        if contact and opp and contact.get("AccountId") != opp.get("AccountId"):
            yield _v("one_primary_contact_role", role, "names a contact of another account")
    for opp in s.rows("Opportunity"):
        if primaries[opp["key"]] != 1:
            yield _v(
                "one_primary_contact_role",
                opp,
                f"has {primaries[opp['key']]} primary contact roles, not one",
            )


@rule()
def activity_stays_in_account(s: Snapshot) -> Iterator[Violation]:
    """A task's or event's contact (WhoId) and record (WhatId) belong to the same account."""
    for obj in ("Task", "Event"):
        for r in s.rows(obj):
            contact = s.get(r.get("WhoId")) or {}
            what = s.get(r.get("WhatId")) or {}
            account = what.get("AccountId") or (
                what["key"] if what.get("key", "").startswith("Account/") else None
            )
            if contact and account and contact.get("AccountId") != account:
                yield _v(
                    "activity_stays_in_account",
                    r,
                    f"{r.get('WhoId')} and {r.get('WhatId')} belong to different accounts",
                )


@rule()
def contacts_use_account_domain(s: Snapshot) -> Iterator[Violation]:
    """Contact emails use their account's web domain, always under example.com."""
    for contact in s.rows("Contact"):
        email = contact.get("Email") or ""
        account = s.get(contact.get("AccountId")) or {}
        site = (account.get("Website") or "").removeprefix("https://www.")
        if email and not email.endswith(".example.com"):
            yield _v("contacts_use_account_domain", contact, f"{email} is not under example.com")
        elif email and site and not email.endswith("@" + site):
            yield _v("contacts_use_account_domain", contact, f"{email} is not at {site}")


@rule()
def account_names_unique(s: Snapshot) -> Iterator[Violation]:
    """No two accounts share a name."""
    seen: dict[str, str] = {}
    for account in s.rows("Account"):
        name = account.get("Name")
        if name in seen:
            yield _v("account_names_unique", account, f"has the same name as {seen[name]}")
        elif name:
            seen[name] = account["key"]


# -- one story per account ---------------------------------------------------------------------


def _packs_by_industry() -> dict[str, Any]:
    """Account.Industry → the built-in pack writing it (one per value)."""
    from orgforge.packs import builtin_packs

    out: dict[str, Any] = {}
    for pack in builtin_packs().values():
        out.setdefault(pack.industry, pack)
    return out


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A company name pattern as a regex: each slot is some text, and a suffix may follow."""
    parts = re.split(r"\{[a-z0-9]+\}", pattern)
    return re.compile("^" + ".+".join(map(re.escape, parts)) + "( .+)?$")


def _subject_regex(subject: str) -> re.Pattern[str]:
    parts = subject.split("{number}")
    return re.compile("^" + r"\d+".join(map(re.escape, parts)) + "$")


def _segment_fits(pack, segment, account, titles, themes, subjects) -> list[str]:
    """What of an account does not belong to ``segment``: the reasons, or [] if it fits."""
    lists = pack.segment_lists(segment.id)
    reasons = []
    if not any(_pattern_regex(p).match(account.get("Name") or "") for p in segment.patterns):
        reasons.append("its name")
    allowed = set(lists["titles"])
    reasons += [f"title {t!r}" for t in titles if t not in allowed]
    allowed = set(lists["opportunity_types"])
    reasons += [f"theme {t!r}" for t in themes if t not in allowed]
    known = [_subject_regex(x) for x in lists["case_subjects"]]
    reasons += [f"case {x!r}" for x in subjects if not any(r.match(x) for r in known)]
    return reasons


@rule()
def account_tells_one_segment(s: Snapshot) -> Iterator[Violation]:
    """An account of a pack with segments fits one of them: its name follows one of the
    segment's patterns, and its contacts' titles, opportunity themes and case subjects are the
    segment's (or shared by every segment)."""
    packs = _packs_by_industry()
    titles, themes, subjects = defaultdict(list), defaultdict(list), defaultdict(list)
    for c in s.rows("Contact"):
        if c.get("Title"):
            titles[c.get("AccountId")].append(c["Title"])
    for o in s.rows("Opportunity"):
        account = s.get(o.get("AccountId")) or {}
        prefix = f"{account.get('Name')} - "
        if (o.get("Name") or "").startswith(prefix):
            themes[o["AccountId"]].append(o["Name"][len(prefix) :])
    for c in s.rows("Case"):
        if c.get("Subject"):
            subjects[c.get("AccountId")].append(c["Subject"])
    for account in s.rows("Account"):
        pack = packs.get(account.get("Industry"))
        if pack is None or not pack.segments:
            continue
        key = account["key"]
        best = None
        for segment in pack.segments:
            reasons = _segment_fits(pack, segment, account, titles[key], themes[key], subjects[key])
            if not reasons:
                break
            if best is None or len(reasons) < len(best[1]):
                best = (segment, reasons)
        else:
            segment, reasons = best
            yield _v(
                "account_tells_one_segment",
                account,
                f"fits no {pack.label} segment; closest is {segment.label}, but for "
                f"{', '.join(reasons[:3])}",
            )


def _places() -> dict[str, list[Any]]:
    """A city, state or country name → the places it names."""
    from orgforge.generate.pools import pools

    out: dict[str, list[Any]] = defaultdict(list)
    for place in pools().places.values:
        for word in (place.city, place.state_name, place.country):
            out[word].append(place)
    return out


@rule()
def place_names_match_address(s: Snapshot) -> Iterator[Violation]:
    """A city, state or country named in an account's name is where its billing address is."""
    places = _places()
    words = sorted(places, key=len, reverse=True)
    for account in s.rows("Account"):
        name = account.get("Name") or ""
        for word in words:
            if not re.search(rf"(?<![\w']){re.escape(word)}(?![\w'])", name):
                continue
            city, state = account.get("BillingCity"), account.get("BillingState")
            country = account.get("BillingCountry")
            fits = [
                p
                for p in places[word]
                if (not city or p.city == city or word != p.city)
                and (not state or p.state == state)
                and (not country or p.country == country)
            ]
            if not fits:
                where = ", ".join(x for x in (city, state, country) if x)
                yield _v(
                    "place_names_match_address",
                    account,
                    f"is named for {word} but its billing address is {where}",
                )
            break  # the longest place name only ("New York" in "New York Teachers ...")


# Phone numbers and postal codes as each country writes them.
PHONE_FORMATS = {
    "United States": r"\(\d{3}\) \d{3}-\d{4}",
    "Canada": r"\(\d{3}\) \d{3}-\d{4}",
    "United Kingdom": r"\+44 \d{2,4} \d{3,4} \d{3,4}",
    "Germany": r"\+49 \d{2,4} \d{5,8}",
    "Australia": r"\+61 \d \d{4} ?\d{3,4}",
}
POSTAL_FORMATS = {
    "United States": r"\d{5}",
    "Canada": r"[A-Z]\d[A-Z] \d[A-Z]\d",
    "United Kingdom": r"[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}",
    "Germany": r"\d{5}",
    "Australia": r"\d{4}",
}


@rule()
def addresses_follow_country(s: Snapshot) -> Iterator[Violation]:
    """Phone numbers and postal codes of accounts and contacts are written the way their
    address's country writes them (US and Canada (212) 555-0123, UK +44 …, Germany +49 …)."""
    checks = (
        ("Account", "BillingCountry", ("Phone",), "BillingPostalCode"),
        ("Contact", "MailingCountry", ("Phone", "MobilePhone"), "MailingPostalCode"),
    )
    for obj, country_field, phones, postal in checks:
        for r in s.rows(obj):
            country = r.get(country_field)
            if not country and obj == "Contact":
                country = (s.get(r.get("AccountId")) or {}).get("BillingCountry")
            phone_format = PHONE_FORMATS.get(country or "")
            for f in phones:
                value = r.get(f)
                if value and phone_format and not re.fullmatch(phone_format, value):
                    yield _v(
                        "addresses_follow_country", r, f"{f} {value!r} is not a {country} number"
                    )
            value, postal_format = r.get(postal), POSTAL_FORMATS.get(country or "")
            if value and postal_format and not re.fullmatch(postal_format, value):
                yield _v(
                    "addresses_follow_country", r, f"{postal} {value!r} is not a {country} code"
                )


@rule("read_only")
def account_type_follows_history(s: Snapshot) -> Iterator[Violation]:
    """An account is a Customer when it has won a deal and a Prospect when it has not
    (partners are partners either way)."""
    won = {o.get("AccountId") for o in s.rows("Opportunity") if o.get("IsWon")}
    for account in s.rows("Account"):
        kind = account.get("Type")
        if kind == "Customer - Direct" and account["key"] not in won:
            yield _v("account_type_follows_history", account, "is a Customer without a won deal")
        elif kind == "Prospect" and account["key"] in won:
            yield _v("account_type_follows_history", account, "is a Prospect with a won deal")


@rule("history")
def opportunity_type_follows_wins(s: Snapshot) -> Iterator[Violation]:
    """A deal is New Customer until the account has won one, Existing Customer after; a
    renewal renews something sold: it comes after a win."""
    won_at: dict[str, list[str]] = defaultdict(list)
    for key, entries in _stage_entries(s).items():
        opp = s.get(key) or {}
        for stage, when in entries:
            if stage == "Closed Won":
                won_at[opp.get("AccountId")].append(when)
    for opp in s.rows("Opportunity"):
        created = opp.get("CreatedDate") or ""
        before = any(w < created for w in won_at.get(opp.get("AccountId"), ()))
        kind = opp.get("Type") or ""
        if kind == "New Customer" and before:
            yield _v("opportunity_type_follows_wins", opp, "is New Customer after a won deal")
        elif kind.startswith("Existing Customer") and not before:
            yield _v("opportunity_type_follows_wins", opp, f"is {kind} before any won deal")
        elif "renewal" in (opp.get("Name") or "").lower() and not before:
            yield _v("opportunity_type_follows_wins", opp, "renews something never sold")


EXCLUSIVE_TITLE = re.compile(r"^(Chief|CEO|CFO|CIO|CTO|COO|President|(S|E)?VP|Head|Director)\b")


@rule()
def senior_titles_held_once(s: Snapshot) -> Iterator[Violation]:
    """No two contacts of one account hold the same senior title (a chief, a VP, a director,
    a head of)."""
    held: dict[tuple[str, str], str] = {}
    for contact in s.rows("Contact"):
        title = contact.get("Title") or ""
        if not EXCLUSIVE_TITLE.match(title):
            continue
        slot = (contact.get("AccountId") or "", title)
        if slot in held:
            yield _v("senior_titles_held_once", contact, f"is a second {title} ({held[slot]})")
        else:
            held[slot] = contact["key"]


@rule()
def names_spelled_as_people_do(s: Snapshot) -> Iterator[Violation]:
    """Surnames keep their apostrophes and capitals (O'Connell, McDaniel), and an email's
    local part is the name in lower-case letters (oconnell)."""
    from orgforge.generate.accounts import email_local
    from orgforge.packs import builtin_yaml

    _, data = builtin_yaml(["_surnames.yaml"])["_surnames.yaml"]
    spelling = data["spelling"]
    for contact in s.rows("Contact"):
        last, first = contact.get("LastName") or "", contact.get("FirstName") or ""
        if last in spelling:
            yield _v("names_spelled_as_people_do", contact, f"{last} is spelled {spelling[last]}")
        email = contact.get("Email") or ""
        local = email.split("@", 1)[0]
        if email and first and last and not local.startswith(email_local(first, last)):
            yield _v(
                "names_spelled_as_people_do",
                contact,
                f"{email} does not spell {first} {last} ({email_local(first, last)})",
            )


_CONTENT_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{3,}")


@rule()
def case_text_about_subject(s: Snapshot) -> Iterator[Violation]:
    """A case's description is about its subject's problem: it names the subject, or most of
    the subject's words."""
    for case in s.rows("Case"):
        subject, text = case.get("Subject") or "", case.get("Description") or ""
        if not subject or not text or subject in text:
            continue
        words = {w.lower() for w in _CONTENT_WORD.findall(subject)}
        found = {w for w in words if w in text.lower()}
        if words and len(found) * 2 < len(words):
            yield _v(
                "case_text_about_subject",
                case,
                f"description does not speak of its subject {subject!r}",
            )


_QUOTED = re.compile(r'"([^"]+)"')


@rule()
def known_patterns_exist(s: Snapshot) -> Iterator[Violation]:
    """A case comment that calls the problem a known pattern names it (in quotes), and it is
    a case subject at the same account."""
    subjects: dict[str, set[str]] = defaultdict(set)
    for case in s.rows("Case"):
        if case.get("Subject"):
            subjects[case.get("AccountId")].add(case["Subject"])
    for comment in s.rows("CaseComment"):
        body = comment.get("CommentBody") or ""
        if "known pattern" not in body:
            continue
        account = (s.get(comment.get("ParentId")) or {}).get("AccountId")
        named = [q for q in _QUOTED.findall(body) if q in subjects.get(account, ())]
        if not named:
            yield _v(
                "known_patterns_exist",
                comment,
                "speaks of a known pattern but names none of its account's cases",
            )


# -- the sales objects: leads, campaigns, products, org charts, email -------------------------

_TITLE_RANK = (
    (re.compile(r"^(?:chief\b|ceo$|cfo$|ciso$|cio$|cto$|coo$|president\b)", re.I), 0),
    (re.compile(r"^(?:svp|evp|vp|vice president)\b", re.I), 1),
    (re.compile(r"^(?:director|head)\b", re.I), 2),
    (re.compile(r"\bmanager$", re.I), 3),
)


SENIORITY_RANK = {"executive": 0, "vp": 1, "director": 2, "manager": 3, "individual": 4}


@cache
def _pack_ranks() -> dict[str, int]:
    from orgforge.packs import builtin_packs

    return {
        t.title.lower(): SENIORITY_RANK.get(t.seniority, 4)
        for pack in builtin_packs().values()
        for t in pack.titles
    }


def title_rank(title: str | None) -> int:
    """0 chief officers, 1 VPs, 2 directors, 3 managers, 4 everyone else: the built-in packs'
    seniority of the title, else read from its words."""
    if not title:
        return 4
    known = _pack_ranks().get(title.strip().lower())
    if known is not None:
        return known
    for pattern, rank in _TITLE_RANK:
        if pattern.search(title.strip()):
            return rank
    return 4


@rule("read_only")
def leads_convert_before_deals(s: Snapshot) -> Iterator[Violation]:
    """A converted lead is Closed - Converted, converted on or after it was created and no later
    than its opportunity was created, into an account, contact and opportunity of one account;
    an unconverted lead has no conversion fields and its Company is not an account."""
    names = {a.get("Name") for a in s.rows("Account")}
    converted_fields = ("ConvertedDate", "ConvertedAccountId", "ConvertedContactId")
    for lead in s.rows("Lead"):
        status = lead.get("Status")
        if not lead.get("IsConverted"):
            if status == sf.CONVERTED_STATUS or any(lead.get(f) for f in converted_fields):
                yield _v("leads_convert_before_deals", lead, "is not converted but says it is")
            elif lead.get("Company") in names:
                yield _v(
                    "leads_convert_before_deals",
                    lead,
                    f"is unconverted but works at the account {lead.get('Company')!r}",
                )
            continue
        when = lead.get("ConvertedDate") or ""
        account = lead.get("ConvertedAccountId")
        contact = s.get(lead.get("ConvertedContactId")) or {}
        opp = s.get(lead.get("ConvertedOpportunityId")) or {}
        if status != sf.CONVERTED_STATUS or not when or not account or not contact:
            yield _v("leads_convert_before_deals", lead, "is converted without its conversion")
        elif when < (lead.get("CreatedDate") or "")[:10]:
            yield _v("leads_convert_before_deals", lead, f"converted {when}, before it was created")
        elif opp and when > (opp.get("CreatedDate") or "")[:10]:
            yield _v(
                "leads_convert_before_deals",
                lead,
                f"converted {when}, after its opportunity {opp['key']} was created "
                f"({opp.get('CreatedDate')})",
            )
        elif contact.get("AccountId") != account or (opp and opp.get("AccountId") != account):
            yield _v(
                "leads_convert_before_deals",
                lead,
                f"converted into records of different accounts (account {account})",
            )


@rule()
def amount_is_sum_of_lines(s: Snapshot) -> Iterator[Violation]:
    """An opportunity with products has Amount = the sum of its lines' Quantity × UnitPrice ×
    (1 − Discount), each line priced from the opportunity's price book; no Closed Won deal
    lacks an Amount."""
    from orgforge.generate.line_items import total_price

    totals: dict[str, float] = defaultdict(float)
    lines: dict[str, int] = defaultdict(int)
    for line in s.rows("OpportunityLineItem"):
        opp_key = line.get("OpportunityId")
        quantity, unit = line.get("Quantity") or 0, line.get("UnitPrice") or 0
        totals[opp_key] += total_price(quantity, unit, line.get("Discount"))
        lines[opp_key] += 1
        entry = s.get(line.get("PricebookEntryId")) or {}
        opp = s.get(opp_key) or {}
        if entry and opp and entry.get("Pricebook2Id") != opp.get("Pricebook2Id"):
            yield _v(
                "amount_is_sum_of_lines",
                line,
                f"is priced from {entry.get('Pricebook2Id')}, not its opportunity's price book",
            )
    for opp in s.rows("Opportunity"):
        amount = opp.get("Amount")
        if opp.get("StageName") == "Closed Won" and amount is None:
            yield _v("amount_is_sum_of_lines", opp, "is Closed Won without an Amount")
        key = opp["key"]
        if lines[key] and (amount is None or abs(float(amount) - totals[key]) > 0.005):
            yield _v(
                "amount_is_sum_of_lines",
                opp,
                f"has Amount {amount} but its {lines[key]} line items sum to {totals[key]:.2f}",
            )


def _loops(s: Snapshot, name: str, field_name: str) -> Iterator[tuple[dict, str]]:
    """Records of ``name`` whose ``field_name`` chain comes back to them, with the chain."""
    for record in s.rows(name):
        seen = [record["key"]]
        parent = s.get(record.get(field_name))
        while parent is not None and parent["key"] not in seen and len(seen) < 1000:
            seen.append(parent["key"])
            parent = s.get(parent.get(field_name))
        if parent is not None and parent["key"] == record["key"]:
            yield record, " → ".join([*seen, record["key"]])


@rule()
def org_chart_follows_titles(s: Snapshot) -> Iterator[Violation]:
    """A contact reports to a contact of the same account who is more senior by title (chief
    officers, then VPs, directors, managers), so the org chart never loops."""
    for contact in s.rows("Contact"):
        boss = s.get(contact.get("ReportsToId"))
        if boss is None:
            continue
        if boss.get("AccountId") != contact.get("AccountId"):
            yield _v("org_chart_follows_titles", contact, f"reports to {boss['key']} elsewhere")
        elif title_rank(boss.get("Title")) >= title_rank(contact.get("Title")):
            yield _v(
                "org_chart_follows_titles",
                contact,
                f"({contact.get('Title')}) reports to {boss['key']} ({boss.get('Title')}), "
                "who is not more senior",
            )
    for contact, chain in _loops(s, "Contact", "ReportsToId"):
        yield _v("org_chart_follows_titles", contact, f"reports to itself: {chain}")


@rule()
def account_hierarchy_holds(s: Snapshot) -> Iterator[Violation]:
    """A subsidiary's parent account is another account of the same industry, whose name the
    subsidiary's starts with, and the hierarchy never loops."""
    for account in s.rows("Account"):
        parent = s.get(account.get("ParentId"))
        if parent is None:
            continue
        if parent.get("Industry") != account.get("Industry"):
            yield _v(
                "account_hierarchy_holds",
                account,
                f"is a subsidiary of {parent['key']}, an account of another industry",
            )
        elif not (account.get("Name") or "").startswith(parent.get("Name") or "\0"):
            yield _v(
                "account_hierarchy_holds",
                account,
                f"is a subsidiary of {parent.get('Name')!r} but named {account.get('Name')!r}",
            )
    for account, chain in _loops(s, "Account", "ParentId"):
        yield _v("account_hierarchy_holds", account, f"is its own parent: {chain}")


@rule("read_only")
def campaign_members_consistent(s: Snapshot) -> Iterator[Violation]:
    """A campaign member is one existing lead or contact, added once per campaign while the
    person existed; HasResponded and FirstRespondedDate follow its Status; an opportunity's
    campaign is one its converted lead was a member of."""
    seen: set[tuple[str, str]] = set()
    joined: dict[str, set[str]] = defaultdict(set)
    for member in s.rows("CampaignMember"):
        who_key = member.get("LeadId") or member.get("ContactId")
        who = s.get(who_key)
        if bool(member.get("LeadId")) == bool(member.get("ContactId")) or who is None:
            yield _v("campaign_members_consistent", member, "is not exactly one lead or contact")
            continue
        pair = (member.get("CampaignId") or "", who_key)
        if pair in seen:
            yield _v("campaign_members_consistent", member, f"adds {who_key} a second time")
        seen.add(pair)
        joined[who_key].add(member.get("CampaignId") or "")
        if (member.get("CreatedDate") or "") < (who.get("CreatedDate") or ""):
            yield _v("campaign_members_consistent", member, f"was added before {who_key} existed")
        responded = member.get("Status") == "Responded"
        if (
            bool(member.get("HasResponded")) != responded
            or bool(member.get("FirstRespondedDate")) != responded
        ):
            yield _v(
                "campaign_members_consistent",
                member,
                f"HasResponded/FirstRespondedDate disagree with Status {member.get('Status')}",
            )
    from_lead = {
        lead.get("ConvertedOpportunityId"): lead["key"]
        for lead in s.rows("Lead")
        if lead.get("ConvertedOpportunityId")
    }
    for opp in s.rows("Opportunity"):
        campaign = opp.get("CampaignId")
        if campaign and campaign not in joined.get(from_lead.get(opp["key"], ""), set()):
            yield _v(
                "campaign_members_consistent",
                opp,
                f"credits {campaign}, which no lead it was converted from was a member of",
            )


@rule()
def email_messages_match_tasks(s: Snapshot) -> Iterator[Violation]:
    """Every EmailMessage is the message of a completed email Task (ActivityId): related to
    the same record, sent by the time the task was done, with the task's subject."""
    for message in s.rows("EmailMessage"):
        task = s.get(message.get("ActivityId"))
        if task is None or task.get("TaskSubtype") != "Email":
            yield _v("email_messages_match_tasks", message, "belongs to no email task")
            continue
        if task.get("Status") != "Completed":
            yield _v("email_messages_match_tasks", message, f"was sent but {task['key']} is open")
        elif message.get("RelatedToId") != task.get("WhatId"):
            yield _v(
                "email_messages_match_tasks",
                message,
                f"is related to {message.get('RelatedToId')}, its task to {task.get('WhatId')}",
            )
        elif message.get("Subject") != task.get("Subject"):
            yield _v(
                "email_messages_match_tasks", message, f"has another subject than {task['key']}"
            )
        elif message.get("MessageDate") and message["MessageDate"] < (
            task.get("CreatedDate") or ""
        ):
            yield _v(
                "email_messages_match_tasks",
                message,
                f"was sent {message['MessageDate']}, before {task['key']} was created",
            )


# -- when people work ----------------------------------------------------------------------------

# People wrap up their day (log calls, answer the last case, note the late meeting) up to an hour
# after their working hours end.
WRAP_UP_MINUTES = 60


def _local_minute(stamp: str, tz: str) -> tuple[int, int]:
    """(local day ordinal, minute of that day) of a Salesforce datetime in zone ``tz``."""
    from orgforge.generate.timeutil import parse_stamp, utc_offset_minutes

    minute = parse_stamp(stamp)
    with contextlib.suppress(Exception):  # an unknown zone in an edited world: read it as UTC
        minute += utc_offset_minutes(tz, minute // 1440)
    return minute // 1440, minute % 1440


@rule()
def work_in_working_hours(s: Snapshot) -> Iterator[Violation]:
    """People create and change records in their working hours (the User's StartDay-EndDay, in
    their time zone, or the hour after, wrapping up the day) on working days (weekdays, unless
    the world was generated with `skip_weekends: false`)."""
    from orgforge.generate.timeutil import is_weekend

    users = {u["key"]: u for u in s.rows("User")}
    records = [r for obj in s.objects for r in s.rows(obj)] + list(s.history or ())
    for record in records:
        for when_field, who_field in (
            ("CreatedDate", "CreatedById"),
            ("LastModifiedDate", "LastModifiedById"),
        ):
            stamp, user = record.get(when_field), users.get(record.get(who_field) or "")
            if not stamp or user is None or user.get("StartDay") is None:
                continue
            if when_field == "LastModifiedDate" and stamp == record.get("CreatedDate"):
                continue
            day, minute = _local_minute(stamp, user.get("TimeZoneSidKey") or "UTC")
            start, end = int(user["StartDay"]) * 60, int(user["EndDay"]) * 60 + WRAP_UP_MINUTES
            off_day = s.weekdays_only and is_weekend(day)
            if off_day or not start <= minute <= end:
                hh, mm = divmod(minute, 60)
                when = "a weekend" if off_day else f"{hh:02d}:{mm:02d} local time"
                yield _v(
                    "work_in_working_hours",
                    record,
                    f"{when_field} {stamp} is {when} for {user['key']} "
                    f"({user.get('TimeZoneSidKey')}, hours {user['StartDay']}-{user['EndDay']})",
                )


__all__ = ["RULES", "Rule", "Violation"]
