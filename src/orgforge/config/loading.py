"""Resolving a Config: defaults < YAML file < .env/environment < flags, with errors that name
their source (file and line, variable, flag); and looking up where one setting comes from.

Re-exported by :mod:`orgforge.config`; import from there.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from orgforge.config.models import (
    ASANA_TOKEN_ENV,
    DEFAULT_CONFIG_FILE,
    ENV_PREFIX,
    PRESETS,
    WEB_TOKEN_ENV,
    Config,
)
from orgforge.errors import ConfigError
from orgforge.inputs import check_path, load_yaml, read_text, yaml_value
from orgforge.redact import masked
from orgforge.yamlutil import line_of

# ---------------------------------------------------------------------------------------------
# Resolution: defaults < YAML < .env/env < flags


def _deep_merge(base: dict, overlay: Mapping) -> dict:
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = value
    return base


def _set_path(target: dict, path: list[str], value: Any) -> None:
    for part in path[:-1]:
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            raise ConfigError(f"{'.'.join(path)}: {part} is not a section")
    target[path[-1]] = value


def _yaml_scalar(text: str) -> Any:
    return yaml_value(text)


class _Source:
    """Where a value came from, so errors can point at it."""

    def __init__(self) -> None:
        self.file: Path | None = None
        self.file_nodes: yaml.Node | None = None
        self.env: dict[tuple[str, ...], str] = {}
        self.flags: dict[tuple[str, ...], str] = {}
        self.dotenv: set[str] = set()  # ORGFORGE_* names read from .env (not the environment)
        self.preset: str | None = None  # set when a preset chose generate.accounts

    def describe(self, loc: tuple) -> str:
        path = tuple(str(p) for p in loc)
        for length in range(len(path), 0, -1):
            prefix = path[:length]
            if prefix in self.flags:
                return f"flag {self.flags[prefix]}"
            if prefix in self.env:
                return f"environment variable {self.env[prefix]}"
        if self.file is not None and self.file_nodes is not None:
            line = line_of(self.file_nodes, path)
            if line is not None:
                return f"{self.file}:{line}"
            return str(self.file)
        return "built-in defaults"


def read_yaml_file(path: Path) -> tuple[dict, yaml.Node | None]:
    """Read a YAML mapping; a missing, special or malformed file → ConfigError naming file and
    line (duplicate keys, deep nesting and impossible dates included, see orgforge.inputs)."""
    text = read_text(
        path, "config file", ConfigError, "Create it or drop --config to use the defaults."
    )
    data, nodes = load_yaml(text, str(path), ConfigError)
    if data is None:
        return {}, None
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}:1: the top level must be a mapping (key: value), got {type(data).__name__}"
        )
    return data, nodes


def _refuse_file_secrets(data: dict, path: Path, nodes: yaml.Node | None) -> None:
    """API keys live in the environment or .env, never in a config file that gets shared."""
    content = data.get("content")
    if isinstance(content, dict) and content.get("api_key"):
        line = line_of(nodes, ("content", "api_key")) if nodes is not None else None
        raise ConfigError(
            f"{path}:{line or 1}: content.api_key: API keys don't belong in config files",
            "Set OPENAI_API_KEY / ANTHROPIC_API_KEY / AZURE_OPENAI_API_KEY (or "
            "ORGFORGE_CONTENT__API_KEY) in the environment or .env instead.",
        )


def _env_overlay(environ: Mapping[str, str], source: _Source) -> dict:
    overlay: dict = {}
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name.startswith((ASANA_TOKEN_ENV, WEB_TOKEN_ENV)):
            continue  # tokens are secrets their readers (Asana target, web app) take themselves
        path = [p for p in name[len(ENV_PREFIX) :].lower().split("__") if p]
        if not path:
            continue
        _set_path(overlay, path, _yaml_scalar(environ[name]))
        source.env[tuple(path)] = name
    return overlay


FLAG_NAMES: dict[str, str] = {
    "seed": "--seed",
    "as_of": "--as-of",
    "world": "--world",
    "runs_dir": "--runs-dir",
    "preset": "--preset",
    "generate.accounts": "--accounts",
    "generate.workers": "--workers",
    "content.engine": "--text",
    "content.provider": "--provider",
    "content.model": "--model",
    "content.base_url": "--base-url",
    "content.max_cost": "--max-cost",
    "content.batch_size": "--batch-size",
    "export.out": "--out",
    "export.format": "--format",
    "activity.scorecards.frameworks": "--framework",
    "activity.scorecards.mode": "--scorecard-mode",
    "salesforce.org": "--org",
    "salesforce.instance_url": "--instance-url",
    "salesforce.login_url": "--login-url",
    "salesforce.username": "--username",
    "salesforce.auth": "--auth",
}
"""Setting (dotted path) → the command-line flag that sets it, for messages and lookups."""


def _gather(
    config_file: str | Path | None,
    flags: Mapping[str, Any] | None,
    environ: Mapping[str, str] | None,
    cwd: Path | None,
    layers: dict[str, dict] | None = None,
) -> tuple[dict, _Source]:
    """The merged raw settings (before validation) and where each came from.

    ``layers``, when given, receives each level's own overlay: ``file``, ``env``, ``flags``.
    """
    source = _Source()
    data: dict = {}

    # Relative paths stay relative so messages read "orgforge.yaml:3", not a long absolute path.
    base = cwd or Path()
    path = Path(config_file) if config_file else base / DEFAULT_CONFIG_FILE
    file_data: dict = {}
    if config_file or check_path(path, "config file", ConfigError) is not None:
        file_data, nodes = read_yaml_file(path)
        source.file, source.file_nodes = path, nodes
        _refuse_file_secrets(file_data, path, nodes)
        data = _deep_merge(data, copy.deepcopy(file_data))

    env: dict[str, str] = {}
    dotenv_path = base / ".env"
    if check_path(dotenv_path, ".env file", ConfigError) is not None:
        import io

        from dotenv import dotenv_values

        # Read here (regular UTF-8 file only: a FIFO or binary .env is refused, not hung on)
        dotenv_text = read_text(dotenv_path, ".env file", ConfigError)
        parsed = dotenv_values(stream=io.StringIO(dotenv_text))
        env.update({k: v for k, v in parsed.items() if v is not None})
        source.dotenv = {k for k in env if k.startswith(ENV_PREFIX)}
    process_env = os.environ if environ is None else environ
    env.update(process_env)
    source.dotenv -= set(process_env)  # the environment wins over .env
    env_overlay = _env_overlay(env, source)
    data = _deep_merge(data, copy.deepcopy(env_overlay))

    flag_overlay: dict = {}
    for dotted, value in (flags or {}).items():
        if value is None:
            continue
        path_parts = dotted.split(".")
        _set_path(flag_overlay, path_parts, value)
        source.flags[tuple(path_parts)] = FLAG_NAMES.get(
            dotted, "--" + path_parts[-1].replace("_", "-")
        )
    data = _deep_merge(data, copy.deepcopy(flag_overlay))
    if layers is not None:
        layers.update(file=file_data, env=env_overlay, flags=flag_overlay)

    # A preset sets the account count unless accounts was given at the same or a later level.
    preset = data.get("preset")
    if preset in PRESETS:
        gen = data.setdefault("generate", {})
        if isinstance(gen, dict):
            accounts_from_flag = ("generate", "accounts") in source.flags
            preset_from_flag = ("preset",) in source.flags
            if "accounts" not in gen or (preset_from_flag and not accounts_from_flag):
                gen["accounts"] = PRESETS[preset]
                source.preset = preset
    return data, source


def load_config(
    config_file: str | Path | None = None,
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Config:
    """Resolve the config from defaults, YAML, .env and environment, and flags.

    ``flags`` maps dotted paths (``"generate.accounts"``) to values; ``None`` values are
    ignored so that unset CLI options don't override anything.
    """
    data, source = _gather(config_file, flags, environ, cwd)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, source) from None


def validate_config(data: Mapping[str, Any], flag_paths: Iterable[str] = ()) -> Config:
    """``Config.model_validate`` for data already merged, with errors as load_config gives them
    (one line naming the flag of each dotted path in ``flag_paths``, e.g. ``--auth``)."""
    source = _Source()
    for dotted in flag_paths:
        parts = tuple(dotted.split("."))
        source.flags[parts] = "--" + parts[-1].replace("_", "-")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, source) from None


def _config_error(exc: ValidationError, source: _Source) -> ConfigError:
    first = exc.errors()[0]
    loc = tuple(p for p in first["loc"] if not (isinstance(p, str) and p.startswith("function")))
    field_path = ".".join(str(p) for p in loc) or "(top level)"
    where = source.describe(loc)
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = f"unknown setting {loc[-1]!r}"
        hint = "Check the spelling; `orgforge config show` lists every setting."
    elif first["type"] == "literal_error":
        hint = "Use one of the values listed above."
    else:
        hint = "Fix the value; `orgforge config show` prints the resolved settings."
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return ConfigError(f"{where}: {field_path}: {message}{more}", hint)


def dump(config: Config) -> dict:
    """The resolved config as plain data (secrets masked), as saved with every run."""
    data = config.model_dump(mode="json")
    data["as_of"] = config.today.isoformat()
    return masked(data)


# ---------------------------------------------------------------------------------------------
# Lookup: where one setting's value comes from


def _get_path(data: Any, path: tuple[str, ...]) -> tuple[bool, Any]:
    for part in path:
        if not isinstance(data, Mapping) or part not in data:
            return False, None
        data = data[part]
    return True, data


def _known_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for name, field in model.model_fields.items():
        path = (*prefix, name)
        paths.append(path)
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            paths.extend(_known_paths(annotation, path))
    return paths


def lookup(
    key: str,
    config_file: str | Path | None = None,
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> dict[str, Any]:
    """Where setting ``key`` (dotted, e.g. ``generate.accounts``) gets its value, and what it is.

    Returns ``value`` (resolved, secrets masked), ``source`` (``default``, ``preset``, ``file``,
    ``.env``, ``environment`` or ``flag``), ``where`` (``orgforge.yaml:3``, the variable, the
    flag), ``overridden`` (the lower levels that also set it, as ``[where, value]``), and
    ``env_var``/``flag``: the names that would set it. An unknown key is a ConfigError.
    """
    path = tuple(p for p in key.strip().split(".") if p)
    known = _known_paths(Config)
    if path not in known:
        close = [".".join(p) for p in known if p[-1] == (path[-1] if path else "")]
        hint = (
            f"Did you mean {', '.join(close[:3])}?"
            if close
            else "`orgforge config show` lists every setting."
        )
        raise ConfigError(f"config lookup: unknown setting {key!r}", hint)
    layers: dict[str, dict] = {}
    _data, source = _gather(config_file, flags, environ, cwd, layers)
    config = load_config(config_file, flags=flags, environ=environ, cwd=cwd)
    found, value = _get_path(dump(config), path)
    env_var = ENV_PREFIX + "__".join(path).upper()

    levels: list[tuple[str, str, Any]] = []  # (source, where, value), lowest first
    in_file, file_value = _get_path(layers.get("file", {}), path)
    if in_file:
        line = line_of(source.file_nodes, path) if source.file_nodes is not None else None
        levels.append(("file", f"{source.file}:{line}" if line else str(source.file), file_value))
    for length in range(len(path), 0, -1):
        prefix = path[:length]
        if prefix in source.env:
            name = source.env[prefix]
            _, env_value = _get_path(layers.get("env", {}), path)
            where = f".env {name}" if name in source.dotenv else f"environment variable {name}"
            levels.append((".env" if name in source.dotenv else "environment", where, env_value))
            break
    if path in source.flags:
        levels.append(("flag", f"flag {source.flags[path]}", _get_path(layers["flags"], path)[1]))
    if path == ("generate", "accounts") and source.preset:  # the preset chose the count
        preset_from = source.describe(("preset",)).replace("built-in defaults", "default")
        levels.append(("preset", f"preset {source.preset} ({preset_from})", value))
    if not levels:
        levels.append(("default", "built-in default", value))
    top_source, top_where, _top_value = levels[-1]
    return {
        "key": ".".join(path),
        "value": value if found else None,
        "source": top_source,
        "where": top_where,
        "overridden": [[where, masked(v, path[-1])] for _, where, v in reversed(levels[:-1])],
        "env_var": env_var,
        "flag": FLAG_NAMES.get(".".join(path)),
    }
