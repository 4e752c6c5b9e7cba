"""cleanup deletes exactly what orgforge created, children first, and can run again."""

from __future__ import annotations

from orgforge.sandbox.salesforce import simple_salesforce as sandbox_sf
from orgforge.targets.salesforce import ops
from orgforge.targets.salesforce.plan import LOAD_OBJECTS
from tests.targets.conftest import counts, sf_config


def test_cleanup_leaves_pre_existing_records(sandbox, world, tmp_path):
    sf = sandbox_sf(sandbox)
    mine = sf.Account.create({"Name": "Pre-existing O'Brien & Co"})["id"]
    sf.Contact.create({"LastName": "Keeper", "AccountId": mine})
    sf.Task.create(
        {"Subject": "Call", "WhatId": mine, "Status": "Not Started", "Priority": "Normal"}
    )
    before = counts(sf, LOAD_OBJECTS)

    cfg, env = sf_config(sandbox, world, tmp_path)
    report, load_dir = ops.load(cfg, env=env)
    assert report.failed == 0
    run_id = load_dir.rstrip("/").split("/")[-1]

    dry, _ = ops.cleanup(cfg, run_id=run_id, dry_run=True, env=env)
    assert sum(dry.would_delete.values()) == sum(t.created for t in report.tallies.values())

    # a partial cleanup first: delete a few Tasks behind orgforge's back
    ids = [
        r["Id"]
        for r in sf.query("SELECT Id FROM Task WHERE Orgforge_Key__c != null LIMIT 5")["records"]
    ]
    sf.restful("composite/sobjects", method="DELETE", params={"ids": ",".join(ids)})

    result, _ = ops.cleanup(cfg, run_id=run_id, env=env)
    assert not result.failed
    assert counts(sf, LOAD_OBJECTS) == before
    assert sf.Account.get(mine)["Name"] == "Pre-existing O'Brien & Co"

    again, _ = ops.cleanup(cfg, everything=True, env=env)  # nothing left to do, still fine
    assert sum(again.deleted.values()) == 0 and not again.failed
    assert counts(sf, LOAD_OBJECTS) == before

    # and the world can be loaded again after a cleanup, and deleted through Bulk API 2.0
    reload, _ = ops.load(cfg, env=env)
    assert sum(t.created for t in reload.tallies.values()) == sum(
        t.created for t in report.tallies.values()
    )
    cfg.salesforce.api = "bulk"
    bulk, _ = ops.cleanup(cfg, everything=True, env=env)
    assert sum(bulk.deleted.values()) == sum(t.created for t in report.tallies.values())
    assert bulk.requests < 7 * len(LOAD_OBJECTS)  # ~5-6 per object (a job each), not per record
    assert counts(sf, LOAD_OBJECTS) == before


def test_smoke(sandbox, world, tmp_path):
    cfg, env = sf_config(sandbox, world, tmp_path)
    result = ops.smoke(cfg, env=env)
    assert set(result.timings_ms) == {"connect", "create", "read", "delete"}
    assert counts(sandbox_sf(sandbox), ["Account"]) == {"Account": 0}


def test_load_refuses_past_the_daily_api_budget(world, tmp_path):
    import pytest

    from orgforge.errors import UsageError
    from orgforge.sandbox.salesforce import SandboxConfig, run_in_thread

    with run_in_thread(SandboxConfig(daily_api_requests=20)) as sb:
        cfg, env = sf_config(sb, world, tmp_path)
        with pytest.raises(UsageError, match="daily requests left") as info:
            ops.load(cfg, env=env)
        assert "--force" in info.value.hint
        assert counts(sandbox_sf(sb), ["Account"]) == {"Account": 0}
