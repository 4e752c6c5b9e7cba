"""LLM providers through their official SDKs: OpenAI, Azure OpenAI, Anthropic, and any
OpenAI-compatible server (Ollama, vLLM, llama.cpp, LM Studio) by ``base_url``.

A provider makes one call: (system, user, JSON schema) → :class:`Reply` (the JSON text or
object, token usage), or raises :class:`CallError` saying whether retrying can help and how
long the server asked us to wait. The SDKs' own retries are off (``max_retries=0``): the engine
owns retries, backoff, rate limits and deadlines. API keys are read here from the environment
or ``.env`` and never stored anywhere else.
"""

from __future__ import annotations

import email.utils
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orgforge.clock import REAL, Clock
from orgforge.config import ContentConfig
from orgforge.errors import ConfigError

TOOL_NAME = "submit_texts"


@dataclass
class Reply:
    data: Any = None  # parsed JSON (Anthropic tool input)
    text: str | None = None  # raw JSON text (OpenAI-style content)
    input_tokens: int = 0
    output_tokens: int = 0
    refusal: str | None = None
    truncated: bool = False


class CallError(Exception):
    """One failed call. ``kind``: rate_limited | server | timeout | connection | bad_request |
    auth | not_found. ``retryable`` says whether the same call may succeed later."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status


def retry_after_seconds(headers: Any, clock: Clock = REAL) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (seconds, or an HTTP date read
    against ``clock``)."""
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - clock.now()).total_seconds())


def _dotenv(cwd: Path | None = None) -> dict[str, str]:
    path = (cwd or Path.cwd()) / ".env"
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def api_key_for(config: ContentConfig, environ: dict[str, str] | None = None) -> str | None:
    """The key from content.api_key (ORGFORGE_CONTENT__API_KEY), else the provider's env var."""
    if config.api_key is not None and config.api_key.get_secret_value():
        return config.api_key.get_secret_value()
    from orgforge.plugins import llm_provider

    env_key = llm_provider(config.provider).env_key
    if env_key is None:
        return None
    env = {**_dotenv(), **(os.environ if environ is None else environ)}
    return env.get(env_key) or None


def _classify(exc: BaseException, sdk: Any, clock: Clock = REAL) -> CallError:
    """Map an SDK exception (openai or anthropic: same class names) to a CallError."""
    message = str(exc).splitlines()[0][:300] if str(exc) else exc.__class__.__name__
    if isinstance(exc, sdk.APITimeoutError):
        return CallError("timeout", "timed out", retryable=True)
    if isinstance(exc, sdk.APIConnectionError):
        return CallError("connection", message, retryable=True)
    if isinstance(exc, sdk.APIStatusError):
        status = exc.status_code
        after = retry_after_seconds(getattr(exc.response, "headers", None), clock)
        if status == 429:
            return CallError("rate_limited", message, retryable=True, retry_after=after, status=429)
        if status >= 500 or status in (408, 409, 425):
            return CallError("server", message, retryable=True, retry_after=after, status=status)
        if status in (401, 403):
            return CallError("auth", message, retryable=False, status=status)
        if status == 404:
            return CallError("not_found", message, retryable=False, status=status)
        return CallError("bad_request", message, retryable=False, status=status)
    return CallError("server", message, retryable=True)


class Provider:
    """One provider's client factory and call. Subclasses fill ``open`` and ``call``."""

    name = "provider"
    clock: Clock = REAL  # the engine sets its own

    def __init__(self, config: ContentConfig, api_key: str | None) -> None:
        self.config = config
        self._api_key = api_key
        self.client: Any = None

    @property
    def label(self) -> str:
        """Where calls go, for messages (never the key)."""
        return f"{self.config.provider} {self.config.model}"

    async def open(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
            self.client = None

    async def call(
        self, system: str, user: str, schema: dict, max_tokens: int, timeout: float
    ) -> Reply:
        raise NotImplementedError


class OpenAIProvider(Provider):
    """OpenAI, Azure OpenAI and OpenAI-compatible servers: chat completions with JSON output.

    ``structured: auto`` asks for ``json_schema`` structured output first; a server that refuses
    it (400) gets ``json_object`` mode, then a plain request whose prompt asks for JSON.
    """

    MODES = ("json_schema", "json_object", "none")

    def __init__(self, config: ContentConfig, api_key: str | None) -> None:
        super().__init__(config, api_key)
        self.name = config.provider
        self.mode = "json_schema" if config.structured == "auto" else config.structured
        self.auto = config.structured == "auto"

    @property
    def label(self) -> str:
        where = self.config.base_url or self.config.azure_endpoint or ""
        return f"{self.config.provider} {self.config.model}" + (f" at {where}" if where else "")

    async def open(self) -> None:
        import openai

        config = self.config
        common: dict[str, Any] = {"max_retries": 0, "timeout": config.timeout}
        if config.provider == "azure":
            endpoint = config.azure_endpoint or os.environ.get("AZURE_OPENAI_ENDPOINT")
            if not endpoint and not config.base_url:
                raise ConfigError(
                    "content.azure_endpoint is not set (provider azure)",
                    "Set content.azure_endpoint (https://NAME.openai.azure.com) or "
                    "AZURE_OPENAI_ENDPOINT, and content.azure_deployment.",
                )
            kwargs: dict[str, Any] = {
                "api_key": self._api_key,
                "api_version": config.api_version,
                "azure_deployment": config.azure_deployment or config.model,
            }
            if config.base_url:
                kwargs["base_url"] = config.base_url
            else:
                kwargs["azure_endpoint"] = endpoint
            self.client = openai.AsyncAzureOpenAI(**kwargs, **common)
        else:
            self.client = openai.AsyncOpenAI(
                api_key=self._api_key or "not-needed", base_url=config.base_url, **common
            )

    def _response_format(self, schema: dict) -> dict | None:
        if self.mode == "json_schema":
            return {
                "type": "json_schema",
                "json_schema": {"name": "texts", "strict": True, "schema": schema},
            }
        if self.mode == "json_object":
            return {"type": "json_object"}
        return None

    async def call(
        self, system: str, user: str, schema: dict, max_tokens: int, timeout: float
    ) -> Reply:
        import openai

        while True:
            kwargs: dict[str, Any] = {
                "model": self.config.model,
                "messages": [
                    {"role": "system", "content": system},
                    {"role": "user", "content": user},
                ],
                "timeout": timeout,
            }
            # Newer OpenAI models take max_completion_tokens; local servers know max_tokens.
            if self.config.provider == "compatible":
                kwargs["max_tokens"] = max_tokens
            else:
                kwargs["max_completion_tokens"] = max_tokens
            if self.config.temperature is not None:
                kwargs["temperature"] = self.config.temperature
            response_format = self._response_format(schema)
            if response_format is not None:
                kwargs["response_format"] = response_format
            try:
                completion = await self.client.chat.completions.create(**kwargs)
            except openai.BadRequestError as exc:
                if self.auto and self.mode != "none" and _about_format(exc):
                    self.mode = self.MODES[self.MODES.index(self.mode) + 1]
                    continue
                raise _classify(exc, openai, self.clock) from None
            except openai.OpenAIError as exc:
                raise _classify(exc, openai, self.clock) from None
            return _openai_reply(completion)


def _about_format(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(w in text for w in ("response_format", "json_schema", "json_object", "schema"))


def _openai_reply(completion: Any) -> Reply:
    usage = getattr(completion, "usage", None)
    reply = Reply(
        input_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        output_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
    )
    choices = getattr(completion, "choices", None) or []
    if not choices:
        return reply
    choice = choices[0]
    message = choice.message
    reply.text = message.content
    reply.refusal = getattr(message, "refusal", None)
    reply.truncated = choice.finish_reason == "length"
    return reply


class AnthropicProvider(Provider):
    """Anthropic messages API; JSON output through a forced tool call (``tool_choice``)."""

    name = "anthropic"

    @property
    def label(self) -> str:
        where = f" at {self.config.base_url}" if self.config.base_url else ""
        return f"anthropic {self.config.model}{where}"

    async def open(self) -> None:
        import anthropic

        self.client = anthropic.AsyncAnthropic(
            api_key=self._api_key,
            base_url=self.config.base_url,
            max_retries=0,
            timeout=self.config.timeout,
        )

    async def call(
        self, system: str, user: str, schema: dict, max_tokens: int, timeout: float
    ) -> Reply:
        import anthropic

        kwargs: dict[str, Any] = {
            "model": self.config.model,
            "max_tokens": max_tokens,
            "system": system,
            "messages": [{"role": "user", "content": user}],
            "tools": [
                {
                    "name": TOOL_NAME,
                    "description": "Submit one text per requested id.",
                    "input_schema": schema,
                }
            ],
            "tool_choice": {"type": "tool", "name": TOOL_NAME},
            "timeout": timeout,
        }
        if self.config.temperature is not None:
            kwargs["temperature"] = min(self.config.temperature, 1.0)
        try:
            message = await self.client.messages.create(**kwargs)
        except anthropic.AnthropicError as exc:
            raise _classify(exc, anthropic, self.clock) from None
        usage = getattr(message, "usage", None)
        reply = Reply(
            input_tokens=int(getattr(usage, "input_tokens", 0) or 0),
            output_tokens=int(getattr(usage, "output_tokens", 0) or 0),
            truncated=getattr(message, "stop_reason", None) == "max_tokens",
        )
        texts = []
        for block in getattr(message, "content", None) or []:
            if getattr(block, "type", None) == "tool_use" and block.name == TOOL_NAME:
                reply.data = block.input
                return reply
            if getattr(block, "type", None) == "text":
                texts.append(block.text)
        reply.text = "".join(texts) or None
        if getattr(message, "stop_reason", None) == "refusal":
            reply.refusal = reply.text or "refused"
        return reply


def make_provider(config: ContentConfig, environ: dict[str, str] | None = None) -> Provider:
    """The provider ``content.provider`` names (a registered plugin); missing keys or endpoints
    fail here, before any write.

    The SDK is imported here too (a second or more for either), not in the first call's time.
    """
    import importlib

    from orgforge.plugins import llm_provider

    spec = llm_provider(config.provider)
    if spec.sdk:
        importlib.import_module(spec.sdk)
    key = api_key_for(config, environ)
    if spec.check is not None and not spec.needs_key:
        spec.check(config)
    if key is None and spec.needs_key:
        env = "ORGFORGE_CONTENT__API_KEY"
        if spec.env_key:
            env = f"{spec.env_key} (or {env})"
        raise ConfigError(
            f"no API key for content.provider {config.provider}",
            f"Set {env} in the environment or .env.",
        )
    if spec.check is not None and spec.needs_key:
        spec.check(config)
    return spec.factory(config, key)
