"""One story per account: what the generator draws for an account agrees with itself.

The world-level rules (one segment, place names, types, titles, spelling, case text) are
`orgforge check` rules, tested in tests/check/; here are the draws behind them.
"""

from __future__ import annotations

import math
from collections import Counter

from tests.worlds import rows

from orgforge.api import resolve
from orgforge.generate.names import Namer
from orgforge.generate.plan import make_plan

N = 4000


def test_segments_are_drawn_by_their_weights_and_never_move():
    """Each pack's segment shares are within 4 standard deviations of its weights (binomial, n
    = the pack's accounts), and a bigger world gives its first accounts the same segments."""
    plan = make_plan(resolve(accounts=N, seed=42, as_of="2026-11-23"), None)
    namer = Namer(plan)
    names = [namer.name(i) for i in range(N)]
    for industry, pack in plan.packs.items():
        mine = [n for n in names if n.industry == industry]
        counts = Counter(n.segment for n in mine)
        total = sum(s.weight for s in pack.segments)
        for segment in pack.segments:
            p = segment.weight / total
            sigma = math.sqrt(len(mine) * p * (1 - p))
            assert abs(counts[segment.id] - len(mine) * p) <= 4 * sigma, (industry, segment.id)
    small = Namer(make_plan(resolve(accounts=300, seed=42, as_of="2026-11-23"), None))
    assert [small.name(i) for i in range(300)] == names[:300]


def test_a_name_that_shows_a_place_carries_it():
    plan = make_plan(resolve(accounts=600, seed=7, as_of="2026-11-23"), None)
    namer = Namer(plan)
    shown = 0
    for i in range(600):
        name = namer.name(i)
        if name.place is not None:
            shown += 1
            assert name.place.city in name.name or name.place.state_name in name.name
    assert shown > 60  # a tenth of the patterns or more show a city or a state


def test_contacts_spell_names_as_people_do(stats_world):
    contacts = rows(stats_world, "Contact")
    apostrophes = [c for c in contacts if "'" in c["LastName"]]
    assert apostrophes and all(c["LastName"][:2] == "O'" for c in apostrophes)
    assert not [
        c for c in contacts if c["LastName"].startswith("Mc") and c["LastName"][2].islower()
    ]
    for c in apostrophes:
        assert "'" not in c["Email"] and c["Email"].islower()
