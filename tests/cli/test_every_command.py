"""Every command and subcommand, run as a user runs it: its main path, and one bad input.

The commands are discovered by walking the Typer app, so a new command can't be forgotten:
it fails here until CASES has an entry for it. Each case runs the installed `orgforge` entry
point in a fresh process in a scratch directory (an import or wiring bug can't hide behind
modules the test process already imported).

A bad input must exit 2 with exactly two lines on stderr, `error: …` then `hint: …`, no
traceback, and a hint that doesn't send the user back to the command that just failed.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import typer.main
import yaml
from tests.cli.conftest import clean_env, orgforge_bin, run_orgforge

from orgforge.checks import RULES
from orgforge.cli.main import build_app


def leaf_commands() -> list[str]:
    """Every runnable command path of the app ("generate", "activity plan", …)."""
    found: list[str] = []

    def walk(command, path: tuple[str, ...]) -> None:
        subcommands = getattr(command, "commands", None)
        if subcommands is None:
            found.append(" ".join(path))
            return
        for name, sub in subcommands.items():
            walk(sub, (*path, name))

    walk(typer.main.get_command(build_app()), ())
    return sorted(found)


@dataclass
class Case:
    """How to run one command: its main path, one bad input, and what each needs first.

    ``needs``: ``world`` (a copy of the tiny world as ./orgforge.db), ``sandbox`` (a Salesforce
    sandbox, its URL and token in SF_INSTANCE_URL/SF_ACCESS_TOKEN), ``loaded`` (the world loaded
    into it), ``llm`` (a local OpenAI-compatible server; ``{llm}`` in args is its /v1 URL),
    ``files``/``bad_files`` (name → content written first). ``shows``: a text the main path prints.
    """

    main: list[str]
    shows: str
    bad: list[str]
    says: str  # a text the error line contains
    needs: set[str] = field(default_factory=set)
    files: dict[str, str] = field(default_factory=dict)
    bad_files: dict[str, str] = field(default_factory=dict)


def _pack(**changes) -> str:
    from orgforge.packs import builtin_packs

    data = builtin_packs()["insurance"].model_dump()
    data.update(id="healthcare", label="Healthcare", industry="Healthcare")
    data.update(changes)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _framework(**changes) -> str:
    from orgforge.activity import builtin_frameworks

    data = builtin_frameworks()["bant"].model_dump(exclude_none=True)
    data.pop("source", None)
    data.update(id="my_bant", name="My BANT", **changes)
    return yaml.safe_dump(data, sort_keys=False)


MISSING = ["--world", "missing.db"]
POLICY = (Path(__file__).parents[2] / "src/orgforge/agents/data/policy.example.yaml").read_text()

CASES: dict[str, Case] = {
    "generate": Case(
        ["generate", "--preset", "tiny", "--as-of", "2026-11-23"],
        "508 records",
        ["generate", "--accounts", "0"],
        "--accounts",
    ),
    "export": Case(
        ["export", "--out", "out"],
        "in 20 csv files",
        ["export", "--out", "o", "--format", "xml"],
        "export.format",
        {"world"},
    ),
    "stats": Case(
        ["stats"], "Records (generate job)", ["stats", *MISSING], "missing.db", {"world"}
    ),
    "config show": Case(
        ["config", "show"], "seed: 42", ["config", "show", "-c", "nope.yaml"], "nope.yaml"
    ),
    "config validate": Case(
        ["config", "validate"],
        "config ok: 100 accounts, seed 42, industries field_service 25%",
        ["config", "validate"],
        "orgforge.yaml:3: generate.densty: unknown setting 'densty'",
        bad_files={"orgforge.yaml": "seed: 1\ngenerate:\n  densty: {}\n"},
    ),
    "config lookup": Case(
        ["config", "lookup", "seed"], "seed = 42", ["config", "lookup", "accounts"], "'accounts'"
    ),
    "packs list": Case(
        ["packs", "list"], "insurance", ["packs", "list", "--pack", "nope.yaml"], "nope.yaml"
    ),
    "packs show": Case(["packs", "show", "high_tech"], "High Tech", ["packs", "show", "x"], "'x'"),
    "packs validate": Case(
        ["packs", "validate", "health.yaml"],
        "health.yaml: ok",
        ["packs", "validate", "short.yaml"],
        "short.yaml:",
        files={"health.yaml": _pack()},
        bad_files={"short.yaml": _pack(titles=["CEO"])},
    ),
    "world info": Case(
        ["world", "info"], "recent runs", ["world", "info", *MISSING], "missing.db", {"world"}
    ),
    "world reset": Case(
        ["world", "reset", "--yes"],
        "removed from",
        ["world", "reset", "-y", *MISSING],
        "missing.db",
        {"world"},
    ),
    "activity plan": Case(
        ["activity", "plan", "--max-opps", "2"],
        "2 opportunities",
        ["activity", "plan", "--where", "StageName IN ('x'"],
        "--where",
        {"world"},
    ),
    "activity run": Case(
        ["activity", "run", "--max-opps", "2"],
        "2 opportunities",
        ["activity", "run", "--max-opps", "0"],
        "--max-opps",
        {"world"},
    ),
    "activity status": Case(
        ["activity", "status"],
        "recent activity runs",
        ["activity", "status", *MISSING],
        "missing.db",
        {"world"},
    ),
    "activity reset": Case(
        ["activity", "reset", "--yes"],
        "removed:",
        ["activity", "reset", "-y", *MISSING],
        "missing.db",
        {"world"},
    ),
    "activity smoke": Case(
        ["activity", "smoke"],
        "smoke ok",
        ["activity", "smoke", "--opp", "nope"],
        "--opp nope",
        {"world"},
    ),
    "activity frameworks": Case(
        ["activity", "frameworks", "mine.yaml"],
        "mine.yaml: ok",
        ["activity", "frameworks", "bad.yaml"],
        "bad.yaml",
        files={"mine.yaml": _framework()},
        bad_files={"bad.yaml": _framework(questions=[])},
    ),
    "content estimate": Case(
        ["content", "estimate", "--preset", "tiny"],
        "total",
        ["content", "estimate", "--preset", "huge"],
        "preset",
    ),
    "content fill": Case(
        ["content", "fill", "--provider", "compatible", "--base-url", "{llm}", "--model", "m1"],
        "records updated",
        ["content", "fill", "--kinds", "nope"],
        "'nope'",
        {"world", "llm"},
    ),
    "validate": Case(
        ["validate"],
        "a load would use",
        ["validate", "--target", "nowhere"],
        "'nowhere'",
        {"world", "sandbox"},
    ),
    "load": Case(
        ["load", "-q"], "", ["load", "--api", "sideways"], "sideways", {"world", "sandbox"}
    ),
    "cleanup": Case(
        ["cleanup", "--all"],
        "cleanup → salesforce",
        ["cleanup", "--target", "nowhere"],
        "'nowhere'",
        {"world", "sandbox", "loaded"},
    ),
    "smoke": Case(
        ["smoke"], "ok: org", ["smoke", "--auth", "nope"], "salesforce.auth", {"sandbox"}
    ),
    "agents policy show": Case(
        ["agents", "policy", "show"],
        "segments:",
        ["agents", "policy", "show", "--bogus"],
        "--bogus",
    ),
    "agents policy validate": Case(
        ["agents", "policy", "validate", "p.yaml"],
        "p.yaml: ok",
        ["agents", "policy", "validate", "bad.yaml"],
        "bad.yaml:2",
        files={"p.yaml": POLICY},
        bad_files={"bad.yaml": "version: x\nsegments: nope\n"},
    ),
    "agents run": Case(
        ["agents", "run", "--feed", "world", "--policy", "p.yaml", "--once"],
        "0 leads routed",
        ["agents", "run", "--feed", "kafka"],
        "'kafka'",
        {"world"},
        files={"p.yaml": POLICY},
    ),
    "agents replay": Case(
        ["agents", "replay", "fw", "--policy", "p.yaml"],
        "0 differ",
        ["agents", "replay", "nowhere"],
        "nowhere",
        files={"p.yaml": POLICY, "fw/.keep": ""},
    ),
    "metrics": Case(
        ["metrics", "--log-dir", "fw"],
        "leads routed",
        ["metrics", "--log-dir", "nowhere"],
        "nowhere",
        files={"fw/.keep": ""},
    ),
    "check": Case(
        ["check"],
        f"keep all {len(RULES)} rules",
        ["check", "--rule", "nope"],
        "unknown rule 'nope'",
        {"world"},
    ),
    "plugins": Case(["plugins"], "salesforce", ["plugins", "--bogus"], "--bogus"),
    "shift": Case(
        ["shift", "--days", "7"],
        "shifted",
        ["shift", "--days", "x"],
        "--days",
        {"world"},
    ),
    "jobs start": Case(
        ["jobs", "start", "--target", "salesforce", "--rate", "10"],
        "started job salesforce-1",
        ["jobs", "start", "--target", "asana", "--rate", "0"],
        "--rate",
        {"world"},
    ),
    "jobs list": Case(
        ["jobs", "list"],
        "salesforce-1",
        ["jobs", "list", "--state", "asleep"],
        "not a job state",
        {"world", "job"},
    ),
    "jobs show": Case(
        ["jobs", "show", "salesforce-1"],
        "salesforce",
        ["jobs", "show", "nope"],
        "no job 'nope'",
        {"world", "job"},
    ),
    "jobs pause": Case(
        ["jobs", "pause", "salesforce-1"],
        "is paused",
        ["jobs", "pause", "nope"],
        "no job",
        {"world", "job"},
    ),
    "jobs resume": Case(
        ["jobs", "resume", "salesforce-1"],
        "is active",
        ["jobs", "resume", "nope"],
        "no job",
        {"world", "job"},
    ),
    "jobs stop": Case(
        ["jobs", "stop", "salesforce-1"],
        "is stopped",
        ["jobs", "stop", "nope"],
        "no job",
        {"world", "job"},
    ),
    "jobs log": Case(
        ["jobs", "log", "salesforce-1"],
        "has no actions yet",
        ["jobs", "log", "nope"],
        "no job",
        {"world", "job"},
    ),
    "simulate run": Case(
        ["simulate", "run", "--dry-run", "--hours", "1"],
        "actions planned in the next 1 h (dry run)",
        ["simulate", "run", "--clock", "warp"],
        "not a clock",
        {"world", "job"},
    ),
    "asana seed": Case(
        ["asana", "seed", "--world", "a.db", "--tasks-per-project", "2"],
        "asana seed",
        ["asana", "seed", "--tasks-per-project", "-1"],
        "tasks",
        {"asana"},
    ),
    "asana cleanup": Case(
        ["asana", "cleanup", "--dry-run"],
        "asana cleanup",
        ["asana", "cleanup", "--world", "missing.db"],
        "missing.db",
        {"world", "asana"},
    ),
    "asana whoami": Case(
        ["asana", "whoami"], "Ada Park", ["asana", "whoami", "--bogus"], "--bogus", {"asana"}
    ),
    "sandbox asana": Case(
        ["sandbox", "asana", "--port", "0", "--db", "asana.db"],
        "API base",
        ["sandbox", "asana", "--port", "99999"],
        "99999",
        {"server"},
    ),
    "sandbox salesforce": Case(
        ["sandbox", "salesforce", "--port", "0", "--db", "org.db", "--token", "T0KEN"],
        "instance URL",
        ["sandbox", "salesforce", "--faults", "bogus=1"],
        "'bogus'",
        {"server"},
    ),
    "serve": Case(
        ["serve", "--port", "0"],
        "orgforge web app",
        ["serve", "--host", "0.0.0.0", "--port", "0"],
        "needs a token",
        {"world", "server"},
    ),
}


def test_every_command_has_a_case():
    missing = [name for name in leaf_commands() if name not in CASES]
    assert not missing, "\n".join(
        f"add a case for `orgforge {name}` to CASES in tests/cli/test_every_command.py"
        for name in missing
    )
    stale = sorted(set(CASES) - set(leaf_commands()))
    assert not stale, f"CASES names commands the app doesn't have: {stale}"


def _cases() -> list:
    """One param per discovered command; a command without a case fails with what to add."""
    return [
        pytest.param(name, CASES.get(name), id=name.replace(" ", "-")) for name in leaf_commands()
    ]


def _serve_and_stop(args: list[str], cwd: Path, env: dict[str, str], shows: str) -> None:
    """Start a server command, wait for its banner, call it over HTTP, stop it with Ctrl+C."""
    proc = subprocess.Popen(
        [orgforge_bin(), *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Press Ctrl+C" in line:
                break
        banner = "".join(lines)
        assert shows in banner, banner
        if "orgforge web app" in banner:  # orgforge serve
            url = re.search(r"open\s+(\S+?)/?\n", banner).group(1)
            token = re.search(r"token\s+(\S+)", banner).group(1)
            ops = httpx.get(f"{url}/api/ops", headers={"Authorization": f"Bearer {token}"})
            assert ops.status_code == 200, ops.text
        elif "API base" in banner:  # the Asana sandbox
            base = re.search(r"API base\s+(\S+)", banner).group(1)
            token = re.search(r"ORGFORGE_ASANA_TOKEN=(\S+)", banner).group(1)
            me = httpx.get(f"{base}/users/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200, me.text
        else:
            url = re.search(r"instance URL\s+(\S+)", banner).group(1)
            token = re.search(r"access token\s+(\S+)", banner).group(1)
            limits = httpx.get(
                f"{url}/services/data/v59.0/limits", headers={"Authorization": f"Bearer {token}"}
            )
            assert limits.status_code == 200, limits.text
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode in (0, 130), proc.returncode


@pytest.mark.parametrize(("name", "case"), _cases())
def test_main_path(name: str, case: Case, request):
    if case is None:
        pytest.fail(f"add a case for `orgforge {name}` to CASES in tests/cli/test_every_command.py")
    cwd, env, subs = _setup(request, case)
    args = [subs.get(a, a) for a in case.main]
    if "server" in case.needs:
        _serve_and_stop(args, cwd, env, case.shows)
        return
    done = run_orgforge(args, cwd, env)
    assert done.code == 0, str(done)
    assert "Traceback" not in done.err, str(done)
    assert case.shows in done.out, str(done)


@pytest.mark.parametrize(("name", "case"), _cases())
def test_bad_input(name: str, case: Case, request):
    if case is None:
        pytest.fail(f"add a case for `orgforge {name}` to CASES in tests/cli/test_every_command.py")
    cwd, env, subs = _setup(request, case, for_bad_input=True)
    done = run_orgforge([subs.get(a, a) for a in case.bad], cwd, env)
    assert done.code == 2, str(done)
    lines = [line for line in done.err.splitlines() if line.strip()]
    assert "Traceback" not in done.err, str(done)
    assert len(lines) == 2, str(done)
    assert lines[0].startswith("error: ") and case.says in lines[0], str(done)
    assert lines[1].startswith("hint: "), str(done)
    # A hint that sends the user back to the command that just failed helps no one.
    again = re.search(rf"`orgforge {re.escape(name)}(?! --help)[^`]*`", lines[1])
    assert not again, f"the hint points back at `orgforge {name}`: {lines[1]}"


def _setup(request, case: Case, for_bad_input: bool = False) -> tuple[Path, dict, dict]:
    tmp_path = request.getfixturevalue("tmp_path")
    cwd = tmp_path / "work"
    cwd.mkdir()
    env = clean_env()
    subs: dict[str, str] = {}
    for name, text in (case.bad_files if for_bad_input else case.files).items():
        (cwd / name).parent.mkdir(parents=True, exist_ok=True)
        (cwd / name).write_text(text)
    if "world" in case.needs:
        shutil.copy(request.getfixturevalue("tiny_world_file"), cwd / "orgforge.db")
    if "job" in case.needs:  # a Salesforce job in the world (what `jobs start` writes)
        from orgforge import simulate
        from orgforge.world import World

        with World(cwd / "orgforge.db") as world:
            simulate.create_job(world, {"target": "salesforce", "rate": 20})
    if for_bad_input:  # bad input fails before it reaches a server: none is started
        return cwd, env, subs
    if "sandbox" in case.needs:
        box = request.getfixturevalue("sandbox")
        env.update(SF_INSTANCE_URL=box.instance_url, SF_ACCESS_TOKEN=box.token)
    if "asana" in case.needs:
        from orgforge.sandbox.asana import SandboxConfig as AsanaConfig
        from orgforge.sandbox.asana import run_in_thread as asana_in_thread

        tmp = request.getfixturevalue("tmp_path")
        stack = request.getfixturevalue("_exit_stack")
        box = stack.enter_context(asana_in_thread(AsanaConfig(db_path=tmp / "asana.db", users=2)))
        env.update(box.env())
    if "llm" in case.needs:
        subs["{llm}"] = request.getfixturevalue("llm").url + "/v1"
    if "loaded" in case.needs:
        done = run_orgforge(["load", "-q"], cwd, env)
        assert done.code == 0, str(done)
    return cwd, env, subs


@pytest.fixture
def _exit_stack():
    """Servers a case starts for itself, stopped when the test ends."""
    import contextlib

    with contextlib.ExitStack() as stack:
        yield stack
