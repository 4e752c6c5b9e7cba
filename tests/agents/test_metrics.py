"""`orgforge metrics` over a flywheel log: every figure checked against its own computation."""

from __future__ import annotations

import json
import math

import pytest

from orgforge.agents.flywheel import FlywheelLog
from orgforge.agents.workloads import LeadDesk, run_timeline
from orgforge.metrics.routing import percentile, routing_metrics

from .conftest import make_touches
from .test_cli import orgforge


@pytest.fixture(scope="module")
def logs(tmp_path_factory, policy, leads):
    folder = tmp_path_factory.mktemp("metrics") / "flywheel"
    desk = LeadDesk(policy, log=FlywheelLog(folder))
    touches = make_touches(leads[:300], {})
    run_timeline(desk, [(lead, lead.created) for lead in leads[:300]], touches[:250])
    return folder, desk


def test_percentiles_are_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 50) == 50 and percentile(values, 95) == 95
    assert percentile(values, 100) == 100 and percentile([7.0], 90) == 7.0
    assert percentile([], 50) is None


def test_metrics_match_the_desk_that_wrote_the_log(logs):
    folder, desk = logs
    m = routing_metrics(folder, sla_minutes=30)
    routes = [d for d in desk.decisions if d.action == "route"]
    assert m["leads_routed"] == len(routes) == 300
    moved = [d for d in desk.decisions if d.action == "reassign" and d.rule != "kept"]
    assert m["reassignments"] == len(moved) > 0
    held = [d for d in routes if d.rule == "held"]
    dispatched = [d for d in desk.decisions if d.action == "dispatch"]
    assert m["held_off_hours"] == len(held) > 0 and len(dispatched) <= len(held)
    to_reps = [d for d in routes + dispatched if d.rule in ("pool", "account_match")]
    assert sum(r["leads"] for r in m["distribution"]) == len(to_reps)
    ttfr = sorted(rt.ttfr_seconds / 60 for rt in desk.responses.values())
    assert m["first_touches"] == len(ttfr) and m["untouched"] == 300 - len(ttfr)
    assert m["ttfr_minutes"]["p50"] == ttfr[math.ceil(0.5 * len(ttfr)) - 1]
    assert m["ttfr_minutes"]["max"] == ttfr[-1]
    assert sum(m["ttfr_buckets"].values()) == len(ttfr)
    assert m["sla_breaches"] == sum(1 for v in ttfr if v > 30)
    # the weighted target sums to the pool decisions, and no rep is far from it
    pool_decisions = sum(1 for d in to_reps if d.rule == "pool")
    assert sum(r["target"] for r in m["distribution"]) == pytest.approx(pool_decisions, abs=0.1)


def test_metrics_command_writes_json_csv_html_and_png(logs, tmp_path):
    folder, _ = logs
    done = orgforge(
        "metrics",
        "--log-dir",
        str(folder),
        "--json",
        "--csv",
        "csv",
        "--html",
        "report.html",
        "--png",
        "png",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["leads_routed"] == 300
    assert (tmp_path / "csv/routing.csv").read_text().startswith("rep,leads,target,delta")
    page = (tmp_path / "report.html").read_text()
    assert "<svg" in page and "<script" not in page and "http" not in page.split("<svg", 1)[0]
    for name in ("distribution.png", "ttfr.png"):
        assert (tmp_path / "png" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = orgforge("metrics", "--log-dir", str(folder), cwd=tmp_path)
    assert table.returncode == 0 and "300 leads routed" in table.stdout


def test_metrics_on_a_missing_log_folder_is_bad_input(tmp_path):
    done = orgforge("metrics", "--log-dir", "nope", cwd=tmp_path)
    assert done.returncode == 2 and "nope: no such flywheel log" in done.stderr
