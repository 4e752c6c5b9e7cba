"""Asana benchmark: the sandbox through the official SDK, and the target under a rate limit.

    python -m bench.bench_asana

1. Sandbox throughput: the unmodified ``asana`` SDK creates N tasks one POST at a time, then
   reads them back with auto-pagination (100 per page). Figures: requests/s both ways.
2. The target under a per-token rate limit, scaled down to 40 requests per 2-second window on
   both sides (sandbox ``rate_limit``/``rate_window``, the target's ``rate_window``) so it
   runs quickly and the sandbox can outrun it:
   ``orgforge asana seed`` with the client-side limiter at 80% of the quota, then again with
   the limiter effectively off. Figures: requests, 429s and the 429 rate, wall time.
   Target: 429 rate < 1% with the limiter.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import asana
import httpx

from orgforge.config import Config
from orgforge.sandbox.asana import SandboxConfig, run_in_thread
from orgforge.targets.asana import AsanaTarget, load_tokens
from orgforge.targets.asana.ops import seed

TASKS = int(os.environ.get("BENCH_ASANA_TASKS", "500"))
# A rate limit the benchmark can outrun on a laptop: 40 requests per 2-second window, standing in
# for Asana's 150 per minute (the sandbox serves far more than Asana's 25 requests/s).
QUOTA = int(os.environ.get("BENCH_ASANA_QUOTA", "40"))
WINDOW = float(os.environ.get("BENCH_ASANA_WINDOW", "2"))


def _sandbox_throughput(root: Path) -> None:
    with run_in_thread(SandboxConfig(db_path=root / "throughput.db", users=1)) as sb:
        cfg = asana.Configuration()
        cfg.host, cfg.access_token = sb.base_url, sb.token
        client = asana.ApiClient(cfg)
        team = next(iter(asana.TeamsApi(client).get_teams_for_workspace(sb.workspace_gid, {})))
        project = asana.ProjectsApi(client).create_project_for_team(
            {"data": {"name": "bench"}}, team["gid"], {}
        )["gid"]
        tasks = asana.TasksApi(client)
        started = time.perf_counter()
        for i in range(TASKS):
            tasks.create_task({"data": {"name": f"T{i}", "projects": [project]}}, {})
        created = time.perf_counter() - started
        started = time.perf_counter()
        read = list(tasks.get_tasks_for_project(project, {"opt_fields": "name,completed"}))
        listed = time.perf_counter() - started
        assert len(read) == TASKS
        print(f"sandbox via SDK: {TASKS} creates in {created:.2f}s = {TASKS / created:,.0f}/s")
        pages = -(-TASKS // 100)
        print(
            f"sandbox via SDK: {TASKS} tasks read in {pages} pages, {listed:.2f}s "
            f"= {TASKS / listed:,.0f} tasks/s"
        )


def _seed_under_limit(root: Path, share: float, label: str) -> None:
    config = SandboxConfig(
        db_path=root / f"limited-{label}.db", users=4, rate_limit=QUOTA, rate_window=WINDOW
    )
    with run_in_thread(config) as sb:
        cfg = Config.model_validate(
            {
                "world": str(root / f"w-{label}.db"),
                "runs_dir": str(root / "runs"),
                "asana": {"url": sb.base_url, "tasks_per_project": 12},
            }
        )
        target = AsanaTarget(
            sb.base_url,
            load_tokens({"ORGFORGE_ASANA_TOKEN": sb.token}),  # one token: one quota
            quota_per_minute=QUOTA,
            share=share,
            rate_window=WINDOW,
        )
        started = time.perf_counter()
        report, _ = seed(cfg, target=target)
        seconds = time.perf_counter() - started
        stats = httpx.get(f"{sb.url}/_sandbox/stats", headers=sb.admin_headers).json()
        total = stats["requests"]["total"] - 1  # this stats call is not counted yet
        limited = stats["requests"]["by_status"].get("429", 0)
        print(
            f"seed, {label}: {sum(report.done.values())} objects, {total} requests, "
            f"{limited} × 429 ({100 * limited / max(1, total):.1f}%), {seconds:.1f}s "
            f"({QUOTA} requests per {WINDOW:g}s window per token)"
        )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-asana-") as tmp:
        root = Path(tmp)
        _sandbox_throughput(root)
        _seed_under_limit(root, 0.8, "limiter at 80%")
        _seed_under_limit(root, 100.0, "limiter off")


if __name__ == "__main__":
    main()
