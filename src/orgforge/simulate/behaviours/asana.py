"""Asana behaviours: projects from the team's template, sections, tasks and subtasks created,
assigned, commented on by their assignees, moved, completed, and project status updates.

Keys are the sync table's (``asana/sim/<job>/p12``, ``…/p12/s1``, ``…/p12/t40``,
``…/p12/t40/c55``): hierarchical like the seed's, so ``orgforge asana cleanup`` deletes what a
job made, children with their parents.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from orgforge.generate.asana_plan import slug, task_state, template_for
from orgforge.simulate.behaviours import Action, Context
from orgforge.simulate.objects import Obj

MAX_OPEN_PROJECTS = 2  # per job, unless the job's options say `max_projects`
MAX_OPEN_TASKS = 20  # per project, unless the job's options say `max_open_tasks`: a team
# finishes work as well as starting it
GENERIC_SUBTASKS = ("Collect inputs", "First draft", "Review with the team", "Share the result")


def _workdays_after(day: dt.date, count: int) -> dt.date:
    while count > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            count -= 1
    return day


def _base(ctx: Context) -> str:
    return f"asana/sim/{ctx.job_id}"


def _template(ctx: Context) -> dict[str, Any]:
    return template_for(ctx.facts["team_name"])


def _member(ctx: Context, gid: str | None) -> str | None:
    return next((p.name for p in ctx.personas if p.gid == gid), None)


def _mine_first(ctx: Context, tasks: list[Obj]) -> list[Obj]:
    mine = [t for t in tasks if t.state.get("assignee") == ctx.persona.gid]
    return mine or tasks


def project_create(ctx: Context) -> Action | None:
    open_projects = ctx.objects.of_kind("project")
    if len(open_projects) >= int(ctx.options.get("max_projects", MAX_OPEN_PROJECTS)):
        return None
    template = _template(ctx)
    name = template["project"].format(team=ctx.facts["team_name"])
    taken = {p.state.get("name") for p in ctx.objects.of_kind("project", open_only=False)}
    if name in taken:
        name = f"{name} ({ctx.when:%b %-d})"
    key = f"{_base(ctx)}/{ctx.key('p')}"
    due = _workdays_after(ctx.when.date(), 30)
    values = {
        "name": name,
        "notes": template.get("notes", ""),
        "default_view": "list",
        "due_on": due.isoformat(),
        "team": ctx.facts["team"],
    }
    state = {"name": name, "template": slug(ctx.facts["team_name"]), "sections": 0, "tasks": 0}
    return Action(
        "project.create",
        f"{ctx.persona.name} created project {name!r}",
        key,
        [{"op": "create", "object": "project", "key": key, "values": values, "refs": {}}],
        [{"key": key, "kind": "project", "persona": ctx.persona.name, "state": state}],
    )


def section_create(ctx: Context) -> Action | None:
    sections = _template(ctx)["sections"]
    todo = [p for p in ctx.objects.of_kind("project") if p.state["sections"] < len(sections)]
    if not todo:
        return None
    project = todo[0]  # a project's sections come first, in order
    index = project.state["sections"]
    key = f"{project.key}/s{index + 1}"
    name = sections[index]
    return Action(
        "section.create",
        f"{ctx.persona.name} added section {name!r} to {project.state['name']!r}",
        key,
        [
            {
                "op": "create",
                "object": "section",
                "key": key,
                "values": {"name": name},
                "refs": {"project": project.key},
            }
        ],
        [
            {"key": key, "kind": "section", "parent": project.key, "state": {"index": index}},
            {"key": project.key, "state": {"sections": index + 1}},
        ],
    )


def task_create(ctx: Context) -> Action | None:
    cap = int(ctx.options.get("max_open_tasks", MAX_OPEN_TASKS))
    open_tasks = Counter(t.parent for t in ctx.objects.of_kind("task"))
    projects = [
        p
        for p in ctx.objects.of_kind("project")
        if p.state["sections"] >= 2 and open_tasks[p.key] < cap
    ]
    if not projects:
        return None
    project = projects[ctx.rng.randrange(len(projects))]
    names = list(_template(ctx)["tasks"])
    n = project.state["tasks"]
    name = names[n % len(names)] + (f" (part {n // len(names) + 1})" if n >= len(names) else "")
    assignee = (
        None if ctx.rng.random() < 0.25 else ctx.personas[ctx.rng.randrange(len(ctx.personas))]
    )
    due = _workdays_after(ctx.when.date(), 3 + ctx.rng.randrange(12))
    key = f"{project.key}/{ctx.key('t')}"
    values: dict[str, Any] = {"name": name, "due_on": due.isoformat()}
    if assignee is not None and assignee.gid:
        values["assignee"] = assignee.gid
    return Action(
        "task.create",
        f"{ctx.persona.name} created task {name!r}"
        + (f" for {assignee.name}" if assignee is not None else ""),
        key,
        [
            {
                "op": "create",
                "object": "task",
                "key": key,
                "values": values,
                "refs": {"project": project.key, "section": f"{project.key}/s1"},
            }
        ],
        [
            {
                "key": key,
                "kind": "task",
                "parent": project.key,
                "persona": assignee.name if assignee else None,
                "state": {
                    "name": name,
                    "section": 1,
                    "assignee": values.get("assignee"),
                    "due": due.isoformat(),
                    "subtasks": 0,
                },
            },
            {"key": project.key, "state": {"tasks": n + 1}},
        ],
    )


def subtask_create(ctx: Context) -> Action | None:
    tasks = ctx.objects.of_kind("task")
    if not tasks:
        return None
    task = tasks[ctx.rng.randrange(len(tasks))]
    names = _template(ctx).get("subtasks", {}).get(task.state["name"]) or GENERIC_SUBTASKS
    done = task.state.get("subtasks", 0)
    if done >= len(names):
        return None
    key = f"{task.key}/{ctx.key('st')}"
    values: dict[str, Any] = {"name": names[done]}
    if task.state.get("assignee"):
        values["assignee"] = task.state["assignee"]
    return Action(
        "subtask.create",
        f"{ctx.persona.name} broke {task.state['name']!r} down: {names[done]!r}",
        key,
        [
            {
                "op": "create",
                "object": "subtask",
                "key": key,
                "values": values,
                "refs": {"parent": task.key},
            }
        ],
        [
            {"key": key, "kind": "subtask", "parent": task.key, "open": False, "state": values},
            {"key": task.key, "state": {"subtasks": done + 1}},
        ],
    )


def task_assign(ctx: Context) -> Action | None:
    tasks = [t for t in ctx.objects.of_kind("task") if not t.state.get("assignee")]
    if not tasks or not ctx.persona.gid:
        return None
    task = tasks[ctx.rng.randrange(len(tasks))]
    return Action(
        "task.assign",
        f"{ctx.persona.name} took {task.state['name']!r}",
        task.key,
        [
            {
                "op": "update",
                "object": "task",
                "ref": task.key,
                "values": {"assignee": ctx.persona.gid},
            }
        ],
        [{"key": task.key, "persona": ctx.persona.name, "state": {"assignee": ctx.persona.gid}}],
    )


def task_comment(ctx: Context) -> Action | None:
    tasks = [t for t in ctx.objects.of_kind("task") if t.state.get("assignee") == ctx.persona.gid]
    if not tasks:
        return None  # comments come from the task's assignee
    task = tasks[ctx.rng.randrange(len(tasks))]
    project = ctx.objects.get(task.parent or "")
    sections = _template(ctx)["sections"]
    index = task.state["section"] - 1
    key = f"{task.key}/{ctx.key('c')}"
    text = ctx.text(
        "asana.comment",
        key,
        {
            "state": task_state(sections[index], index, len(sections) - 1),
            "task": task.state["name"],
            "project": project.state["name"] if project else "",
            "assignee": ctx.persona.name.split()[0],
            "due": dt.date.fromisoformat(task.state["due"]).strftime("%b %-d"),
        },
    )
    return Action(
        "task.comment",
        f"{ctx.persona.name} commented on {task.state['name']!r}",
        key,
        [
            {
                "op": "create",
                "object": "story",
                "key": key,
                "values": {"text": text},
                "refs": {"task": task.key},
            }
        ],
        [{"key": key, "kind": "story", "parent": task.key, "open": False, "state": {}}],
    )


def task_move(ctx: Context) -> Action | None:
    last = len(_template(ctx)["sections"])
    tasks = [t for t in ctx.objects.of_kind("task") if t.state["section"] < last - 1]
    if not tasks:
        return None
    tasks = _mine_first(ctx, tasks)
    task = tasks[ctx.rng.randrange(len(tasks))]
    project = ctx.objects.get(task.parent or "")
    target = task.state["section"] + 1
    if project is None or project.state["sections"] < target:
        return None
    name = _template(ctx)["sections"][target - 1]
    return Action(
        "task.move",
        f"{ctx.persona.name} moved {task.state['name']!r} to {name}",
        task.key,
        [{"op": "add_to_section", "ref": task.key, "section": f"{project.key}/s{target}"}],
        [{"key": task.key, "state": {"section": target}}],
    )


def task_complete(ctx: Context) -> Action | None:
    tasks = [t for t in ctx.objects.of_kind("task") if t.state["section"] >= 2]
    if not tasks:
        return None
    tasks = _mine_first(ctx, tasks)
    task = tasks[ctx.rng.randrange(len(tasks))]
    project = ctx.objects.get(task.parent or "")
    last = len(_template(ctx)["sections"])
    calls: list[dict[str, Any]] = [
        {"op": "update", "object": "task", "ref": task.key, "values": {"completed": True}}
    ]
    if project is not None and project.state["sections"] >= last:
        calls.append({"op": "add_to_section", "ref": task.key, "section": f"{project.key}/s{last}"})
    return Action(
        "task.complete",
        f"{ctx.persona.name} completed {task.state['name']!r}",
        task.key,
        calls,
        [{"key": task.key, "open": False, "state": {"section": last, "completed": True}}],
    )


def project_status(ctx: Context) -> Action | None:
    projects = [p for p in ctx.objects.of_kind("project") if p.state["tasks"] >= 3]
    week = dt.timedelta(days=5)
    projects = [
        p
        for p in projects
        if "status_at" not in p.state
        or ctx.when - dt.datetime.fromisoformat(p.state["status_at"]) >= week
    ]
    if not projects:
        return None
    project = projects[ctx.rng.randrange(len(projects))]
    tasks = ctx.objects.children(project.key, "task")
    done = sum(1 for t in tasks if not t.open)
    late = sum(
        1 for t in tasks if t.open and dt.date.fromisoformat(t.state["due"]) < ctx.when.date()
    )
    status_type = "on_track" if late <= len(tasks) // 5 else "at_risk"
    template_type, template_text = _template(ctx).get("status", ["on_track", "On track."])
    text = f"{done} of {len(tasks)} tasks done, {late} past their due date. " + (
        template_text
        if status_type == template_type
        else "A few tasks slipped; replanning this week."
    )
    key = f"{project.key}/{ctx.key('status')}"
    values = {"title": f"Status: {project.state['name']}", "status_type": status_type, "text": text}
    return Action(
        "project.status",
        f"{ctx.persona.name} posted a status update ({status_type}) on {project.state['name']!r}",
        key,
        [
            {
                "op": "create",
                "object": "status_update",
                "key": key,
                "values": values,
                "refs": {"parent": project.key},
            }
        ],
        [
            {
                "key": key,
                "kind": "status_update",
                "parent": project.key,
                "open": False,
                "state": {},
            },
            {"key": project.key, "state": {"status_at": ctx.when.isoformat()}},
        ],
    )


DECIDE = {
    "project.create": project_create,
    "section.create": section_create,
    "task.create": task_create,
    "subtask.create": subtask_create,
    "task.assign": task_assign,
    "task.comment": task_comment,
    "task.move": task_move,
    "task.complete": task_complete,
    "project.status": project_status,
}
