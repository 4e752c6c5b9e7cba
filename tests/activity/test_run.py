"""Writing to the world: idempotency, config changes, reset, smoke, scorecards, exports."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from sqlalchemy import select

from orgforge import activity
from orgforge.activity.subjects import load_subject_types
from orgforge.content.contract import ContentEngine
from orgforge.targets.files import export
from orgforge.world import World
from orgforge.world import tables as t

from .conftest import make_config


def _base_snapshot(world_path) -> dict[str, list[tuple]]:
    """Every record the base generator made (job 'generate'), all fields."""
    out = {}
    with World(world_path, create=False) as w, w.engine.connect() as conn:
        for name, table in t.RECORD_TABLES.items():
            out[name] = conn.execute(
                select(table).where(table.c.job != "activity").order_by(table.c.key)
            ).all()
    return out


def _activity_keys(world_path) -> dict[str, set[str]]:
    with World(world_path, create=False) as w, w.engine.connect() as conn:
        out = {
            name: {
                r[0]
                for r in conn.execute(
                    select(t.RECORD_TABLES[name].c.key).where(
                        t.RECORD_TABLES[name].c.job == "activity"
                    )
                )
            }
            for name in ("Event", "EventRelation", "Task", "EmailMessage")
        }
        out["Scorecard"] = {r[0] for r in conn.execute(select(t.scorecards.c.key))}
    return out


def test_run_then_rerun_creates_nothing(world, config) -> None:
    before = _base_snapshot(world)
    first = activity.run(config)
    assert first.opportunities == 250
    assert first.created == sum(
        len(v) for k, v in _activity_keys(world).items() if k != "Scorecard"
    )
    assert first.written["Event"]["inserted"] > 250 * 3
    assert first.written["Task"]["inserted"] >= 250 * 5
    # every sent email is also its EmailMessage (Enhanced Email), linked to its Task
    assert first.written["EmailMessage"]["inserted"] == first.written["Task"]["inserted"]
    second = activity.run(config)
    for name, counts in second.written.items():
        assert counts["inserted"] == counts["updated"] == counts["deleted"] == 0, name
    assert _base_snapshot(world) == before  # the base generator's records are untouched
    with World(world, create=False) as w:
        tasks = [r for r in w.iter_dicts("Task") if r["job"] == "activity"]
        events = [r for r in w.iter_dicts("Event") if r["job"] == "activity"]
    assert all(r["TaskSubtype"] == "Email" and r["Status"] == "Completed" for r in tasks)
    assert all(r["ActivityDate"] < "2026-11-23" for r in tasks)
    assert all(r["WhatId"].startswith("Opportunity/") and r["WhoId"] for r in tasks + events)
    assert all(r["Description"] and len(r["Description"]) > 40 for r in tasks + events)
    assert any(r["StartDateTime"] > "2026-11-24" for r in events)
    # the run directory
    run_dir = first.run_dir
    assert run_dir
    summary = json.loads(Path(run_dir, "summary.json").read_text())
    assert summary["created"] == first.created and summary["status"] == "ok"
    assert Path(run_dir, "events.jsonl").read_text().count("chunk.written") >= 2


def test_changed_config_adds_only_the_difference(world, tmp_path) -> None:
    base = make_config(world, tmp_path, past_meetings=(3, 5), emails=(5, 8))
    activity.run(base)
    held = _activity_keys(world)
    grown = make_config(world, tmp_path, past_meetings=(3, 8), emails=(5, 12))
    result = activity.run(grown)
    after = _activity_keys(world)
    assert held["Event"] <= after["Event"]
    assert result.written["Event"]["updated"] == result.written["Event"]["deleted"] == 0
    assert result.written["Task"]["inserted"] == len(after["Task"] - held["Task"]) > 0
    # An email changes only where a new meeting before it now lets it be the follow-up its
    # draw picked (with nothing to follow it had fallen back to another type).
    follows = {t.id for t in load_subject_types().emails if t.follows}
    planned = {
        (o["opportunity"], a["key"].rsplit("/", 1)[1].split("-")[0]): a
        for o in activity.plan(grown).opportunities
        for a in o["activities"]
    }
    gone = held["Task"] - after["Task"]
    for key in gone:
        prefix, slot = key.split("/", 1)[1].rsplit("/", 1)
        assert planned[(f"Opportunity/{prefix}", slot.split("-")[0])]["type"] in follows, key
    assert len(gone) < len(held["Task"]) / 10
    # shrink back: orgforge removes only what it created and no longer plans
    shrunk = activity.run(base)
    assert shrunk.written["Task"]["deleted"] == len(after["Task"] - held["Task"])
    assert shrunk.written["Task"]["inserted"] == len(gone)
    assert _activity_keys(world) == held
    # with prune off, a smaller plan keeps what exists
    activity.run(grown)
    keep = make_config(world, tmp_path, past_meetings=(3, 5), emails=(5, 8), prune=False)
    kept = activity.run(keep)
    assert kept.written["Task"]["deleted"] == 0 and kept.written["Event"]["deleted"] == 0


def test_reset_by_run_and_by_opportunity(world, config) -> None:
    before = _base_snapshot(world)
    first = activity.run(config, max_opps=20)
    created = _activity_keys(world)
    second = activity.run(config, max_opps=40)  # the next 20 opportunities
    both = _activity_keys(world)
    dry = activity.reset(config, run_id=second.run_id, dry_run=True)
    assert dry["removed"]["Event"] == len(both["Event"] - created["Event"])
    assert _activity_keys(world) == both
    removed = activity.reset(config, run_id=second.run_id)
    assert _activity_keys(world) == created
    assert removed["removed"]["Task"] == len(both["Task"] - created["Task"])
    one = "Opportunity/0001/1"
    activity.reset(config, opps=[one])
    left = _activity_keys(world)
    assert not any(k.split("/")[1:3] == ["0001", "1"] for v in left.values() for k in v)
    assert left["Task"] < created["Task"]
    activity.reset(config)
    assert all(not v for v in _activity_keys(world).values())
    assert _base_snapshot(world) == before
    assert first.run_id in {r["run_id"] for r in activity.status(config)["runs"]}


def test_smoke_creates_and_removes(world, config) -> None:
    report = activity.smoke(config)
    assert report["ok"], report
    assert report["created"]["Event"] >= 3 and report["created"]["Task"] >= 5
    assert all(not v for v in _activity_keys(world).values())


def test_scorecard_coverage_on_the_prd_world(world, config) -> None:
    activity.run(config)
    with World(world, create=False) as w, w.engine.connect() as conn:
        cards = conn.execute(select(t.scorecards)).all()
        per_opp: dict[str, int] = {}
        for table in (t.RECORD_TABLES["Event"], t.RECORD_TABLES["Task"]):
            query = select(table.c.WhatId, table.c.key).where(table.c.job == "activity")
            for what, key in conn.execute(query):
                if "/u" not in key:  # past activity only
                    per_opp[what] = per_opp.get(what, 0) + 1
        answers = conn.execute(select(t.scorecard_answers)).all()
    busy = [c for c in cards if per_opp.get(c.opportunity, 0) >= 5]
    # counts scale with age: 184 of the 250 deals (seed 42) are old enough for 5 past items
    assert len(busy) >= 150
    assert all(c.coverage >= 0.8 for c in busy), min(c.coverage for c in busy)
    assert all(c.total == 7 and c.framework == "meddicc" for c in cards)
    assert all(0 < c.confidence <= 1 for c in cards)
    answered = [a for a in answers if a.answer]
    assert all(json.loads(a.evidence) for a in answered)  # every answer says what it used


class _Echo(ContentEngine):
    name = "echo"

    def __init__(self) -> None:
        self.kinds: list[str] = []

    def fill(self, requests):
        self.kinds.extend(r.kind for r in requests)
        return [f"LLM: {r.context.get('question', r.kind)}" for r in requests]


def test_hybrid_and_llm_modes_use_the_engine(world, tmp_path) -> None:
    for mode, expect_all in (("hybrid", False), ("llm", True)):
        cfg = make_config(world, tmp_path)
        cfg.activity.scorecards.mode = mode
        cfg.activity.scorecards.frameworks = ["meddpicc", "bant"]
        engine = _Echo()
        activity.run(cfg, engine=engine, max_opps=10)
        asked = engine.kinds.count("scorecard.answer")
        assert engine.kinds.count("email.body") > 0 or mode == "llm"
        if expect_all:
            assert asked == 10 * (8 + 4)
        else:
            assert 0 < asked < 10 * (8 + 4)
        with World(world, create=False) as w, w.engine.connect() as conn:
            rows = conn.execute(select(t.scorecard_answers.c.source)).all()
        assert any(r.source == "llm" for r in rows)


def test_tag_mode_marks_descriptions(world, tmp_path) -> None:
    cfg = make_config(world, tmp_path, tag={"mode": "description", "marker": "[demo-tag]"})
    activity.run(cfg, max_opps=3)
    with World(world, create=False) as w:
        rows = [r for r in w.iter_dicts("Task") if r["job"] == "activity"]
    assert rows and all(r["Description"].endswith("[demo-tag]") for r in rows)


def test_exports_include_activity_and_scorecards(world, config, tmp_path) -> None:
    activity.run(config, max_opps=5)
    with World(world, create=False) as w:
        counts = export(w, tmp_path / "csv", "csv")
        export(w, tmp_path / "json", "json")
    assert counts["EventRelation"] > 0 and counts["Scorecard"] == 5
    with open(tmp_path / "csv" / "Scorecard.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 5 * 7 and rows[0]["Opportunity"].startswith("Opportunity/")
    with open(tmp_path / "csv" / "EventRelation.csv", newline="") as handle:
        rel = list(csv.DictReader(handle))
    assert rel[0]["Event.Orgforge_Key__c"].startswith("Event/")
    data = json.loads((tmp_path / "json" / "Scorecard.json").read_text())
    assert len(data) == 5 and len(data[0]["answers"]) == 7


def test_a_new_as_of_replaces_moved_items(world, tmp_path) -> None:
    first = make_config(world, tmp_path)
    activity.run(first, max_opps=15)
    before = _activity_keys(world)
    later = make_config(world, tmp_path)
    later.as_of = later.as_of.fromordinal(later.as_of.toordinal() + 7)
    moved = activity.run(later, max_opps=15)
    after = _activity_keys(world)
    for name in ("Event", "Task"):
        counts = moved.written[name]
        assert counts["updated"] == 0  # a moved item is a new record, never an edit
        assert counts["inserted"] == len(after[name] - before[name]) > 0
        assert counts["deleted"] == len(before[name] - after[name])
    # keys keep their slot: only the signature suffix changes
    slots = lambda keys: {k.rsplit("-", 1)[0] for k in keys}  # noqa: E731
    assert slots(after["Event"]) & slots(before["Event"])


def test_scorecards_as_tasks(world, tmp_path) -> None:
    cfg = make_config(world, tmp_path)
    cfg.activity.scorecards.salesforce.mode = "task"
    cfg.activity.scorecards.frameworks = ["meddicc", "bant"]
    first = activity.run(cfg, max_opps=6)
    with World(world, create=False) as w:
        tasks = [r for r in w.iter_dicts("Task") if "/sc-" in r["key"]]
    assert len(tasks) == 12
    assert all(r["WhatId"].startswith("Opportunity/") and r["Status"] == "Completed" for r in tasks)
    assert any(r["Subject"].startswith("MEDDICC scorecard: ") for r in tasks)
    assert all("Who is" in r["Description"] or "Is there" in r["Description"] for r in tasks)
    assert first.written["Task"]["inserted"] > 12
    again = activity.run(cfg, max_opps=6)
    assert again.created == 0
    cfg.activity.scorecards.frameworks = ["meddicc"]  # BANT dropped: its Tasks go
    fewer = activity.run(cfg, max_opps=6)
    assert fewer.written["Task"]["deleted"] == 6 and fewer.written["Task"]["inserted"] == 0


def test_replacing_every_item_of_a_range_removes_the_old_ones(world, tmp_path) -> None:
    """A chunk where nothing is kept (every item moved) must still delete the old records."""
    activity.run(make_config(world, tmp_path), opps=["Opportunity/0001/1"])
    before = _activity_keys(world)
    later = make_config(world, tmp_path)
    later.seed = 7  # another seed: every item moves, nothing of the range is kept
    moved = activity.run(later, opps=["Opportunity/0001/1"])
    after = _activity_keys(world)
    planned = activity.plan(later, opps=["Opportunity/0001/1"]).opportunities[0]["activities"]
    assert after["Task"] == {a["key"] for a in planned if a["kind"] == "email"}
    assert after["Event"] == {a["key"] for a in planned if a["kind"] == "meeting"}
    assert not (before["Task"] & after["Task"])
    assert moved.written["Task"]["deleted"] == len(before["Task"]) > 0


def test_a_reset_whose_delete_fails_ends_its_run_failed(world, config, monkeypatch) -> None:
    import pytest

    from orgforge.activity.sink import WorldSink

    def broken(self, keys, run_id):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(WorldSink, "remove", broken)
    with pytest.raises(RuntimeError, match="locked"):
        activity.reset(config)
    with World(world, create=False) as handle:
        (run,) = [r for r in handle.runs() if r["command"] == "activity reset"]
    assert run["status"] == "failed"
    assert "database is locked" in json.loads(run["summary"])["failure"]
