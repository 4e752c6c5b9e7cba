"""Lead routing: decision latency (rules only), and 100,000 events through the desk and back.

Targets (issue 18): routing decision p95 < 5 ms; replay of 100,000 world events < 30 s;
sandbox commit → CometD subscriber p95 ≤ 100 ms at 50 events/s; event → OwnerId set p95 ≤ 2 s.
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
    session_replay()


def session_replay() -> None:
    """The same 100,000 events as a world replay runs them (``agents run --feed world``):
    through a Session in batches, each event parsed into a lead or a touch, the session's state
    saved in a world after every batch."""
    from orgforge.agents.feeds import REPLAY_BATCH, ListFeed
    from orgforge.agents.session import Session, replay_events
    from orgforge.world.store import World

    leads, touches = stream(60_000, 40_000)
    events = replay_events([lead for lead, _at in leads], touches)  # routed as created
    with tempfile.TemporaryDirectory() as tmp, World(Path(tmp) / "w.db") as world:
        desk = LeadDesk(load_policy(), log=FlywheelLog(Path(tmp) / "flywheel"))
        run = Session("bench", ListFeed(events), desk, world, decide_at="event")

        def replay_all() -> int:
            steps = 0
            while run.step().events:
                steps += 1
            return steps

        steps, cpu, wall = _timed(replay_all)
        print(
            f"world replay of {len(events):,} events in {steps} batches of {REPLAY_BATCH:,}, "
            f"state saved after each → {len(desk.decisions):,} decisions: {cpu:.1f}s CPU, "
            f"{wall:.1f}s wall (target < 30 s)"
        )


def streaming() -> None:
    """Leads created at 50/s over REST; a CometD subscriber routes each and writes its owner."""
    import threading

    from orgforge.agents.feeds import StreamFeed
    from orgforge.sandbox.salesforce import SandboxConfig, run_in_thread
    from orgforge.sandbox.salesforce.client import simple_salesforce

    with (
        tempfile.TemporaryDirectory() as tmp,
        run_in_thread(SandboxConfig(db_path=Path(tmp) / "org.db")) as sb,
    ):
        sf = simple_salesforce(sb)
        owner = sf.query("SELECT Id FROM User WHERE IsActive = true LIMIT 1")["records"][0]["Id"]
        feed = StreamFeed(sb.instance_url, sb.token, ("/data/LeadChangeEvent",), wait=2.0)
        feed.connect()
        count, rate = 500, 50.0

        def produce() -> None:
            writer = simple_salesforce(sb)
            start = time.perf_counter()
            for i in range(count):
                writer.Lead.create({"LastName": f"Bench {i}", "Company": f"B{i}"})
                pause = start + (i + 1) / rate - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)

        # pass 1: a subscriber that only receives; pass 2: it also writes each owner back
        delivery, owner_set = [], []
        for measure_owner in (False, True):
            producer = threading.Thread(target=produce)
            producer.start()
            seen = 0
            while seen < count:
                for event in feed.poll():
                    if event.change_type != "CREATE":
                        continue
                    seen += 1
                    committed = event.commit_ts.timestamp()
                    if not measure_owner:
                        delivery.append((time.time() - committed) * 1000)
                        continue
                    sf.Lead.update(
                        event.record_ids[0],
                        {"OwnerId": owner},
                        headers={"Sforce-Auto-Assign": "FALSE"},
                    )
                    owner_set.append(time.time() - committed)
            producer.join()
        feed.close()
        print(
            f"{count} leads at {rate:.0f}/s: commit → subscriber p50 "
            f"{percentile(delivery, 50):.1f} ms, p95 {percentile(delivery, 95):.1f} ms "
            f"(target ≤ 100 ms); event → OwnerId set p95 {percentile(owner_set, 95):.2f} s "
            "(target ≤ 2 s)"
        )


if __name__ == "__main__":
    main()
