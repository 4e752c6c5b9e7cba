"""TTFR exact to the second against an independent computation; logs replay exactly."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from orgforge.agents.first_touch import (
    Touch,
    first_touch,
    response_time,
    touch_from_email,
    touch_from_task,
)
from orgforge.agents.flywheel import FlywheelLog, replay
from orgforge.agents.policy import Policy
from orgforge.agents.workloads import LeadDesk, run_timeline

from .conftest import make_touches


def _working_seconds_by_minute(rep, start: datetime, end: datetime) -> float:
    """Independent reference: walk the interval minute by minute in epoch seconds (shifts start
    and end on whole minutes, so each minute is all in or all out) and add its overlap with
    [start, end). The zone's UTC offset is looked up once per hour (DST moves on the hour)."""
    zone = ZoneInfo(rep.timezone)
    first = rep.hours[0].hour * 60 + rep.hours[0].minute
    last = rep.hours[1].hour * 60 + rep.hours[1].minute
    days = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
    workdays = {days[d] for d in rep.days}
    off = {
        (a.start + timedelta(days=i)).toordinal()
        for a in rep.out_of_office
        for i in range((a.end - a.start).days + 1)
    }
    lo_s, hi_s = start.timestamp(), end.timestamp()
    offsets: dict[int, int] = {}
    total = 0.0
    minute = int(lo_s // 60) * 60
    while minute < hi_s:
        hour = minute - minute % 3600
        if hour not in offsets:
            local_hour = datetime.fromtimestamp(hour, UTC).astimezone(zone)
            offsets[hour] = int(local_hour.utcoffset().total_seconds())
        local = minute + offsets[hour]
        day = local // 86400
        if (
            (day + 3) % 7 in workdays
            and day + 719163 not in off
            and first <= (local % 86400) // 60 < last
        ):
            total += max(0.0, min(minute + 60, hi_s) - max(minute, lo_s))
        minute += 60
    return total


def test_ttfr_raw_and_working_hours_exact_to_the_second_on_1000_leads(policy, leads):
    """Each lead gets a rep in turn (seven time zones, half-hour shifts, an absence, the end of
    US daylight saving time) and a first touch up to two days later at a random second."""
    data = policy.model_dump(mode="json")
    data["reps"][3]["out_of_office"] = [{"start": "2026-10-28", "end": "2026-10-29"}]
    policy = Policy.model_validate(data)
    touches = make_touches(leads, {}, max_seconds=2 * 86400)
    for i, (lead, touch) in enumerate(zip(leads, touches, strict=True)):
        rep = policy.reps[i % len(policy.reps)]
        assigned = lead.created + timedelta(seconds=i % 90)
        rt = response_time(lead.id, rep.id, lead.created, assigned, touch, rep)
        assert rt.ttfr_seconds == (touch.at - lead.created).total_seconds()
        assert rt.system_delay_seconds == i % 90
        assert rt.rep_delay_seconds == (touch.at - assigned).total_seconds()
        ttfr_working = _working_seconds_by_minute(rep, lead.created, touch.at)
        before_assignment = _working_seconds_by_minute(rep, lead.created, assigned)
        assert rt.ttfr_working_seconds == ttfr_working
        assert rt.rep_delay_working_seconds == ttfr_working - before_assignment
        assert rt.lead_fields()["Time_to_First_Response__c"] == round(rt.ttfr_seconds / 60, 2)


def test_the_desk_records_only_the_first_touch_per_lead(policy, leads):
    desk = LeadDesk(policy)
    for lead in leads[:50]:
        desk.new_lead(lead, lead.created)
    touches = make_touches(leads[:50], {})
    later = [
        Touch(t.lead_id, t.at + timedelta(hours=1), t.user, t.kind, t.record_id + "b")
        for t in touches
    ]
    for touch in sorted(later + touches, key=lambda t: t.at):
        desk.touched(touch)
    assert {lid: rt.touch for lid, rt in desk.responses.items()} == {t.lead_id: t for t in touches}


def test_first_touch_is_the_earliest_completed_call_or_email():
    at = datetime(2026, 11, 3, 10, tzinfo=UTC)
    open_call = {"Id": "00T1", "Status": "Not Started", "TaskSubtype": "Call", "WhoId": "00Q1"}
    meeting = {"Id": "00T2", "Status": "Completed", "Type": "Meeting", "WhoId": "00Q1"}
    call = {
        "Id": "00T3",
        "Status": "Completed",
        "TaskSubtype": "Call",
        "WhoId": "00Q1",
        "OwnerId": "005A",
    }
    email = {"Id": "02s1", "RelatedToId": "00Q1", "Incoming": False, "CreatedById": "005B"}
    inbound = {"Id": "02s2", "RelatedToId": "00Q1", "Incoming": True}
    assert touch_from_task(open_call, at) is None and touch_from_task(meeting, at) is None
    assert touch_from_email(inbound, at) is None
    touches = [touch_from_task(call, at + timedelta(minutes=5)), touch_from_email(email, at)]
    first = first_touch(t for t in touches if t)
    assert (first.kind, first.user, first.record_id) == ("email_message", "005B", "02s1")


def test_a_decision_log_replays_into_identical_decisions_and_a_policy_change_shows(
    tmp_path, policy, leads
):
    log = FlywheelLog(tmp_path / "flywheel")
    desk = LeadDesk(policy, log=log)
    touches = make_touches(leads[:400], {})
    run_timeline(desk, [(lead, lead.created) for lead in leads[:400]], touches[::2])
    reassigned = sum(1 for d in desk.decisions if d.reassigned_from)
    assert reassigned > 0  # SLAs fired on the untouched half
    files = sorted((tmp_path / "flywheel").glob("lead.route_*.jsonl"))
    assert files and all(f.name[len("lead.route_") :][:4] == "2026" for f in files)
    line = json.loads(files[0].read_text().splitlines()[0])
    assert line["request"]["messages"][0]["role"] == "user"
    meta = line["metadata"]
    assert {"candidates", "exclusions", "policy_version", "policy_digest", "latency_ms"} <= set(
        meta
    )

    count, differences = replay(tmp_path / "flywheel", policy)
    assert count == len(desk.decisions) and differences == []

    data = policy.model_dump(mode="json")
    data["pools"][0]["members"][0]["weight"] = 1  # User/01 loses its double weight
    changed = Policy.model_validate(data)
    count, differences = replay(tmp_path / "flywheel", changed)
    assert count == len(desk.decisions) and differences
    assert all(d.logged != d.replayed for d in differences)
