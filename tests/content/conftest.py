"""Fixtures for the text engines: a scripted local LLM server and configs pointing at it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

import orgforge
import orgforge.api  # orgforge.api.X below: the submodule, not a lazy name
from orgforge.config import Config
from orgforge.content.testing import FakeLLM

AS_OF = "2026-11-23"
SECRET = "sk-test-DO-NOT-LEAK-7f3a9c"


@pytest.fixture
def clean_env(monkeypatch, tmp_path) -> None:
    """A fresh working directory and no orgforge or provider settings from the environment."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("ORGFORGE_") or name.endswith("_API_KEY") or name.startswith("AZURE_"):
            monkeypatch.delenv(name)


@pytest.fixture
def server() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


@pytest.fixture
def make_config(clean_env, tmp_path) -> Callable[..., Config]:
    """A tiny-preset config with LLM text pointed at ``server`` (OpenAI-compatible by default)."""

    def make(server: FakeLLM, name: str = "w.db", **content) -> Config:
        config = orgforge.api.resolve(
            None,
            preset="tiny",
            world=str(tmp_path / name),
            runs_dir=str(tmp_path / "runs"),
            as_of=AS_OF,
            text="llm",
        )
        settings = {
            "provider": "compatible",
            "model": "test-model",
            "base_url": server.url + "/v1",
            "timeout": 5.0,
            "backoff": 0.01,
            "backoff_max": 0.05,
            **content,
        }
        for key, value in settings.items():
            setattr(config.content, key, value)
        return config

    return make


@pytest.fixture
def sample(clean_env) -> Callable[[Config], list]:
    """The text requests of a config's first accounts (a realistic mixed batch)."""
    from orgforge.generate.requests import sample_requests

    def make(config: Config) -> list:
        return sample_requests(config)[0]

    return make
