"""Background operations: generate, load, validate, cleanup and activity, started from the web.

Each operation is a row of the world's ``web_ops`` table (id, kind, parameters without secrets,
state, progress, run directory, result) and, while it runs, a worker thread calling the same
library function the CLI calls (``orgforge.generate``, ``orgforge.load`` …) with a progress
callback. Progress lives in memory while the operation runs (the streams read it there) and is
written to the row when it ends, so a restarted server lists every finished operation; one it
was running when it stopped is marked failed on start-up (its run log says what was written).

Cancelling is cooperative: the next progress callback raises :class:`Cancelled`, which the
library's run log records like any failure, so nothing is left half-described.

States: ``running`` → ``ok | failed | cancelled``.
"""

from __future__ import annotations

import json
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orgforge.clock import REAL, Clock
from orgforge.errors import ConfigError, OrgforgeError, RunError
from orgforge.world.store import World, insert_sql

KINDS = ("generate", "load", "validate", "cleanup", "activity")
FINISHED = ("ok", "failed", "cancelled")
_COLUMNS = (
    "id",
    "kind",
    "params",
    "state",
    "message",
    "progress",
    "run_id",
    "run_dir",
    "result",
    "created_at",
    "started_at",
    "finished_at",
)
_INSERT = insert_sql("web_ops", _COLUMNS)
# parameters that are credentials: passed to the library in ``env``, never stored or shown
SECRET_PARAMS = {"access_token": "SF_ACCESS_TOKEN"}


class Cancelled(RunError):
    """Raised from a progress callback once someone asked the operation to stop."""

    default_hint = "Start it again from the web app or the CLI; a rerun carries on."


@dataclass
class Op:
    id: str
    kind: str
    params: dict[str, Any]
    state: str
    message: str | None = None
    progress: dict[str, list[int | None]] = field(default_factory=dict)
    run_id: str | None = None
    run_dir: str | None = None
    result: dict[str, Any] | None = None
    created_at: str = ""
    started_at: str | None = None
    finished_at: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _COLUMNS}

    def row(self) -> dict[str, Any]:
        values = self.as_dict()
        for name in ("params", "progress", "result"):
            values[name] = (
                json.dumps(values[name], default=str) if values[name] is not None else None
            )
        values["progress"] = values["progress"] or "{}"
        return values

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Op:
        values = dict(row)
        for name in ("params", "progress", "result"):
            values[name] = json.loads(values[name]) if values[name] else None
        values["progress"] = values["progress"] or {}
        return cls(**values)


class Progress:
    """The callbacks an operation hands the library; each one checks for a cancel first."""

    def __init__(self, op: Op, on_change: Callable[[], None]) -> None:
        self.op = op
        self.cancel = threading.Event()
        self._on_change = on_change

    def _check(self) -> None:
        if self.cancel.is_set():
            raise Cancelled(f"{self.op.kind} {self.op.id}: cancelled from the web app")

    def start(self, totals: dict[str, int]) -> None:
        self._check()
        for label, total in totals.items():
            if total:
                self.op.progress[label] = [self.op.progress.get(label, [0])[0], total]
        self._on_change()

    def set_total(self, label: str, total: int | None) -> None:
        self._check()
        self.op.progress[label] = [self.op.progress.get(label, [0])[0], total]
        self._on_change()

    def advance(self, label: str, n: int = 1) -> None:
        self._check()
        done, total = self.op.progress.get(label, [0, None])
        self.op.progress[label] = [(done or 0) + n, total]
        self._on_change()

    def counter(self, label: str) -> Callable[..., None]:
        """``progress(n)`` for a library function with one counter; ``.set_total(n)`` too."""

        def advance(n: int = 1) -> None:
            self.advance(label, n)

        advance.set_total = lambda total: self.set_total(label, total)  # type: ignore[attr-defined]
        return advance


# -- what each kind runs: (params, env, progress) → (result, run_dir) ---------------------------


def _options(settings: Any, params: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    options = {"world": settings.world, "runs_dir": settings.runs_dir}
    options.update({k: params[k] for k in names if params.get(k) not in (None, "", [])})
    return options


_SF_OPTIONS = ("instance_url", "org", "auth", "login_url", "username")
_GENERATE_OPTIONS = ("preset", "accounts", "seed", "as_of", "text", "provider", "model", "max_cost")


def _target_env(settings: Any, env: dict[str, str]) -> dict[str, str] | None:
    """The environment a target call sees: the server's (None: the process's) plus the form's
    credentials."""
    if not env:
        return settings.environ
    import os

    return {**(settings.environ if settings.environ is not None else os.environ), **env}


# objects whose count follows another's: given the parent alone, they keep the config's ratio
DENSITY_FOLLOWERS = {"OpportunityContactRole": "Opportunity", "CaseComment": "Case"}


def density_defaults(settings: Any) -> dict[str, float]:
    """The config's records per account by object (``generate.per_account``)."""
    from orgforge.api import resolve

    return dict(resolve(settings.config, world=settings.world).generate.per_account)


def _density(settings: Any, params: dict[str, Any]) -> dict[str, Any]:
    """``per_account`` (the density sliders: records per account by object) as the setting
    ``generate.per_account``: the config's values for the objects not given, and contact roles
    and case comments scaled with their parents when only the parent is given."""
    given = params.get("per_account")
    if not given:
        return {}
    if not isinstance(given, dict):
        raise ConfigError(
            "per_account must be an object: {object: records per account}",
            'For example {"Contact": 6, "Opportunity": 3}.',
        )
    defaults = density_defaults(settings)
    per_account = {**defaults, **given}
    for follower, parent in DENSITY_FOLLOWERS.items():
        if parent in given and follower not in given:
            try:
                ratio = defaults[follower] / defaults[parent] if defaults[parent] else 2.0
                per_account[follower] = round(float(given[parent]) * ratio, 3)
            except (TypeError, ValueError):
                pass  # not a number: the config's validation says so, naming the object
    return {"settings": {"generate.per_account": per_account}}


def generate_preview(settings: Any, params: dict[str, Any]) -> dict[str, Any]:
    """``orgforge generate --dry-run`` of these form/API parameters: checked, writes nothing."""
    from orgforge.api import generate_preview as preview

    options = _options(settings, params, _GENERATE_OPTIONS) | _density(settings, params)
    return preview(settings.config, industries=params.get("industries") or None, **options)


def generate_estimate(settings: Any, params: dict[str, Any]) -> dict[str, Any]:
    """``orgforge content estimate``: what these parameters would cost with the LLM engine."""
    from orgforge.api import content_estimate

    options = _options(settings, {**params, "text": "llm"}, _GENERATE_OPTIONS)
    options |= _density(settings, params)
    return content_estimate(settings.config, **options)


def _generate(settings: Any, params: dict[str, Any], env: dict[str, str], p: Progress) -> Any:
    import orgforge

    options = _options(settings, params, _GENERATE_OPTIONS) | _density(settings, params)
    preview = generate_preview(settings, params)
    p.set_total("accounts", preview["counts"].get("Account"))
    result = orgforge.generate(
        settings.config,
        industries=params.get("industries") or None,
        progress=p.counter("accounts"),
        text_progress=p.counter("text items"),
        **options,
    )
    summary = {"counts": result.counts, "records": result.records, "seconds": result.seconds}
    return summary, result.run_dir


def _load(settings: Any, params: dict[str, Any], env: dict[str, str], p: Progress) -> Any:
    import orgforge
    import orgforge.api

    report, run_dir = orgforge.load(
        settings.config,
        target=params.get("target") or "salesforce",
        dry_run=bool(params.get("dry_run")),
        prune=bool(params.get("prune")),
        env=_target_env(settings, env),
        progress=p.advance,
        on_start=p.start,
        **_options(settings, params, _SF_OPTIONS),
    )
    failure = orgforge.api.load_failure(report, run_dir, dry_run=bool(params.get("dry_run")))
    return report.as_dict(), run_dir, failure


def _validate(settings: Any, params: dict[str, Any], env: dict[str, str], p: Progress) -> Any:
    import orgforge
    import orgforge.api

    report = orgforge.validate(
        settings.config,
        target=params.get("target") or "salesforce",
        env=_target_env(settings, env),
        **_options(settings, params, _SF_OPTIONS),
    )
    return report.as_dict(), None, orgforge.api.validate_failure(report)


def _cleanup(settings: Any, params: dict[str, Any], env: dict[str, str], p: Progress) -> Any:
    import orgforge
    import orgforge.api

    report, run_dir = orgforge.cleanup(
        settings.config,
        target=params.get("target") or "salesforce",
        run=params.get("run") or None,
        all=bool(params.get("all")),
        dry_run=bool(params.get("dry_run")),
        env=_target_env(settings, env),
        progress=p.advance,
        **_options(settings, params, _SF_OPTIONS),
    )
    return report.as_dict(), run_dir, orgforge.api.cleanup_failure(report, run_dir)


def _activity(settings: Any, params: dict[str, Any], env: dict[str, str], p: Progress) -> Any:
    from orgforge import activity
    from orgforge.api import resolve

    cfg, _warning = activity.anchor_as_of(
        resolve(settings.config, **_options(settings, params, ("seed", "text")))
    )
    max_opps = int(params["max_opps"]) if params.get("max_opps") not in (None, "") else None
    advance = p.counter("opportunities")
    result = activity.run(
        cfg,
        max_opps=max_opps,
        progress=advance,
        on_total=advance.set_total,
        target=params.get("target") or "world",
        env=_target_env(settings, env),
    )
    return result.as_dict(), result.run_dir


RUNNERS: dict[str, Callable[..., Any]] = {
    "generate": _generate,
    "load": _load,
    "validate": _validate,
    "cleanup": _cleanup,
    "activity": _activity,
}


def check_params(settings: Any, kind: str, params: dict[str, Any]) -> None:
    """Bad input fails here, before a row or a thread exists (ConfigError: message + hint)."""
    from orgforge.api import resolve

    if kind not in RUNNERS:
        raise ConfigError(f"operation {kind!r} is unknown", f"Operations: {', '.join(KINDS)}.")
    if kind == "generate":
        generate_preview(settings, params)
    elif kind == "activity":
        resolve(settings.config, **_options(settings, params, ("seed", "text")))
        if params.get("max_opps") not in (None, ""):
            try:
                if int(params["max_opps"]) < 1:
                    raise ValueError
            except (TypeError, ValueError):
                raise ConfigError(
                    f"activity: max_opps must be a whole number ≥ 1 (got {params['max_opps']!r})",
                    "Leave it empty for every open opportunity.",
                ) from None
    else:
        target = params.get("target") or "salesforce"
        from orgforge.plugins import target as lookup

        lookup(target, kind)  # an unknown target is a ConfigError naming the known ones
        resolve(settings.config, world=settings.world, runs_dir=settings.runs_dir)
        if kind == "cleanup" and params.get("run") and params.get("all"):
            raise ConfigError(
                "cleanup: give a run id or all, not both",
                "A run id deletes what one load created; all: everything orgforge created.",
            )


# -- operation ids --------------------------------------------------------------------------

LAST_ID = "web_ops.last_id"  # the meta row holding the number of the newest op-N handed out
CLAIM_TRIES = 1000


def _is_duplicate(exc: BaseException) -> bool:
    """A unique-key violation, from sqlite3 or any SQLAlchemy backend."""
    import sqlite3

    if isinstance(exc, sqlite3.IntegrityError):
        return True
    from sqlalchemy.exc import IntegrityError

    return isinstance(exc, IntegrityError)


def _highest_op_number(conn: Any) -> int:
    """The highest N of the world's op-N rows (a world from before the counter numbered its
    operations by counting rows)."""
    numbers = [
        int(op_id[3:])
        for (op_id,) in conn.execute('SELECT "id" FROM "web_ops"').fetchall()
        if op_id.startswith("op-") and op_id[3:].isdigit()
    ]
    return max(numbers, default=0)


def claim_op_id(world: World) -> str:
    """The next ``op-N`` of this world, never handed out twice: not by two threads, not by two
    ``orgforge serve`` processes on one world, not after ``world reset`` (ids then stay unique
    in run logs and bookmarks).

    Compare-and-set on a counter in ``meta``: read N, then ``UPDATE … SET N+1 WHERE value = N``
    in its own short transaction; whoever finds the value already moved on reads again. It
    relies on no lock held between the read and the write, so it holds on any SQLAlchemy
    backend, not only on SQLite's BEGIN IMMEDIATE.
    """
    for _ in range(CLAIM_TRIES):
        with world.reading() as conn:
            row = conn.execute(
                'SELECT "value" FROM "meta" WHERE "name" = :name', {"name": LAST_ID}
            ).fetchone()
        if row is None:
            try:
                with world.transaction() as conn:
                    conn.execute(
                        'INSERT INTO "meta" ("name", "value") VALUES (:name, :value)',
                        {"name": LAST_ID, "value": str(_highest_op_number(conn))},
                    )
            except Exception as exc:
                if not _is_duplicate(exc):
                    raise
            continue  # someone (this call or another) made the counter: claim from it
        seen = int(row[0])
        with world.transaction() as conn:
            moved = conn.execute(
                'UPDATE "meta" SET "value" = :new WHERE "name" = :name AND "value" = :seen',
                {"name": LAST_ID, "new": str(seen + 1), "seen": str(seen)},
            ).rowcount
        if moved == 1:
            return f"op-{seen + 1}"
    raise RunError(
        f"no operation id after {CLAIM_TRIES} tries: other writers kept moving the counter",
        "Try again; if it keeps happening, fewer servers should share one world.",
    )


class Operations:
    """Every operation of one world: the table, and the threads of the running ones."""

    def __init__(
        self,
        settings: Any,
        on_change: Callable[[], None] = lambda: None,
        on_finish: Callable[[Op], None] = lambda op: None,
        clock: Clock = REAL,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.on_change = on_change
        self.on_finish = on_finish
        self._lock = threading.Lock()
        self._running: dict[str, tuple[Op, Progress, threading.Thread]] = {}
        self._secrets: dict[str, dict[str, str]] = {}  # op id → env it ran with (memory only)

    def _world(self) -> World:
        return World(self.settings.world)

    def recover(self) -> int:
        """On start-up: operations a stopped server was running are marked failed."""
        with self._world() as world, world.transaction() as conn:
            result = conn.execute(
                'UPDATE "web_ops" SET "state" = \'failed\', "finished_at" = :now, '
                "\"message\" = :why WHERE \"state\" NOT IN ('ok', 'failed', 'cancelled')",
                {
                    "now": self.clock.iso(),
                    "why": "the server stopped while it ran; its run log says what was written",
                },
            )
            return result.rowcount or 0

    def list(self, limit: int = 50, kind: str | None = None) -> list[Op]:
        where, params = "", {"limit": limit}
        if kind:
            where, params["kind"] = 'WHERE "kind" = :kind', kind
        columns = ", ".join(f'"{c}"' for c in _COLUMNS)
        with self._world() as world, world.reading() as conn:
            rows = conn.execute(
                f'SELECT {columns} FROM "web_ops" {where} '
                'ORDER BY "created_at" DESC, "id" DESC LIMIT :limit',
                params,
            ).fetchall()
        ops = [Op.from_row(dict(zip(_COLUMNS, row, strict=True))) for row in rows]
        return [self._live(op) for op in ops]

    def _live(self, op: Op) -> Op:
        running = self._running.get(op.id)
        return running[0] if running is not None else op

    def get(self, op_id: str) -> Op:
        running = self._running.get(op_id)
        if running is not None:
            return running[0]
        columns = ", ".join(f'"{c}"' for c in _COLUMNS)
        with self._world() as world, world.reading() as conn:
            row = conn.execute(
                f'SELECT {columns} FROM "web_ops" WHERE "id" = :id', {"id": op_id}
            ).fetchone()
        if row is None:
            raise ConfigError(f"operation {op_id!r} does not exist", "GET /api/ops lists them.")
        return Op.from_row(dict(zip(_COLUMNS, row, strict=True)))

    def secrets(self, op_id: str) -> dict[str, str]:
        return dict(self._secrets.get(op_id, {}))

    def start(self, kind: str, params: dict[str, Any], env: dict[str, str] | None = None) -> Op:
        """Check the parameters, record the operation and start it on a worker thread."""
        params = {k: v for k, v in params.items() if k not in SECRET_PARAMS}
        check_params(self.settings, kind, params)
        with self._lock, self._world() as world:
            op_id = claim_op_id(world)
            op = Op(
                id=op_id,
                kind=kind,
                params=params,
                state="running",
                created_at=self.clock.iso(),
                started_at=self.clock.iso(),
            )
            with world.transaction() as conn:
                conn.execute(_INSERT, op.row())
            progress = Progress(op, self.on_change)
            thread = threading.Thread(
                target=self._run, args=(op, progress, dict(env or {})), daemon=True
            )
            thread.name = f"orgforge-web-{op.id}"
            self._running[op.id] = (op, progress, thread)
            self._secrets[op.id] = dict(env or {})
        thread.start()
        self.on_change()
        return op

    def _run(self, op: Op, progress: Progress, env: dict[str, str]) -> None:
        failure: OrgforgeError | None = None
        try:
            outcome = RUNNERS[op.kind](self.settings, op.params, env, progress)
            result, run_dir, *rest = outcome
            failure = rest[0] if rest else None
            op.result = result
            op.run_dir = run_dir
            op.run_id = Path(run_dir).name if run_dir else None
            op.state = "ok" if failure is None else "failed"
            if failure is not None:
                op.message = f"{failure.message}\n{failure.hint}"
        except Cancelled as exc:
            op.state, op.message = "cancelled", exc.message
        except OrgforgeError as exc:
            op.state, op.message = "failed", f"{exc.message}\n{exc.hint}"
        except Exception as exc:  # a bug: say so in the operation, keep the server up
            op.state = "failed"
            op.message = f"{type(exc).__name__}: {exc}\n" + "".join(
                traceback.format_exception(exc)[-3:]
            )
        op.finished_at = self.clock.iso()
        try:
            with self._world() as world, world.transaction() as conn:
                values = op.row()
                assignments = ", ".join(f'"{c}" = :{c}' for c in _COLUMNS if c != "id")
                conn.execute(f'UPDATE "web_ops" SET {assignments} WHERE "id" = :id', values)
        finally:
            with self._lock:
                self._running.pop(op.id, None)
            self.on_change()
            self.on_finish(op)

    def cancel(self, op_id: str) -> Op:
        running = self._running.get(op_id)
        if running is None:
            op = self.get(op_id)  # unknown id: ConfigError; finished: nothing to cancel
            return op
        running[1].cancel.set()
        return running[0]

    def wait(self, op_id: str, timeout: float | None = None) -> Op:
        """Block until the operation ends (tests, the CLI's --wait); returns its final state."""
        running = self._running.get(op_id)
        if running is not None:
            running[2].join(timeout)
        return self.get(op_id)

    def join_all(self, timeout: float = 5.0) -> None:
        for _op, progress, thread in list(self._running.values()):
            progress.cancel.set()
            thread.join(timeout)
