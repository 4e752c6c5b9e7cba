"""The offline text engine: its templates' language, determinism, even and independent picks."""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import subprocess
import sys
from collections import Counter
from importlib import resources
from itertools import pairwise

import pytest
import yaml

from orgforge.config import load_config
from orgforge.content.contract import KINDS, ContentRequest
from orgforge.content.offline import DEFAULTS, LIST_LIMIT, OfflineEngine
from orgforge.generate.requests import sample_requests
from orgforge.packs import load_packs

PACKS = load_packs()
SHIPPED = yaml.safe_load(
    (resources.files("orgforge.content") / "offline_templates.yaml").read_text("utf-8")
)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> list[ContentRequest]:
    """The text requests of a real generate's first 100 accounts (case subjects filled)."""
    config = load_config(
        flags={"generate.accounts": 100, "seed": 42, "as_of": "2026-11-23"},
        environ={},
        cwd=tmp_path_factory.mktemp("empty"),
    )
    return sample_requests(config)[0]


def engine(seed: int = 42, templates: str | None = None, compiled: bool = False) -> OfflineEngine:
    """An engine that renders by looping, or (compiled) that compiles leaves from the start."""
    made = OfflineEngine(PACKS, seed, templates)
    made.compile_after = 0 if compiled else 10**12
    return made


def chi2_limit(df: int, z: float = 4.0) -> float:
    """The chi-square value a truly uniform spread exceeds with probability ~3e-5 (z = 4):
    Wilson-Hilferty's normal approximation of the chi-square quantile."""
    k = 2 / (9 * df)
    return df * (1 - k + z * math.sqrt(k)) ** 3


def chi2(counts: Counter, cells: list) -> float:
    n = sum(counts.values())
    expected = n / len(cells)
    assert set(counts) <= set(cells), set(counts) - set(cells)
    return sum((counts.get(c, 0) - expected) ** 2 / expected for c in cells)


def assert_uniform(counts: Counter, cells: list) -> None:
    n = sum(counts.values())
    assert n / len(cells) >= 20, "too few samples for a chi-square test"
    stat, limit = chi2(counts, cells), chi2_limit(len(cells) - 1)
    assert stat < limit, f"chi-square {stat:.1f} ≥ {limit:.1f} over {len(cells)} cells, n={n}"


# -- the language of the templates -----------------------------------------------------------


def alternatives(options: list[str]) -> str:
    return "(?:" + "|".join(sorted(options, key=len, reverse=True)) + ")"


def template_regex(template: str, context: dict, pack, depth: int = 0) -> str:
    """A regex of every text ``template`` can make for ``context``, read from the YAML with no
    help from the engine: its placeholders as the README of the templates file describes them."""
    assert depth < 10
    out, position = [], 0
    for match in re.finditer(r"\{([a-zA-Z_][a-zA-Z0-9_.]*)\}", template):
        out.append(re.escape(template[position : match.start()]))
        position = match.end()
        name = match.group(1)
        namespace, _, rest = name.partition(".")
        segment_id = (context.get("pack_segment") or "").partition("/")[2]
        segment = pack.segment(segment_id or None)
        if namespace == "v" and rest:
            words = (segment.vocabulary if segment else {}).get(rest)
            words = words or getattr(pack.vocabulary, rest)
            out.append(alternatives([re.escape(w) for w in words]))
        elif namespace == "case" and rest:
            listed = pack.segment_lists(segment_id or None)["case_subjects"]
            subjects = [template_regex(s, context, pack, depth + 1) for s in listed]
            out.append(alternatives(subjects))
        elif namespace == "t" and rest:
            table = SHIPPED["_tables"][rest]
            values = table["values"]
            row = values.get(str(context.get(table["by"], ""))) or values.get("_default") or []
            options = [template_regex(v, context, pack, depth + 1) for v in row]
            out.append(alternatives(options) if options else "")
        elif name == "number":
            out.append(r"(?:[1-9]\d{3,4}|[1-8]\d{5})")  # 1000 ≤ n < 900,000
        else:
            out.append(re.escape(context.get(name) or DEFAULTS.get(name, "")))
    out.append(re.escape(template[position:]))
    return "".join(out)


def kind_regex(kind: str, context: dict) -> re.Pattern:
    pack = PACKS.get(context.get("industry", "")) or next(iter(PACKS.values()))
    separator = "\n\n" if kind == "email.body" else " "
    regex = ""
    for i, slot in enumerate(SHIPPED[kind]):
        p, variants = (slot["p"], slot["variants"]) if isinstance(slot, dict) else (1.0, slot)
        sentence = alternatives([template_regex(v, context, pack) for v in variants])
        sentence = sentence if i == 0 else re.escape(separator) + sentence
        regex += f"(?:{sentence})?" if p < 1 else sentence
    return re.compile(regex, re.S)


ACTIVITY_CONTEXT = {
    "account": "Northgate Bancorp",
    "industry": "financial_services",
    "industry_label": "financial services",
    "opportunity": "KYC Refresh Automation",
    "product": "Treasury Hub",
    "contact": "Kyle Wise",
    "contact_first": "Kyle",
    "title": "Chief Operating Officer",
    "owner": "Dana Reyes",
    "attendees": "Kyle Wise, Ana Lopez",
    "next_step_hint": "confirm the pilot scope",
}


def activity_requests() -> list[ContentRequest]:
    """Requests for the kinds the activity job asks for, over their table keys' values."""
    requests = []
    stages = [*SHIPPED["_tables"]["email_subject"]["values"], "Unknown Stage"]
    types = [*SHIPPED["_tables"]["email_by_type"]["values"], "unknown_type"]
    topics = [*SHIPPED["_tables"]["meeting_topic"]["values"], "other"]
    for i in range(400):
        context = {
            **ACTIVITY_CONTEXT,
            "industry": list(PACKS)[i % len(PACKS)],
            "stage": stages[i % len(stages)],
            "timing": ("past", "future", "")[i % 3],
            "subject": f"Topic {i}",
        }
        requests.append(
            ContentRequest("email.body", f"Email/{i}", {**context, "type": types[i % len(types)]})
        )
        requests.append(
            ContentRequest(
                "meeting.notes", f"Meeting/{i}", {**context, "type": topics[i % len(topics)]}
            )
        )
        requests.append(ContentRequest("email.subject", f"Email/{i}", context))
    requests.append(ContentRequest("scorecard.answer", "Scorecard/1/q1", {"answer": "Yes."}))
    requests.append(ContentRequest("scorecard.answer", "Scorecard/1/q2", {}))
    requests.append(ContentRequest("asana.comment", "Asana/1", {"comment": "Done."}))
    return requests


def test_every_text_is_in_the_language_of_its_templates(generated):
    """Up to 40 texts of each kind (the looping and compiled leaves are compared below)."""
    per_kind: dict[str, list[ContentRequest]] = {}
    for request in generated + activity_requests():
        per_kind.setdefault(request.kind, []).append(request)
    assert set(per_kind) == set(KINDS)
    requests = [r for rs in per_kind.values() for r in rs[:40]]
    texts = engine().fill(requests)
    for request, text in zip(requests, texts, strict=True):
        assert len(text) <= KINDS[request.kind].max_chars
        assert kind_regex(request.kind, dict(request.context)).fullmatch(text), (
            request.kind,
            request.key,
            text,
        )


def test_looping_and_compiled_rendering_give_the_same_text(generated):
    requests = generated + activity_requests()
    looping, compiled = engine(), engine(compiled=True)
    assert looping.fill(requests) == compiled.fill(requests)
    assert not looping._compiled and compiled._compiled
    # an engine switches to compiled leaves once it has rendered compile_after texts
    switching = engine()
    switching.compile_after = 500
    texts = [t for i in range(0, len(requests), 300) for t in switching.fill(requests[i : i + 300])]
    assert switching._compiled and texts == looping.fill(requests)


# -- behaviour of the placeholders -----------------------------------------------------------

TEST_TEMPLATES = """
four:
  - ["d0", "d1", "d2", "d3"]
plain:
  - ["a0", "a1", "a2", "a3", "a4"]
  - ["b0 {v.offerings}", "b1 {v.offerings}", "b2 {v.offerings}"]
  - {p: 0.3, variants: ["c0", "c1"]}
numbers:
  - ["n {number} {number} {number}"]
nested:
  - ["{t.outer}"]
gaps:
  - ["first"]
  - ["{nothing}"]
  - ["{v.no_such_list}"]
  - ["last {nothing}."]
never:
  - ["x"]
  - {p: 0.0, variants: ["never said"]}
  - {p: 1.0, variants: ["always said"]}
wide_and_sparse:
  - {p: 0.1234, variants: ["p{number}", "q{number}", "r{number}"]}
  - {p: 0.4321, variants: ["s{number}", "t{number}", "u{number}"]}
  - ["{number}", "{number} {number}"]
braces:
  - ["{ literal } {account} }{"]
loop:
  - ["{t.ping}"]
_tables:
  outer:
    by: status
    values:
      Open: ["open: {t.inner}", "opened"]
      _default: ["other {status}"]
  inner:
    by: priority
    values:
      High: ["high {contact}", "urgent"]
      Low: ["low"]
  ping:
    by: status
    values:
      _default: ["{t.pong}"]
  pong:
    by: status
    values:
      _default: ["{t.ping}"]
"""


def test_tables_are_keyed_by_context_values_with_a_default():
    e = engine(templates=TEST_TEMPLATES)

    def texts(context: dict) -> set[str]:
        return set(e.fill([ContentRequest("nested", f"K/{i}", context) for i in range(400)]))

    assert texts({"status": "Open", "priority": "High", "contact": "Ann"}) == {
        "open: high Ann",
        "open: urgent",
        "opened",
    }
    assert texts({"status": "Open", "priority": "Low"}) == {"open: low", "opened"}
    assert texts({"status": "Open"}) == {"open: ", "opened"}  # no row, no _default: empty
    assert texts({"status": "Closed"}) == {"other Closed"}
    assert texts({}) == {"other "}  # no status: _default, and {status} has no default


def test_missing_or_empty_context_values_read_as_their_defaults():
    e = engine()
    for context in ({"industry": "insurance"}, {"industry": "insurance", "account": ""}):
        texts = e.fill(
            [ContentRequest("account.description", f"A/{i}", context) for i in range(50)]
        )
        assert all("{" not in t for t in texts)
        assert sum(DEFAULTS["account"] in t for t in texts) >= 40
    [answer] = e.fill([ContentRequest("scorecard.answer", "S/1", {"answer": ""})])
    assert answer == DEFAULTS["answer"]


def test_sentences_that_render_empty_are_left_out_with_their_separator():
    for compiled in (False, True):
        e = engine(templates=TEST_TEMPLATES, compiled=compiled)
        [empty, full] = e.fill(
            [
                ContentRequest("gaps", "G/1", {}),
                ContentRequest("gaps", "G/1", {"nothing": "N"}),
            ]
        )
        assert empty == "first last ."
        assert full == "first N last N."


def test_numbers_literal_braces_and_slots_that_are_always_or_never_said():
    e = engine(templates=TEST_TEMPLATES)
    numbers = e.fill([ContentRequest("numbers", f"N/{i}", {}) for i in range(3000)])
    values = [int(n) for text in numbers for n in text.split()[1:]]
    assert all(1000 <= v < 900_000 for v in values)
    assert len(set(values)) > 0.99 * len(values)
    [braces] = e.fill([ContentRequest("braces", "B/1", {"account": "Acme {x}"})])
    assert braces == "{ literal } Acme {x} }{"
    assert set(e.fill([ContentRequest("never", f"X/{i}", {}) for i in range(200)])) == {
        "x always said"
    }


def test_a_spec_too_big_for_a_list_and_wider_than_64_bits_still_renders_evenly():
    e = engine(templates=TEST_TEMPLATES, compiled=True)
    requests = [ContentRequest("wide_and_sparse", f"W/{i}", {}) for i in range(6000)]
    texts = e.fill(requests)
    spec = next(iter(e._routes["wide_and_sparse"].specs.values()))
    assert spec.total > LIST_LIMIT and spec.wide
    assert texts == engine(templates=TEST_TEMPLATES).fill(requests)
    # the last number is drawn from the digits after all the others: still even
    last = Counter((int(t.split()[-1]) - 1000) * 10 // 899_000 for t in texts)
    assert_uniform(last, list(range(10)))
    present = Counter(t[0] in "pqr" for t in texts)
    assert abs(present[True] / len(texts) - 0.1234) < 4 * math.sqrt(0.1234 * 0.8766 / len(texts))


def test_template_errors_are_reported():
    e = engine(templates=TEST_TEMPLATES)
    with pytest.raises(KeyError, match="no offline template for kind 'nope'"):
        e.fill([ContentRequest("nope", "K/1", {})])
    with pytest.raises(ValueError, match="refer to each other"):
        e.fill([ContentRequest("loop", "K/1", {})])
    with pytest.raises(KeyError, match="no table 'missing'"):
        engine(templates='k:\n  - ["{t.missing}"]\n').fill([ContentRequest("k", "K/1", {})])
    with pytest.raises(ValueError, match="p must be within 0-1"):
        engine(templates='k:\n  - {p: 1.5, variants: ["x"]}\n')


def test_max_chars_truncates_with_an_ellipsis():
    e = engine()
    long_name = "Very Long Contact Name " * 20
    texts = e.fill(
        [
            ContentRequest("task.subject", f"T/{i}", {"type": "Call", "contact": long_name})
            for i in range(40)
        ]
    )
    assert all(len(t) <= 255 for t in texts)
    truncated = [t for t in texts if len(t) > 200]
    assert truncated and all(t.endswith("…") and not t[:-1].endswith(" ") for t in truncated)


def test_email_body_is_paragraphs():
    [body] = engine().fill([ContentRequest("email.body", "Email/1", ACTIVITY_CONTEXT)])
    paragraphs = body.split("\n\n")
    assert paragraphs[0] == "Hi Kyle," and paragraphs[-1] == "Best regards,\nDana Reyes"
    assert 4 <= len(paragraphs) <= 6


def test_case_subjects_come_from_the_pack_with_numbers_filled():
    e = engine()
    for pid, pack in PACKS.items():
        texts = e.fill(
            [ContentRequest("case.subject", f"Case/{i}/1", {"industry": pid}) for i in range(300)]
        )
        patterns = [re.compile(template_regex(s, {}, pack)) for s in pack.case.subjects]
        assert all(any(p.fullmatch(t) for p in patterns) for t in texts)
        assert len(set(texts)) > len(pack.case.subjects) * 0.8


# -- determinism ------------------------------------------------------------------------------


def test_text_depends_only_on_seed_kind_key_and_context(generated):
    requests = generated
    texts = engine().fill(requests)
    # batch composition and order
    shuffled = list(range(len(requests)))
    random.Random(7).shuffle(shuffled)
    e = engine(compiled=True)
    again = e.fill([requests[i] for i in shuffled])
    assert [again[shuffled.index(i)] for i in range(len(requests))] == texts
    assert [e.text(r.kind, r.key, r.context) for r in requests[:300]] == texts[:300]
    assert engine().fill(requests[::-1])[::-1] == texts
    # the seed, the kind and the key each change the text
    other_seed = engine(seed=43).fill(requests)
    assert sum(a != b for a, b in zip(texts, other_seed, strict=True)) > 0.5 * len(texts)
    moved = engine().fill([ContentRequest(r.kind, r.key + "x", r.context) for r in requests])
    assert sum(a != b for a, b in zip(texts, moved, strict=True)) > 0.5 * len(texts)


def test_text_is_the_same_in_a_process_with_another_hash_seed(generated):
    requests = [(r.kind, r.key, dict(r.context)) for r in generated[:600]]
    requests += [(r.kind, r.key, dict(r.context)) for r in activity_requests()[:300]]
    script = (
        "import hashlib, json, sys\n"
        "from orgforge.content.contract import ContentRequest\n"
        "from orgforge.content.offline import OfflineEngine\n"
        "from orgforge.packs import load_packs\n"
        "requests = [ContentRequest(*r) for r in json.load(sys.stdin)]\n"
        "texts = OfflineEngine(load_packs(), 42).fill(requests)\n"
        "print(hashlib.sha256('\\x00'.join(texts).encode()).hexdigest())\n"
    )
    here = engine().fill([ContentRequest(*r) for r in requests])
    expected = hashlib.sha256("\x00".join(here).encode()).hexdigest()
    for hash_seed in ("0", "12345"):
        done = subprocess.run(
            [sys.executable, "-c", script],
            input=json.dumps(requests),
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
        )
        assert done.stdout.strip() == expected


# -- even, independent picks ------------------------------------------------------------------

KEY_FAMILIES = {
    "accounts": [f"Account/{i:04d}" for i in range(1, 6001)],
    "comments": [
        f"CaseComment/{i:04d}/{j}/{k}" for i in range(1, 601) for j in (1, 2) for k in range(1, 6)
    ],
}


def picks(texts: list[str]) -> list[tuple[str, str, str]]:
    """(first slot, second slot, optional slot or "-") of each "plain" text."""
    out = []
    for text in texts:
        a, b, *rest = text.split(" ", 2)
        c = rest[0].split()[-1] if rest and rest[0].split()[-1] in ("c0", "c1") else "-"
        out.append((a, b, c))
    return out


@pytest.mark.parametrize("family", list(KEY_FAMILIES))
def test_picks_are_even_and_independent_of_each_other(family):
    keys = KEY_FAMILIES[family]
    context = {"industry": "high_tech"}
    words = list(PACKS["high_tech"].vocabulary.offerings)
    e = engine(templates=TEST_TEMPLATES)
    texts = e.fill([ContentRequest("plain", key, context) for key in keys])
    chosen = picks(texts)
    a_cells = [f"a{i}" for i in range(5)]
    b_cells = [f"b{i}" for i in range(3)]
    assert_uniform(Counter(a for a, _, _ in chosen), a_cells)
    assert_uniform(Counter(b for _, b, _ in chosen), b_cells)
    assert_uniform(
        Counter((a, b) for a, b, _ in chosen), [(a, b) for a in a_cells for b in b_cells]
    )
    # the optional slot is said 30% of the time, whatever the other picks
    said = sum(c != "-" for _, _, c in chosen) / len(chosen)
    assert abs(said - 0.3) < 4 * math.sqrt(0.3 * 0.7 / len(chosen))
    assert_uniform(
        Counter((a, c) for a, _, c in chosen if c != "-"),
        [(a, c) for a in a_cells for c in ("c0", "c1")],
    )
    # the word (the digit after the pick) is even and independent of the sentence picks
    word_of = [next(w for w in sorted(words, key=len, reverse=True) if w in t) for t in texts]
    assert_uniform(Counter(word_of), words)
    assert_uniform(
        Counter((a, w) for (a, _, _), w in zip(chosen, word_of, strict=True)),
        [(a, w) for a in a_cells for w in words],
    )
    # neighbouring keys pick independently
    assert_uniform(
        Counter((x[0], y[0]) for x, y in pairwise(chosen)),
        [(a, b) for a in a_cells for b in a_cells],
    )


@pytest.mark.parametrize("position", [-1, -2, -4])
def test_keys_that_differ_alike_pick_independently(position):
    """A CRC is linear: keys that differ by the same character change get CRCs that differ by
    the same bits. The hash must not carry that into the picks (with 4 variants, the low bits)."""
    e = engine(templates=TEST_TEMPLATES)
    keys = [f"Opportunity/{i:05d}/1" for i in range(20000)]
    keys = [k for k in keys if k[position - 2] == "0"]  # that digit of the number is 0
    changed = [k[: position - 2] + "7" + k[position - 1 :] for k in keys]
    first = e.fill([ContentRequest("four", k, {}) for k in keys])
    second = e.fill([ContentRequest("four", k, {}) for k in changed])
    cells = [(f"d{i}", f"d{j}") for i in range(4) for j in range(4)]
    assert_uniform(Counter(zip(first, second, strict=True)), cells)


def test_kinds_and_seeds_pick_independently_for_the_same_key():
    keys = KEY_FAMILIES["accounts"]
    requests = [ContentRequest("plain", key, {"industry": "insurance"}) for key in keys]
    base = [a for a, _, _ in picks(engine(templates=TEST_TEMPLATES).fill(requests))]
    other_seed = [a for a, _, _ in picks(engine(seed=7, templates=TEST_TEMPLATES).fill(requests))]
    renamed = TEST_TEMPLATES.replace("plain:", "plain2:", 1)
    other_kind = engine(templates=renamed).fill(
        [ContentRequest("plain2", k, r.context) for k, r in zip(keys, requests, strict=True)]
    )
    other_kind_a = [a for a, _, _ in picks(other_kind)]
    cells = [(f"a{i}", f"a{j}") for i in range(5) for j in range(5)]
    assert_uniform(Counter(zip(base, other_seed, strict=True)), cells)
    assert_uniform(Counter(zip(base, other_kind_a, strict=True)), cells)


def test_shipped_kinds_spread_their_picks_evenly(generated):
    """The real templates, real keys: each task subject variant of a step equally often."""
    e = engine()
    requests = [
        ContentRequest(
            "task.subject",
            f"Task/{i:04d}/{j}",
            {"step": "account_email", "contact": "C", "account": "A", "product": "P"},
        )
        for i in range(1, 1001)
        for j in (1, 2, 3)
    ]
    texts = e.fill(requests)
    variants = [
        v.replace("{contact}", "C").replace("{account}", "A").replace("{product}", "P")
        for v in SHIPPED["_tables"]["step_task_subject"]["values"]["account_email"]
    ]
    assert_uniform(Counter(texts), variants)
    next_steps = e.fill(
        [
            ContentRequest(
                "opportunity.next_step",
                f"Opportunity/{i:04d}/1",
                {"stage": "Closed Won", "contact": "C"},
            )
            for i in range(1, 3001)
        ]
    )
    assert_uniform(
        Counter(next_steps),
        [
            v.replace("{contact}", "C")
            for v in SHIPPED["_tables"]["next_step"]["values"]["Closed Won"]
        ],
    )
