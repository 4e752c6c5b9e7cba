"""Bad input: one line saying what and where, one line of hint, exit 2, nothing written."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

G = ("generate", "--preset", "tiny")

# (id, files to create, environment, arguments, fragment the error line must contain)
CASES = [
    (
        "unknown-top-key",
        {"orgforge.yaml": "sed: 3\n"},
        {},
        G,
        "orgforge.yaml:1: sed: unknown setting",
    ),
    (
        "unknown-nested-key",
        {"orgforge.yaml": "generate:\n  acounts: 5\n"},
        {},
        G,
        "orgforge.yaml:2: generate.acounts: unknown setting",
    ),
    (
        "wrong-type",
        {"orgforge.yaml": "generate:\n  accounts: many\n"},
        {},
        ("generate",),
        "orgforge.yaml:2: generate.accounts",
    ),
    (
        "zero-accounts",
        {},
        {},
        ("generate", "--accounts", "0"),
        "--accounts: generate.accounts: Input should be greater than 0",
    ),
    ("negative-accounts", {}, {}, ("generate", "--accounts", "-5"), "greater than 0"),
    (
        "density-sum",
        {"orgforge.yaml": "generate:\n  density: {rich: 30, moderate: 50, sparse: 30}\n"},
        {},
        G,
        "orgforge.yaml:2: generate.density: density weights must sum to 100, got 110",
    ),
    (
        "industry-weights-sum",
        {"orgforge.yaml": "generate:\n  industries: {insurance: 50, high_tech: 40}\n"},
        {},
        G,
        "industries weights must sum to 100, got 90",
    ),
    (
        "unknown-industry-in-config",
        {"orgforge.yaml": "generate:\n  industries: {insurance: 50, retail: 50}\n"},
        {},
        G,
        "generate.industries: unknown industry 'retail'",
    ),
    (
        "unknown-industry-flag",
        {},
        {},
        (*G, "--industries", "insurance,retail"),
        "--industries: unknown industry 'retail'",
    ),
    ("empty-industries-flag", {}, {}, (*G, "--industries", ","), "--industries: empty list"),
    (
        "malformed-yaml",
        {"orgforge.yaml": "generate:\n  accounts: [1\n  seed: 2\n"},
        {},
        G,
        "orgforge.yaml:3: malformed YAML",
    ),
    (
        "tab-indented-yaml",
        {"orgforge.yaml": "generate:\n\taccounts: 3\n"},
        {},
        G,
        "orgforge.yaml:2: malformed YAML",
    ),
    (
        "top-level-list",
        {"orgforge.yaml": "- seed\n"},
        {},
        G,
        "orgforge.yaml:1: the top level must be a mapping",
    ),
    ("bad-date", {}, {}, (*G, "--as-of", "2026-13-45"), "flag --as-of: as_of"),
    ("bad-date-in-file", {"orgforge.yaml": "as_of: yesterday\n"}, {}, G, "orgforge.yaml:1: as_of"),
    ("bad-seed-env", {}, {"ORGFORGE_SEED": "abc"}, G, "environment variable ORGFORGE_SEED: seed"),
    (
        "negative-seed",
        {},
        {},
        (*G, "--seed", "-1"),
        "seed: Input should be greater than or equal to 0",
    ),
    (
        "float-seed",
        {"orgforge.yaml": "seed: 1.5\n"},
        {},
        G,
        "orgforge.yaml:1: seed: seed must be a whole number",
    ),
    (
        "bad-env-number",
        {},
        {"ORGFORGE_GENERATE__ACCOUNTS": "lots"},
        ("generate",),
        "ORGFORGE_GENERATE__ACCOUNTS",
    ),
    (
        "unknown-env-key",
        {},
        {"ORGFORGE_GENERATE__COLOUR": "red"},
        G,
        "ORGFORGE_GENERATE__COLOUR: generate.colour: unknown",
    ),
    (
        "dotenv-bad-value",
        {".env": "ORGFORGE_GENERATE__OWNERS=0\n"},
        {},
        G,
        "ORGFORGE_GENERATE__OWNERS",
    ),
    (
        "unknown-preset",
        {},
        {},
        ("generate", "--preset", "huge"),
        "preset: Input should be 'tiny', 'prd', 'large' or 'xl'",
    ),
    ("unknown-format", {}, {}, (*G, "--out", "x", "--format", "xml"), "export.format"),
    ("unknown-text-engine", {}, {}, (*G, "--text", "gpt"), "content.engine"),
    (
        "unknown-stage",
        {"orgforge.yaml": "generate:\n  stages: {Prospecting: 50, Won: 50}\n"},
        {},
        G,
        "unknown stage 'Won'",
    ),
    (
        "stages-sum",
        {"orgforge.yaml": "generate:\n  stages: {Prospecting: 50, Closed Won: 40}\n"},
        {},
        G,
        "stages weights must sum to 100",
    ),
    (
        "unknown-case-status",
        {"orgforge.yaml": "generate:\n  case_status: {New: 50, Open: 50}\n"},
        {},
        G,
        "unknown case status 'Open'",
    ),
    (
        "unknown-task-type",
        {"orgforge.yaml": "generate:\n  task_mix: {Call: 10, Lunch: 5}\n"},
        {},
        G,
        "unknown activity type 'Lunch'",
    ),
    (
        "negative-ratio",
        {"orgforge.yaml": "generate:\n  per_account: {Contact: -1}\n"},
        {},
        G,
        "per_account.Contact is negative",
    ),
    (
        "unknown-ratio-object",
        {"orgforge.yaml": "generate:\n  per_account: {Lead: 3}\n"},
        {},
        G,
        "unknown object 'Lead'",
    ),
    (
        "roles-below-opportunities",
        {"orgforge.yaml": "generate:\n  per_account: {OpportunityContactRole: 1}\n"},
        {},
        G,
        "every opportunity has one primary contact role",
    ),
    (
        "bad-business-hours",
        {"orgforge.yaml": "generate:\n  business_hours: [18, 8]\n"},
        {},
        G,
        "business_hours must be [start, end]",
    ),
    (
        "missing-config-file",
        {},
        {},
        (*G, "--config", "nope.yaml"),
        "config file nope.yaml not found",
    ),
    (
        "output-is-a-file",
        {"taken": "x"},
        {},
        (*G, "--out", "taken/export"),
        "--out taken/export: taken is a file",
    ),
    (
        "world-is-a-directory",
        {"worlddir/keep": ""},
        {},
        (*G, "--world", "worlddir"),
        "is a directory",
    ),
    (
        "world-not-sqlite",
        {"notes.db": "hello, I am a text file\n"},
        {},
        (*G, "--world", "notes.db"),
        "is not a SQLite file",
    ),
    (
        "bad-pack-file",
        {"mypack.yaml": "id: retail\nlabel: Retail\n"},
        {},
        (*G, "--pack", "mypack.yaml"),
        "mypack.yaml",
    ),
    ("missing-pack-file", {}, {}, (*G, "--pack", "nopack.yaml"), "pack file nopack.yaml not found"),
    (
        "tag-mode-not-written-yet",
        {"orgforge.yaml": "activity:\n  tag:\n    mode: field\n"},
        {},
        G,
        "orgforge.yaml:3: activity.tag.mode: mode 'field' is not written by any target yet",
    ),
    (
        "scorecard-mode-not-written-yet",
        {"orgforge.yaml": "activity:\n  scorecards:\n    salesforce: {mode: object}\n"},
        {},
        G,
        "activity.scorecards.salesforce.mode: mode 'object' is not written by any target yet",
    ),
]


@pytest.mark.parametrize(
    ("files", "env", "args", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_rejected_before_anything_is_written(
    run_cli, tmp_path, monkeypatch, files, env, args, fragment
):
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    before = {p for p in tmp_path.rglob("*")}
    code, out, err = run_cli(*args)
    assert code == 2, (out, err)
    assert fragment in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    if lines[0].startswith("error:"):
        assert len(lines) == 2 and lines[1].startswith("hint:"), err
    else:  # a flag the parser itself rejects: click's usage line and its error line
        assert any(line.startswith("Error:") for line in lines), err
    assert "Traceback" not in err
    assert {p for p in tmp_path.rglob("*")} == before, "something was written"


def test_at_least_25_distinct_bad_inputs_are_covered():
    assert len({c[0] for c in CASES}) >= 25


def test_world_from_a_newer_schema_is_refused(run_cli, tmp_path):
    code, _, _ = run_cli("generate", "--preset", "tiny", "--world", "w.db")
    assert code == 0
    with sqlite3.connect(tmp_path / "w.db") as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE name = 'schema_version'")
    code, _, err = run_cli("generate", "--preset", "tiny", "--world", "w.db")
    assert code == 2
    assert "has schema version 99; this orgforge reads up to 3" in err
    assert "hint: Upgrade orgforge" in err


def test_a_database_of_something_else_is_refused(run_cli, tmp_path):
    with sqlite3.connect(tmp_path / "other.db") as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    code, _, err = run_cli("generate", "--preset", "tiny", "--world", "other.db")
    assert code == 2 and "is a database of something else" in err


def test_debug_shows_the_traceback(run_cli):
    code, _, err = run_cli("--debug", "generate", "--preset", "tiny", "--seed", "-1")
    assert code == 2 and "Traceback" in err


def test_export_of_a_missing_world(run_cli, tmp_path: Path):
    code, _, err = run_cli("export", "--world", "missing.db", "--out", "out")
    assert code == 2 and "world missing.db does not exist" in err
    assert not (tmp_path / "missing.db").exists()
