"""The web app (`orgforge serve`): page load times on the prd world, and 200 live SSE clients.

Prints, for a prd world (100 accounts, ~2,500 records) served on 127.0.0.1:

* each page's load time over ``BENCH_WEB_LOADS`` sequential loads (default 40) — p50, p95 and
  max — plus the first load of the world page, which computes the stats and the check (later
  loads reuse them until the world changes); the goal is p95 < 200 ms for every page;
* ``BENCH_WEB_CLIENTS`` (default 200) clients holding one job's live stream open at once: how
  long they took to connect, and over ``BENCH_WEB_ROUNDS`` pause/resume changes (default 6)
  how long each change took to reach every client (p50, p95, max of client × change).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx

import orgforge
from orgforge.web import WebSettings, run_in_thread

PAGES = ("/world", "/generate", "/load", "/activity", "/ops", "/jobs", "/api/world", "/api/ops")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _page_loads(web, loads: int) -> None:
    headers = {"Authorization": f"Bearer {web.token}"}
    with httpx.Client(base_url=web.url, headers=headers, timeout=60) as client:
        started = time.perf_counter()
        first = client.get("/world")
        cold = (time.perf_counter() - started) * 1e3
        assert first.status_code == 200, first.status_code
        print(f"world page, first load right after start (stats + check computed): {cold:.0f} ms")
        worst = 0.0
        for path in PAGES:
            times = []
            for _ in range(loads):
                started = time.perf_counter()
                answer = client.get(path)
                times.append((time.perf_counter() - started) * 1e3)
                assert answer.status_code == 200, (path, answer.status_code)
            p95 = _pct(times, 0.95)
            worst = max(worst, p95)
            print(
                f"  {path:<12} p50 {statistics.median(times):6.1f} ms   p95 {p95:6.1f} ms   "
                f"max {max(times):6.1f} ms   ({len(answer.content) / 1024:.0f} KiB)"
            )
        verdict = "under" if worst < 200 else "OVER"
        print(f"page load p95, worst page: {worst:.1f} ms ({verdict} the 200 ms goal)")


async def _client(client: httpx.AsyncClient, job_id: str, ready: asyncio.Event, out: list) -> None:
    """Follow a job's stream; record when each ``job`` event arrived, until it says stopped."""
    async with client.stream("GET", f"/api/jobs/{job_id}/events") as response:
        name = None
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: ") and name == "job":
                state = json.loads(line[6:])["state"]
                out.append((time.monotonic(), state))
                ready.set()
                if state == "stopped":
                    return


async def _sse_clients(web, clients: int, rounds: int) -> None:
    headers = {"Authorization": f"Bearer {web.token}"}
    limits = httpx.Limits(max_connections=clients + 10, max_keepalive_connections=clients + 10)
    async with httpx.AsyncClient(
        base_url=web.url, headers=headers, timeout=120, limits=limits
    ) as client:
        job = (await client.post("/api/jobs", json={"target": "asana", "rate": 10})).json()
        outs: list[list] = [[] for _ in range(clients)]
        readies = [asyncio.Event() for _ in range(clients)]
        t0 = time.monotonic()
        tasks = [
            asyncio.create_task(_client(client, job["id"], readies[i], outs[i]))
            for i in range(clients)
        ]
        await asyncio.gather(*(r.wait() for r in readies))
        connected = time.monotonic() - t0
        lags: list[float] = []
        for n in range(rounds):
            command = "pause" if n % 2 == 0 else "resume"
            want = "paused" if command == "pause" else "active"
            sent = time.monotonic()
            await client.post(f"/api/jobs/{job['id']}/{command}")
            while not all(out and out[-1][1] == want for out in outs):
                await asyncio.sleep(0.005)
            lags += [(out[-1][0] - sent) * 1e3 for out in outs]
        await client.post(f"/api/jobs/{job['id']}/stop")
        await asyncio.gather(*tasks)
    told = sum(1 for out in outs if out[-1][1] == "stopped")
    print(
        f"{clients} SSE clients on one job's stream: all connected in {connected:.2f}s; "
        f"{rounds} pause/resume changes reached every client — lag p50 "
        f"{statistics.median(lags):.0f} ms, p95 {_pct(lags, 0.95):.0f} ms, max {max(lags):.0f} ms"
        f"; {told}/{clients} were told it stopped"
    )


def main() -> None:
    loads = int(os.environ.get("BENCH_WEB_LOADS", "40"))
    clients = int(os.environ.get("BENCH_WEB_CLIENTS", "200"))
    rounds = int(os.environ.get("BENCH_WEB_ROUNDS", "6"))
    with tempfile.TemporaryDirectory() as tmp:
        world = str(Path(tmp) / "prd.db")
        orgforge.generate(preset="prd", seed=42, world=world, runs_dir=str(Path(tmp) / "runs"))
        settings = WebSettings(world=world, runs_dir=str(Path(tmp) / "runs"), port=0, environ={})
        with run_in_thread(settings) as web:
            _page_loads(web, loads)
            # the job is never run (simulate=False): what is measured is the streams' fan-out
            web.settings.simulate = False
            asyncio.run(_sse_clients(web, clients, rounds))


if __name__ == "__main__":
    main()
