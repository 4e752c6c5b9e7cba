"""Start-up: what a fresh interpreter loads for `import orgforge…`, a quiet generate and an export.

The package and the CLI load their heavy parts on first use (see orgforge/__init__.py and
cli/_console.py); these tests pin that down, and that the public names still work.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import orgforge


def _modules_after(code: str, cwd) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``code``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORGFORGE_")}
    report = "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code + report],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        check=True,
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_importing_the_config_or_errors_does_not_load_the_generator(tmp_path):
    loaded = _modules_after("import orgforge.config, orgforge.errors", tmp_path)
    assert "orgforge.config" in loaded
    assert not {"orgforge.api", "orgforge.generate.pipeline", "sqlalchemy"} & loaded


def test_the_library_api_loads_the_generator_only_for_generate(tmp_path):
    loaded = _modules_after("import orgforge\norgforge.stats, orgforge.export", tmp_path)
    assert "orgforge.api" in loaded and "orgforge.generate.pipeline" not in loaded


def test_a_quiet_generate_does_not_load_rich(tmp_path):
    run = (
        "import sys\n"
        "from orgforge.cli.main import build_app\n"
        "from orgforge.cli import _console\n"
        "args = ['-q', 'generate', '--preset', 'tiny', '--world', 'w.db', '--runs-dir', 'runs']\n"
        "assert _console.run_app(build_app(args), args) == 0"
    )
    loaded = _modules_after(run, tmp_path)
    assert "orgforge.generate.pipeline" in loaded and (tmp_path / "w.db").exists()
    assert not {m for m in loaded if m == "rich" or m.startswith("rich.")}


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_exporting_a_sqlite_world_does_not_load_sqlalchemy_or_the_config(prd_world, tmp_path, fmt):
    run = f"import orgforge\norgforge.export({str(prd_world)!r}, 'out', {fmt!r})"
    loaded = _modules_after(run, tmp_path)
    assert (tmp_path / "out" / f"Account.{fmt}").stat().st_size
    assert "orgforge.targets.files" in loaded
    assert not {m.split(".")[0] for m in loaded} & {"sqlalchemy", "pydantic"}
    assert "orgforge.config" not in loaded


def test_public_names_resolve_to_the_api():
    from orgforge import api, config, errors

    for name in ("cleanup", "export", "generate", "load", "reset_world", "resolve", "smoke"):
        assert getattr(orgforge, name) is getattr(api, name)
    assert orgforge.stats is api.stats and orgforge.validate is api.validate
    assert orgforge.Config is config.Config and orgforge.load_config is config.load_config
    assert orgforge.OrgforgeError is errors.OrgforgeError
    assert set(orgforge.__all__) <= set(dir(orgforge))
    assert orgforge.__version__


def test_generate_stays_the_function_when_its_subpackage_is_imported_first(tmp_path):
    code = (
        "import orgforge.generate.plan\n"
        "import orgforge, orgforge.api\n"
        "assert orgforge.generate is orgforge.api.generate, orgforge.generate\n"
        "from orgforge import generate\n"
        "assert generate is orgforge.api.generate\n"
        "import orgforge.generate.names\n"  # a later submodule import doesn't rebind it either
        "assert orgforge.generate is orgforge.api.generate"
    )
    assert "orgforge.generate.names" in _modules_after(code, tmp_path)


def test_an_unknown_name_is_an_attribute_error():
    try:
        orgforge.no_such_thing  # noqa: B018
    except AttributeError as error:
        assert "no_such_thing" in str(error)
    else:
        raise AssertionError("orgforge.no_such_thing resolved")


def test_content_commands_import_what_they_use_in_a_fresh_process(tmp_path):
    """`content estimate`/`fill` once crashed: `orgforge.api` was never imported in a fresh
    process (in-process tests had imported it already, so they passed)."""
    from tests.cli.conftest import run_orgforge

    done = run_orgforge(["content", "estimate", "--preset", "tiny", "--json"], tmp_path)
    assert done.code == 0 and "Traceback" not in done.err, str(done)
    assert json.loads(done.out)["accounts"] == 10
