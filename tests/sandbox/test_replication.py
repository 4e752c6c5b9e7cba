"""getUpdated / getDeleted: windows, minute precision and the result shapes."""

from __future__ import annotations

import datetime as dt

from tests.sandbox.helpers import create, error_code


def stamp(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def test_get_updated_and_deleted(api):
    now = dt.datetime.now(dt.UTC)
    keep = create(api, "Account", Name="Keep")
    drop = create(api, "Account", Name="Drop")
    api.delete(f"/sobjects/Account/{drop}")
    window = {
        "start": stamp(now - dt.timedelta(minutes=5)),
        "end": stamp(now + dt.timedelta(minutes=5)),
    }
    updated = api.get("/sobjects/Account/updated/", params=window).json()
    assert updated["ids"] == [keep]
    assert updated["latestDateCovered"].endswith(":00.000+0000")
    deleted = api.get("/sobjects/Account/deleted/", params=window).json()
    assert [d["id"] for d in deleted["deletedRecords"]] == [drop]
    assert set(deleted) == {"deletedRecords", "earliestDateAvailable", "latestDateCovered"}
    assert api.get("/sobjects/Contact/updated/", params=window).json()["ids"] == []


def test_replication_windows(api):
    now = dt.datetime.now(dt.UTC)
    too_old = {"start": stamp(now - dt.timedelta(days=31)), "end": stamp(now)}
    response = api.get("/sobjects/Account/updated/", params=too_old)
    assert response.status_code == 400 and error_code(response) == "INVALID_REPLICATION_DATE"
    deleted_old = {"start": stamp(now - dt.timedelta(days=16)), "end": stamp(now)}
    response = api.get("/sobjects/Account/deleted/", params=deleted_old)
    assert response.status_code == 400 and error_code(response) == "INVALID_REPLICATION_DATE"
    ok = {"start": stamp(now - dt.timedelta(days=29)), "end": stamp(now)}
    assert api.get("/sobjects/Account/updated/", params=ok).status_code == 200
    backwards = {"start": stamp(now), "end": stamp(now - dt.timedelta(hours=1))}
    assert api.get("/sobjects/Account/updated/", params=backwards).status_code == 400
