"""Activity is planned around the world's as-of, not today's date."""

from __future__ import annotations

import datetime as dt

import orgforge
from orgforge import activity
from tests.cli.conftest import run_orgforge
from tests.worlds import make_world

OLD = dt.date(2026, 6, 1)  # a world generated months before "today"


def test_the_default_as_of_is_the_worlds(tmp_path):
    world = make_world(tmp_path, preset="tiny", as_of=OLD.isoformat())
    config = orgforge.resolve(None, world=str(world), cwd=tmp_path)
    assert config.as_of is None  # nothing given: the world's day, not today
    anchored, warning = activity.anchor_as_of(config)
    assert anchored.as_of == OLD and warning is None
    report = activity.plan(config, max_opps=3)
    past = [a for o in report.opportunities for a in o["activities"] if a["when"] == "past"]
    assert past and max(a["local"][:10] for a in past) < OLD.isoformat()


def test_an_as_of_before_the_worlds_history_warns(tmp_path):
    world = make_world(tmp_path, preset="tiny", as_of=OLD.isoformat())
    earlier = orgforge.resolve(None, world=str(world), as_of="2026-01-05", cwd=tmp_path)
    anchored, warning = activity.anchor_as_of(earlier)
    assert anchored.as_of == dt.date(2026, 1, 5)
    assert warning and "2026-01-05" in warning and OLD.isoformat() in warning
    later = orgforge.resolve(None, world=str(world), as_of="2026-07-01", cwd=tmp_path)
    assert activity.anchor_as_of(later) == (later, None)


def test_the_cli_plans_on_the_worlds_day_and_warns_on_an_earlier_one(tmp_path):
    make_world(tmp_path, name="orgforge.db", preset="tiny", as_of=OLD.isoformat())
    done = run_orgforge(["activity", "plan", "--max-opps", "1"], tmp_path)
    assert done.code == 0 and f"as of {OLD.isoformat()}" in done.out and not done.err, str(done)
    early = run_orgforge(["activity", "plan", "--max-opps", "1", "--as-of", "2026-01-05"], tmp_path)
    assert early.code == 0 and early.err.startswith("warning: as-of 2026-01-05"), str(early)
