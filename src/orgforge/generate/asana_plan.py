"""The structure of an Asana seed: a project per team from a template, deterministic per seed.

Each team gets one project from the template its name picks (``asana_templates.yaml``), with
the template's sections, tasks spread over them (the earliest tasks done, the latest still in
the backlog), subtasks, tags, comments by the tasks' assignees and a status update by the
project's owner. Dates are relative to ``as_of``. The comments' text is a separate pass: the
plan lists a :class:`ContentRequest` per comment (kind ``asana.comment``) and the caller fills
them with the content engine, so switching the text engine never changes the structure.

Keys are hierarchical (see :mod:`orgforge.targets.asana.records`)::

    asana/tags/launch                 a tag (workspace-wide)
    asana/marketing                   the Marketing team's project
    asana/marketing/s2                its second section;  …/f1 a custom field setting
    asana/marketing/t03               its third task;  …/t03/st1 a subtask;  …/t03/c1 a comment
    asana/marketing/status1           its status update
"""

from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from orgforge.content.contract import ContentRequest
from orgforge.errors import ConfigError
from orgforge.targets.asana.records import AsanaRecord

TEMPLATES_FILE = Path(__file__).with_name("asana_templates.yaml")
TAG_COLORS = ("dark-green", "dark-blue", "dark-orange", "dark-purple", "dark-teal")


@dataclass(frozen=True)
class Member:
    gid: str
    name: str
    persona: str


@dataclass(frozen=True)
class Team:
    gid: str
    name: str
    members: tuple[Member, ...]


@dataclass
class SeedPlan:
    records: list[AsanaRecord] = field(default_factory=list)
    texts: list[tuple[int, str, ContentRequest]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for record in self.records:
            out[record.object] = out.get(record.object, 0) + 1
        return out


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "team"


@cache
def templates() -> dict[str, dict[str, Any]]:
    return yaml.safe_load(TEMPLATES_FILE.read_text(encoding="utf-8"))


def template_for(team_name: str) -> dict[str, Any]:
    known = templates()
    return known.get(slug(team_name), known["generic"])


def _workday(day: dt.date) -> dt.date:
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def task_state(section: str, index: int, last: int) -> str:
    """Where a task in section ``index`` (of ``last + 1``) stands: new | started | review |
    blocked | done (what its comments talk about; simulate uses it too)."""
    lowered = section.lower()
    if index == last:
        return "done"
    if "block" in lowered or "waiting" in lowered:
        return "blocked"
    if "review" in lowered:
        return "review"
    return "new" if index == 0 else "started"


def plan_seed(
    teams: list[Team],
    workspace: str,
    *,
    as_of: dt.date,
    seed: int,
    tasks_per_project: int = 12,
    comments_per_task: float = 1.5,
    custom_fields: list[dict[str, Any]] | None = None,
) -> SeedPlan:
    """The records (and comment text requests) that seed one project per team.

    ``custom_fields`` are the workspace's (as Asana lists them): each enum field with at least
    two enabled options (up to two fields) is added to every project, and every task gets one
    of its options. A free workspace answers those with 402 and the target skips them.
    """
    if not teams:
        raise ConfigError("asana seed: the workspace has no teams", "Create a team first.")
    plan = SeedPlan()
    tags_made: set[str] = set()
    enums = []
    for cf in custom_fields or []:
        options = [str(o["gid"]) for o in cf.get("enum_options") or [] if o.get("enabled", True)]
        if cf.get("resource_subtype") == "enum" and len(options) >= 2:
            enums.append((str(cf["gid"]), options))
    for team in teams:
        if not team.members:
            continue
        _plan_team(
            plan,
            team,
            workspace,
            (as_of, seed),
            (tasks_per_project, comments_per_task),
            tags_made,
            enums[:2],
        )
    return plan


def _plan_team(
    plan: SeedPlan,
    team: Team,
    workspace: str,
    when: tuple[dt.date, int],
    sizes: tuple[int, float],
    tags_made: set[str],
    enums: list[tuple[str, list[str]]],
) -> None:
    (as_of, seed), (tasks_per_project, comments_per_task) = when, sizes
    rng = random.Random(f"{seed}|asana|{team.name}")
    template = template_for(team.name)
    owner = team.members[0]
    base = f"asana/{slug(team.name)}"
    add = plan.records.append
    project_name = template["project"].format(team=team.name)

    tag_keys = []
    for i, tag in enumerate(template.get("tags", [])):
        key = f"asana/tags/{slug(tag)}"
        tag_keys.append(key)
        if key not in tags_made:
            tags_made.add(key)
            values = {"name": tag, "color": TAG_COLORS[i % len(TAG_COLORS)], "workspace": workspace}
            add(AsanaRecord(key, "tag", values, persona=owner.persona))

    names = list(template["tasks"])
    tasks = [
        names[i % len(names)] + (f" (part {i // len(names) + 1})" if i >= len(names) else "")
        for i in range(tasks_per_project)
    ]
    due_project = _workday(as_of + dt.timedelta(days=7 * max(2, len(tasks) // 3)))
    add(
        AsanaRecord(
            base,
            "project",
            {
                "name": project_name,
                "notes": template.get("notes", ""),
                "default_view": "list",
                "due_on": due_project.isoformat(),
                "team": team.gid,
            },
            persona=owner.persona,
        )
    )
    for f, (field_gid, _) in enumerate(enums, 1):
        values = {"custom_field": field_gid, "is_important": True}
        add(
            AsanaRecord(
                f"{base}/f{f}", "custom_field_setting", values, {"project": base}, owner.persona
            )
        )
    sections = template["sections"]
    for s, name in enumerate(sections, 1):
        add(
            AsanaRecord(f"{base}/s{s}", "section", {"name": name}, {"project": base}, owner.persona)
        )

    last = len(sections) - 1
    n = len(tasks)
    done_count = sum(1 for i in range(n) if last - (i * len(sections) // n) == last)
    people = list(team.members)
    for i, name in enumerate(tasks):
        section_index = last - (i * len(sections) // n)
        state = task_state(sections[section_index], section_index, last)
        assignee = people[(i + rng.randrange(len(people))) % len(people)]
        unassigned = state == "new" and rng.random() < 0.25
        due = _workday(as_of + dt.timedelta(days=3 * (i - done_count) + rng.randrange(3)))
        key = f"{base}/t{i + 1:02d}"
        values: dict[str, Any] = {
            "name": name,
            "due_on": due.isoformat(),
            "completed": state == "done",
        }
        if not unassigned:
            values["assignee"] = assignee.gid
        if enums:
            values["custom_fields"] = {g: opts[rng.randrange(len(opts))] for g, opts in enums}
        refs: dict[str, str | list[str]] = {
            "project": base,
            "section": f"{base}/s{section_index + 1}",
        }
        if tag_keys and rng.random() < 0.5:
            refs["tags"] = [tag_keys[rng.randrange(len(tag_keys))]]
        add(AsanaRecord(key, "task", values, refs, owner.persona))
        for j, sub in enumerate(template.get("subtasks", {}).get(name, []), 1):
            sub_values: dict[str, Any] = {"name": sub, "completed": state == "done"}
            if not unassigned:
                sub_values["assignee"] = assignee.gid
            add(
                AsanaRecord(
                    f"{key}/st{j}", "subtask", sub_values, {"parent": key}, assignee.persona
                )
            )
        comments = int(comments_per_task) + (rng.random() < comments_per_task % 1)
        for c in range(1, comments + 1):
            # Mostly the assignee talks about their task; sometimes a teammate chimes in.
            author = (
                assignee if (c == 1 or rng.random() < 0.6) else people[rng.randrange(len(people))]
            )
            comment_key = f"{key}/c{c}"
            add(AsanaRecord(comment_key, "story", {}, {"task": key}, author.persona))
            context = {
                "state": state,
                "task": name,
                "project": project_name,
                "assignee": author.name.split()[0],
                "due": due.strftime("%b %-d"),
            }
            plan.texts.append(
                (
                    len(plan.records) - 1,
                    "text",
                    ContentRequest("asana.comment", comment_key, context),
                )
            )
    status_type, status_text = template.get("status", ["on_track", "On track."])
    add(
        AsanaRecord(
            f"{base}/status1",
            "status_update",
            {"title": f"Status: {project_name}", "status_type": status_type, "text": status_text},
            {"parent": base},
            owner.persona,
        )
    )
