"""Exports: load-ready CSV with relationship columns, full JSON/Parquet, all round-trip."""

from __future__ import annotations

import csv
import re

import pyarrow.parquet as pq
from tests.worlds import rows

import orgforge
from orgforge.schema import salesforce as sf
from orgforge.targets import files
from orgforge.targets.files import LOADABLE, csv_layout, read_export
from orgforge.world.store import World


def test_csv_is_load_ready_with_relationship_columns(prd_world, tmp_path):
    orgforge.export(prd_world, tmp_path, "csv")
    with (tmp_path / "Task.csv").open(newline="") as handle:
        header = next(csv.reader(handle))
    assert header[0] == "Orgforge_Key__c"
    assert "Contact:Who.Orgforge_Key__c" in header
    assert {"Account:What.Orgforge_Key__c", "Opportunity:What.Orgforge_Key__c"} <= set(header)
    assert "WhoId" not in header and "IsClosed" not in header and "OwnerId" not in header
    # audit fields as Bulk API 2.0 / Data Loader take them with "Set Audit Fields upon Record
    # Creation": datetimes in UTC with milliseconds, users by their external id
    audit = ["CreatedDate", "CreatedBy.Orgforge_Key__c"]
    audit += ["LastModifiedDate", "LastModifiedBy.Orgforge_Key__c"]
    assert header[-4:] == audit and "Owner.Orgforge_Key__c" in header
    with (tmp_path / "Contact.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        first = next(reader)
    assert "Account.Orgforge_Key__c" in reader.fieldnames
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z", first["CreatedDate"])
    assert first["CreatedBy.Orgforge_Key__c"].startswith("User/")
    with (tmp_path / "User.csv").open(newline="") as handle:
        users = list(csv.DictReader(handle))
    assert users and {"UserRole.Orgforge_Key__c", "Manager.Orgforge_Key__c"} <= set(users[0])
    assert (tmp_path / "History.csv").exists()


def test_csv_round_trips_every_loadable_field(prd_world, tmp_path):
    orgforge.export(prd_world, tmp_path, "csv")
    exported = dict(read_export(tmp_path))
    assert list(exported) == list(LOADABLE)
    for name in LOADABLE:
        obj = sf.get(name)
        header, render = csv_layout(obj)
        world_rows = rows(prd_world, name)
        assert len(exported[name]) == len(world_rows)
        for record, line in zip(world_rows, exported[name], strict=True):
            assert [line[h] for h in header] == [r(record) for r in render]
            for field in obj.fields:
                # read-only lookups (a converted lead's, a line's Product2Id) are not loadable
                if field.is_reference and field.name != "OwnerId" and field.createable:
                    cells = [
                        line[c]
                        for c in header
                        if c.endswith(f"{field.relationship_name}.Orgforge_Key__c")
                    ]
                    assert [c for c in cells if c] == (
                        [record[field.name]] if record[field.name] else []
                    )


def test_json_and_parquet_are_full_fidelity(prd_world, tmp_path):
    orgforge.export(prd_world, tmp_path / "j", "json")
    orgforge.export(prd_world, tmp_path / "p", "parquet")
    json_rows = dict(read_export(tmp_path / "j"))
    for name in sf.GENERATED:
        world_rows = rows(prd_world, name)
        parquet_rows = pq.read_table(tmp_path / "p" / f"{name}.parquet").to_pylist()
        booleans = {f.name for f in sf.get(name).fields if f.type == "boolean"}
        for record, from_json, from_parquet in zip(
            world_rows, json_rows[name], parquet_rows, strict=True
        ):
            for column, value in from_json.items():
                expected = record[column]
                if column in booleans and expected is not None:
                    expected = bool(expected)
                assert value == expected, (name, column)
                assert from_parquet[column] == expected, (name, column)


def test_export_memory_is_streamed(prd_world, tmp_path, monkeypatch):
    """The exporter reads the world in bounded batches rather than materialising whole tables."""
    seen = []
    original = files._batches

    def spy(cursor, size):
        for batch in original(cursor, size):
            seen.append(len(batch))
            yield batch

    monkeypatch.setattr(files, "_batches", spy)
    with World(prd_world, create=False) as world:
        files.export(world, tmp_path, "csv", processes=1)
    assert len(seen) >= 8 and max(seen) <= files.BATCH_ROWS
