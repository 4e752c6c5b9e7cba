"""The activity job through the real LLM engine, against the scripted local LLM server."""

from __future__ import annotations

from sqlalchemy import select

from orgforge import activity
from orgforge.content.testing import FakeLLM
from orgforge.world import World
from orgforge.world import tables as t

from .conftest import make_config


def test_llm_text_and_hybrid_scorecards(world, tmp_path) -> None:
    with FakeLLM() as server:
        cfg = make_config(world, tmp_path)
        cfg.content.engine = "llm"
        for key, value in {
            "provider": "compatible",
            "model": "test-model",
            "base_url": server.url + "/v1",
            "timeout": 5.0,
            "backoff": 0.01,
            "backoff_max": 0.05,
        }.items():
            setattr(cfg.content, key, value)
        cfg.activity.scorecards.mode = "hybrid"
        cfg.activity.scorecards.min_confidence = 0.9  # most answers go to the model
        result = activity.run(cfg, max_opps=3)
        assert server.count > 0
        again = activity.run(cfg, max_opps=3)
    assert result.created > 0 and again.created == 0
    with World(world, create=False) as w:
        events = [r for r in w.iter_dicts("Event") if r["job"] == "activity"]
        with w.engine.connect() as conn:
            sources = [r[0] for r in conn.execute(select(t.scorecard_answers.c.source))]
    assert events and all(r["Description"] for r in events)
    assert "llm" in sources
