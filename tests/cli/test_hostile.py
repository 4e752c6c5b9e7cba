"""Hostile input, broken and locked worlds: a clean answer every time, nothing damaged (issue 13).

One test per family, each case run as a user meets it: the installed ``orgforge`` entry point in
a subprocess, in a fresh folder whose every file is hashed before and after. Bad input must end
with exit 2, an ``error:`` line saying what and where, one ``hint:`` line, no traceback, within
a timeout (a FIFO must not hang it), and the folder exactly as it was.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pytest
from tests.worlds import make_world

BIN = str(Path(sys.executable).with_name("orgforge"))
TIMEOUT = 60  # seconds; a case that hangs (a FIFO read) fails here instead of blocking CI

Setup = Callable[[Path], object]


@pytest.fixture(scope="module")
def template_world(tmp_path_factory) -> Path:
    """A tiny world, copied into each case's folder that needs one."""
    return make_world(tmp_path_factory.mktemp("hostile-template"), preset="tiny")


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry under ``folder`` → its kind, and a regular file's SHA-256."""
    out = {}
    for path in sorted(folder.rglob("*")):
        name = str(path.relative_to(folder))
        if name.endswith("-shm"):
            continue  # SQLite's shared-memory index: readers of a world open elsewhere touch it
        if path.is_symlink():
            out[name] = "symlink"
        elif path.is_fifo():
            out[name] = "fifo"
        elif path.is_dir():
            out[name] = "dir"
        else:
            out[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def orgforge(folder: Path, *args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORGFORGE_", "SF_"))}
    env["NO_COLOR"] = "1"
    return subprocess.run(
        [BIN, *args], cwd=folder, env=env, capture_output=True, text=True, timeout=timeout
    )


def assert_refused(folder: Path, args: tuple[str, ...], fragment: str) -> None:
    """Run ``orgforge ARGS`` in ``folder``: exit 2, two lines naming ``fragment``, no writes."""
    before = snapshot(folder)
    done = orgforge(folder, *args)
    err = done.stderr
    assert done.returncode == 2, (done.returncode, done.stdout[-800:], err[-1500:])
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 2, err
    assert lines[0].startswith("error: ") and lines[1].startswith("hint: "), err
    assert fragment in lines[0], err
    assert snapshot(folder) == before, "something was created or changed"


def write(name: str, content: str | bytes) -> Setup:
    def setup(folder: Path) -> None:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)

    return setup


def both(*setups: Setup) -> Setup:
    def setup(folder: Path) -> None:
        for one in setups:
            one(folder)

    return setup


def fifo(name: str) -> Setup:
    return lambda folder: os.mkfifo(folder / name)


def symlink_loop(name: str) -> Setup:
    def setup(folder: Path) -> None:
        os.symlink(folder / f"{name}.other", folder / name)
        os.symlink(folder / name, folder / f"{name}.other")

    return setup


def other_application_db(folder: Path) -> None:
    connection = sqlite3.connect(folder / "other.db")
    with connection:
        connection.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        connection.execute("INSERT INTO invoices (total) VALUES (12.5)")
    connection.close()


WORLD = "world.db"
W = ("--world", WORLD)
G = ("generate", "--preset", "tiny", *W)
PACK = (resources.files("orgforge.packs") / "data" / "insurance.yaml").read_text("utf-8")


def pack(old: str, new: str) -> Setup:
    """A copy of the insurance pack (as a user's pack ``p.yaml``) with one change."""
    assert old in PACK
    return write("p.yaml", PACK.replace("id: insurance", "id: mine").replace(old, new, 1))


JWT_CONFIG = (
    "salesforce:\n  auth: jwt\n  username: u@example.com\n  consumer_key: ck\n  key_file: k.pem\n"
)


def run_cases(cases, template_world: Path, tmp_path: Path, case_id: str) -> None:
    files, needs_world, args, fragment = cases[case_id]
    folder = tmp_path / "case"
    folder.mkdir()
    if needs_world:
        shutil.copy(template_world, folder / WORLD)
    if files is not None:
        files(folder)
    assert_refused(folder, args, fragment)


# -- tracebacks → answers ----------------------------------------------------------------------

TRACEBACKS = {
    "as-of-year-1": (None, False, (*G, "--as-of", "0001-01-01"), "as_of: 0001-01-01 is outside"),
    "as-of-year-9999": (None, False, (*G, "--as-of", "9999-12-31"), "is outside 1970-01-01"),
    "as-of-month-13-yaml": (
        write("orgforge.yaml", "as_of: 2026-13-01\n"),
        False,
        G,
        "orgforge.yaml:1: '2026-13-01' is not a valid date",
    ),
    "as-of-env": (
        write(".env", "ORGFORGE_AS_OF=9999-12-31\n"),
        False,
        G,
        "ORGFORGE_AS_OF: as_of: 9999-12-31 is outside",
    ),
    "world-path-too-long": (None, False, ("stats", "--world", "w" * 300), "the path is too long"),
    "config-path-too-long": (None, False, (*G, "--config", "c" * 300), "the path is too long"),
    "config-symlink-loop": (
        symlink_loop("orgforge.yaml"),
        False,
        G,
        "config file orgforge.yaml: it is a loop of symbolic links",
    ),
    "runs-dir-is-a-file": (
        write("runs", "not a folder"),
        True,
        ("activity", "reset", *W, "--runs-dir", "runs", "--yes"),
        "runs directory runs: runs is a file",
    ),
    "content-fill-runs-dir-is-a-file": (
        write("runs", "not a folder"),
        True,
        ("content", "fill", *W, "--text", "offline", "--runs-dir", "runs"),
        "runs directory runs: runs is a file",
    ),
    "base-url-garbage": (
        None,
        False,
        (*G, "--text", "llm", "--provider", "compatible", "--base-url", "ht!tp:://[x"),
        "content.base_url: 'ht!tp:://[x' is not a URL",
    ),
    "auth-magic": (None, True, ("load", *W, "--auth", "magic"), "flag --auth: salesforce.auth"),
    "jwt-key-garbage": (
        both(write("orgforge.yaml", JWT_CONFIG), write("k.pem", "garbage\n")),
        True,
        ("load", *W),
        "salesforce.key_file: k.pem: not a PEM private key",
    ),
    "load-from-garbage-manifest": (
        write("export/manifest.json", '{"objects": 7}'),
        True,
        ("load", *W, "--from", "export"),
        "export/manifest.json: format None is none of csv, json, parquet",
    ),
    "max-opps-beyond-64-bits": (
        None,
        True,
        ("activity", "plan", *W, "--max-opps", str(2**70)),
        f"--max-opps {2**70}",
    ),
    "where-number-beyond-64-bits": (
        None,
        True,
        ("activity", "plan", *W, "--where", f"Amount > {2**70}"),
        "is out of range",  # the SOQL parser's message, or ours for what reaches SQLite
    ),
    "pack-employees-1e20": (
        pack("  employees: [200, 40000]", "  employees: [200, 100000000000000000000]"),
        False,
        (*G, "--pack", "p.yaml"),
        "company.employees: range [200, 100000000000000000000] goes above 100,000,000",
    ),
    "deeply-nested-yaml": (
        write("orgforge.yaml", "generate:\n  packs: " + "[" * 3000 + "]" * 3000 + "\n"),
        False,
        G,
        "orgforge.yaml:2: nested more than 64 levels deep",
    ),
    "binary-dotenv": (write(".env", bytes(range(256))), False, G, ".env:2: not UTF-8 text"),
    "pack-unbalanced-brace": (
        pack("{last} Insurance Group", "{last Insurance Group"),
        False,
        (*G, "--pack", "p.yaml"),
        "company.patterns: pattern '{last Insurance Group' has an unbalanced brace",
    ),
    "sandbox-port-negative": (None, False, ("sandbox", "salesforce", "--port", "-1"), "--port -1"),
    "sandbox-port-too-big": (None, False, ("sandbox", "salesforce", "--port", "99999"), "99999"),
    "sandbox-db-directory": (
        write("sb/keep", ""),
        False,
        ("sandbox", "salesforce", "--db", "sb", "--port", "0"),
        "--db sb is a directory",
    ),
    "sandbox-db-random-bytes": (
        write("sb.db", os.urandom(4096)),
        False,
        ("sandbox", "salesforce", "--db", "sb.db", "--port", "0"),
        "--db sb.db is not a SQLite file",
    ),
}


@pytest.mark.parametrize("case_id", TRACEBACKS)
def test_what_used_to_be_a_traceback_is_a_two_line_answer(template_world, tmp_path, case_id):
    run_cases(TRACEBACKS, template_world, tmp_path, case_id)


# -- damage on bad input -----------------------------------------------------------------------


def altered_world(folder: Path) -> None:
    connection = sqlite3.connect(folder / WORLD)
    connection.execute('ALTER TABLE "rec_Account" DROP COLUMN "Name"')
    connection.close()


def other_application_db_in_wal_mode(folder: Path) -> None:
    connection = sqlite3.connect(folder / "other.db")
    connection.execute("PRAGMA journal_mode=WAL")
    with connection:
        connection.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    connection.close()


OTHER = ("--world", "other.db")
DAMAGE = {
    **{
        f"other-app-db-{'-'.join(args[:2])}": (
            other_application_db,
            False,
            args,
            "world other.db is a database of something else (tables: invoices)",
        )
        for args in (
            ("stats", *OTHER),
            ("world", "info", *OTHER),
            ("generate", "--preset", "tiny", *OTHER),
            ("export", *OTHER, "--out", "out"),
            ("activity", "plan", *OTHER),
            ("world", "reset", *OTHER, "--yes"),
        )
    },
    "other-app-db-in-wal-mode-generate": (
        other_application_db_in_wal_mode,
        False,
        ("generate", "--preset", "tiny", *OTHER),
        "world other.db is a database of something else (tables: invoices)",
    ),
    "altered-table-generate": (altered_world, True, G, "table rec_Account was altered"),
    "altered-table-activity-run": (
        altered_world,
        True,
        ("activity", "run", *W),
        "column 'Name' is missing",
    ),
    "sandbox-bad-faults-no-db": (
        None,
        False,
        ("sandbox", "salesforce", "--faults", "bogus=0.5", "--port", "0", "--db", "s/x.db"),
        "--faults: unknown fault 'bogus'",
    ),
    "sandbox-bad-host-no-db": (
        None,
        False,
        ("sandbox", "salesforce", "--host", "no such host!", "--db", "s/x.db"),
        "--host 'no such host!'",
    ),
}


@pytest.mark.parametrize("case_id", DAMAGE)
def test_bad_input_damages_nothing(template_world, tmp_path, case_id):
    run_cases(DAMAGE, template_world, tmp_path, case_id)


def test_another_applications_database_keeps_its_bytes_and_journal_mode(tmp_path):
    other_application_db(tmp_path)
    orgforge(tmp_path, "generate", "--preset", "tiny", *OTHER)
    connection = sqlite3.connect(tmp_path / "other.db")
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    tables = [r[0] for r in connection.execute("SELECT name FROM sqlite_master")]
    connection.close()
    assert tables == ["invoices"]


# -- hangs -------------------------------------------------------------------------------------

HANGS = {
    "fifo-world": (fifo("pipe.db"), False, ("stats", "--world", "pipe.db"), "is a FIFO"),
    "fifo-world-generate": (fifo("pipe.db"), False, (*G[:3], "--world", "pipe.db"), "is a FIFO"),
    "fifo-config": (fifo("orgforge.yaml"), False, G, "config file orgforge.yaml is a FIFO"),
    "fifo-dotenv": (fifo(".env"), False, G, ".env file .env is a FIFO"),
    "fifo-pack": (fifo("p.yaml"), False, ("packs", "validate", "p.yaml"), "pack file p.yaml is a"),
    "sandbox-garbage-jwt-key": (
        write("k.pem", "-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----\n"),
        False,
        ("sandbox", "salesforce", "--jwt-public-key", "k.pem", "--port", "0", "--db", "s.db"),
        "--jwt-public-key k.pem: not a PEM public key",
    ),
    "sandbox-negative-daily-limit": (
        None,
        False,
        ("sandbox", "salesforce", "--daily-api-requests", "-5", "--port", "0", "--db", "s.db"),
        "--daily-api-requests -5: must be 0 or more",
    ),
}


@pytest.mark.parametrize("case_id", HANGS)
def test_what_used_to_hang_answers_at_once(template_world, tmp_path, case_id):
    run_cases(HANGS, template_world, tmp_path, case_id)


# -- accepted nonsense -------------------------------------------------------------------------

FRAMEWORK = """id: mine
name: Mine
questions:
  - id: budget
    text: Is there budget?
    evidence:
      - field: Amount
        confidence: 0.5
        answer: "Budget of {Amount.currency}."
"""

NONSENSE = {
    "duplicate-key": (
        write("orgforge.yaml", "seed: 1\nseed: 2\n"),
        False,
        G,
        "orgforge.yaml:2: duplicate key 'seed' (first given on line 1)",
    ),
    "duplicate-section": (
        write(
            "orgforge.yaml", "generate:\n  accounts: 10\nas_of: 2026-11-23\ngenerate:\n  seed: 1\n"
        ),
        False,
        ("generate", *W),
        "orgforge.yaml:4: duplicate key 'generate' (first given on line 1)",
    ),
    "max-cost-infinite": (
        None,
        False,
        (*G, "--max-cost", "1e400"),
        "flag --max-cost: content.max_cost: Input should be a finite number",
    ),
    "load-api-soap": (
        None,
        True,
        ("load", *W, "--api", "soap"),
        "--api: salesforce.api: Input should be 'auto', 'rest' or 'bulk' (got 'soap')",
    ),
    "validate-api-foo": (None, True, ("validate", *W, "--api", "foo"), "(got 'foo')"),
    "unknown-skip-field": (
        write("orgforge.yaml", "salesforce:\n  skip_fields: [Account.Colour]\n"),
        True,
        ("validate", *W),
        "orgforge.yaml:2: salesforce.skip_fields: 'Account.Colour': orgforge sends no field",
    ),
    "cleanup-unknown-run": (
        None,
        True,
        ("cleanup", *W, "--run", "20991231T000000Z-load-abcdef"),
        "--run 20991231T000000Z-load-abcdef: no such run in world world.db",
    ),
    "cleanup-run-and-all": (
        None,
        True,
        ("cleanup", *W, "--run", "x", "--all"),
        "cleanup: give --run RUN_ID or --all, not both",
    ),
    "activity-reset-unknown-opp": (
        None,
        True,
        ("activity", "reset", *W, "--opp", "Opportunity/9999/1", "--yes"),
        "--opp Opportunity/9999/1: no such opportunity",
    ),
    "activity-max-opps-0": (None, True, ("activity", "run", *W, "--max-opps", "0"), "'--max-opps'"),
    "activity-max-opps-negative": (
        None,
        True,
        ("activity", "plan", *W, "--max-opps", "-5"),
        "'--max-opps': Input should be greater than or equal to 1",
    ),
    "activity-status-limit-negative": (
        None,
        True,
        ("activity", "status", *W, "--limit", "-1"),
        "--limit -1: must be between 1 and",
    ),
    "framework-bad-placeholder": (
        write("fw.yaml", FRAMEWORK),
        False,
        ("activity", "frameworks", "fw.yaml"),
        "questions.0.evidence.0: answer 'Budget of {Amount.currency}.': placeholder",
    ),
    "packs-validate-unbalanced-brace": (
        pack("{state} Health Alliance", "The {state Health Alliance"),
        False,
        ("packs", "validate", "p.yaml"),
        "company.patterns: pattern 'The {state Health Alliance' has an unbalanced brace",
    ),
}


@pytest.mark.parametrize("case_id", NONSENSE)
def test_nonsense_is_refused_not_accepted(template_world, tmp_path, case_id):
    run_cases(NONSENSE, template_world, tmp_path, case_id)


# -- read-only and locked worlds ---------------------------------------------------------------


@pytest.mark.parametrize("args", [G, ("world", "reset", *W, "--yes")], ids=["generate", "reset"])
def test_a_read_only_world_is_refused_for_writing(template_world, tmp_path, args):
    shutil.copy(template_world, tmp_path / WORLD)
    (tmp_path / WORLD).chmod(0o444)  # no write bit: read-only even for root
    assert_refused(tmp_path, args, "world world.db is read-only")
    done = orgforge(tmp_path, "stats", *W, "--json")  # reading it still works
    assert done.returncode == 0, done.stderr


HOLD = """
import sys
from orgforge.world.store import World
world = World(sys.argv[1], create=False, writer="generate")
print("held", flush=True)
sys.stdin.read()
world.close()
"""

HOLD_SQLITE = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("held", flush=True)
sys.stdin.read()
connection.execute("ROLLBACK")
"""


@pytest.mark.parametrize(
    ("holder", "fragment"),
    [
        (HOLD, "world world.db is being written by `orgforge generate` (pid "),
        (HOLD_SQLITE, "world world.db is locked by another program"),
    ],
    ids=["by-orgforge", "by-another-program"],
)
def test_a_world_held_by_another_process_is_refused_naming_it(
    template_world, tmp_path, holder, fragment
):
    shutil.copy(template_world, tmp_path / WORLD)
    with subprocess.Popen(
        [sys.executable, "-c", holder, WORLD],
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout.readline().strip() == "held"
            before = snapshot(tmp_path)
            done = orgforge(tmp_path, *G)
            assert done.returncode == 2, done.stderr
            assert fragment in done.stderr and "Traceback" not in done.stderr
            assert f"pid {process.pid}" in done.stderr or "another program" in fragment
            assert snapshot(tmp_path) == before
        finally:
            process.stdin.close()
            process.wait(timeout=30)
    assert not (tmp_path / f"{WORLD}.lock").exists()  # the holder took its lock file with it


def test_two_generates_at_once_leave_one_sound_world(tmp_path):
    args = [BIN, "generate", "--preset", "tiny", "--world", WORLD, "--as-of", "2026-11-23", "-q"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORGFORGE_")}
    processes = [
        subprocess.Popen(args, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in processes]
    for process in processes:
        process.stderr.close()
    codes = sorted(code for code, _ in results)
    assert codes in ([0, 0], [0, 2]), results  # both ran one after the other, or one refused
    for code, err in results:
        if code == 2:
            # the refused one names the holder (or, if it lost the race by microseconds, before
            # the holder wrote its name, says another orgforge process holds it)
            assert "world world.db is being written by" in err, err
    connection = sqlite3.connect(tmp_path / WORLD)
    assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert connection.execute('SELECT count(*) FROM "rec_Account"').fetchone()[0] == 10
    connection.close()
    assert not (tmp_path / f"{WORLD}.lock").exists()
