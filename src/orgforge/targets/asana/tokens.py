"""Asana tokens: one per persona, from the environment or ``.env`` only (never YAML).

    ORGFORGE_ASANA_TOKEN               the default persona (used when a persona has no token)
    ORGFORGE_ASANA_TOKEN__ADA_PARK     Ada Park's own token: her comments are hers

A persona's name is the person's Asana name upper-cased with non-alphanumerics as ``_``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from orgforge.config import ASANA_TOKEN_ENV

DEFAULT = "DEFAULT"


def persona_name(name: str) -> str:
    """'Ada Park' → 'ADA_PARK' (the ORGFORGE_ASANA_TOKEN__ suffix)."""
    return re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_")


def env_name(persona: str) -> str:
    return ASANA_TOKEN_ENV if persona == DEFAULT else f"{ASANA_TOKEN_ENV}__{persona}"


@dataclass
class Tokens:
    by_persona: dict[str, str] = field(default_factory=dict)  # DEFAULT and named personas

    @property
    def default(self) -> str | None:
        return self.by_persona.get(DEFAULT)

    def personas(self) -> list[str]:
        return [p for p in self.by_persona if p != DEFAULT]

    def for_persona(self, persona: str | None) -> tuple[str, str | None]:
        """(the persona whose token is used, the token): the persona's own, else the default."""
        if persona and persona in self.by_persona:
            return persona, self.by_persona[persona]
        return DEFAULT, self.default

    def __repr__(self) -> str:  # never show a token
        return f"Tokens(personas={sorted(self.by_persona)})"


def load_tokens(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Tokens:
    """Tokens from ``.env`` in ``cwd`` and then the process environment (which wins)."""
    values: dict[str, str] = {}
    dotenv_path = (cwd or Path()) / ".env"
    if dotenv_path.is_file():
        from dotenv import dotenv_values

        values.update({k: v for k, v in dotenv_values(dotenv_path).items() if v})
    values.update(os.environ if environ is None else environ)
    tokens = Tokens()
    for name, value in values.items():
        if not value:
            continue
        if name == ASANA_TOKEN_ENV:
            tokens.by_persona[DEFAULT] = value.strip()
        elif name.startswith(ASANA_TOKEN_ENV + "__"):
            suffix = persona_name(name[len(ASANA_TOKEN_ENV) + 2 :])
            if suffix:
                tokens.by_persona[suffix] = value.strip()
    return tokens
