"""End to end against the Salesforce sandbox (a real HTTP server on 127.0.0.1, simple-salesforce).

world → activity run --target salesforce → the org has the meetings (with invitees) and emails,
linked to the right opportunity and contacts; a rerun sends nothing; reset --opp removes them
from the world and the org, leaving everything else.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from orgforge import activity
from orgforge.config import Config, load_config
from orgforge.sandbox import salesforce as sandbox_mod
from orgforge.world import World

from .conftest import AS_OF


@pytest.fixture
def org():
    with sandbox_mod.run_in_thread(
        sandbox_mod.SandboxConfig(schema=sandbox_mod.EXAMPLE_SCHEMA)
    ) as sb:
        yield sb


def _config(sb, world, tmp_path) -> tuple[Config, dict[str, str]]:
    flags = {
        "world": str(world),
        "runs_dir": str(tmp_path / "runs"),
        "as_of": AS_OF,
        "salesforce.instance_url": sb.instance_url,
        "salesforce.auth": "token",
        "salesforce.api": "rest",
    }
    return load_config(None, flags=flags, environ={}, cwd=tmp_path), {"SF_ACCESS_TOKEN": sb.token}


def _count(sf, soql: str) -> int:
    return sf.query(soql)["totalSize"]


def test_activity_reaches_the_org_and_leaves_it(org, prd_world, tmp_path) -> None:
    world = tmp_path / "w.db"
    shutil.copy(prd_world, world)
    cfg, env = _config(org, world, tmp_path)
    result = activity.run(cfg, max_opps=4, target="salesforce", env=env)
    pushed = result.salesforce
    assert pushed and pushed["failed"] == 0
    assert pushed["created"]["Event"] >= result.written["Event"]["inserted"]
    # the base world's demos invite their sales engineer: those relations go with the first push
    with World(world, create=False) as w:
        base = sum(1 for r in w.iter_dicts("EventRelation") if r["job"] == "generate")
    assert pushed["created"]["EventRelation"] == result.written["EventRelation"]["inserted"] + base

    sf = sandbox_mod.simple_salesforce(org)
    with World(world, create=False) as w:
        mine = [r for r in w.iter_dicts("Event") if r["job"] == "activity"]
        tasks = [r for r in w.iter_dicts("Task") if r["job"] == "activity"]
    assert _count(sf, "SELECT Id FROM Event WHERE Orgforge_Key__c LIKE 'Event/%/%/%'") == len(mine)
    row = sf.query(
        "SELECT Subject, StartDateTime, What.Name, Who.Name, Orgforge_Key__c FROM Event "
        f"WHERE Orgforge_Key__c = '{mine[0]['key']}'"
    )["records"][0]
    assert row["Subject"] == mine[0]["Subject"]
    assert row["StartDateTime"][:16] == mine[0]["StartDateTime"][:16]
    with World(world, create=False) as w:
        opp = w.get(mine[0]["WhatId"])
    assert row["What"]["Name"] == opp["Name"]
    email = sf.query(
        "SELECT TaskSubtype, Status, What.Name FROM Task "
        f"WHERE Orgforge_Key__c = '{tasks[0]['key']}'"
    )["records"][0]
    assert email["TaskSubtype"] == "Email" and email["Status"] == "Completed"

    again = activity.run(cfg, max_opps=4, target="salesforce", env=env)
    assert again.created == 0 and again.salesforce["created"] == {}
    assert again.salesforce["deleted"] == {}

    # a week later every activity moves: the org follows (old records deleted, new created)
    later, _ = _config(org, world, tmp_path)
    later.as_of = later.as_of.fromordinal(later.as_of.toordinal() + 7)
    moved = activity.run(later, max_opps=4, target="salesforce", env=env)
    assert moved.salesforce["deleted"]["Event"] == moved.written["Event"]["deleted"] > 0
    with World(world, create=False) as w:
        mine = [r for r in w.iter_dicts("Event") if r["job"] == "activity"]
    assert _count(sf, "SELECT Id FROM Event WHERE Orgforge_Key__c LIKE 'Event/%/%/%'") == len(mine)

    events_before = _count(sf, "SELECT Id FROM Event")
    reset = activity.reset(later, opps=[mine[0]["WhatId"]], target="salesforce", env=env)
    removed = reset["removed"]["Event"]
    assert removed > 0 and reset["salesforce"]["deleted"]["Event"] == removed
    assert _count(sf, "SELECT Id FROM Event") == events_before - removed
    assert _count(sf, "SELECT Id FROM Opportunity") == 250  # nothing else was touched


def test_smoke_against_the_org(org, prd_world, tmp_path) -> None:
    world = tmp_path / "w.db"
    shutil.copy(prd_world, world)
    cfg, env = _config(org, world, tmp_path)
    cfg.activity.scorecards.salesforce.mode = "task"  # the scorecard travels as a Task too
    report = activity.smoke(cfg, target="salesforce", env=env)
    assert report["ok"], report
    # the first push also loads the base world (activity needs its parents in the org)
    assert report["salesforce"]["created"]["Event"] >= report["created"]["Event"]
    assert report["salesforce"]["deleted"]["Task"] == report["created"]["Task"]
    sf = sandbox_mod.simple_salesforce(org)
    assert _count(sf, "SELECT Id FROM Event WHERE Orgforge_Key__c LIKE 'Event/%/%/%'") == 0
    assert _count(sf, "SELECT Id FROM Task WHERE Orgforge_Key__c LIKE 'Task/%/%/sc-%'") == 0


def test_activity_carries_its_audit_fields_to_the_org(prd_world, tmp_path) -> None:
    """With "Set Audit Fields upon Record Creation", the org's meetings and emails were created
    when the world says (scheduled, sent), by their owner, like the base records."""
    import yaml

    from orgforge.targets.salesforce.records import same_value

    data = yaml.safe_load(Path(sandbox_mod.EXAMPLE_SCHEMA).read_text())
    data["permissions"] = {"set_audit_fields": True}
    schema = tmp_path / "audit.yaml"
    schema.write_text(yaml.safe_dump(data))
    world = tmp_path / "w.db"
    shutil.copy(prd_world, world)
    with sandbox_mod.run_in_thread(sandbox_mod.SandboxConfig(schema=schema)) as sb:
        cfg, env = _config(sb, world, tmp_path)
        result = activity.run(cfg, max_opps=3, target="salesforce", env=env)
        assert result.salesforce and result.salesforce["failed"] == 0
        from orgforge.targets.salesforce import ops

        owner_names = ops.validate(cfg, env=env).plan.owner_names  # world User → org username
        sf = sandbox_mod.simple_salesforce(sb)
        with World(world, create=False) as w:
            mine = {
                r["key"]: r
                for name in ("Event", "Task")
                for r in w.iter_dicts(name)
                if r["job"] == "activity"
            }
        rows = [
            r
            for name in ("Event", "Task")
            for r in sf.query_all(
                "SELECT Orgforge_Key__c, CreatedDate, LastModifiedDate, CreatedBy.Username "
                f"FROM {name}"
            )["records"]
            if r["Orgforge_Key__c"] in mine
        ]
    assert len(rows) == len(mine) > 0
    for row in rows:
        record = mine[row["Orgforge_Key__c"]]
        assert same_value(row["CreatedDate"], record["CreatedDate"]), row
        assert same_value(row["LastModifiedDate"], record["LastModifiedDate"]), row
        assert row["CreatedBy"]["Username"] == owner_names[record["CreatedById"]]
