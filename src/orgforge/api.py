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

if TYPE_CHECKING:  # each function imports what it runs, so `stats` never loads the generator
    from orgforge.config import Config  # nor `export` pydantic, which the config module loads
    from orgforge.generate.pipeline import GenerateResult


def resolve(
    config: Config | str | Path | None = None,
    *,
    cwd: Path | None = None,
    settings: dict[str, Any] | None = None,
    **flags: Any,
) -> Config:
    """A Config from a Config, a YAML path or the lookup order, with flag-style overrides.

    ``settings`` sets more values by dotted path (``{"salesforce.auth": "jwt"}``)."""
    from orgforge.config import PRESETS, Config, load_config, validate_config

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
        "asana_url": "asana.url",
        "workspace": "asana.workspace",
        "tier": "asana.tier",
        "rate_limit": "asana.rate_limit",
        "tasks_per_project": "asana.tasks_per_project",
        "comments_per_task": "asana.comments_per_task",
    }
    unknown = [k for k in flags if k not in mapping]
    if unknown:
        raise ConfigError(f"unknown option {unknown[0]!r}", f"Options: {', '.join(mapping)}.")
    dotted = {mapping[k]: v for k, v in flags.items() if v is not None}
    dotted.update({k: v for k, v in (settings or {}).items() if v is not None})
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
        if dotted.get("preset") in PRESETS and "generate.accounts" not in dotted:
            data["generate"]["accounts"] = PRESETS[dotted["preset"]]
        return validate_config(data, dotted)
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


def stats(world: str | Path) -> dict[str, Any]:
    """Counts, fill rates and distributions of a world, next to its recipe's targets."""
    from orgforge.metrics.world_stats import stats as run
    from orgforge.world.store import World

    with World(world, create=False) as handle:
        return run(handle)


def shift(
    world: str | Path,
    *,
    days: int | None = None,
    to: str | None = None,
    today: Any = None,
    runs_dir: str | Path | None = None,
) -> Any:
    """Move every date and datetime of a world's records, and its as-of date, by one delta:
    ``days``, or from the world's as-of to ``to`` (a date or "today"). Returns a ShiftResult.

    The next ``load`` pushes the moved dates as updates (same Ids)."""
    import datetime as dt

    from orgforge.world.runlog import RunLog
    from orgforge.world.shift import delta_days
    from orgforge.world.shift import shift as run
    from orgforge.world.store import World

    with World(world, create=False) as handle:
        delta = delta_days(handle, days=days, to=to, today=today or dt.date.today())
        config = {"world": str(world), "days": delta}
        with RunLog(runs_dir or "runs", "shift", config, handle) as log:
            result = run(handle, delta, log.run_id)
            log.finish("ok", result.as_dict())
            return result


def reset_world(world: str | Path) -> dict[str, int]:
    """Remove every record, run, change and cache entry of a world; returns what was removed."""
    from orgforge.world.store import World

    with World(world, create=False, writer="world reset") as handle:
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
    # Salesforce flags are resolved with the rest, so a bad one (--auth magic) gets the same
    # one-line error naming the flag as any other setting.
    settings = {_SF_FLAGS[k]: options.pop(k) for k in list(options) if k in _SF_FLAGS}
    return resolve(config, settings=settings, **options)


API_MODES = ("auto", "rest", "bulk")


def _check_api(api: str | None) -> None:
    if api is not None and api not in API_MODES:
        raise ConfigError(
            f"--api: unknown API {api!r}; one of {', '.join(API_MODES)}",
            "auto picks Bulk API 2.0 for big objects and REST for the rest.",
        )


def _check_from(from_dir: str | Path | None) -> None:
    """An exported folder is read (its manifest checked) before any connection is made."""
    if from_dir is not None:
        from orgforge.targets.files import read_manifest

        read_manifest(from_dir)


def _check_cleanup_run(cfg: Config, run: str | None, everything: bool) -> None:
    """--run names a load run of this world; --run and --all don't go together."""
    if run and everything:
        raise ConfigError(
            "cleanup: give --run RUN_ID or --all, not both",
            "--run deletes what one load created; --all everything orgforge created.",
        )
    if not run:
        return
    from orgforge.world.store import World

    with World(cfg.world, create=False) as handle, handle.reading() as conn:
        row = conn.execute(
            'SELECT "command" FROM "runs" WHERE "run_id" = :run_id', {"run_id": run}
        ).fetchone()
    if row is None:
        raise ConfigError(
            f"cleanup --run {run}: no such run in world {cfg.world}",
            "`orgforge world info` lists the world's runs (load runs say `load salesforce`).",
        )
    if not str(row[0]).startswith("load"):
        raise ConfigError(
            f"cleanup --run {run}: that is a `{row[0]}` run, not a load",
            "cleanup --run deletes what one `orgforge load` created; give a load run's id.",
        )


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
    _check_api(api)
    _check_from(from_dir)
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
    prune: bool = False,
    session: Any = None,
    env: dict[str, str] | None = None,
    progress: Callable[[str, int], None] | None = None,
    on_start: Callable[[dict[str, int]], None] | None = None,
    **options: Any,
):
    """Sync the world (or an exported folder) into an org: creates, updates of changed
    fields, and with ``prune`` deletes of what the world no longer has; resumable.

    Returns ``(LoadReport, run_dir)``."""
    _check_target(target)
    _check_api(api)
    _check_from(from_dir)
    from orgforge.targets.salesforce.ops import load as run

    return run(
        _sf_config(config, options),
        from_dir=from_dir,
        api=api,
        dry_run=dry_run,
        force=force,
        prune=prune,
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

    resolved = _sf_config(config, options)
    _check_cleanup_run(resolved, run, all)
    return run_cleanup(
        resolved,
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


# -- Asana target -----------------------------------------------------------------------------


def asana_seed(
    config: Config | str | Path | None = None,
    *,
    teams: list[str] | None = None,
    dry_run: bool = False,
    env: dict[str, str] | None = None,
    progress: Callable[[str, int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    **options: Any,
):
    """Create a project per team in Asana from a template. Returns ``(report, run_dir)``.

    Options: world, runs_dir, seed, as_of, text, asana_url, workspace, tier, rate_limit,
    tasks_per_project, comments_per_task. Tokens come from ``env`` (default: the process
    environment and ``.env``): ORGFORGE_ASANA_TOKEN and ORGFORGE_ASANA_TOKEN__<PERSONA>.
    """
    from orgforge.targets.asana.ops import seed

    return seed(
        resolve(config, **options), teams=teams, dry_run=dry_run, environ=env, progress=progress
    )


def asana_cleanup(
    config: Config | str | Path | None = None,
    *,
    run: str | None = None,
    dry_run: bool = False,
    env: dict[str, str] | None = None,
    progress: Callable[[str, int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    **options: Any,
):
    """Delete exactly what orgforge created in Asana (or one run's): ``(report, run_dir)``."""
    from orgforge.targets.asana.ops import cleanup

    return cleanup(
        resolve(config, **options),
        run_id=run,
        dry_run=dry_run,
        environ=env,
        progress=progress,
        on_total=on_total,
    )


def asana_whoami(
    config: Config | str | Path | None = None, *, env: dict[str, str] | None = None, **options: Any
) -> list[dict[str, Any]]:
    """Each persona with a token and the Asana user behind it (or why its token fails)."""
    from orgforge.targets.asana.ops import whoami

    return whoami(resolve(config, **options), environ=env)
