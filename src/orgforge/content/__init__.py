"""Text for the text fields: the ContentRequest contract and its engines (offline, LLM)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from orgforge.content.contract import KINDS, ContentEngine, ContentRequest, KindSpec

if TYPE_CHECKING:
    from orgforge.clock import Clock
    from orgforge.config import Config
    from orgforge.packs import Pack

__all__ = ["KINDS", "ContentEngine", "ContentRequest", "KindSpec", "engine_for"]


def engine_for(
    config: Config,
    *,
    world: Any = None,
    progress: Callable[[int], None] | None = None,
    packs: dict[str, Pack] | None = None,
    clock: Clock | None = None,
) -> ContentEngine:
    """The text engine ``config.content.engine`` names (a registered plugin).

    Built-ins: ``offline`` → the offline engine; ``llm`` → the LLM engine, its cache in
    ``world`` (a World handle or location; default ``config.world``). Missing keys, endpoints,
    prices for a budget or a broken prompts folder raise ConfigError here, before anything is
    written. ``packs`` saves loading the config's packs again when the caller has them;
    ``clock`` (default: the real one) is what the engine's waits and deadline run on.
    """
    from orgforge.packs import load_packs
    from orgforge.plugins import content_engine

    spec = content_engine(config.content.engine)
    if packs is None:
        packs = load_packs(config.generate.packs)
    extra = {"clock": clock} if clock is not None else {}  # plugins' factories may not take it
    return spec.factory(config, packs=packs, world=world, progress=progress, **extra)
