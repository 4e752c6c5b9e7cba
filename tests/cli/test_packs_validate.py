"""`orgforge packs validate` lists every problem of every file, not just the first."""

from __future__ import annotations

import yaml
from tests.cli.conftest import run_orgforge

from orgforge.packs import builtin_packs


def test_every_problem_of_every_file_is_listed_with_file_line_and_field(tmp_path):
    good = builtin_packs()["insurance"].model_dump()
    (tmp_path / "good.yaml").write_text(yaml.safe_dump(good, sort_keys=False))
    bad = {**good, "titles": good["titles"][:2], "bogus": 1}
    bad["products"] = [{**good["products"][0], "min": 10**9}, *good["products"][1:]]
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad, sort_keys=False))
    (tmp_path / "broken.yaml").write_text("id: x\ntitles: [a\n")

    done = run_orgforge(
        ["packs", "validate", "good.yaml", "bad.yaml", "broken.yaml", "gone.yaml"], tmp_path
    )
    assert done.code == 2, str(done)
    assert "good.yaml: ok" in done.out
    lines = done.err.splitlines()
    text = yaml.safe_dump(bad, sort_keys=False).splitlines()
    titles_line = text.index("titles:") + 1
    assert f"bad.yaml:{titles_line}: titles: List should have at least 20 items" in done.err
    assert any(line.startswith("bad.yaml:") and "products.0" in line for line in lines)
    assert any(
        line.startswith("bad.yaml:") and "bogus: unknown key 'bogus'" in line for line in lines
    )
    assert any(line.startswith("broken.yaml:") and "malformed YAML" in line for line in lines)
    assert "pack file gone.yaml not found" in done.err
    assert lines[-2] == "error: 5 problems in 3 of 4 pack files (listed above)"
    assert lines[-1].startswith("hint:") and "packs validate" not in lines[-1]
    assert "Traceback" not in done.err


def test_a_segment_naming_what_the_pack_lacks_is_one_line_with_its_place(tmp_path):
    good = builtin_packs()["insurance"].model_dump()
    bad = {**good, "segments": [dict(s) for s in good["segments"]]}
    bad["segments"][1]["titles"] = [*bad["segments"][1]["titles"], "Chief Nap Officer"]
    (tmp_path / "seg.yaml").write_text(yaml.safe_dump(bad, sort_keys=False))
    done = run_orgforge(["packs", "validate", "seg.yaml"], tmp_path)
    assert done.code == 2, str(done)
    assert "segment 'property_casualty': titles entry 'Chief Nap Officer' is not in the pack's" in (
        done.err
    )
    assert "Traceback" not in done.err and done.err.splitlines()[-1].startswith("hint:")
