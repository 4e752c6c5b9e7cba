"""Lead-routing and speed-to-lead KPIs from flywheel logs, as a RevOps lead reports them.

Percentiles use the nearest-rank method (the value at rank ⌈p·n⌉ of the sorted sample), so a
reported p95 is always a response time that really happened. The weighted *target* of each rep
is the share they would get if every pool decision split by weight among the reps eligible at
that moment: ``Σ weight / eligible weight`` over the decisions of their pools, so a rep who was
out of office isn't counted as under-served for those days.
"""

from __future__ import annotations

import csv
import html
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from orgforge.agents.flywheel import FIRST_TOUCH, OUTREACH, iter_decisions, read_lines

BUCKETS = (
    (0, 5, "0-5 min"),
    (5, 15, "5-15 min"),
    (15, 30, "15-30 min"),
    (30, 60, "30-60 min"),
    (60, math.inf, "60+ min"),
)


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def _summary(values: list[float]) -> dict[str, float | None]:
    return {
        "count": len(values),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p95": percentile(values, 95),
        "max": max(values) if values else None,
    }


def routing_metrics(location: str | Path, sla_minutes: float = 60.0) -> dict[str, Any]:
    """Every KPI over the logs at ``location`` (a folder of flywheel logs, or one file)."""
    decisions = list(iter_decisions(location))
    routes = [d for d in decisions if d.get("action", "route") == "route"]
    reassigns = [d for d in decisions if d.get("action") == "reassign" and d.get("rule") != "kept"]
    # a lead reaches a rep when first routed, or when dispatched after being held off-hours
    to_reps = [
        d
        for d in decisions
        if d.get("action", "route") in ("route", "dispatch")
        and d.get("rule") in ("pool", "account_match")
    ]
    by_rep: Counter[str] = Counter(d["owner"] for d in to_reps)
    target: defaultdict[str, float] = defaultdict(float)
    for d in to_reps:
        if d.get("rule") != "pool":
            continue
        eligible = [
            c
            for c in d.get("candidates", [])
            if c.get("pool") == d.get("pool") and not c.get("excluded")
        ]
        total = sum(c["weight"] for c in eligible)
        for c in eligible:
            target[c["rep"]] += c["weight"] / total
    distribution = [
        {
            "rep": rep,
            "leads": by_rep.get(rep, 0),
            "target": round(target.get(rep, 0.0), 2),
            "delta": round(by_rep.get(rep, 0) - target.get(rep, 0.0), 2),
        }
        for rep in sorted(set(by_rep) | set(target))
    ]
    system_delay = []
    for d in to_reps:
        lead = (d.get("inputs") or {}).get("lead") or {}
        if lead.get("created"):
            created = datetime.fromisoformat(lead["created"])
            decided = datetime.fromisoformat(d["timestamp"].replace("Z", "+00:00"))
            system_delay.append(max(0.0, (decided - created).total_seconds()))
    touches = [line["metadata"] for _w, line in read_lines(location, FIRST_TOUCH)]
    outreach = [line["metadata"] for _w, line in read_lines(location, OUTREACH)]
    attempted = [o for o in outreach if o.get("sent") is not None]
    ttfr_min = [t["ttfr_seconds"] / 60 for t in touches]
    working_min = [
        t["ttfr_working_seconds"] / 60 for t in touches if t.get("ttfr_working_seconds") is not None
    ]
    buckets = {label: sum(1 for v in ttfr_min if lo <= v < hi) for lo, hi, label in BUCKETS}
    breaches = sum(1 for v in ttfr_min if v > sla_minutes)
    return {
        "leads_routed": len(routes),
        "held_off_hours": sum(1 for d in routes if d.get("rule") == "held"),
        "to_fallback": sum(1 for d in routes if d.get("rule") == "fallback"),
        "by_rule": dict(Counter(d.get("rule") for d in routes)),
        "by_segment": dict(Counter(d.get("segment") for d in routes)),
        "by_region": dict(Counter(str(d.get("region")) for d in routes)),
        "distribution": distribution,
        "reassignments": len(reassigns),
        "decision_latency_ms": _summary([d.get("latency_ms", 0.0) for d in decisions]),
        "assignment_delay_seconds": _summary(system_delay),
        "ttfr_minutes": _summary(ttfr_min),
        "ttfr_working_minutes": _summary(working_min),
        "ttfr_buckets": buckets,
        "within_5_min": (buckets["0-5 min"] / len(ttfr_min)) if ttfr_min else None,
        "sla_minutes": sla_minutes,
        "sla_breaches": breaches,
        "sla_breach_rate": (breaches / len(ttfr_min)) if ttfr_min else None,
        "first_touches": len(touches),
        "untouched": max(0, len(routes) - len(touches)),
        "policy_versions": sorted({d.get("policy_version", "") for d in decisions}),
        "template_usage": dict(Counter(o.get("template_id") for o in outreach)),
        "emails_sent": sum(1 for o in attempted if o["sent"]),
        "send_success_rate": (
            sum(1 for o in attempted if o["sent"]) / len(attempted) if attempted else None
        ),
    }


def write_csv(metrics: dict[str, Any], folder: str | Path) -> list[Path]:
    """``routing.csv`` (per rep) and ``ttfr.csv`` (summary and buckets) in ``folder``."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    routing = out / "routing.csv"
    with routing.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["rep", "leads", "target", "delta"])
        writer.writeheader()
        writer.writerows(metrics["distribution"])
    ttfr = out / "ttfr.csv"
    with ttfr.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["measure", "value"])
        for name in ("ttfr_minutes", "ttfr_working_minutes", "assignment_delay_seconds"):
            for stat, value in metrics[name].items():
                writer.writerow([f"{name}.{stat}", "" if value is None else round(value, 3)])
        for label, count in metrics["ttfr_buckets"].items():
            writer.writerow([f"bucket {label}", count])
        writer.writerow(["sla_breach_rate", metrics["sla_breach_rate"]])
    return [routing, ttfr]


def _bars_svg(title: str, rows: Iterable[tuple[str, float, float | None]]) -> str:
    """A horizontal bar chart (value, and a target tick when given) as inline SVG."""
    rows = list(rows)
    top = max([v for _, v, _ in rows] + [t or 0 for _, _, t in rows] + [1])
    height = 28 * len(rows) + 40
    parts = [
        f'<svg role="img" aria-label="{html.escape(title)}" width="640" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="12">',
        f'<text x="0" y="16" font-weight="bold">{html.escape(title)}</text>',
    ]
    for i, (label, value, tgt) in enumerate(rows):
        y = 30 + i * 28
        width = 440 * value / top
        parts.append(f'<text x="0" y="{y + 14}">{html.escape(label)}</text>')
        parts.append(f'<rect x="150" y="{y}" width="{width:.1f}" height="18" fill="#3b6ea8"/>')
        parts.append(f'<text x="{155 + width:.1f}" y="{y + 14}">{value:g}</text>')
        if tgt is not None:
            x = 150 + 440 * tgt / top
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y - 3}" y2="{y + 21}" '
                'stroke="#c0392b" stroke-width="2"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


def write_html(metrics: dict[str, Any], path: str | Path) -> Path:
    """One self-contained page (inline SVG, no scripts or external files) for a deck."""
    dist = [(r["rep"], r["leads"], r["target"]) for r in metrics["distribution"]]
    buckets = [(label, count, None) for label, count in metrics["ttfr_buckets"].items()]
    ttfr = metrics["ttfr_minutes"]

    def fmt(value: float | None) -> str:
        return "–" if value is None else f"{value:,.1f}"

    rate = metrics["sla_breach_rate"]
    cards = [
        ("Leads routed", f"{metrics['leads_routed']:,}"),
        ("Reassigned (SLA)", f"{metrics['reassignments']:,}"),
        ("TTFR median", f"{fmt(ttfr['p50'])} min"),
        ("TTFR p95", f"{fmt(ttfr['p95'])} min"),
        (
            f"SLA breaches (> {metrics['sla_minutes']:g} min)",
            "–" if rate is None else f"{rate:.0%}",
        ),
    ]
    body = "".join(
        f"<div class=card><div class=v>{html.escape(v)}</div>"
        f"<div class=k>{html.escape(k)}</div></div>"
        for k, v in cards
    )
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Lead routing and speed to lead</title>
<style>body{{font-family:sans-serif;margin:2rem;color:#222}}.cards{{display:flex;gap:1rem;
flex-wrap:wrap}}.card{{border:1px solid #ccc;border-radius:6px;padding:.8rem 1.2rem}}
.v{{font-size:1.6rem;font-weight:bold}}.k{{color:#555}}</style></head><body>
<h1>Lead routing and speed to lead</h1><div class=cards>{body}</div>
<h2>Distribution against the weighted target</h2>
{_bars_svg("Leads per rep (red: weighted target)", dist)}
<h2>Time to first response</h2>{_bars_svg("Leads by TTFR bucket", buckets)}
<p>Policy versions: {html.escape(", ".join(metrics["policy_versions"]) or "–")}</p>
</body></html>"""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
    return target


def write_png(metrics: dict[str, Any], folder: str | Path) -> list[Path]:
    """``distribution.png`` and ``ttfr.png`` (matplotlib: ``pip install 'orgforge[charts]'``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    dist = metrics["distribution"]
    fig, ax = plt.subplots(figsize=(8, 0.4 * max(3, len(dist)) + 1))
    ax.barh([r["rep"] for r in dist], [r["leads"] for r in dist], color="#3b6ea8", label="leads")
    ax.scatter(
        [r["target"] for r in dist],
        [r["rep"] for r in dist],
        color="#c0392b",
        marker="|",
        s=300,
        label="weighted target",
        zorder=3,
    )
    ax.set_xlabel("leads")
    ax.set_title("Leads per rep against the weighted target")
    ax.legend(loc="lower right")
    fig.tight_layout()
    written.append(out / "distribution.png")
    fig.savefig(written[-1], dpi=120)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(8, 4))
    labels = list(metrics["ttfr_buckets"])
    ax.bar(labels, [metrics["ttfr_buckets"][k] for k in labels], color="#3b6ea8")
    ax.set_ylabel("leads")
    ax.set_title("Time to first response")
    fig.tight_layout()
    written.append(out / "ttfr.png")
    fig.savefig(written[-1], dpi=120)
    plt.close(fig)
    return written
