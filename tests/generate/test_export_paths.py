"""The SQLite fast path (rows rendered in SQL, parts written by forked workers) writes the same
bytes as the generic SQLAlchemy path, in one process or two, and fails as cleanly."""

from __future__ import annotations

import errno
import os
import re
import sqlite3
from contextlib import closing
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.worlds import rows

from orgforge.errors import OutputError
from orgforge.schema import salesforce as sf
from orgforge.targets import files
from orgforge.world.store import World

# (object, field, value) written into the world, each into its own record, spread over batches
# and parts: what csv.writer quotes, what json.dumps escapes, floats SQLite writes differently
# from Python, booleans that aren't 0/1, lookups no relationship column takes, floats in int
# and boolean columns.
AWKWARD = [
    ("Account", "Name", 'Comma, "Quote" & Co'),
    ("Account", "Description", "line one\nline two\r\nend\ttab \x01 \\ backslash"),
    ("Account", "BillingStreet", "é – “ ” 😀 \u2028 100% 'single'"),
    ("Account", "Industry", ""),
    ("Account", "Website", "a\x1fb"),  # the fast path's cell separator
    ("Account", "AnnualRevenue", 1234.5),
    ("Account", "AnnualRevenue", 0.1 + 0.2),
    ("Account", "AnnualRevenue", 1e20),
    ("Account", "AnnualRevenue", 1e15),
    ("Account", "AnnualRevenue", -7.0),
    ("Opportunity", "Amount", 99999.99),
    ("Opportunity", "Probability", None),
    ("Opportunity", "IsClosed", 2),
    ("Opportunity", "IsWon", "yes"),
    ("Contact", "AccountId", "account/0001"),  # LIKE is case-insensitive
    ("Task", "WhatId", "Lead/0001"),  # a parent type with no column
    ("Task", "Subject", '"'),
    ("Case", "Subject", "\n"),
    ("Case", "Description", "\\u001f\x1f\\"),
    ("CaseComment", "CommentBody", '","'),
    ("Event", "Location", "\r"),
    ("Account", "NumberOfEmployees", 12.5),  # a float in an int column
    ("Task", "CallDurationInSeconds", 7.25),
    ("Case", "IsEscalated", 0.5),  # a float in a boolean one
]
# Texts in number columns (no orgforge job writes them): Parquet refuses them, on either path.
MISTYPED = [
    ("Account", "NumberOfEmployees", "many"),
    ("Event", "DurationInMinutes", "half an hour"),
]


def world_with(values, source: Path, path: Path) -> Path:
    """A copy of ``source`` with each (object, field, value) in its own record."""
    with closing(sqlite3.connect(source)) as original, closing(sqlite3.connect(path)) as db:
        original.backup(db)
        used: dict[str, int] = {}
        for name, field, value in values:
            table = f"rec_{name}"
            (count,) = db.execute(f"SELECT count(*) FROM {table}").fetchone()
            nth = used[name] = used.get(name, -1) + 1
            db.execute(
                f'UPDATE {table} SET "{field}" = ? WHERE rowid = (SELECT rowid FROM {table} '
                "ORDER BY account_idx, seq LIMIT 1 OFFSET ?)",
                (value, 37 * nth % count),
            )
        db.commit()
    return path


@pytest.fixture(scope="module")
def awkward_world(prd_world, tmp_path_factory) -> Path:
    return world_with(AWKWARD, prd_world, tmp_path_factory.mktemp("awkward") / "w.db")


@pytest.fixture(scope="module")
def mistyped_world(awkward_world, tmp_path_factory) -> Path:
    return world_with(MISTYPED, awkward_world, tmp_path_factory.mktemp("mistyped") / "w.db")


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def export_generic(world_path: Path, out: Path, fmt: str) -> dict[str, bytes]:
    with World(world_path, create=False) as world:
        world.is_sqlite = False  # read as any other database is: SQLAlchemy, in this process
        files.export(world, out, fmt)
    return contents(out)


@pytest.mark.parametrize("fmt", files.FORMATS)
def test_fast_path_in_one_or_two_processes_writes_the_generic_paths_bytes(
    awkward_world, tmp_path, monkeypatch, fmt
):
    used = []
    decide = files._processes
    monkeypatch.setattr(files, "_processes", lambda *a: used.append(decide(*a)) or used[-1])
    expected = export_generic(awkward_world, tmp_path / "generic", fmt)
    with World(awkward_world, create=False) as world:
        files.export(world, tmp_path / "one", fmt, processes=1)
        # an account per part (some without a record of the object), parts of several batches
        monkeypatch.setattr(files, "BATCH_ROWS", 13)
        files.export(world, tmp_path / "two", fmt, processes=2, part_rows=2)
    assert used == [1, 2]  # the second export forked two workers
    assert contents(tmp_path / "one") == expected
    assert contents(tmp_path / "two") == expected
    assert not list(tmp_path.glob("*/.orgforge-parts-*"))


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_values_of_another_type_are_written_as_the_generic_path_writes_them(
    mistyped_world, tmp_path, fmt
):
    expected = export_generic(mistyped_world, tmp_path / "generic", fmt)
    with World(mistyped_world, create=False) as world:
        files.export(world, tmp_path / "two", fmt, processes=2, part_rows=97)
    assert contents(tmp_path / "two") == expected


def test_parquet_refuses_values_of_another_type_on_either_path(mistyped_world, tmp_path):
    with pytest.raises(pa.ArrowInvalid):
        export_generic(mistyped_world, tmp_path / "generic", "parquet")
    with World(mistyped_world, create=False) as world, pytest.raises(pa.ArrowInvalid):
        files.export(world, tmp_path / "two", "parquet", processes=2)
    left = {p.name for p in (tmp_path / "two").iterdir()}  # objects done before the error
    assert not {"Account.parquet", "Event.parquet"} & left
    assert not [name for name in left if name.startswith(".") or name.endswith(".tmp")]


def test_awkward_values_are_exported_as_python_writes_them(awkward_world, tmp_path):
    with World(awkward_world, create=False) as world:
        files.export(world, tmp_path / "csv", "csv", processes=2, part_rows=97)
        files.export(world, tmp_path / "json", "json", processes=2, part_rows=97)
        files.export(world, tmp_path / "parquet", "parquet", processes=2)
    accounts = (tmp_path / "csv" / "Account.csv").read_text(encoding="utf-8")
    assert '"Comma, ""Quote"" & Co"' in accounts
    assert ",1e+20," in accounts and ",0.30000000000000004," in accounts and ",-7," in accounts
    assert "a\x1fb" in accounts
    exported = dict(files.read_export(tmp_path / "json"))
    for name in sf.GENERATED:
        booleans = {f.name for f in sf.get(name).fields if f.type == "boolean"}
        expected = [
            {
                c: (bool(v) if c in booleans and v is not None else v)
                for c, v in record.items()
                if c not in ("account_idx", "seq")
            }
            for record in rows(awkward_world, name)
        ]
        assert exported[name] == expected, name
        ints = {f.name for f in sf.get(name).fields if f.type == "int"}
        truncated = [  # Arrow truncates a float in an int column (the generic path did too)
            {c: (int(v) if c in ints and isinstance(v, float) else v) for c, v in record.items()}
            for record in expected
        ]
        parquet = pq.read_table(tmp_path / "parquet" / f"{name}.parquet").to_pylist()
        assert parquet == truncated, name


def test_an_empty_world_in_memory_exports_like_the_generic_path(tmp_path):
    for fmt in files.FORMATS:
        with World("sqlite://") as world:
            counts = files.export(world, tmp_path / f"fast-{fmt}", fmt)
            world.is_sqlite = False
            files.export(world, tmp_path / f"generic-{fmt}", fmt)
        assert set(counts.values()) == {0}
        assert contents(tmp_path / f"fast-{fmt}") == contents(tmp_path / f"generic-{fmt}")


def test_workers_only_for_a_world_in_a_file_with_no_connection_open(prd_world):
    big = files.PARALLEL_FROM_ROWS
    with World(prd_world, create=False) as world:
        assert files._processes(world, None, big - 1) == 1
        assert files._processes(world, None, big) >= 1
        assert files._processes(world, 2, 10) == 2
        with world.engine.connect():  # it would be carried into the workers
            assert files._processes(world, 2, 10) == 1
    with World("sqlite://") as memory:
        assert files._processes(memory, 2, 10) == 1


@pytest.mark.parametrize("processes", [1, 2])
def test_progress_counts_every_record_as_parts_finish(prd_world, tmp_path, processes):
    seen: list[int] = []
    with World(prd_world, create=False) as world:
        counts = files.export(
            world, tmp_path, "csv", seen.append, processes=processes, part_rows=300
        )
    assert sum(seen) == sum(counts.values())
    assert len(seen) > len(files.LOADABLE)  # big objects report part by part


@pytest.mark.parametrize("processes", [1, 2])
@pytest.mark.parametrize("fmt", files.FORMATS)
def test_a_failed_part_leaves_no_half_file_and_no_part_files(
    prd_world, tmp_path, monkeypatch, processes, fmt
):
    with World(prd_world, create=False) as world:
        files.export(world, tmp_path / "whole", fmt, processes=1)
    writer = "_write_parquet_part" if fmt == "parquet" else "_write_text_part"
    original = getattr(files, writer)

    def fail_on_contacts(db, part):
        if part.object_name != "Contact":
            return original(db, part)
        Path(part.path).write_bytes(b"half a part")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files, writer, fail_on_contacts)  # forked workers inherit it
    out = tmp_path / "out"
    with World(prd_world, create=False) as world, pytest.raises(OutputError) as failed:
        files.export(world, out, fmt, processes=processes, part_rows=300)
    assert str(failed.value) == f"--out {out}/Contact.{fmt}: can't write (No space left on device)"
    left = contents(out)
    assert f"Contact.{fmt}" not in left
    assert all(left[name] == (tmp_path / "whole" / name).read_bytes() for name in left)
    assert not list(out.glob(".*")) and not list(out.glob("*.tmp"))


@pytest.mark.parametrize("processes", [1, 2])
def test_a_failed_assembly_leaves_no_half_file(prd_world, tmp_path, monkeypatch, processes):
    def disk_full(*_args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.shutil, "copyfileobj", disk_full)
    with World(prd_world, create=False) as world, pytest.raises(OutputError) as failed:
        files.export(world, tmp_path, "csv", processes=processes, part_rows=300)
    # the first object whose parts are all done (in two processes, not always Account)
    assert re.fullmatch(
        rf"--out {re.escape(str(tmp_path))}/\w+\.csv: can't write \(No space left on device\)",
        str(failed.value),
    )
    assert not list(tmp_path.iterdir())


def test_a_worker_that_dies_fails_the_export_without_hanging(prd_world, tmp_path, monkeypatch):
    original = files._write_text_part

    def die_on_cases(db, part):
        if part.object_name == "Case":
            os._exit(3)  # as a crash would: no answer on the pipe
        return original(db, part)

    monkeypatch.setattr(files, "_write_text_part", die_on_cases)
    with World(prd_world, create=False) as world, pytest.raises(RuntimeError, match="died"):
        files.export(world, tmp_path, "csv", processes=2, part_rows=300)
    assert "Case.csv" not in {p.name for p in tmp_path.iterdir()}
    assert not list(tmp_path.glob(".*")) and not list(tmp_path.glob("*.tmp"))
