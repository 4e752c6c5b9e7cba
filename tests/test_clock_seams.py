"""Each seam that reads time takes a Clock: SOQL date literals (`activity --where`), the
activity source's missing-date fallback, the sandbox's TLS certificate, and the Salesforce
and Asana targets' waits (their own tests drive them on a SimulatedClock)."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from sqlalchemy import func, select

from orgforge import soql
from orgforge.activity import where
from orgforge.activity.source import Opportunity, WorldSource
from orgforge.clock import FixedClock, SimulatedClock
from orgforge.sandbox.salesforce.tls import ensure_certificate
from orgforge.targets.asana.limiter import ClientRateLimiter
from orgforge.world import World
from orgforge.world import tables as t


def test_soql_today_is_the_clocks_utc_day():
    late = FixedClock("2026-03-02T23:59:59-05:00")  # already March 3 in UTC
    assert soql.today_utc(late) == dt.date(2026, 3, 3)
    lo, hi = soql.date_range("TODAY", None, today=soql.today_utc(late))
    assert (lo, hi) == (dt.date(2026, 3, 3), dt.date(2026, 3, 4))


def _count(world: World, condition) -> int:
    table = t.RECORD_TABLES["Opportunity"]
    with world.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(condition)).scalar_one()


def test_activity_where_date_literals_count_from_the_worlds_clock(prd_world):
    table = t.RECORD_TABLES["Opportunity"]
    text = "CreatedDate = LAST_N_DAYS:30"
    day = dt.date(2026, 11, 23)
    with World(prd_world, create=False, clock=FixedClock(day)) as world:
        expected = _count(world, where.condition(text, table, today=day))
        on_clock = _count(world, where.condition(text, table, clock=world.clock))
        selected = WorldSource(world).select(text)
    assert 0 < expected == on_clock == len(selected)
    # a clock a year on sees none of them in its last 30 days
    with World(prd_world, create=False, clock=FixedClock("2027-11-23")) as world:
        assert WorldSource(world).select(text) == []


def test_a_missing_created_date_falls_back_to_the_sources_clock(prd_world):
    with World(prd_world, create=False, clock=FixedClock("2031-07-04T10:00:00Z")) as world:
        (opp,) = WorldSource(world).select(None, limit=1)
    assert opp.today == dt.date(2031, 7, 4)
    undated = Opportunity(**{**opp.__dict__, "row": {**opp.row, "CreatedDate": None}})
    assert undated.created == dt.date(2031, 7, 4)
    assert opp.created == dt.date.fromisoformat(opp.row["CreatedDate"][:10])


def test_the_sandbox_certificate_is_made_and_renewed_on_the_clock(tmp_path):
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    made = FixedClock("2030-01-01T00:00:00Z")
    ensure_certificate(cert, key, clock=made)
    first = x509.load_pem_x509_certificate(cert.read_bytes())
    assert first.not_valid_before_utc == made.now() - dt.timedelta(minutes=5)
    assert first.not_valid_after_utc == made.now() + dt.timedelta(days=825)
    ensure_certificate(cert, key, clock=FixedClock("2032-03-01T00:00:00Z"))  # 790 days on
    assert cert.read_bytes() == first.public_bytes(_pem())  # still valid: kept
    later = FixedClock("2032-04-04T00:00:00Z")  # within a day of expiry: made again
    ensure_certificate(cert, key, clock=later)
    again = x509.load_pem_x509_certificate(cert.read_bytes())
    assert again.not_valid_before_utc == later.now() - dt.timedelta(minutes=5)


def _pem():
    from cryptography.hazmat.primitives import serialization

    return serialization.Encoding.PEM


def test_the_asana_rate_limiter_waits_on_the_clock_it_is_given():
    clock = SimulatedClock()
    limiter = ClientRateLimiter(10, 1.0, clock=clock, window=60.0)
    for _ in range(25):
        limiter.acquire("token")
    # 10 a minute: the 11th and 21st requests each wait out the rest of a window
    assert clock.slept == [60.0, 60.0] and clock.elapsed == 120.0
    limiter.block("token", 7.5)
    limiter.acquire("token")
    assert clock.slept[-1] == 7.5


def test_a_world_without_an_as_of_day_is_dated_and_stamped_on_the_clock_it_is_given(tmp_path):
    """``generate(clock=...)``: "today" is the clock's UTC day, and the run and the world's
    records of it are stamped on that clock, not the machine's."""
    import json

    import orgforge

    clock = FixedClock("2031-07-04T10:00:00Z")
    config = orgforge.resolve(None, cwd=tmp_path, preset="tiny", world=str(tmp_path / "w.db"))
    config.runs_dir = str(tmp_path / "runs")
    result = orgforge.generate(config, clock=clock)
    assert result.run_id and result.run_id.startswith("20310704T100000Z")
    run = json.loads((tmp_path / "runs" / result.run_id / "run.json").read_text())
    assert run["started_at"].startswith("2031-07-04T10:00:00")
    with World(tmp_path / "w.db", create=False) as world:
        assert json.loads(world.get_meta("generated") or "{}")["as_of"] == "2031-07-04"
        table = t.RECORD_TABLES["Account"]
        with world.engine.connect() as conn:
            newest = conn.execute(select(func.max(table.c.CreatedDate))).scalar_one()
    assert "2030-" <= newest[:10] < "2031-07-04"  # the history ends on the clock's day
    # the same recipe on another day is another world: the clock is really read
    other = orgforge.resolve(None, cwd=tmp_path, preset="tiny", world=str(tmp_path / "x.db"))
    assert other.with_clock(FixedClock("2029-01-02")).today == dt.date(2029, 1, 2)


def test_shift_to_today_is_the_clocks_day(tmp_path):
    import orgforge

    config = orgforge.resolve(
        None, cwd=tmp_path, preset="tiny", world=str(tmp_path / "w.db"), as_of="2026-03-02"
    )
    config.runs_dir = str(tmp_path / "runs")
    orgforge.generate(config)
    clock = FixedClock("2026-06-01T08:00:00Z")  # 91 days on: 13 whole weeks
    moved = orgforge.shift(tmp_path / "w.db", to="today", clock=clock, runs_dir=tmp_path / "r")
    assert (moved.as_of_before, moved.as_of_after, moved.days) == ("2026-03-02", "2026-06-01", 91)
    (run_dir,) = (tmp_path / "r").iterdir()
    assert run_dir.name.startswith("20260601T080000Z")


# Reading the wall's date or time anywhere but orgforge/clock.py makes that seam untestable on a
# SimulatedClock. Durations (perf_counter, monotonic) are measurements, not "now": allowed.
WALL_CLOCK_READS = ("datetime.now(", "date.today(", "time.time(", "utcnow(", "datetime.today(")
ALLOWED_WALL_CLOCK_READS = {
    # the fake OpenAI server's response "created" stamp: a test double's wire field
    "content/testing.py": 1,
}


def test_nothing_but_the_clock_module_reads_the_wall_clock():
    import pathlib

    import orgforge

    root = pathlib.Path(orgforge.__file__).parent
    found: dict[str, int] = {}
    for path in sorted(root.rglob("*.py")):
        name = path.relative_to(root).as_posix()
        if name == "clock.py":
            continue
        code = [line.split("#", 1)[0] for line in path.read_text(encoding="utf-8").splitlines()]
        hits = sum(line.count(read) for line in code for read in WALL_CLOCK_READS)
        if hits:
            found[name] = hits
    assert found == ALLOWED_WALL_CLOCK_READS, (
        "read time through a Clock (orgforge.clock) so a simulated or fixed one can drive it"
    )
