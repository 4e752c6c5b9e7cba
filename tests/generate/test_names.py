"""The naming pass's shortcuts give what its plain definitions give."""

from __future__ import annotations

import re

import pytest

from orgforge.api import resolve
from orgforge.generate.distributions import hash_units
from orgforge.generate.names import Namer, place_words, slug
from orgforge.generate.plan import make_plan

_SURNAMES: dict[int, list[str]] = {}


def _surnames(pools) -> list[str]:
    """Surnames that are no city, state or country (a company name shows no false place)."""
    if id(pools) not in _SURNAMES:
        _SURNAMES[id(pools)] = [n for n in pools.last_names if n not in place_words(pools)]
    return _SURNAMES[id(pools)]


def reference_candidate(plan, index: int, industry: str, segment: str, attempt: int):
    """A candidate as the module docstring defines it: every slot drawn from hash_units, the
    pattern from the account's segment (if its pack has segments); with the place it shows."""
    pack = plan.packs[industry]
    company = pack.company
    patterns = pack.segment(segment).patterns if segment else company.patterns
    units = hash_units(plan.seed, "name", index, attempt, n=6)

    def pick(seq, slot: int):
        return seq[int(units[slot] * len(seq))]

    place = plan.pools.places.pick_unit(units[0])
    word, word2 = pick(company.words, 2), pick(company.words, 3)
    if word2 == word:
        word2 = company.words[(company.words.index(word) + 1) % len(company.words)]
    pattern = pick(patterns, 1)
    name = pattern.format(
        last=pick(_surnames(plan.pools), 4),
        city=place.city,
        state=place.state_name,
        word=word,
        word2=word2,
    )
    if attempt >= 3:
        name = f"{name} {pick(company.suffixes, 5)}"
    shows_place = "{city}" in pattern or "{state}" in pattern
    return name, place if shows_place else None


@pytest.mark.parametrize("seed", [0, 42, 2**40 + 7])
def test_draws_are_the_hashes_of_seed_index_and_attempt(seed):
    plan = make_plan(resolve(accounts=300, seed=seed, as_of="2026-11-23"), None)
    namer = Namer(plan)
    for index in range(300):
        industry = namer.industry(index)
        segment = namer.segment(index, industry)
        parts = namer._parts[industry, segment]
        for attempt in (0, 1, 4):
            expected = reference_candidate(plan, index, industry, segment, attempt)
            assert namer._candidate(index, parts, attempt) == expected


@pytest.mark.parametrize(
    "name",
    [
        "Hartwell & Sons Equipment",
        "O'Brien-Lacey Co.",
        "Zürich Präzision AG",
        "\u212aelvin Labs",  # KELVIN SIGN lowers to an ASCII "k"
        "İstanbul Holdings",  # lowers to "i" and a combining dot
        "&",
        "...",
        "",
        "A" * 60,
    ],
)
def test_slug_keeps_its_definition(name):
    plain = re.sub(r"[^a-z0-9]+", "", name.lower().replace("&", "and"))[:40] or "company"
    assert slug(name) == plain


@pytest.mark.parametrize("seed", [0, 42])
def test_industries_are_dealt_by_quota_so_every_prefix_is_on_its_weights(seed):
    """Equal weights over four packs: every prefix of n accounts is within one account of n/4
    per industry, and exactly on it when n is a multiple of four (prd: 25 each)."""
    from collections import Counter

    plan = make_plan(resolve(accounts=400, seed=seed, as_of="2026-11-23"), None)
    namer = Namer(plan)
    counts: Counter[str] = Counter()
    for index in range(400):
        counts[namer.industry(index)] += 1
        n = index + 1
        for value in plan.industries.values:
            assert abs(counts[value] - n * plan.industries.share(value)) < 1
        if n % 4 == 0:
            assert set(counts.values()) == {n // 4}
    # ties are broken by the seed's hash, not by pack order
    order = [Namer(plan).industry(i) for i in range(4)]
    assert len(set(order)) == 4
