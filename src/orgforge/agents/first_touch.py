"""Time to first response: the earliest completed call or email on a lead, and how long it took.

A *touch* is a completed Task whose type is a call or an email (``TaskSubtype`` Call/Email, or
``Type`` Call/Email), or an EmailMessage, whose WhoId / RelatedToId is the lead. The earliest
one (ties: the lower record id) is the first touch. Durations are kept apart the way
practitioners measure speed to lead:

* *system delay*: lead created → assigned (routing, queues: an ops problem);
* *rep delay*: assigned → first touch (the rep's SLA);
* *TTFR*: created → first touch, raw and counted in the owner's working hours.

The Lead fields written are ``First_Response_At__c``, ``First_Response_User__c`` and
``Time_to_First_Response__c`` (raw minutes, two decimals).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orgforge.agents.hours import working_seconds
from orgforge.agents.policy import Rep

TOUCH_TYPES = frozenset({"Call", "Email"})


@dataclass(frozen=True)
class Touch:
    lead_id: str
    at: datetime
    user: str
    kind: str  # call | email | email_message
    record_id: str


def touch_from_task(task: Mapping[str, Any], at: datetime) -> Touch | None:
    """A Task counts when it is completed and is a call or an email on a lead."""
    if task.get("Status") != "Completed":
        return None
    kind = task.get("TaskSubtype") if task.get("TaskSubtype") in TOUCH_TYPES else task.get("Type")
    if kind not in TOUCH_TYPES or not task.get("WhoId"):
        return None
    return Touch(
        str(task["WhoId"]), at, str(task.get("OwnerId") or ""), kind.lower(), str(task["Id"])
    )


def touch_from_email(message: Mapping[str, Any], at: datetime) -> Touch | None:
    """An outgoing EmailMessage related to (or addressed to) a lead counts."""
    if message.get("Incoming"):
        return None
    lead = message.get("RelatedToId") or message.get("ToIds")
    if not lead:
        return None
    user = str(message.get("CreatedById") or message.get("FromAddress") or "")
    return Touch(str(lead), at, user, "email_message", str(message["Id"]))


def first_touch(touches: Iterable[Touch]) -> Touch | None:
    return min(touches, key=lambda t: (t.at, t.record_id), default=None)


@dataclass(frozen=True)
class ResponseTime:
    lead_id: str
    owner: str
    created: datetime
    assigned: datetime
    touch: Touch
    ttfr_seconds: float
    ttfr_working_seconds: float | None  # in the owner's working hours; None: owner not a rep
    system_delay_seconds: float
    rep_delay_seconds: float
    rep_delay_working_seconds: float | None

    def lead_fields(self) -> dict[str, Any]:
        return {
            "First_Response_At__c": self.touch.at.isoformat(timespec="milliseconds"),
            "First_Response_User__c": self.touch.user,
            "Time_to_First_Response__c": round(self.ttfr_seconds / 60, 2),
        }


def response_time(
    lead_id: str,
    owner: str,
    created: datetime,
    assigned: datetime,
    touch: Touch,
    rep: Rep | None,
) -> ResponseTime:
    """The durations for one lead; a touch before assignment counts as 0 rep delay."""
    ttfr = max(0.0, (touch.at - created).total_seconds())
    rep_delay = max(0.0, (touch.at - assigned).total_seconds())
    return ResponseTime(
        lead_id=lead_id,
        owner=owner,
        created=created,
        assigned=assigned,
        touch=touch,
        ttfr_seconds=ttfr,
        ttfr_working_seconds=working_seconds(rep, created, touch.at) if rep else None,
        system_delay_seconds=max(0.0, (assigned - created).total_seconds()),
        rep_delay_seconds=rep_delay,
        rep_delay_working_seconds=working_seconds(rep, assigned, touch.at) if rep else None,
    )
