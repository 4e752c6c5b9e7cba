"""Activity job throughput: plan + write meetings, emails and scorecards to the world.

Target (issue 6): plan and write 1,000 opportunities to the world in < 5 s. Also prints the
rerun time (nothing to write: signatures match) and the estimated Salesforce requests per
opportunity from the sink's batching — an *estimate*: the Salesforce sink is not merged yet.
Set BENCH_ACTIVITY_OPPS=1000 to choose the size (400 accounts ≈ 1,000 opportunities).

Then, against the local Salesforce sandbox (real HTTP, simple-salesforce): a 100-opportunity
world is loaded, and ``activity run --target salesforce`` is measured — requests per
opportunity as counted by the target's client (REST collections of 200; Bulk API 2.0 for an
object with ≥ 2,000 records).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from pathlib import Path

import orgforge
from orgforge import activity
from orgforge.api import resolve

COLLECTION = 200  # records per REST sObject Collections request (Salesforce's limit)


def salesforce_requests(written: dict[str, dict[str, int]], opps: int, chunk: int) -> float:
    """Requests per opportunity if each chunk's records went out in collections of 200.

    Events first (their Ids are needed), then EventRelations and Tasks, then one note per
    scorecard (ContentNote + ContentDocumentLink = 2 records); each object of each chunk is
    rounded up to whole requests, plus one SOQL query per chunk to read the opportunities.
    """
    chunks = math.ceil(opps / chunk)
    per_chunk = {
        name: c.get("inserted", 0) / chunks
        for name, c in written.items()
        if name in ("Event", "EventRelation", "Task")
    }
    per_chunk["ContentNote"] = per_chunk["ContentDocumentLink"] = (
        written.get("Scorecard", {}).get("inserted", 0) / chunks
    )
    requests = chunks * (1 + sum(math.ceil(n / COLLECTION) for n in per_chunk.values()))
    return requests / opps


def measure_salesforce(folder: Path) -> tuple[int, float, float]:
    """(opportunities, requests per opportunity, seconds) for an activity push to the sandbox."""
    from orgforge.config import load_config
    from orgforge.sandbox.salesforce import EXAMPLE_SCHEMA, SandboxConfig, run_in_thread
    from orgforge.targets.salesforce import ops

    world = str(folder / "sf.db")
    orgforge.generate(accounts=40, world=world, runs_dir=str(folder / "runs"), as_of="2026-11-23")
    with run_in_thread(SandboxConfig(schema=EXAMPLE_SCHEMA)) as sb:
        flags = {
            "world": world,
            "runs_dir": str(folder / "runs"),
            "as_of": "2026-11-23",
            "salesforce.instance_url": sb.instance_url,
            "salesforce.auth": "token",
        }
        cfg = load_config(None, flags=flags, environ={}, cwd=folder)
        env = {"SF_ACCESS_TOKEN": sb.token}
        ops.load(cfg, env=env)  # the base world first: activity needs its parents there
        started = time.perf_counter()
        result = activity.run(cfg, target="salesforce", env=env)
        seconds = time.perf_counter() - started
    assert result.salesforce is not None
    return result.opportunities, result.salesforce["requests"] / result.opportunities, seconds


def main() -> None:
    opps = int(os.environ.get("BENCH_ACTIVITY_OPPS", "1000"))
    accounts = max(10, round(opps / 2.5 / 10) * 10)
    folder = Path(tempfile.mkdtemp(prefix="orgforge-bench-activity-"))
    try:
        world = str(folder / "world.db")
        orgforge.generate(
            accounts=accounts, world=world, runs_dir=str(folder / "runs"), as_of="2026-11-23"
        )
        cfg = resolve(None, world=world, runs_dir=str(folder / "runs"), as_of="2026-11-23")
        started = time.perf_counter()
        first = activity.run(cfg)
        first_s = time.perf_counter() - started
        started = time.perf_counter()
        again = activity.run(cfg)
        again_s = time.perf_counter() - started
        n = first.opportunities
        print(
            f"{n:,} opportunities: plan + write {first_s:.2f} s ({n / first_s:,.0f} opps/s, "
            f"{first.created:,} records, {first.created / first_s:,.0f} records/s) "
            f"— target < 5 s for 1,000"
        )
        print(
            f"rerun (nothing to write): {again_s:.2f} s ({n / again_s:,.0f} opps/s, "
            f"{again.created} created)"
        )
        sc = first.scorecards
        print(
            f"scorecards: {sc['count']:,}, coverage mean {sc['coverage_mean']:.0%} "
            f"(min {sc['coverage_min']:.0%}), confidence mean {sc['confidence_mean']:.2f}"
        )
        rate = salesforce_requests(first.written, n, cfg.activity.chunk_size)
        print(
            f"Salesforce estimate: ≈ {rate:.2f} requests per opportunity (REST collections of "
            f"{COLLECTION}, chunks of {cfg.activity.chunk_size}; scorecard notes included)"
        )
        sf_opps, sf_rate, sf_seconds = measure_salesforce(folder)
        print(
            f"Salesforce measured (sandbox): {sf_opps} opportunities pushed in {sf_seconds:.2f} s, "
            f"{sf_rate:.2f} requests per opportunity (auth, describe and SOQL included; "
            f"scorecards not sent yet)"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
