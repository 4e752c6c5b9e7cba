"""Enhanced Email: an EmailMessage for every sent email Task, as Salesforce stores them.

With Enhanced Email on, a logged email is two records: the Task (TaskSubtype Email) on the
timeline, and an EmailMessage holding the message itself, linked by ``ActivityId``, related to
the same record (``RelatedToId`` = the Task's WhatId), sent (Status 3) from the task's owner to
its contact at the moment the task was completed. Subject and TextBody are the Task's Subject
and Description, copied once the text pass has filled them (:func:`copy_text`); an open email
task (not sent yet) has no message.
"""

from __future__ import annotations

from typing import Any

from orgforge.generate.timeutil import parse_stamp, stamp

SENT = "3"


def email_messages(out, account_idx: int, contacts: list[dict], users: dict, clock: Any) -> None:
    """Add the EmailMessages of the account's completed email tasks (already in ``out``): each
    sent in its owner's working time, at or before the task was logged as done."""
    by_key = {c["key"]: c for c in contacts}
    rows = out.rows.setdefault("EmailMessage", [])
    number = f"{account_idx + 1:04d}"
    n = 0
    for task in out.rows.get("Task", ()):
        if (
            task["account_idx"] != account_idx
            or task["TaskSubtype"] != "Email"
            or task["Status"] != "Completed"
        ):
            continue
        n += 1
        owner = users[task["OwnerId"]]
        contact = by_key.get(task["WhoId"]) or {}
        done = parse_stamp(task["LastModifiedDate"])
        sent = stamp(clock.nudge(done, owner, parse_stamp(task["CreatedDate"]), done))
        rows.append(
            {
                "key": f"EmailMessage/{number}/{n}",
                "account_idx": account_idx,
                "seq": n,
                "tier": task["tier"],
                "job": task.get("job", "generate"),
                "ActivityId": task["key"],
                "RelatedToId": task["WhatId"],
                "Subject": None,
                "TextBody": None,
                "FromName": owner.name,
                "FromAddress": owner.email,
                "ToAddress": contact.get("Email"),
                "MessageDate": sent,
                "Status": SENT,
                "Incoming": 0,
                "CreatedDate": sent,
                "CreatedById": owner.key,
                "LastModifiedDate": sent,
                "LastModifiedById": owner.key,
                "_task": task,
            }
        )


def copy_text(rows: dict[str, list[dict]]) -> None:
    """Each EmailMessage's Subject and TextBody from its Task (after the text pass)."""
    for message in rows.get("EmailMessage", ()):
        task = message.get("_task")
        if task is not None:
            message["Subject"] = task["Subject"]
            # a sparse task has no body: neither has its message (a subject is not a body)
            message["TextBody"] = task["Description"]
