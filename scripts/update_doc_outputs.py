"""Bring the shown outputs of README.md and docs/*.md up to what the commands print now.

tests/cli/test_docs.py runs every example and fails on a shown line the command no longer
prints. After a change that moves figures (counts, requests, coverage…) this rewrites those
lines: each stale line is replaced by the most similar line the command printed. Lines holding
an ellipsis (``…``) and lines that still match are kept; a line with no close match (similarity
under 0.5) is reported, not touched. Read the diff before committing it: a changed figure may
be a bug, not news.

    .venv/bin/python scripts/update_doc_outputs.py README.md activity.md   # or no names: all
"""

from __future__ import annotations

import difflib
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.cli.test_docs import DOCS, DocRunner, _pattern, doc_steps, normalise  # noqa: E402

from orgforge.content.testing import FakeLLM  # noqa: E402


class _Capturing(DocRunner):
    """A doc runner that keeps, per stale step, what the command printed."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.printed: list[tuple] = []

    def orgforge(self, step, args, extra_env, expected_code) -> None:
        before = len(self.stale)
        super().orgforge(step, args, extra_env, expected_code)
        if len(self.stale) > before:
            self.printed.append((step, self.stale[-1].split("--- it printed:\n", 1)[1]))


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.strip(), b.strip()).ratio()


def update(doc: Path) -> int:
    with FakeLLM() as fake, tempfile.TemporaryDirectory() as tmp:
        runner = _Capturing(doc, Path(tmp), fake.url)
        try:
            runner.run(doc_steps(doc))
        finally:
            runner.close()
    lines = doc.read_text(encoding="utf-8").split("\n")
    changed = 0
    for step, printed in runner.printed:
        actual = [x.rstrip() for x in runner.as_in_the_doc(printed).splitlines() if x.strip()]
        comparable = [normalise(x) for x in actual]
        at = step.line  # the shown lines follow the command, in order
        for expected in step.expected:
            while at < len(lines) and lines[at] != expected:
                at += 1
            if at == len(lines):
                break
            want = normalise(expected)
            # a line the runner ignores (normalise gives None) is never stale
            still = want is None or any(
                a is not None and _pattern(want).fullmatch(a) for a in comparable
            )
            if want is not None and "…" not in expected and not still:
                best = max(actual, key=lambda a: _similarity(expected, a))
                if _similarity(expected, best) < 0.5:
                    print(f"{doc.name}:{at + 1}: no close line for: {expected}")
                else:
                    print(f"{doc.name}:{at + 1}:\n  - {expected}\n  + {best}")
                    lines[at] = best
                    changed += 1
            at += 1
    doc.write_text("\n".join(lines), encoding="utf-8")
    return changed


def main(names: list[str]) -> None:
    docs = [d for d in DOCS if not names or d.name in names]
    for doc in docs:
        print(f"{doc.name}: {update(doc)} lines changed")


if __name__ == "__main__":
    main(sys.argv[1:])
