"""Personas from the world's Users: name, time zone and working hours (StartDay/EndDay)."""

from __future__ import annotations

from typing import Any

from orgforge.errors import ConfigError
from orgforge.simulate.scheduler import Persona
from orgforge.world.store import World


def _hour(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def world_personas(world: World, defaults: dict[str, Any]) -> dict[str, Persona]:
    """name → Persona for every active User of the world (empty for a world without Users)."""
    out: dict[str, Persona] = {}
    for user in world.iter_dicts("User"):
        if user.get("IsActive") in (0, False, "false"):
            continue
        name = " ".join(p for p in (user.get("FirstName"), user.get("LastName")) if p)
        start = _hour(user.get("StartDay"), defaults.get("start", 9))
        end = _hour(user.get("EndDay"), defaults.get("end", 17))
        out[name] = Persona(
            name,
            timezone=user.get("TimeZoneSidKey") or defaults.get("timezone", "UTC"),
            start=start,
            end=end if end > start else start + 8,
            country=defaults.get("country"),
            key=user["key"],
        )
    return out


def select(available: list[Persona], wanted: list[str], where: str) -> list[Persona]:
    """The personas a job names (all when it names none), by name, case-insensitively."""
    if not wanted:
        return available
    by_name = {p.name.lower(): p for p in available}
    missing = [w for w in wanted if w.lower() not in by_name]
    if missing:
        known = ", ".join(p.name for p in available[:8]) or "none"
        raise ConfigError(f"persona {missing[0]!r} is not in {where}", f"Known: {known}")
    return [by_name[w.lower()] for w in wanted]
