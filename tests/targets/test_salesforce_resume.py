"""kill -9 a load at random moments, resume until done: no duplicate, no lost record."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from orgforge.sandbox.salesforce import EXAMPLE_SCHEMA, SandboxConfig, run_in_thread
from orgforge.sandbox.salesforce import simple_salesforce as sandbox_sf
from orgforge.targets.salesforce.plan import LOAD_OBJECTS
from orgforge.world import World
from tests.targets.conftest import counts


def _load_cmd(sb, world, runs, api):
    return [
        sys.executable, "-m", "orgforge.cli.main", "--quiet", "load",
        "--target", "salesforce", "--world", str(world), "--runs-dir", str(runs),
        "--instance-url", sb.instance_url, "--auth", "token", "--api", api,
    ]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(
    ("schema", "api", "batch"),
    [(EXAMPLE_SCHEMA, "rest", "40"), (None, "rest", "40"), (EXAMPLE_SCHEMA, "bulk", "200")],
    ids=["upsert-rest", "fingerprint-rest", "upsert-bulk"],
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
            if kills < 3:
                time.sleep(rng.uniform(1.1, 2.2))  # imports take ~1 s; then the load runs
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    kills += 1
                    continue
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err.decode()[-2000:]
            break
        else:
            pytest.fail("the load never finished")
        assert kills >= 2
        with World(world, create=False) as w:
            expected = {o: w.count(o) for o in LOAD_OBJECTS}
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
        assert rows == [("ok", sum(expected.values()), sum(expected.values()))]
        again = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, timeout=120)
        assert again.returncode == 0
        assert counts(sf, LOAD_OBJECTS) == expected
