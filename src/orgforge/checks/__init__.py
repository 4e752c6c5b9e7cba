"""`orgforge check`: every rule a world's history must keep, run on a world or an export.

A rule is a small named function in :mod:`orgforge.checks.rules` that reads a
:class:`~orgforge.checks.snapshot.Snapshot` (the records, their history and as_of) and yields
:class:`Violation` s: the rule, the record key and one sentence a user can act on. Rules are
listed (and documented) in docs/generate.md, "What `orgforge check` verifies".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from orgforge.checks.rules import RULES, Violation
from orgforge.checks.snapshot import Snapshot, from_folder, from_world

__all__ = ["RULES", "CheckResult", "Snapshot", "Violation", "check", "check_snapshot"]


@dataclass
class CheckResult:
    source: str
    records: int
    rules: list[str]
    violations: list[Violation] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # rule → why it could not run

    @property
    def ok(self) -> bool:
        return not self.violations

    def by_rule(self) -> dict[str, int]:
        counts = {name: 0 for name in self.rules}
        for violation in self.violations:
            counts[violation.rule] += 1
        return counts

    def to_json(self) -> dict:
        return {
            "source": self.source,
            "records": self.records,
            "ok": self.ok,
            "rules": self.by_rule(),
            "skipped": self.skipped,
            "violations": [v.to_json() for v in self.violations],
        }


def check_snapshot(snapshot: Snapshot, rules: Iterable[str] | None = None) -> CheckResult:
    """Run ``rules`` (default: all) on a snapshot."""
    names = list(rules) if rules is not None else list(RULES)
    result = CheckResult(snapshot.source, snapshot.record_count, names)
    for name in names:
        rule = RULES[name]
        missing = [need for need in rule.needs if not snapshot.has(need)]
        if missing:
            result.skipped[name] = f"needs {', '.join(missing)}, which this source lacks"
            continue
        result.violations.extend(rule(snapshot))
    return result


def check(source: str | Path, rules: Iterable[str] | None = None) -> CheckResult:
    """Check a world (a file or SQLAlchemy URL) or an exported folder (JSON, Parquet or CSV,
    as ``orgforge export`` writes it)."""
    path = Path(str(source))
    if path.is_dir():
        snapshot = from_folder(path)
    else:
        snapshot = from_world(str(source))
    return check_snapshot(snapshot, rules)
