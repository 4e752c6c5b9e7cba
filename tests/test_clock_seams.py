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
