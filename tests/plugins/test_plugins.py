"""Plugins: an in-test plugin adds a target the library and CLI use; an installed package's
entry point is discovered by the `orgforge` command in a fresh process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import orgforge
from orgforge import plugins
from orgforge.errors import PluginError, UsageError
from orgforge.hookspecs import hookimpl
from orgforge.plugins import TargetPlugin


@dataclass
class FakeReport:
    target: str
    failed: int = 0
    tallies: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"target": self.target, "failed": self.failed}


class MemoryTarget:
    """A plugin object: its ``load`` keeps what it was asked to load."""

    def __init__(self, failed: int = 0) -> None:
        self.calls: list[dict] = []
        self.failed = failed

    def load(self, config, **options):
        self.calls.append({"world": config.world, "org": config.salesforce.org, **options})
        return FakeReport("memory://test", self.failed), None

    @hookimpl
    def register_targets(self, register):
        register(
            TargetPlugin(
                "memory",
                "Keeps loads in memory",
                load=self.load,
                flags={"org": "salesforce.org"},
            )
        )


def test_a_registered_plugin_adds_a_target_the_library_loads_into(tmp_path):
    memory = MemoryTarget()
    with plugins.registered(memory, "memory-plugin"):
        assert "memory" in plugins.targets()
        report, run_dir = orgforge.load(
            target="memory", world=str(tmp_path / "w.db"), org="acme", dry_run=True
        )
        listed = [r for r in orgforge.api.plugins() if r["name"] == "memory"]
    assert report.target == "memory://test" and run_dir is None
    (call,) = memory.calls
    assert call["world"] == str(tmp_path / "w.db") and call["org"] == "acme"
    assert call["dry_run"] is True
    assert listed == [
        {
            "kind": "target",
            "name": "memory",
            "description": "Keeps loads in memory",
            "plugin": "memory-plugin",
            "package": None,
            "version": None,
            "operations": ["load"],
        }
    ]
    assert "memory" not in plugins.targets()  # unregistered with the block


def test_the_cli_loads_into_a_plugin_target_and_applies_the_library_exit_rule(run_cli):
    memory = MemoryTarget(failed=3)
    with plugins.registered(memory, "memory-plugin"):
        code, out, err = run_cli("load", "--target", "memory", "--json")
    assert len(memory.calls) == 1
    assert json.loads(out)["target"] == "memory://test"
    assert code == 1 and "3 records were not loaded" in err


def test_unknown_targets_and_missing_operations_are_usage_errors():
    with pytest.raises(UsageError, match="unknown target 'nope'") as error:
        orgforge.load(target="nope")
    assert "files, salesforce" in error.value.hint
    with pytest.raises(UsageError, match="target 'files' can't load") as error:
        orgforge.load(target="files")
    assert "salesforce" in error.value.hint


def test_two_plugins_claiming_one_name_are_refused():
    class Impostor:
        @hookimpl
        def register_targets(self, register):
            register(TargetPlugin("salesforce", "not the real one"))

    with plugins.registered(Impostor(), "impostor"), pytest.raises(PluginError) as error:
        plugins.targets()
    assert "'salesforce' is registered twice" in str(error.value)
    assert "orgforge.default_plugins.targets" in str(error.value) and "impostor" in str(error.value)


PLUGIN = '''
"""A separate package: a target and a text engine, found through its entry point."""
import json
from pathlib import Path

from orgforge.hookspecs import hookimpl
from orgforge.plugins import EnginePlugin, TargetPlugin


class Report:
    target = "demo://file"
    failed = 0

    def as_dict(self):
        return {"target": self.target, "failed": self.failed}


def load(config, **options):
    Path(config.world + ".loaded.json").write_text(json.dumps({"dry_run": options["dry_run"]}))
    return Report(), None


class Shouting:
    name = "shout"

    def __init__(self, inner):
        self.inner = inner

    def fill(self, requests):
        return [text.upper() for text in self.inner.fill(requests)]

    def stats(self):
        return {}

    def close(self):
        pass


def shout(config, *, packs, world=None, progress=None):
    from orgforge.content.offline import OfflineEngine

    return Shouting(OfflineEngine(packs, config.seed))


@hookimpl
def register_targets(register):
    register(TargetPlugin("demo", "Writes a note next to the world", load=load))


@hookimpl
def register_content_engines(register):
    register(EnginePlugin("shout", "Offline text, upper case", shout))
'''


def _install_plugin(site: Path) -> None:
    """What `pip install orgforge-demo` leaves behind: a module and its dist-info."""
    (site / "orgforge_demo.py").write_text(PLUGIN, encoding="utf-8")
    info = site / "orgforge_demo-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: orgforge-demo\nVersion: 1.2.3\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text("[orgforge]\ndemo = orgforge_demo\n", encoding="utf-8")


def _orgforge(*args: str, cwd: Path, site: Path) -> subprocess.CompletedProcess:
    found = shutil.which("orgforge", path=str(Path(sys.executable).parent))
    assert found, "the orgforge entry point is not installed next to this Python"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORGFORGE_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    return subprocess.run(
        [found, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_an_installed_entry_point_plugin_is_discovered_by_the_command(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    _install_plugin(site)
    listed = _orgforge("plugins", "--json", cwd=tmp_path, site=site)
    assert listed.returncode == 0, listed.stderr
    rows = {(r["kind"], r["name"]): r for r in json.loads(listed.stdout)}
    demo = rows[("target", "demo")]
    assert (demo["plugin"], demo["package"], demo["version"]) == ("demo", "orgforge-demo", "1.2.3")
    assert rows[("content engine", "shout")]["package"] == "orgforge-demo"
    assert rows[("target", "salesforce")]["package"] == "orgforge"  # built-ins alongside

    made = _orgforge(
        "generate", "--preset", "tiny", "--text", "shout", "-q", cwd=tmp_path, site=site
    )
    assert made.returncode == 0, made.stderr
    loaded = _orgforge("load", "--target", "demo", "--json", cwd=tmp_path, site=site)
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout)["target"] == "demo://file"
    assert json.loads((tmp_path / "orgforge.db.loaded.json").read_text()) == {"dry_run": False}
    from orgforge.world import World

    with World(tmp_path / "orgforge.db", create=False) as world:
        texts = [d for (d,) in world.iter_rows("Account", ["Description"]) if d]
    assert texts and all(t == t.upper() for t in texts)
    assert any(c.isalpha() for c in texts[0])


def test_a_broken_plugin_is_one_line_and_exit_2(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    _install_plugin(site)
    (site / "orgforge_demo.py").write_text("raise ImportError('needs a newer orgforge')\n")
    done = _orgforge("plugins", cwd=tmp_path, site=site)
    assert done.returncode == 2
    assert "plugin 'demo' (orgforge_demo) can't be loaded" in done.stderr
    assert "Traceback" not in done.stderr


def test_activity_targets_come_from_the_registry(tmp_path):
    from orgforge import activity

    config = orgforge.api.resolve(None, world=str(tmp_path / "none.db"))
    with pytest.raises(UsageError, match="unknown target 'nope'"):
        activity.run(config, target="nope")
    with pytest.raises(UsageError, match="target 'files' can't prune activity") as error:
        activity.reset(config, target="files")
    assert "salesforce" in error.value.hint


def test_an_unregistered_text_engine_is_exit_2_naming_the_registered(run_cli):
    code, _out, err = run_cli("generate", "--preset", "tiny", "--text", "nope", "-q")
    assert code == 2
    assert "'nope' is not registered; registered: llm, offline" in err


def test_resolving_a_default_config_does_not_load_the_plugins(tmp_path):
    code = (
        "import sys\nfrom orgforge.config import load_config\nload_config(None)\n"
        "print('orgforge.plugins' in sys.modules, 'pluggy' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORGFORGE_")}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.stdout.split() == ["False", "False"], done.stderr
