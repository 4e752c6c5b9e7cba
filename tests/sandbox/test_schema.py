"""Schema files: custom fields and objects (YAML or JSON), and clear errors for bad ones."""

from __future__ import annotations

import json

import pytest

from orgforge.errors import ConfigError
from orgforge.sandbox.salesforce import SandboxConfig, run_in_thread
from orgforge.sandbox.salesforce.metadata import standard_objects
from orgforge.sandbox.salesforce.schema_file import apply_schema, load_schema
from tests.sandbox.helpers import create


def test_custom_object_with_master_detail(api):
    opp = create(api, "Opportunity", Name="Deal", StageName="Prospecting", CloseDate="2030-01-01")
    card = create(
        api,
        "Scorecard__c",
        Opportunity__c=opp,
        Framework__c="MEDDICC",
        Score__c=72.5,
        Orgforge_Key__c="SC/1",
    )
    assert card.startswith("a0X")
    rec = api.get(f"/sobjects/Scorecard__c/{card}").json()
    assert rec["Name"] == "SC-00001" and rec["Score__c"] == 72.5
    assert "OwnerId" not in rec  # master-detail children have no owner
    res = api.get(
        "/query",
        params={
            "q": "SELECT Name, Opportunity__r.Name FROM Scorecard__c WHERE Framework__c = 'meddicc'"
        },
    ).json()
    assert res["records"][0]["Opportunity__r"]["Name"] == "Deal"
    parent = api.get(
        "/query", params={"q": "SELECT Name, (SELECT Score__c FROM Scorecards__r) FROM Opportunity"}
    ).json()
    assert parent["records"][0]["Scorecards__r"]["records"][0]["Score__c"] == 72.5
    missing = api.post("/sobjects/Scorecard__c", json={"Framework__c": "BANT"})
    assert missing.json()[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    api.delete(f"/sobjects/Opportunity/{opp}")
    assert api.get(f"/sobjects/Scorecard__c/{card}").status_code == 404


def test_json_schema_and_restricted_custom_picklist(tmp_path):
    path = tmp_path / "schema.json"
    path.write_text(
        json.dumps(
            {
                "fields": {
                    "Lead": [
                        {
                            "name": "Tier__c",
                            "type": "picklist",
                            "picklist": ["Gold", "Silver"],
                            "restricted": True,
                        },
                        {
                            "name": "Ext__c",
                            "type": "text",
                            "length": 10,
                            "external_id": True,
                            "case_sensitive": True,
                        },
                    ]
                }
            }
        )
    )
    with run_in_thread(SandboxConfig(db_path=tmp_path / "s.db", schema=path)) as sb:
        import httpx

        with httpx.Client(base_url=sb.base_url, headers=sb.headers) as api:
            ok = api.post(
                "/sobjects/Lead", json={"LastName": "L", "Company": "C", "Tier__c": "Gold"}
            )
            assert ok.status_code == 201
            bad = api.post(
                "/sobjects/Lead", json={"LastName": "L", "Company": "C", "Tier__c": "Tin"}
            )
            assert bad.json()[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
            fields = {f["name"]: f for f in api.get("/sobjects/Lead/describe").json()["fields"]}
            assert fields["Ext__c"]["caseSensitive"] is True and fields["Tier__c"]["custom"] is True


@pytest.mark.parametrize(
    "schema",
    [
        {"fields": {"Nope": [{"name": "X__c"}]}},
        {"fields": {"Account": [{"name": "NoSuffix"}]}},
        {"fields": {"Account": [{"name": "X__c", "type": "blob"}]}},
        {"fields": {"Account": [{"name": "X__c", "type": "lookup"}]}},
        {"objects": [{"name": "Thing"}]},
        {"objects": [{"name": "T__c", "key_prefix": "001"}]},
        {"unexpected": 1},
    ],
)
def test_bad_schemas_are_config_errors(schema):
    with pytest.raises(ConfigError):
        apply_schema(standard_objects(), load_schema(schema))
