"""The naming pass: each account's industry and a name unique within the world.

Runs once, in account order, before any subtree is generated, because uniqueness is the one
thing an account can't decide alone. Every draw is a hash of (seed, account index, attempt), so
account i's name depends only on accounts before it: growing the world never renames anyone.
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass
from string import Formatter

from orgforge.generate.distributions import Weighted, hash_key, hash_unit
from orgforge.generate.plan import Plan
from orgforge.generate.pools import Place
from orgforge.generate.spill import SpillingSet
from orgforge.packs import Company

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_ROMAN = ("II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X")
# A candidate's draws are hash_units(seed, "name", index, attempt, n=6), inlined: the parent names
# every account serially, so its per-call overhead is a real share of a run.
_SIX_WORDS = struct.Struct("<6Q")
_TWO_64 = 2**64


@dataclass(frozen=True, slots=True)
class AccountName:
    index: int
    industry: str
    name: str
    domain: str
    segment: str = ""  # the pack segment's id ("" for a pack without segments)
    place: Place | None = None  # the place its name shows (its city or state), if any


def slug(name: str) -> str:
    return _slug_of_lower(name.lower())


def _slug_of_lower(lower: str) -> str:
    # Most names are ASCII letters and spaces (and "&"), which need no regex; the rest take it.
    plain = lower.replace("&", "and").replace(" ", "")
    if plain.isascii() and plain.isalnum():
        return plain[:40]
    return _NON_ALNUM.sub("", lower.replace("&", "and"))[:40] or "company"


def _pick(seq, word: int):
    """The pick hash_units' unit ``word / 2**64`` makes: the same float arithmetic."""
    return seq[int(word / _TWO_64 * len(seq))]


def _slots(pattern: str) -> frozenset[str]:
    """The slots str.format fills in ``pattern`` (parsed as it parses them: "{{" is no slot)."""
    return frozenset(field for _, field, _, _ in Formatter().parse(pattern) if field is not None)


@dataclass(frozen=True, slots=True)
class _Parts:
    """One pack's company-name parts, gathered once per run instead of once per candidate."""

    patterns: list[tuple[str, frozenset[str]]]  # each with the slots it shows
    words: list[str]
    suffixes: list[str]
    word_after: dict[str, str]  # stands in for a second draw of the same word

    @classmethod
    def of(cls, company: Company, patterns_of: list[str] | None = None) -> _Parts:
        patterns = [(p, _slots(p)) for p in (patterns_of or company.patterns)]
        words = company.words
        after = {w: words[(words.index(w) + 1) % len(words)] for w in words}
        return cls(patterns, words, company.suffixes, after)


def place_words(pools) -> frozenset[str]:
    """Every city, state and country name of the geography."""
    return frozenset(
        word for p in pools.places.values for word in (p.city, p.state_name, p.country)
    )


def surnames_for_names(pools) -> tuple[str, ...]:
    """The surnames a company name may show: those that are not also place names."""
    places = place_words(pools)
    return tuple(n for n in pools.last_names if n not in places)


class Namer:
    """Stateful across accounts (it remembers names taken); feed it indexes in order."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        # Names are unique case-insensitively through their domains: a taken name's slug is
        # taken too. A world's worth of them moves to disk past SPILL_AT (generate/spill.py).
        self.domains = SpillingSet()
        self.next_index = 0
        # the keys' fixed heads, so a draw only formats its index (and attempt)
        self._industry_key = hash_key(plan.seed, "industry") + b"/"
        self._shares = [plan.industries.share(v) for v in plan.industries.values]
        self._industry_counts = [0] * len(self._shares)
        self._industries: dict[int, str] = {}
        self._dealt = 0
        self._name_key = hash_key(plan.seed, "name") + b"/"
        # {last} never reads as a place ("Austin Mechanical" in Chicago): place names are left out
        self.surnames = surnames_for_names(plan.pools)
        self._parts = {
            (industry, segment.id if segment else ""): _Parts.of(
                pack.company, segment.patterns if segment else None
            )
            for industry, pack in plan.packs.items()
            for segment in (pack.segments or [None])
        }
        self._segments = {
            industry: Weighted([(s.id, s.weight) for s in pack.segments])
            for industry, pack in plan.packs.items()
            if pack.segments
        }

    def segment(self, index: int, industry: str) -> str:
        """The segment of account ``index``: a weighted pick from its own hash, so it never
        depends on another account."""
        segments = self._segments.get(industry)
        if segments is None:
            return ""
        return segments.pick_unit(hash_unit(self.plan.seed, "segment", index))

    def industry(self, index: int) -> str:
        """Industries are dealt by quota, in account order: account n goes to the industry
        furthest below its share of the first n + 1 accounts (ties broken by
        hash_unit(seed, "industry", n)). So every prefix of accounts is within one account of
        the weights, and exactly on them whenever they make whole numbers (100 accounts over
        four equal packs: 25 each)."""
        known = self._industries
        while self._dealt <= index:
            n = self._dealt
            key = self._industry_key + b"%d" % n
            u = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little") / _TWO_64
            counts, shares = self._industry_counts, self._shares
            deficits = [
                round(share * (n + 1) - c, 9) for share, c in zip(shares, counts, strict=True)
            ]
            top = max(deficits)
            tied = [k for k, d in enumerate(deficits) if d == top]
            chosen = tied[int(u * len(tied))]
            counts[chosen] += 1
            known[n] = self.plan.industries.values[chosen]
            self._dealt += 1
            if len(known) > 4096:  # only recent accounts are asked for again
                for old in [i for i in known if i < n - 1024]:
                    del known[old]
        return known[index]

    def _candidate(self, index: int, parts: _Parts, attempt: int) -> tuple[str, Place | None]:
        pools = self.plan.pools
        key = self._name_key + b"%d/%d" % (index, attempt)
        w = _SIX_WORDS.unpack_from(hashlib.blake2b(key, digest_size=64).digest())

        # Each slot has its own word of the hash, so drawing only the slots the pattern shows
        # changes no pick (the others went unused).
        pattern, slots = _pick(parts.patterns, w[1])
        values = {}
        place = None
        if "last" in slots:
            values["last"] = _pick(self.surnames, w[4])
        if "city" in slots or "state" in slots:
            place = pools.places.pick_unit(w[0] / _TWO_64)  # the account's address then
            values["city"] = place.city
            values["state"] = place.state_name
        if "word" in slots or "word2" in slots:
            word = values["word"] = _pick(parts.words, w[2])
            word2 = _pick(parts.words, w[3])
            values["word2"] = parts.word_after[word] if word2 == word else word2
        name = pattern.format_map(values)
        if attempt >= 3:
            name = f"{name} {_pick(parts.suffixes, w[5])}"
        if attempt >= 6:
            name = f"{name} {_ROMAN[min(attempt - 6, len(_ROMAN) - 1)]}"
        if attempt >= 6 + len(_ROMAN):
            name = f"{name} {index + 1}"
        return name, place

    def name(self, index: int) -> AccountName:
        if index != self.next_index:
            raise ValueError(f"accounts must be named in order (expected {self.next_index})")
        self.next_index += 1
        industry = self.industry(index)
        segment = self.segment(index, industry)
        parts = self._parts[industry, segment]
        attempt = 0
        while True:
            name, place = self._candidate(index, parts, attempt)
            domain = _slug_of_lower(name.lower())
            if domain not in self.domains:
                break
            attempt += 1
        self.domains.add(domain)
        return AccountName(index, industry, name[:255], f"{domain}.example.com", segment, place)
