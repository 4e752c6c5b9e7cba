"""Salesforce target benchmark: HTTP requests per 1,000 records, wall time, sandbox throughput.

    python -m bench.bench_salesforce            # prd (100 accounts) and large (10,000 accounts)
    BENCH_SF_SIZES=100 BENCH_SF_APIS=bulk python -m bench.bench_salesforce

For each size and API (REST sObject Collections, Bulk API 2.0) a fresh local sandbox (with the
Orgforge_Key__c external ID, i.e. upsert mode) receives the whole world through
simple-salesforce. Figures: write requests (collections / bulk job calls), all requests the
load made (login, describe, users, limits included) per 1,000 records and, for Bulk, per
object; the sandbox's own request counter (``/_sandbox/stats``) and requests/s.
Targets: REST ≤ 5.2 requests per 1,000 records; Bulk ≤ 5 requests per object.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import requests

import orgforge
from orgforge.config import load_config
from orgforge.sandbox.salesforce import EXAMPLE_SCHEMA, SandboxConfig, run_in_thread
from orgforge.targets.salesforce import ops


def _world(accounts: int, root: Path) -> tuple[Path, int]:
    world = root / f"w{accounts}.db"
    result = orgforge.generate(
        accounts=accounts, world=str(world), runs_dir=str(root / "runs"), as_of="2026-11-23"
    )
    return world, sum(n for name, n in result.counts.items() if name != "User")


def _one(world: Path, records: int, api: str, root: Path) -> dict:
    with run_in_thread(SandboxConfig(schema=EXAMPLE_SCHEMA, daily_api_requests=10**7)) as sb:
        copy = root / f"{world.stem}-{api}.db"
        copy.write_bytes(world.read_bytes())
        cfg = load_config(
            None,
            flags={
                "world": str(copy),
                "runs_dir": str(root / "runs"),
                "salesforce.instance_url": sb.instance_url,
                "salesforce.auth": "token",
            },
            environ={},
        )
        start = time.perf_counter()
        report, _ = ops.load(cfg, api=api, env={"SF_ACCESS_TOKEN": sb.token})
        wall = time.perf_counter() - start
        stats = requests.get(
            f"{sb.instance_url}/_sandbox/stats", headers=sb.headers, timeout=5
        ).json()
        families = stats.get("by_family", {})
        writes = families.get("composite", 0) + families.get("bulk_ingest", 0)
        assert report.failed == 0, report.as_dict()
        objects = sum(1 for t in report.tallies.values() if t.created)
        return {
            "api": api,
            "records": records,
            "writes": writes,
            "requests": report.requests,
            "sandbox_total": stats.get("total", 0),
            "wall": wall,
            "objects": objects,
        }


def main() -> None:
    sizes = [int(s) for s in os.environ.get("BENCH_SF_SIZES", "100,10000").split(",")]
    print("Salesforce target → local sandbox (upsert mode, no faults)")
    header = (
        f"{'accounts':>8} {'api':>4} {'records':>8} {'writes':>6} {'all req':>7} "
        f"{'writes/1k':>9} {'all/1k':>7} {'req/object':>10} {'wall s':>7} {'sandbox req/s':>13}"
    )
    print(header)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for accounts in sizes:
            world, records = _world(accounts, root)
            for api in os.environ.get("BENCH_SF_APIS", "rest,bulk").split(","):
                r = _one(world, records, api, root)
                per_object = f"{r['writes'] / r['objects']:.1f}" if api == "bulk" else "-"
                print(
                    f"{accounts:>8} {api:>4} {records:>8,} {r['writes']:>6,} {r['requests']:>7,} "
                    f"{1000 * r['writes'] / records:>9.2f} {1000 * r['requests'] / records:>7.2f} "
                    f"{per_object:>10} {r['wall']:>7.1f} {r['sandbox_total'] / r['wall']:>13.0f}"
                )
    print("targets: REST ≤ 5.2 requests per 1,000 records; Bulk ≤ 5 requests per object")


if __name__ == "__main__":
    main()
