"""The shipped parse of the built-in YAML files (packs/data/_parsed.json) is exact and safe."""

from __future__ import annotations

import importlib.util
import json
from importlib import resources
from pathlib import Path

import yaml

from orgforge import packs

NAMES = ["_geo.yaml", "_surnames.yaml", "_team.yaml", *packs.builtin_pack_files()]


def _build_script():
    script = Path(__file__).resolve().parents[2] / "scripts" / "build_parsed_data.py"
    spec = importlib.util.spec_from_file_location("build_parsed_data", script)
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    return build


def _parsed_now(name: str):
    text = (resources.files("orgforge.packs") / "data" / name).read_text("utf-8")
    return yaml.safe_load(text)


def _same(files: dict) -> bool:
    """Parses equal *in key order* too: weighted tables draw in the order the YAML gives."""
    got = {name: json.dumps(data) for name, (_, data) in files.items()}
    return got == {name: json.dumps(_parsed_now(name)) for name in NAMES}


def test_shipped_parse_is_current():
    build = _build_script()
    shipped = (resources.files("orgforge.packs") / "data" / packs.PARSED_FILE).read_text("utf-8")
    assert shipped == build.render(build.parsed_data()), (
        "run scripts/build_parsed_data.py to refresh src/orgforge/packs/data/_parsed.json"
    )
    assert set(build.parsed_data()) == set(NAMES)


def _yaml_loads(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = yaml.load

    def counting(text, Loader):
        calls.append(text)
        return real(text, Loader=Loader)

    monkeypatch.setattr(packs.yaml, "load", counting)
    return calls


def test_unchanged_files_come_from_the_shipped_parse(monkeypatch):
    calls = _yaml_loads(monkeypatch)
    files = packs.builtin_yaml(NAMES)
    assert calls == []
    assert _same(files)


def test_a_file_whose_text_changed_is_parsed_again(monkeypatch):
    calls = _yaml_loads(monkeypatch)
    monkeypatch.setattr(packs, "text_digest", lambda text: "not the text it was built from")
    files = packs.builtin_yaml(NAMES)
    assert len(calls) == len(NAMES)
    assert _same(files)
