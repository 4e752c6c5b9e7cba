"""Run logs: what they mask, and that every way out of a run closes it with a status."""

from __future__ import annotations

import json

import pytest

from orgforge.clock import SimulatedClock
from orgforge.redact import masked
from orgforge.world.runlog import RunLog, open_run
from orgforge.world.store import World


def _lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_record_keys_survive_masking_and_credentials_do_not(tmp_path):
    config = {"content": {"api_key": "sk-live-123", "model": "m"}, "seed": 1}
    with World(tmp_path / "w.db") as world, RunLog(tmp_path / "runs", "load", config, world) as log:
        log.error(
            "record.failed",
            key="Account/0042",
            fields={"Orgforge_Key__c": "Contact/0042/3", "Name": "Acme"},
            keys=["Case/0001/1", "Case/0001/2"],
            input_tokens="12",
            key_file="/home/me/server.key",
            access_token="00D!secret",
            SF_PASSWORD="hunter2",
        )
        log.event("record.sent", key="Opportunity/0007/1", session_id="00D!abc")
        log.finish("failed", {"failed_keys": ["Account/0042"], "consumer_secret": "s3"})
    (error,) = [e for e in _lines(log.dir / "errors.jsonl") if e["error"] == "record.failed"]
    assert error["key"] == "Account/0042"
    assert error["fields"] == {"Orgforge_Key__c": "Contact/0042/3", "Name": "Acme"}
    assert error["keys"] == ["Case/0001/1", "Case/0001/2"]
    assert error["input_tokens"] == "12" and error["key_file"] == "/home/me/server.key"
    assert error["access_token"] == "****" and error["SF_PASSWORD"] == "****"
    (sent,) = [e for e in _lines(log.dir / "events.jsonl") if e["event"] == "record.sent"]
    assert sent["key"] == "Opportunity/0007/1" and sent["session_id"] == "****"
    summary = json.loads((log.dir / "summary.json").read_text())
    assert summary["failed_keys"] == ["Account/0042"] and summary["consumer_secret"] == "****"
    resolved = (log.dir / "config.resolved.yaml").read_text()
    assert "sk-live-123" not in resolved and "model: m" in resolved


def test_masked_keeps_figures_and_masks_known_secret_names():
    data = {"key": "Account/1", "tokens_per_minute": 0, "token": "t", "api-key": "k", "x": None}
    assert masked(data) == {
        "key": "Account/1",
        "tokens_per_minute": 0,
        "token": "****",
        "api-key": "****",
        "x": None,
    }


def test_a_block_left_without_finish_ends_the_run_failed(tmp_path):
    with World(tmp_path / "w.db") as world:
        with open_run(tmp_path / "runs", "demo", {"seed": 1}, world) as log:
            log.event("step")
        (run,) = world.runs()
    assert run["status"] == "failed"
    assert json.loads((log.dir / "run.json").read_text())["status"] == "failed"
    assert log._events is None and log._errors is None  # closed


def test_an_exception_ends_the_run_failed_even_if_the_world_cannot_record_it(tmp_path):
    world = World(tmp_path / "w.db")
    clock = SimulatedClock("2026-02-03T04:05:06Z")
    with (
        pytest.raises(RuntimeError, match="boom"),
        open_run(tmp_path / "runs", "demo", {"seed": 1}, world, clock=clock) as log,
    ):
        world.close()  # the world goes away mid-run: finish_run will fail too
        raise RuntimeError("boom")
    run = json.loads((log.dir / "run.json").read_text())
    assert run["status"] == "failed" and run["started_at"] == "2026-02-03T04:05:06.000000Z"
    assert log.run_id.startswith("20260203T040506Z-demo-")
    errors = [e["error"] for e in _lines(log.dir / "errors.jsonl")]
    assert errors[0] == "run.failed" and "run.record_failed" in errors


def test_open_run_disabled_yields_none_and_writes_nothing(tmp_path):
    with open_run(tmp_path / "runs", "demo", {}, None, enabled=False) as log:
        assert log is None
    assert not (tmp_path / "runs").exists()
