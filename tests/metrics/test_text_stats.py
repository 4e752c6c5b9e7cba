"""Text that does not repeat: the offline engine's targets, measured as `stats --text` does.

Targets (issue 15), for every long text field of a 1,000-account world: no sentence in more than
1% of the field's values, and at least 80% of its sentences distinct. A 1,000-account world
generates in about a second, so the test measures the targets at the size they are stated for,
for three seeds, rather than a scaled-down stand-in.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import orgforge
from orgforge.metrics.text_stats import field_stats, long_text_fields, sentences
from tests.worlds import make_world


@pytest.fixture(scope="module", params=[42, 7])
def world(request, tmp_path_factory, stats_world):
    if request.param == 42:
        return stats_world  # the session's 1,000-account world
    folder = tmp_path_factory.mktemp(f"text-{request.param}")
    return make_world(folder, accounts=1000, seed=request.param)


def test_every_long_text_field_meets_the_targets(world):
    rows = orgforge.text_stats(world)
    fields = {f"{r['object']}.{r['field']}" for r in rows}
    expected = {f"{o}.{f}" for o, names in long_text_fields().items() for f in names}
    # every long text field the generator fills is measured
    assert {"CaseComment.CommentBody", "Task.Description", "Opportunity.NextStep"} <= fields
    assert fields <= expected
    for row in rows:
        name = f"{row['object']}.{row['field']}"
        assert row["values"] >= 300, name  # enough values that 1% is at least 3 of them
        assert row["top_sentence_values"] <= 0.01 * row["values"], (name, row["top_sentence"])
        assert row["distinct_sentences_pct"] >= 80.0, name


def test_sentences_leave_out_greetings_and_signatures():
    body = "Hi Dana,\nThanks for the time on Tuesday. Here is the plan for Acme.\nBest,\nSam Lee"
    assert sentences(body) == ["Thanks for the time on Tuesday.", "Here is the plan for Acme."]


def test_a_repeated_sentence_is_counted_once_per_value():
    stats = field_stats(["The same line here. Another one is here.", "The same line here.", ""])
    assert stats["values"] == 2 and stats["sentences"] == 3
    assert stats["top_sentence"] == "The same line here." and stats["top_sentence_values"] == 2
    assert stats["top_sentence_pct"] == 100.0 and stats["distinct_sentences_pct"] == 66.7


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    found = shutil.which("orgforge", path=str(Path(sys.executable).parent))
    assert found, "the orgforge entry point is not installed next to this Python"
    env = {"PATH": "/usr/bin:/bin", "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [found, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_installed_cli_prints_the_table_and_json(tmp_path):
    world = make_world(tmp_path, accounts=60)
    done = _run("stats", "--text", "--world", str(world), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "CaseComment.CommentBody" in done.stdout and "most repeated sentence" in done.stdout
    done = _run("stats", "--text", "--json", "--world", str(world), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = {f"{r['object']}.{r['field']}": r for r in json.loads(done.stdout)["fields"]}
    assert rows["Case.Description"]["values"] > 0
    assert 0 < rows["Case.Description"]["distinct_sentences_pct"] <= 100
    bad = _run("stats", "--text", "--world", str(tmp_path / "none.db"), cwd=tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith("error: ") and "\nhint: " in bad.stderr
