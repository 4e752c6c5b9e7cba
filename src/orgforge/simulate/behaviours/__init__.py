"""Behaviours as data (``behaviours.yaml``: weights) and small code (a ``decide`` per name).

A behaviour decides an :class:`Action` from the job's objects (``sim_objects``) and the world,
with the action's own seeded RNG: what to create or change, with its text already filled by
the content engine. The action is written to the journal before it is sent, so a runner that
was killed sends exactly the same action again on restart. ``decide`` returns None when the
behaviour isn't possible yet (no open task to comment on…); another is picked.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from orgforge.errors import ConfigError

if TYPE_CHECKING:
    import datetime as dt

    from orgforge.simulate.objects import JobObjects
    from orgforge.simulate.scheduler import Persona

DATA = Path(__file__).with_name("behaviours.yaml")


@dataclass
class Action:
    """What one behaviour decided: the calls to make, and the objects they change."""

    behaviour: str
    summary: str
    subject: str | None  # the job-local key of the object acted on
    calls: list[dict[str, Any]] = field(default_factory=list)
    objects: list[dict[str, Any]] = field(default_factory=list)  # upserts into sim_objects

    def as_detail(self) -> dict[str, Any]:
        return {"calls": self.calls, "objects": self.objects}


@dataclass
class Context:
    """What a behaviour decides from: the job, the moment, who acts, and the job's objects."""

    job_id: str
    seq: int
    when: dt.datetime
    persona: Persona
    personas: list[Persona]
    rng: random.Random
    objects: JobObjects
    text: Callable[[str, str, dict[str, str]], str]  # (kind, key, context) → text
    facts: dict[str, Any]  # the target's: Asana team and workspace, Salesforce records…
    options: dict[str, Any] = field(default_factory=dict)  # the job's options

    def key(self, suffix: str) -> str:
        """A new object's key, unique in the job (the action's seq makes it so)."""
        return f"{suffix}{self.seq}"


@cache
def weights() -> dict[str, dict[str, float]]:
    data = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    return {target: {n: float(v["weight"]) for n, v in b.items()} for target, b in data.items()}


@cache
def descriptions() -> dict[str, dict[str, str]]:
    data = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    return {target: {n: v.get("text", "") for n, v in b.items()} for target, b in data.items()}


def behaviours(target: str) -> list[str]:
    """The behaviour names a job on ``target`` may list."""
    return list(weights().get(target, {}))


def check_behaviours(target: str, names: list[str]) -> None:
    known = behaviours(target)
    for name in names:
        if name.removeprefix(f"{target}.") not in known:
            raise ConfigError(
                f"--behaviour {name}: {target} has no such behaviour",
                "One of: " + ", ".join(known),
            )


def enabled(target: str, names: list[str]) -> dict[str, float]:
    all_weights = weights()[target]
    chosen = [n.removeprefix(f"{target}.") for n in names] or list(all_weights)
    return {n: all_weights[n] for n in chosen}


def choose(
    target: str,
    names: list[str],
    rng: random.Random,
    decide: Callable[[str], Action | None],
) -> Action | None:
    """Pick by weight among the enabled behaviours; one not possible now is dropped and the
    pick made again. None when none is possible."""
    left = enabled(target, names)
    while left:
        total = sum(left.values())
        pick = rng.random() * total
        names = list(left)
        name = names[-1]
        for candidate in names:
            pick -= left[candidate]
            if pick < 0:
                name = candidate
                break
        action = decide(name)
        if action is not None:
            return action
        del left[name]
    return None
