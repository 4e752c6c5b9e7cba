"""`orgforge shift`: a world's whole history moves, and still keeps its rules afterwards."""

from __future__ import annotations

import datetime as dt
import sqlite3
from zoneinfo import ZoneInfo

import pytest
from tests.cli.conftest import run_orgforge
from tests.worlds import make_world

import orgforge
from orgforge.generate.pools import pools
from orgforge.world.store import World


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("shift"), preset="tiny")


def _copy(world, tmp_path):
    target = tmp_path / "w.db"
    with sqlite3.connect(world) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return target


def _events(path) -> dict[str, tuple[str, str]]:
    """Event key → (StartDateTime, its contact's time zone: the meeting's place)."""
    zone_of_city = {p.city: p.tz for p in pools().places.values}
    with World(path, create=False) as w:
        city = dict(w.iter_rows("Contact", ["key", "MailingCity"]))
        return {
            key: (start, zone_of_city[city[who]])
            for key, who, start in w.iter_rows("Event", ["key", "WhoId", "StartDateTime"])
            if city.get(who) in zone_of_city
        }


def _history(path) -> dict[str, str]:
    with sqlite3.connect(path) as db:
        return dict(db.execute('SELECT "key", "CreatedDate" FROM "rec_History"'))


def test_to_a_date_moves_whole_weeks_and_keeps_every_rule(world, tmp_path):
    copy = _copy(world, tmp_path)
    before_history = _history(copy)
    result = orgforge.shift(copy, to="2027-03-03", runs_dir=tmp_path / "runs")  # a Wednesday
    assert result.days == 98 and result.as_of_after == "2027-03-01"  # 14 weeks: a Monday
    assert result.history_rows == len(before_history) > 0
    assert orgforge.check(copy).ok, orgforge.check(copy).violations[:3]
    after = _history(copy)
    for key, when in before_history.items():
        moved = dt.datetime.fromisoformat(after[key][:19]) - dt.datetime.fromisoformat(when[:19])
        assert abs(moved - dt.timedelta(days=98)) <= dt.timedelta(hours=1), key


def test_datetimes_move_in_the_accounts_wall_clock_across_daylight_saving(world, tmp_path):
    copy = _copy(world, tmp_path)
    before = _events(copy)
    orgforge.shift(copy, days=7 * 20, runs_dir=tmp_path / "runs")  # Nov → Apr: DST starts
    after = _events(copy)
    crossed = 0
    for key, (start, zone_name) in before.items():
        zone = ZoneInfo(zone_name)
        old = dt.datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(zone)
        new = dt.datetime.fromisoformat(after[key][0].replace("Z", "+00:00")).astimezone(zone)
        assert new.replace(tzinfo=None) - old.replace(tzinfo=None) == dt.timedelta(days=140)
        crossed += old.utcoffset() != new.utcoffset()
    assert crossed  # the fixture's meetings do straddle a daylight-saving change


def test_a_dry_run_counts_and_writes_nothing(world, tmp_path):
    copy = _copy(world, tmp_path)
    before = copy.read_bytes()
    preview = run_orgforge(["shift", "--world", str(copy), "--to", "2027-03-03", "--dry-run"],
                           tmp_path)  # fmt: skip
    assert preview.code == 0, str(preview)
    assert "would shift 508 records and 158 History rows by +98 days" in preview.out
    assert copy.read_bytes() == before and not (tmp_path / "runs").exists()
    exact = run_orgforge(["shift", "--world", str(copy), "--to", "2027-03-03", "--exact",
                          "--dry-run"], tmp_path)  # fmt: skip
    assert "by +100 days" in exact.out and "not a whole number of weeks" in exact.err
