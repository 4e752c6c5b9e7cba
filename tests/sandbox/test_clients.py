"""Real clients: simple-salesforce (TLS with the generated cert, and plain HTTP through
sandbox_session), including its username/password and JWT logins and Bulk 2.0 support."""

from __future__ import annotations

import ssl

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from orgforge.sandbox.salesforce import (
    EXAMPLE_SCHEMA,
    SandboxConfig,
    run_in_thread,
    sandbox_session,
    simple_salesforce,
)


@pytest.fixture(params=["tls", "http"])
def sandbox(request, tmp_path):
    config = SandboxConfig(
        db_path=tmp_path / "c.db", schema=EXAMPLE_SCHEMA, tls=request.param == "tls"
    )
    with run_in_thread(config) as sb:
        yield sb


def test_tls_mode_serves_https_with_a_trusted_cert(tmp_path):
    with run_in_thread(db_path=tmp_path / "tls.db", tls=True) as sb:
        assert sb.instance_url.startswith("https://127.0.0.1:")
        assert sb.cert_path is not None and sb.cert_path.exists()
        assert sb.cert_path.parent == sb.db_path.parent
        ok = httpx.get(
            f"{sb.base_url}/limits",
            headers=sb.headers,
            verify=ssl.create_default_context(cafile=str(sb.cert_path)),
        )
        assert ok.status_code == 200
        with pytest.raises(httpx.ConnectError):
            httpx.get(
                f"{sb.base_url}/limits", headers=sb.headers, verify=ssl.create_default_context()
            )
        local = httpx.get(
            f"{sb.base_url.replace('127.0.0.1', 'localhost')}/limits",
            headers=sb.headers,
            verify=ssl.create_default_context(cafile=str(sb.cert_path)),
        )
        assert local.status_code == 200


def test_simple_salesforce_rest(sandbox):
    sb = sandbox
    sf = Salesforce(
        instance_url=sb.instance_url,
        session_id=sb.token,
        version="59.0",
        session=sandbox_session(sb.instance_url, sb.cert_path),
    )
    created = sf.Account.create({"Name": "Acme", "Orgforge_Key__c": "A-1"})
    assert created["success"] is True
    assert sf.Account.get(created["id"])["Name"] == "Acme"
    assert sf.Account.get_by_custom_id("Orgforge_Key__c", "A-1")["Id"] == created["id"]
    assert sf.Contact.upsert("Orgforge_Key__c/C-1", {"LastName": "Lee"}) == 201
    assert sf.Contact.upsert("Orgforge_Key__c/C-1", {"LastName": "Leigh"}) == 200
    for i in range(3):
        sf.Contact.create({"LastName": f"Extra {i}", "AccountId": created["id"]})
    everything = sf.query_all("SELECT Id, LastName, Account.Name FROM Contact ORDER BY LastName")
    assert everything["totalSize"] == 4
    assert everything["records"][0]["Account"]["Name"] == "Acme"
    assert sf.Contact.describe()["keyPrefix"] == "003"
    assert sf.limits()["DailyApiRequests"]["Max"] == 100_000
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.query("SELECT Nope FROM Account")
    assert err.value.content[0]["errorCode"] == "INVALID_FIELD"
    assert sf.Account.delete(created["id"]) == 204


def test_records_in_the_recycle_bin_are_not_found_for_patch_and_delete(tmp_path):
    """A real org answers 404 ENTITY_IS_DELETED to both; PATCH used to get a 400."""
    with run_in_thread(db_path=tmp_path / "bin.db") as sb:
        sf = simple_salesforce(sb)
        record_id = sf.Account.create({"Name": "Binned"})["id"]
        assert sf.Account.delete(record_id) == 204
        with pytest.raises(SalesforceResourceNotFound) as patched:
            sf.Account.update(record_id, {"Name": "Back?"})
        assert patched.value.status == 404
        assert patched.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"
        with pytest.raises(SalesforceResourceNotFound) as deleted:
            sf.Account.delete(record_id)
        assert deleted.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"
        binned = sf.query_all(
            f"SELECT Name, IsDeleted FROM Account WHERE Id = '{record_id}'", include_deleted=True
        )["records"]
        assert [(r["Name"], r["IsDeleted"]) for r in binned] == [("Binned", True)]  # unchanged


def test_simple_salesforce_bulk2(sandbox):
    sb = sandbox
    sf = simple_salesforce(sb)
    records = [{"Name": f"Bulk {i:03d}", "Orgforge_Key__c": f"B{i}"} for i in range(300)]
    results = sf.bulk2.Account.insert(records=records, wait=0.05)
    assert sum(r["numberRecordsProcessed"] for r in results) == 300
    assert sum(r["numberRecordsFailed"] for r in results) == 0
    contacts = [{"LastName": f"Person {i}", "Account.Orgforge_Key__c": f"B{i}"} for i in range(5)]
    contact_results = sf.bulk2.Contact.insert(records=contacts, wait=0.05)
    assert contact_results[0]["numberRecordsFailed"] == 0
    pages = list(
        sf.bulk2.Account.query(
            "SELECT Id, Name FROM Account ORDER BY Name", max_records=120, wait=0.05
        )
    )
    assert len(pages) == 3
    lines = [line for page in pages for line in page.splitlines()[1:]]
    assert len(lines) == 300 and lines[0].endswith('"Bulk 000"')
    upserted = sf.bulk2.Account.upsert(
        records=[{"Orgforge_Key__c": "B1", "Name": "Renamed"}],
        external_id_field="Orgforge_Key__c",
        wait=0.05,
    )
    assert upserted[0]["numberRecordsFailed"] == 0
    assert (
        sf.query("SELECT Name FROM Account WHERE Orgforge_Key__c = 'B1'")["records"][0]["Name"]
        == "Renamed"
    )


def test_simple_salesforce_logins_through_the_sandbox(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with run_in_thread(db_path=tmp_path / "login.db", jwt_public_key=public) as sb:
        session = sandbox_session(sb.instance_url)
        soap = Salesforce(
            username=sb.admin_username,
            password=sb.password,
            security_token=sb.security_token,
            session=session,
        )
        assert soap.query("SELECT COUNT() FROM User")["totalSize"] == 8
        oauth = Salesforce(
            username=sb.usernames[1],
            password=sb.password,
            consumer_key=sb.consumer_key,
            consumer_secret=sb.consumer_secret,
            session=sandbox_session(sb.instance_url),
        )
        assert oauth.query("SELECT Id FROM Account")["totalSize"] == 0
        bearer = Salesforce(
            username=sb.usernames[2],
            consumer_key=sb.consumer_key,
            privatekey=private,
            session=sandbox_session(sb.instance_url),
        )
        assert bearer.Account.create({"Name": "via JWT"})["success"] is True
        owner = bearer.query("SELECT Owner.Username FROM Account")["records"][0]
        assert owner["Owner"]["Username"] == sb.usernames[2]


def test_run_in_thread_starts_and_stops_repeatedly(tmp_path):
    # How fast is measured by bench/bench_sandbox.py, not asserted here.
    for i in range(3):
        with run_in_thread(db_path=tmp_path / f"q{i}.db") as sb:
            assert httpx.get(f"{sb.instance_url}/_sandbox/health").status_code == 200
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{sb.instance_url}/_sandbox/health")
