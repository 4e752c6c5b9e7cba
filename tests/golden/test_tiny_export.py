"""The tiny preset's CSV export, checked in record by record (tests/golden/tiny/*.csv).

``--preset tiny --seed 42 --as-of 2026-11-23 --format csv`` is exported and compared with the
files here, Snowfakery-style: a mismatch names the object, the record key and each field that
changed (old → new), so a review sees *what* changed, not just that a digest did.

When a change is meant to alter the output, regenerate in the same commit and say why::

    make golden                      # = pytest tests/golden --update-goldens

then read ``git diff tests/golden/`` like any other change.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest

from tests.worlds import AS_OF, make_world

GOLDEN = Path(__file__).parent / "tiny"
RECIPE = {"preset": "tiny", "seed": 42, "as_of": AS_OF.isoformat(), "format": "csv"}
SHOWN = 20  # differences listed per object before "... and N more"


def _records(text: str) -> tuple[list[str], dict[str, dict[str, str]]]:
    """(columns, key → record) of a CSV export; the key is its first column."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = list(reader.fieldnames or [])
    return columns, {row[columns[0]]: row for row in reader}


def _short(value: str | None, width: int = 60) -> str:
    if value is None:
        return "(absent)"
    text = repr(value)
    return text if len(text) <= width else text[: width - 4] + "...'"


def compare(expected_text: str, actual_text: str, name: str) -> list[str]:
    """Readable differences between two CSV exports of one object (empty when equal)."""
    old_columns, old = _records(expected_text)
    new_columns, new = _records(actual_text)
    lines = []
    if old_columns != new_columns:
        gone = [c for c in old_columns if c not in new_columns]
        added = [c for c in new_columns if c not in old_columns]
        lines.append(f"{name}: columns changed; removed {gone}, added {added}")
    for key in old.keys() - new.keys():
        lines.append(f"{name} {key}: record missing")
    for key in new.keys() - old.keys():
        lines.append(f"{name} {key}: new record")
    for key in sorted(old.keys() & new.keys()):
        for field in dict.fromkeys([*old_columns, *new_columns]):
            before, after = old[key].get(field), new[key].get(field)
            if before != after:
                lines.append(f"{name} {key}.{field}: {_short(before)} → {_short(after)}")
    if not lines and list(old) != list(new):
        lines.append(f"{name}: same records in another order")
    if not lines and expected_text != actual_text:
        lines.append(f"{name}: same values, different bytes (quoting or line endings)")
    if len(lines) > SHOWN:
        lines = [*lines[:SHOWN], f"... and {len(lines) - SHOWN} more for {name}"]
    return lines


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("golden")
    make_world(root, out=str(root / "export"), **RECIPE)
    return root / "export"


def test_tiny_export_matches_the_checked_in_csv(export_dir, request):
    produced = sorted(p.name for p in export_dir.glob("*.csv"))
    if request.config.getoption("--update-goldens"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        GOLDEN.mkdir()
        for name in produced:
            shutil.copyfile(export_dir / name, GOLDEN / name)
        return
    assert GOLDEN.is_dir(), "no goldens yet: run `make golden`"
    expected = sorted(p.name for p in GOLDEN.glob("*.csv"))
    problems = []
    if produced != expected:
        problems.append(f"files: expected {expected}, produced {produced}")
    for name in sorted(set(produced) & set(expected)):
        problems += compare(
            (GOLDEN / name).read_text(encoding="utf-8"),
            (export_dir / name).read_text(encoding="utf-8"),
            name.removesuffix(".csv"),
        )
    assert not problems, (
        "the tiny export changed (if meant, `make golden` and commit the diff):\n  "
        + "\n  ".join(problems)
    )


def test_a_changed_field_is_named_with_its_record_and_values():
    before = "Orgforge_Key__c,Name,Rating\nAccount/0001,Acme,Hot\nAccount/0002,Beta,Warm\n"
    after = "Orgforge_Key__c,Name,Rating,Type\nAccount/0001,Acme,Cold,X\nAccount/0003,Gamma,,\n"
    assert compare(before, after, "Account") == [
        "Account: columns changed; removed [], added ['Type']",
        "Account Account/0002: record missing",
        "Account Account/0003: new record",
        "Account Account/0001.Rating: 'Hot' → 'Cold'",
        "Account Account/0001.Type: (absent) → 'X'",
    ]
    assert compare(before, before, "Account") == []
