"""Prompt templates as files, and the one way a batch of requests becomes a prompt.

Each kind has ``prompts/<kind>.txt`` (``account.description.txt``…) plus ``_system.txt``; the
first line of each is ``# version: N``. ``content.prompts_dir`` points at a folder whose files of
the same names replace ours. A template's version *and* a hash of its text are part of every
cache key, so editing a prompt never serves text written for the old one.

The user message of a call is the kind's template, the industry background of the packs the
batch touches, then one JSON line per item (``id`` plus the request's context). The model
answers ``{"items": [{"id": "1", "text": "..."}, ...]}``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from orgforge.content.contract import KINDS, ContentRequest
from orgforge.errors import ConfigError
from orgforge.inputs import read_text
from orgforge.packs import Pack

SYSTEM = "_system"
_VERSION = re.compile(r"^#\s*version:\s*(\S+)\s*$", re.IGNORECASE)
HIDDEN_CONTEXT = (
    "subject_of",
    "industry_label",
    "pack_segment",
)  # internal links, not facts for the model

RESPONSE_SCHEMA: dict = {
    "type": "object",
    "properties": {
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"id": {"type": "string"}, "text": {"type": "string"}},
                "required": ["id", "text"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["items"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Template:
    name: str
    version: str
    body: str
    source: str

    @property
    def tag(self) -> str:
        """Version plus a short hash of the text: what the cache key remembers."""
        digest = hashlib.sha256(self.body.encode()).hexdigest()[:8]
        return f"{self.version}-{digest}"


def parse_template(name: str, text: str, source: str) -> Template:
    lines = text.strip("\ufeff").splitlines()
    match = _VERSION.match(lines[0]) if lines else None
    if match is None:
        raise ConfigError(
            f"prompt {source}:1: the first line must be '# version: N'",
            "Start every prompt file with a version line and bump it when you edit the prompt.",
        )
    body = "\n".join(lines[1:]).strip()
    if not body:
        raise ConfigError(f"prompt {source}: the template is empty after its version line")
    return Template(name, match.group(1), body, source)


class Prompts:
    """Templates by kind: the built-in files, with a user folder's files of the same name first."""

    def __init__(self, user_dir: str | Path | None = None) -> None:
        self.user_dir = Path(user_dir).expanduser() if user_dir else None
        if self.user_dir is not None and not self.user_dir.is_dir():
            raise ConfigError(
                f"content.prompts_dir {self.user_dir}: not a directory",
                "Point it at a folder holding files like account.description.txt.",
            )
        self._cache: dict[str, Template] = {}

    def get(self, name: str) -> Template:
        if name in self._cache:
            return self._cache[name]
        filename = f"{name}.txt"
        template = None
        if self.user_dir is not None:
            path = self.user_dir / filename
            if (
                path.is_file()
            ):  # read as a regular UTF-8 file: a FIFO here is refused, not waited on
                text = read_text(path, "prompt template", ConfigError)
                template = parse_template(name, text, str(path))
        if template is None:
            entry = resources.files("orgforge.content") / "prompts" / filename
            if not entry.is_file():
                raise ConfigError(
                    f"no prompt template for kind {name!r}",
                    f"Add {filename} to content.prompts_dir (see docs/content.md).",
                )
            template = parse_template(name, entry.read_text("utf-8"), f"builtin:{filename}")
        self._cache[name] = template
        return template

    def tag(self, kind: str) -> str:
        """The cache-relevant version of everything that shapes a kind's prompt."""
        return f"{self.get(SYSTEM).tag}/{self.get(kind).tag}"


def visible_context(context: Mapping[str, str]) -> dict[str, str]:
    return {
        k: str(v) for k, v in context.items() if k not in HIDDEN_CONTEXT and v not in (None, "")
    }


VOCABULARY_LINE = ("systems", "regulations", "initiatives")
VOCABULARY_WORDS = 5


def industry_background(pack: Pack) -> str:
    """One line per industry: the pack's context and a few of its words, for realism."""
    words = pack.vocabulary.model_dump()
    terms = "; ".join(
        f"{name}: {', '.join(words[name][:VOCABULARY_WORDS])}" for name in VOCABULARY_LINE
    )
    return f"- {pack.id} ({pack.label}): {' '.join(pack.context.split())} Typical {terms}."


def pack_tag(pack: Pack | None) -> str:
    """A short hash of what a pack contributes to prompts (part of the cache key)."""
    if pack is None:
        return ""
    return hashlib.sha256(industry_background(pack).encode()).hexdigest()[:8]


def render_batch(
    prompts: Prompts, kind: str, requests: Sequence[ContentRequest], packs: Mapping[str, Pack]
) -> tuple[str, str]:
    """(system, user) messages asking for one text per request; ids are "1", "2", …"""
    spec = KINDS[kind]
    body = (
        prompts.get(kind)
        .body.replace("{min_chars}", str(spec.min_chars))
        .replace("{max_chars}", str(spec.max_chars))
    )
    lines = [body, ""]
    industries = list(dict.fromkeys(r.context.get("industry", "") for r in requests))
    background = [industry_background(packs[pid]) for pid in industries if pid in packs]
    if background:
        lines += ["Industry background:", *background, ""]
    lines.append(f"Items ({len(requests)}), one JSON object per line:")
    for n, request in enumerate(requests, start=1):
        item = {"id": str(n), **visible_context(request.context)}
        lines.append(json.dumps(item, ensure_ascii=False, separators=(",", ":")))
    lines += [
        "",
        'Answer with JSON only: {"items": [{"id": "1", "text": "..."}, ...]} with exactly one '
        f"entry per id above ({len(requests)} in all), each text {spec.min_chars}-"
        f"{spec.max_chars} characters.",
    ]
    return prompts.get(SYSTEM).body, "\n".join(lines)
