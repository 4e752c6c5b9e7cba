"""Everything a generation run decides once, before the first record: the run's *plan*.

A plan is immutable and cheap to send to worker processes. It carries the resolved settings,
the packs, the weighted tables, the owners (sales reps), and the column order of every object.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from orgforge.config import BLOCK_SIZE, Config
from orgforge.generate.distributions import Weighted, stream
from orgforge.generate.pools import Pools, pools
from orgforge.packs import Pack, load_packs, resolve_industries
from orgforge.schema import salesforce as sf
from orgforge.world.tables import RECORD_COLUMNS

TIMEZONES_BY_COUNTRY = {
    "United States": "America/New_York",
    "Canada": "America/Toronto",
    "United Kingdom": "Europe/London",
    "Germany": "Europe/Berlin",
    "Australia": "Australia/Sydney",
}
OWNER_PLACES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")


@dataclass(frozen=True)
class Owner:
    key: str
    first: str
    last: str
    email: str
    title: str
    tz: str

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


@dataclass(frozen=True)
class Plan:
    seed: int
    as_of: dt.date
    accounts: int
    per_account: dict[str, float]
    packs: dict[str, Pack]
    industries: Weighted[str]
    density: Weighted[str]
    stages: Weighted[str]
    case_status: Weighted[str]
    task_mix: dict[str, int]
    event_mix: dict[str, int]
    skip_weekends: bool
    business_hours: tuple[int, int]
    owners: tuple[Owner, ...]
    pools: Pools
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def as_of_ordinal(self) -> int:
        return self.as_of.toordinal()

    @property
    def blocks(self) -> int:
        return -(-self.accounts // BLOCK_SIZE)


def make_owners(seed: int, count: int, pool: Pools) -> tuple[Owner, ...]:
    rng = stream(seed, "owners")
    titles = (
        ("Account Executive",) * 5
        + ("Senior Account Executive",) * 3
        + (
            "Enterprise Account Executive",
            "Sales Director",
        )
    )
    owners = []
    used: set[tuple[str, str]] = set()
    for n in range(1, count + 1):
        while True:
            first, last = rng.choice(pool.first_names), rng.choice(pool.last_names)
            if (first, last) not in used:
                used.add((first, last))
                break
        owners.append(
            Owner(
                key=f"User/{n:02d}",
                first=first,
                last=last,
                email=f"{first}.{last}@orgforge-demo.example.com".lower().replace(" ", ""),
                title=rng.choice(titles),
                tz=rng.choice(OWNER_PLACES),
            )
        )
    return tuple(owners)


def make_plan(config: Config, industries_only: list[str] | None = None) -> Plan:
    gen = config.generate
    packs = load_packs(gen.packs)
    weights = resolve_industries(packs, gen.industries, industries_only)
    pool = pools()
    columns = {name: RECORD_COLUMNS[name] for name in sf.GENERATED}
    return Plan(
        seed=config.seed,
        as_of=config.today,
        accounts=gen.accounts,
        per_account=dict(gen.per_account),
        packs={pid: packs[pid] for pid in weights},
        industries=Weighted(weights),
        density=Weighted(gen.density.model_dump()),
        stages=Weighted(gen.stages),
        case_status=Weighted(gen.case_status),
        task_mix=dict(gen.task_mix),
        event_mix=dict(gen.event_mix),
        skip_weekends=gen.skip_weekends,
        business_hours=gen.business_hours,
        owners=make_owners(config.seed, gen.owners, pool),
        pools=pool,
        columns=columns,
    )
