"""The offline text engine: industry-flavoured text from templates and pack vocabulary.

Deterministic and free: every pick is drawn from a hash of (seed, kind, record key), never from
the structure's random streams, so text can be regenerated (or replaced by an LLM's) without
touching a single non-text field. Templates are data (``offline_templates.yaml``).

It runs for every text field of a world, so it is built for speed (~2 µs a text):

- **Specs.** A kind's templates are resolved per industry pack and per value of the context
  keys its tables are keyed by (``stage``, ``status``…) into a :class:`_Spec`, the first time
  that combination is asked for. Each sentence slot becomes a tuple of equally likely
  *sentences* in which tables, the pack's case subjects and an optional slot's "nothing" are
  already expanded (each repeated as often as its weight says). What is left in a sentence are
  *fields*: a context value, or a word pick (pack vocabulary, or the numbers of ``{number}``).
- **One pick per text.** A spec's slots form a mixed-radix number: one pick below the product
  of their sizes chooses the sentence of every slot; the words take the next digits.
- **Leaves.** The first ``COMPILE_AFTER`` texts of an engine are rendered by looping over the
  picked sentences' fields (:meth:`_Spec.render`). After that, each picked combination gets a
  *leaf*, kept for reuse: a function compiled per *shape* (the sequence of field types) that
  makes the text in one call and one f-string (:func:`_leaf_source`). Both give the same text;
  compiling only pays off in runs with more than a few thousand texts.
- **Randomness.** The record key's CRC-32, continuing the CRC of ``"{seed}|{kind}|"``, goes
  through simple tabulation hashing (:func:`random_tables`) to give 64 random bits; the pick
  takes their lowest digit, and each word the next one. The same request gets the same text
  whatever else is in the batch, and in any process (Python's randomized ``hash()`` is never
  used).
"""

from __future__ import annotations

import hashlib
import math
import re
import sys
import zlib
from array import array
from collections.abc import Mapping, Sequence
from functools import cache, reduce
from importlib import resources
from types import CodeType, FunctionType
from typing import Any, NamedTuple

import yaml

from orgforge.content.contract import KINDS, ContentEngine, ContentRequest
from orgforge.packs import Pack

_PLACEHOLDER = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_.]*)\}")

# What a missing context value reads as, so a template never prints a raw {placeholder}.
DEFAULTS = {
    "account": "the customer",
    "contact": "the customer contact",
    "contact_first": "there",
    "title": "main contact",
    "product": "the platform",
    "opportunity": "the current evaluation",
    "city": "its home market",
    "state": "its region",
    "employees": "several hundred",
    "size": "mid-sized",
    "industry_label": "industry",
    "amount": "mid-size",
    "subject": "the reported issue",
    "owner": "Your account team",
    "next_step_hint": "share the requirements document and book a follow-up",
    "answer": "Not enough evidence yet.",
    "comment": "Update: making progress on this.",
}

# Bump when the same request can get a different text (templates, picking, hashing): a world
# made by an older engine then counts as another recipe and is rewritten, not mixed.
ENGINE_VERSION = 4
NUMBERS = range(1000, 900_000)  # what {number} reads as: a 4-6 digit number
P_SCALE = 10_000  # a slot's probability p counts in steps of 1/P_SCALE
# Leaves are compiled once the engine has rendered this many texts: compiling the few dozen
# shapes costs ~10 ms, which compiled leaves (~1 µs a text faster) repay only in bigger runs.
COMPILE_AFTER = 10_000
# The hash gives 64 bits and the picks consume them digit by digit; a spec whose picks could
# use more gets more, so that every pick keeps ≥ 2^24 of range (bias < 1e-5).
SPARE_BITS = 24
LIST_LIMIT = 65_536  # a spec with up to this many combinations keeps its leaves in a list
CACHE_LIMIT = 20_000  # specs kept per kind, leaves per bigger spec; beyond, start again
# Compiled leaves kept in all (~600 bytes each): a big run asks for ever more combinations,
# so past this many the engine drops them all and compiles again what is asked next. The text
# is the same either way; the few hot leaves are back within a chunk. A 10k-account world's
# worker makes ~25k; at 20,000 a worker's peak is ~6 MiB lower at 60k accounts, at no cost seen.
LEAF_LIMIT = 20_000

_MASK64 = (1 << 64) - 1


@cache
def random_tables() -> tuple[tuple[int, ...], ...]:
    """Four tables of 256 random 64-bit numbers, one per byte of a CRC-32.

    A CRC is linear: keys that differ alike (the same character changed at the same place) get
    CRCs that differ by the same bits, so a CRC is not used as randomness itself. The XOR of
    one table entry per byte of it is: simple tabulation hashing, which is 3-independent and
    behaves like a truly random function for picks like these (Pătraşcu & Thorup 2012). The
    tables are fixed (SHAKE-128 of a label, read little-endian): text never depends on the
    platform, and the seed enters through the CRC.
    """
    raw = array("Q", hashlib.shake_128(b"orgforge offline text").digest(4 * 256 * 8))
    if sys.byteorder == "big":
        raw.byteswap()
    return tuple(tuple(raw[i * 256 : (i + 1) * 256]) for i in range(4))


def mix64(x: int) -> int:
    """The splitmix64 finalizer (Steele, Lea & Flood 2014): a bijection on 64-bit ints whose
    output bits each depend on all input bits."""
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def widen(bits: int, more: int) -> int:
    """``bits`` (64 of them) with ``more`` × 64 bits above, each 64 the mix of the previous."""
    word = bits
    for i in range(1, more + 1):
        word = mix64(word)
        bits |= word << (64 * i)
    return bits


# -- templates as data -----------------------------------------------------------------------

# A parsed template: its parts in order, ("", literal text) or (namespace, name) for a
# placeholder: ("ctx", name) for a context value or {number}, ("v", name) for a vocabulary
# pick, ("t", name) for a table, ("case", name) for a pack case subject.
Part = tuple[str, str]
Parsed = tuple[Part, ...]


def _parse(template: str) -> Parsed:
    parts: list[Part] = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        if match.start() > position:
            parts.append(("", template[position : match.start()]))
        namespace, _, rest = match.group(1).partition(".")
        if rest and namespace in ("v", "t", "case"):
            parts.append((namespace, rest))
        else:
            parts.append(("ctx", match.group(1)))
        position = match.end()
    if position < len(template):
        parts.append(("", template[position:]))
    return tuple(parts)


class _Templates(NamedTuple):
    # kind -> its sentence slots: (p in steps of 1/P_SCALE, the variants)
    kinds: dict[str, tuple[tuple[int, tuple[Parsed, ...]], ...]]
    # table name -> (the context key it is keyed by, {value: variants})
    tables: dict[str, tuple[str, dict[str, tuple[Parsed, ...]]]]


def _read_templates(text: str) -> _Templates:
    data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    tables_raw = data.pop("_tables", None) or {}
    kinds = {}
    for kind, slots in data.items():
        compiled = []
        for slot in slots:
            p, variants = (slot["p"], slot["variants"]) if isinstance(slot, dict) else (1.0, slot)
            if not 0.0 <= float(p) <= 1.0:
                raise ValueError(f"offline templates: {kind}: p must be within 0-1, got {p}")
            compiled.append((round(float(p) * P_SCALE), tuple(_parse(v) for v in variants)))
        kinds[kind] = tuple(compiled)
    tables = {
        name: (
            spec["by"],
            {
                str(value): tuple(_parse(v) for v in variants)
                for value, variants in spec["values"].items()
            },
        )
        for name, spec in tables_raw.items()
    }
    return _Templates(kinds, tables)


@cache
def _shipped_templates() -> _Templates:
    path = resources.files("orgforge.content") / "offline_templates.yaml"
    return _read_templates(path.read_text("utf-8"))


# -- sentences: templates with their tables expanded -----------------------------------------

# A sentence is (shape, args). The shape has one letter per field: "c" for a context value,
# "w" for a word. The args are the literal texts around the fields, interleaved with what each
# field needs: (t0, key1, default1, t1, …) for a "c" field, (t0, words1, len(words1), t1, …)
# for a "w" field; so args[0::3] are the texts. They are also the parameters of the leaf.
Sentence = tuple[str, tuple[Any, ...]]
_EMPTY: Sentence = ("", ("",))
_Weighted = list[tuple[int, Sentence]]  # sentences with their weights, while expanding
_NOTHING: _Weighted = [(1, _EMPTY)]  # what an empty table expands to


def _then(first: Sentence, second: Sentence) -> Sentence:
    """``first`` followed by ``second``: the texts where they meet are joined."""
    a, b = first[1], second[1]
    return first[0] + second[0], (*a[:-1], a[-1] + b[0], *b[1:])


def _joined(sentences: list[Sentence], separator: str) -> Sentence:
    """The sentences one after the other, ``separator`` between them."""
    if not sentences:
        return _EMPTY
    args = list(sentences[0][1])
    for _, more in sentences[1:]:
        args[-1] = f"{args[-1]}{separator}{more[0]}"
        args.extend(more[1:])
    return "".join(shape for shape, _ in sentences), tuple(args)


def _word_choices(sentence: Sentence) -> int:
    """How many outcomes the sentence's word picks have together."""
    shape, args = sentence
    return math.prod(n for letter, n in zip(shape, args[2::3], strict=True) if letter == "w")


def _maybe_empty(sentence: Sentence) -> bool:
    """A sentence that can render "" (and is then left out, separator and all): no text of its
    own, and each field a context value without a default or a pick that can be "" (the words
    of a vocabulary list the pack lacks)."""
    shape, args = sentence
    return (
        bool(shape)
        and not any(args[0::3])
        and all(
            not b if letter == "c" else "" in a
            for letter, a, b in zip(shape, args[1::3], args[2::3], strict=True)
        )
    )


def _choose(options: list[_Weighted]) -> _Weighted:
    """A uniform pick among ``options``, each option keeping its own inner weights."""
    if not options:
        return []
    totals = [sum(w for w, _ in option) for option in options]
    common = math.lcm(*totals)
    return [
        (w * (common // total), sentence)
        for option, total in zip(options, totals, strict=True)
        for w, sentence in option
    ]


def _repeat_by_weight(weighted: _Weighted) -> tuple[Sentence, ...]:
    """Equally likely entries: each sentence as many times as its weight (over their gcd)."""
    divisor = reduce(math.gcd, (w for w, _ in weighted))
    return tuple(sentence for w, sentence in weighted for _ in range(w // divisor))


# -- leaves: the function that renders one combination ---------------------------------------

Leaf = Any  # a function (context, bits) -> str; bits has the spec's pick as its lowest digit


def _leaf_source(shape: str) -> str:
    """The source of the compiled leaf for ``shape``. For "cw"::

        def leaf_cw(context, bits, n0, t0, k1, d1, t1, w2, n2, t2):
            bits //= n0
            v2 = w2[bits % n2]
            try:
                return f"{t0}{context[k1] or d1}{t1}{v2}{t2}"
            except KeyError:
                return f"{t0}{context.get(k1) or d1}{t1}{v2}{t2}"

    A leaf binds its spec's number of combinations (n0) and its sentence's args as the
    parameters' defaults, so a text is one call and one f-string, with no loop. The generator
    sets every context key its templates use, so keys are read by subscript and only a missing
    one takes the slower ``get``. The text is exactly what :meth:`_Spec.render` makes.
    """
    parameters = ["context", "bits", "n0", "t0"]
    lines = []
    divisor = "n0"
    fast, safe = ["{t0}"], ["{t0}"]
    for i, letter in enumerate(shape, 1):
        if letter == "c":
            parameters += [f"k{i}", f"d{i}"]
            fast.append(f"{{context[k{i}] or d{i}}}")
            safe.append(f"{{context.get(k{i}) or d{i}}}")
        else:
            parameters += [f"w{i}", f"n{i}"]
            lines += [f"    bits //= {divisor}", f"    v{i} = w{i}[bits % n{i}]"]
            divisor = f"n{i}"
            fast.append(f"{{v{i}}}")
            safe.append(f"{{v{i}}}")
        parameters.append(f"t{i}")
        fast.append(f"{{t{i}}}")
        safe.append(f"{{t{i}}}")
    if "c" in shape:
        lines += ["    try:", f'        return f"{"".join(fast)}"']
        lines += ["    except KeyError:", f'        return f"{"".join(safe)}"']
    else:
        lines.append(f'    return f"{"".join(fast)}"')
    return f"def leaf_{shape}({', '.join(parameters)}):\n" + "\n".join(lines) + "\n"


@cache
def _leaf_code(shape: str) -> CodeType:
    namespace: dict[str, Any] = {}
    exec(compile(_leaf_source(shape), f"<offline leaf {shape}>", "exec"), namespace)
    return namespace[f"leaf_{shape}"].__code__


def _compiled_leaf(sentence: Sentence, total: int) -> Leaf:
    shape, args = sentence
    return FunctionType(_leaf_code(shape), {}, f"leaf_{shape}", (total, *args))


def _joined_leaf(sentences: list[Sentence], separator: str, total: int) -> Leaf:
    """A leaf for sentences of which some may render empty: each is rendered on its own and the
    empty ones are left out. Each sentence's words take the digits after the previous ones'."""
    parts = []
    divisor = total
    for sentence in sentences:
        parts.append((_compiled_leaf(sentence, 1), divisor))
        divisor *= _word_choices(sentence)

    def leaf(context: Mapping[str, str], bits: int) -> str:
        texts = [render(context, bits // d) for render, d in parts]
        return separator.join(text for text in texts if text)

    return leaf


class _SparseLeaves(dict):
    """Leaves by pick for a spec with too many combinations for a list; None when not made."""

    def __missing__(self, pick: int) -> None:
        return None


class _Spec(NamedTuple):
    """A kind resolved for one industry pack and one value of each of its tables' keys."""

    total: int  # how many combinations one pick chooses from: the product of the slots' sizes
    leaves: list[Leaf | None] | _SparseLeaves  # the leaves made so far, by pick
    wide: int  # how many 64 random bits to add: picks that may use more than 64 - SPARE_BITS
    limit: int  # max_chars
    slots: tuple[tuple[Sentence, ...], ...]  # equally likely sentences per slot
    separator: str  # between sentences: " ", or a blank line for email.body
    maybe_empty: bool  # some sentence may render empty (see _maybe_empty)

    def render(self, pick: int, context: Mapping[str, str], bits: int) -> str:
        """The text of combination ``pick`` (mixed radix, first slot lowest digit), by looping
        over its sentences and their fields. Exactly the text of its leaf; used until the
        engine compiles leaves, since most early texts are their combination's first."""
        bits //= self.total
        texts = []
        for sentences in self.slots:
            pick, index = divmod(pick, len(sentences))
            shape, args = sentences[index]
            if not shape:  # text only (or nothing)
                if args[0]:
                    texts.append(args[0])
                continue
            out = [args[0]]
            i = 1
            for letter in shape:
                if letter == "c":
                    out.append(str(context.get(args[i]) or args[i + 1]))
                else:
                    n = args[i + 1]
                    out.append(str(args[i][bits % n]))
                    bits //= n
                out.append(args[i + 2])
                i += 3
            text = "".join(out)
            if text:
                texts.append(text)
        return self.separator.join(texts)

    def leaf(self, pick: int) -> Leaf:
        """The compiled leaf of combination ``pick``."""
        if isinstance(self.leaves, _SparseLeaves) and len(self.leaves) >= CACHE_LIMIT:
            self.leaves.clear()
        chosen = []
        for sentences in self.slots:
            pick, index = divmod(pick, len(sentences))
            if sentences[index] != _EMPTY:
                chosen.append(sentences[index])
        if self.maybe_empty and len(chosen) > 1 and any(_maybe_empty(s) for s in chosen):
            return _joined_leaf(chosen, self.separator, self.total)
        return _compiled_leaf(_joined(chosen, self.separator), self.total)


class _Route(NamedTuple):
    """Per kind: what its specs depend on, the specs built so far, where its hash starts."""

    by: tuple[str, ...]  # context keys its tables are keyed by, in a fixed order
    specs: dict[tuple, _Spec]  # keyed by (industry, *values of ``by``)
    crc_start: int  # CRC-32 of "{seed}|{kind}|": each key's CRC continues from it
    slot_deps: tuple[tuple[tuple[str, ...], frozenset[str]], ...]  # per slot: by, pack lists


class OfflineEngine(ContentEngine):
    name = "offline"

    def __init__(self, packs: Mapping[str, Pack], seed: int = 0, templates: str | None = None):
        """``templates``: the text of a templates file in the format of
        ``offline_templates.yaml``, to use instead of the shipped one."""
        self.packs = packs
        self.seed = seed
        self.templates = _shipped_templates() if templates is None else _read_templates(templates)
        self.compile_after = COMPILE_AFTER
        self._vocab = {
            pid: {name: tuple(words) for name, words in p.vocabulary.model_dump().items()}
            for pid, p in packs.items()
        }
        self._subjects = {
            pid: tuple(_parse(s) for s in p.case.subjects) for pid, p in packs.items()
        }
        self._own: dict[str, frozenset[str]] = {}  # per segment: the lists it replaces
        # A segment of a pack ("insurance/reinsurance", the context's ``pack_segment``) reads
        # as a pack of its own: the pack's vocabulary with the segment's lists in place, and
        # the case subjects of the segment.
        for pid, p in packs.items():
            for segment in p.segments:
                key = f"{pid}/{segment.id}"
                vocab = dict(self._vocab[pid])
                vocab.update({name: tuple(words) for name, words in segment.vocabulary.items()})
                self._vocab[key] = vocab
                subjects = p.segment_lists(segment.id)["case_subjects"]
                self._subjects[key] = tuple(_parse(s) for s in subjects)
                self._own[key] = frozenset({"case", *(f"v.{name}" for name in segment.vocabulary)})
        self._routes: dict[str, _Route] = {}
        # The same specs for the render loop's direct lookups: kind -> (by, specs, crc_start),
        # the spec being specs[industry] when by is "", or specs[industry][context[by]] when
        # the kind's tables use one context key. Kinds whose tables use more go through _find.
        self._fast: dict[str, tuple[str, dict, int]] = {}
        self._expanded: dict[tuple, _Weighted] = {}
        self._slots: dict[tuple, tuple[tuple[Sentence, ...], int, bool]] = {}
        self._reached: dict[Parsed, tuple[tuple[str, ...], bool]] = {}
        self._rendered = 0
        self._compiled = False
        self._leaves = 0  # compiled leaves held (LEAF_LIMIT)
        self.items = 0

    def fill(self, requests: Sequence[ContentRequest]) -> list[str]:
        self.items += len(requests)
        return self._render(requests)

    def text(self, kind: str, key: str, context: Mapping[str, str]) -> str:
        return self._render([ContentRequest(kind, key, context)])[0]

    def _render(self, requests: Sequence[ContentRequest]) -> list[str]:
        """The loop every text field goes through; kept flat, since each step costs."""
        self._compiled = self._compiled or self._rendered >= self.compile_after
        self._rendered += len(requests)
        compiled = self._compiled
        out: list[str] = []
        fast = self._fast
        crc32 = zlib.crc32
        t0, t1, t2, t3 = random_tables()
        for request in requests:
            context = request.context
            try:
                by, specs, crc_start = fast[request.kind]
                spec = specs[context.get("pack_segment") or context["industry"]]
                if by:
                    spec = spec[context[by]]
            except KeyError:  # first of its kind, pack or table key; or a context without them
                spec, crc_start = self._find(request.kind, context)
            total, leaves, wide, limit, _, _, _ = spec

            crc = crc32(request.key.encode(), crc_start)  # then tabulation: see random_tables
            bits = t0[crc & 255] ^ t1[crc >> 8 & 255] ^ t2[crc >> 16 & 255] ^ t3[crc >> 24]
            if wide:
                bits = widen(bits, wide)
            pick = bits % total
            leaf = leaves[pick]
            if leaf is not None:
                text = leaf(context, bits)
            elif compiled:
                leaf = leaves[pick] = spec.leaf(pick)
                text = leaf(context, bits)
                self._leaves += 1
                if self._leaves >= LEAF_LIMIT:
                    self._drop_leaves()
            else:  # the first texts of a run: not worth compiling for yet
                text = spec.render(pick, context, bits)
            out.append(text if len(text) <= limit else text[: limit - 1].rstrip() + "…")
        return out

    def _drop_leaves(self) -> None:
        """Forget every compiled leaf (in place: the render loop's lookups hold the lists)."""
        for route in self._routes.values():
            for spec in route.specs.values():
                if isinstance(spec.leaves, _SparseLeaves):
                    spec.leaves.clear()
                else:
                    spec.leaves[:] = [None] * len(spec.leaves)
        self._leaves = 0

    # -- building specs (once per kind, pack and table keys) ---------------------------------

    def _find(self, kind: str, context: Mapping[str, str]) -> tuple[_Spec, int]:
        """The spec for a request and its kind's CRC start, building what is missing."""
        route = self._routes.get(kind) or self._route(kind)
        industry = context.get("pack_segment") or context.get("industry", "")
        spec_key = (industry, *[context.get(b, "") for b in route.by])
        spec = route.specs.get(spec_key)
        if spec is None:
            if len(route.specs) >= CACHE_LIMIT:
                route.specs.clear()
                self._fast.pop(kind, None)
            spec = route.specs[spec_key] = self._spec(kind, route, spec_key)
        if len(route.by) <= 1:
            by, specs, _ = self._fast.setdefault(kind, ("".join(route.by), {}, route.crc_start))
            if by:
                specs.setdefault(industry, {})[spec_key[1]] = spec
            else:
                specs[industry] = spec
        return spec, route.crc_start

    def _route(self, kind: str) -> _Route:
        slots = self.templates.kinds.get(kind)
        if slots is None:
            raise KeyError(f"no offline template for kind {kind!r}")
        deps = []
        for _, variants in slots:
            reached = [self._reach(parts) for parts in variants]
            slot_by = tuple(dict.fromkeys(key for by, _ in reached for key in by))
            deps.append((slot_by, frozenset().union(*(used for _, used in reached))))
        by = tuple(dict.fromkeys(key for slot_by, _ in deps for key in slot_by))
        crc_start = zlib.crc32(f"{self.seed}|{kind}|".encode())
        route = _Route(by, {}, crc_start, tuple(deps))
        self._routes[kind] = route
        return route

    def _collect_by(self, parts: Parsed, by: list[str], seen: set[str]) -> None:
        """Add the context keys of the tables reachable from ``parts`` to ``by``."""
        for namespace, name in parts:
            if namespace != "t" or name in seen:
                continue
            if name not in self.templates.tables:
                raise KeyError(f"offline templates: no table {name!r} (used as {{t.{name}}})")
            seen.add(name)
            key, values = self.templates.tables[name]
            if key not in by:
                by.append(key)
            for variants in values.values():
                for sub in variants:
                    self._collect_by(sub, by, seen)

    def _spec(self, kind: str, route: _Route, spec_key: tuple) -> _Spec:
        industry = spec_key[0]
        keyed_by = dict(zip(route.by, spec_key[1:], strict=True))
        slots = [self._slot(kind, i, industry, keyed_by) for i in range(len(route.slot_deps))]
        total = math.prod(len(sentences) for sentences, _, _ in slots)
        words = math.prod(most for _, most, _ in slots)
        return _Spec(
            total=total,
            leaves=[None] * total if total <= LIST_LIMIT else _SparseLeaves(),
            wide=max(0, -(-((total * words).bit_length() + SPARE_BITS - 64) // 64)),
            limit=KINDS[kind].max_chars if kind in KINDS else 4000,
            slots=tuple(sentences for sentences, _, _ in slots),
            separator="\n\n" if kind == "email.body" else " ",
            maybe_empty=any(maybe_empty for _, _, maybe_empty in slots),
        )

    def _slot(
        self, kind: str, index: int, industry: Any, keyed_by: dict[str, Any]
    ) -> tuple[tuple[Sentence, ...], int, bool]:
        """Slot ``index`` of a kind: its equally likely sentences, the most outcomes their word
        picks can have, and whether one may render empty. Kept per pack (if the slot uses it)
        and values of the table keys it uses, so specs share them."""
        by, uses_pack = self._routes[kind].slot_deps[index]
        memo_key = (kind, index, self._pack_key(industry, uses_pack), *[keyed_by[b] for b in by])
        found = self._slots.get(memo_key)
        if found is None:
            p, variants = self.templates.kinds[kind][index]
            weighted = _choose([self._expand(v, industry, keyed_by) for v in variants])
            if not weighted:  # a slot without variants never says anything
                weighted = _NOTHING
            elif p < P_SCALE:  # said with chance p, else nothing
                total = sum(w for w, _ in weighted)
                weighted = [(w * p, s) for w, s in weighted if p]
                weighted.append((total * (P_SCALE - p), _EMPTY))
            found = self._slots[memo_key] = (
                _repeat_by_weight(weighted),
                max(_word_choices(s) for _, s in weighted),
                any(_maybe_empty(s) for _, s in weighted),
            )
        return found

    def _expand(
        self, parts: Parsed, industry: Any, keyed_by: dict[str, Any], depth: int = 0
    ) -> _Weighted:
        """The sentences a template can make, with their weights. Kept per template, pack (if
        it uses the pack) and values of the table keys it uses, so specs share them."""
        by, uses_pack = self._reach(parts)
        memo_key = (parts, self._pack_key(industry, uses_pack), *[keyed_by[b] for b in by])
        done = self._expanded.get(memo_key)
        if done is not None:
            return done
        if depth > 20:
            raise ValueError("offline templates: tables refer to each other in a loop")
        done = _NOTHING
        plain: list[Part] = []  # the parts since the last table or case subject
        for namespace, name in parts:
            if namespace not in ("t", "case"):
                plain.append((namespace, name))
                continue
            done, plain = self._then_plain(done, plain, industry), []
            if namespace == "case":
                options = self._subjects.get(industry) or next(iter(self._subjects.values()))
            else:
                key, table = self.templates.tables[name]
                options = table.get(str(keyed_by[key])) or table.get("_default") or ()
            inner = _choose([self._expand(o, industry, keyed_by, depth + 1) for o in options])
            done = [(w * wi, _then(s, si)) for w, s in done for wi, si in inner or _NOTHING]
        done = self._then_plain(done, plain, industry)
        self._expanded[memo_key] = done
        return done

    def _then_plain(self, done: _Weighted, parts: list[Part], industry: Any) -> _Weighted:
        """``done`` followed by the sentence of ``parts`` (no tables or case subjects in them)."""
        if not parts:
            return done
        shape = []
        args: list[Any] = [""]
        for namespace, name in parts:
            if namespace == "":
                args[-1] += name
                continue
            if namespace == "v":
                vocab = self._vocab.get(industry) or next(iter(self._vocab.values()))
                words = vocab.get(name) or ("",)
                shape.append("w")
                args += [words, len(words), ""]
            elif name == "number":
                shape.append("w")
                args += [NUMBERS, len(NUMBERS), ""]
            else:
                shape.append("c")
                args += [name, DEFAULTS.get(name, ""), ""]
        sentence = "".join(shape), tuple(args)
        return [(w, _then(s, sentence)) for w, s in done]

    def _reach(self, parts: Parsed) -> tuple[tuple[str, ...], frozenset[str]]:
        """The table keys a template depends on (through its tables), and what of the pack it
        uses: vocabulary lists ("v.pains") and case subjects ("case"); empty if nothing."""
        found = self._reached.get(parts)
        if found is None:
            by: list[str] = []
            self._collect_by(parts, by, set())
            used: set[str] = set()
            self._pack_names(parts, set(), used)
            found = self._reached[parts] = (tuple(by), frozenset(used))
        return found

    def _pack_names(self, parts: Parsed, seen: set[str], used: set[str]) -> None:
        for namespace, name in parts:
            if namespace == "v":
                used.add(f"v.{name}")
            elif namespace == "case":
                used.add("case")
            elif namespace == "t" and name not in seen:
                seen.add(name)
                for variants in self.templates.tables[name][1].values():
                    for sub in variants:
                        self._pack_names(sub, seen, used)

    def _pack_key(self, industry: Any, used: frozenset[str]) -> Any:
        """What a template's expansion depends on of ``industry`` (a pack, or a pack's segment:
        "insurance/reinsurance"): the segment only if the template uses a list the segment
        replaces, else its pack, so segments share the expansions they would make alike; None
        if it uses no pack list at all."""
        if not used:
            return None
        own = self._own.get(industry)
        if own is None or used & own:
            return industry
        return industry.partition("/")[0]
