"""Lead routing: decision latency (rules only), and 100,000 events through the desk and back.

Targets (issue 18): routing decision p95 < 5 ms; replay of 100,000 world events < 30 s.
The event stream is 60,000 new leads over 60 days and 40,000 first touches (5 minutes to 2
hours later). CPU seconds are printed beside wall seconds: on a shared 2-core machine the
wall clock mostly measures the neighbours.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from orgforge.agents.first_touch import Touch
from orgforge.agents.flywheel import FlywheelLog, replay
from orgforge.agents.policy import load_policy
from orgforge.agents.routing import Lead
from orgforge.agents.workloads import LeadDesk, run_timeline
from orgforge.metrics.routing import percentile

COUNTRIES = ["US", "Canada", "UK", "Germany", "France", "Japan", "Australia", "India", "Brazil"]


def stream(leads: int, touches: int) -> tuple[list[tuple[Lead, datetime]], list[Touch]]:
    rng = random.Random(5)
    start = datetime(2026, 11, 2, tzinfo=UTC)
    out = []
    for i in range(leads):
        created = start + timedelta(seconds=rng.randrange(60 * 86400))
        lead = Lead(
            f"Lead/{i:06d}",
            created,
            f"Co {i}",
            f"a@co{i}.example.com",
            rng.choice(COUNTRIES),
            rng.randrange(1, 50_000),
        )
        out.append((lead, created))
    out.sort(key=lambda x: (x[1], x[0].id))
    firsts = [
        Touch(lead.id, at + timedelta(seconds=rng.randrange(300, 7200)), "", "call", f"T{i}")
        for i, (lead, at) in enumerate(rng.sample(out, touches))
    ]
    return out, firsts


def _timed(fn):
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    policy = load_policy()
    leads, touches = stream(60_000, 40_000)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "flywheel"
        desk = LeadDesk(policy, log=FlywheelLog(folder))
        _, cpu, wall = _timed(lambda: run_timeline(desk, leads, touches))
        print(
            f"{len(leads) + len(touches):,} events ({len(leads):,} leads, {len(touches):,} "
            f"touches) → {len(desk.decisions):,} decisions, logged: {cpu:.1f}s CPU, "
            f"{wall:.1f}s wall (target < 30 s)"
        )
        latencies = [
            json.loads(line)["metadata"]["latency_ms"]
            for path in sorted(folder.glob("lead.route_*.jsonl"))
            for line in path.open()
        ]
        print(
            f"decision latency (rules only, wall): p50 {percentile(latencies, 50):.3f} ms, "
            f"p95 {percentile(latencies, 95):.3f} ms, max {max(latencies):.1f} ms "
            "(target p95 < 5 ms)"
        )
        (count, differences), cpu, wall = _timed(lambda: replay(folder, policy))
        print(
            f"replayed {count:,} logged decisions: {cpu:.1f}s CPU, {wall:.1f}s wall, "
            f"{len(differences)} differ"
        )


if __name__ == "__main__":
    main()
