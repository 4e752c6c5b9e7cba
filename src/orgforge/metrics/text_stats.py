"""How much a world's long text repeats (``orgforge stats --text``).

Per long text field (every textarea field of the generated objects, and Opportunity.NextStep):
how many values it has, the share of distinct values, the share of distinct sentences, and the
sentence said most often with how many values say it. The targets for the offline engine
(docs/generate.md, "Text that does not repeat") read from these figures: no sentence in more
than 1% of a field's values, and at least 80% of its sentences distinct.

A *sentence* is a piece of a value ended by ``.``, ``!`` or ``?`` (and a space or the end), or by
a line break, with at least :data:`MIN_WORDS` words. Shorter pieces are greetings, sign-offs and
signatures ("Hi Dana,", "Best regards,", a name and a title): every email has them, so they are
not counted as sentences; a line ending in a comma is a greeting or a sign-off whatever its
length.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from orgforge.schema import salesforce as sf
from orgforge.world.store import World

MIN_WORDS = 4
EXTRA_FIELDS = {"Opportunity": ("NextStep",)}  # short, but written like a sentence
_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")


def long_text_fields() -> dict[str, list[str]]:
    """Object → its long text fields, in schema order."""
    out: dict[str, list[str]] = {}
    for name in sf.GENERATED:
        obj = sf.BY_NAME[name]
        fields = [
            f.name
            for f in obj.text_fields
            if f.type == "textarea" or f.name in EXTRA_FIELDS.get(name, ())
        ]
        if fields:
            out[name] = fields
    return out


def sentences(value: str) -> list[str]:
    """The sentences of one value (see the module docstring)."""
    out = []
    for piece in _SPLIT.split(value):
        piece = piece.strip()
        if not piece or piece.endswith(",") or len(piece.split()) < MIN_WORDS:
            continue
        out.append(piece)
    return out


def field_stats(values: Iterable[str]) -> dict[str, Any]:
    """The figures of one field's non-empty values."""
    count = 0
    distinct_values: set[str] = set()
    said: Counter[str] = Counter()  # sentence → values saying it (once per value)
    total_sentences = 0
    for value in values:
        if not value:
            continue
        count += 1
        distinct_values.add(value)
        found = sentences(value)
        total_sentences += len(found)
        said.update(set(found))
    top, top_count = said.most_common(1)[0] if said else ("", 0)
    distinct_sentences = len(said)
    return {
        "values": count,
        "distinct_values_pct": round(100 * len(distinct_values) / count, 1) if count else 0.0,
        "sentences": total_sentences,
        "distinct_sentences_pct": (
            round(100 * distinct_sentences / total_sentences, 1) if total_sentences else 0.0
        ),
        "top_sentence": top,
        "top_sentence_values": top_count,
        "top_sentence_pct": round(100 * top_count / count, 2) if count else 0.0,
    }


def text_stats(world: World) -> list[dict[str, Any]]:
    """One row per long text field that has values: object, field and its figures."""
    rows = []
    for name, fields in long_text_fields().items():
        columns = set(world.columns(name))
        for field_name in fields:
            if field_name not in columns:
                continue
            values = (row[0] for row in world.iter_rows(name, [field_name]))
            figures = field_stats(v for v in values if isinstance(v, str))
            if figures["values"]:
                rows.append({"object": name, "field": field_name, **figures})
    return rows
