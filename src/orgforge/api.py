"""The library API: one function per CLI command, with the same names and options.

    import orgforge
    result = orgforge.generate(preset="prd", seed=7, world="demo.db", out="export/")
    orgforge.export(world="demo.db", out="parquet/", format="parquet")
    report = orgforge.stats(world="demo.db")

Options not given fall back to the config lookup (``orgforge.yaml``, ``ORGFORGE_*``, defaults),
exactly as on the command line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orgforge.errors import ConfigError

if TYPE_CHECKING:
    # each function imports what it runs, so `stats` never loads the generator
    from orgforge.checks import CheckResult
    from orgforge.config import Config  # nor `export` pydantic, which the config module loads
    from orgforge.generate.pipeline import GenerateResult


def resolve(
    config: Config | str | Path | None = None, *, cwd: Path | None = None, **flags: Any
) -> Config:
    """A Config from a Config, a YAML path or the lookup order, with flag-style overrides."""
    from orgforge.config import PRESETS, Config, load_config

    mapping = {
        "seed": "seed",
        "as_of": "as_of",
        "world": "world",
        "runs_dir": "runs_dir",
        "preset": "preset",
        "accounts": "generate.accounts",
        "workers": "generate.workers",
        "text": "content.engine",
        "provider": "content.provider",
        "model": "content.model",
        "base_url": "content.base_url",
        "max_cost": "content.max_cost",
        "out": "export.out",
        "format": "export.format",
    }
    unknown = [k for k in flags if k not in mapping]
    if unknown:
        raise ConfigError(f"unknown option {unknown[0]!r}", f"Options: {', '.join(mapping)}.")
    dotted = {mapping[k]: v for k, v in flags.items() if v is not None}
    if isinstance(dotted.get("as_of"), dt.date):
        dotted["as_of"] = dotted["as_of"].isoformat()
    if isinstance(config, Config):
        data = config.model_dump()
        for path, value in dotted.items():
            target = data
            *parents, leaf = path.split(".")
            for part in parents:
                target = target[part]
            target[leaf] = value
        if "preset" in dotted and "generate.accounts" not in dotted:
            data["generate"]["accounts"] = PRESETS[dotted["preset"]]
        return Config.model_validate(data)
    return load_config(config, flags=dotted, cwd=cwd)


def generate(
    config: Config | str | Path | None = None,
    *,
    industries: list[str] | None = None,
    progress: Callable[[int], None] | None = None,
    text_progress: Callable[[int], None] | None = None,
    **options: Any,
) -> GenerateResult:
    """Generate (or bring up to date) a world; export it too when ``out`` is given.

    ``text_progress`` is called with the number of text items done (LLM engine only).
    """
    from orgforge.generate.pipeline import generate as run

    resolved = resolve(config, **options)
    engine = None
    if resolved.content.engine == "llm":
        from orgforge.content import engine_for

        engine = engine_for(resolved, progress=text_progress)
    try:
        return run(resolved, industries=industries, engine=engine, progress=progress)
    finally:
        close = getattr(engine, "close", None)
        if close is not None:
            close()


def content_fill(
    config: Config | str | Path | None = None,
    *,
    kinds: list[str] | None = None,
    progress: Callable[[int], None] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Re-fill the text fields of an existing world with the configured engine (LLM default)."""
    from orgforge.content.refill import fill_world

    resolved = resolve(config, **options)
    return fill_world(resolved, kinds=kinds, progress=progress)


def content_estimate(config: Config | str | Path | None = None, **options: Any) -> dict[str, Any]:
    """Calls, tokens and cost an LLM run of this config would take; calls nothing."""
    from orgforge.content.estimate import estimate

    return estimate(resolve(config, **options))


def export(
    world: str | Path,
    out: str | Path,
    format: str = "csv",
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Export a world as load-ready CSV or full-fidelity JSON/Parquet; returns counts."""
    from orgforge.targets.files import export as run
    from orgforge.world.store import World

    with World(world, create=False) as handle:
        return run(handle, out, format, progress)


def check(source: str | Path, rules: list[str] | None = None) -> CheckResult:
    """Run every coherence rule (or only ``rules``) on a world or an exported folder; the
    result lists each violation with its rule and record key (``orgforge check``)."""
    from orgforge.checks import check as run

    return run(source, rules)


def stats(world: str | Path) -> dict[str, Any]:
    """Counts, fill rates and distributions of a world, next to its recipe's targets."""
    from orgforge.metrics.world_stats import stats as run
    from orgforge.world.store import World

    with World(world, create=False) as handle:
        return run(handle)


def reset_world(world: str | Path) -> dict[str, int]:
    """Remove every record, run, change and cache entry of a world; returns what was removed."""
    from orgforge.world.store import World

    with World(world, create=False) as handle:
        return handle.reset()


# -- Salesforce target ------------------------------------------------------------------------

_SF_FLAGS = {
    "org": "salesforce.org",
    "instance_url": "salesforce.instance_url",
    "login_url": "salesforce.login_url",
    "username": "salesforce.username",
    "auth": "salesforce.auth",
    "api_version": "salesforce.api_version",
    "external_id": "salesforce.external_id",
}


def _sf_config(config: Config | str | Path | None, options: dict[str, Any]) -> Config:
    from orgforge.config import Config

    sf_flags = {k: options.pop(k) for k in list(options) if k in _SF_FLAGS}
    resolved = resolve(config, **options)
    updates = {_SF_FLAGS[k].split(".", 1)[1]: v for k, v in sf_flags.items() if v is not None}
    if updates:
        data = resolved.model_dump()
        data["salesforce"].update(updates)
        resolved = Config.model_validate(data)
    return resolved


def _check_target(target: str) -> None:
    if target != "salesforce":
        raise ConfigError(
            f"--target: unknown target {target!r}", "The only remote target so far: salesforce."
        )


def validate(
    config: Config | str | Path | None = None,
    *,
    target: str = "salesforce",
    from_dir: str | Path | None = None,
    api: str | None = None,
    session: Any = None,
    env: dict[str, str] | None = None,
    **options: Any,
):
    """Check an org before loading: fields, picklists, owners, required fields, API budget."""
    _check_target(target)
    from orgforge.targets.salesforce.ops import validate as run

    return run(_sf_config(config, options), from_dir=from_dir, api=api, session=session, env=env)


def load(
    config: Config | str | Path | None = None,
    *,
    target: str = "salesforce",
    from_dir: str | Path | None = None,
    api: str | None = None,
    dry_run: bool = False,
    force: bool = False,
    session: Any = None,
    env: dict[str, str] | None = None,
    progress: Callable[[str, int], None] | None = None,
    on_start: Callable[[dict[str, int]], None] | None = None,
    **options: Any,
):
    """Load the world (or an exported folder) into an org; resumable and idempotent.

    Returns ``(LoadReport, run_dir)``."""
    _check_target(target)
    from orgforge.targets.salesforce.ops import load as run

    return run(
        _sf_config(config, options),
        from_dir=from_dir,
        api=api,
        dry_run=dry_run,
        force=force,
        session=session,
        env=env,
        progress=progress,
        on_start=on_start,
    )


def cleanup(
    config: Config | str | Path | None = None,
    *,
    target: str = "salesforce",
    run: str | None = None,
    all: bool = False,
    dry_run: bool = False,
    session: Any = None,
    env: dict[str, str] | None = None,
    progress: Callable[[str, int], None] | None = None,
    **options: Any,
):
    """Delete exactly the records orgforge created in an org. Returns ``(report, run_dir)``."""
    _check_target(target)
    from orgforge.targets.salesforce.ops import cleanup as run_cleanup

    return run_cleanup(
        _sf_config(config, options),
        run_id=run,
        everything=all,
        dry_run=dry_run,
        session=session,
        env=env,
        progress=progress,
    )


def smoke(
    config: Config | str | Path | None = None,
    *,
    target: str = "salesforce",
    session: Any = None,
    env: dict[str, str] | None = None,
    **options: Any,
):
    """Create, read and delete one record in an org; returns timings."""
    _check_target(target)
    from orgforge.targets.salesforce.ops import smoke as run

    return run(_sf_config(config, options), session=session, env=env)
