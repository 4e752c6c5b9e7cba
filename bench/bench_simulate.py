"""Living-org benchmark: 1,000 jobs in one runner, the scheduler tick, working hours, the Asana
sandbox under a 150/min limit for 30 simulated minutes, and kill -9 / resume duplicates.

    python -m bench simulate

1. 1,000 Asana jobs (rates 5–60 actions/h, ten time zones) loaded into one runner against an
   Asana sandbox in another process: RSS of this process before and after (VmRSS), and the
   runner's periodic re-read of the jobs table.
2. Scheduler tick: pop the earliest job of the 1,000, draw its next action (working hours,
   holidays, bursts), push it back. Mean and p99 over 20,000 ticks. Target < 5 ms.
3. Share of planned actions inside the acting persona's working hours (4 weeks, 10 zones).
4. The Asana sandbox at 150 requests/min per token, for 30 simulated minutes on a fast:60
   clock: one simulated minute is one real second, and both the sandbox's and the target's
   rate windows are scaled to 1 s. 20 jobs ask for more than the quota allows. Figures:
   actions done, requests, 429s and the 429 rate (target < 1%).
5. kill -9 a subprocess runner mid-backfill five times, restart it each time: duplicated
   actions (objects in the sandbox minus creations in the log). Target ≤ 1 per kill per job.
"""

from __future__ import annotations

import datetime as dt
import heapq
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from orgforge import simulate
from orgforge.clock import REAL
from orgforge.config import Config
from orgforge.sandbox.asana import SandboxConfig, run_in_thread
from orgforge.simulate.scheduler import Persona, Schedule
from orgforge.world import World

JOBS = int(os.environ.get("BENCH_SIMULATE_JOBS", "1000"))
ZONES = (
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
)


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _sandbox_process(root: Path, *extra: str) -> tuple[subprocess.Popen, dict[str, str]]:
    """`orgforge sandbox asana` in its own process; the environment orgforge reads."""
    orgforge = str(Path(sys.executable).with_name("orgforge"))
    proc = subprocess.Popen(
        [orgforge, "sandbox", "asana", "--port", "0", "--db", str(root / "asana.db"), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    banner = ""
    while "Press Ctrl+C" not in banner:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the Asana sandbox didn't start:\n{banner}")
        banner += line
    env = dict(re.findall(r"export (\w+)=(\S+)", banner))
    env["_ADMIN"] = re.search(r"admin token\s+(\S+)", banner).group(1)
    return proc, env


def thousand_jobs(root: Path) -> None:
    proc, env = _sandbox_process(root)
    try:
        config = Config.model_validate(
            {
                "world": str(root / "jobs.db"),
                "asana": {"tier": "paid", "url": env["ORGFORGE_ASANA__URL"]},
            }
        )
        rng = random.Random(1)
        with World(root / "jobs.db") as world:
            for i in range(JOBS):
                simulate.create_job(
                    world,
                    {
                        "target": "asana",
                        "rate": rng.choice((5, 10, 20, 30, 60)),
                        "seed": i,
                        "schedule": {"timezone": ZONES[i % len(ZONES)]},
                    },
                )
            before = _rss_mib()
            runner = simulate.Runner(world, "real", config=config, environ=env)
            started = time.perf_counter()
            runner.refresh()
            loaded = time.perf_counter() - started
            after = _rss_mib()
            started = time.perf_counter()
            runner.refresh()
            reread = time.perf_counter() - started
            print(
                f"{len(runner.live):,} jobs live in one runner: RSS {before:.0f} → {after:.0f} MiB "
                f"(+{after - before:.1f} MiB; whole process {after:.0f} MiB, target < 150)"
            )
            print(f"loading them: {loaded:.2f}s; re-reading the jobs table: {reread * 1000:.1f} ms")
            ticks = []
            heap = list(runner.heap)
            for _ in range(20_000):
                t0 = time.perf_counter()
                when, job_id = heapq.heappop(heap)
                live = runner.live[job_id]
                nxt = live.schedule.next_action(when, random.Random(job_id + str(when)))
                if nxt is not None:
                    heapq.heappush(heap, (nxt[0], job_id))
                ticks.append(time.perf_counter() - t0)
            ticks.sort()
            print(
                f"scheduler tick over {len(runner.live):,} jobs: mean "
                f"{statistics.mean(ticks) * 1000:.3f} ms, "
                f"p99 {ticks[int(len(ticks) * 0.99)] * 1000:.3f} ms (target < 5 ms)"
            )
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)


def working_hours_share() -> None:
    team = [Persona(f"P{i}", zone) for i, zone in enumerate(ZONES)]
    schedule = Schedule(team, rate=60)
    rng, t, inside, total = random.Random(3), dt.datetime(2026, 11, 2, tzinfo=dt.UTC), 0, 0
    end = t + dt.timedelta(days=28)
    while (found := schedule.next_action(t, rng, end)) is not None:
        t, persona = found
        inside += persona.at_work(t)
        total += 1
    print(
        f"working hours: {inside:,} of {total:,} planned actions ({inside / total:.2%}) inside "
        "the acting persona's hours (10 zones, holidays, 4 weeks)"
    )


def _working_zone(now: dt.datetime) -> str:
    """A fixed-offset zone where ``now`` is a weekday between 09:00 and 15:00."""
    for offset in range(-12, 15):
        zone = f"Etc/GMT{'+' if offset <= 0 else '-'}{abs(offset)}"
        local = now + dt.timedelta(hours=offset)
        if local.weekday() < 5 and 9 <= local.hour < 15:
            return zone
    return "UTC"


def rate_limited_run(root: Path) -> None:
    with run_in_thread(
        SandboxConfig(db_path=root / "limited.db", users=4, rate_limit=150, rate_window=1.0)
    ) as sb:
        config = Config.model_validate(
            {
                "world": str(root / "limited.db.world"),
                "asana": {"url": sb.base_url, "rate_limit": 150},
            }
        )
        zone = _working_zone(REAL.now())
        with World(root / "limited.db.world") as world:
            for i in range(20):
                simulate.create_job(
                    world,
                    {
                        "target": "asana",
                        "rate": 600,
                        "seed": i,
                        "schedule": {"timezone": zone, "start": 0, "end": 24},
                    },
                )
            runner = simulate.Runner(
                world, "fast:60", config=config, environ=sb.env(), follow=False
            )
            runner.until = runner.clock.now() + dt.timedelta(minutes=30)
            target = runner.driver("asana").target
            target.limiter.window = 1.0  # the sandbox's window, scaled the same way
            started = time.perf_counter()
            report = runner.run()
            seconds = time.perf_counter() - started
        figures = report.target["asana"]
        asked = 20 * 600 / 2  # 20 jobs × 600/h for half an hour
        rate = figures["rate_limited"] / max(1, figures["requests"])
        print(
            f"Asana sandbox at 150/min, 30 simulated min ({seconds:.0f}s real): "
            f"{sum(report.actions.values()):,} actions ({report.actions.get('ok', 0):,} ok) of "
            f"~{asked:,.0f} asked, {figures['requests']:,} requests, {figures['rate_limited']} "
            f"429s = {rate:.2%} (target < 1%)"
        )


def kill_and_resume(root: Path) -> None:
    proc, env = (
        _sandbox_process(root / "kill", "--tier", "paid")
        if (root / "kill").mkdir() is None
        else None
    )
    orgforge = str(Path(sys.executable).with_name("orgforge"))
    env = {**os.environ, **env, "PYTHONUNBUFFERED": "1", "ORGFORGE_ASANA__TIER": "paid"}
    try:
        with World(root / "kill" / "w.db") as world:
            for i in range(3):
                simulate.create_job(
                    world,
                    {
                        "target": "asana",
                        "rate": 10,
                        "seed": i,
                        "schedule": {"timezone": "Europe/London"},
                    },
                )
        command = [orgforge, "simulate", "run", "--clock", "backfill:7d", "-w", "w.db"]
        kills = 0
        for after in (15, 40, 70, 110, 160):
            runner = subprocess.Popen(
                command, cwd=root / "kill", env=env, stdout=subprocess.PIPE, text=True
            )
            for _ in range(after // 5):
                if not runner.stdout.readline():
                    break
            runner.send_signal(signal.SIGKILL)
            runner.wait()
            kills += 1
        subprocess.run(command, cwd=root / "kill", env=env, capture_output=True, check=True)
        import httpx

        stats = httpx.get(
            env["ORGFORGE_ASANA__URL"].replace("/api/1.0", "/_sandbox/stats"),
            headers={"Authorization": "Bearer " + env["_ADMIN"]},
        ).json()["records"]
        with World(root / "kill" / "w.db") as world:
            logs = [simulate.job_log(world, j.id, limit=100_000) for j in simulate.list_jobs(world)]
        made = (
            "project.create",
            "section.create",
            "task.create",
            "subtask.create",
            "project.status",
        )
        created = sum(
            1 for log in logs for a in log if a["status"] == "ok" and a["behaviour"].endswith(made)
        )
        held = sum(stats.get(k, 0) for k in ("project", "section", "task", "status_update"))
        resent = sum(1 for log in logs for a in log if a["attempts"] > 1)
        print(
            f"kill -9 ×{kills} then resume, 3 jobs: {sum(len(log) for log in logs):,} actions; "
            f"{resent} journalled actions sent again; objects in Asana {held:,} vs created per "
            f"the log {created:,}: {held - created} duplicated (≤ 1 per kill)"
        )
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        thousand_jobs(root)
        working_hours_share()
        rate_limited_run(root)
        kill_and_resume(root)


if __name__ == "__main__":
    main()
