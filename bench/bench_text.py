"""Offline text engine throughput: ``OfflineEngine.fill`` on the requests a real generate makes.

The requests come from the real generator (naming pass + ``BlockGenerator`` for the first
BENCH_TEXT_ACCOUNTS accounts, default 1,000), case subjects filled first and quoted by the
requests that refer to them, as ``pipeline.apply_text`` does. Only ``fill`` is timed, in this
one process:

- the whole mix in one call, on a warm engine: the figure for big runs (target ≤ 2.5 µs an
  item, ≥ 400,000 items/s);
- block by block, the two calls apply_text makes per block;
- prd-sized (the first 100 accounts' requests) on a fresh engine, so the one-off work of a
  run (resolving templates per kind, pack and table key) is included: what ``--preset prd``
  pays.

Each figure is the min and median of BENCH_TEXT_REPEATS runs (default 5), then µs per item
for each kind on a warm engine.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from orgforge.config import BLOCK_SIZE, load_config
from orgforge.content.contract import ContentRequest
from orgforge.content.offline import OfflineEngine
from orgforge.generate.accounts import BlockGenerator
from orgforge.generate.names import Namer
from orgforge.generate.plan import Plan, make_plan

AS_OF = "2026-11-23"
Block = tuple[list[ContentRequest], list[ContentRequest]]  # case subjects, the rest


def generate_requests(accounts: int) -> tuple[Plan, list[Block]]:
    """The plan and, per block, the two request lists apply_text would fill."""
    with tempfile.TemporaryDirectory() as empty:  # no orgforge.yaml or .env gets picked up
        config = load_config(
            flags={"generate.accounts": accounts, "seed": 42, "as_of": AS_OF},
            environ={},
            cwd=Path(empty),
        )
    plan = make_plan(config)
    namer = Namer(plan)
    names = {i: namer.name(i) for i in range(accounts)}
    generator = BlockGenerator(plan)
    subject_engine = OfflineEngine(plan.packs, plan.seed)
    blocks = []
    for block in range(plan.blocks):
        industries = [namer.industry(block * BLOCK_SIZE + j) for j in range(BLOCK_SIZE)]
        part = generator.block(block, names, industries)
        firsts = [(record, r) for record, _, r in part.requests if r.kind == "case.subject"]
        texts = subject_engine.fill([r for _, r in firsts])
        subjects = {record["key"]: text for (record, _), text in zip(firsts, texts, strict=True)}
        rest = [r for _, _, r in part.requests if r.kind != "case.subject"]
        for request in rest:
            source = request.context.get("subject_of")
            if source is not None:
                request.context["subject"] = subjects.get(source) or ""  # type: ignore[index]
        blocks.append(([r for _, r in firsts], rest))
    return plan, blocks


def timed(run: Callable[[], object], repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times), statistics.median(times)


def report(label: str, items: int, best: float, median: float) -> None:
    print(
        f"{label}: {items / best:,.0f} items/s best, {items / median:,.0f} median "
        f"({best / items * 1e6:.2f} / {median / items * 1e6:.2f} µs per item)"
    )


def main() -> None:
    accounts = int(os.environ.get("BENCH_TEXT_ACCOUNTS", "1000"))
    repeats = int(os.environ.get("BENCH_TEXT_REPEATS", "5"))
    plan, blocks = generate_requests(accounts)
    everything = [r for first, rest in blocks for r in first + rest]
    n = len(everything)
    kinds = Counter(r.kind for r in everything)
    mix = ", ".join(f"{k} {c / n:.0%}" for k, c in kinds.most_common(6))
    print(f"{n:,} requests from {accounts:,} accounts; mix: {mix}, …")

    engine = OfflineEngine(plan.packs, plan.seed)
    for _ in range(3):  # warm: specs built, leaves made
        engine.fill(everything)
    report("whole mix, one fill, warm engine", n, *timed(lambda: engine.fill(everything), repeats))

    def block_by_block() -> None:
        for first, rest in blocks:
            engine.fill(first)
            engine.fill(rest)

    report("block by block (2 fills a block)", n, *timed(block_by_block, repeats))

    prd = blocks[: 100 // BLOCK_SIZE]
    prd_items = sum(len(first) + len(rest) for first, rest in prd)

    def prd_fresh() -> None:
        fresh = OfflineEngine(plan.packs, plan.seed)
        fresh.fill([r for first, _ in prd for r in first])
        fresh.fill([r for _, rest in prd for r in rest])

    best, median = timed(prd_fresh, repeats)
    print(
        f"prd-sized (100 accounts, {prd_items:,} items), fresh engine: "
        f"{best * 1e3:.1f} ms best, {median * 1e3:.1f} ms median"
    )

    print("per kind, warm engine (µs per item, best of runs):")
    by_kind: dict[str, list[ContentRequest]] = {}
    for request in everything:
        by_kind.setdefault(request.kind, []).append(request)
    for kind, requests in sorted(by_kind.items(), key=lambda kv: -len(kv[1])):
        best, _ = timed(lambda requests=requests: engine.fill(requests), repeats)
        print(f"  {kind:<26} {len(requests):>7,} items  {best / len(requests) * 1e6:6.2f}")
