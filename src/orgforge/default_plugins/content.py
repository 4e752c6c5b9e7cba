"""Built-in text engines: ``offline`` (the default) and ``llm``."""

from __future__ import annotations

from typing import Any

from orgforge.hookspecs import hookimpl
from orgforge.plugins import EnginePlugin


def _offline(
    config: Any, *, packs: Any, world: Any = None, progress: Any = None, clock: Any = None
) -> Any:
    from orgforge.content.offline import OfflineEngine

    return OfflineEngine(packs, config.seed)


def _llm(
    config: Any, *, packs: Any, world: Any = None, progress: Any = None, clock: Any = None
) -> Any:
    from orgforge.clock import REAL
    from orgforge.content.llm import LLMEngine

    return LLMEngine(
        config.content,
        packs,
        seed=config.seed,
        world=world if world is not None else config.world,
        progress=progress,
        clock=clock or REAL,
    )


@hookimpl
def register_content_engines(register: Any) -> None:
    register(
        EnginePlugin(
            "offline", "Deterministic text from the industry packs; no network", _offline, True
        )
    )
    register(
        EnginePlugin(
            "llm",
            "An LLM provider in batches, with cache, retries, rate limits and a budget",
            _llm,
        )
    )
