"""Options shared by command groups, and the one way a command resolves its config."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from orgforge.config import Config, load_config

ConfigOpt = Annotated[
    str | None,
    typer.Option("--config", "-c", help="YAML config file (default ./orgforge.yaml if present)."),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary table.")]
WorldOpt = Annotated[
    str | None,
    typer.Option("--world", "-w", help="World file or SQLAlchemy URL (default ./orgforge.db)."),
]


def load(config_file: str | None, flags: dict[str, Any]) -> Config:
    """Resolve the config: defaults < YAML < .env/env < these flags (see orgforge.config)."""
    return load_config(config_file, flags=flags)
