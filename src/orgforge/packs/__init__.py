"""Industry packs: data files (names, titles, products, case subjects, vocabulary) per industry.

Built-in packs live in ``packs/data/*.yaml``; users add their own with the same format
(``FORMAT.md``). No code path knows any particular industry: everything industry-specific is here.

Parsing the built-in YAML files costs ~25 ms a run, so ``data/_parsed.json`` ships their parse
(built by scripts/build_parsed_data.py), each with the SHA-256 of the text it came from: a file
whose text still has that hash is read from there, any other is parsed (see builtin_yaml).
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources
from pathlib import Path
from string import Formatter
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from orgforge.errors import PackError
from orgforge.inputs import load_yaml, read_text
from orgforge.yamlutil import line_of

COMPANY_SLOTS = {"last", "city", "state", "word", "word2"}
RANGE_MAX = 100_000_000
"""Largest number a pack's employee, revenue-per-employee or product range may reach."""
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _slots_ok(values: list[str], allowed: set[str], what: str) -> list[str]:
    """Every ``{slot}`` is one str.format fills (parsed as generation parses it), so a pattern
    that passes here can't fail mid-run: no unbalanced brace, positional field or format spec."""
    allowed_text = ", ".join("{" + s + "}" for s in sorted(allowed)) or "none"
    for value in values:
        try:
            fields = [
                (f, spec, conv) for _, f, spec, conv in Formatter().parse(value) if f is not None
            ]
        except ValueError as exc:  # "Single '{' encountered", "expected '}' before end"
            raise ValueError(
                f"{what} {value!r} has an unbalanced brace ({exc}); write {{{{ or }}}} for a "
                "literal one"
            ) from None
        for slot, spec, conv in fields:
            if slot not in allowed:
                raise ValueError(f"{what} {value!r} uses unknown slot {{{slot}}} ({allowed_text})")
            if spec or conv:
                raise ValueError(f"{what} {value!r}: slot {{{slot}}} takes no format or conversion")
    return values


def _non_empty_strings(values: list[str], minimum: int, what: str) -> list[str]:
    if len(values) < minimum:
        raise ValueError(f"{what} needs at least {minimum} entries, got {len(values)}")
    for value in values:
        if not value.strip():
            raise ValueError(f"{what} has an empty entry")
    return values


class Company(_Model):
    patterns: list[str]
    words: list[str]
    suffixes: list[str]
    employees: tuple[int, int]
    revenue_per_employee: tuple[int, int]
    types: dict[Literal["Customer", "Prospect", "Partner", "Other"], float]

    @field_validator("patterns")
    @classmethod
    def _patterns(cls, v: list[str]) -> list[str]:
        return _slots_ok(_non_empty_strings(v, 1, "company.patterns"), COMPANY_SLOTS, "pattern")

    @field_validator("words")
    @classmethod
    def _words(cls, v: list[str]) -> list[str]:
        return _non_empty_strings(v, 30, "company.words")

    @field_validator("suffixes")
    @classmethod
    def _suffixes(cls, v: list[str]) -> list[str]:
        return _non_empty_strings(v, 5, "company.suffixes")

    @field_validator("employees", "revenue_per_employee")
    @classmethod
    def _range(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not 0 < v[0] <= v[1]:
            raise ValueError(f"range must be [low, high] with 0 < low ≤ high, got {list(v)}")
        if v[1] > RANGE_MAX:
            # employees × revenue per employee is stored as a 64-bit integer: keep both sane
            raise ValueError(f"range {list(v)} goes above {RANGE_MAX:,}")
        return v

    @field_validator("types")
    @classmethod
    def _types(cls, v: dict[str, float]) -> dict[str, float]:
        if abs(sum(v.values()) - 100) > 1e-6 or any(w < 0 for w in v.values()):
            raise ValueError(f"types weights must be ≥ 0 and sum to 100, got {sum(v.values()):g}")
        return v


class Title(_Model):
    title: str = Field(min_length=2)
    department: str = Field(min_length=2)
    seniority: Literal["executive", "vp", "director", "manager", "individual"]


class Product(_Model):
    name: str = Field(min_length=2)
    min: int = Field(gt=0, le=RANGE_MAX)
    max: int = Field(gt=0, le=RANGE_MAX)

    @model_validator(mode="after")
    def _order(self) -> Product:
        if self.min > self.max:
            raise ValueError(f"product {self.name!r}: min {self.min} is above max {self.max}")
        return self


class CaseData(_Model):
    subjects: list[str]
    types: list[Literal["Problem", "Question", "Feature Request", "Other"]]
    reasons: list[str]

    @field_validator("subjects")
    @classmethod
    def _subjects(cls, v: list[str]) -> list[str]:
        return _slots_ok(_non_empty_strings(v, 15, "case.subjects"), {"number"}, "case subject")

    @field_validator("reasons")
    @classmethod
    def _reasons(cls, v: list[str]) -> list[str]:
        return _non_empty_strings(v, 5, "case.reasons")


VOCABULARY_KEYS = (
    "offerings",
    "segments",
    "initiatives",
    "pains",
    "outcomes",
    "systems",
    "regulations",
    "issues",
    "stakeholders",
)


class Vocabulary(_Model):
    offerings: list[str]
    segments: list[str]
    initiatives: list[str]
    pains: list[str]
    outcomes: list[str]
    systems: list[str]
    regulations: list[str]
    issues: list[str]
    stakeholders: list[str]

    @field_validator(*VOCABULARY_KEYS)
    @classmethod
    def _lists(cls, v: list[str], info) -> list[str]:
        return _non_empty_strings(v, 10, f"vocabulary.{info.field_name}")


class Segment(_Model):
    """A kind of company within the industry (a health plan, a reinsurer, a broker…).

    An account picks one; its name comes from ``patterns`` and its contacts' titles, the
    products it buys, its opportunity themes and its case subjects from the pack's lists,
    narrowed to this segment: an entry that some segment names belongs to the segments that
    name it, an entry no segment names is shared by all. ``vocabulary`` replaces pack
    vocabulary lists for this segment's text."""

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    label: str = Field(min_length=2)
    weight: float = Field(gt=0)
    patterns: list[str]
    titles: list[str] = []
    products: list[str] = []
    opportunity_types: list[str] = []
    case_subjects: list[str] = []
    vocabulary: dict[str, list[str]] = {}

    @field_validator("patterns")
    @classmethod
    def _patterns(cls, v: list[str]) -> list[str]:
        return _slots_ok(_non_empty_strings(v, 1, "segment patterns"), COMPANY_SLOTS, "pattern")

    @field_validator("vocabulary")
    @classmethod
    def _vocabulary(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for key, words in v.items():
            if key not in VOCABULARY_KEYS:
                raise ValueError(f"unknown vocabulary list {key!r} ({', '.join(VOCABULARY_KEYS)})")
            _non_empty_strings(words, 3, f"vocabulary.{key}")
        return v


# The pack lists a segment narrows: segment field → (pack list, what an entry is called).
SEGMENT_LISTS = ("titles", "products", "opportunity_types", "case_subjects")


class Pack(_Model):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    label: str = Field(min_length=2)
    industry: str = Field(min_length=2)
    context: str = Field(min_length=20)
    company: Company
    titles: list[Title] = Field(min_length=20)
    products: list[Product] = Field(min_length=8)
    opportunity_types: list[str] = Field(min_length=8)
    case: CaseData
    vocabulary: Vocabulary
    segments: list[Segment] = []
    source: str = Field("", exclude=True)

    def _entries(self, name: str) -> list[str]:
        if name == "titles":
            return [t.title for t in self.titles]
        if name == "products":
            return [p.name for p in self.products]
        if name == "case_subjects":
            return list(self.case.subjects)
        return list(self.opportunity_types)

    @model_validator(mode="after")
    def _segments(self) -> Pack:
        ids = [s.id for s in self.segments]
        if len(set(ids)) != len(ids):
            raise ValueError("segments: two segments share an id")
        for name in SEGMENT_LISTS:
            known = set(self._entries(name))
            for segment in self.segments:
                for entry in getattr(segment, name):
                    if entry not in known:
                        raise ValueError(
                            f"segment {segment.id!r}: {name} entry {entry!r} is not in the "
                            f"pack's {name.replace('case_', 'case.')}"
                        )
        for segment in self.segments:
            for name, entries in self.segment_lists(segment.id).items():
                if not entries:
                    raise ValueError(f"segment {segment.id!r} is left with no {name}")
        return self

    def segment_lists(self, segment_id: str | None) -> dict[str, list[str]]:
        """The entries of each narrowed list (SEGMENT_LISTS) for one segment, in pack order:
        those the segment names plus those no segment names. No segment: every entry."""
        segment = next((s for s in self.segments if s.id == segment_id), None)
        out = {}
        for name in SEGMENT_LISTS:
            entries = self._entries(name)
            if segment is None:
                out[name] = entries
                continue
            claimed = {e for s in self.segments for e in getattr(s, name)}
            mine = set(getattr(segment, name))
            out[name] = [e for e in entries if e in mine or e not in claimed]
        return out

    def segment(self, segment_id: str | None) -> Segment | None:
        return next((s for s in self.segments if s.id == segment_id), None)


def _read_pack_text(path: Path) -> str:
    """A regular UTF-8 file only: a FIFO, a directory or binary is refused, never hung on."""
    return read_text(path, "pack file", PackError, "Check the path given to --pack.")


def load_pack(path: str | Path) -> Pack:
    """Load and validate one pack file; errors name the file, line and field."""
    path = Path(path)
    text = _read_pack_text(path)
    data, _nodes = load_yaml(text, str(path), PackError)  # strict: duplicate keys, depth
    return parse_pack(text, str(path), data)


def pack_problems(path: str | Path) -> tuple[Pack | None, list[str]]:
    """Validate one pack file and return (the pack or None, every problem as file:line: field).

    Unlike :func:`load_pack`, which stops at the first problem, this lists them all (what
    ``orgforge packs validate`` shows); a file that can't be read or parsed is one problem.
    """
    path = Path(path)
    try:
        text = _read_pack_text(path)
        data, _nodes = load_yaml(text, str(path), PackError)  # malformed, duplicate keys, depth
        if not isinstance(data, dict):
            parse_pack(text, str(path), data)  # words it: file:1: a pack must be a mapping
    except PackError as error:
        return None, [error.message]
    try:
        return Pack.model_validate({**data, "source": str(path)}), []
    except ValidationError as exc:
        return None, _describe(exc, text, str(path), every=True)


def _describe(exc: ValidationError, text: str, source: str, every: bool) -> list[str]:
    """``source:line: field.path: message`` for the first (or every) error of a validation."""
    nodes = yaml.compose(text, Loader=_LOADER)  # only on error: it's slow
    errors = exc.errors() if every else exc.errors()[:1]
    lines = []
    for error in errors:
        loc = tuple(str(p) for p in error["loc"])
        line = line_of(nodes, loc)
        where = f"{source}:{line}" if line else source
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}"
        lines.append(f"{where}: {'.'.join(loc) or '(top level)'}: {message}")
    return lines


def parse_pack(text: str, source: str, data: Any = None) -> Pack:
    """Validate a pack from its YAML ``text`` (``data``: that text already parsed)."""
    if data is None:
        try:
            data = yaml.load(text, Loader=_LOADER)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{source}:{mark.line + 1}" if mark else source
            raise PackError(f"{where}: malformed YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise PackError(f"{source}:1: a pack must be a mapping of keys (id, label, company, …)")
    try:
        return Pack.model_validate({**data, "source": source})
    except ValidationError as exc:
        (first,) = _describe(exc, text, source, every=False)
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise PackError(f"{first}{more}") from None


PARSED_FILE = "_parsed.json"


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def builtin_yaml(names: list[str]) -> dict[str, tuple[str, Any]]:
    """Built-in data files (``packs/data/NAME``) → (text, parsed YAML).

    The parse comes from ``_parsed.json`` when the file's text is the one it was made from,
    else from the YAML itself: the shipped parse can make a run faster, never different.
    """
    folder = resources.files("orgforge.packs") / "data"
    try:
        shipped = json.loads((folder / PARSED_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        shipped = {}
    files = {}
    for name in names:
        text = (folder / name).read_text(encoding="utf-8")
        entry = shipped.get(name)
        if entry is not None and entry["sha256"] == text_digest(text):
            files[name] = (text, entry["data"])
        else:
            files[name] = (text, yaml.load(text, Loader=_LOADER))
    return files


def builtin_pack_files() -> list[str]:
    folder = resources.files("orgforge.packs") / "data"
    return sorted(
        e.name for e in folder.iterdir() if e.name.endswith(".yaml") and not e.name.startswith("_")
    )


@cache
def builtin_packs() -> dict[str, Pack]:
    packs: dict[str, Pack] = {}
    for name, (text, data) in builtin_yaml(builtin_pack_files()).items():
        pack = parse_pack(text, f"builtin:{name}", data)
        packs[pack.id] = pack
    return packs


def load_packs(extra_files: list[str] | tuple[str, ...] = ()) -> dict[str, Pack]:
    """Built-in packs plus the user's; a user pack with a built-in id replaces it."""
    packs = dict(builtin_packs())
    for file in extra_files:
        pack = load_pack(file)
        packs[pack.id] = pack
    return packs


def resolve_industries(
    packs: dict[str, Pack], weights: dict[str, float] | None, only: list[str] | None = None
) -> dict[str, float]:
    """Industry id → weight (percent). ``only`` (from --industries) picks equal weights."""
    if only:
        unknown = [name for name in only if name not in packs]
        if unknown:
            raise PackError(
                f"--industries: unknown industry {unknown[0]!r}",
                f"Known industries: {', '.join(packs)} (add your own with --pack FILE).",
            )
        return {name: 100 / len(only) for name in only}
    if weights:
        unknown = [name for name in weights if name not in packs]
        if unknown:
            raise PackError(
                f"generate.industries: unknown industry {unknown[0]!r}",
                f"Known industries: {', '.join(packs)} (add your own with generate.packs).",
            )
        return {name: w for name, w in weights.items() if w > 0}
    return {name: 100 / len(packs) for name in packs}
