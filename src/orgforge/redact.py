"""Masking secrets out of what orgforge writes: run logs, resolved configs, summaries.

Only fields known to hold credentials are masked, by name. Record keys (``key``,
``Orgforge_Key__c``), counts named like secrets (``input_tokens``, ``tokens_per_minute``) and
paths (``key_file``) are data, and a run log that hid them would say nothing about what failed.
Imports nothing else of orgforge: the world store and the targets use it without the config.
"""

from __future__ import annotations

from typing import Any

MASK = "****"

SECRET_FIELDS = frozenset(
    {
        "api_key",
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "session_id",
        "sessionid",
        "password",
        "security_token",
        "consumer_key",
        "consumer_secret",
        "client_secret",
        "private_key",
        "privatekey",
        "secret",
        "authorization",
        "assertion",
    }
)
"""Field names (any case, ``-`` read as ``_``) whose text is a credential."""

SECRET_SUFFIXES = ("_api_key", "_access_token", "_refresh_token", "_password", "_secret")
"""…and names ending like these (``sf_access_token``, ``SF_PASSWORD``, ``azure_openai_api_key``)."""


def is_secret_field(name: str) -> bool:
    """Whether a field of this name holds a credential."""
    normal = name.lower().replace("-", "_")
    return normal in SECRET_FIELDS or normal.endswith(SECRET_SUFFIXES)


def masked(data: Any, _key: str = "") -> Any:
    """A copy of ``data`` (dicts, lists, scalars) with every credential's text replaced by
    ``'****'``. Only text is masked: a figure is never a credential."""
    if isinstance(data, dict):
        return {k: masked(v, str(k)) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [masked(v, _key) for v in data]
    if isinstance(data, str | bytes) and data and is_secret_field(_key):
        return MASK
    return data
