"""LLM text engine: batching, prompt size, throughput and cache, against a local server.

Starts an in-process OpenAI-compatible server (orgforge.content.testing.FakeLLM) that answers
after 200 ms, generates the prd preset with ``--text llm`` and 8 concurrent calls, and reports:
calls per text item (target ≤ 1/15), prompt characters per item, items/s, and the calls made
by a rerun (target 0: the world's cache answers).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import orgforge
from orgforge.content.testing import FakeLLM

LATENCY = 0.2
CONCURRENCY = 8


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, FakeLLM(latency=LATENCY) as server:
        config = orgforge.api.resolve(
            None,
            preset="prd",
            seed=42,
            as_of="2026-11-23",
            world=str(Path(tmp) / "bench.db"),
            runs_dir=str(Path(tmp) / "runs"),
            text="llm",
        )
        content = config.content
        content.provider, content.model = "compatible", "bench-model"
        content.base_url = server.url + "/v1"
        content.concurrency = CONCURRENCY

        estimate = orgforge.api.content_estimate(config)
        started = time.perf_counter()
        first = orgforge.generate(config)
        total = time.perf_counter() - started
        text = first.text
        items, calls = text["items"], text["calls"]
        sent_chars = sum(
            sum(len(str(m.get("content", ""))) for m in r["body"].get("messages", []))
            for r in server.requests
        )
        print(f"prd preset: {first.records:,} records, {items:,} text items, {calls} calls")
        print(
            f"calls per text item: {calls / items:.4f} (1 per {items / calls:.1f} items; "
            "target ≤ 1 per 15)"
        )
        print(f"prompt characters per item: {sent_chars / items:,.0f} (sent over the wire)")
        print(
            f"throughput: {items / text['seconds']:,.0f} items/s in the text pass "
            f"({text['seconds']:.2f}s; {CONCURRENCY} concurrent calls, {LATENCY * 1000:.0f} ms "
            f"latency), whole generate {total:.2f}s"
        )
        print(
            f"fallbacks {text['fallbacks']}, retries {text['retries']}, tokens "
            f"{text['input_tokens']:,} in / {text['output_tokens']:,} out"
        )
        print(
            f"estimate before the run: {estimate['total']['items']:,} items, "
            f"{estimate['total']['calls']} calls, {estimate['total']['input_tokens']:,} input "
            "tokens"
        )

        before = server.count
        orgforge.generate(config)
        # A budget is part of the recipe (it can change text): full regeneration, all from cache.
        config.content.max_cost = 1_000.0
        regen = orgforge.generate(config)
        fill = orgforge.api.content_fill(config)
        print(
            f"rerun: {server.count - before} calls (same config: nothing to do; changed "
            f"recipe: {regen.text['cache_hits']:,} cache hits; content fill: "
            f"{fill['text']['cache_hits']:,} cache hits, {fill['text']['calls']} calls)"
        )


if __name__ == "__main__":
    main()
