"""The unmodified official `asana` SDK (v5) against the sandbox: what a real client does."""

from __future__ import annotations

import json

import asana
import pytest
from asana.rest import ApiException

from orgforge.sandbox.asana import SandboxConfig, run_in_thread

from .conftest import sdk_client, stats, team_gid


def _project(client: asana.ApiClient, sb, name: str = "Launch plan") -> dict:
    return asana.ProjectsApi(client).create_project_for_team(
        {"data": {"name": name, "notes": "Q3 launch"}}, team_gid(sb), {}
    )


def _batch_create(client: asana.ApiClient, project: str, names: list[str]) -> list[dict]:
    batch = asana.BatchAPIApi(client)
    out: list[dict] = []
    for start in range(0, len(names), 10):
        actions = [
            {
                "relative_path": "/tasks",
                "method": "post",
                "data": {"name": n, "projects": [project]},
            }
            for n in names[start : start + 10]
        ]
        out += list(batch.create_batch_request({"data": {"actions": actions}}, {}))
    return out


def test_me_workspaces_teams_and_users(sb, client):
    me = asana.UsersApi(client).get_user("me", {})
    assert me["gid"] == sb.people[0].gid and me["name"] == sb.people[0].name
    assert isinstance(me["gid"], str) and me["resource_type"] == "user"
    workspaces = list(asana.WorkspacesApi(client).get_workspaces({}))
    assert [w["gid"] for w in workspaces] == [sb.workspace_gid]
    teams = list(asana.TeamsApi(client).get_teams_for_workspace(sb.workspace_gid, {}))
    assert [t["name"] for t in teams] == ["Marketing", "Sales", "Customer Success"]
    assert set(teams[0]) == {"gid", "resource_type", "name"}  # compact by default
    members = list(asana.UsersApi(client).get_users_for_team(team_gid(sb), {}))
    assert sb.people[0].gid in {u["gid"] for u in members}


def test_auto_pagination_over_250_tasks(sb, client):
    project = _project(client, sb)["gid"]
    created = _batch_create(client, project, [f"Task {i:03d}" for i in range(250)])
    assert [r["status_code"] for r in created] == [201] * 250
    before = stats(sb)["requests"]["by_family"].get("GET /projects/{project}/tasks", 0)

    tasks = list(
        asana.TasksApi(client).get_tasks_for_project(project, {"opt_fields": "name,completed"})
    )

    assert [t["name"] for t in tasks] == [f"Task {i:03d}" for i in range(250)]
    assert set(tasks[0]) == {"gid", "name", "completed"}
    pages = stats(sb)["requests"]["by_family"]["GET /projects/{project}/tasks"] - before
    assert pages == 3  # the SDK asks for limit=100 and follows next_page.offset
    first_120 = list(asana.TasksApi(client).get_tasks_for_project(project, {}, item_limit=120))
    assert len(first_120) == 120 and first_120[-1]["name"] == "Task 119"
    page = asana.TasksApi(client).get_tasks_for_project(project, {"limit": 100}, full_payload=True)
    assert len(page["data"]) == 100
    assert set(page["next_page"]) == {"offset", "path", "uri"}
    assert page["next_page"]["uri"].startswith(sb.base_url + "/projects/")


def test_events_iterator_handles_the_412_and_reads_events_since_a_sync_token(sb, client):
    project = _project(client, sb)["gid"]
    events = asana.EventsApi(client)
    assert list(events.get_events(project, {})) == []  # 412 → sync token → nothing new yet
    assert list(events.get_events(project, {"sync": "stale-token"})) == []  # same: expired
    assert stats(sb)["requests"]["by_status"]["412"] == 2

    with pytest.raises(ApiException) as first:
        events.get_events(project, {}, full_payload=True)
    assert first.value.status == 412
    token = json.loads(first.value.body)["sync"]  # at the top level, where the SDK reads it

    task = asana.TasksApi(client).create_task(
        {"data": {"name": "Draft the brief", "projects": [project]}}, {}
    )
    asana.StoriesApi(client).create_story_for_task({"data": {"text": "On it."}}, task["gid"], {})
    asana.TasksApi(client).update_task({"data": {"completed": True}}, task["gid"], {})

    seen = list(events.get_events(project, {"sync": token}))

    kinds = [(e["resource"]["resource_type"], e["action"]) for e in seen]
    assert kinds == [("task", "added"), ("story", "added"), ("task", "changed")]
    assert seen[1]["parent"]["gid"] == task["gid"]
    assert seen[1]["parent"]["resource_type"] == "task"
    assert seen[2]["change"]["field"] == "completed" and seen[2]["change"]["new_value"] is True
    assert seen[0]["user"]["gid"] == sb.people[0].gid


def test_sdk_retries_a_429_after_retry_after(tmp_path):
    # Seed 1 makes the first request draw a 429 (Retry-After: 1) and the second a success:
    # the SDK's urllib3 retry waits the Retry-After and the call succeeds on its own.
    config = SandboxConfig(
        db_path=tmp_path / "a.db", users=1, faults="429=0.5,retry_after=1", seed=1
    )
    with run_in_thread(config) as sb:
        me = asana.UsersApi(sdk_client(sb)).get_user("me", {})
        assert me["name"] == sb.people[0].name
        figures = stats(sb)["requests"]
        assert figures["by_status"] == {"200": 1, "429": 1}


def test_sdk_does_not_retry_a_post_429_and_shows_retry_after(tmp_path):
    config = SandboxConfig(db_path=tmp_path / "a.db", users=1, rate_limit=2, rate_window=60)
    with run_in_thread(config) as sb:
        client = sdk_client(sb)
        asana.UsersApi(client).get_user("me", {})
        asana.UsersApi(client).get_user("me", {})
        with pytest.raises(ApiException) as refused:
            asana.TagsApi(client).create_tag({"data": {"workspace": sb.workspace_gid}}, {})
        assert refused.value.status == 429
        assert 1 <= int(refused.value.headers["Retry-After"]) <= 60
        message = json.loads(refused.value.body)["errors"][0]["message"]
        assert message.startswith("You've made too many requests and hit a rate limit.")


def test_batch_runs_actions_in_order_and_reports_each(sb, client):
    project = _project(client, sb)["gid"]
    batch = asana.BatchAPIApi(client)
    actions = [
        {"relative_path": "/tasks", "method": "post", "data": {"name": "A", "projects": [project]}},
        {"relative_path": "/tasks/999", "method": "get"},
        {"relative_path": f"/projects/{project}", "method": "get", "options": {"fields": ["name"]}},
        {"relative_path": "/tasks", "method": "post", "data": {"name": "no home"}},
    ]
    results = list(batch.create_batch_request({"data": {"actions": actions}}, {}))
    assert [r["status_code"] for r in results] == [201, 404, 200, 400]
    assert results[0]["body"]["data"]["name"] == "A"
    assert results[2]["body"]["data"] == {"gid": project, "name": "Launch plan"}
    assert "Missing input" in results[3]["body"]["errors"][0]["message"]
    too_many = [{"relative_path": "/users/me", "method": "get"}] * 11
    with pytest.raises(ApiException) as refused:
        list(batch.create_batch_request({"data": {"actions": too_many}}, {}))
    assert refused.value.status == 400


def test_sections_subtasks_stories_status_updates_and_tags(sb, client):
    project = _project(client, sb)["gid"]
    sections = asana.SectionsApi(client)
    todo = sections.create_section_for_project(project, {"body": {"data": {"name": "To do"}}})
    done = sections.create_section_for_project(project, {"body": {"data": {"name": "Done"}}})
    tasks = asana.TasksApi(client)
    ben = sb.people[1]
    task = tasks.create_task(
        {
            "data": {
                "name": "Write copy",
                "assignee": ben.gid,
                "due_on": "2026-12-24",
                "memberships": [{"project": project, "section": todo["gid"]}],
            }
        },
        {},
    )
    sub = tasks.create_subtask_for_task({"data": {"name": "Headline"}}, task["gid"], {})
    sections.add_task_for_section(done["gid"], {"body": {"data": {"task": task["gid"]}}})
    tag = asana.TagsApi(client).create_tag_for_workspace(
        {"data": {"name": "launch", "color": "dark-green"}}, sb.workspace_gid, {}
    )
    tasks.add_tag_for_task({"data": {"tag": tag["gid"]}}, task["gid"])
    # Ben comments with his own token: the story's author is the token's user.
    comment = asana.StoriesApi(sdk_client(sb, ben.token)).create_story_for_task(
        {"data": {"text": "First draft is in the doc."}}, task["gid"], {}
    )
    status = asana.StatusUpdatesApi(client).create_status_for_object(
        {"data": {"parent": project, "status_type": "at_risk", "text": "Copy is late."}}, {}
    )

    full = tasks.get_task(task["gid"], {})
    assert full["assignee"]["gid"] == ben.gid and full["due_on"] == "2026-12-24"
    assert full["memberships"][0]["section"]["name"] == "Done"
    assert full["num_subtasks"] == 1 and full["tags"][0]["name"] == "launch"
    assert tasks.get_task(sub["gid"], {"opt_fields": "parent.name"})["parent"]["name"] == (
        "Write copy"
    )
    assert comment["created_by"]["gid"] == ben.gid and comment["type"] == "comment"
    assert status["resource_subtype"] == "project_status_update"
    project_now = asana.ProjectsApi(client).get_project(
        project, {"opt_fields": "current_status_update.status_type"}
    )
    assert project_now["current_status_update"]["status_type"] == "at_risk"
    stories = list(asana.StoriesApi(client).get_stories_for_task(task["gid"], {}))
    assert "First draft is in the doc." in [s.get("text") for s in stories]

    # Deletes: the objects are gone (404) afterwards.
    asana.StoriesApi(sdk_client(sb, ben.token)).delete_story(comment["gid"])
    tasks.delete_task(task["gid"])
    for fetch in (
        lambda: tasks.get_task(task["gid"], {}),
        lambda: tasks.get_task(sub["gid"], {}),
    ):
        with pytest.raises(ApiException) as gone:
            fetch()
        assert gone.value.status == 404


def test_custom_fields_on_premium_and_402_without(tmp_path):
    with run_in_thread(SandboxConfig(db_path=tmp_path / "p.db", users=1)) as sb:
        client = sdk_client(sb)
        field = asana.CustomFieldsApi(client).create_custom_field(
            {
                "data": {
                    "workspace": sb.workspace_gid,
                    "name": "Priority",
                    "resource_subtype": "enum",
                    "enum_options": [{"name": "Low"}, {"name": "High"}],
                }
            },
            {},
        )
        project = _project(client, sb)["gid"]
        asana.ProjectsApi(client).add_custom_field_setting_for_project(
            {"data": {"custom_field": field["gid"]}}, project, {}
        )
        high = field["enum_options"][1]["gid"]
        task = asana.TasksApi(client).create_task(
            {"data": {"name": "x", "projects": [project], "custom_fields": {field["gid"]: high}}},
            {},
        )
        value = task["custom_fields"][0]
        assert value["enum_value"]["name"] == "High" and value["display_value"] == "High"
    with run_in_thread(SandboxConfig(db_path=tmp_path / "f.db", users=1, premium=False)) as sb:
        client = sdk_client(sb)
        with pytest.raises(ApiException) as refused:
            asana.CustomFieldsApi(client).create_custom_field(
                {"data": {"workspace": sb.workspace_gid, "name": "P", "resource_subtype": "text"}},
                {},
            )
        assert refused.value.status == 402
        with pytest.raises(ApiException) as search:
            list(asana.TasksApi(client).search_tasks_for_workspace(sb.workspace_gid, {}))
        assert search.value.status == 402
