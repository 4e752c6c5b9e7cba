"""Re-fill the text of an existing world (``orgforge content fill``).

It lives with the generator, not in content/: it regenerates structure, and content/ never
imports the generator (the generator depends on content's contract and engines).

Text requests carry context (company, stage, contact…) that the world does not store, so the
structure is regenerated from the recipe of the world's last successful ``generate`` run (same
seed, as_of, settings: byte-identical by design) and checked against the stored accounts. The
requests are filled by the configured engine and only text fields are written; every changed
record gets an ``update`` row in the world's change log naming its fields.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orgforge.config import Config, dump
from orgforge.content.contract import KINDS, ContentEngine, check_kinds
from orgforge.errors import WorldError
from orgforge.world.runlog import check_writable_dir, open_run
from orgforge.world.store import World


def _recipe(world: World, config: Config) -> tuple[Config, list[str] | None]:
    """The structure config of the world's last good generate run, with today's content."""
    runs = [r for r in world.runs(limit=1000) if r["command"] == "generate" and r["status"] == "ok"]
    if not runs:
        raise WorldError(
            f"world {world.location} has no successful generate run to re-fill",
            "Generate it first: orgforge generate --world PATH",
        )
    stored = json.loads(runs[0]["config"] or "{}")
    resolved = stored.pop("industries_resolved", None) or {}
    data = {
        **{k: stored[k] for k in ("seed", "as_of", "preset", "generate") if k in stored},
        "world": config.world,
        "runs_dir": config.runs_dir,
        "content": config.content.model_dump(),
    }
    try:
        recipe = Config.model_validate(data)
    except Exception as exc:
        raise WorldError(
            f"world {world.location}: the recipe of run {runs[0]['run_id']} can't be read ({exc})"
        ) from None
    only = None
    if recipe.generate.industries is None and resolved:
        from orgforge.packs import load_packs

        if set(resolved) != set(load_packs(recipe.generate.packs)):
            only = list(resolved)  # generated with --industries
    return recipe, only


PLACED_BY_CALENDAR = {"Event": ("StartDateTime", "EndDateTime", "ActivityDateTime")}


def _same_structure(world: World, plan: Any, rows: dict, lo: int, hi: int) -> None:
    """Refuse to write text onto records whose structure differs from the regenerated one."""
    from orgforge.schema import salesforce as sf
    from orgforge.world import tables as t

    for name, records in rows.items():
        if name not in sf.BY_NAME:  # the History table: no text
            continue
        text = {f.name for f in sf.BY_NAME[name].text_fields}
        # an event's time is placed in the calendars by the world's writer, after the block
        text |= set(PLACED_BY_CALENDAR.get(name, ()))
        columns = [c for c in plan.columns[name] if c not in text]
        table = t.RECORD_TABLES[name]
        keys = [r["key"] for r in records]
        stored = {
            row[0]: tuple(row)
            for row in world.iter_rows(name, columns, where=table.c.key.in_(keys))
        }
        for record in records:
            old = stored.get(record["key"])
            if old is not None and old != tuple(record.get(c) for c in columns):
                raise WorldError(
                    f"world {world.location}: {record['key']} differs from the recipe of its last "
                    f"generate run (accounts {lo}-{hi - 1}); its text can't be re-filled safely",
                    "Run orgforge generate again on this world, then re-fill.",
                )


def _message_updates(messages, wanted: set[str]) -> list[tuple[str, str, str]]:
    """The EmailMessage copies of the Task text filled this time (generate/emails.py): Subject
    with task.subject; TextBody with task.description (a sparse task has none, nor has its
    message)."""
    out = []
    for message in messages:
        task = message["_task"]
        if "task.subject" in wanted:
            out.append((message["key"], "Subject", message["Subject"]))
        if "task.description" in wanted and task["Description"] is not None:
            out.append((message["key"], "TextBody", message["TextBody"]))
    return out


def fill_world(
    config: Config,
    *,
    kinds: list[str] | None = None,
    progress: Callable[[int], None] | None = None,
    engine: ContentEngine | None = None,
    write_run: bool = True,
) -> dict[str, Any]:
    """Fill the text fields of ``config.world`` (optionally only ``kinds``); return a summary."""
    from orgforge.content import engine_for
    from orgforge.generate.accounts import BlockGenerator, BlockResult
    from orgforge.generate.names import Namer
    from orgforge.generate.pipeline import _account_range, _chunks, _jobs, apply_text  # same pkg
    from orgforge.generate.plan import make_plan
    from orgforge.world import tables as t

    wanted = set(check_kinds(kinds) or KINDS)
    if write_run:
        check_writable_dir(Path(config.runs_dir), "runs directory")
    with World(config.world, create=False, writer="content fill" if write_run else None) as world:
        recipe, only = _recipe(world, config)
        plan = make_plan(recipe, only)
        if plan.accounts != world.max_account_idx() + 1:
            raise WorldError(
                f"world {world.location} holds {world.max_account_idx() + 1} accounts but its "
                f"last generate run made {plan.accounts}",
                "Run orgforge generate again on this world, then re-fill.",
            )
        engine = engine or engine_for(config, world=world, progress=progress)
        try:
            with open_run(
                config.runs_dir, "content fill", dump(config), world, enabled=write_run
            ) as log:
                updated: dict[str, int] = {}
                requests_done = 0
                namer = Namer(plan)
                generator = BlockGenerator(plan)
                chunks = _chunks(plan, 0)
                cases = t.RECORD_TABLES["Case"]
                for blocks, job in zip(chunks, _jobs(plan, chunks, namer), strict=True):
                    lo, hi = _account_range(plan, blocks)
                    chunk = BlockResult()
                    for block in blocks:
                        part = generator.block(block, job.names, job.industries[block])
                        chunk.requests.extend(part.requests)
                        _same_structure(world, plan, part.rows, lo, hi)
                        # messages show their Task's text: copied again once it is re-filled
                        chunk.rows.setdefault("EmailMessage", []).extend(
                            part.rows.get("EmailMessage", ())
                        )
                    stored_subjects = dict(
                        world.iter_rows(
                            "Case",
                            ["key", "Subject"],
                            where=cases.c.account_idx.between(lo, hi - 1),
                        )
                    )
                    filled = apply_text(chunk, engine, kinds=wanted, subjects=stored_subjects)
                    updates = [(record["key"], name, record[name]) for record, name, _ in filled]
                    updates += _message_updates(chunk.rows.get("EmailMessage", ()), wanted)
                    requests_done += len(filled)
                    run_id = log.run_id if log else None
                    for name, n in world.update_text(updates, run_id).items():
                        updated[name] = updated.get(name, 0) + n
                    if log:
                        log.event("chunk.filled", accounts=[lo, hi], requests=len(filled))
                summary = {
                    "world": world.location,
                    "kinds": sorted(wanted),
                    "requests": requests_done,
                    "updated": updated,
                    "text": {"engine": engine.name, **engine.stats()},
                }
                if log is not None:
                    summary["run_id"], summary["run_dir"] = log.run_id, str(log.dir)
                    log.finish("ok", summary)
                return summary
        finally:
            close = getattr(engine, "close", None)
            if close is not None:
                close()
