"""`orgforge asana seed | cleanup | whoami`: the Asana target driven from a config and a world.

``seed`` plans a project per team (:mod:`orgforge.generate.asana_plan`), fills the comments'
text with the content engine, and creates what the world's sync table does not already hold,
recording each gid as it comes back. ``cleanup`` deletes exactly the objects the sync table
says orgforge created, children first, and nothing else.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orgforge.clock import REAL, Clock
from orgforge.errors import ConfigError
from orgforge.targets.asana.client import FREE_QUOTA, PAID_QUOTA, AsanaTarget
from orgforge.targets.asana.records import CASCADES, DELETE_ORDER, OBJECTS
from orgforge.targets.asana.sync import AsanaSync
from orgforge.targets.asana.tokens import DEFAULT, load_tokens, persona_name

if TYPE_CHECKING:
    from orgforge.config import Config

Progress = Callable[[str, int], None] | None


@dataclass
class AsanaReport:
    command: str
    dry_run: bool = False
    workspace: str | None = None
    planned: dict[str, int] = field(default_factory=dict)
    done: Counter[str] = field(default_factory=Counter)  # created or deleted
    already: Counter[str] = field(default_factory=Counter)  # in Asana from an earlier run
    with_parent: Counter[str] = field(default_factory=Counter)  # deleted by their parent's delete
    skipped: Counter[str] = field(default_factory=Counter)  # premium-only on a free workspace
    failed: Counter[str] = field(default_factory=Counter)
    target: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "dry_run": self.dry_run,
            "workspace": self.workspace,
            "planned": self.planned,
            "done": dict(self.done),
            "already": dict(self.already),
            "with_parent": dict(self.with_parent),
            "skipped": dict(self.skipped),
            "failed": dict(self.failed),
            "target": self.target,
            "seconds": round(self.seconds, 3),
        }


def make_target(
    config: Config,
    environ: dict[str, str] | None = None,
    clock: Clock = REAL,
) -> AsanaTarget:
    settings = config.asana
    quota = settings.rate_limit or (PAID_QUOTA if settings.tier == "paid" else FREE_QUOTA)
    return AsanaTarget(
        settings.url,
        load_tokens(environ),
        quota_per_minute=quota,
        share=settings.rate_share,
        max_retries=settings.max_retries,
        timeout=settings.timeout,
        clock=clock,
    )


def workspace_of(target: AsanaTarget, wanted: str | None) -> str:
    me = target.me()
    spaces = me.get("workspaces") or target.workspaces()
    if not spaces:
        raise ConfigError(f"Asana: {me.get('name')} is in no workspace", "Join a workspace first.")
    if wanted is None:
        return str(spaces[0]["gid"])
    for space in spaces:
        if wanted in (space["gid"], space.get("name")):
            return str(space["gid"])
    raise ConfigError(
        f"asana.workspace {wanted}: not one of {me.get('name')}'s workspaces",
        "Known: " + ", ".join(f"{s['gid']} ({s.get('name')})" for s in spaces),
    )


def whoami(config: Config, environ: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Each persona with a token: the Asana user behind it, or why the token does not work."""
    target = make_target(config, environ)
    out = []
    for persona, answer in target.check_tokens().items():
        if isinstance(answer, str):
            out.append({"persona": persona, "ok": False, "error": answer})
        else:
            name = answer.get("name", "")
            out.append(
                {
                    "persona": persona,
                    "ok": True,
                    "gid": answer["gid"],
                    "name": name,
                    "email": answer.get("email"),
                    "matches_name": persona == DEFAULT or persona == persona_name(name),
                }
            )
    return out


def seed(
    config: Config,
    *,
    teams: list[str] | None = None,
    dry_run: bool = False,
    environ: dict[str, str] | None = None,
    progress: Progress = None,
    target: AsanaTarget | None = None,
    on_total: Callable[[int], None] | None = None,
    clock: Clock = REAL,
) -> tuple[AsanaReport, str | None]:
    """Create a project per team (sections, tasks, subtasks, comments, status, tags)."""
    from orgforge.content import engine_for
    from orgforge.generate.asana_plan import Member, Team, plan_seed
    from orgforge.world.runlog import RunLog, check_writable_dir
    from orgforge.world.store import World, sqlite_file

    started = clock.monotonic()
    report = AsanaReport("asana seed", dry_run=dry_run)
    target = target or make_target(config, environ, clock)
    if not dry_run:
        check_writable_dir(__import__("pathlib").Path(config.runs_dir), "--runs-dir")
    workspace = workspace_of(target, config.asana.workspace)
    report.workspace = workspace
    known = target.teams(workspace)
    if teams:
        names = {t["name"].lower(): t for t in known}
        missing = [n for n in teams if n.lower() not in names]
        if missing:
            raise ConfigError(
                f"--team {missing[0]}: no such team in workspace {workspace}",
                "Teams: " + ", ".join(t["name"] for t in known),
            )
        known = [names[n.lower()] for n in teams]
    plan_teams = []
    for team in known:
        members = tuple(
            Member(str(u["gid"]), u.get("name") or u["gid"], persona_name(u.get("name") or ""))
            for u in target.team_members(team["gid"])
        )
        plan_teams.append(Team(str(team["gid"]), team["name"], members))
    plan = plan_seed(
        plan_teams,
        workspace,
        as_of=config.today,
        seed=config.seed,
        tasks_per_project=config.asana.tasks_per_project,
        comments_per_task=config.asana.comments_per_task,
        custom_fields=target.custom_fields(workspace),
    )
    report.planned = plan.counts()

    if dry_run:  # count against the world if there is one; never create it
        location = sqlite_file(config.world)
        gids = {}
        if location is None or location.exists():
            with World(config.world, create=False) as existing:
                gids = AsanaSync(existing).gids()
        for record in plan.records:
            (report.already if record.key in gids else report.done)[record.object] += 1
        report.seconds = clock.monotonic() - started
        report.target = target.report.as_dict()
        return report, None

    world = World(config.world, writer="asana seed")
    try:
        sync = AsanaSync(world)
        gids = sync.gids()
        todo = [r for r in plan.records if r.key not in gids]
        for record in plan.records:
            if record.key in gids:
                report.already[record.object] += 1
        wanted = {id(r) for r in todo}
        texts = [(i, name, req) for i, name, req in plan.texts if id(plan.records[i]) in wanted]
        if texts:
            engine = engine_for(config, world=world)
            try:
                filled = engine.fill([req for _, _, req in texts])
            finally:
                engine.close()
            for (i, name, _), text in zip(texts, filled, strict=True):
                plan.records[i].values[name] = text
        todo.sort(key=lambda r: OBJECTS.index(r.object))  # parents first, stable otherwise
        if on_total:
            on_total(len(todo))
        with RunLog(config.runs_dir, "asana seed", _config_dump(config), world) as log:
            log.event("asana.plan", workspace=workspace, planned=report.planned)
            for record in todo:
                result = target.create_one(record, gids)
                if result.ok:
                    gids[record.key] = result.remote_id  # type: ignore[assignment]
                    sync.store(result, "ok", log.run_id)
                    report.done[record.object] += 1
                elif result.error is not None and result.error.code == "PAYMENT_REQUIRED":
                    # Premium-only on this workspace: skipped and reported, not a failure.
                    sync.store(result, "skipped", log.run_id)
                    report.skipped[record.object] += 1
                    log.event("asana.feature_skipped", key=record.key, features=["custom_fields"])
                else:
                    assert result.error is not None
                    sync.store(result, "error", log.run_id)
                    report.failed[record.object] += 1
                    log.error(
                        "asana.create",
                        key=record.key,
                        object=record.object,
                        persona=result.extra.get("acted_as"),
                        **result.error.as_dict(),
                    )
                if result.extra.get("skipped"):
                    log.event(
                        "asana.feature_skipped", key=record.key, features=result.extra["skipped"]
                    )
                if progress:
                    progress(record.object, 1)
            report.target = target.report.as_dict()
            for persona, message in target.report.invalid_tokens.items():
                log.event("asana.token_invalid", persona=persona, message=message)
            report.seconds = clock.monotonic() - started
            log.finish("failed" if report.failed else "ok", report.as_dict())
            return report, str(log.dir)
    finally:
        world.close()


def cleanup(
    config: Config,
    *,
    run_id: str | None = None,
    dry_run: bool = False,
    environ: dict[str, str] | None = None,
    progress: Progress = None,
    target: AsanaTarget | None = None,
    on_total: Callable[[int], None] | None = None,
    clock: Clock = REAL,
) -> tuple[AsanaReport, str | None]:
    """Delete exactly what orgforge created (the sync table's 'ok' rows), children first."""
    from pathlib import Path

    from orgforge.world.runlog import RunLog, check_writable_dir
    from orgforge.world.store import World

    started = clock.monotonic()
    report = AsanaReport("asana cleanup", dry_run=dry_run)
    world = World(config.world, create=False, writer=None if dry_run else "asana cleanup")
    try:
        sync = AsanaSync(world)
        rows = sync.rows("ok", run_id)
        keys = {r["key"] for r in rows}
        # A comment goes with its task and a section with its project: no request of their own.
        cascaded = {
            r["key"] for r in rows if r["object"] in CASCADES and r["key"].rsplit("/", 1)[0] in keys
        }
        for kind in DELETE_ORDER:
            count = sum(1 for r in rows if r["object"] == kind)
            if count:
                report.planned[kind] = count
        if dry_run:
            for r in rows:
                (report.with_parent if r["key"] in cascaded else report.done)[r["object"]] += 1
            report.seconds = clock.monotonic() - started
            return report, None
        check_writable_dir(Path(config.runs_dir), "--runs-dir")
        target = target or make_target(config, environ, clock)
        if on_total:
            on_total(len(rows) - len(cascaded))
        deleted: set[str] = set()
        with RunLog(config.runs_dir, "asana cleanup", _config_dump(config), world) as log:
            for kind in DELETE_ORDER:
                batch = [r for r in rows if r["object"] == kind and r["key"] not in cascaded]
                for row in batch:
                    (result,) = target.delete(kind, [row["remote_id"]])
                    if result.ok:
                        sync.mark(row["key"], "deleted", log.run_id)
                        deleted.add(row["key"])
                        report.done[kind] += 1
                    else:
                        assert result.error is not None
                        report.failed[kind] += 1
                        log.error(
                            "asana.delete", key=row["key"], object=kind, **result.error.as_dict()
                        )
                    if progress:
                        progress(kind, 1)
            for row in rows:
                if row["key"] in cascaded:
                    if row["key"].rsplit("/", 1)[0] in deleted:
                        sync.mark(row["key"], "deleted", log.run_id)
                        report.with_parent[row["object"]] += 1
                    else:
                        report.failed[row["object"]] += 1
                        log.error(
                            "asana.delete",
                            key=row["key"],
                            object=row["object"],
                            code="PARENT_NOT_DELETED",
                            message="kept: its parent could not be deleted",
                        )
            report.target = target.report.as_dict()
            report.seconds = clock.monotonic() - started
            log.finish("failed" if report.failed else "ok", report.as_dict())
            return report, str(log.dir)
    finally:
        world.close()


def _config_dump(config: Config) -> dict[str, Any]:
    from orgforge.config import dump

    return dump(config)
