"""Salesforce's change-event allocations in the sandbox, and the agents living with them:
GAP_OVERFLOW after too many changes in one transaction, gap events for events over 1 MB, and
the 5-entity selection cap."""

from __future__ import annotations

from orgforge.agents.feeds import StreamFeed
from orgforge.sandbox.salesforce import SandboxConfig, run_in_thread
from orgforge.sandbox.salesforce.client import simple_salesforce

from .conftest import FIELDS, active_users, logged
from .test_cli import _policy, orgforge


def _sandbox(tmp_path, **cdc):
    return run_in_thread(SandboxConfig(db_path=tmp_path / "org.db", schema=FIELDS, **cdc))


def _collection(sf, records):
    result = sf.restful(
        "composite/sobjects", method="POST", json={"allOrNone": True, "records": records}
    )
    assert all(r["success"] for r in result), result
    return [r["id"] for r in result]


def _lead(i):
    return {"attributes": {"type": "Lead"}, **_fields(i)}


def _fields(i):
    return {"LastName": f"O{i}", "Company": f"O{i}", "Country": "US"}


def _drain(feed, n):
    events = []
    for _ in range(20):
        if len(events) >= n:
            break
        events += feed.poll()
    return events


def test_a_transaction_past_the_overflow_limit_ends_in_one_gap_overflow_per_entity(tmp_path):
    with _sandbox(tmp_path, cdc_overflow_at=5) as sb:
        sf = simple_salesforce(sb)
        feed = StreamFeed(sb.instance_url, sb.token, ("/data/ChangeEvents",), wait=2.0)
        feed.connect()
        task = {"attributes": {"type": "Task"}, "Subject": "Call", "Status": "Not Started"}
        ids = _collection(sf, [_lead(0), _lead(1), _lead(2), task, task, task, _lead(3)])
        events = _drain(feed, 7)
        assert [(e.entity, e.change_type) for e in events] == [
            *[("Lead", "CREATE")] * 3,
            *[("Task", "CREATE")] * 2,
            ("Task", "GAP_OVERFLOW"),  # one per entity type, in the order they overflowed
            ("Lead", "GAP_OVERFLOW"),
        ]
        assert [e.record_ids[0] for e in events[:5]] == ids[:5]
        overflow = events[5:]
        assert all(e.record_ids == () and e.fields == {} for e in overflow)  # headers only
        assert {e.transaction_key for e in events} == {events[0].transaction_key}
        assert [e.sequence_number for e in events] == list(range(1, 8))
        # an update counts one change per changed field (always with LastModifiedDate)
        lead_ids = [ids[0], ids[1], ids[2], ids[6]]
        updates = [
            {
                "attributes": {"type": "Lead"},
                "Id": i,
                "Title": "CTO",
                "Status": "Working - Contacted",
            }
            for i in lead_ids
        ]
        result = sf.restful(
            "composite/sobjects", method="PATCH", json={"allOrNone": True, "records": updates}
        )
        assert all(r["success"] for r in result)
        (first, *rest) = _drain(feed, 2)
        assert first.change_type == "UPDATE" and len(first.changed_fields) >= 3
        # 3+ changes each: the first update fits in 5, the second one overflows
        assert [e.change_type for e in rest] == ["GAP_OVERFLOW"]


def test_an_event_over_the_size_limit_is_published_as_its_gap_twin(tmp_path):
    with _sandbox(tmp_path, cdc_max_event_bytes=4000) as sb:
        sf = simple_salesforce(sb)
        feed = StreamFeed(sb.instance_url, sb.token, ("/data/LeadChangeEvent",), wait=2.0)
        feed.connect()
        big = sf.Lead.create({"LastName": "Big", "Company": "B", "Description": "x" * 5000})["id"]
        small = sf.Lead.create({"LastName": "Small", "Company": "S"})["id"]
        gap, normal = _drain(feed, 2)
        assert (gap.change_type, gap.record_ids, gap.fields) == ("GAP_CREATE", (big,), {})
        assert gap.sequence_number == 1 and gap.change_origin == ""
        assert (normal.change_type, normal.record_ids) == ("CREATE", (small,))
        assert normal.fields["Company"] == "S"


def test_only_selected_entities_publish(tmp_path):
    with _sandbox(tmp_path, cdc_entities=("Lead",)) as sb:
        sf = simple_salesforce(sb)
        feed = StreamFeed(sb.instance_url, sb.token, ("/data/ChangeEvents",), wait=1.0)
        feed.connect()
        sf.Task.create({"Subject": "Call", "Status": "Not Started"})
        lead = sf.Lead.create({"LastName": "Sel", "Company": "S"})["id"]
        events = _drain(feed, 1)
        assert [(e.entity, e.record_ids) for e in events] == [("Lead", (lead,))]


def test_a_sixth_selected_entity_is_refused_before_anything_is_created(tmp_path):
    six = "Lead,Task,EmailMessage,Account,Contact,Opportunity"
    done = orgforge(
        "sandbox", "salesforce", "--port", "0", "--db", "org.db", "--cdc-entities", six,
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("error: --cdc-entities: 6 entities selected")
    assert "at most 5" in lines[0] and lines[1].startswith("hint:")
    assert not (tmp_path / "org.db").exists()
    unknown = orgforge(
        "sandbox", "salesforce", "--port", "0", "--db", "org.db", "--cdc-entities", "Lead,Nope",
        cwd=tmp_path,
    )  # fmt: skip
    assert unknown.returncode == 2 and "no object named 'Nope'" in unknown.stderr
    assert not (tmp_path / "org.db").exists()


def test_agents_reconcile_a_gap_overflow_by_polling_so_no_lead_is_missed(tmp_path):
    """A listening session gets 5 lead events and a GAP_OVERFLOW for a 12-lead transaction:
    it polls Lead and routes all 12 (and the lead before them), each exactly once."""
    from orgforge.agents.run import run_agents
    from orgforge.config import load_config

    with _sandbox(tmp_path, cdc_overflow_at=5) as sb:
        sf = simple_salesforce(sb)
        users = active_users(sf)
        flags = {
            "world": str(tmp_path / "w.db"),
            "salesforce.instance_url": sb.instance_url,
            "salesforce.auth": "token",
        }
        made: list[str] = []

        def arrive(report) -> None:  # after each long poll: what happens in the org meanwhile
            if report.steps == 1:
                made.append(sf.Lead.create(_fields("before"))["id"])
            elif report.steps == 2:
                made.extend(_collection(sf, [_lead(i) for i in range(12)]))

        report = run_agents(
            load_config(None, flags=flags),
            feed="stream",
            policy=_policy(tmp_path, users),
            log_dir=tmp_path / "flywheel",
            interval=2,
            max_steps=3,
            env={"SF_ACCESS_TOKEN": sb.token},
            on_step=arrive,
        )
        assert len(made) == 13 and report.routed == 13
        assert report.overflows == 1 and report.gaps == 1
        assert any("GAP_OVERFLOW" in line for line in report.reconciled)
        owners = {
            r["Id"]: r["OwnerId"] for r in sf.query("SELECT Id, OwnerId FROM Lead")["records"]
        }
        assert all(owners[lead] in users[1:4] for lead in made)
        routed = [m["lead_id"] for m in logged(tmp_path / "flywheel") if m["action"] == "route"]
        assert sorted(routed) == sorted(made)  # each once: none missed, none twice
