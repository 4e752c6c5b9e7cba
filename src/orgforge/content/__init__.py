"""Text for the text fields: the ContentRequest contract and its engines (offline, LLM)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from orgforge.content.contract import KINDS, ContentEngine, ContentRequest, KindSpec

if TYPE_CHECKING:
    from orgforge.config import Config

__all__ = ["KINDS", "ContentEngine", "ContentRequest", "KindSpec", "engine_for"]


def engine_for(
    config: Config,
    *,
    world: Any = None,
    progress: Callable[[int], None] | None = None,
) -> ContentEngine:
    """The text engine ``config.content`` asks for.

    ``offline`` → the offline engine. ``llm`` → the LLM engine, its cache in ``world`` (a World
    handle or location; default ``config.world``). Missing keys, endpoints, prices for a budget
    or a broken prompts folder raise ConfigError here, before anything is written.
    """
    from orgforge.content.offline import OfflineEngine
    from orgforge.packs import load_packs

    packs = load_packs(config.generate.packs)
    if config.content.engine != "llm":
        return OfflineEngine(packs, config.seed)
    from orgforge.content.llm import LLMEngine

    return LLMEngine(
        config.content,
        packs,
        seed=config.seed,
        world=world if world is not None else config.world,
        progress=progress,
    )
