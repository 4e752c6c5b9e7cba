"""Subject types and holiday calendars: the activity planner's data files, loaded and checked.

Both are YAML shipped in ``activity/data/``; a user file of the same shape replaces the
built-in one (``activity.subjects``) or adds a calendar (``activity.holidays``). Errors name the
file, line and field like every other orgforge data file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from orgforge import inputs
from orgforge.errors import ConfigError, UsageError
from orgforge.inputs import load_yaml
from orgforge.schema.salesforce import CONTACT_ROLES, STAGES
from orgforge.yamlutil import line_of

OPEN_STAGES = STAGES[:6]
STAGE_RANK = {name: rank for rank, name in enumerate(OPEN_STAGES)}
PERSONAS = (
    "economic_buyer",
    "executive_sponsor",
    "champion",
    "technical_evaluator",
    "procurement",
    "legal",
    "user",
)


def stage_rank(stage: str | None) -> int:
    """Where a stage sits on the open-stage ladder (0 Prospecting … 5 Negotiation/Review)."""
    if stage == "Closed Won":
        return 5
    if stage == "Closed Lost":
        return 4  # most lost deals got as far as a proposal
    return STAGE_RANK.get(stage or "", 0)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SubjectType(_Model):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    label: str = Field(min_length=2)
    from_: str = Field(alias="from")
    to: str
    event_type: str = "Meeting"
    personas: list[str] = Field(min_length=1)
    subjects: list[str] = Field(min_length=1)
    # emails only: the meeting types (ids, or "any") one of which must have happened with the
    # recipient before it is sent ("thanks for your time", a demo follow-up)
    follows: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> SubjectType:
        for stage in (self.from_, self.to):
            if stage not in STAGE_RANK:
                raise ValueError(f"unknown stage {stage!r}; open stages: {', '.join(OPEN_STAGES)}")
        if STAGE_RANK[self.from_] > STAGE_RANK[self.to]:
            raise ValueError(f"from {self.from_!r} comes after to {self.to!r}")
        for persona in self.personas:
            if persona not in PERSONAS:
                raise ValueError(f"unknown persona {persona!r}; personas: {', '.join(PERSONAS)}")
        if self.event_type not in ("Meeting", "Demo", "Call", "Other"):
            raise ValueError(f"event_type {self.event_type!r} is not Meeting, Demo, Call or Other")
        return self

    @property
    def ranks(self) -> tuple[int, int]:
        return STAGE_RANK[self.from_], STAGE_RANK[self.to]

    def fits(self, rank: int) -> bool:
        low, high = self.ranks
        return low <= rank <= high


class SubjectTypes(_Model):
    personas: dict[str, str]
    title_personas: dict[str, list[str]] = Field(default_factory=dict)
    company: str = "Orgforge Demo"
    meetings: list[SubjectType] = Field(min_length=1)
    emails: list[SubjectType] = Field(min_length=1)
    source: str = Field("", exclude=True)

    @model_validator(mode="after")
    def _check(self) -> SubjectTypes:
        for role, persona in self.personas.items():
            if role not in CONTACT_ROLES:
                raise ValueError(
                    f"unknown contact role {role!r}; roles: {', '.join(CONTACT_ROLES)}"
                )
            if persona not in PERSONAS:
                raise ValueError(f"unknown persona {persona!r}; personas: {', '.join(PERSONAS)}")
        for persona in self.title_personas:
            if persona not in PERSONAS:
                raise ValueError(f"unknown persona {persona!r}; personas: {', '.join(PERSONAS)}")
        meeting_ids = {t.id for t in self.meetings}
        for t in self.meetings:
            if t.follows:
                raise ValueError(f"meeting type {t.id!r}: only emails can have follows")
        for t in self.emails:
            unknown = [f for f in t.follows if f != "any" and f not in meeting_ids]
            if unknown:
                raise ValueError(
                    f"email type {t.id!r} follows {unknown[0]!r}, which is not a meeting type"
                )
        ids = [t.id for t in [*self.meetings, *self.emails]]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"subject type id {dupes[0]!r} is used twice")
        for kind, types in (("meetings", self.meetings), ("emails", self.emails)):
            covered = {r for t in types for r in range(t.ranks[0], t.ranks[1] + 1)}
            missing = [OPEN_STAGES[r] for r in range(len(OPEN_STAGES)) if r not in covered]
            if missing:
                raise ValueError(f"{kind}: no subject type fits stage {missing[0]!r}")
        return self

    @property
    def ids(self) -> set[str]:
        return {t.id for t in [*self.meetings, *self.emails]}

    def by_id(self, type_id: str) -> SubjectType:
        for t in [*self.meetings, *self.emails]:
            if t.id == type_id:
                return t
        raise KeyError(type_id)


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LazyNodes:
    """The YAML node tree (for line numbers in errors), composed only when an error needs it."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._nodes: Any = None

    def get(self) -> Any:
        if self._nodes is None:
            self._nodes = yaml.compose(self.text, Loader=_LOADER)
        return self._nodes


def read_yaml(text: str, source: str, error: type[UsageError]) -> tuple[Any, LazyNodes]:
    """Parse a data file; a user's (any source but ``builtin:``) goes through the strict loader,
    which refuses duplicate keys, deep nesting and impossible dates, naming file and line."""
    if not source.startswith("builtin:"):
        data, _nodes = load_yaml(text, source, error)
        return data, LazyNodes(text)
    try:
        return yaml.load(text, Loader=_LOADER), LazyNodes(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(
            f"{where}: malformed YAML: {problem}",
            "Check indentation and quoting on that line (YAML uses spaces, not tabs).",
        ) from None


def validation_error(
    exc: ValidationError, source: str, nodes: Any, error: type[UsageError], prefix: tuple = ()
) -> UsageError:
    first = exc.errors()[0]
    loc = tuple(str(p) for p in (*prefix, *first["loc"]) if p != "from_")
    line = line_of(nodes.get(), loc) if nodes is not None else None
    where = f"{source}:{line}" if line else source
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = f"unknown key {loc[-1]!r}"
    elif first["type"] == "missing":
        message = "missing (required)"
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return error(f"{where}: {'.'.join(loc) or '(top level)'}: {message}{more}")


def read_text(path: str | Path, what: str, error: type[UsageError]) -> str:
    """A user's data file: regular UTF-8 files only (a FIFO is refused, never waited on)."""
    return inputs.read_text(path, what, error, "Check the path in your config.")


def parse_subject_types(text: str, source: str) -> SubjectTypes:
    data, nodes = read_yaml(text, source, ConfigError)
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: a subject types file is a mapping (personas, meetings, …)")
    try:
        return SubjectTypes.model_validate({**data, "source": source})
    except ValidationError as exc:
        raise validation_error(exc, source, nodes, ConfigError) from None


@cache
def _builtin_text(name: str) -> str:
    return (resources.files("orgforge.activity") / "data" / name).read_text("utf-8")


@cache
def load_subject_types(path: str | None = None) -> SubjectTypes:
    if path is None:
        return parse_subject_types(_builtin_text("subjects.yaml"), "builtin:subjects.yaml")
    return parse_subject_types(read_text(path, "subject types file", ConfigError), str(path))


@dataclass(frozen=True)
class Holidays:
    """Holiday day ordinals per calendar, and which calendar a country uses."""

    calendars: dict[str, frozenset[int]]
    countries: dict[str, str]
    setting: str | None  # auto | calendar id | file path | None

    def for_country(self, country: str | None) -> frozenset[int]:
        if self.setting is None:
            return frozenset()
        if self.setting == "auto":
            calendar = self.countries.get(country or "")
            return self.calendars.get(calendar, frozenset()) if calendar else frozenset()
        if self.setting in self.calendars:
            return self.calendars[self.setting]
        return self.calendars.get("_file", frozenset())


def _parse_holidays(text: str, source: str) -> tuple[dict[str, frozenset[int]], dict[str, str]]:
    data, nodes = read_yaml(text, source, ConfigError)
    if not isinstance(data, dict) or not isinstance(data.get("calendars"), dict):
        raise ConfigError(f"{source}:1: a holidays file needs `calendars: {{id: [dates]}}`")
    calendars: dict[str, frozenset[int]] = {}
    for name, days in data["calendars"].items():
        ordinals = set()
        for day in days or []:
            if isinstance(day, str):
                try:
                    day = dt.date.fromisoformat(day)
                except ValueError:
                    day = None
            if not isinstance(day, dt.date):
                line = line_of(nodes.get(), ("calendars", str(name)))
                raise ConfigError(
                    f"{source}:{line}: calendars.{name}: {day!r} is not a date (YYYY-MM-DD)"
                )
            ordinals.add(day.toordinal())
        calendars[str(name)] = frozenset(ordinals)
    countries = {str(k): str(v) for k, v in (data.get("countries") or {}).items()}
    return calendars, countries


@cache
def load_holidays(setting: str | None) -> Holidays:
    calendars, countries = _parse_holidays(_builtin_text("holidays.yaml"), "builtin:holidays.yaml")
    if setting not in (None, "auto") and setting not in calendars:
        if not Path(setting).suffix:
            raise ConfigError(
                f"activity.holidays: unknown calendar {setting!r}",
                f"Use auto, one of {', '.join(calendars)}, a YAML file, or null.",
            )
        extra, _ = _parse_holidays(read_text(setting, "holidays file", ConfigError), setting)
        calendars["_file"] = frozenset().union(*extra.values()) if extra else frozenset()
    return Holidays(calendars, countries, setting)
