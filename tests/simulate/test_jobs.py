"""The jobs table: what the CLI and the web app write, and what a runner obeys."""

from __future__ import annotations

import pytest

from orgforge import simulate
from orgforge.errors import ConfigError
from orgforge.world import World


def test_jobs_are_created_listed_paused_resumed_and_stopped(tmp_path):
    with World(tmp_path / "w.db") as world:
        first = simulate.create_job(world, {"target": "asana", "rate": 12, "duration": "2d"})
        second = simulate.create_job(
            world, {"target": "salesforce", "name": "pipeline", "behaviours": ["lead.arrive"]}
        )
        third = simulate.create_job(world, {"target": "asana"})
        assert (first.id, second.id, third.id) == ("asana-1", "salesforce-1", "asana-2")
        assert first.duration_s == 2 * 86400 and first.state == "active" and first.seq == 0
        assert second.name == "pipeline" and second.behaviours == ["lead.arrive"]
        assert simulate.pause_job(world, first.id).state == "paused"
        assert simulate.pause_job(world, first.id).state == "paused"  # twice is fine
        assert [j.id for j in simulate.list_jobs(world, "paused")] == [first.id]
        assert simulate.resume_job(world, first.id).state == "active"
        assert simulate.stop_job(world, first.id).state == "stopped"
        with pytest.raises(ConfigError, match="is stopped: it can't resume"):
            simulate.resume_job(world, first.id)
    with World(tmp_path / "w.db") as again:  # another handle (another process) sees the same
        assert [j.state for j in simulate.list_jobs(again)] == ["stopped", "active", "active"]
        assert simulate.get_job(again, "salesforce-1").as_dict()["name"] == "pipeline"


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"target": "jira"}, "target"),
        ({"target": "asana", "rate": 0}, "rate"),
        ({"target": "asana", "duration": "soon"}, "not a duration"),
        ({"target": "asana", "clock": "warp"}, "not a clock"),
        ({"target": "asana", "behaviours": ["lead.arrive"]}, "asana has no such behaviour"),
        ({"target": "asana", "schedule": {"timezone": "Mars/Olympus"}}, "unknown time zone"),
        ({"target": "asana", "colour": "red"}, "colour"),
    ],
)
def test_a_bad_job_is_refused_before_anything_is_written(tmp_path, values, says):
    with World(tmp_path / "w.db") as world:
        with pytest.raises(ConfigError, match=says) as caught:
            simulate.create_job(world, values)
        assert caught.value.hint
        assert simulate.list_jobs(world) == []


def test_an_unknown_job_names_the_known_ones(tmp_path):
    with World(tmp_path / "w.db") as world:
        simulate.create_job(world, {"target": "asana"})
        with pytest.raises(ConfigError, match="no job 'asana-9'") as caught:
            simulate.get_job(world, "asana-9")
        assert "asana-1" in caught.value.hint
        with pytest.raises(ConfigError, match="not a job state"):
            simulate.list_jobs(world, "sleeping")
