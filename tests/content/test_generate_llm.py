"""`generate --text llm`, `content fill` and `content estimate` end to end on tiny worlds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import orgforge
import orgforge.api  # orgforge.api.X below: the submodule, not a lazy name
from orgforge.config import load_config
from orgforge.errors import ConfigError
from orgforge.schema import salesforce as sf
from orgforge.world.store import World
from tests.content.conftest import AS_OF, SECRET


def table(world: Path, name: str) -> list[dict]:
    with World(world, create=False) as handle:
        return list(handle.iter_dicts(name))


def test_llm_text_changes_no_structural_column(server, make_config, tmp_path):
    offline = orgforge.generate(
        preset="tiny",
        world=str(tmp_path / "offline.db"),
        runs_dir=str(tmp_path / "runs"),
        as_of=AS_OF,
    )
    result = orgforge.generate(make_config(server, name="llm.db"))
    assert result.text["engine"] == "llm" and result.text["fallbacks"] == 0
    assert result.text["calls"] == server.count > 0
    text_seen = 0
    for obj in sf.OBJECTS:
        text_fields = {f.name for f in obj.text_fields}
        a, b = table(Path(offline.world), obj.name), table(Path(result.world), obj.name)
        assert [r["key"] for r in a] == [r["key"] for r in b], obj.name
        for column in a[0] if a else []:
            if column in text_fields:
                continue
            assert [r[column] for r in a] == [r[column] for r in b], f"{obj.name}.{column}"
        for name in text_fields:
            filled = [(x[name], y[name]) for x, y in zip(a, b, strict=True)]
            # the same fields are filled (None stays None) and every filled one is LLM text
            assert all((x is None) == (y is None) for x, y in filled), f"{obj.name}.{name}"
            assert all(y is None or "local test server" in y for _, y in filled)
            if obj.field(name).copy_of is None:  # a copy (EmailMessage) is no request of its own
                text_seen += sum(y is not None for _, y in filled)
    assert text_seen == result.text["items"]


def test_rerun_makes_zero_calls(server, make_config):
    config = make_config(server)
    first = orgforge.generate(config)
    calls = server.count
    assert calls > 0 and first.text["cache_hits"] == 0
    # a changed content setting that can change text (a budget) changes the recipe
    # fingerprint: everything is regenerated, and every text comes from the world's cache
    config.content.max_cost = 1000.0
    second = orgforge.generate(config)
    assert server.count == calls
    assert second.text["calls"] == 0
    assert second.text["cache_hits"] == second.text["items"] == first.text["items"]
    # an operational setting (concurrency) or the same config again: nothing to do at all
    config.content.concurrency = 3
    third = orgforge.generate(config)
    assert server.count == calls and third.text["calls"] == 0 and third.text["items"] == 0
    with World(config.world, create=False) as world:
        assert world.cache_count() == first.text["items"]


def test_changed_prompt_misses_the_cache(server, make_config, tmp_path):
    config = make_config(server)
    orgforge.generate(config)
    calls = server.count
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "case.subject.txt").write_text(
        "# version: 7\nWrite a terse support case subject for each item.\n"
    )
    config.content.prompts_dir = str(prompts)
    result = orgforge.generate(config)
    new = server.requests[calls:]
    assert len(new) == result.text["calls"] >= 1
    assert all("terse support case subject" in r["body"]["messages"][1]["content"] for r in new)
    with World(config.world, create=False) as world:
        subjects = len(list(world.iter_rows("Case", ["key"])))
    # only case subjects (and the descriptions/comments quoting the new subjects) were re-asked
    assert result.text["cache_hits"] > 0
    assert result.text["llm_items"] >= subjects


def test_no_api_key_in_run_files_world_or_output(server, make_config, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    config = make_config(server, provider="openai", model="gpt-4o-mini")
    result = orgforge.generate(config)
    assert result.text["fallbacks"] == 0 and result.text["cost_usd"] > 0
    assert server.requests[0]["headers"]["authorization"] == f"Bearer {SECRET}"
    run_dir = Path(result.run_dir)
    files = [p for p in Path(config.runs_dir).rglob("*") if p.is_file()]
    assert {p.name for p in run_dir.iterdir()} >= {"config.resolved.yaml", "summary.json"}
    for path in [*files, Path(config.world)]:
        assert SECRET.encode() not in path.read_bytes(), path
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["text"]["calls"] == result.text["calls"]
    # figures named like secrets are figures: only text values are masked
    assert summary["text"]["input_tokens"] == result.text["input_tokens"] > 0
    resolved = (run_dir / "config.resolved.yaml").read_text()
    assert "tokens_per_minute: 0" in resolved and "max_output_tokens: 8192" in resolved
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err


def test_key_from_orgforge_env_is_masked_in_dumps(server, make_config, monkeypatch, tmp_path):
    monkeypatch.setenv("ORGFORGE_CONTENT__API_KEY", SECRET)
    config = load_config(None, flags={"world": str(tmp_path / "k.db")})
    assert config.content.api_key.get_secret_value() == SECRET
    assert SECRET not in repr(config)
    from orgforge.config import dump

    assert dump(config)["content"]["api_key"] == "****"


def test_api_key_in_a_config_file_is_refused(clean_env, tmp_path):
    path = tmp_path / "orgforge.yaml"
    path.write_text("content:\n  engine: llm\n  api_key: sk-in-a-file\n")
    with pytest.raises(ConfigError, match=r"orgforge.yaml:3: content.api_key"):
        load_config(path)


def test_content_fill_rewrites_only_text_and_logs_changes(server, make_config, tmp_path):
    world_path = tmp_path / "fill.db"
    orgforge.generate(
        preset="tiny", world=str(world_path), runs_dir=str(tmp_path / "runs"), as_of=AS_OF
    )
    before = {name: table(world_path, name) for name in sf.GENERATED}
    with World(world_path, create=False) as world:
        last_change = world.changes_since(0, limit=100_000)[-1]["id"]
    config = make_config(server, name="fill.db")
    summary = orgforge.api.content_fill(config, kinds=["account.description", "case.subject"])
    assert summary["text"]["fallbacks"] == 0 and summary["text"]["calls"] == server.count
    after = {name: table(world_path, name) for name in sf.GENERATED}
    changed_accounts = 0
    for name in sf.GENERATED:
        for old, new in zip(before[name], after[name], strict=True):
            diff = {k for k in old if old[k] != new[k]}
            expected = {"Account": {"Description"}, "Case": {"Subject"}}.get(name, set())
            assert diff <= expected, (name, diff)
            changed_accounts += name == "Account" and bool(diff)
    assert changed_accounts == summary["updated"]["Account"] > 0
    with World(world_path, create=False) as world:
        log = world.changes_since(last_change)
    assert {(c["object"], c["op"], tuple(c["fields"])) for c in log} == {
        ("Account", "update", ("Description",)),
        ("Case", "update", ("Subject",)),
    }
    logged = sum(len(c["keys"]) for c in log if c["object"] == "Account")
    assert logged == summary["updated"]["Account"]
    # a second fill is served from the world's cache: nothing reaches the server
    calls = server.count
    again = orgforge.api.content_fill(config, kinds=["account.description", "case.subject"])
    assert server.count == calls and again["text"]["calls"] == 0
    assert again["updated"] == {"Account": 0, "Case": 0}
    # --text offline puts back exactly the text the offline generate wrote
    config.content.engine = "offline"
    restored = orgforge.api.content_fill(config)
    assert restored["text"] == {"engine": "offline"}
    assert {name: table(world_path, name) for name in sf.GENERATED} == before


def test_estimate_matches_a_real_run_without_calling(server, make_config):
    config = make_config(server)
    report = orgforge.api.content_estimate(config)
    assert server.count == 0
    result = orgforge.generate(config)
    assert report["total"]["items"] == result.text["items"]
    assert report["total"]["calls"] == result.text["calls"]
    assert report["total"]["cost_usd"] == 0.0  # compatible servers are free


def test_prd_estimate_batches_at_least_15_items_per_call(clean_env):
    config = load_config(None, flags={"preset": "prd", "content.model": "gpt-4o"})
    report = orgforge.api.content_estimate(config)
    total = report["total"]
    assert total["items"] / total["calls"] >= 15
    assert 0.05 < total["cost_usd"] < 5  # gpt-4o list prices, ~2,000 short texts


def test_cli_generate_llm_and_content_commands(server, make_config, monkeypatch, capsys, tmp_path):
    from orgforge.cli import _console
    from orgforge.cli.main import app

    make_config(server)  # clean env + cwd
    monkeypatch.setenv("ORGFORGE_CONTENT__PROVIDER", "compatible")
    monkeypatch.setenv("ORGFORGE_CONTENT__BASE_URL", server.url + "/v1")
    monkeypatch.setenv("ORGFORGE_CONTENT__MODEL", "test-model")

    def run(*args: str) -> tuple[int, str]:
        _console.state.debug = _console.state.quiet = False
        code = _console.run_app(app, list(args))
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    code, out = run("generate", "--preset", "tiny", "--as-of", AS_OF, "--text", "llm")
    assert code == 0, out
    assert "text: compatible test-model:" in out and "0 offline fallbacks" in out
    code, out = run("content", "fill", "--kinds", "task.subject")
    assert code == 0, out
    assert "0 calls" in out and "from cache" in out
    code, out = run("content", "estimate", "--preset", "prd", "--json")
    assert code == 0 and json.loads(out)["total"]["calls"] > 0
    code, out = run("content", "fill", "--kinds", "nope.kind")
    assert code == 2 and "unknown kind" in out


def test_cli_bad_key_exits_1_with_two_lines(server, make_config, monkeypatch, capsys):
    from orgforge.cli import _console
    from orgforge.cli.main import app

    make_config(server)
    server.script = lambda n, body: "401"
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("ORGFORGE_CONTENT__BASE_URL", server.url + "/v1")
    _console.state.debug = _console.state.quiet = False
    code = _console.run_app(app, ["generate", "--preset", "tiny", "--text", "llm", "-q"])
    captured = capsys.readouterr()
    assert code == 1
    lines = captured.err.strip().splitlines()
    assert lines[0].startswith("error: openai gpt-4o-mini") and "auth" in lines[0]
    assert lines[1].startswith("hint:") and "--text offline" in lines[1]
    assert "Traceback" not in captured.err and SECRET not in captured.out + captured.err


def test_key_from_dotenv_is_used_and_not_written(server, make_config, tmp_path):
    config = make_config(server, provider="openai", model="gpt-4o-mini")
    (tmp_path / ".env").write_text(f"OPENAI_API_KEY={SECRET}\n")  # cwd is tmp_path
    result = orgforge.generate(config)
    assert server.requests[0]["headers"]["authorization"] == f"Bearer {SECRET}"
    for path in Path(result.run_dir).iterdir():
        assert SECRET not in path.read_text(), path


def test_fill_a_world_generated_with_industries_and_refuse_a_bare_one(server, make_config):
    config = make_config(server, name="ind.db")
    config.content.engine = "offline"
    orgforge.generate(config, industries=["high_tech", "insurance"])
    config.content.engine = "llm"
    summary = orgforge.api.content_fill(config, kinds=["account.description"])
    assert summary["updated"]["Account"] > 0 and summary["text"]["fallbacks"] == 0
    from orgforge.errors import WorldError

    bare = make_config(server, name="bare.db")
    World(bare.world).close()
    with pytest.raises(WorldError, match="no successful generate run"):
        orgforge.api.content_fill(bare)


def test_fill_refuses_a_world_whose_structure_changed(server, make_config):
    config = make_config(server, name="edited.db")
    config.content.engine = "offline"
    orgforge.generate(config)
    with World(config.world) as world, world.engine.begin() as conn:
        from orgforge.world import tables as t

        table = t.RECORD_TABLES["Case"]
        case = conn.execute(table.select().order_by(table.c.account_idx, table.c.seq)).first().key
        conn.execute(table.update().where(table.c.key == case).values(Priority="Urgent"))
    config.content.engine = "llm"
    from orgforge.errors import WorldError

    with pytest.raises(WorldError, match=f"{case} differs"):
        orgforge.api.content_fill(config)
    assert server.count == 0
