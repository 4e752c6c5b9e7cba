"""The routing policy: a YAML file a RevOps lead can read, validated with ``file:line`` errors.

A policy names the reps (time zone, working hours, out-of-office), the segments (by employee
count) and regions (by country), the pools that serve each segment × region with per-rep
weights and daily caps, a fallback owner so no lead is left unassigned, and SLA checkpoints
that reassign an untouched lead. ``orgforge agents policy validate FILE`` checks one; the
built-in example is ``orgforge/agents/data/policy.example.yaml``.
"""

from __future__ import annotations

import hashlib
from datetime import date, time
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from orgforge.activity.subjects import read_text, read_yaml, validation_error
from orgforge.errors import ConfigError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class PolicyError(ConfigError):
    default_hint = "Compare the file with `orgforge agents policy show` (the built-in example)."


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Absence(_Strict):
    """Out of office from ``start`` to ``end``, both days included, in the rep's time zone."""

    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Absence:
        if self.end < self.start:
            raise ValueError(f"ends ({self.end}) before it starts ({self.start})")
        return self


class Rep(_Strict):
    id: str  # the world's user key (User/03) or an org user id (005...)
    name: str | None = None
    timezone: str = "UTC"
    hours: tuple[time, time] = (time(9), time(17))
    days: tuple[str, ...] = WEEKDAYS[:5]
    out_of_office: tuple[Absence, ...] = ()
    active: bool = True

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as Europe/London)"
            ) from None
        return value

    @field_validator("days")
    @classmethod
    def _days(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [d for d in value if d not in WEEKDAYS]
        if bad:
            raise ValueError(f"unknown day {bad[0]!r}; days are {', '.join(WEEKDAYS)}")
        return value

    @model_validator(mode="after")
    def _hours(self) -> Rep:
        if self.hours[1] <= self.hours[0]:
            raise ValueError("hours must end after they start (overnight shifts aren't supported)")
        return self

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Segment(_Strict):
    name: str
    max_employees: int | None = Field(None, ge=0)  # None: no upper bound (the last segment)


class Region(_Strict):
    name: str
    countries: tuple[str, ...]

    @cached_property
    def folded(self) -> frozenset[str]:
        return frozenset(c.casefold() for c in self.countries)


class Member(_Strict):
    rep: str
    weight: Annotated[int, Field(ge=1, le=1000)] = 1
    cap_per_day: Annotated[int, Field(ge=1)] | None = None


class Pool(_Strict):
    name: str
    segments: tuple[str, ...] = ()  # empty: every segment
    regions: tuple[str, ...] = ()  # empty: every region
    members: tuple[Member, ...]

    @field_validator("members")
    @classmethod
    def _some(cls, value: tuple[Member, ...]) -> tuple[Member, ...]:
        if not value:
            raise ValueError("a pool needs at least one member")
        return value


class Sla(_Strict):
    """Reassign a lead nobody has touched ``minutes`` after it was assigned."""

    name: str
    minutes: Annotated[int, Field(ge=1)]
    working_hours: bool = True  # count the minutes in the owner's working hours
    reassign: bool = True


class Policy(_Strict):
    version: str
    segments: tuple[Segment, ...]
    regions: tuple[Region, ...]
    default_region: str | None = None  # for countries no region lists; None → fallback owner
    reps: tuple[Rep, ...]
    pools: tuple[Pool, ...]
    fallback_owner: str  # a rep id or a queue id: the owner when no pool can take the lead
    match_accounts: bool = True  # a lead from an existing account goes to that account's owner
    hold_off_hours: bool = True  # nobody on shift: hold in fallback_owner, dispatch at shift start
    sla: tuple[Sla, ...] = Field(default=(), max_length=3)
    recent_owners: Annotated[int, Field(ge=0, le=1000)] = 50  # never reassign to these
    source: str = Field("", exclude=True)

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        rep_ids = [r.id for r in self.reps]
        if len(set(rep_ids)) != len(rep_ids):
            raise ValueError("a rep id is listed twice under reps")
        segment_names = {s.name for s in self.segments}
        region_names = {r.name for r in self.regions}
        bounds = [s.max_employees for s in self.segments]
        if None in bounds[:-1] or bounds != sorted(
            bounds, key=lambda b: float("inf") if b is None else b
        ):
            raise ValueError(
                "segments go from smallest to largest; only the last may omit max_employees"
            )
        if self.default_region is not None and self.default_region not in region_names:
            raise ValueError(f"default_region {self.default_region!r} is not a region")
        for pool in self.pools:
            for name in pool.segments:
                if name not in segment_names:
                    raise ValueError(f"pool {pool.name!r} names unknown segment {name!r}")
            for name in pool.regions:
                if name not in region_names:
                    raise ValueError(f"pool {pool.name!r} names unknown region {name!r}")
            for member in pool.members:
                if member.rep not in rep_ids:
                    raise ValueError(f"pool {pool.name!r} names unknown rep {member.rep!r}")
        return self

    @cached_property
    def rep_by_id(self) -> dict[str, Rep]:
        return {r.id: r for r in self.reps}

    @cached_property
    def digest(self) -> str:
        """Short content hash: a log line names the exact policy that decided it."""
        text = self.model_dump_json()
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def segment_for(self, employees: int | None) -> str:
        """The first segment whose bound holds ``employees``; unknown size → the smallest."""
        for segment in self.segments:
            if employees is None or segment.max_employees is None:
                return segment.name
            if employees <= segment.max_employees:
                return segment.name
        return self.segments[-1].name

    def region_for(self, country: str | None) -> str | None:
        folded = (country or "").strip().casefold()
        for region in self.regions:
            if folded in region.folded:
                return region.name
        return self.default_region


def parse_policy(text: str, source: str) -> Policy:
    data, nodes = read_yaml(text, source, PolicyError)
    if not isinstance(data, dict):
        raise PolicyError(f"{source}:1: a policy is a mapping (version, segments, regions, ...)")
    try:
        return Policy.model_validate({**data, "source": source})
    except ValidationError as exc:
        raise validation_error(exc, source, nodes, PolicyError) from None


def load_policy(path: str | Path | None = None) -> Policy:
    """The policy at ``path``, or the built-in example."""
    if path is None:
        text = (resources.files("orgforge.agents") / "data" / "policy.example.yaml").read_text()
        return parse_policy(text, "builtin:policy.example.yaml")
    return parse_policy(read_text(path, "routing policy", PolicyError), str(path))
