"""The activity job in the timeline world: after `activity run` a world still keeps every rule
of `orgforge check`, and the activity records carry a history of their own (audit fields, the
SE on demos, one meeting at a time per calendar, volume that grows with the deal's age)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from orgforge import activity
from orgforge.activity.planner import allowance
from orgforge.checks import check
from orgforge.config import ActivityConfig
from orgforge.generate.timeutil import parse_stamp
from orgforge.world import World
from tests.worlds import AS_OF, make_world

from .conftest import make_config


def _orgforge() -> str:
    found = shutil.which("orgforge", path=str(Path(sys.executable).parent))
    assert found, "the orgforge entry point is not installed next to this interpreter"
    return found


def _violations(result) -> list[str]:
    return [str(v) for v in result.violations[:10]]


@pytest.mark.parametrize(("preset", "seed"), [("tiny", 42), ("prd", 7)], ids=["tiny-42", "prd-7"])
def test_a_world_after_activity_keeps_every_rule(tmp_path, preset, seed) -> None:
    world = make_world(tmp_path, preset=preset, seed=seed)
    result = activity.run(make_config(world, tmp_path))
    assert result.created > 0
    checked = check(world)
    assert checked.ok, _violations(checked)
    assert not checked.skipped


def test_prd_world_after_activity_and_a_rerun_keeps_every_rule(world, config) -> None:
    activity.run(config)
    again = activity.run(config)
    assert again.created == 0
    checked = check(world)
    assert checked.ok, _violations(checked)


def test_installed_entry_point_run_then_check(tmp_path) -> None:
    """generate → activity run → check, as a user types them (tiny preset, seed 7)."""
    bin_ = _orgforge()
    db = str(tmp_path / "a.db")
    env_args = {"cwd": tmp_path, "capture_output": True, "text": True, "timeout": 600}
    gen = [bin_, "generate", "--preset", "tiny", "--seed", "7", "-q", "--world", db]
    done = subprocess.run([*gen, "--as-of", AS_OF.isoformat()], **env_args)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([bin_, "activity", "run", "-w", db, "-q"], **env_args)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([bin_, "check", db, "--json"], **env_args)
    assert done.returncode == 0, done.stdout[-2000:]
    report = json.loads(done.stdout)
    assert report["ok"] and report["violations"] == []
    # bad input: an unknown opportunity is refused before anything is written
    done = subprocess.run(
        [bin_, "activity", "run", "-w", db, "--opp", "Opportunity/9999/9", "-q"], **env_args
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: --opp Opportunity/9999/9") and "hint:" in done.stderr


def _activity(world: Path) -> dict[str, list[dict]]:
    with World(world, create=False) as w:
        return {
            name: [r for r in w.iter_dicts(name) if r["job"] == "activity"]
            for name in ("Event", "EventRelation", "Task")
        } | {"_all": {r["key"]: r for n in ("Opportunity", "Contact") for r in w.iter_dicts(n)}}


def test_audit_fields_follow_the_timeline(world, config) -> None:
    activity.run(config)
    got = _activity(world)
    records = got["_all"]
    now = parse_stamp(f"{AS_OF.isoformat()}T00:00:00.000Z")
    scheduled_ahead = []
    for event in got["Event"]:
        opp, contact = records[event["WhatId"]], records[event["WhoId"]]
        created, modified = (
            parse_stamp(event["CreatedDate"]),
            parse_stamp(event["LastModifiedDate"]),
        )
        start, end = parse_stamp(event["StartDateTime"]), parse_stamp(event["EndDateTime"])
        assert event["CreatedById"] == event["LastModifiedById"] == event["OwnerId"]
        # scheduled before it starts, never before the deal or the contact existed
        assert created < start, event["key"]
        assert created > parse_stamp(opp["CreatedDate"]), event["key"]
        assert created > parse_stamp(contact["CreatedDate"]), event["key"]
        assert modified < now
        if start >= now:  # still to come: not touched since it was scheduled
            assert modified == created, event["key"]
        else:  # the notes are logged after it ended
            assert end <= modified or modified == now - 1, event["key"]
            scheduled_ahead.append((start - created) // 1440)
    # scheduled days ahead as a rule, not in the minute before (a young deal's may be sooner)
    assert sum(d >= 1 for d in scheduled_ahead) >= 0.8 * len(scheduled_ahead)
    for task in got["Task"]:
        opp, contact = records[task["WhatId"]], records[task["WhoId"]]
        assert task["CreatedDate"] == task["LastModifiedDate"]  # created when it was sent
        # sent on its ActivityDate, a day in the account's zone (UTC may be a day apart)
        sent = parse_stamp(task["CreatedDate"]) // 1440
        assert abs(sent - dt.date.fromisoformat(task["ActivityDate"]).toordinal()) <= 1
        assert (
            task["CreatedDate"] > opp["CreatedDate"]
            and task["CreatedDate"] > contact["CreatedDate"]
        )
        assert task["CreatedById"] == task["OwnerId"]
    for relation in got["EventRelation"]:
        assert relation["CreatedDate"] and relation["CreatedById"]


def test_demos_invite_the_accounts_sales_engineer(world, config) -> None:
    with World(world, create=False) as w:
        jobs = json.loads(w.get_meta("team_jobs"))
        users = {u["key"]: jobs[u["UserRoleId"]] for u in w.iter_dicts("User")}
        base_se: dict[int, set[str]] = defaultdict(set)
        for r in w.iter_dicts("EventRelation"):
            if users.get(r["RelationId"]) == "se":
                base_se[r["account_idx"]].add(r["RelationId"])
    activity.run(config)
    got = _activity(world)
    invited: dict[str, list[str]] = defaultdict(list)
    for r in got["EventRelation"]:
        invited[r["EventId"]].append(r["RelationId"])
    demos = [e for e in got["Event"] if e["Type"] == "Demo"]
    assert len(demos) >= 50
    for event in demos:
        ses = [k for k in invited[event["key"]] if users.get(k) == "se"]
        assert len(ses) == 1, event["key"]
        if event["account_idx"] in base_se:  # the same SE as the base world's demos
            assert ses[0] in base_se[event["account_idx"]], event["key"]
    others = [e for e in got["Event"] if e["Type"] != "Demo"]
    assert all(not any(k.startswith("User/") for k in invited[e["key"]]) for e in others)


def test_meetings_move_off_a_busy_calendar(world, config) -> None:
    """Without the calendar, planned meetings land on owners' existing meetings; with it,
    none does: the planner moves them (the world's meetings included)."""
    from orgforge.activity.job import calendar_for, plan_all, setup
    from orgforge.activity.source import WorldSource

    s = setup(config)
    with World(world, create=False) as w:
        opps = WorldSource(w).select(None)
        calendar, _ = calendar_for(w)
        free = [s.planner.plan(o) for o in opps]  # each on its own: no one else's meetings
        placed = plan_all(s, w, opps)
    clashes = 0
    for plan in free:
        owner = plan.opportunity.row["OwnerId"]
        for item in plan.items:
            if item.kind == "meeting":
                start = parse_stamp(item.scheduled)
                clashes += not calendar._free((owner,), start, start + item.minutes)
    assert clashes > 0  # the test can fail: unplaced plans do collide
    booked: dict[str, list[tuple[int, int]]] = defaultdict(list)
    with World(world, create=False) as w:
        for e in w.iter_dicts("Event"):
            booked[e["OwnerId"]].append(
                (parse_stamp(e["StartDateTime"]), parse_stamp(e["EndDateTime"]))
            )
    for plan in placed:
        owner = plan.opportunity.row["OwnerId"]
        for item in plan.items:
            if item.kind == "meeting":
                start = parse_stamp(item.scheduled)
                end = start + item.minutes
                assert all(end <= a or b <= start for a, b in booked[owner]), item.key
                booked[owner].append((start, end))


def test_volume_rule_reports_activity_past_its_allowance(world, tmp_path) -> None:
    """The allowance is the default densities scaled by age and stage: a run configured far
    denser than that breaks activity_volume_fits_age, naming the deal."""
    dense = make_config(world, tmp_path, emails=(60, 60), past_meetings=(12, 12))
    activity.run(dense)
    checked = check(world, ["activity_volume_fits_age"])
    assert not checked.ok
    flagged = {v.key for v in checked.violations}
    assert all(k.startswith("Opportunity/") for k in flagged)
    assert any("from the activity job" in v.message for v in checked.violations)


def test_allowance_grows_with_age_and_stage() -> None:
    cfg = ActivityConfig()
    asof = AS_OF.toordinal()
    young = allowance(cfg, asof - 8, asof + 60, False, asof, "Prospecting")
    mature = allowance(cfg, asof - 200, asof + 60, False, asof, "Negotiation/Review")
    assert young <= cfg.future_meetings[1] + 1  # an 8-day-old deal: a meeting or an email
    assert mature == cfg.past_meetings[1] + cfg.emails[1] + cfg.future_meetings[1]
    mid = allowance(cfg, asof - 45, asof + 60, False, asof, "Negotiation/Review")
    assert young < mid < mature
    closed = allowance(cfg, asof - 200, asof - 10, True, asof, "Closed Won")
    assert closed == cfg.past_meetings[1] + cfg.emails[1]  # no future meetings once closed


def test_follow_ups_come_after_the_meeting_they_follow(world, config) -> None:
    """ "Thanks for your time", discovery recaps and demo follow-ups go to someone who was at a
    meeting of the type they follow, sent after it ended; the other emails need no meeting."""
    from orgforge.activity.job import plan_all, setup
    from orgforge.activity.source import WorldSource

    s = setup(config)
    with World(world, create=False) as w:
        plans = plan_all(s, w, WorldSource(w).select(None))
    follow_ups = 0
    for plan in plans:
        meetings = [i for i in plan.items if i.kind == "meeting"]
        for email in (i for i in plan.items if i.kind == "email" and i.type.follows):
            follow_ups += 1
            before = [
                m
                for m in meetings
                if m.end_minute <= email.created
                and ("any" in email.type.follows or m.type.id in email.type.follows)
                and email.participants[0] in m.participants
            ]
            assert before, (email.key, email.type.id)
    assert follow_ups >= 100


def test_a_thousand_accounts_after_activity_keep_every_rule(stats_world, tmp_path) -> None:
    """At 1,000 accounts the owners' calendars fill up: a meeting with no free slot near its
    day is dropped rather than double-booked."""
    world = tmp_path / "k.db"
    shutil.copy(stats_world, world)
    result = activity.run(make_config(world, tmp_path))
    checked = check(world)
    assert checked.ok, _violations(checked)
    planned = result.written["Event"]["inserted"]
    assert planned > 5_000
