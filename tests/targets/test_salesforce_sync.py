"""load as a sync: updates of exactly the changed fields, prune, dry-run counts, faults.

Everything goes through the real clients (simple-salesforce's session) to the sandbox; what
was written is read back from the sandbox, and the request bodies are seen on the wire.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sqlite3
from collections import Counter
from pathlib import Path
from typing import ClassVar

import pytest

from orgforge.clock import SimulatedClock
from orgforge.sandbox.salesforce import EXAMPLE_SCHEMA, SandboxConfig, run_in_thread
from orgforge.sandbox.salesforce import simple_salesforce as sandbox_sf
from orgforge.targets.salesforce import ops
from orgforge.targets.salesforce.plan import AUDIT_FIELDS, LOAD_OBJECTS
from orgforge.targets.salesforce.records import same_value
from orgforge.world import World
from tests.targets.conftest import counts, created_by_load, in_org, sf_config

WRITE_FAMILIES = ("composite", "sobjects", "bulk_ingest")


# What the tests change in the world, per object: (field, new value for the i-th record).
CHANGES = {
    "Account": ("Phone", lambda i: f"+1 415 555 {i:04d}"),
    "Contact": ("Title", lambda i: f"Chief Demo Officer {i}"),
    "Opportunity": ("CloseDate", lambda i: f"2027-0{1 + i % 9}-1{i % 10}"),
    "Task": ("Subject", lambda i: f"Follow up #{i}"),
}


def _change_tenth(world: Path) -> dict[str, dict[str, tuple[str, str]]]:
    """Change one field of every 10th record of four objects: object → key → (field, value)."""
    changed: dict[str, dict[str, tuple[str, str]]] = {}
    with sqlite3.connect(world) as conn:
        for name, (field, value) in CHANGES.items():
            keys = [k for (k,) in conn.execute(f'SELECT key FROM "rec_{name}" ORDER BY key')]
            picked = keys[::10]
            for i, key in enumerate(picked):
                conn.execute(
                    f'UPDATE "rec_{name}" SET "{field}" = ? WHERE key = ?', (value(i), key)
                )
            changed[name] = {k: (field, value(i)) for i, k in enumerate(picked)}
    return changed


def _spy_session(sb):
    """The session orgforge would use, recording update payloads (REST and Bulk CSV)."""
    from orgforge.targets.salesforce.auth import RoutingSession

    class Session(RoutingSession):
        updates: ClassVar[list[dict]] = []  # one {"id", fields...} per record of an update
        uploads: ClassVar[dict[str, str]] = {}  # Bulk job id → CSV uploaded

        def request(self, method, url, *args, **kwargs):
            url = str(url)
            body = kwargs.get("json")
            if method == "PATCH" and url.endswith("/composite/sobjects") and body:
                for record in body["records"]:
                    Session.updates.append(
                        {k: v for k, v in record.items() if k not in ("attributes",)}
                    )
            if method == "PUT" and url.endswith("/batches"):
                Session.uploads[url.split("/")[-2]] = kwargs["data"].decode()
            return super().request(method, url, *args, **kwargs)

    return Session({sb.instance_url.split("//")[1]})


def _bulk_update_rows(session) -> list[dict]:
    rows = []
    for text in session.uploads.values():
        if text.startswith("Id,"):
            for row in csv.DictReader(io.StringIO(text)):
                rows.append({k: v for k, v in row.items() if k == "Id" or v != ""})
    return rows


def _modstamps(sf, name: str) -> dict[str, str]:
    rows = sf.query_all(f"SELECT Id, Orgforge_Key__c, SystemModstamp FROM {name}")["records"]
    return {r["Orgforge_Key__c"]: r["SystemModstamp"] for r in rows}


def _writes(sb) -> int:
    families = sb.state.stats.snapshot()["by_family"]
    return sum(n for family, n in families.items() if family in WRITE_FAMILIES)


@pytest.mark.parametrize("api", ["rest", "bulk"])
def test_changed_records_get_exactly_their_changed_fields(sandbox, small, tmp_path, api):
    cfg, env = sf_config(sandbox, small, tmp_path)
    first, _ = ops.load(cfg, api=api, env=env)
    assert first.failed == 0
    sf = sandbox_sf(sandbox)
    before = {name: _modstamps(sf, name) for name in CHANGES}
    ids_before = {
        name: {
            r["Orgforge_Key__c"]: r["Id"]
            for r in sf.query_all(f"SELECT Id, Orgforge_Key__c FROM {name}")["records"]
        }
        for name in LOAD_OBJECTS
    }
    changed = _change_tenth(small)

    dry, _ = ops.load(cfg, api=api, env=env, dry_run=True)
    for name in LOAD_OBJECTS:
        tally = dry.tallies[name]
        expected = len(changed.get(name, {}))
        assert (tally.to_update, tally.total - tally.already) == (expected, 0), name
        assert tally.unchanged == tally.total - expected
        if expected:
            assert tally.update_fields == {CHANGES[name][0]: expected}

    session = _spy_session(sandbox)
    report, _ = ops.load(cfg, api=api, env=env, session=session)
    assert report.failed == 0
    assert {n: t.updated for n, t in report.tallies.items() if t.updated} == {
        n: len(keys) for n, keys in changed.items()
    }
    assert sum(t.created for t in report.tallies.values()) == 0

    # on the wire: exactly those records, exactly that field
    sent = session.updates if api == "rest" else _bulk_update_rows(session)
    assert len(sent) == sum(len(k) for k in changed.values())
    by_id = {row.get("id") or row.get("Id"): row for row in sent}
    for name, keys in changed.items():
        field = CHANGES[name][0]
        for key, (_, value) in keys.items():
            row = by_id[ids_before[name][key]]
            assert set(row) - {"id", "Id"} == {field}
            assert str(row[field]) == value

    # in the org: exactly those records modified, holding the new values; no new Ids
    for name, keys in changed.items():
        after = _modstamps(sf, name)
        touched = {k for k, stamp in after.items() if stamp != before[name][k]}
        assert touched == set(keys), name
        field = CHANGES[name][0]
        rows = sf.query_all(f"SELECT Orgforge_Key__c, {field} FROM {name}")["records"]
        values = {r["Orgforge_Key__c"]: r[field] for r in rows}
        assert all(values[k] == v for k, (_, v) in keys.items())
    for name in LOAD_OBJECTS:
        rows = sf.query_all(f"SELECT Id, Orgforge_Key__c FROM {name}")["records"]
        assert {r["Orgforge_Key__c"]: r["Id"] for r in rows} == ids_before[name]

    sandbox.state.stats.reset()
    again, _ = ops.load(cfg, api=api, env=env)
    assert _writes(sandbox) == 0
    assert all(t.to_update == 0 and t.updated == 0 for t in again.tallies.values())
    # a no-change rerun: login, describes, users, limits, and nothing else
    assert again.requests <= 2 + len(LOAD_OBJECTS) + 3


def test_prune_deletes_exactly_what_the_world_dropped(sandbox, small, tmp_path):
    cfg, env = sf_config(sandbox, small, tmp_path)
    ops.load(cfg, env=env)
    sf = sandbox_sf(sandbox)
    mine = sf.Account.create({"Name": "Pre-existing customer"})["id"]
    with sqlite3.connect(small) as conn:  # a shrink: drop three opportunities and their roles
        opps = [k for (k,) in conn.execute('SELECT key FROM "rec_Opportunity" ORDER BY key')][:3]
        marks = ",".join("?" * len(opps))
        conn.execute(
            f'DELETE FROM "rec_OpportunityContactRole" WHERE "OpportunityId" IN ({marks})', opps
        )
        conn.execute(f'DELETE FROM "rec_Opportunity" WHERE key IN ({marks})', opps)
        # activities pointing at a dropped opportunity go too (the world stays whole)
        gone_tasks = [
            k
            for (k,) in conn.execute(
                f'SELECT key FROM "rec_Task" WHERE "WhatId" IN ({marks})', opps
            )
        ]
        conn.execute(f'DELETE FROM "rec_Task" WHERE "WhatId" IN ({marks})', opps)
        conn.execute(
            f'DELETE FROM "rec_EventRelation" WHERE "EventId" IN '
            f'(SELECT key FROM "rec_Event" WHERE "WhatId" IN ({marks}))',
            opps,
        )
        conn.execute(f'DELETE FROM "rec_Event" WHERE "WhatId" IN ({marks})', opps)
    expected = {o: n for o, n in counts(sf, LOAD_OBJECTS).items()}
    with World(small, create=False) as w:
        in_world = {o: w.count(o) for o in LOAD_OBJECTS}

    dry, _ = ops.load(cfg, env=env, dry_run=True, prune=True)
    assert dry.prune["Opportunity"] == sorted(opps)
    assert set(dry.prune.get("Task", [])) == set(gone_tasks)
    assert counts(sf, LOAD_OBJECTS) == expected  # the dry run deleted nothing

    without, _ = ops.load(cfg, env=env)  # not asked to prune: nothing deleted
    assert counts(sf, LOAD_OBJECTS) == expected and without.prune

    report, _ = ops.load(cfg, env=env, prune=True)
    assert report.failed == 0
    assert report.tallies["Opportunity"].pruned == 3
    after = counts(sf, LOAD_OBJECTS)
    assert after["Opportunity"] == in_world["Opportunity"]
    assert after["Task"] == in_world["Task"]
    assert after["Account"] == in_world["Account"] + 1  # the pre-existing one stays
    assert sf.Account.get(mine)["Name"] == "Pre-existing customer"
    again, _ = ops.load(cfg, env=env, dry_run=True, prune=True)
    assert not again.prune


@pytest.mark.parametrize("api", ["rest", "bulk"])
def test_transient_faults_at_20_percent_converge_in_one_run(world, tmp_path, api):
    faults = "429=0.05,503=0.05,lock=0.05,expire=0.05,retry_after=3"
    with run_in_thread(SandboxConfig(schema=EXAMPLE_SCHEMA, faults=faults, seed=11)) as sb:
        cfg, _ = sf_config(
            sb,
            world,
            tmp_path,
            auth="password",
            login_url=sb.instance_url,
            username=sb.admin_username,
            batch_size=25,  # ~100 requests over REST: enough for every kind of fault
            concurrency=1,  # one request at a time: the seeded faults land the same each run
        )
        env = {"SF_PASSWORD": sb.password, "SF_SECURITY_TOKEN": sb.security_token}
        clock = SimulatedClock()
        report, run_dir = ops.load(cfg, api=api, env=env, clock=clock)
        expected = in_org(world)
        assert report.failed == 0
        assert {n: t.created for n, t in report.tallies.items()} == created_by_load(world)
        injected = sb.state.stats.snapshot()["faults"]
        assert injected.get("429") and injected.get("503") and injected.get("expire")
        # every injected request fault was ridden out and counted as such
        assert report.faults["429"] == injected["429"]
        assert report.faults.get("session expired") == injected["expire"]
        assert report.http_retries >= injected["429"] + injected["expire"]
        if api == "rest":
            assert report.faults["UNABLE_TO_LOCK_ROW"] == injected["lock"]
            assert report.record_retries >= injected["lock"]
        assert 3.0 in clock.slept  # Retry-After was honoured
        assert max(clock.slept) <= 60
        summary = json.loads((Path(run_dir) / "summary.json").read_text())
        assert summary["status"] == "ok"
        sb.state.faults.rates.clear()
        assert counts(sandbox_sf(sb), LOAD_OBJECTS) == expected
        keys = sandbox_sf(sb).query_all("SELECT Orgforge_Key__c FROM Contact")["records"]
        assert max(Counter(r["Orgforge_Key__c"] for r in keys).values()) == 1


def _update_journals(world: Path) -> int:
    with sqlite3.connect(world, timeout=5) as conn:
        try:
            return conn.execute("SELECT count(*) FROM sync_journal WHERE op = 'update'").fetchone()[
                0
            ]
        except sqlite3.OperationalError:
            return 0


@pytest.mark.slow
def test_kill_during_an_update_batch_then_resume(world, tmp_path):
    """kill -9 while an update batch is in flight (its journal entry open), twice; resuming
    applies every change, creates nothing, and leaves nothing to send."""
    import os
    import signal
    import subprocess
    import time

    from tests.targets.test_salesforce_resume import _load_cmd

    with run_in_thread(SandboxConfig(schema=EXAMPLE_SCHEMA)) as sb:
        cfg, env = sf_config(sb, world, tmp_path)
        ops.load(cfg, api="rest", env=env)
        sf = sandbox_sf(sb)
        ids_before = {
            name: sorted(r["Id"] for r in sf.query_all(f"SELECT Id FROM {name}")["records"])
            for name in LOAD_OBJECTS
        }
        with sqlite3.connect(world) as conn:
            conn.execute("""UPDATE "rec_Task" SET "Subject" = 'Renewal call ' || key""")
            conn.execute("""UPDATE "rec_Contact" SET "Title" = 'VP ' || key""")
        proc_env = {
            **os.environ,
            "SF_ACCESS_TOKEN": sb.token,
            "ORGFORGE_SALESFORCE__BATCH_SIZE": "20",
            "ORGFORGE_SALESFORCE__CONCURRENCY": "1",
        }
        cmd = _load_cmd(sb, world, tmp_path / "runs", "rest")
        kills = 0
        for _attempt in range(2):
            proc = subprocess.Popen(cmd, env=proc_env, cwd=tmp_path, stderr=subprocess.PIPE)
            end = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < end:
                if _update_journals(world):
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    kills += 1
                    break
                time.sleep(0.002)
            else:
                proc.communicate(timeout=60)
        assert kills >= 1, "no update batch was caught in flight"
        assert _update_journals(world) >= 1  # the killed batch's answer was never stored
        done = subprocess.run(
            [*cmd, "--json"],
            env=proc_env,
            cwd=tmp_path,
            capture_output=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        assert _update_journals(world) == 0
        rows = sf.query_all("SELECT Orgforge_Key__c, Subject FROM Task")["records"]
        assert all(r["Subject"] == "Renewal call " + r["Orgforge_Key__c"] for r in rows)
        rows = sf.query_all("SELECT Orgforge_Key__c, Title FROM Contact")["records"]
        assert all(r["Title"] == "VP " + r["Orgforge_Key__c"] for r in rows)
        for name in LOAD_OBJECTS:  # no new Ids, nothing twice
            now = sorted(r["Id"] for r in sf.query_all(f"SELECT Id FROM {name}")["records"])
            assert now == ids_before[name], name
        sb.state.stats.reset()
        again, _ = ops.load(cfg, api="rest", env=env)
        assert _writes(sb) == 0
        assert sum(t.to_update for t in again.tallies.values()) == 0


def _audit_schema(tmp_path: Path, allowed: bool) -> Path:
    """The example schema (Orgforge_Key__c everywhere) with the audit permission on or off."""
    import yaml

    data = yaml.safe_load(Path(EXAMPLE_SCHEMA).read_text())
    data["permissions"] = {"set_audit_fields": allowed}
    path = tmp_path / f"audit-{allowed}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _history(world: Path) -> dict[str, dict[str, str]]:
    """Opportunity key → the audit values the world holds for it (CreatedDate today; with the
    timeline also LastModifiedDate and CreatedById, a User key)."""
    from orgforge.schema import salesforce as schema

    names = [n for n in AUDIT_FIELDS if n in schema.get("Opportunity").field_names]
    assert "CreatedDate" in names
    with World(world, create=False) as w:
        return {
            row[0]: dict(zip(names, row[1:], strict=True))
            for row in w.iter_rows("Opportunity", ["key", *names])
        }


@pytest.mark.parametrize("allowed", [True, False], ids=["permission-on", "permission-off"])
def test_audit_dates_on_create_when_the_org_allows_it(small, tmp_path, allowed):
    history = _history(small)
    with run_in_thread(SandboxConfig(schema=_audit_schema(tmp_path, allowed))) as sb:
        cfg, env = sf_config(sb, small, tmp_path)
        checked = ops.validate(cfg, env=env)
        said = [w for w in checked.plan.warnings if w.startswith("audit fields:")]
        report, _ = ops.load(cfg, env=env)
        assert report.failed == 0
        rows = sandbox_sf(sb).query_all(
            "SELECT Orgforge_Key__c, CreatedDate, LastModifiedDate, CreatedBy.Username "
            "FROM Opportunity"
        )["records"]
        assert len(rows) == len(history)
        today = rows[0]["CreatedDate"][:10] if not allowed else None
        for row in rows:
            world_values = history[row["Orgforge_Key__c"]]
            created = same_value(row["CreatedDate"], world_values["CreatedDate"])
            assert created == allowed
            if allowed and "CreatedById" in world_values:
                owner = checked.plan.owner_names[world_values["CreatedById"]]
                assert row["CreatedBy"]["Username"] == owner
            if allowed and "LastModifiedDate" in world_values:
                assert same_value(row["LastModifiedDate"], world_values["LastModifiedDate"])
            if not allowed:
                assert row["CreatedDate"][:10] == today  # they look created today
        if allowed:
            assert not said
        else:  # said once, with the way to enable it; nothing failed
            assert len(said) == 1 and "Set Audit Fields upon Record Creation" in said[0]
            assert sum(w.startswith("audit fields:") for w in report.warnings) == 1


def test_owners_by_role_by_config_and_never_silently(sandbox, small, tmp_path):
    sf = sandbox_sf(sandbox)
    org = {r["Title"]: r for r in sf.query_all("SELECT Id, Username, Title FROM User")["records"]}
    with World(small, create=False) as w:
        roles = {key: title for key, title in w.iter_rows("User", ["key", "Title"])}
    # a title the world's team and the org's users share (the team file's are richer)
    role = sorted(set(roles.values()) & set(org))[0]
    ae = sorted(k for k, t in roles.items() if t == role)
    assert ae and any(t != role for t in roles.values())

    cfg, env = sf_config(sandbox, small, tmp_path)
    plan = ops.validate(cfg, env=env).plan
    maya = org[role]
    assert all(plan.owner_names[k] == maya["Username"] for k in ae)
    assert all(plan.owner_how[k] == f"role {role}" for k in ae)
    others = [k for k in roles if roles[k] not in org]  # no org user has their title
    assert others and all(plan.owner_how[k] == "running user (unmapped)" for k in others)
    said = [w for w in plan.warnings if w.startswith("owners:")]
    assert len(said) == 1 and "salesforce.owners" in said[0]
    assert not plan.errors

    director = org["Sales Manager"]
    first_other = sorted(others)[0]
    mapping = {r: director["Username"] for r in {roles[k] for k in others}}
    mapping[first_other] = org["Solutions Engineer"]["Id"]  # a user key wins over its role
    cfg, env = sf_config(sandbox, small, tmp_path, owners=mapping)
    plan = ops.validate(cfg, env=env).plan
    assert not [w for w in plan.warnings if w.startswith("owners:")]
    assert plan.owners[first_other] == org["Solutions Engineer"]["Id"]
    assert all(plan.owner_names[k] == director["Username"] for k in others if k != first_other)

    report, _ = ops.load(cfg, env=env)
    assert report.failed == 0
    with World(small, create=False) as w:
        owner_of = {key: owner for key, owner in w.iter_rows("Opportunity", ["key", "OwnerId"])}
    rows = sf.query_all("SELECT Orgforge_Key__c, OwnerId FROM Opportunity")["records"]
    assert rows and all(
        r["OwnerId"][:15] == plan.owners[owner_of[r["Orgforge_Key__c"]]][:15] for r in rows
    )

    other_role = roles[first_other]
    bad = {other_role: "nobody@example.com", "User/99": maya["Username"]}
    cfg, env = sf_config(sandbox, small, tmp_path, owners=bad)
    errors = ops.validate(cfg, env=env).plan.errors
    assert any(f"salesforce.owners.{other_role}: no active user 'nobody@example.com'" in e
               for e in errors)  # fmt: skip
    assert any("salesforce.owners.User/99: the world has no user or role" in e for e in errors)


def test_shift_then_load_moves_every_date_without_new_ids(sandbox, small, tmp_path):
    import subprocess

    from orgforge.schema import salesforce as schema
    from tests.cli.test_commands import orgforge_bin

    cfg, env = sf_config(sandbox, small, tmp_path)
    ops.load(cfg, env=env)
    sf = sandbox_sf(sandbox)
    ids_before = {
        name: sorted(r["Id"] for r in sf.query_all(f"SELECT Id FROM {name}")["records"])
        for name in LOAD_OBJECTS
    }
    before = {r[0]: r[1:] for r in _dates(small)}
    done = subprocess.run(
        [orgforge_bin(), "shift", "--world", str(small), "--days", "30",
         "--runs-dir", str(tmp_path / "runs")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "by +30 days (as of 2026-11-23 → 2026-12-23)" in done.stdout
    after = {r[0]: r[1:] for r in _dates(small)}
    for key, values in before.items():  # every date and datetime moved by 30 days (datetimes
        for old, new in zip(values, after[key], strict=True):  # in wall-clock time: ±1 h UTC)
            if old:
                assert abs(_moved_by(old, new) - dt.timedelta(days=30)) <= HOUR, (key, old, new)

    report, _ = ops.load(cfg, env=env)
    assert report.failed == 0
    assert sum(t.created for t in report.tallies.values()) == 0
    updated = {n: t.updated for n, t in report.tallies.items() if t.updated}
    assert updated["Opportunity"] == len(ids_before["Opportunity"])  # CloseDate moved
    rows = sf.query_all("SELECT Orgforge_Key__c, CloseDate FROM Opportunity")["records"]
    with World(small, create=False) as w:
        close = dict(w.iter_rows("Opportunity", ["key", "CloseDate"]))
    assert all(r["CloseDate"] == close[r["Orgforge_Key__c"]] for r in rows)
    rows = sf.query_all("SELECT Orgforge_Key__c, StartDateTime FROM Event")["records"]
    with World(small, create=False) as w:
        start = dict(w.iter_rows("Event", ["key", "StartDateTime"]))
    assert all(same_value(r["StartDateTime"], start[r["Orgforge_Key__c"]]) for r in rows)
    for name in LOAD_OBJECTS:
        now = sorted(r["Id"] for r in sf.query_all(f"SELECT Id FROM {name}")["records"])
        assert now == ids_before[name], name
    assert schema.get("Opportunity").field("CloseDate").type == "date"

    bad = subprocess.run(
        [orgforge_bin(), "shift", "--world", str(small), "--to", "someday"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert bad.returncode == 2 and "shift --to someday: not a date" in bad.stderr
    assert "Traceback" not in bad.stderr and not (tmp_path / "runs" / "x").exists()


def _dates(world: Path) -> list[tuple]:
    from orgforge.schema import salesforce as schema

    out = []
    with World(world, create=False) as w:
        for obj in schema.OBJECTS:
            names = [f.name for f in obj.fields if f.type in ("date", "datetime")]
            if names:
                out += list(w.iter_rows(obj.name, ["key", *names]))
    return out


HOUR = dt.timedelta(hours=1)


def _moved_by(old: str, new: str) -> dt.timedelta:
    a = dt.datetime.fromisoformat(old[:19] if "T" in old else old)
    b = dt.datetime.fromisoformat(new[:19] if "T" in new else new)
    return b - a


def test_an_expired_access_token_is_the_fault_that_is_not_transient(world, tmp_path):
    """A static token can't be renewed: the load stops saying so, what it stored, what to do."""
    from orgforge.errors import AuthError

    # seed 2: the first expiry hits the 20th request, past login and describes, mid-load
    with run_in_thread(SandboxConfig(schema=EXAMPLE_SCHEMA, faults="expire=0.05", seed=2)) as sb:
        cfg, env = sf_config(sb, world, tmp_path, batch_size=50, concurrency=1)
        clock = SimulatedClock()
        with pytest.raises(AuthError) as caught:
            ops.load(cfg, env=env, clock=clock)
        error = caught.value
        assert "can't be renewed" in error.message and "records before it stopped" in error.message
        assert "sf CLI / JWT / password" in error.hint


@pytest.mark.parametrize("allowed", [False, True], ids=["off", "on"])
def test_sandbox_enforces_the_audit_permission_like_an_org(tmp_path, allowed):
    from simple_salesforce.exceptions import SalesforceMalformedRequest

    with run_in_thread(SandboxConfig(schema=_audit_schema(tmp_path, allowed))) as sb:
        sf = sandbox_sf(sb)
        fields = {f["name"]: f for f in sf.Account.describe()["fields"]}
        assert fields["CreatedDate"]["createable"] is allowed
        assert fields["CreatedDate"]["updateable"] is False
        record = {"Name": "Audit Co", "CreatedDate": "2025-01-02T03:04:05.000+0000"}
        if not allowed:
            with pytest.raises(SalesforceMalformedRequest) as refused:
                sf.Account.create(record)
            assert refused.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
            return
        created = sf.Account.create(record)["id"]
        assert sf.Account.get(created)["CreatedDate"].startswith("2025-01-02T03:04:05")
        with pytest.raises(SalesforceMalformedRequest) as refused:  # never on update
            sf.Account.update(created, {"CreatedDate": "2025-02-02T03:04:05.000+0000"})
        assert refused.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
