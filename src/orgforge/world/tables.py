"""The world's tables: plain data, and the SQLAlchemy Core tables built from it on first use.

Record tables are named ``rec_<Object>`` and hold, besides the Salesforce fields, ``key`` (the
stable local key), ``account_idx``/``seq`` (generation order: exports sort by them) and ``tier``
(the density tier the record was drawn in) and ``job`` (which job made it: ``generate``,
``activity``, ``simulate``…; a job only ever rewrites or deletes its own records). Lookup fields
hold the parent's *key*, never a remote ID; remote IDs live in ``sync``.

The definitions are plain data (:data:`TABLES`) so that what a run needs to know about the
tables (column order, the fingerprint of the shipped DDL) costs no SQLAlchemy import: a
``generate`` on a SQLite world never loads it (see store.py). The SQLAlchemy ``Table`` objects
(``metadata``, ``RECORD_TABLES``, ``meta``, ``runs``, ``changes``…) that the modules building
queries with SQLAlchemy Core import are built from that data the first time one is asked for
(the module ``__getattr__`` below), so ``from orgforge.world.tables import RECORD_TABLES`` keeps
working.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, NamedTuple

from orgforge.schema import salesforce as sf

if TYPE_CHECKING:
    from sqlalchemy import MetaData, Table


# NamedTuples rather than dataclasses: a world's ~330 columns are built on every run's import.
class ColumnDef(NamedTuple):
    name: str
    type: str  # string (VARCHAR) | text | integer | float
    nullable: bool = True
    default: str | None = None  # server default


class TableDef(NamedTuple):
    name: str
    columns: tuple[ColumnDef, ...]
    primary_key: tuple[str, ...]
    indexes: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (name, columns), not unique

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _col(name: str, type_: str = "string", *, null: bool = True, default: str | None = None):
    return ColumnDef(name, type_, null, default)


_FIELD_TYPES = {  # Salesforce field type → column type; every other type is text
    "int": "integer",
    "boolean": "integer",
    "currency": "float",
    "percent": "float",
    "double": "float",
}


def record_table_name(object_name: str) -> str:
    return f"rec_{object_name}"


# Objects whose records are steps of a timeline: ``step`` names the step (``discovery``,
# ``demo``, ``thanks``…, or a case's status when a comment was written), so that ``orgforge
# check`` can verify their order without reading text. World-only, like ``tier``.
STEP_OBJECTS = ("Task", "Event", "CaseComment")

HISTORY = "History"
"""The world's history table (``rec_History``): one row per field change of a record (an
opportunity's stage, a case's status…), in time order. Not a Salesforce object: the records are
the history's state at as_of; this is how they got there (see docs/generate.md)."""

HISTORY_COLUMNS = (
    "ParentKey",  # the record that changed
    "Object",
    "Field",
    "OldValue",
    "NewValue",
    "CreatedDate",  # when (Salesforce datetime, UTC)
    "CreatedById",  # who (a User key)
)


def _record_table(obj: sf.SObject) -> TableDef:
    name = record_table_name(obj.name)
    step = (_col("step"),) if obj.name in STEP_OBJECTS else ()
    return TableDef(
        name,
        (
            _col("key", null=False),
            _col("account_idx", "integer", null=False),
            _col("seq", "integer", null=False),
            _col("tier"),
            _col("job", null=False, default="generate"),
            *step,
            *(_col(f.name, _FIELD_TYPES.get(f.type, "text")) for f in obj.fields),
        ),
        primary_key=("key",),
        indexes=((f"ix_{name}_order", ("account_idx", "seq")),),
    )


# Every table of a world, in creation order (record tables first, in load order).
TABLES: dict[str, TableDef] = {
    table.name: table
    for table in (
        *(_record_table(obj) for obj in sf.OBJECTS),
        TableDef(
            record_table_name(HISTORY),
            (
                _col("key", null=False),  # History/<record key>/<n>
                _col("account_idx", "integer", null=False),
                _col("seq", "integer", null=False),
                _col("tier"),
                _col("job", null=False, default="generate"),
                *(_col(c, "text") for c in HISTORY_COLUMNS),
            ),
            primary_key=("key",),
            indexes=((f"ix_{record_table_name(HISTORY)}_order", ("account_idx", "seq")),),
        ),
        TableDef(
            "meta",
            (_col("name", null=False), _col("value", "text", null=False)),
            primary_key=("name",),
        ),
        TableDef(
            "runs",
            (
                _col("run_id", null=False),
                _col("command", null=False),
                _col("status", null=False),  # running | ok | failed
                _col("started_at", null=False),
                _col("finished_at"),
                _col("seed", "integer"),
                _col("as_of"),
                _col("config", "text"),  # resolved config, JSON, secrets masked
                _col("summary", "text"),  # JSON
            ),
            primary_key=("run_id",),
        ),
        # One row per (write, object, operation, changed fields): like a Salesforce change
        # event, it names every record it covers, so a bulk insert of 6,000 contacts is one row.
        TableDef(
            "changes",
            (
                _col("id", "integer", null=False),  # autoincrement
                _col("ts", null=False),
                _col("run_id"),
                _col("object", null=False),
                _col("op", null=False),  # insert | update | delete
                _col("keys", "text", null=False),  # JSON list of record keys
                _col("fields", "text"),  # JSON list of changed field names (updates only)
            ),
            primary_key=("id",),
            indexes=(("ix_changes_object_id", ("object", "id")),),
        ),
        TableDef(
            "sync",
            (
                _col("target", null=False),
                _col("object", null=False),
                _col("key", null=False),
                _col("remote_id"),
                _col("status", null=False),  # pending | ok | failed | deleted
                _col("run_id"),
                _col("updated_at", null=False),
                _col("error", "text"),
            ),
            primary_key=("target", "key"),
            indexes=(("ix_sync_target_object", ("target", "object")),),
        ),
        # What a load last pushed per record (field → wire value, JSON): a later load sends only
        # the fields that differ. Written in the transaction that stores the answer.
        TableDef(
            "sync_values",
            (
                _col("target", null=False),
                _col("key", null=False),
                _col("fields", "text", null=False),
            ),
            primary_key=("target", "key"),
        ),
        TableDef(
            "content_cache",
            (
                _col("cache_key", null=False),
                _col("text", "text", null=False),
                _col("provider"),
                _col("model"),
                _col("prompt_version"),
                _col("created_at", null=False),
            ),
            primary_key=("cache_key",),
        ),
        # Scorecards on opportunities (the activity job). Not Salesforce objects: they reach an
        # org as completed Tasks, if at all (config: activity.scorecards.salesforce).
        TableDef(
            "scorecards",
            (
                _col("key", null=False),  # Scorecard/0042/1/meddicc
                _col("opportunity", null=False),  # the opportunity's key
                _col("account_idx", "integer", null=False),
                _col("seq", "integer", null=False),
                _col("framework", null=False),
                _col("mode", null=False),  # heuristic | llm | hybrid
                _col("answered", "integer", null=False),
                _col("total", "integer", null=False),
                _col("coverage", "float", null=False),  # answered / total
                _col("confidence", "float", null=False),  # weighted by question weight
                _col("job", null=False, default="activity"),
                _col("run_id"),
                _col("updated_at", null=False),
            ),
            primary_key=("key",),
            indexes=(("ix_scorecards_order", ("account_idx", "seq")),),
        ),
        TableDef(
            "scorecard_answers",
            (
                _col("scorecard", null=False),  # scorecards.key
                _col("question", null=False),  # question id within the framework
                _col("position", "integer", null=False),
                _col("text", "text", null=False),  # the question
                _col("weight", "float", null=False),
                _col("answer", "text"),  # None = unanswered
                _col("confidence", "float", null=False),
                _col("source", null=False),  # heuristic | llm | none
                _col("evidence", "text"),  # JSON list of what the answer rests on
            ),
            primary_key=("scorecard", "question"),
        ),
        # Write-ahead journal of a target's in-flight batches (targets/salesforce/__init__.py).
        # A row is written (and committed) before a batch is sent and deleted in the same
        # transaction that stores the batch's answers in ``sync``; a row left behind means the
        # answer was lost.
        TableDef(
            "sync_journal",
            (
                _col("id", "integer", null=False),  # autoincrement
                _col("target", null=False),
                _col("run_id"),
                _col("api", null=False),  # rest | bulk
                _col("op", null=False),  # insert | upsert
                _col("objects", "text", null=False),  # JSON list of object names in the batch
                _col("keys", "text", null=False),  # JSON list of record keys, in request order
                _col("job_id"),  # Bulk API 2.0 job, recorded before its data is uploaded
                _col("started_at", null=False),  # UTC, before the request was sent
            ),
            primary_key=("id",),
            indexes=(("ix_sync_journal_target", ("target",)),),
        ),
        # The living org (simulate/): a job is a target + behaviours + personas + schedule +
        # rate + duration. The CLI and the web app only write this table; a runner (one asyncio
        # process for all active jobs) reads it and writes the per-job action log below.
        TableDef(
            "sim_jobs",
            (
                _col("id", null=False),  # asana-1, salesforce-2 … (target + a counter)
                _col("name", null=False),
                _col("target", null=False),  # asana | salesforce
                _col("behaviours", "text", null=False),  # JSON list of behaviour names
                _col("personas", "text", null=False),  # JSON list of persona names ([]: all)
                _col("schedule", "text", null=False),  # JSON: country, bursts, weekends …
                _col("rate", "float", null=False),  # actions per working hour (whole job)
                _col("duration_s", "float"),  # simulated seconds from started_at (None: forever)
                _col("clock", null=False),  # real | fast:60 | backfill:14d
                _col("seed", "integer", null=False),
                _col("options", "text", null=False),  # JSON: target options (workspace, team…)
                _col("state", null=False),  # active | paused | stopped | done | failed
                _col("message", "text"),  # why it is paused / failed
                _col("created_at", null=False),  # wall clock, UTC
                _col("updated_at", null=False),
                _col("started_at"),  # simulated time of its first planned action
                _col("ends_at"),  # simulated time it ends (started_at + duration)
                _col("next_at"),  # simulated time of its next planned action
                _col("seq", "integer", null=False),  # actions planned so far (next one's seq)
                _col("done", "integer", null=False),
                _col("failed", "integer", null=False),
                _col("runner"),  # pid@host of the runner that last worked it
                _col("heartbeat_at"),  # wall clock of that runner's last write
            ),
            primary_key=("id",),
        ),
        # Each job's action log and journal: a row is written with status "intent" (and
        # committed) before the action is sent, and set to ok | failed | skipped with its outcome
        # after, in the transaction that moves the job on. A row left "intent" by a killed runner
        # is sent again on restart: at most one duplicated action per job.
        TableDef(
            "sim_actions",
            (
                _col("job_id", null=False),
                _col("seq", "integer", null=False),
                _col("planned_at", null=False),  # simulated time the scheduler chose
                _col("behaviour", null=False),  # asana.task.create, salesforce.lead.arrive …
                _col("persona"),
                _col("status", null=False),  # intent | ok | failed | skipped
                _col("subject"),  # the job-local key of what it acted on
                _col("remote_id"),
                _col("summary", "text"),  # one line for humans
                _col("detail", "text"),  # JSON: the decided action (what a retry sends again)
                _col("error", "text"),
                _col("attempts", "integer", null=False),
                _col("started_at", null=False),  # wall clock
                _col("finished_at"),
            ),
            primary_key=("job_id", "seq"),
            indexes=(("ix_sim_actions_status", ("status",)),),
        ),
        # What a job's actions created and where each thing is now (a task's section, an
        # opportunity's stage): what later behaviours pick from. Job-local keys.
        TableDef(
            "sim_objects",
            (
                _col("job_id", null=False),
                _col("key", null=False),  # p1, p1/t3, p1/t3/c1, lead7 …
                _col("kind", null=False),  # project | section | task | lead | opportunity …
                _col("remote_id"),
                _col("parent"),  # key of the parent object
                _col("persona"),  # who owns / is assigned
                _col("state", "text", null=False),  # JSON
                _col("open", "integer", null=False),  # 1 while behaviours may still act on it
                _col("updated_at", null=False),
            ),
            primary_key=("job_id", "key"),
            indexes=(("ix_sim_objects_kind", ("job_id", "kind", "open")),),
        ),
        # The web app's background operations (web/ops.py): generate, load, validate, cleanup
        # and activity started from the browser or the API, with their progress and outcome,
        # so a restarted server still lists what finished (and what it was running when it
        # stopped). Parameters are stored without secrets.
        TableDef(
            "web_ops",
            (
                _col("id", null=False),  # op-1, op-2 … (a counter per world)
                _col("kind", null=False),  # generate | load | validate | cleanup | activity
                _col("params", "text", null=False),  # JSON: what it was started with
                _col("state", null=False),  # queued | running | ok | failed | cancelled
                _col("message", "text"),  # the error's message and hint, or why it stopped
                _col("progress", "text", null=False),  # JSON: label → [done, total or null]
                _col("run_id"),
                _col("run_dir"),
                _col("result", "text"),  # JSON summary of what it did
                _col("created_at", null=False),  # wall clock, UTC
                _col("started_at"),
                _col("finished_at"),
            ),
            primary_key=("id",),
        ),
    )
}

# object → its record table's columns, in table order (the order of generated row tuples)
RECORD_COLUMNS: dict[str, tuple[str, ...]] = {
    name: TABLES[record_table_name(name)].column_names for name in (*sf.GENERATED, HISTORY)
}


def fingerprint() -> str:
    """A hash of every table's definition: names, column types and flags, keys and indexes.

    ``schema_sqlite.sql`` records the fingerprint of the tables it was built from; a new world
    uses that file only while the fingerprints agree, so editing this module (or the schema it
    derives from) without rebuilding the file costs speed, never a wrong schema. The mapping to
    SQLAlchemy types is part of the definition, so it is hashed too.
    """
    import hashlib

    described = repr((list(TABLES.values()), _SQLALCHEMY_TYPES))
    return hashlib.sha256(described.encode()).hexdigest()[:16]


# -- SQLAlchemy Core, on first use ----------------------------------------------------------------

_SQLALCHEMY_TYPES = {"string": "String", "text": "Text", "integer": "Integer", "float": "Float"}
_TABLE_ATTRIBUTES = {  # module attribute → table name
    "meta": "meta",
    "runs": "runs",
    "changes": "changes",
    "sync": "sync",
    "content_cache": "content_cache",
    "scorecards": "scorecards",
    "scorecard_answers": "scorecard_answers",
    "sync_journal": "sync_journal",
    "sync_values": "sync_values",
    "sim_jobs": "sim_jobs",
    "sim_actions": "sim_actions",
    "sim_objects": "sim_objects",
    "web_ops": "web_ops",
}

metadata: MetaData
RECORD_TABLES: dict[str, Table]


def _sqlalchemy_table(table: TableDef, metadata: MetaData) -> Table:
    import sqlalchemy as sa

    single_key = table.primary_key if len(table.primary_key) == 1 else ()
    items: list[Any] = [
        sa.Column(
            c.name,
            getattr(sa, _SQLALCHEMY_TYPES[c.type]),
            primary_key=c.name in single_key,
            nullable=c.nullable,
            server_default=c.default,
        )
        for c in table.columns
    ]
    if not single_key:
        items.append(sa.PrimaryKeyConstraint(*table.primary_key))
    items += [sa.Index(name, *columns) for name, columns in table.indexes]
    return sa.Table(table.name, metadata, *items)


def _build_sqlalchemy_tables() -> dict[str, Any]:
    from sqlalchemy import MetaData

    built = MetaData()
    tables = {name: _sqlalchemy_table(table, built) for name, table in TABLES.items()}
    return {
        "metadata": built,
        "RECORD_TABLES": {
            name: tables[record_table_name(name)] for name in (*sf.GENERATED, HISTORY)
        },
        **{attribute: tables[name] for attribute, name in _TABLE_ATTRIBUTES.items()},
    }


def compile_sqlite_ddl() -> list[str]:
    """The statements SQLAlchemy's ``create_all`` sends to SQLite for an empty database, in its
    order: what scripts/build_world_schema.py ships as ``schema_sqlite.sql``."""
    from sqlalchemy import create_mock_engine

    statements: list[str] = []

    def record(sql: Any, *_args: Any, **_kwargs: Any) -> None:
        statements.append(str(sql.compile(dialect=engine.dialect)).strip())

    engine = create_mock_engine("sqlite://", record)
    __getattr__("metadata").create_all(engine, checkfirst=False)
    return statements


_build_lock = threading.Lock()


def __getattr__(name: str) -> Any:
    if name == "metadata" or name == "RECORD_TABLES" or name in _TABLE_ATTRIBUTES:
        with _build_lock:  # once: every caller must get the same Table objects
            if "metadata" not in globals():
                globals().update(_build_sqlalchemy_tables())
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
