"""Salesforce jobs through the Salesforce target against its sandbox, on simulated time."""

from __future__ import annotations

import datetime as dt
import shutil
from collections import Counter

from orgforge import simulate
from orgforge.clock import SimulatedClock
from orgforge.simulate.personas import world_personas
from orgforge.targets.salesforce import ops
from orgforge.world import World
from tests.targets.conftest import sf_config


def test_a_salesforce_job_works_leads_pipeline_and_cases_in_the_users_hours(
    tiny_world_file, tmp_path, sandbox
):
    world_file = tmp_path / "w.db"
    shutil.copy(tiny_world_file, world_file)
    cfg, env = sf_config(sandbox, world_file, tmp_path)
    ops.load(cfg, env=env)
    with World(world_file) as world:
        job = simulate.create_job(world, {"target": "salesforce", "rate": 20, "duration": "1d"})
        report = simulate.run(
            world, base=SimulatedClock("2026-11-30T06:00:00Z"), config=cfg, environ=env
        )
        log = simulate.job_log(world, job.id, limit=10_000)
        personas = world_personas(world, {})
    assert report.actions["failed"] == 0, [a["error"] for a in log if a["error"]][:3]
    done = Counter(a["behaviour"].removeprefix("salesforce.") for a in log if a["status"] == "ok")
    for name in ("lead.arrive", "lead.work", "opportunity.advance", "activity.email", "case.open"):
        assert done[name] > 0, done
    # every action in its User's working hours, in the User's own time zone
    for name in {a["persona"] for a in log}:
        mine = [a for a in log if a["persona"] == name]
        at = [dt.datetime.fromisoformat(a["started_at"]) for a in mine]
        inside = sum(personas[name].at_work(t) for t in at)
        assert inside / len(mine) >= 0.95, (name, inside, len(mine))
    # the org holds what the log says: new leads, and the stages the job moved opportunities to
    client = ops.connect(cfg, env=env)
    leads = list(client.query_all("SELECT Id, Status FROM Lead"))
    assert len(leads) == done["lead.arrive"]
    assert Counter(lead["Status"] for lead in leads)["Working - Contacted"] >= 1
    moved = {}
    for action in log:
        if action["behaviour"].startswith("salesforce.opportunity."):
            (call,) = action["detail"]["calls"]
            moved[call["id"]] = call["fields"]["StageName"]
    ids = ", ".join(f"'{i}'" for i in moved)
    in_org = {
        r["Id"]: r["StageName"]
        for r in client.query_all(f"SELECT Id, StageName FROM Opportunity WHERE Id IN ({ids})")
    }
    assert in_org == moved
    comments = list(client.query_all("SELECT Id FROM CaseComment"))
    assert len(comments) >= done["case.comment"]
