"""`config.lookup`: where one setting's value comes from, level by level."""

from __future__ import annotations

import pytest

from orgforge.config import lookup
from orgforge.errors import ConfigError


@pytest.fixture
def here(tmp_path):
    (tmp_path / "orgforge.yaml").write_text("# settings\nseed: 9\npreset: tiny\n")
    return tmp_path


def test_a_default_says_so(tmp_path):
    found = lookup("content.model", environ={}, cwd=tmp_path)
    assert found["source"] == "default" and found["where"] == "built-in default"
    assert found["value"] == "gpt-4o-mini" and found["overridden"] == []
    assert found["env_var"] == "ORGFORGE_CONTENT__MODEL" and found["flag"] == "--model"


def test_a_file_value_names_its_line(here):
    found = lookup("seed", environ={}, cwd=here)
    assert (found["source"], found["where"], found["value"]) == (
        "file",
        f"{here}/orgforge.yaml:2",
        9,
    )


def test_each_later_level_wins_and_lists_what_it_overrides(here):
    (here / ".env").write_text("ORGFORGE_SEED=11\n")
    from_dotenv = lookup("seed", environ={}, cwd=here)
    assert (from_dotenv["source"], from_dotenv["value"]) == (".env", 11)
    assert from_dotenv["overridden"] == [[f"{here}/orgforge.yaml:2", 9]]

    from_env = lookup("seed", environ={"ORGFORGE_SEED": "12"}, cwd=here)
    assert from_env["where"] == "environment variable ORGFORGE_SEED" and from_env["value"] == 12

    from_flag = lookup("seed", flags={"seed": 13}, environ={"ORGFORGE_SEED": "12"}, cwd=here)
    assert (from_flag["where"], from_flag["value"]) == ("flag --seed", 13)
    assert [where for where, _ in from_flag["overridden"]] == [
        "environment variable ORGFORGE_SEED",
        f"{here}/orgforge.yaml:2",
    ]


def test_flags_are_named_as_the_cli_spells_them(tmp_path):
    found = lookup("content.engine", flags={"content.engine": "llm"}, environ={}, cwd=tmp_path)
    assert found["where"] == "flag --text" and found["value"] == "llm"


def test_a_preset_that_sets_the_account_count_is_the_source(here):
    found = lookup("generate.accounts", environ={}, cwd=here)
    assert found["value"] == 10 and found["source"] == "preset"
    assert found["where"] == f"preset tiny ({here}/orgforge.yaml:3)"


def test_secrets_are_masked(tmp_path):
    found = lookup("content.api_key", environ={"ORGFORGE_CONTENT__API_KEY": "sk-x"}, cwd=tmp_path)
    assert found["value"] == "****" and "sk-x" not in repr(found)


def test_an_unknown_key_suggests_the_full_path(tmp_path):
    with pytest.raises(ConfigError) as error:
        lookup("accounts", environ={}, cwd=tmp_path)
    assert "'accounts'" in error.value.message and "generate.accounts" in error.value.hint
