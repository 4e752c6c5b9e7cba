"""Built-in LLM providers: OpenAI, Azure OpenAI, Anthropic and OpenAI-compatible servers."""

from __future__ import annotations

import os
from typing import Any

from orgforge.errors import ConfigError
from orgforge.hookspecs import hookimpl
from orgforge.plugins import ProviderPlugin


def _openai(config: Any, api_key: str | None) -> Any:
    from orgforge.content.providers import OpenAIProvider

    return OpenAIProvider(config, api_key)


def _anthropic(config: Any, api_key: str | None) -> Any:
    from orgforge.content.providers import AnthropicProvider

    return AnthropicProvider(config, api_key)


def _needs_base_url(config: Any) -> None:
    if not config.base_url:
        raise ConfigError(
            "content.base_url is not set (provider compatible)",
            "Point it at your server, e.g. http://localhost:11434/v1 for Ollama.",
        )


def _needs_azure_endpoint(config: Any) -> None:
    if not (config.azure_endpoint or config.base_url or os.environ.get("AZURE_OPENAI_ENDPOINT")):
        raise ConfigError(
            "content.azure_endpoint is not set (provider azure)",
            "Set content.azure_endpoint (https://NAME.openai.azure.com) or AZURE_OPENAI_ENDPOINT.",
        )


@hookimpl
def register_llm_providers(register: Any) -> None:
    register(
        ProviderPlugin("openai", "OpenAI chat completions", _openai, "OPENAI_API_KEY", sdk="openai")
    )
    register(
        ProviderPlugin(
            "azure",
            "Azure OpenAI (content.azure_endpoint, content.azure_deployment)",
            _openai,
            "AZURE_OPENAI_API_KEY",
            check=_needs_azure_endpoint,
            sdk="openai",
        )
    )
    register(
        ProviderPlugin(
            "anthropic",
            "Anthropic messages API",
            _anthropic,
            "ANTHROPIC_API_KEY",
            sdk="anthropic",
        )
    )
    register(
        ProviderPlugin(
            "compatible",
            "Any OpenAI-compatible server by content.base_url (Ollama, vLLM, llama.cpp, LM Studio)",
            _openai,
            "OPENAI_API_KEY",
            needs_key=False,
            check=_needs_base_url,
            sdk="openai",
        )
    )
