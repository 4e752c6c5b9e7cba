"""The runner against the Asana sandbox, through the official SDK, on simulated time."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from orgforge import simulate
from orgforge.clock import SimulatedClock
from orgforge.simulate.scheduler import Persona
from orgforge.targets.asana.ops import cleanup
from orgforge.world import World
from tests.simulate.conftest import config_for

MONDAY = "2026-11-30T06:00:00Z"
CREATES = {"project", "section", "task", "subtask", "story", "status_update"}


def _run(tmp_path, sb, world, **options):
    clock = SimulatedClock(options.pop("start", MONDAY))
    return simulate.run(
        world,
        mode="real",
        base=clock,
        config=config_for(tmp_path, sb),
        environ=sb.env(),
        follow=False,
        **options,
    )


def _job(world, **values):
    spec = {"target": "asana", "rate": 40, "duration": "2d", "seed": 5}
    spec["schedule"] = {"timezone": "America/New_York"}
    return simulate.create_job(world, {**spec, **values})


def _made_by_orgforge(sb) -> Counter:
    store = sb.state.store
    out: Counter = Counter()
    for kind in ("project", "section", "task", "status_update"):
        out[kind] = len(store.of_type(kind))
    out["story"] = sum(1 for s in store.of_type("story") if s["type"] == "comment")
    return out


def test_a_job_keeps_a_team_busy_in_working_hours_and_cleanup_removes_it(tmp_path, sb):
    with World(tmp_path / "orgforge.db") as world:
        job = _job(world, rate=20)
        report = _run(tmp_path, sb, world)
        log = simulate.job_log(world, job.id, limit=10_000)
        assert simulate.get_job(world, job.id).state == "done"

    done = [a for a in log if a["status"] == "ok"]
    # 2 working days × 8 h × 20 actions/h, within 4 Poisson standard deviations
    assert abs(len(log) - 320) < 4 * 320**0.5, len(log)
    assert report.actions["failed"] == 0 and report.target["asana"]["rate_limited"] == 0
    behaviours = Counter(a["behaviour"] for a in done)
    for name in ("project.create", "task.create", "task.comment", "task.move", "task.complete"):
        assert behaviours[f"asana.{name}"] > 0, behaviours
    # each action happened (on the runner's clock) inside its persona's working hours
    personas = {a["persona"] for a in log}
    for name in personas:
        persona = Persona(name, "America/New_York")
        mine = [a for a in log if a["persona"] == name]
        inside = sum(persona.at_work(dt.datetime.fromisoformat(a["started_at"])) for a in mine)
        assert inside / len(mine) >= 0.95, (name, inside, len(mine))
    # what the log says was created is what the workspace holds (tasks include subtasks)
    created = Counter(
        a["behaviour"].split(".")[1] for a in done if a["behaviour"].endswith("create")
    )
    created["story"] = behaviours["asana.task.comment"]
    created["status_update"] = behaviours["asana.project.status"]
    held = _made_by_orgforge(sb)
    assert held["task"] == created["task"] + created["subtask"]
    for kind in ("project", "section", "story", "status_update"):
        assert held[kind] == created[kind], kind
    # comments are written by the task's assignee, with their own token
    store = sb.state.store
    comments = [s for s in store.of_type("story") if s["type"] == "comment"]
    for story in comments:
        task = store.get(story["target"])
        assert task["assignee"] == story["created_by"], story
    completed = [t for t in store.of_type("task") if t.get("completed")]
    assert completed

    report, _ = cleanup(config_for(tmp_path, sb), environ=sb.env())
    assert not report.failed
    assert _made_by_orgforge(sb)["task"] == 0 and _made_by_orgforge(sb)["project"] == 0


def test_the_same_seed_gives_the_same_actions(tmp_path, sb):
    logs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        with World(tmp_path / name / "orgforge.db") as world:
            job = _job(world, duration="2h", seed=9)
            _run(tmp_path / name, sb, world, start="2026-11-30T14:00:00Z")
            logs.append(
                [
                    (a["seq"], a["planned_at"], a["behaviour"], a["persona"], a["summary"])
                    for a in simulate.job_log(world, job.id, limit=1000)
                ]
            )
    assert logs[0] == logs[1] and len(logs[0]) > 40


def test_a_job_paused_elsewhere_stops_acting(tmp_path, sb):
    with World(tmp_path / "orgforge.db") as world:
        job = _job(world)

        def pause_after_ten(_job, action):
            if action["seq"] == 9:
                with World(tmp_path / "orgforge.db") as other:  # as `orgforge jobs pause` does
                    simulate.pause_job(other, job.id)

        report = _run(tmp_path, sb, world, on_action=pause_after_ten)
        assert report.actions["ok"] + report.actions["skipped"] == 10
        assert simulate.get_job(world, job.id).state == "paused"
        simulate.resume_job(world, job.id)
        again = _run(tmp_path, sb, world, start="2026-11-30T16:00:00Z", max_actions=5)
        assert sum(again.actions.values()) == 5
        assert [a["seq"] for a in simulate.job_log(world, job.id)][-6:] == list(range(9, 15))


def test_a_revoked_token_pauses_the_job_with_a_clear_message(tmp_path, sb):
    env = sb.env()
    for person in sb.people:
        env[person.env_name] = "2/0/revoked:token"
    with World(tmp_path / "orgforge.db") as world:
        job = _job(world)
        clock = SimulatedClock(MONDAY)
        report = simulate.run(
            world, base=clock, config=config_for(tmp_path, sb), environ=env, follow=False
        )
        state = simulate.get_job(world, job.id)
    assert state.state == "paused" and "401" in state.message
    assert report.paused[job.id] == state.message
    assert report.actions["failed"] == 1


class _CrashAfter:
    """The Asana driver, but the process 'dies' right after the Nth action was sent."""

    def __init__(self, driver, n):
        self.driver, self.n, self.sent = driver, n, 0

    def __getattr__(self, name):
        return getattr(self.driver, name)

    def perform(self, calls, objects, persona):
        created = self.driver.perform(calls, objects, persona)
        self.sent += 1
        if self.sent == self.n:
            raise SystemExit("killed between the request and its outcome")
        return created


def test_a_runner_killed_mid_action_resends_it_once_on_restart(tmp_path, sb):
    from orgforge.simulate.drivers import AsanaDriver

    config = config_for(tmp_path, sb)
    with World(tmp_path / "orgforge.db") as world:
        job = _job(world, duration="1d", rate=20)
        crashing = _CrashAfter(AsanaDriver(config, sb.env(), SimulatedClock(MONDAY)), 40)
        with pytest.raises(SystemExit):
            _run(tmp_path, sb, world, drivers={"asana": crashing})
        intent = simulate.job_log(world, job.id, status="intent")
        assert [a["seq"] for a in intent] == [39]
        report = _run(tmp_path, sb, world)
        assert report.resent == 1
        log = simulate.job_log(world, job.id, limit=10_000)
        assert simulate.get_job(world, job.id).state == "done"
    assert [a["status"] for a in log if a["seq"] == 39] == ["ok"]
    assert [a["attempts"] for a in log if a["seq"] == 39] == [2]
    created = sum(
        1
        for a in log
        if a["status"] == "ok" and a["behaviour"].split(".")[-1] in ("create", "comment", "status")
    )
    held = sum(_made_by_orgforge(sb).values())
    assert held - created in (0, 1)  # at most the one action sent twice
