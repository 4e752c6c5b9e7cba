"""The LLM engine against a scripted local server, through the real OpenAI/Anthropic SDKs."""

from __future__ import annotations

import asyncio

import pytest

from orgforge.clock import SimulatedClock
from orgforge.content.llm import LLMEngine
from orgforge.content.offline import OfflineEngine
from orgforge.content.pacing import RateLimiter
from orgforge.content.testing import FakeLLM
from orgforge.errors import ConfigError, ContentError
from orgforge.packs import load_packs


def engine_for_test(config, clock=None) -> LLMEngine:
    """The engine on a simulated clock by default: back-offs, Retry-After waits, rate limits
    and the deadline then take no real time, and elapsed time is exact."""
    return LLMEngine(
        config.content, load_packs(), seed=config.seed, world=None, clock=clock or SimulatedClock()
    )


def of_kind(requests, kind):
    return [r for r in requests if r.kind == kind]


def offline_texts(config, requests):
    return OfflineEngine(load_packs(), config.seed).fill(requests)


def test_good_batches_fill_every_item_from_the_model(server, make_config, sample):
    config = make_config(server)
    requests = sample(config)
    engine = engine_for_test(config)
    done = []
    engine.progress = done.append
    texts = engine.fill(requests)
    stats = engine.stats()
    assert len(texts) == len(requests) == sum(done)
    assert stats["fallbacks"] == 0 and stats["llm_items"] == len(requests)
    assert all("local test server" in t for t in texts)
    # one kind per call (its template opens the prompt), at most 20 items per call, and no
    # more calls per kind than ceil(items / 15)
    from orgforge.content.prompts import Prompts

    prompts = Prompts()
    per_kind = {k: len(of_kind(requests, k)) for k in {r.kind for r in requests}}
    calls_per_kind: dict[str, int] = {}
    assert stats["calls"] == server.count
    for call in server.requests:
        prompt = call["body"]["messages"][1]["content"]
        kinds = [k for k in per_kind if prompt.startswith(prompts.get(k).body.split("{")[0])]
        assert len(kinds) == 1, prompt[:80]
        calls_per_kind[kinds[0]] = calls_per_kind.get(kinds[0], 0) + 1
        assert prompt.count('\n{"id":') <= 20
    for kind, n in per_kind.items():
        assert calls_per_kind[kind] <= -(-n // 15), kind
    assert server.requests[0]["body"]["response_format"]["type"] == "json_schema"


def test_item_failures_fall_back_per_item_and_are_counted(server, make_config, sample):
    actions = {1: "drop:2", 2: "refuse_item", 3: "placeholder", 4: "short", 5: "extra"}
    server.script = lambda n, body: actions.get(n)
    config = make_config(server, batch_size=5)
    requests = of_kind(sample(config), "task.description")[:25]  # 5 batches of 5
    engine = engine_for_test(config)
    texts = engine.fill(requests)
    stats = engine.stats()
    assert stats["calls"] == 5
    assert stats["fallback_reasons"] == {"missing": 2, "refusal": 1, "placeholder": 1, "length": 1}
    assert stats["fallbacks"] == 5 and stats["llm_items"] == 20
    assert stats["extra_items"] == 1
    offline = offline_texts(config, requests)
    assert sum(a == b for a, b in zip(texts, offline, strict=True)) == 5  # fallbacks = offline
    assert not any("I'm sorry" in t or "[Company]" in t or t == "Ok." for t in texts)


def test_mentions_rule_rejects_a_description_without_the_company(server, make_config, sample):
    def script(n, body):
        return None

    server.script = script
    config = make_config(server)
    requests = of_kind(sample(config), "account.description")
    engine = engine_for_test(config)
    # the fake server names the company: all pass
    engine.fill(requests)
    assert engine.stats()["fallbacks"] == 0
    from orgforge.content.replies import check

    failure, _ = check(
        "account.description",
        "A regional insurer modernising claims intake with a new portal this year.",
        requests[0],
    )
    assert failure == "mentions"


def test_malformed_json_is_retried(server, make_config, sample):
    server.script = lambda n, body: "malformed" if n == 1 else None
    config = make_config(server)
    requests = of_kind(sample(config), "case.subject")
    engine = engine_for_test(config)
    engine.fill(requests)
    stats = engine.stats()
    assert stats["fallbacks"] == 0
    assert stats["retries"] == 1 and stats["errors"] == {"malformed": 1}
    assert server.count == stats["calls"] == 2


def test_429_honours_retry_after(server, make_config, sample):
    server.script = lambda n, body: "429:1" if n == 1 else None
    config = make_config(server, backoff=0.0, backoff_max=0.0)
    requests = of_kind(sample(config), "case.subject")[:10]
    clock = SimulatedClock()
    engine = engine_for_test(config, clock)
    engine.fill(requests)
    stats = engine.stats()
    assert stats["errors"] == {"rate_limited": 1} and stats["retries"] == 1
    assert stats["fallbacks"] == 0
    assert clock.slept == [1.0]  # waited what Retry-After said, though backoff is 0


def test_500s_are_retried_with_backoff_then_succeed(server, make_config, sample):
    server.script = lambda n, body: "500" if n <= 2 else None
    config = make_config(server)
    requests = of_kind(sample(config), "case.subject")[:10]
    engine = engine_for_test(config)
    engine.fill(requests)
    stats = engine.stats()
    assert stats["errors"] == {"server": 2} and stats["retries"] == 2
    assert stats["fallbacks"] == 0 and server.count == 3


def test_slow_response_times_out_and_is_retried(server, make_config, sample):
    # The first answer would come after 60 s (or when the server stops): only the call's
    # timeout gets the batch its text, from the retry. No bound on the machine's speed.
    server.script = lambda n, body: "slow:60" if n == 1 else None
    config = make_config(server, timeout=0.5)
    requests = of_kind(sample(config), "case.subject")[:10]
    engine = engine_for_test(config)
    engine.fill(requests)
    stats = engine.stats()
    assert stats["errors"] == {"timeout": 1} and stats["fallbacks"] == 0
    assert server.count == 2


def test_a_batch_that_keeps_failing_is_split_in_halves(server, make_config, sample):
    def script(n, body):
        prompt = body["messages"][1]["content"]
        return "malformed" if prompt.count('\n{"id":') > 5 else None

    server.script = script
    config = make_config(server, max_attempts=2)
    requests = of_kind(sample(config), "task.subject")[:20]
    engine = engine_for_test(config)
    engine.fill(requests)
    stats = engine.stats()
    assert stats["fallbacks"] == 0 and stats["llm_items"] == 20
    assert stats["splits"] == 3  # 20 → 10 + 10 → 5+5 + 5+5
    assert stats["retries"] == 3  # one retry each for the 20 and both 10s


def test_truncated_answer_is_split_without_retrying(server, make_config, sample):
    def script(n, body):
        prompt = body["messages"][1]["content"]
        return "truncate" if prompt.count('\n{"id":') > 10 else None

    server.script = script
    config = make_config(server)
    requests = of_kind(sample(config), "task.subject")[:20]
    engine = engine_for_test(config)
    engine.fill(requests)
    stats = engine.stats()
    assert stats["fallbacks"] == 0 and stats["splits"] == 1 and stats["retries"] == 0


def test_a_dead_provider_never_hangs_the_run(make_config, sample):
    with FakeLLM() as fake:
        config = make_config(fake, max_attempts=2, max_consecutive_failures=2, concurrency=2)
    # the server is gone: connections are refused
    requests = sample(config)
    clock = SimulatedClock()
    engine = engine_for_test(config, clock)
    texts = engine.fill(requests)
    stats = engine.stats()
    # Two failed batches in a row mark it down: the batches after that make no calls.
    assert stats["calls"] < stats["batches"] * config.content.max_attempts
    assert clock.elapsed <= stats["calls"] * config.content.backoff_max
    assert stats["provider_down"] is True
    assert stats["fallbacks"] == len(requests) and stats["llm_items"] == 0
    assert stats["fallback_reasons"].get("provider_down", 0) > 0
    assert texts == offline_texts(config, requests)


def test_overall_deadline_falls_back_for_everything_left(server, make_config, sample):
    # Every call fails and is retried after 10-20 s of back-off on the simulated clock: the
    # 60 s deadline passes after a handful of calls, and everything left falls back.
    server.script = lambda n, body: "500"
    config = make_config(
        server,
        deadline=60.0,
        backoff=20.0,
        backoff_max=20.0,
        max_attempts=20,
        max_consecutive_failures=1000,
        concurrency=2,
    )
    requests = sample(config)
    clock = SimulatedClock()
    engine = engine_for_test(config, clock)
    engine.fill(requests)
    stats = engine.stats()
    assert stats["fallbacks"] == len(requests)
    assert stats["fallback_reasons"].get("deadline", 0) > 0
    assert clock.elapsed == pytest.approx(60.0)  # waited up to the deadline, not past it
    assert server.count <= 60 / 10 + 2 * config.content.concurrency


def test_budget_stops_calls_before_it_would_be_exceeded(server, make_config, sample, tmp_path):
    prices = tmp_path / "prices.yaml"
    prices.write_text("compatible:\n  test-model: {input: 1000, output: 1000}\n")
    # one task.subject call of 15-20 items costs about $1.5-2.5 at $1000 per 1M tokens
    config = make_config(server, prices_file=str(prices), max_cost=5.0, concurrency=1)
    requests = of_kind(sample(config), "task.subject") + of_kind(sample(config), "case.subject")
    engine = engine_for_test(config)
    texts = engine.fill(requests)
    stats = engine.stats()
    assert stats["budget_stopped"] is True
    assert 1 <= stats["calls"] < 4
    assert stats["cost_usd"] <= 5.0, stats
    assert stats["fallback_reasons"]["budget"] == len(requests) - stats["llm_items"]
    assert len(texts) == len(requests)
    expected = (stats["input_tokens"] + stats["output_tokens"]) * 1000 / 1e6
    assert stats["cost_usd"] == pytest.approx(expected)


def test_token_usage_is_read_from_responses(server, make_config, sample):
    config = make_config(server)
    engine = engine_for_test(config)
    engine.fill(sample(config))
    stats = engine.stats()
    assert stats["input_tokens"] == server.usage["input_tokens"] > 0
    assert stats["output_tokens"] == server.usage["output_tokens"] > 0


def test_json_schema_refused_falls_back_to_json_mode(make_config, sample):
    with FakeLLM(reject_json_schema=True) as fake:
        config = make_config(fake)
        engine = engine_for_test(config)
        engine.fill(of_kind(sample(config), "case.subject"))
        formats = [r["body"].get("response_format", {}).get("type") for r in fake.requests]
    assert formats[0] == "json_schema" and set(formats[1:]) == {"json_object"}
    assert engine.stats()["fallbacks"] == 0


def test_batch_refusal_is_split_then_falls_back(server, make_config, sample):
    server.script = lambda n, body: "refuse_batch"
    config = make_config(server)
    requests = of_kind(sample(config), "case.subject")[:4]
    engine = engine_for_test(config)
    engine.fill(requests)
    stats = engine.stats()
    assert stats["fallback_reasons"] == {"refusal": 4}
    assert stats["splits"] == 3 and stats["retries"] == 0


def test_bad_api_key_is_an_error_not_a_silent_fallback(server, make_config, sample, tmp_path):
    server.script = lambda n, body: "401" if n > 1 else None
    config = make_config(server, concurrency=1, batch_size=5)
    requests = of_kind(sample(config), "case.subject")
    world = tmp_path / "cache.db"
    engine = LLMEngine(config.content, load_packs(), seed=config.seed, world=str(world))
    with pytest.raises(ContentError, match="auth"):
        engine.fill(requests)
    engine.close()
    assert server.count == 2  # nothing more was tried once the key was refused
    # what the first call bought is kept: the next run asks only for the rest
    server.script = None
    engine = LLMEngine(config.content, load_packs(), seed=config.seed, world=str(world))
    engine.fill(requests)
    engine.close()
    stats = engine.stats()
    assert stats["cache_hits"] > 0 and stats["cache_hits"] + stats["llm_items"] == len(requests)


def test_anthropic_messages_with_tool_use(server, make_config, sample, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    calls = {"n": 0}

    def script(n, body):
        calls["n"] = n
        return "429:0" if n == 1 else None

    server.script = script
    config = make_config(
        server, provider="anthropic", model="claude-haiku-4-5", base_url=server.url
    )
    requests = of_kind(sample(config), "case.description")
    engine = engine_for_test(config)
    texts = engine.fill(requests)
    stats = engine.stats()
    assert stats["fallbacks"] == 0 and stats["errors"] == {"rate_limited": 1}
    first = server.requests[1]
    assert first["path"] == "/v1/messages"
    headers = first["headers"]
    assert "sk-ant-test" in (headers.get("x-api-key", ""), headers.get("authorization", "")[7:])
    assert "anthropic-version" in headers
    assert first["body"]["tool_choice"] == {"type": "tool", "name": "submit_texts"}
    assert first["body"]["tools"][0]["input_schema"]["required"] == ["items"]
    assert stats["input_tokens"] == server.usage["input_tokens"]
    assert stats["cost_usd"] > 0  # claude-haiku-4 prices apply
    assert all(t for t in texts)


def test_azure_openai_deployment_and_api_version(server, make_config, sample, monkeypatch):
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-test-key")
    config = make_config(
        server,
        provider="azure",
        model="gpt-4o-mini",
        base_url=None,
        azure_endpoint=server.url,
        azure_deployment="orgforge-dep",
        api_version="2024-10-21",
    )
    engine = engine_for_test(config)
    engine.fill(of_kind(sample(config), "case.subject"))
    call = server.requests[0]
    assert call["path"].startswith("/openai/deployments/orgforge-dep/chat/completions")
    assert "api-version=2024-10-21" in call["path"]
    assert call["headers"]["api-key"] == "azure-test-key"
    assert engine.stats()["fallbacks"] == 0


def test_missing_key_fails_before_anything_is_written(make_config, server):
    config = make_config(server, provider="openai", base_url=None)
    with pytest.raises(ConfigError, match="no API key") as error:
        engine_for_test(config)
    assert "OPENAI_API_KEY" in error.value.hint


def test_requests_per_minute_limit_spaces_calls(server, make_config, sample):
    # 60/min = 1/s with a burst of 10: 12 single-item calls need about 2 s of waiting
    config = make_config(server, batch_size=1, requests_per_minute=60, concurrency=16)
    requests = of_kind(sample(config), "case.subject")[:12]
    clock = SimulatedClock()
    engine = engine_for_test(config, clock)
    engine.fill(requests)
    stats = engine.stats()
    assert stats["calls"] == 12 and stats["fallbacks"] == 0
    # the 11th and 12th calls wait for a token each (1 s apart); waits may overlap
    assert 2.0 - 1e-9 <= clock.elapsed <= 3.0 and stats["rate_limit_wait_s"] >= 2.0 - 1e-9
    sent = [r["body"]["messages"][1]["content"].count('\n{"id":') for r in server.requests]
    assert sent == [1] * 12


def test_request_limiter_allows_a_burst_then_the_rate():
    clock = SimulatedClock()
    limiter = RateLimiter(600, 0, clock)  # 10/s, burst of 100

    async def go() -> tuple[float, float]:
        for _ in range(100):
            await limiter.acquire(0)
        burst = clock.elapsed
        await limiter.acquire(0)
        await limiter.acquire(0)
        return burst, clock.elapsed

    burst, total = asyncio.run(go())
    assert burst == 0.0 and total == pytest.approx(0.2)


def test_limiter_refuses_a_wait_past_the_deadline():
    clock = SimulatedClock()
    limiter = RateLimiter(60, 0, clock)  # 1/s, burst of 10

    async def go() -> list[bool]:
        taken = [await limiter.acquire(0, until=5.0) for _ in range(10)]
        return [*taken, await limiter.acquire(0, until=0.5), await limiter.acquire(0, until=5.0)]

    assert asyncio.run(go()) == [True] * 10 + [False, True]
    assert clock.elapsed == pytest.approx(1.0)
