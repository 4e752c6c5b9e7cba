"""Opportunity activity: meetings, emails and sales scorecards on opportunities.

    from orgforge.activity import plan, run, status, reset, smoke, frameworks
    report = plan(config, where="StageName IN ('Proposal/Price Quote')", max_opps=10)
    result = run(config, max_opps=100)

The same functions back ``orgforge activity plan|run|status|reset|smoke|frameworks``; see
docs/activity.md.
"""

from __future__ import annotations

from orgforge.activity.frameworks import Framework, builtin_frameworks, load_frameworks
from orgforge.activity.job import (
    ActivityResult,
    PlanReport,
    anchor_as_of,
    plan,
    reset,
    run,
    smoke,
    status,
)


def frameworks(files: list[str] | tuple[str, ...] = ()) -> dict[str, Framework]:
    """Built-in frameworks plus the given files, validated (FrameworkError names file:line)."""
    from orgforge.activity.subjects import load_subject_types

    return load_frameworks(list(files), load_subject_types())


__all__ = [
    "ActivityResult",
    "Framework",
    "PlanReport",
    "anchor_as_of",
    "builtin_frameworks",
    "frameworks",
    "load_frameworks",
    "plan",
    "reset",
    "run",
    "smoke",
    "status",
]
