"""The offline text engine: industry-flavoured text from templates and pack vocabulary.

Deterministic and free: every pick is drawn from a hash of (seed, kind, record key), never from
the structure's random streams, so text can be regenerated (or replaced by an LLM's) without
touching a single non-text field. Templates are data (``offline_templates.yaml``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources

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


class _Draw:
    """A stream of choices from a hash; cheap enough to make one per request."""

    __slots__ = ("_digest", "_value")

    def __init__(self, seed_text: str) -> None:
        self._digest = hashlib.blake2b(seed_text.encode(), digest_size=32).digest()
        self._value = int.from_bytes(self._digest, "little")

    def below(self, n: int) -> int:
        if self._value < n * 1024:
            self._digest = hashlib.blake2b(self._digest, digest_size=32).digest()
            self._value = int.from_bytes(self._digest, "little")
        self._value, index = divmod(self._value, n)
        return index

    def chance(self, p: float) -> bool:
        return self.below(10_000) < p * 10_000


Slot = tuple[str, str]  # (namespace, name): ("ctx"|"v"|"t"|"case", name)
Template = tuple[str, tuple[Slot, ...]]  # a str.format pattern with positional fields, its slots


def _compile(template: str) -> Template:
    pattern: list[str] = []
    slots: list[Slot] = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        pattern.append(template[position : match.start()].replace("{", "{{").replace("}", "}}"))
        pattern.append("{}")
        namespace, _, rest = match.group(1).partition(".")
        slots.append(
            (namespace, rest)
            if rest and namespace in ("v", "t", "case")
            else ("ctx", match.group(1))
        )
        position = match.end()
    pattern.append(template[position:].replace("{", "{{").replace("}", "}}"))
    return "".join(pattern), tuple(slots)


@cache
def _load_templates() -> tuple[dict, dict]:
    text = (resources.files("orgforge.content") / "offline_templates.yaml").read_text("utf-8")
    data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    tables_raw = data.pop("_tables", {})
    kinds: dict[str, list[tuple[float, tuple[Template, ...]]]] = {}
    for kind, slots in data.items():
        compiled = []
        for slot in slots:
            p, variants = (slot["p"], slot["variants"]) if isinstance(slot, dict) else (1.0, slot)
            compiled.append((float(p), tuple(_compile(v) for v in variants)))
        kinds[kind] = compiled
    tables = {
        name: (
            spec["by"],
            {
                str(value): tuple(_compile(v) for v in variants)
                for value, variants in spec["values"].items()
            },
        )
        for name, spec in tables_raw.items()
    }
    return kinds, tables


class OfflineEngine(ContentEngine):
    name = "offline"

    def __init__(self, packs: Mapping[str, Pack], seed: int = 0) -> None:
        self.packs = packs
        self.seed = seed
        self.kinds, self.tables = _load_templates()
        self._vocab = {pid: p.vocabulary.model_dump() for pid, p in packs.items()}
        self._subjects = {pid: tuple(p.case.subjects) for pid, p in packs.items()}
        self._any_subjects = next(iter(self._subjects.values()))
        self.items = 0

    def fill(self, requests: Sequence[ContentRequest]) -> list[str]:
        self.items += len(requests)
        return [self.text(r.kind, r.key, r.context) for r in requests]

    def text(self, kind: str, key: str, context: Mapping[str, str]) -> str:
        slots = self.kinds.get(kind)
        if slots is None:
            raise KeyError(f"no offline template for kind {kind!r}")
        draw = _Draw(f"{self.seed}|{kind}|{key}")
        pack_id = context.get("industry", "")
        vocab = self._vocab.get(pack_id) or next(iter(self._vocab.values()))
        sentences = []
        for p, variants in slots:
            if p < 1.0 and not draw.chance(p):
                continue
            sentences.append(
                self._render(variants[draw.below(len(variants))], context, vocab, draw)
            )
        out = " ".join(s for s in sentences if s)
        if kind == "email.body":
            out = "\n\n".join(s for s in sentences if s)
        limit = KINDS[kind].max_chars if kind in KINDS else 4000
        return out if len(out) <= limit else out[: limit - 1].rstrip() + "…"

    def _render(
        self, template: Template, context: Mapping[str, str], vocab: dict, draw: _Draw
    ) -> str:
        pattern, slots = template
        if not slots:
            return pattern
        values = []
        for namespace, name in slots:
            if namespace == "ctx":
                if name == "number":
                    values.append(str(1000 + draw.below(899_000)))
                else:
                    value = context.get(name)
                    values.append(value if value else DEFAULTS.get(name, ""))
            elif namespace == "v":
                words = vocab.get(name) or ("",)
                values.append(words[draw.below(len(words))])
            elif namespace == "case":
                subjects = self._subjects.get(context.get("industry", "")) or self._any_subjects
                template = self._subject_templates(subjects)[draw.below(len(subjects))]
                values.append(self._render(template, context, vocab, draw))
            else:  # a table keyed by a context value
                by, table = self.tables[name]
                variants = table.get(str(context.get(by, ""))) or table.get("_default")
                if not variants:
                    values.append("")
                    continue
                values.append(
                    self._render(variants[draw.below(len(variants))], context, vocab, draw)
                )
        return pattern.format(*values)

    @staticmethod
    @cache
    def _subject_templates(subjects: tuple[str, ...]) -> tuple[Template, ...]:
        return tuple(_compile(s) for s in subjects)
