"""The Salesforce target's pure parts: SOQL escaping, errors, routing, auth mode, picklists."""

from __future__ import annotations

import pytest

from orgforge.config import SalesforceConfig
from orgforge.errors import ConfigError
from orgforge.schema import salesforce as sf
from orgforge.targets.base import RecordError, WriteResult
from orgforge.targets.salesforce.auth import Authenticator, RoutingSession, login_domain, mask
from orgforge.targets.salesforce.client import parse_errors, soql_in, soql_quote
from orgforge.targets.salesforce.loader import _bulk_error
from orgforge.targets.salesforce.plan import _map_picklist
from orgforge.targets.salesforce.records import fingerprint


def test_soql_quote_escapes_quotes_backslashes_and_newlines():
    assert soql_quote("O'Brien") == r"'O\'Brien'"
    assert soql_quote("a\\b") == r"'a\\b'"
    assert soql_quote("x' OR Name != '") == r"'x\' OR Name != \''"
    assert soql_quote("line\nbreak") == r"'line\nbreak'"
    assert soql_in(["Account/0001", "it's"]) == r"('Account/0001','it\'s')"


def test_record_errors_from_collections_and_bulk():
    error = parse_errors(
        [{"statusCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [Name]",
          "fields": ["Name"]}]
    )  # fmt: skip
    assert error == RecordError(
        "REQUIRED_FIELD_MISSING", "Required fields are missing: [Name]", ("Name",)
    )
    bulk = _bulk_error("REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --")
    assert bulk.code == "REQUIRED_FIELD_MISSING" and bulk.fields == ("Name",)
    assert _bulk_error("UNABLE_TO_LOCK_ROW:unable to obtain exclusive access:--").code == (
        "UNABLE_TO_LOCK_ROW"
    )
    assert WriteResult(
        "Account/0001", "Account", error=RecordError("UNABLE_TO_LOCK_ROW", "")
    ).retryable
    assert not WriteResult("Account/0001", "Account", error=error).retryable


def test_login_domain_and_routing():
    assert login_domain("https://login.salesforce.com") == "login"
    assert login_domain("https://test.salesforce.com") == "test"
    assert login_domain("https://acme.my.salesforce.com") == "acme.my"
    assert login_domain("http://127.0.0.1:8642") == "login"
    session = RoutingSession({"127.0.0.1:8642"}, login_netloc="127.0.0.1:8642")
    assert (
        session.route("https://127.0.0.1:8642/services/data")
        == "http://127.0.0.1:8642/services/data"
    )
    assert session.route("https://login.salesforce.com/services/Soap/u/59.0") == (
        "http://127.0.0.1:8642/services/Soap/u/59.0"
    )
    assert RoutingSession(set()).route("https://acme.my.salesforce.com/x") == (
        "https://acme.my.salesforce.com/x"
    )


def test_auth_mode_resolution_and_missing_settings():
    s = SalesforceConfig()
    assert Authenticator(s, env={"SF_ACCESS_TOKEN": "t0k3n-abc"}).mode == "token"
    assert Authenticator(s.model_copy(update={"username": "u"}), env={"SF_PASSWORD": "p"}).mode == (
        "password"
    )
    jwt = s.model_copy(update={"username": "u", "consumer_key": "k", "key_file": "/nope.pem"})
    assert Authenticator(jwt, env={}).mode == "jwt"
    assert Authenticator(s, env={}).mode == "sf-cli"
    with pytest.raises(ConfigError, match="instance_url"):
        Authenticator(s, env={"SF_ACCESS_TOKEN": "t0k3n-abc"}).login()
    with pytest.raises(ConfigError, match=r"key_file: /nope\.pem does not exist"):
        Authenticator(jwt, env={}).login()
    assert mask("token t0k3n-abc refused", ["t0k3n-abc"]) == "token **** refused"


def test_picklist_mapping_warns_and_adapts():
    event_type = sf.get("Event").field("Type")
    org = {"picklistValues": [{"value": v, "active": True} for v in ("Meeting", "Call", "Other")]}
    warnings: list[str] = []
    assert _map_picklist("Event", event_type, org, warnings) == {"Demo": "Meeting"}
    assert warnings == ["Event.Type: the org has no value 'Demo'; sending 'Meeting'"]
    org = {"picklistValues": [{"value": "call", "active": True}], "nillable": True}
    mapping = _map_picklist("Event", event_type, org, [])
    assert mapping["Call"] == "call" and mapping["Meeting"] is None


def test_fingerprint_compares_15_and_18_character_ids():
    values = {"AccountId": "0018a0000000001AAA", "LastName": " Chan "}
    org_row = {"AccountId": "0018a0000000001", "LastName": "Chan"}
    assert fingerprint(values, ["AccountId", "LastName"]) == fingerprint(
        org_row, ["AccountId", "LastName"]
    )
