"""The LLM text engine: batches, validation, fallback, cache, concurrency, limits and cost.

``fill(requests)`` takes thousands of mixed requests at once (a chunk of accounts) and:

1. answers what the world's cache already holds (key: provider, model, prompt version and
   hash, kind, record key, context), so a rerun makes no calls;
2. groups the rest by kind, sorted by industry so a batch shares one industry background, into
   batches of ``content.batch_size`` (a short tail joins the others, up to 20 per call);
3. sends batches concurrently (``content.concurrency`` in flight), within client-side
   requests/tokens per minute, each call with a timeout, retried with exponential backoff and
   jitter on 429 (honouring ``Retry-After``), 5xx, timeouts and malformed JSON; a batch that
   still fails is split in halves, recursively, before its items fall back;
4. validates each item (present, length within the kind's bounds, no placeholders or refusals,
   mentions what the kind must mention); a failed item gets the offline engine's text;
5. stops calling — everything left falls back, counted by reason — when the budget
   (``max_cost``) would be exceeded by the next call, when the run's ``deadline`` has passed,
   or when ``max_consecutive_failures`` batches in a row failed on transport (provider down).

Fallback text is the offline engine's, so structure and offline text stay deterministic.
Reply parsing and item checks live in ``content/replies.py``, rate limits in
``content/pacing.py``; the names they export are importable from here too.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from orgforge.clock import REAL, Clock
from orgforge.config import ContentConfig
from orgforge.content.contract import KINDS, ContentEngine, ContentRequest
from orgforge.content.offline import OfflineEngine
from orgforge.content.pacing import LoopThread, RateLimiter
from orgforge.content.pricing import Price, load_prices, price_for
from orgforge.content.prompts import (
    RESPONSE_SCHEMA,
    Prompts,
    pack_tag,
    render_batch,
    visible_context,
)
from orgforge.content.providers import CallError, Provider, Reply, make_provider
from orgforge.content.replies import (
    BUDGET_INPUT_MARGIN,
    CALL_OVERHEAD_TOKENS,
    CHARS_PER_TOKEN,
    ITEM_OVERHEAD_TOKENS,
    STOPPED,
    TRANSPORT,
    TYPICAL_CHARS,
    batch_sizes,
    check,
    parse_reply,
    typical_tokens,
)
from orgforge.errors import ConfigError, ContentError
from orgforge.packs import Pack


class LLMEngine(ContentEngine):
    """Text from an LLM provider, with offline text for every item it can't or shouldn't get."""

    name = "llm"

    def __init__(
        self,
        config: ContentConfig,
        packs: Mapping[str, Pack],
        *,
        seed: int = 0,
        world: Any = None,
        provider: Provider | None = None,
        progress: Callable[[int], None] | None = None,
        clock: Clock = REAL,
    ) -> None:
        self.config = config
        self.clock = clock  # back-offs, rate limits and the deadline run on it
        self.packs = packs
        self.offline = OfflineEngine(packs, seed)
        self.prompts = Prompts(config.prompts_dir)
        self.prompts.tag("account.description")  # a broken prompts_dir fails before any write
        self.provider = provider or make_provider(config)
        self.provider.clock = clock  # an HTTP-date Retry-After is read on the engine's clock
        self.price: Price | None = price_for(
            load_prices(config.prices_file), config.provider, config.model
        )
        if config.max_cost is not None and self.price is None:
            raise ConfigError(
                f"content.max_cost is set but there is no price for {config.provider} "
                f"{config.model}",
                "Add the model to a prices file (content.prices_file, USD per 1M tokens).",
            )
        self.progress = progress
        self._world_arg = world
        self._world: Any = None
        self._own_world = False
        self._memory_cache: dict[str, str] = {}
        self._pack_tags: dict[str, str] = {}
        self._limiter = RateLimiter(config.requests_per_minute, config.tokens_per_minute, clock)
        self._jitter = random.Random(seed)
        self._deadline_at: float | None = None
        self._spent = 0.0
        self._reserved = 0.0
        self._budget_stop = False
        self._down = False
        self._fatal: CallError | None = None
        self._consecutive = 0
        self._out_per_item: dict[str, float] = {}
        self._sem: asyncio.Semaphore | None = None
        self._runner: LoopThread | None = None
        self._opened = False
        self.counts: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.call_seconds = 0.0  # summed over calls (overlapping)
        self.wall_seconds = 0.0  # elapsed while calls were being made

    # -- cache ---------------------------------------------------------------------------------

    def cache_key(self, request: ContentRequest) -> str:
        context = sorted(visible_context(request.context).items())
        industry = request.context.get("industry", "")
        if industry not in self._pack_tags:
            self._pack_tags[industry] = pack_tag(self.packs.get(industry))
        material = [
            self.config.provider,
            self.config.model,
            self.prompts.tag(request.kind),
            self._pack_tags[industry],
            request.kind,
            request.key,
            context,
        ]
        return hashlib.sha256(json.dumps(material, ensure_ascii=False).encode()).hexdigest()

    def _store(self) -> Any:
        if self._world is None and self._world_arg is not None:
            if isinstance(self._world_arg, str | Path):
                from orgforge.world.store import World

                self._world, self._own_world = World(self._world_arg), True
            else:
                self._world = self._world_arg
        return self._world

    def _cache_get(self, keys: list[str]) -> dict[str, str]:
        store = self._store()
        if store is None:
            return {k: self._memory_cache[k] for k in keys if k in self._memory_cache}
        return store.cache_get_many(keys)

    def _cache_put(self, entries: list[tuple[str, str]], versions: dict[str, str]) -> None:
        store = self._store()
        if store is None:
            self._memory_cache.update(entries)
            return
        store.cache_put_many(entries, self.config.provider, self.config.model, versions)

    def close(self) -> None:
        """Close the SDK client, stop the engine's event loop, release the world handle."""
        if self._runner is not None:
            if self._opened:
                try:
                    self._runner.run(self.provider.close())
                finally:
                    self._opened = False
            self._runner.stop()
            self._runner = None
            self._sem = None
        if self._own_world and self._world is not None:
            self._world.close()
        self._world = None

    # -- fill ----------------------------------------------------------------------------------

    def fill(self, requests: Sequence[ContentRequest]) -> list[str]:
        out: list[str | None] = [None] * len(requests)
        keys: dict[int, str] = {}
        for i, request in enumerate(requests):
            if request.kind in KINDS:
                keys[i] = self.cache_key(request)
            else:
                out[i] = self._fallback(request, "unknown_kind")
        cached = self._cache_get(list(keys.values()))
        todo = []
        for i, key in keys.items():
            if key in cached:
                out[i] = cached[key]
            else:
                todo.append(i)
        hits = len(keys) - len(todo)
        self.counts["items"] += len(requests)
        self.counts["cache_hits"] += hits
        self._advance(len(requests) - len(todo))

        results: dict[int, str] = {}
        reasons: dict[int, str] = {}
        if todo:
            batches = self._batches(requests, todo)
            self.counts["batches"] += len(batches)
            started = self.clock.monotonic()
            if self._runner is None:
                self._runner = LoopThread()
            try:
                self._runner.run(self._run(requests, batches, results, reasons))
            except BaseException:
                self._keep(requests, keys, results)  # what was bought before a fatal error
                raise
            finally:
                self.wall_seconds += self.clock.monotonic() - started
        for i in todo:
            if i in results:
                out[i] = results[i]
            else:
                out[i] = self._fallback(requests[i], reasons.get(i, "error"))
        self.counts["llm_items"] += len(results)
        self._keep(requests, keys, results)
        return [text or "" for text in out]

    def _keep(
        self, requests: Sequence[ContentRequest], keys: dict[int, str], results: dict[int, str]
    ) -> None:
        """Cache accepted texts (by the request's cache key)."""
        if not results:
            return
        fresh = [(keys[i], text) for i, text in results.items()]
        versions = {keys[i]: self.prompts.tag(requests[i].kind) for i in results}
        self._cache_put(fresh, versions)

    def _fallback(self, request: ContentRequest, reason: str) -> str:
        self.reasons[reason] += 1
        self.counts["fallbacks"] += 1
        return self.offline.text(request.kind, request.key, request.context)

    def _advance(self, n: int) -> None:
        if self.progress is not None and n:
            self.progress(n)

    def _batches(
        self, requests: Sequence[ContentRequest], todo: list[int]
    ) -> list[tuple[str, list[int]]]:
        by_kind: dict[str, list[int]] = {}
        for i in todo:
            by_kind.setdefault(requests[i].kind, []).append(i)
        batches = []
        for kind, indexes in by_kind.items():
            indexes.sort(key=lambda i: (requests[i].context.get("industry", ""), requests[i].key))
            start = 0
            for size in batch_sizes(len(indexes), self.config.batch_size):
                batches.append((kind, indexes[start : start + size]))
                start += size
        return batches

    async def _run(
        self,
        requests: Sequence[ContentRequest],
        batches: list[tuple[str, list[int]]],
        results: dict[int, str],
        reasons: dict[int, str],
    ) -> None:
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.config.concurrency)
        if self._deadline_at is None:
            self._deadline_at = self.clock.monotonic() + self.config.deadline
        if not self._opened:
            await self.provider.open()
            self._opened = True
        tasks = [
            self._batch(requests, kind, indexes, results, reasons) for kind, indexes in batches
        ]
        await asyncio.gather(*tasks)
        if self._fatal is not None:
            error = self._fatal
            raise ContentError(
                f"{self.provider.label}: {error.kind.replace('_', ' ')} "
                f"(HTTP {error.status}): {error}",
                "Check the API key (environment or .env), content.model and the endpoint; "
                "or use --text offline.",
            )

    async def _batch(
        self,
        requests: Sequence[ContentRequest],
        kind: str,
        indexes: list[int],
        results: dict[int, str],
        reasons: dict[int, str],
    ) -> None:
        items, reason = await self._attempts(requests, kind, indexes)
        if items is not None:
            expected = {str(n) for n in range(1, len(indexes) + 1)}
            self.counts["extra_items"] += len(set(items) - expected)
            for n, i in enumerate(indexes, start=1):
                failure, text = check(kind, items.get(str(n)), requests[i])
                if failure is None:
                    results[i] = text
                else:
                    reasons[i] = failure
            self._advance(len(indexes))
            return
        if reason not in STOPPED and len(indexes) > 1 and self._fatal is None:
            self.counts["splits"] += 1
            middle = len(indexes) // 2
            await asyncio.gather(
                self._batch(requests, kind, indexes[:middle], results, reasons),
                self._batch(requests, kind, indexes[middle:], results, reasons),
            )
            return
        for i in indexes:
            reasons[i] = reason or "error"
        self._advance(len(indexes))

    # -- one batch, with retries ---------------------------------------------------------------

    def _remaining(self) -> float:
        assert self._deadline_at is not None
        return self._deadline_at - self.clock.monotonic()

    def _expected_output(self, kind: str, n: int) -> float:
        per_item = self._out_per_item.get(kind, typical_tokens(kind))
        return n * per_item + CALL_OVERHEAD_TOKENS

    def _output_cap(self, kind: str, n: int) -> int:
        spec = KINDS[kind]
        per_item = min(spec.max_chars, 3 * TYPICAL_CHARS.get(kind, 200)) / 3.0
        cap = n * (per_item + ITEM_OVERHEAD_TOKENS) + CALL_OVERHEAD_TOKENS
        return int(max(256, min(self.config.max_output_tokens, cap)))

    def estimate_cost(self, input_tokens: float, output_tokens: float) -> float:
        return self.price.cost(input_tokens, output_tokens) if self.price else 0.0

    def _reserve(self, cost: float) -> bool:
        if self.config.max_cost is None:
            self._reserved += cost
            return True
        if self._budget_stop or self._spent + self._reserved + cost > self.config.max_cost:
            self._budget_stop = True
            return False
        self._reserved += cost
        return True

    def _settle(self, estimate: float, reply: Reply, kind: str, n: int) -> None:
        self._reserved -= estimate
        self.counts["input_tokens"] += reply.input_tokens
        self.counts["output_tokens"] += reply.output_tokens
        self._spent += self.estimate_cost(reply.input_tokens, reply.output_tokens)
        if reply.output_tokens and n:
            seen = reply.output_tokens / n
            old = self._out_per_item.get(kind)
            self._out_per_item[kind] = seen if old is None else 0.7 * old + 0.3 * seen

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.config.backoff_max, self.config.backoff * 2**attempt)
        return ceiling * (0.5 + 0.5 * self._jitter.random())

    def _transport_failure(self) -> None:
        self._consecutive += 1
        if self._consecutive >= self.config.max_consecutive_failures:
            self._down = True

    async def _attempts(
        self, requests: Sequence[ContentRequest], kind: str, indexes: list[int]
    ) -> tuple[dict[str, Any] | None, str | None]:
        batch = [requests[i] for i in indexes]
        system, user = render_batch(self.prompts, kind, batch, self.packs)
        n = len(batch)
        est_in = (len(system) + len(user)) / CHARS_PER_TOKEN + CALL_OVERHEAD_TOKENS
        max_tokens = self._output_cap(kind, n)
        self.counts["prompt_chars"] += len(system) + len(user)
        last = "error"
        for attempt in range(self.config.max_attempts):
            if self._fatal is not None or self._down:
                return None, "provider_down"
            if self._remaining() <= 0:
                return None, "deadline"
            est_out = self._expected_output(kind, n)
            # The budget is guarded with the worst case (dense prompt, every output token the
            # call may use), so a run never spends past max_cost; the expected figures pace the
            # tokens-per-minute limit.
            estimate = self.estimate_cost(est_in * BUDGET_INPUT_MARGIN, max_tokens)
            if not self._reserve(estimate):
                return None, "budget"
            delay = None
            try:
                reply = await self._call(system, user, max_tokens, est_in + est_out)
            except CallError as error:
                self._reserved -= estimate
                if error.kind in ("deadline", "provider_down"):
                    return None, error.kind  # stopped before the call was made
                self.errors[error.kind] += 1
                if error.kind in ("auth", "not_found"):
                    self._fatal = error
                    return None, "provider_down"
                last = error.kind
                if not error.retryable:
                    self._transport_failure()
                    return None, last
                delay = error.retry_after
            else:
                self._settle(estimate, reply, kind, n)
                items, reason = parse_reply(reply)
                if items is not None:
                    self._consecutive = 0
                    return items, None
                self.errors[reason or "malformed"] += 1
                last = reason or "malformed"
                if last in ("refusal", "truncated"):
                    return None, last  # the same batch would fail again: split it instead
            if attempt + 1 < self.config.max_attempts:
                self.counts["retries"] += 1
                wait = self._backoff(attempt) if delay is None else delay
                await self.clock.asleep(max(0.0, min(wait, self._remaining())))
        if last in TRANSPORT:
            self._transport_failure()
        return None, last

    async def _call(self, system: str, user: str, max_tokens: int, tokens: float) -> Reply:
        if not await self._limiter.acquire(tokens, until=self._deadline_at):
            raise CallError("deadline", "deadline passed", retryable=False)
        assert self._sem is not None
        async with self._sem:
            # Checked again once a slot is free: the provider may have died meanwhile.
            if self._fatal is not None or self._down:
                raise CallError("provider_down", "provider down", retryable=False)
            remaining = self._remaining()
            if remaining <= 0:
                raise CallError("deadline", "deadline passed", retryable=False)
            timeout = min(self.config.timeout, remaining)
            self.counts["calls"] += 1
            started = self.clock.monotonic()
            try:
                return await asyncio.wait_for(
                    self.provider.call(system, user, RESPONSE_SCHEMA, max_tokens, timeout),
                    timeout=timeout + 1.0,
                )
            except TimeoutError:
                raise CallError("timeout", "timed out", retryable=True) from None
            finally:
                self.call_seconds += self.clock.monotonic() - started

    # -- summary -------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:  # type: ignore[override]
        c = self.counts
        return {
            "provider": self.config.provider,
            "model": self.config.model,
            "calls": c["calls"],
            "batches": c["batches"],
            "items": c["items"],
            "llm_items": c["llm_items"],
            "cache_hits": c["cache_hits"],
            "fallbacks": c["fallbacks"],
            "fallback_reasons": dict(sorted(self.reasons.items())),
            "retries": c["retries"],
            "splits": c["splits"],
            "extra_items": c["extra_items"],
            "errors": dict(sorted(self.errors.items())),
            "input_tokens": c["input_tokens"],
            "output_tokens": c["output_tokens"],
            "prompt_chars": c["prompt_chars"],
            "cost_usd": round(self._spent, 6) if self.price is not None else None,
            "max_cost": self.config.max_cost,
            "budget_stopped": self._budget_stop,
            "provider_down": self._down or self._fatal is not None,
            "rate_limit_wait_s": round(self._limiter.waited, 3),
            "seconds": round(self.wall_seconds, 3),
        }
