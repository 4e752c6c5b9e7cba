"""Loading the prd world into the sandbox through simple-salesforce: REST, Bulk, faults, reruns."""

from __future__ import annotations

import json
from collections import Counter

from orgforge.sandbox.salesforce import EXAMPLE_SCHEMA, SandboxConfig, run_in_thread
from orgforge.sandbox.salesforce import simple_salesforce as sandbox_sf
from orgforge.targets.salesforce import ops
from orgforge.targets.salesforce.plan import LOAD_OBJECTS
from orgforge.world import World
from tests.targets.conftest import counts, created_by_load, in_org, sf_config


def _expected(world) -> dict[str, int]:
    return created_by_load(world)


def _no_duplicate_keys(sf, objects) -> None:
    for name in objects:
        rows = sf.query_all(f"SELECT Orgforge_Key__c FROM {name}")["records"]
        dupes = [k for k, n in Counter(r["Orgforge_Key__c"] for r in rows).items() if n > 1]
        assert not dupes, f"{name}: duplicate keys {dupes[:3]}"


def test_prd_rest_load_then_rerun_writes_nothing(sandbox, world, tmp_path):
    api = "rest"
    cfg, env = sf_config(sandbox, world, tmp_path)
    report, run_dir = ops.load(cfg, api=api, env=env)
    expected = _expected(world)
    assert {n: t.created for n, t in report.tallies.items()} == expected
    assert report.failed == 0
    sf = sandbox_sf(sandbox)
    assert counts(sf, LOAD_OBJECTS) == in_org(world)
    _no_duplicate_keys(sf, LOAD_OBJECTS)
    # lookups point at the right parents (key of the parent == world's parent key)
    row = sf.query(
        "SELECT Orgforge_Key__c, Account.Orgforge_Key__c FROM Contact "
        "WHERE Orgforge_Key__c = 'Contact/0001/1'"
    )["records"][0]
    with World(world, create=False) as w:
        assert row["Account"]["Orgforge_Key__c"] == w.get("Contact/0001/1")["AccountId"]
    summary = json.loads((tmp_path / "runs" / run_dir.split("/")[-1] / "summary.json").read_text())
    assert summary["status"] == "ok"
    if api == "rest":  # sObject Collections: at most 200 records per request
        # + a describe per object, login, users, limits, the standard price book, and the
        # updates that set ReportsToId / ParentId once both records exist
        deferred = sum(-(-expected[n] // 200) for n in ("Contact", "Account"))
        creates = sum(-(-n // 200) for n in expected.values())
        assert report.requests <= creates + len(expected) + 5 + deferred
    else:  # Bulk API 2.0: create, upload, close, poll(s), results per object
        assert report.requests <= 6 * len(expected) + len(expected) + 5 + 12

    again, _ = ops.load(cfg, api=api, env=env)
    assert sum(t.created for t in again.tallies.values()) == 0
    assert all(t.already == t.total for t in again.tallies.values())
    assert counts(sf, LOAD_OBJECTS) == in_org(world)


def test_bulk_without_key_field_maps_results_by_row(bare_sandbox, world, tmp_path):
    cfg, env = sf_config(bare_sandbox, world, tmp_path)
    report, _ = ops.load(cfg, api="bulk", env=env)
    expected = _expected(world)
    assert {n: t.created for n, t in report.tallies.items()} == expected
    assert {t.api for t in report.tallies.values()} == {"bulk"}
    assert report.requests <= 6 * len(expected) + 14  # create, upload, close, poll, results
    assert counts(sandbox_sf(bare_sandbox), LOAD_OBJECTS) == in_org(world)
    again, _ = ops.load(cfg, api="bulk", env=env)
    assert sum(t.created for t in again.tallies.values()) == 0
    assert again.requests <= 12 + len(LOAD_OBJECTS)  # login, describes, users, limits: no writes
    assert counts(sandbox_sf(bare_sandbox), LOAD_OBJECTS) == in_org(world)


def test_load_under_faults_ends_with_every_record(world, tmp_path):
    faults = "429=0.05,503=0.05,lock=0.05,expire=0.05,retry_after=0"
    with run_in_thread(SandboxConfig(schema=EXAMPLE_SCHEMA, faults=faults, seed=7)) as sb:
        cfg, _ = sf_config(
            sb,
            world,
            tmp_path,
            auth="password",
            login_url=sb.instance_url,
            username=sb.admin_username,
            external_id="key",
        )
        env = {"SF_PASSWORD": sb.password, "SF_SECURITY_TOKEN": sb.security_token}
        report, _ = ops.load(cfg, env=env)
        expected = _expected(world)
        assert report.failed == 0
        assert {n: t.created for n, t in report.tallies.items()} == expected
        assert report.retries > 0
        injected = sb.state.stats.snapshot()["faults"]
        assert injected.get("503") and injected.get("expire") and injected.get("lock")
        sf = sandbox_sf(sb)
        sb.state.faults.rates.clear()
        assert counts(sf, LOAD_OBJECTS) == in_org(world)
        _no_duplicate_keys(sf, LOAD_OBJECTS)


def test_dry_run_writes_nothing(sandbox, world, tmp_path):
    cfg, env = sf_config(sandbox, world, tmp_path)
    report, run_dir = ops.load(cfg, dry_run=True, env=env)
    assert run_dir is None and report.dry_run
    assert report.estimate > 0
    assert counts(sandbox_sf(sandbox), ["Account"]) == {"Account": 0}


def test_load_from_exported_folder(sandbox, world, tmp_path):
    import orgforge

    orgforge.export(world, tmp_path / "export", "csv")
    cfg, env = sf_config(sandbox, tmp_path / "fresh.db", tmp_path)
    report, _ = ops.load(cfg, from_dir=tmp_path / "export", env=env)
    assert report.failed == 0
    assert counts(sandbox_sf(sandbox), ["Account", "Task"]) == {
        "Account": _expected(world)["Account"],
        "Task": _expected(world)["Task"],
    }
