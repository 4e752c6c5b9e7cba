"""The LLM engine's pure parts: batching, validation, parsing, prices, prompts, limits."""

from __future__ import annotations

import asyncio

import pytest

from orgforge.clock import SimulatedClock
from orgforge.content.contract import ContentRequest
from orgforge.content.pacing import RateLimiter
from orgforge.content.pricing import load_prices, price_for
from orgforge.content.prompts import Prompts, parse_template
from orgforge.content.providers import Reply, retry_after_seconds
from orgforge.content.replies import batch_sizes, check, parse_reply
from orgforge.errors import ConfigError

ACCOUNT = ContentRequest(
    "account.description", "Account/0001", {"account": "Northgate Bancorp", "industry": "x"}
)


@pytest.mark.parametrize(
    ("n", "size", "expected"),
    [
        (0, 15, []),
        (7, 15, [7]),
        (15, 15, [15]),
        (20, 15, [20]),
        (21, 15, [11, 10]),
        (62, 15, [16, 16, 15, 15]),
        (300, 15, [15] * 20),
        (10, 1, [1] * 10),
        (50, 25, [25, 25]),
    ],
)
def test_batch_sizes(n, size, expected):
    sizes = batch_sizes(n, size)
    assert sizes == expected and sum(sizes) == n


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (None, "missing"),
        ("Too short.", "length"),
        ("x" * 1001, "length"),
        (
            "[Company] is a regional bank growing its treasury services business fast.",
            "placeholder",
        ),
        (
            "Northgate Bancorp serves {segment} across the state with a modern core system.",
            "placeholder",
        ),
        (
            "I'm sorry, but I can't write a description of Northgate Bancorp for you today.",
            "refusal",
        ),
        (
            "As an AI language model I cannot describe Northgate Bancorp or its services here.",
            "refusal",
        ),
        (
            "A community bank with forty branches modernising its loan origination platform.",
            "mentions",
        ),
        ("Northgate Bancorp is a community bank with forty branches modernising lending.", None),
        (
            "I'm sorry, I can't help with Northgate Bancorp: it is a real company I don't know.",
            "refusal",
        ),
        (
            "I can't assist with describing Northgate Bancorp, a bank with forty branches.",
            "refusal",
        ),
        (
            "Sorry, but I won't write about Northgate Bancorp and its forty branches today.",
            "refusal",
        ),
        (
            "Northgate Bancorp [sic] is a community bank with forty branches modernising lending.",
            None,
        ),
        ('"Northgate Bancorp is a community bank with forty branches modernising lending."', None),
    ],
)
def test_item_checks(text, reason):
    failure, cleaned = check("account.description", text, ACCOUNT)
    assert failure == reason
    if reason is None:
        assert not cleaned.startswith('"')


def test_subject_lines_are_single_line():
    request = ContentRequest("case.subject", "Case/0001/1", {})
    failure, text = check("case.subject", "Claims portal\n  login fails after SSO change", request)
    assert failure is None and text == "Claims portal login fails after SSO change"


def test_parse_reply_shapes():
    items, reason = parse_reply(Reply(text='{"items": [{"id": "1", "text": "a"}]}'))
    assert items == {"1": "a"} and reason is None
    assert parse_reply(Reply(text='```json\n{"items": [{"id": 2, "text": "b"}]}\n```'))[0] == {
        "2": "b"
    }
    assert parse_reply(Reply(data={"items": '[{"id": "1", "text": "c"}]'}))[0] == {"1": "c"}
    assert parse_reply(Reply(text='{"items": [{"id": "1"')) == (None, "malformed")
    assert parse_reply(Reply(text='{"items": [{"id": "1"', truncated=True)) == (None, "truncated")
    assert parse_reply(Reply(text='{"answer": 1}')) == (None, "malformed")
    assert parse_reply(Reply(refusal="no")) == (None, "refusal")


def test_retry_after_header_forms():
    assert retry_after_seconds({"retry-after": "2"}) == 2.0
    assert retry_after_seconds({"retry-after-ms": "1500"}) == 1.5
    assert retry_after_seconds({}) is None
    date = "Wed, 21 Oct 2015 07:28:00 GMT"  # in the past: no wait
    assert retry_after_seconds({"retry-after": date}) == 0.0


def test_prices_longest_prefix_and_user_override(tmp_path):
    table = load_prices()
    assert price_for(table, "openai", "gpt-4o-mini-2024-07-18").input == 0.15
    assert price_for(table, "openai", "gpt-4o-2024-08-06").input == 2.50
    assert price_for(table, "anthropic", "claude-opus-4-5-20251101").output == 25.0
    assert price_for(table, "openai", "unknown-model") is None
    assert price_for(table, "compatible", "llama3.1:8b").input == 0.0
    user = tmp_path / "prices.yaml"
    user.write_text("openai:\n  gpt-4o-mini: {input: 1, output: 2}\n")
    assert price_for(load_prices(user), "openai", "gpt-4o-mini").output == 2.0
    user.write_text("openai:\n  gpt-4o-mini: {input: 1}\n")
    with pytest.raises(ConfigError, match="needs input and output"):
        load_prices(user)


def test_prompt_override_and_version_line(tmp_path):
    builtin = Prompts()
    assert builtin.get("case.subject").version == "1"
    (tmp_path / "case.subject.txt").write_text("# version: 3\nShort subjects please.\n")
    user = Prompts(tmp_path)
    assert user.get("case.subject").body == "Short subjects please."
    assert user.tag("case.subject") != builtin.tag("case.subject")
    assert user.get("case.description").body == builtin.get("case.description").body
    with pytest.raises(ConfigError, match="version"):
        parse_template("x", "no version line\nbody", "x.txt")
    with pytest.raises(ConfigError, match="not a directory"):
        Prompts(tmp_path / "missing")


def test_every_kind_has_a_prompt():
    from orgforge.content.contract import KINDS

    prompts = Prompts()
    for kind in KINDS:
        assert "{min_chars}" in prompts.get(kind).body, kind


def test_token_limiter_waits_for_capacity():
    clock = SimulatedClock()
    limiter = RateLimiter(0, 6000, clock)  # 100 tokens/s, burst of 1,000

    async def go() -> float:
        await limiter.acquire(1000)
        await limiter.acquire(100)
        return clock.elapsed

    assert asyncio.run(go()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "text",
    [
        "I'm sorry for the delay: the patch for the SSO login loop ships Friday.",
        "I can't reach Dana by phone, so I emailed the revised proposal instead.",
        "Sorry for the trouble — the export job is fixed; please confirm on your side.",
    ],
)
def test_apologies_in_real_notes_are_not_refusals(text):
    request = ContentRequest("case_comment.body", "CaseComment/0001/1/1", {})
    assert check("case_comment.body", text, request)[0] is None
