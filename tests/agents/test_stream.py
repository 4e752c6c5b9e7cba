"""Change events from the sandbox over CometD, through the feed the agents use on a real org."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from orgforge.agents.feeds import ReplayExpired, StreamFeed
from orgforge.agents.policy import load_policy
from orgforge.agents.session import Session, StepReport
from orgforge.agents.workloads import LeadDesk
from orgforge.sandbox.salesforce import SandboxConfig, run_in_thread
from orgforge.sandbox.salesforce.client import simple_salesforce

from .conftest import FIELDS, active_users, logged
from .test_cli import ALWAYS, _policy, orgforge

HEADER = {
    "entityName",
    "recordIds",
    "changeType",
    "changedFields",
    "changeOrigin",
    "transactionKey",
    "sequenceNumber",
    "commitTimestamp",
    "commitUser",
    "commitNumber",
}


def _feed(sb, position=None, channels=("/data/LeadChangeEvent",)) -> StreamFeed:
    return StreamFeed(sb.instance_url, sb.token, channels, position, wait=2.0)


def test_create_update_delete_arrive_with_the_real_header(org):
    sb, sf = org
    feed = _feed(sb)
    feed.connect()
    lead = sf.Lead.create({"LastName": "Stream", "Company": "Acme", "Country": "US"})["id"]
    sf.Lead.update(lead, {"Status": "Working - Contacted"})
    sf.Lead.delete(lead)
    events = []
    while len(events) < 3:
        events += feed.poll()
    create, update, delete = events
    assert (create.change_type, update.change_type, delete.change_type) == (
        "CREATE",
        "UPDATE",
        "DELETE",
    )
    assert create.record_ids == update.record_ids == delete.record_ids == (lead,)
    assert create.fields["Company"] == "Acme" and "CreatedDate" in create.fields
    assert "Status" in update.changed_fields and "LastModifiedDate" in update.changed_fields
    assert set(update.fields) == set(update.changed_fields)  # CometD: changed fields only
    assert create.commit_user and create.transaction_key != update.transaction_key
    ids = [int(e.replay_id) for e in events]
    assert ids == sorted(ids) and len(set(ids)) == 3


def test_raw_cometd_messages_follow_the_streaming_api(org):
    sb, sf = org
    url = f"{sb.instance_url}/cometd/59.0"
    auth = {"Authorization": f"OAuth {sb.token}"}
    with httpx.Client(headers=auth, timeout=30) as http:
        (hs,) = http.post(
            url,
            json=[
                {
                    "channel": "/meta/handshake",
                    "version": "1.0",
                    "supportedConnectionTypes": ["long-polling"],
                }
            ],
        ).json()
        assert hs["successful"] and hs["ext"]["replay"] is True
        cid = hs["clientId"]
        sf.Lead.create({"LastName": "Before", "Company": "Old Co"})
        (sub,) = http.post(
            url,
            json=[
                {
                    "channel": "/meta/subscribe",
                    "clientId": cid,
                    "subscription": "/data/LeadChangeEvent",
                    "ext": {"replay": {"/data/LeadChangeEvent": -2}},
                }
            ],
        ).json()
        assert sub["successful"]
        replies = http.post(
            url,
            json=[{"channel": "/meta/connect", "clientId": cid, "connectionType": "long-polling"}],
        ).json()
        event, connect = replies
        assert event["channel"] == "/data/LeadChangeEvent"
        assert set(event["data"]["payload"]["ChangeEventHeader"]) == HEADER
        assert isinstance(event["data"]["event"]["replayId"], int)
        assert connect["channel"] == "/meta/connect" and connect["successful"]
        (bad,) = http.post(
            url,
            json=[
                {
                    "channel": "/meta/subscribe",
                    "clientId": cid,
                    "subscription": "/data/NopeChangeEvent",
                }
            ],
        ).json()
        assert not bad["successful"] and "does not exist" in bad["error"]
        (stranger,) = http.post(url, json=[{"channel": "/meta/connect", "clientId": "x"}]).json()
        assert stranger["error"] == "403::Unknown client"
        assert stranger["advice"]["reconnect"] == "handshake"
    denied = httpx.post(
        url, json=[{"channel": "/meta/handshake"}], headers={"Authorization": "OAuth wrong"}
    )
    assert denied.status_code == 401 and "403::Handshake denied" in denied.text


def test_a_stored_replay_id_resumes_exactly_after_it_and_an_expired_one_says_so(org):
    sb, sf = org
    feed = _feed(sb)
    feed.connect()
    first = sf.Lead.create({"LastName": "One", "Company": "A"})["id"]
    got = []
    while not got:
        got = feed.poll()
    position = dict(feed.position)
    feed.close()
    missed = [sf.Lead.create({"LastName": f"N{i}", "Company": "B"})["id"] for i in range(3)]
    resumed = _feed(sb, position)
    events = []
    while len(events) < 3:
        events += resumed.poll()
    assert [e.record_ids[0] for e in events] == missed and first not in missed
    # the org drops events past its retention: the stored id is then refused, with its text
    with sqlite3.connect(sb.db_path) as db:
        db.execute("DELETE FROM _change_events")
    sf.Lead.create({"LastName": "Later", "Company": "C"})
    stale = _feed(sb, resumed.position)
    with pytest.raises(ReplayExpired) as exc:
        stale.connect()
    assert "you provided was invalid" in str(exc.value)


def test_a_rolled_back_record_publishes_nothing(org):
    sb, sf = org
    feed = _feed(sb)
    feed.connect()
    result = sf.restful(
        "composite/sobjects",
        method="POST",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Lead"}, "LastName": "Good", "Company": "G"},
                {
                    "attributes": {"type": "Lead"},
                    "LastName": "Bad",
                    "Company": "B",
                    "Email": "not-an-email",
                },
            ],
        },
    )
    assert [r["success"] for r in result] == [True, False]
    events = []
    for _ in range(2):
        events += feed.poll()
    assert [e.record_ids[0] for e in events] == [result[0]["id"]]


def test_agents_stream_routes_leads_and_catches_up_after_a_restart(org, tmp_path):
    sb, sf = org
    users = active_users(sf)
    policy = _policy(tmp_path, users)
    env = {"SF_ACCESS_TOKEN": sb.token}
    run = (
        "agents",
        "run",
        "--feed",
        "stream",
        "--once",
        "--interval",
        "2",
        "--policy",
        str(policy),
        "--instance-url",
        sb.instance_url,
        "--auth",
        "token",
        "--world",
        "w.db",
    )
    assert orgforge(*run, cwd=tmp_path, env=env).returncode == 0
    # nobody listens while these arrive: the next run reconciles by polling, then streams
    leads = [
        sf.Lead.create({"LastName": f"L{i}", "Company": f"C{i}", "Country": "US"})["id"]
        for i in range(4)
    ]
    done = orgforge(*run, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "4 leads routed" in done.stdout and "reconciled by polling" in done.stderr
    owners = {r["Id"]: r["OwnerId"] for r in sf.query("SELECT Id, OwnerId FROM Lead")["records"]}
    assert set(owners) == set(leads) and set(owners.values()) <= set(users[1:4])
    task = sf.Task.create(
        {
            "Subject": "Call",
            "WhoId": leads[1],
            "Status": "Not Started",
            "TaskSubtype": "Call",
            "OwnerId": owners[leads[1]],
        }
    )["id"]
    sf.Task.update(task, {"Status": "Completed"})  # the UPDATE carries no WhoId: re-read
    again = orgforge(*run, cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    assert "0 leads routed" in again.stdout and "1 first touches" in again.stdout, again.stdout
    assert sf.Lead.get(leads[1])["First_Response_User__c"] == owners[leads[1]]
    assert ALWAYS  # the policy's reps work around the clock, so nothing waits for a shift


def test_kill_9_mid_stream_then_restart_loses_and_repeats_no_decision(org, tmp_path):
    """A listener killed while leads keep arriving; the restarted one finishes the job: every
    lead routed, each decision in the log exactly once."""

    sb, sf = org
    users = active_users(sf)
    policy = _policy(tmp_path, users)
    env = {"SF_ACCESS_TOKEN": sb.token}
    args = (
        "agents",
        "run",
        "--feed",
        "stream",
        "--interval",
        "1",
        "--policy",
        str(policy),
        "--instance-url",
        sb.instance_url,
        "--auth",
        "token",
        "--world",
        "w.db",
    )
    assert orgforge(*args, "--once", cwd=tmp_path, env=env).returncode == 0

    exe = shutil.which("orgforge", path=str(Path(sys.executable).parent))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ORGFORGE_", "SF_"))}
    listener = subprocess.Popen(
        [exe, *args],
        cwd=tmp_path,
        env={**base, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    leads = []
    try:
        for i in range(24):
            leads.append(
                sf.Lead.create({"LastName": f"K{i}", "Company": f"K{i}", "Country": "US"})["id"]
            )
            time.sleep(0.1)
            if i == 15:
                listener.send_signal(signal.SIGKILL)
    finally:
        listener.kill()
        listener.wait()
    done = orgforge(*args, "--once", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr

    routed = [m["lead_id"] for m in logged(tmp_path / "flywheel") if m["action"] == "route"]
    assert sorted(routed) == sorted(leads)  # every lead once: none lost, none twice
    owners = {r["Id"]: r["OwnerId"] for r in sf.query("SELECT Id, OwnerId FROM Lead")["records"]}
    assert all(owners[lead] in users[1:4] for lead in leads)


def test_gap_events_are_re_read_by_id_so_the_lead_is_still_routed(tmp_path):
    with run_in_thread(
        SandboxConfig(db_path=tmp_path / "org.db", schema=FIELDS, faults="gap=1.0")
    ) as sb:
        sf = simple_salesforce(sb)
        users = active_users(sf)
        policy = _policy(tmp_path, users)
        feed = _feed(sb)
        feed.connect()
        lead = sf.Lead.create({"LastName": "Gap", "Company": "Gap Co", "Country": "US"})["id"]
        (event,) = feed.poll()
        assert event.change_type == "GAP_CREATE" and event.fields == {}
        assert event.record_ids == (lead,)
        # a session listening when a gap event comes re-reads the lead by id and routes it
        session_feed = _feed(sb)
        session_feed.connect()
        desk = LeadDesk(load_policy(policy))
        session = Session("gap", session_feed, desk, None, reader=_sandbox_reader(sf))
        second = sf.Lead.create({"LastName": "Gap 2", "Company": "Gap Co", "Country": "US"})["id"]
        report = StepReport()
        while not report.routed:
            report = session.step()
        assert report.gaps == 1 and [d.lead_id for d in desk.decisions] == [second]
        assert desk.leads[second].company == "Gap Co" and desk.leads[second].country == "US"


def _sandbox_reader(sf):
    def read(entity, record_id, fields):
        wanted = ", ".join(dict.fromkeys(("Id", "CreatedDate", *fields)))
        rows = sf.query(f"SELECT {wanted} FROM {entity} WHERE Id = '{record_id}'")["records"]
        return {k: v for k, v in rows[0].items() if k != "attributes"} if rows else None

    return read
