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

from orgforge.errors import ConfigError, OrgforgeError, RunError

if TYPE_CHECKING:
    # each function imports what it runs, so `stats` never loads the generator
    from orgforge.checks import CheckResult
    from orgforge.clock import Clock
    from orgforge.config import Config  # nor `export` pydantic, which the config module loads
    from orgforge.generate.pipeline import GenerateResult


_OPTIONS = {
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
"""Library option name → the setting it overrides (the same as the CLI flag of that name)."""


def resolve(
    config: Config | str | Path | None = None,
    *,
    cwd: Path | None = None,
    settings: dict[str, Any] | None = None,
    clock: Clock | None = None,
    **flags: Any,
) -> Config:
    """A Config from a Config, a YAML path or the lookup order, with flag-style overrides.

    ``settings`` sets more values by dotted path (``{"salesforce.auth": "jwt"}``). ``clock``:
    what "today" is when ``as_of`` is unset (a given Config keeps its own otherwise)."""
    from orgforge.config import Config

    resolved = _resolve(config, cwd, settings, flags)
    if clock is not None:
        return resolved.with_clock(clock)
    if isinstance(config, Config):
        return resolved.with_clock(config.clock)
    return resolved


def _resolve(
    config: Config | str | Path | None,
    cwd: Path | None,
    settings: dict[str, Any] | None,
    flags: dict[str, Any],
) -> Config:
    from orgforge.config import PRESETS, Config, load_config, validate_config

    dotted = _dotted(flags)
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


def _dotted(options: dict[str, Any]) -> dict[str, Any]:
    unknown = [k for k in options if k not in _OPTIONS]
    if unknown:
        raise ConfigError(f"unknown option {unknown[0]!r}", f"Options: {', '.join(_OPTIONS)}.")
    return {_OPTIONS[k]: v for k, v in options.items() if v is not None}


def config_lookup(
    key: str, config: str | Path | None = None, *, cwd: Path | None = None, **options: Any
) -> dict[str, Any]:
    """Where setting ``key`` gets its value: default, file and line, env var or option/flag."""
    from orgforge.config import lookup

    return lookup(key, config, flags=_dotted(options), cwd=cwd)


def generate(
    config: Config | str | Path | None = None,
    *,
    industries: list[str] | None = None,
    packs: list[str] | None = None,
    progress: Callable[[int], None] | None = None,
    text_progress: Callable[[int], None] | None = None,
    clock: Clock | None = None,
    **options: Any,
) -> GenerateResult:
    """Generate (or bring up to date) a world; export it too when ``out`` is given.

    ``packs`` adds industry pack files to the config's (``--pack``). ``text_progress`` is
    called with the number of text items done (LLM engine only). The export is part of the
    run: if it fails, the run log says the run failed and what the world holds. ``clock``:
    "today" when there is no as-of day, and the run's and world's timestamps.
    """
    from orgforge.content import engine_for
    from orgforge.generate.pipeline import generate as run
    from orgforge.plugins import content_engine

    resolved = resolve(config, clock=clock, **options)
    if packs:
        resolved.generate.packs = [*resolved.generate.packs, *packs]
    # An inline engine (offline) is made by the generator itself, inside its workers.
    engine = None
    if not content_engine(resolved.content.engine).inline:
        engine = engine_for(resolved, progress=text_progress)
    after = None
    if resolved.export.out:
        from orgforge.world.runlog import check_writable_dir

        out, fmt = Path(resolved.export.out), resolved.export.format
        check_writable_dir(out, "--out")  # before the first write, like every bad input
        exporter = _target_operation("files", "export")

        def after(world: Any, log: Any) -> str:
            exporter(world, out, fmt)
            if log is not None:
                log.event("export.finished", out=str(out), format=fmt)
            return str(out)

    try:
        return run(resolved, industries=industries, engine=engine, progress=progress, after=after)
    finally:
        close = getattr(engine, "close", None)
        if close is not None:
            close()


def generate_preview(
    config: Config | str | Path | None = None,
    *,
    industries: list[str] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """What ``generate`` would write, checked the way generate checks it; writes nothing.

    The config, packs and industries are validated as a run would; the counts are the recipe's
    totals: exact for what the recipe sets, and for what a run draws (EventRelations, History
    rows) counted on the first accounts' structure — exact when those are all of them, else
    scaled (and listed in ``estimated``). ``up_to_date`` says the world already holds this recipe.
    """
    from orgforge.config import dump
    from orgforge.generate.pipeline import fingerprint
    from orgforge.packs import load_packs, resolve_industries
    from orgforge.schema import salesforce as sf
    from orgforge.world.store import World

    resolved = resolve(config, **options)
    packs = load_packs(resolved.generate.packs)
    chosen = resolve_industries(packs, resolved.generate.industries, industries)
    from orgforge.generate.plan import make_plan

    plan = make_plan(resolved, industries)  # the team: how many users and roles a run writes
    counts = {"UserRole": len(plan.team.roles), "User": len(plan.users)}
    counts.update(
        {
            name: resolved.generate.count(name)
            for name in sf.GENERATED
            if name not in ("User", "UserRole")
        }
    )
    from orgforge.generate.requests import drawn_counts

    drawn, exact, shared = drawn_counts(plan)  # the same plan: industries included
    history = drawn.pop("History")
    counts.update(drawn)
    counts.update(shared)
    existing: dict[str, int] = {}
    up_to_date = False
    world_file = Path(resolved.world)
    if "://" in resolved.world or world_file.exists():
        with World(resolved.world, create=False) as handle:
            existing = handle.counts()
            up_to_date = handle.get_meta("fingerprint") == fingerprint(resolved)
    return {
        "world": resolved.world,
        "seed": resolved.seed,
        "as_of": dump(resolved)["as_of"],
        "industries": list(chosen),
        "counts": {name: n for name, n in counts.items() if n},
        "records": sum(counts.values()),
        "history_rows": history,
        "estimated": [] if exact else [*drawn, "History"],  # scaled from the first accounts
        "existing": existing,
        "up_to_date": up_to_date,
    }


def content_fill(
    config: Config | str | Path | None = None,
    *,
    kinds: list[str] | None = None,
    progress: Callable[[int], None] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Re-fill the text fields of an existing world with the configured engine (LLM default)."""
    from orgforge.generate.refill import fill_world

    resolved = resolve(config, **options)
    return fill_world(resolved, kinds=kinds, progress=progress)


def content_estimate(config: Config | str | Path | None = None, **options: Any) -> dict[str, Any]:
    """Calls, tokens and cost an LLM run of this config would take; calls nothing."""
    from orgforge.config import BLOCK_SIZE
    from orgforge.content.estimate import estimate
    from orgforge.generate.pipeline import CHUNK_BLOCKS
    from orgforge.generate.requests import sample_requests

    resolved = resolve(config, **options)
    requests, sampled = sample_requests(resolved)
    return estimate(resolved, requests, sampled, CHUNK_BLOCKS * BLOCK_SIZE)


def export(
    world: str | Path,
    out: str | Path,
    format: str = "csv",
    progress: Callable[[int], None] | None = None,
    *,
    dry_run: bool = False,
) -> dict[str, int]:
    """Export a world as load-ready CSV or full-fidelity JSON/Parquet; returns counts (per
    object, then History rows and scorecards). ``dry_run``: the same counts, nothing written."""
    from orgforge.world.store import World

    with World(world, create=False) as handle:
        if dry_run:
            from orgforge.targets.files import planned_counts

            return planned_counts(handle, format)
        return _target_operation("files", "export")(handle, out, format, progress)


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


def text_stats(world: str | Path) -> list[dict[str, Any]]:
    """Per long text field of a world: distinct values and sentences (%), and the sentence
    said most often with how many values say it (``orgforge stats --text``)."""
    from orgforge.metrics.text_stats import text_stats as run
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
    exact: bool = False,
    dry_run: bool = False,
    clock: Clock | None = None,
) -> Any:
    """Move every date and datetime of a world's records and history, and its as-of date, by
    one delta: ``days``, or from the world's as-of to ``to`` (a date or "today"; whole weeks
    back from it unless ``exact``, so meetings keep their weekdays). Returns a ShiftResult;
    ``dry_run``: what would move, nothing written (no run directory either).

    "today" is ``today`` if given, else the UTC day on ``clock`` (the real one by default),
    which also stamps the run and the change log.
    The next ``load`` pushes the moved dates as updates (same Ids)."""
    from orgforge.clock import REAL
    from orgforge.generate.pools import account_zones
    from orgforge.world.runlog import RunLog
    from orgforge.world.shift import delta_days
    from orgforge.world.shift import shift as run
    from orgforge.world.store import World

    clock = clock or REAL
    with World(world, create=False, clock=clock) as handle:
        delta = delta_days(handle, days=days, to=to, today=today or clock.today(), exact=exact)
        zones = account_zones(handle)
        if dry_run:
            return run(handle, delta, zones=zones, dry_run=True)
        config = {"world": str(world), "days": delta}
        with RunLog(runs_dir or "runs", "shift", config, handle, clock=clock) as log:
            result = run(handle, delta, log.run_id, zones=zones)
            log.finish("ok", result.as_dict())
            return result


def reset_world(world: str | Path) -> dict[str, int]:
    """Remove every record, run, change and cache entry of a world; returns what was removed."""
    from orgforge.world.store import World

    with World(world, create=False, writer="world reset") as handle:
        return handle.reset()


# -- remote targets (registered plugins: salesforce and asana built in) -----------------------


def plugins() -> list[dict[str, Any]]:
    """Every registered target, text engine, LLM provider, feed and workload, and its plugin."""
    from orgforge.plugins import listing

    return listing()


def _target_operation(target: str, operation: str) -> Callable[..., Any]:
    from orgforge.plugins import target as lookup

    return getattr(lookup(target, operation), operation)


def _target_config(
    target: str, config: Config | str | Path | None, options: dict[str, Any]
) -> Config:
    """The resolved config, with the target's own flags (``org=``, ``instance_url=``…)."""
    from orgforge.config import Config
    from orgforge.plugins import target as lookup

    flags = lookup(target).flags
    target_flags = {k: options.pop(k) for k in list(options) if k in flags}
    resolved = resolve(config, **options)
    updates = {flags[k]: v for k, v in target_flags.items() if v is not None}
    if updates:
        from pydantic import ValidationError

        data = resolved.model_dump()
        for path, value in updates.items():
            *parents, leaf = path.split(".")
            node = data
            for part in parents:
                node = node[part]
            node[leaf] = value
        try:
            resolved = Config.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            name = str(first["loc"][-1])
            section = ".".join(str(p) for p in first["loc"])
            raise ConfigError(
                f"flag --{name.replace('_', '-')}: {section}: {first['msg']} "
                f"(got {first.get('input')!r})",
                "Use one of the values listed above.",
            ) from None
    return resolved


def _with_api(options: dict[str, Any], api: str | None) -> dict[str, Any]:
    """``api=`` is the Salesforce target's setting: passed on only when given."""
    return {**options, "api": api} if api is not None else dict(options)


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


def load_failure(report: Any, run_dir: str | None, *, dry_run: bool = False) -> RunError | None:
    """The error a load ends with (exit 1), or None: any record not loaded fails the run."""
    from orgforge.errors import TargetError

    if dry_run or not report.failed:
        return None
    return TargetError(
        f"load: {report.failed:,} records were not loaded (failed or skipped)",
        f"See {run_dir}/errors.jsonl; fix the cause and run `orgforge load` again "
        "(only what is missing is sent).",
    )


def validate_failure(report: Any) -> OrgforgeError | None:
    """The error a validate ends with (exit 2: the org can't take the load), or None.

    A target's validate report says it itself (``report.failure()``); one that only has
    ``ok`` gets a generic error."""
    from orgforge.errors import TargetError

    failure = getattr(report, "failure", None)
    if failure is not None:
        return failure()
    if getattr(report, "ok", True):
        return None
    return TargetError("validate: the target reported problems", "See the report above.")


def cleanup_failure(report: Any, run_dir: str | None) -> RunError | None:
    """The error a cleanup ends with (exit 1), or None when every record went."""
    from orgforge.errors import TargetError

    failed = sum(report.failed.values())
    if not failed:
        return None
    return TargetError(
        f"cleanup: {failed:,} records could not be deleted",
        f"See {run_dir}/errors.jsonl; run cleanup again once the cause is fixed.",
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
    run = _target_operation(target, "validate")
    # a bad --api or --from manifest fails here, before connecting
    resolved = _target_config(target, config, _with_api(options, api))
    _check_from(from_dir)
    return run(resolved, from_dir=from_dir, api=api, session=session, env=env)


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

    Returns ``(LoadReport, run_dir)``; :func:`load_failure` says whether it failed."""
    run = _target_operation(target, "load")
    resolved = _target_config(target, config, _with_api(options, api))  # before connecting
    _check_from(from_dir)
    return run(
        resolved,
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
    run_cleanup = _target_operation(target, "cleanup")
    resolved = _target_config(target, config, options)
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
    run = _target_operation(target, "smoke")
    return run(_target_config(target, config, options), session=session, env=env)


# -- Asana target -----------------------------------------------------------------------------


def _asana(operation: str, config: Any, options: dict[str, Any], **arguments: Any) -> Any:
    """The registered ``asana`` target's ``operation`` on the resolved config."""
    return _target_operation("asana", operation)(resolve(config, **options), **arguments)


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
    return _asana(
        "seed",
        config,
        options,
        teams=teams,
        dry_run=dry_run,
        env=env,
        progress=progress,
        on_total=on_total,
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
    return _asana(
        "unseed",
        config,
        options,
        run_id=run,
        dry_run=dry_run,
        env=env,
        progress=progress,
        on_total=on_total,
    )


def asana_whoami(
    config: Config | str | Path | None = None, *, env: dict[str, str] | None = None, **options: Any
) -> list[dict[str, Any]]:
    """Each persona with a token and the Asana user behind it (or why its token fails)."""
    return _asana("whoami", config, options, env=env)
