"""Sync benchmark: HTTP requests per 1,000 changed records for an update-only load.

    python -m bench sync                           # prd (100 accounts) and 2,000 accounts
    BENCH_SYNC_SIZES=100 BENCH_SYNC_APIS=rest python -m bench sync

For each size and API a fresh local sandbox (upsert mode) receives the world; then 10 % of
the Contacts, Opportunities and Tasks change one field each in the world, and a second load
sends only those (REST sObject Collections PATCH, or one Bulk API 2.0 update job per object).
Figures: the update load's write requests and all its requests per 1,000 changed records, and
the requests of a third, no-change load (describes, users, limits: no writes).
Targets: REST ≈ 5 write requests per 1,000 changed records (200 per request); Bulk ≈ 5 per
changed object whatever its size; a no-change rerun makes no write at all.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from pathlib import Path

import requests

import orgforge
from orgforge.config import load_config
from orgforge.sandbox.salesforce import EXAMPLE_SCHEMA, SandboxConfig, run_in_thread
from orgforge.targets.salesforce import ops

CHANGED = {"Contact": "Title", "Opportunity": "NextStep", "Task": "Subject"}


def _change_tenth(world: Path) -> int:
    changed = 0
    with sqlite3.connect(world) as conn:
        for name, field in CHANGED.items():
            keys = [k for (k,) in conn.execute(f'SELECT key FROM "rec_{name}" ORDER BY key')]
            picked = [(f"bench {i}", k) for i, k in enumerate(keys[::10])]
            conn.executemany(f'UPDATE "rec_{name}" SET "{field}" = ? WHERE key = ?', picked)
            changed += len(picked)
    return changed


def _writes(sb) -> int:
    families = requests.get(f"{sb.instance_url}/_sandbox/stats", timeout=5).json()["by_family"]
    return families.get("composite", 0) + families.get("bulk_ingest", 0)


def _one(world: Path, api: str, root: Path) -> dict:
    with run_in_thread(SandboxConfig(schema=EXAMPLE_SCHEMA, daily_api_requests=10**7)) as sb:
        copy = root / f"{world.stem}-{api}.db"
        copy.write_bytes(world.read_bytes())
        flags = {
            "world": str(copy),
            "runs_dir": str(root / "runs"),
            "salesforce.instance_url": sb.instance_url,
            "salesforce.auth": "token",
        }
        cfg = load_config(None, flags=flags, environ={})
        env = {"SF_ACCESS_TOKEN": sb.token}
        ops.load(cfg, api=api, env=env)
        changed = _change_tenth(copy)
        writes_before = _writes(sb)
        start = time.perf_counter()
        report, _ = ops.load(cfg, api=api, env=env)
        wall = time.perf_counter() - start
        assert report.failed == 0, report.as_dict()
        updated = sum(t.updated for t in report.tallies.values())
        assert updated == changed, (updated, changed)
        writes = _writes(sb) - writes_before
        again, _ = ops.load(cfg, api=api, env=env)
        return {
            "changed": changed,
            "writes": writes,
            "requests": report.requests,
            "wall": wall,
            "rerun": again.requests,
            "rerun_writes": _writes(sb) - writes_before - writes,
        }


def main() -> None:
    sizes = [int(s) for s in os.environ.get("BENCH_SYNC_SIZES", "100,2000").split(",")]
    print("update-only load → local sandbox (10% of Contacts, Opportunities, Tasks changed)")
    print(
        f"{'accounts':>8} {'api':>4} {'changed':>8} {'writes':>6} {'all req':>7} "
        f"{'writes/1k':>9} {'all/1k':>7} {'wall s':>7} {'rerun req':>9} {'rerun writes':>12}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for accounts in sizes:
            world = root / f"w{accounts}.db"
            orgforge.generate(
                accounts=accounts, world=str(world), runs_dir=str(root / "runs"),
                as_of="2026-11-23",
            )  # fmt: skip
            for api in os.environ.get("BENCH_SYNC_APIS", "rest,bulk").split(","):
                r = _one(world, api, root)
                print(
                    f"{accounts:>8} {api:>4} {r['changed']:>8,} {r['writes']:>6,} "
                    f"{r['requests']:>7,} {1000 * r['writes'] / r['changed']:>9.2f} "
                    f"{1000 * r['requests'] / r['changed']:>7.2f} {r['wall']:>7.1f} "
                    f"{r['rerun']:>9,} {r['rerun_writes']:>12,}"
                )
    print("targets: REST ≈ 5 writes per 1,000 changed records; Bulk ≈ 5 per object; rerun 0")


if __name__ == "__main__":
    main()
