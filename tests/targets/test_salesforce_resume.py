"""kill -9 a load at random moments, resume until done: no duplicate, no lost record."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter

import pytest

from orgforge.sandbox.salesforce import EXAMPLE_SCHEMA, SandboxConfig, run_in_thread
from orgforge.sandbox.salesforce import simple_salesforce as sandbox_sf
from orgforge.targets.salesforce.plan import LOAD_OBJECTS
from orgforge.world import World
from tests.targets.conftest import counts, in_org


def _loaded(world) -> int:
    """Records the load has stored as done so far (read while it runs; the world is WAL)."""
    with sqlite3.connect(world, timeout=5) as conn:
        try:
            return conn.execute("SELECT count(*) FROM sync WHERE status = 'ok'").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def _kill_after(proc, world, more: int, deadline_s: float = 60) -> bool:
    """SIGKILL ``proc`` once ``more`` records beyond the current count are loaded.

    Kill points follow the load's progress, not the clock, so they land mid-load however fast
    the machine starts Python. False if the load finished first."""
    target = _loaded(world) + more
    end = time.monotonic() + deadline_s
    while proc.poll() is None and time.monotonic() < end:
        if _loaded(world) >= target:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.01)
    return False


def _load_cmd(sb, world, runs, api):
    return [
        sys.executable, "-m", "orgforge.cli.main", "--quiet", "load",
        "--target", "salesforce", "--world", str(world), "--runs-dir", str(runs),
        "--instance-url", sb.instance_url, "--auth", "token", "--api", api,
    ]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(
    ("schema", "api", "batch"),
    [(EXAMPLE_SCHEMA, "rest", "40"), (None, "rest", "40")],
    ids=["upsert", "fingerprint"],
)
def test_kill_and_resume(world, tmp_path, schema, api, batch):
    rng = random.Random(f"{api}{batch}{schema}")
    env = {
        **os.environ,
        "SF_ACCESS_TOKEN": "",
        "ORGFORGE_SALESFORCE__BATCH_SIZE": batch,
        "ORGFORGE_SALESFORCE__CONCURRENCY": "2",
    }
    with run_in_thread(SandboxConfig(schema=schema)) as sb:
        env["SF_ACCESS_TOKEN"] = sb.token
        cmd = _load_cmd(sb, world, tmp_path / "runs", api)
        kills = 0
        for _attempt in range(12):
            proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stderr=subprocess.PIPE)
            if kills < 3 and _kill_after(proc, world, rng.randint(1, 400)):
                kills += 1
                continue
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err.decode()[-2000:]
            break
        else:
            pytest.fail("the load never finished")
        assert kills >= 2
        expected = in_org(world)
        sf = sandbox_sf(sb)
        assert counts(sf, LOAD_OBJECTS) == expected  # nothing lost, nothing twice
        if schema:
            for name in LOAD_OBJECTS:
                rows = sf.query_all(f"SELECT Orgforge_Key__c FROM {name}")["records"]
                assert max(Counter(r["Orgforge_Key__c"] for r in rows).values(), default=1) == 1
        # the world's sync agrees with the org: every record has its own remote id
        with World(world, create=False) as w, w.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT status, count(*), count(DISTINCT remote_id) FROM sync GROUP BY status"
            ).all()
        total = sum(expected.values())  # the org's standard price book: adopted, not created
        assert rows == [("adopted", 1, 1), ("ok", total - 1, total - 1)]
        again = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, timeout=120)
        assert again.returncode == 0
        assert counts(sf, LOAD_OBJECTS) == expected


class _Crash(BaseException):
    """Stands for kill -9 right after the org applied a request, before its answer is stored."""


def _crashing_session(sb, after: int, bulk: bool = False, error=_Crash):
    from orgforge.targets.salesforce.auth import RoutingSession

    class Session(RoutingSession):
        writes = 0

        def request(self, method, url, *args, **kwargs):
            response = super().request(method, url, *args, **kwargs)
            url = str(url)
            hit = (
                "/jobs/ingest/" in url and method == "PATCH"
                if bulk
                else "/composite/sobjects" in url and method in ("POST", "PATCH")
            )
            if hit:
                Session.writes += 1
                if Session.writes == after:
                    raise error()
            return response

    return Session({sb.instance_url.split("//")[1]})


@pytest.mark.parametrize("schema", [EXAMPLE_SCHEMA, None], ids=["upsert", "fingerprint"])
@pytest.mark.parametrize("after", [1, 6])
def test_answer_lost_after_the_org_applied_it(world, tmp_path, schema, after):
    from orgforge.targets.salesforce import ops
    from tests.targets.conftest import sf_config

    with run_in_thread(SandboxConfig(schema=schema)) as sb:
        cfg, env = sf_config(sb, world, tmp_path, concurrency=1, batch_size=100)
        with pytest.raises(_Crash):
            ops.load(cfg, env=env, session=_crashing_session(sb, after))
        with World(world, create=False) as w, w.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM sync_journal").scalar() == 1
        report, _ = ops.load(cfg, env=env)
        assert report.reconciled == 100
        expected = in_org(world)
        assert counts(sandbox_sf(sb), LOAD_OBJECTS) == expected
        done = sum(t.created + t.already + t.adopted for t in report.tallies.values())
        assert done == sum(expected.values())


@pytest.mark.parametrize("schema", [EXAMPLE_SCHEMA, None], ids=["upsert", "fingerprint"])
def test_bulk_job_closed_but_results_never_read(world, tmp_path, schema):
    from orgforge.targets.salesforce import ops
    from tests.targets.conftest import sf_config

    with run_in_thread(SandboxConfig(schema=schema)) as sb:
        cfg, env = sf_config(sb, world, tmp_path)
        # the 5th job (Contacts, after Product2, PricebookEntry, Campaign, Account) is closed,
        # then the process dies
        with pytest.raises(_Crash):
            ops.load(cfg, env=env, api="bulk", session=_crashing_session(sb, 5, bulk=True))
        report, _ = ops.load(cfg, env=env, api="bulk")
        expected = in_org(world)
        assert report.reconciled == expected["Contact"]
        assert counts(sandbox_sf(sb), LOAD_OBJECTS) == expected


@pytest.mark.parametrize("schema", [EXAMPLE_SCHEMA, None], ids=["upsert", "fingerprint"])
def test_connection_lost_after_the_org_applied_a_write(world, tmp_path, schema):
    """No answer to a write that was applied: reconciled in the same run, sent once."""
    import requests

    from orgforge.targets.salesforce import ops
    from tests.targets.conftest import sf_config

    with run_in_thread(SandboxConfig(schema=schema)) as sb:
        cfg, env = sf_config(sb, world, tmp_path, concurrency=1, batch_size=100)
        session = _crashing_session(sb, 5, error=requests.ConnectionError)
        report, _ = ops.load(cfg, env=env, session=session)
        assert report.failed == 0 and report.reconciled == 100
        expected = in_org(world)
        with World(world, create=False) as w, w.engine.connect() as conn:
            statuses = dict(
                conn.exec_driver_sql("SELECT status, count(*) FROM sync GROUP BY status").all()
            )
        # none taken for pre-existing but the org's standard price book, which is the world's
        assert statuses == {"ok": sum(expected.values()) - 1, "adopted": 1}
        assert counts(sandbox_sf(sb), LOAD_OBJECTS) == expected
