"""Pools built once per run from locale data and the geography file.

Surnames are spelled as people spell them (O'Connell, McDaniel: ``_surnames.yaml``), which
Faker's census list does not.

Names are Faker's en_US lists, frozen into ``packs/data/_names.json`` by
``scripts/build_name_pools.py`` (importing Faker at run time costs ~150 ms). No per-field Faker
calls: the generator picks from these lists with its own seeded streams, which keeps it fast
and keeps output independent of Faker's internal random state and version. The geography file
(``packs/data/_geo.yaml``) is read like the built-in packs: see ``packs.builtin_yaml``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from orgforge.generate.distributions import Weighted
from orgforge.packs import builtin_yaml

if TYPE_CHECKING:
    from orgforge.world.store import World


@dataclass(frozen=True)
class Place:
    city: str
    state: str
    state_name: str
    postal: str
    area: str
    tz: str
    country: str


@dataclass(frozen=True)
class Pools:
    first_names: tuple[str, ...]
    female_first: frozenset[str]
    last_names: tuple[str, ...]
    places: Weighted[Place]
    streets: tuple[str, ...]
    country_streets: dict[str, tuple[str, ...]]  # where a country has its own
    street_format: dict[str, str]  # "{street} {number}" where a country writes it so


@cache
def pools() -> Pools:
    data = resources.files("orgforge.packs") / "data"
    names = json.loads((data / "_names.json").read_text("utf-8"))
    files = builtin_yaml(["_geo.yaml", "_surnames.yaml"])
    _, geo = files["_geo.yaml"]
    _, surnames = files["_surnames.yaml"]
    spelling = surnames["spelling"]
    places = Weighted(
        [
            (
                Place(
                    city=p["city"],
                    state=p["state"],
                    state_name=p["state_name"],
                    postal=str(p["postal"]),
                    area=str(p["area"]),
                    tz=p["tz"],
                    country=p["country"],
                ),
                float(p["weight"]),
            )
            for p in geo["places"]
        ]
    )
    return Pools(
        first_names=tuple(names["first_names"]),
        female_first=frozenset(names["female_only"]),
        # the same list, so the same picks: only the spelling of a few differs
        last_names=tuple(spelling.get(n, n) for n in names["last_names"]),
        places=places,
        streets=tuple(geo["streets"]),
        country_streets={c: tuple(s) for c, s in geo.get("country_streets", {}).items()},
        street_format=dict(geo.get("street_format", {})),
    )


def account_zones(world: World) -> dict[int, ZoneInfo]:
    """account_idx → the time zone of the account's billing city (where its records happen),
    or of its contacts' mailing city where the account has none (as `orgforge check` reads it)."""
    zone_of_city = {p.city: p.tz for p in pools().places.values}
    zones: dict[str, ZoneInfo] = {}
    found: dict[int, ZoneInfo] = {}
    cities = [
        world.iter_rows("Account", ["account_idx", "BillingCity"]),
        world.iter_rows("Contact", ["account_idx", "MailingCity"]),
    ]
    for rows in cities:
        for idx, city in rows:
            name = zone_of_city.get(city)
            if name is not None and idx not in found:
                found[idx] = zones.setdefault(name, ZoneInfo(name))
    return found
