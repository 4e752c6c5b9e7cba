"""Text for the text fields: the ContentRequest contract and its engines (offline, LLM)."""

from orgforge.content.contract import KINDS, ContentEngine, ContentRequest, KindSpec

__all__ = ["KINDS", "ContentEngine", "ContentRequest", "KindSpec"]
