"""Token prices per provider and model (USD per 1M tokens), from ``prices.yaml`` or the user's."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from orgforge.errors import ConfigError


@dataclass(frozen=True)
class Price:
    input: float  # USD per 1M input tokens
    output: float  # USD per 1M output tokens

    def cost(self, input_tokens: float, output_tokens: float) -> float:
        return (input_tokens * self.input + output_tokens * self.output) / 1_000_000


def _read(text: str, source: str) -> dict[str, dict[str, Price]]:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"prices file {source}: malformed YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"prices file {source}: expected provider: {{model: {{input, output}}}}")
    table: dict[str, dict[str, Price]] = {}
    for provider, models in data.items():
        if not isinstance(models, dict):
            raise ConfigError(f"prices file {source}: {provider}: expected a mapping of models")
        for model, entry in models.items():
            try:
                price = Price(float(entry["input"]), float(entry["output"]))
            except (TypeError, KeyError, ValueError):
                raise ConfigError(
                    f"prices file {source}: {provider}.{model}: needs input and output numbers",
                    "Example: gpt-4o-mini: {input: 0.15, output: 0.60}  (USD per 1M tokens)",
                ) from None
            table.setdefault(str(provider), {})[str(model)] = price
    return table


def load_prices(user_file: str | Path | None = None) -> dict[str, dict[str, Price]]:
    """Built-in prices, with the user's file (same shape) merged over them."""
    text = (resources.files("orgforge.content") / "prices.yaml").read_text("utf-8")
    table = _read(text, "builtin:prices.yaml")
    if user_file:
        from orgforge.inputs import load_yaml, read_text

        path = Path(user_file).expanduser()
        # regular UTF-8 files only; duplicate keys and deep nesting refused with file and line
        user_text = read_text(path, "content.prices_file", ConfigError)
        load_yaml(user_text, str(path), ConfigError)
        for provider, models in _read(user_text, str(path)).items():
            table.setdefault(provider, {}).update(models)
    return table


def price_for(table: dict[str, dict[str, Price]], provider: str, model: str) -> Price | None:
    """The longest model-name prefix listed for the provider; None when the model is unknown."""
    models = table.get(provider, {})
    best = None
    for name, price in models.items():
        if name != "*" and model.startswith(name) and (best is None or len(name) > len(best[0])):
            best = (name, price)
    if best is not None:
        return best[1]
    return models.get("*")
