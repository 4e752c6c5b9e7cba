"""What an LLM run would cost, before anything is spent (``orgforge content estimate``).

The generator makes the structure of a sample of accounts (up to 100) in memory exactly as a
run would (``orgforge.generate.requests.sample_requests``); here its text requests are batched
and rendered into the real prompts, and request counts, prompt sizes and typical answer lengths
scaled to the configured number of accounts, chunk by chunk as the pipeline batches them.
Nothing is called and nothing is written.
"""

from __future__ import annotations

from typing import Any

from orgforge.config import Config
from orgforge.content.contract import ContentRequest
from orgforge.content.pricing import load_prices, price_for
from orgforge.content.prompts import Prompts, render_batch
from orgforge.content.replies import (
    CALL_OVERHEAD_TOKENS,
    CHARS_PER_TOKEN,
    batch_sizes,
    typical_tokens,
)


def estimate(
    config: Config, requests: list[ContentRequest], sampled: int, chunk_accounts: int
) -> dict[str, Any]:
    """Calls, tokens and cost for ``config``'s accounts, scaled from the text ``requests`` of
    ``sampled`` accounts (the generator's sample) batched as runs of ``chunk_accounts``."""
    from orgforge.packs import load_packs

    content = config.content
    accounts = config.generate.accounts
    prompts = Prompts(content.prompts_dir)
    packs = load_packs(config.generate.packs)
    price = price_for(load_prices(content.prices_file), content.provider, content.model)

    by_kind: dict[str, list[ContentRequest]] = {}
    for request in requests:
        by_kind.setdefault(request.kind, []).append(request)
    chunk = chunk_accounts
    chunk_sizes = [min(chunk, accounts - start) for start in range(0, accounts, chunk)]
    kinds: dict[str, dict[str, Any]] = {}
    for kind, items in by_kind.items():
        items.sort(key=lambda r: (r.context.get("industry", ""), r.key))
        chars = 0
        start = 0
        for size in batch_sizes(len(items), content.batch_size):
            system, user = render_batch(prompts, kind, items[start : start + size], packs)
            chars += len(system) + len(user)
            start += size
        per_account = len(items) / sampled
        calls = sum(
            len(batch_sizes(round(per_account * n), content.batch_size)) for n in chunk_sizes
        )
        total_items = round(per_account * accounts)
        input_tokens = total_items * chars / len(items) / CHARS_PER_TOKEN
        input_tokens += calls * CALL_OVERHEAD_TOKENS
        output_tokens = total_items * typical_tokens(kind) + calls * CALL_OVERHEAD_TOKENS
        kinds[kind] = {
            "items": total_items,
            "calls": calls,
            "prompt_chars_per_item": round(chars / len(items)),
            "input_tokens": round(input_tokens),
            "output_tokens": round(output_tokens),
            "cost_usd": round(price.cost(input_tokens, output_tokens), 4) if price else None,
        }
    total = {
        key: sum(k[key] for k in kinds.values())
        for key in ("items", "calls", "input_tokens", "output_tokens")
    }
    total["cost_usd"] = (
        round(sum(k["cost_usd"] for k in kinds.values()), 4) if price is not None else None
    )
    return {
        "provider": content.provider,
        "model": content.model,
        "accounts": accounts,
        "sampled_accounts": sampled,
        "batch_size": content.batch_size,
        "price_per_1m": {"input": price.input, "output": price.output} if price else None,
        "kinds": kinds,
        "total": total,
        "max_cost": content.max_cost,
    }
