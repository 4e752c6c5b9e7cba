"""Scorecard frameworks (MEDDICC, MEDDPICC, BANT, yours) and how a scorecard gets filled.

A framework is a YAML file: questions with weights, and per question the *evidence cues* that
answer it (see ``frameworks/meddicc.yaml`` for the format). Modes:

* ``heuristic``: each question is answered from the cues that match the opportunity (its
  fields, contact roles and past planned activities); confidence is the sum of the matched
  cues' confidence (capped at 1); the answer lists the evidence it used.
* ``llm``: every question goes to the text engine as a ``scorecard.answer`` request, with the
  heuristic draft and evidence as context.
* ``hybrid``: heuristic first; only answers below ``min_confidence`` go to the engine.

Coverage = answered / total; confidence = question-weighted mean of answer confidences.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from orgforge.activity.subjects import (
    PERSONAS,
    STAGE_RANK,
    SubjectTypes,
    read_text,
    read_yaml,
    stage_rank,
    validation_error,
)
from orgforge.content.contract import ContentEngine, ContentRequest
from orgforge.errors import FrameworkError
from orgforge.schema import salesforce as sf
from orgforge.yamlutil import line_of

CUE_KINDS = ("activity", "persona", "field", "stage_min", "activities_min", "contact_roles_min")
NO_EVIDENCE = "Not enough evidence yet."


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Cue(_Model):
    activity: list[str] | None = None
    persona: list[str] | None = None
    field: str | None = None
    stage_min: str | None = None
    activities_min: int | None = Field(None, ge=1)
    contact_roles_min: int | None = Field(None, ge=1)
    confidence: float = Field(gt=0, le=1)
    answer: str = Field(min_length=3)

    @model_validator(mode="after")
    def _one_kind(self) -> Cue:
        kinds = [k for k in CUE_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                f"a cue needs exactly one of {', '.join(CUE_KINDS)}"
                + (f" (got {', '.join(kinds)})" if kinds else "")
            )
        if self.persona is not None:
            for persona in self.persona:
                if persona not in PERSONAS:
                    raise ValueError(f"unknown persona {persona!r}; one of {', '.join(PERSONAS)}")
        if self.field is not None and not sf.get("Opportunity").has_field(self.field):
            raise ValueError(f"{self.field!r} is not an Opportunity field")
        if self.stage_min is not None and self.stage_min not in STAGE_RANK:
            raise ValueError(f"unknown stage {self.stage_min!r}")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in CUE_KINDS if getattr(self, k) is not None)


class Question(_Model):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    text: str = Field(min_length=5)
    weight: float = Field(1.0, gt=0, le=10)
    evidence: list[Cue] = Field(min_length=1)


class Framework(_Model):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    name: str = Field(min_length=2)
    description: str = ""
    questions: list[Question] = Field(min_length=1)
    source: str = Field("", exclude=True)

    @model_validator(mode="after")
    def _unique(self) -> Framework:
        ids = [q.id for q in self.questions]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"question id {dupes[0]!r} is used twice")
        return self


def parse_framework(text: str, source: str, subjects: SubjectTypes | None = None) -> Framework:
    """Parse and check one framework; FrameworkError names file, line and field."""
    data, nodes = read_yaml(text, source, FrameworkError)
    if not isinstance(data, dict):
        raise FrameworkError(f"{source}:1: a framework is a mapping (id, name, questions)")
    try:
        framework = Framework.model_validate({**data, "source": source})
    except ValidationError as exc:
        raise validation_error(exc, source, nodes, FrameworkError) from None
    if subjects is not None:  # activity cues must name subject types that exist
        for qi, question in enumerate(framework.questions):
            for ci, cue in enumerate(question.evidence):
                for type_id in cue.activity or ():
                    if type_id not in subjects.ids:
                        loc = ("questions", str(qi), "evidence", str(ci), "activity")
                        line = line_of(nodes.get(), loc)
                        where = f"{source}:{line}" if line else source
                        raise FrameworkError(
                            f"{where}: {'.'.join(loc)}: unknown subject type {type_id!r}",
                            f"Subject types: {', '.join(sorted(subjects.ids))}.",
                        )
    return framework


@cache
def builtin_frameworks() -> dict[str, Framework]:
    folder = resources.files("orgforge.activity") / "frameworks"
    out = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            fw = parse_framework(entry.read_text("utf-8"), f"builtin:{entry.name}")
            out[fw.id] = fw
    return out


def load_frameworks(
    files: list[str] | tuple[str, ...] = (), subjects: SubjectTypes | None = None
) -> dict[str, Framework]:
    """Built-in frameworks plus the user's files (a file with a built-in id replaces it)."""
    frameworks = dict(builtin_frameworks())
    for file in files:
        text = read_text(file, "framework file", FrameworkError)
        fw = parse_framework(text, str(Path(file)), subjects)
        frameworks[fw.id] = fw
    return frameworks


def select_frameworks(all_: dict[str, Framework], ids: list[str]) -> list[Framework]:
    unknown = [i for i in ids if i not in all_]
    if unknown:
        raise FrameworkError(
            f"activity.scorecards.frameworks: unknown framework {unknown[0]!r}",
            f"Known frameworks: {', '.join(all_)} (add one with activity.scorecards.files).",
        )
    return [all_[i] for i in ids]


# -- filling a scorecard ---------------------------------------------------------------------


@dataclass
class Evidence:
    """What the heuristic can see of one opportunity."""

    opportunity: dict[str, Any]  # the Opportunity row (Salesforce fields)
    contacts: list[tuple[str, str, str]]  # (persona, name, title) of contacts with a role
    activities: list[tuple[str, str, str]]  # past (subject type id, label, ISO date), by date
    context: dict[str, str] = field(default_factory=dict)  # account, product, …
    _values: dict[str, Any] | None = field(default=None, repr=False)

    def values(self) -> dict[str, Any]:
        """Placeholder values shared by every cue's answer (computed once)."""
        if self._values is None:
            opp = self.opportunity
            values = {k: v for k, v in opp.items() if v is not None}
            if opp.get("Amount") is not None:
                values["Amount"] = _money(opp["Amount"])
            values.update(self.context)
            values["stage"] = opp.get("StageName") or ""
            self._values = values
        return self._values


@dataclass
class Answer:
    question: str
    position: int
    text: str
    weight: float
    answer: str | None
    confidence: float
    source: str  # heuristic | llm | none
    evidence: list[str]


@dataclass
class Scorecard:
    key: str
    opportunity: str
    framework: str
    mode: str
    answers: list[Answer]

    @property
    def answered(self) -> int:
        return sum(1 for a in self.answers if a.answer)

    @property
    def total(self) -> int:
        return len(self.answers)

    @property
    def coverage(self) -> float:
        return round(self.answered / self.total, 4) if self.total else 0.0

    @property
    def confidence(self) -> float:
        weight = sum(a.weight for a in self.answers)
        return round(sum(a.weight * a.confidence for a in self.answers) / weight, 4)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "opportunity": self.opportunity,
            "framework": self.framework,
            "mode": self.mode,
            "answered": self.answered,
            "total": self.total,
            "coverage": self.coverage,
            "confidence": self.confidence,
            "answers": [
                {
                    "question": a.question,
                    "text": a.text,
                    "answer": a.answer,
                    "confidence": a.confidence,
                    "source": a.source,
                    "evidence": a.evidence,
                }
                for a in self.answers
            ],
        }


class _Fmt(dict):
    def __missing__(self, key: str) -> str:
        return "—"


def _money(value: Any) -> str:
    return f"${value:,.0f}" if isinstance(value, int | float) else str(value)


def _match(cue: Cue, ev: Evidence) -> tuple[str, str] | None:
    """(answer text, evidence note) when the cue holds for this opportunity, else None."""
    opp = ev.opportunity
    values = _Fmt(ev.values())
    past = len(ev.activities)
    if cue.activity is not None:
        hits = [a for a in ev.activities if a[0] in cue.activity]
        if not hits:
            return None
        type_id, label, day = hits[-1]  # the latest one
        values.update(activity=label.lower(), date=day)
        note = f"activity:{type_id}@{day}" + (f" (+{len(hits) - 1} more)" if len(hits) > 1 else "")
    elif cue.persona is not None:
        people = [c for c in ev.contacts if c[0] in cue.persona]
        if not people:
            return None
        persona, name, title = people[0]
        values.update(contact=name, title=title or "no title", persona=persona)
        note = f"persona:{persona}={name}"
    elif cue.field is not None:
        if opp.get(cue.field) in (None, ""):
            return None
        note = f"field:{cue.field}"
    elif cue.stage_min is not None:
        if stage_rank(opp.get("StageName")) < STAGE_RANK[cue.stage_min]:
            return None
        note = f"stage:{opp.get('StageName')}"
    elif cue.activities_min is not None:
        if past < cue.activities_min:
            return None
        values["count"] = str(past)
        note = f"activities:{past}"
    else:
        assert cue.contact_roles_min is not None
        if len(ev.contacts) < cue.contact_roles_min:
            return None
        values["count"] = str(len(ev.contacts))
        note = f"contact_roles:{len(ev.contacts)}"
    return cue.answer.format_map(values), note


def heuristic(framework: Framework, ev: Evidence, key: str) -> Scorecard:
    answers = []
    for position, q in enumerate(framework.questions):
        texts, notes, confidence = [], [], 0.0
        for cue in q.evidence:
            hit = _match(cue, ev)
            if hit is None:
                continue
            texts.append(hit[0])
            notes.append(hit[1])
            confidence += cue.confidence
        answers.append(
            Answer(
                question=q.id,
                position=position,
                text=q.text,
                weight=q.weight,
                answer=" ".join(texts) or None,
                confidence=round(min(1.0, confidence), 4),
                source="heuristic" if texts else "none",
                evidence=notes,
            )
        )
    return Scorecard(key, ev.opportunity["key"], framework.id, "heuristic", answers)


def llm_requests(card: Scorecard, ev: Evidence, mode: str, min_confidence: float) -> list[int]:
    """Positions of the answers the text engine should (re)write in this mode."""
    if mode == "heuristic":
        return []
    if mode == "llm":
        return list(range(len(card.answers)))
    return [i for i, a in enumerate(card.answers) if a.confidence < min_confidence]


def apply_engine(
    cards: list[tuple[Scorecard, Evidence]],
    engine: ContentEngine,
    mode: str,
    min_confidence: float,
    llm_confidence: float,
) -> int:
    """Ask the engine for the answers ``mode`` hands to it; returns how many were asked."""
    requests: list[ContentRequest] = []
    targets: list[Answer] = []
    for card, ev in cards:
        for i in llm_requests(card, ev, mode, min_confidence):
            a = card.answers[i]
            context = {
                **ev.context,
                "framework": card.framework,
                "question": a.text,
                "answer": a.answer or NO_EVIDENCE,
                "evidence": json.dumps(a.evidence),
                "opportunity": str(ev.opportunity.get("Name") or ""),
                "stage": str(ev.opportunity.get("StageName") or ""),
                "activities": "; ".join(f"{x[1]} {x[2]}" for x in ev.activities[-8:]),
            }
            requests.append(ContentRequest("scorecard.answer", f"{card.key}/{a.question}", context))
            targets.append(a)
        card.mode = mode
    if not requests:
        return 0
    for a, text in zip(targets, engine.fill(requests), strict=True):
        text = (text or "").strip()
        if not text or text == NO_EVIDENCE:
            continue  # the engine had nothing better: keep the heuristic answer
        if text != a.answer:
            a.source = "llm"
            a.evidence = [*a.evidence, "llm"]
        a.answer = text
        a.confidence = round(max(a.confidence, llm_confidence), 4)
    return len(requests)
