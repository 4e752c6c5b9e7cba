"""The text contract: ``ContentRequest(kind, key, context) → str``.

Structure and text are separate passes. The generator decides every non-text field, then asks an
engine for the text fields as a list of requests; the engine answers with one string per
request, in order. Switching engines never changes a non-text field.

A *kind* names what the text is for (``account.description``, ``case.comment``…); its
:class:`KindSpec` says how long it may be and which context keys it needs. Engines must return
text within ``max_chars`` for every request (the LLM engine falls back to offline text per
item when a model's answer does not fit).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from orgforge.errors import UsageError


@dataclass(slots=True)  # not frozen: a frozen init costs twice as much, once per text field
class ContentRequest:
    kind: str
    key: str  # the record key the text belongs to (also the offline engine's seed)
    context: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class KindSpec:
    kind: str
    description: str
    max_chars: int
    min_chars: int = 1
    context: tuple[str, ...] = ()  # keys the request's context must carry
    mentions: str | None = None  # a context key the text should mention (LLM validation)


KINDS: dict[str, KindSpec] = {
    spec.kind: spec
    for spec in (
        KindSpec(
            "account.description",
            "2-3 sentences: what the company does, its position, a current initiative",
            1000,
            60,
            ("account", "industry"),
            mentions="account",
        ),
        KindSpec(
            "opportunity.description",
            "2-3 sentences: scope of the deal, where it stands, who matters",
            1000,
            40,
            ("account", "opportunity", "stage"),
        ),
        KindSpec("opportunity.next_step", "one short next step", 255, 10, ("stage",)),
        KindSpec("case.subject", "a support case subject line", 255, 8, ("industry",)),
        KindSpec(
            "case.description",
            "2-4 sentences: the issue, business impact, context",
            2000,
            40,
            ("account", "subject"),
        ),
        KindSpec("case_comment.body", "one support case comment", 4000, 15, ("subject",)),
        KindSpec("task.subject", "a task subject line", 255, 5, ("type",)),
        KindSpec("task.description", "1-3 sentences of task notes", 2000, 15, ("type",)),
        KindSpec("event.subject", "a meeting subject line", 255, 5, ("type",)),
        KindSpec("event.description", "agenda or notes for a meeting", 2000, 15, ("type",)),
        KindSpec("email.subject", "a sales email subject line", 255, 5, ("opportunity",)),
        KindSpec("email.body", "a short sales email", 4000, 40, ("opportunity", "contact")),
        KindSpec(
            "meeting.notes",
            "meeting agenda (future) or summary (past)",
            4000,
            40,
            ("opportunity", "subject"),
        ),
        KindSpec(
            "lead.description",
            "1-2 sentences: why the lead reached out and what they are looking at",
            1000,
            30,
            ("company", "industry"),
        ),
        KindSpec("scorecard.answer", "an answer to a sales scorecard question", 1000, 10),
        KindSpec("asana.comment", "a comment on a project task", 1000, 5),
    )
}


class ContentEngine(ABC):
    """Turns requests into text. One abstract method; engines batch internally as they like."""

    name: str = "engine"

    @abstractmethod
    def fill(self, requests: Sequence[ContentRequest]) -> list[str]:
        """One string per request, in order."""

    def stats(self) -> dict[str, float]:
        """Figures for the run summary (calls, cache hits, tokens, cost…)."""
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release clients, threads and handles (the LLM engine has some); safe to repeat."""


def check_kinds(kinds: list[str] | None) -> list[str] | None:
    """The kinds asked for, or UsageError naming the first unknown one."""
    unknown = [k for k in kinds or () if k not in KINDS]
    if unknown:
        raise UsageError(f"--kinds: unknown kind {unknown[0]!r}", f"Kinds: {', '.join(KINDS)}")
    return kinds
