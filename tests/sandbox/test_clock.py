"""The sandbox reads time from its clock: records' audit dates follow a simulated clock."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, wait

import httpx

from orgforge.clock import SimulatedClock
from orgforge.sandbox.salesforce import run_in_thread


def test_audit_dates_follow_the_sandbox_clock(tmp_path):
    clock = SimulatedClock("2031-05-06T07:08:09Z")
    with run_in_thread(db_path=tmp_path / "c.db", clock=clock) as sb:
        api = httpx.Client(base_url=sb.base_url, headers=sb.headers, timeout=30)
        created = api.post("/sobjects/Account", json={"Name": "Clockwork"}).json()["id"]
        clock.advance(3 * 86400)
        assert api.patch(f"/sobjects/Account/{created}", json={"Rating": "Hot"}).status_code == 204
        record = api.get(f"/sobjects/Account/{created}").json()
        api.close()
    assert record["CreatedDate"].startswith("2031-05-06T07:08:09.000")
    assert record["LastModifiedDate"].startswith("2031-05-09T07:08:09.000")
    assert record["SystemModstamp"] == record["LastModifiedDate"]


def test_soql_date_literals_count_from_the_sandbox_clock(tmp_path):
    clock = SimulatedClock("2031-05-06T07:08:09Z")
    with run_in_thread(db_path=tmp_path / "d.db", clock=clock) as sb:
        api = httpx.Client(base_url=sb.base_url, headers=sb.headers, timeout=30)
        api.post("/sobjects/Account", json={"Name": "Made today"})

        def count(where: str) -> int:
            query = f"SELECT Id FROM Account WHERE {where}"
            return api.get("/query", params={"q": query}).json()["totalSize"]

        assert count("CreatedDate = TODAY") == 1
        clock.advance(2 * 86400)  # two days on: no longer today, still within the last 3 days
        assert count("CreatedDate = TODAY") == 0
        assert count("CreatedDate = LAST_N_DAYS:3") == 1
        api.close()


def _cometd(http: httpx.Client, url: str, message: dict) -> list[dict]:
    response = http.post(url, json=[message])
    assert response.status_code == 200, response.text
    return response.json()


def _subscriber(http: httpx.Client, url: str, replay: int) -> tuple[str, dict]:
    """A CometD client subscribed to Account changes from ``replay``: (client id, reply)."""
    (hs,) = _cometd(http, url, {"channel": "/meta/handshake", "version": "1.0"})
    channel = "/data/AccountChangeEvent"
    (sub,) = _cometd(
        http,
        url,
        {
            "channel": "/meta/subscribe",
            "clientId": hs["clientId"],
            "subscription": channel,
            "ext": {"replay": {channel: replay}},
        },
    )
    return hs["clientId"], sub


def _connect(http: httpx.Client, url: str, client_id: str) -> list[dict]:
    return _cometd(http, url, {"channel": "/meta/connect", "clientId": client_id})


def test_change_events_are_stamped_and_retained_on_the_sandbox_clock(tmp_path):
    clock = SimulatedClock("2031-05-06T07:08:09Z")
    with run_in_thread(db_path=tmp_path / "e.db", clock=clock) as sb:
        url = f"{sb.instance_url}/cometd/59.0"
        api = httpx.Client(base_url=sb.base_url, headers=sb.headers, timeout=30)
        stream = httpx.Client(headers={"Authorization": f"OAuth {sb.token}"}, timeout=30)

        def create(name: str) -> str:
            return api.post("/sobjects/Account", json={"Name": name}).json()["id"]

        def retained() -> list[tuple[int, int, str]]:
            client, sub = _subscriber(stream, url, -2)
            assert sub["successful"]
            events = [m for m in _connect(stream, url, client) if "data" in m]
            return [
                (
                    m["data"]["event"]["replayId"],
                    m["data"]["payload"]["ChangeEventHeader"]["commitTimestamp"],
                    m["data"]["payload"]["ChangeEventHeader"]["recordIds"][0],
                )
                for m in events
            ]

        first, second = create("One"), create("Two")
        (r1, t1, id1), (_, _, id2) = retained()
        made = api.get(f"/sobjects/Account/{first}").json()["CreatedDate"]
        assert (id1, id2) == (first, second)
        assert t1 == int(clock.now().timestamp() * 1000)  # the clock's, like CreatedDate
        assert made.startswith("2031-05-06T07:08:09.000")
        clock.advance(71 * 3600)
        third = create("Three")
        assert [rid for _, _, rid in retained()] == [first, second, third]  # within 72 h
        clock.advance(2 * 3600)  # the first two are 73 h old now: the next write drops them
        fourth = create("Four")
        assert [rid for _, _, rid in retained()] == [third, fourth]
        _, refused = _subscriber(stream, url, r1)
        assert not refused["successful"]
        assert refused["error"].startswith(f"400::The replayId {{{r1}}} you provided was invalid")
        api.close()
        stream.close()


def test_a_long_poll_waits_on_the_sandbox_clock_and_never_moves_it(tmp_path):
    clock = SimulatedClock("2031-05-06T07:08:09Z")
    with run_in_thread(db_path=tmp_path / "p.db", clock=clock) as sb:
        url = f"{sb.instance_url}/cometd/59.0"
        api = httpx.Client(base_url=sb.base_url, headers=sb.headers, timeout=30)
        stream = httpx.Client(headers={"Authorization": f"OAuth {sb.token}"}, timeout=30)
        client, _ = _subscriber(stream, url, -1)
        with ThreadPoolExecutor(1) as pool:
            # an event ends the poll at once; the server's wait does not move the clock
            poll = pool.submit(_connect, stream, url, client)
            api.post("/sobjects/Account", json={"Name": "Wake up"})
            replies = poll.result(timeout=20)
            assert [m["channel"] for m in replies] == ["/data/AccountChangeEvent", "/meta/connect"]
            assert clock.elapsed == 0
            # no event: the poll ends when the clock passes its 110 s deadline, not before
            poll = pool.submit(_connect, stream, url, client)
            while not poll.done():
                clock.advance(30)
                wait([poll], timeout=0.2)
            (connect,) = poll.result()
        assert connect["channel"] == "/meta/connect" and connect["successful"]
        assert clock.elapsed >= 110
        api.close()
        stream.close()
