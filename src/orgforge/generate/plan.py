"""Everything a generation run decides once, before the first record: the run's *plan*.

A plan is immutable and cheap to send to worker processes. It carries the resolved settings,
the packs, the weighted tables, the team (Users from the team file), and every object's
column order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from orgforge.config import BLOCK_SIZE, Config
from orgforge.generate.distributions import Weighted
from orgforge.generate.pools import Pools, pools
from orgforge.generate.team import TeamFile, TeamUser, build_users, load_team
from orgforge.packs import Pack, load_packs, resolve_industries
from orgforge.schema import salesforce as sf
from orgforge.world.tables import HISTORY, RECORD_COLUMNS

TIMEZONES_BY_COUNTRY = {
    "United States": "America/New_York",
    "Canada": "America/Toronto",
    "United Kingdom": "Europe/London",
    "Germany": "Europe/Berlin",
    "Australia": "Australia/Sydney",
}
"""A country's main time zone, for records that know only their country (activity/source.py)."""


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
    team: TeamFile
    users: tuple[TeamUser, ...]  # in key order
    pools: Pools
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def as_of_ordinal(self) -> int:
        return self.as_of.toordinal()

    @property
    def blocks(self) -> int:
        return -(-self.accounts // BLOCK_SIZE)


def make_plan(config: Config, industries_only: list[str] | None = None) -> Plan:
    gen = config.generate
    packs = load_packs(gen.packs)
    weights = resolve_industries(packs, gen.industries, industries_only)
    pool = pools()
    team = load_team(gen.team)
    columns = {name: RECORD_COLUMNS[name] for name in (*sf.GENERATED, HISTORY)}
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
        team=team,
        users=build_users(team, config.seed, gen.accounts, config.today.toordinal(), pool),
        pools=pool,
        columns=columns,
    )
