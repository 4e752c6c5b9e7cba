"""Pools built once per run from locale data (Faker's) and the geography file.

No per-field Faker calls: the generator picks from these lists with its own seeded streams, which
keeps it fast and keeps output independent of Faker's internal random state.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from orgforge.generate.distributions import Weighted


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


@cache
def pools() -> Pools:
    from faker.providers.person.en_US import Provider as Person

    text = (resources.files("orgforge.packs") / "data" / "_geo.yaml").read_text("utf-8")
    geo = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
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
    female = tuple(sorted(Person.first_names_female))
    male = tuple(sorted(Person.first_names_male))
    return Pools(
        first_names=tuple(sorted(set(female) | set(male))),
        female_first=frozenset(female) - frozenset(male),
        last_names=tuple(sorted(set(Person.last_names))),
        places=places,
        streets=tuple(geo["streets"]),
    )
