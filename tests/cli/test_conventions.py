"""One set of conventions for every command: global flags, --json, --dry-run, --yes, help, version.

The app is walked, so a command merged later is held to the same rules.
"""

from __future__ import annotations

import re
import shutil

import typer.main
import yaml
from tests.cli.conftest import run_orgforge

from orgforge import __version__
from orgforge.cli._options import add_global_flags
from orgforge.cli.main import PANELS, build_app

# Commands that print a table (they take --json), and commands that write or delete (--dry-run).
TABLES = {
    "generate",
    "stats",
    "load",
    "cleanup",
    "validate",
    "packs list",
    "world info",
    "activity plan",
    "activity run",
    "activity status",
    "activity frameworks",
    "content estimate",
    "content fill",
}
WRITES = {"generate", "export", "load", "cleanup", "world reset", "activity run", "activity reset"}
PROMPTS = {"world reset", "activity reset"}


def _commands() -> dict[str, object]:
    """Every leaf command of the app, as the entry point builds it (global flags included)."""
    root = typer.main.get_command(build_app())
    add_global_flags(root)
    found: dict[str, object] = {}

    def walk(command, path):
        subs = getattr(command, "commands", None)
        if subs is None:
            found[" ".join(path)] = command
            return
        for name, sub in subs.items():
            walk(sub, (*path, name))

    walk(root, ())
    return found


def _flags(command) -> set[str]:
    return {opt for p in command.params for opt in (*p.opts, *getattr(p, "secondary_opts", ()))}


def test_every_command_takes_quiet_and_debug_after_its_name():
    for name, command in _commands().items():
        assert {"--quiet", "-q", "--debug"} <= _flags(command), name


def test_a_flag_has_one_short_form_and_a_short_form_one_flag_everywhere():
    shorts_of: dict[str, set[str]] = {}
    longs_of: dict[str, set[str]] = {}
    for name, command in _commands().items():
        for param in command.params:
            opts = list(param.opts)
            longs = [o for o in opts if o.startswith("--")]
            shorts = [o for o in opts if not o.startswith("--")]
            for long in longs:
                shorts_of.setdefault(long, set()).update(shorts or ["(none)"])
            for short in shorts:
                longs_of.setdefault(short, set()).update(f"{long} ({name})" for long in longs)
    mixed = {long: s for long, s in shorts_of.items() if len(s) > 1}
    assert not mixed, f"flags with different short forms in different commands: {mixed}"
    clashes = {s: longs for s, longs in longs_of.items() if len({x.split()[0] for x in longs}) > 1}
    assert not clashes, f"short flags that mean different things: {clashes}"


def test_tables_take_json_writes_take_dry_run_prompts_take_yes():
    commands = _commands()
    for name in TABLES:
        assert "--json" in _flags(commands[name]), f"`orgforge {name}` prints a table: add --json"
    for name in WRITES:
        assert "--dry-run" in _flags(commands[name]), f"`orgforge {name}` writes: add --dry-run"
    for name in PROMPTS:
        assert {"--yes", "-y"} <= _flags(commands[name]), f"`orgforge {name}` asks: add --yes/-y"


def test_version(tmp_path):
    for flag in ("--version", "-V"):
        done = run_orgforge([flag], tmp_path)
        assert done.code == 0 and done.out.strip() == f"orgforge {__version__}", str(done)


def test_help_groups_commands_by_job_in_lines_a_hook_can_parse(tmp_path):
    done = run_orgforge(["--help"], tmp_path)
    assert done.code == 0, str(done)
    panels = re.findall(r"╭─ (.+?) ─", done.out)
    assert panels[:1] == ["Options"] and panels[1:] == [
        "Make data",
        "Put it somewhere",
        "Keep it alive",
        "Watch it",
    ]
    # `│ name  description` lines: what a before-stop hook reads to find the command groups
    listed = re.findall(r"^│ ([a-z][\w-]*)\s{2,}\S", done.out, flags=re.M)
    app = build_app()
    names = {c.name or c.callback.__name__ for c in app.registered_commands}
    names |= {g.name for g in app.registered_groups}
    assert names <= set(listed), names - set(listed)
    unplaced = sorted(n for n in names if n not in PANELS)
    assert not unplaced, f"give these a help panel in PANELS (cli/main.py): {unplaced}"
    for group in ("activity", "sandbox"):
        sub = run_orgforge([group, "--help"], tmp_path)
        assert sub.code == 0 and re.search(r"^│ [a-z]", sub.out, flags=re.M), str(sub)


def test_shell_completion_installs_the_typer_way(tmp_path):
    done = run_orgforge(["--help"], tmp_path)
    assert "--install-completion" in done.out and "--show-completion" in done.out
    if shutil.which("bash"):
        script = run_orgforge(["--show-completion", "bash"], tmp_path)
        assert script.code == 0 and "_ORGFORGE_COMPLETE" in script.out, str(script)


def test_quiet_means_nothing_on_stdout_and_json_means_json(tmp_path):
    quiet = run_orgforge(["generate", "--preset", "tiny", "-q"], tmp_path)
    assert quiet.code == 0 and quiet.out == "", str(quiet)
    done = run_orgforge(["world", "info", "--json"], tmp_path)
    assert done.code == 0, str(done)
    assert yaml.safe_load(done.out)["counts"]["Account"] == 10


def test_dry_runs_write_nothing(tmp_path):
    preview = run_orgforge(["generate", "--preset", "tiny", "--dry-run"], tmp_path)
    assert preview.code == 0 and "nothing was written" in preview.out, str(preview)
    assert not (tmp_path / "orgforge.db").exists() and not (tmp_path / "runs").exists()
    assert run_orgforge(["generate", "--preset", "tiny", "-q"], tmp_path).code == 0
    again = run_orgforge(["generate", "--preset", "tiny", "--dry-run", "--json"], tmp_path)
    assert yaml.safe_load(again.out)["up_to_date"] is True, str(again)
    export = run_orgforge(["export", "--out", "out", "--dry-run"], tmp_path)
    assert export.code == 0 and "would write 666 records in 20" in export.out, str(export)
    assert not (tmp_path / "out").exists()
    written = run_orgforge(["export", "--out", "out"], tmp_path)
    assert "wrote 666 records in 20" in written.out, str(written)  # what the preview said
    plan = run_orgforge(["activity", "run", "--max-opps", "2", "--dry-run"], tmp_path)
    assert plan.code == 0 and "Nothing written (dry run)" in plan.out, str(plan)
    status = run_orgforge(["activity", "status", "--json"], tmp_path)
    assert yaml.safe_load(status.out)["held"]["Event"] == 0, str(status)


def test_a_bad_input_hint_never_sends_the_user_back_to_the_failed_command(tmp_path):
    from orgforge.cli._console import hint_elsewhere

    shared = "Check the spelling; `orgforge config show` lists every setting."
    assert hint_elsewhere(shared, "generate") == shared
    assert hint_elsewhere(shared, "config show") == "Check the spelling."
    only = "Check the pack against `orgforge packs validate FILE`."
    assert (
        hint_elsewhere(only, "packs validate")
        == "`orgforge packs validate --help` lists what it accepts."
    )
    (tmp_path / "orgforge.yaml").write_text("generate:\n  densty: 1\n")
    done = run_orgforge(["config", "show"], tmp_path)
    assert done.code == 2 and "`orgforge config show`" not in done.err, str(done)
    assert "generate.densty" in done.err
