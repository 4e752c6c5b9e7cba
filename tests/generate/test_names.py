"""The naming pass's shortcuts give what its plain definitions give."""

from __future__ import annotations

import re

import pytest

from orgforge.api import resolve
from orgforge.generate.distributions import hash_unit, hash_units
from orgforge.generate.names import Namer, slug
from orgforge.generate.plan import make_plan


def reference_candidate(plan, index: int, industry: str, attempt: int) -> str:
    """A candidate as the module docstring defines it: every slot drawn from hash_units."""
    company = plan.packs[industry].company
    units = hash_units(plan.seed, "name", index, attempt, n=6)

    def pick(seq, slot: int):
        return seq[int(units[slot] * len(seq))]

    place = plan.pools.places.pick_unit(units[0])
    word, word2 = pick(company.words, 2), pick(company.words, 3)
    if word2 == word:
        word2 = company.words[(company.words.index(word) + 1) % len(company.words)]
    name = pick(company.patterns, 1).format(
        last=pick(plan.pools.last_names, 4),
        city=place.city,
        state=place.state_name,
        word=word,
        word2=word2,
    )
    if attempt >= 3:
        name = f"{name} {pick(company.suffixes, 5)}"
    return name


@pytest.mark.parametrize("seed", [0, 42, 2**40 + 7])
def test_draws_are_the_hashes_of_seed_index_and_attempt(seed):
    plan = make_plan(resolve(accounts=300, seed=seed, as_of="2026-11-23"), None)
    namer = Namer(plan)
    for index in range(300):
        industry = namer.industry(index)
        assert industry == plan.industries.pick_unit(hash_unit(seed, "industry", index))
        parts = namer._parts[industry]
        for attempt in (0, 1, 4):
            expected = reference_candidate(plan, index, industry, attempt)
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
