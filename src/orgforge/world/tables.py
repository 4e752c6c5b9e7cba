"""The world's tables (SQLAlchemy Core), derived from the schema module.

Record tables are named ``rec_<Object>`` and hold, besides the Salesforce fields, ``key`` (the
stable local key), ``account_idx``/``seq`` (generation order: exports sort by them) and ``tier``
(the density tier the record was drawn in) and ``job`` (which job made it: ``generate``,
``activity``, ``simulate``…; a job only ever rewrites or deletes its own records). Lookup fields
hold the parent's *key*, never a remote ID; remote IDs live in ``sync``.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from orgforge.schema import salesforce as sf

metadata = MetaData()

_SQL_TYPES = {
    "int": Integer,
    "boolean": Integer,
    "currency": Float,
    "percent": Float,
    "double": Float,
}


def _record_table(obj: sf.SObject) -> Table:
    columns = [
        Column("key", String, primary_key=True),
        Column("account_idx", Integer, nullable=False),
        Column("seq", Integer, nullable=False),
        Column("tier", String),
        Column("job", String, nullable=False, server_default="generate"),
    ]
    for field in obj.fields:
        columns.append(Column(field.name, _SQL_TYPES.get(field.type, Text)))
    return Table(
        f"rec_{obj.name}",
        metadata,
        *columns,
        Index(f"ix_rec_{obj.name}_order", "account_idx", "seq"),
    )


RECORD_TABLES: dict[str, Table] = {obj.name: _record_table(obj) for obj in sf.OBJECTS}

meta = Table(
    "meta",
    metadata,
    Column("name", String, primary_key=True),
    Column("value", Text, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", String, primary_key=True),
    Column("command", String, nullable=False),
    Column("status", String, nullable=False),  # running | ok | failed
    Column("started_at", String, nullable=False),
    Column("finished_at", String),
    Column("seed", Integer),
    Column("as_of", String),
    Column("config", Text),  # resolved config, JSON, secrets masked
    Column("summary", Text),  # JSON
)

# One row per (write, object, operation, changed fields): like a Salesforce change event, it
# names every record it covers, so a bulk insert of 6,000 contacts is one row, not 6,000.
changes = Table(
    "changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", String, nullable=False),
    Column("run_id", String),
    Column("object", String, nullable=False),
    Column("op", String, nullable=False),  # insert | update | delete
    Column("keys", Text, nullable=False),  # JSON list of record keys
    Column("fields", Text),  # JSON list of changed field names (updates only)
    Index("ix_changes_object_id", "object", "id"),
)

sync = Table(
    "sync",
    metadata,
    Column("target", String, nullable=False),
    Column("object", String, nullable=False),
    Column("key", String, nullable=False),
    Column("remote_id", String),
    Column("status", String, nullable=False),  # pending | ok | failed | deleted
    Column("run_id", String),
    Column("updated_at", String, nullable=False),
    Column("error", Text),
    PrimaryKeyConstraint("target", "key"),
    Index("ix_sync_target_object", "target", "object"),
)

content_cache = Table(
    "content_cache",
    metadata,
    Column("cache_key", String, primary_key=True),
    Column("text", Text, nullable=False),
    Column("provider", String),
    Column("model", String),
    Column("prompt_version", String),
    Column("created_at", String, nullable=False),
)

# Scorecards on opportunities (the activity job). Not Salesforce objects: the Salesforce sink
# maps them to a note or to custom objects (config: activity.scorecards.salesforce).
scorecards = Table(
    "scorecards",
    metadata,
    Column("key", String, primary_key=True),  # Scorecard/0042/1/meddicc
    Column("opportunity", String, nullable=False),  # the opportunity's key
    Column("account_idx", Integer, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("framework", String, nullable=False),
    Column("mode", String, nullable=False),  # heuristic | llm | hybrid
    Column("answered", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("coverage", Float, nullable=False),  # answered / total
    Column("confidence", Float, nullable=False),  # weighted by question weight
    Column("job", String, nullable=False, server_default="activity"),
    Column("run_id", String),
    Column("updated_at", String, nullable=False),
    Index("ix_scorecards_order", "account_idx", "seq"),
)

scorecard_answers = Table(
    "scorecard_answers",
    metadata,
    Column("scorecard", String, nullable=False),  # scorecards.key
    Column("question", String, nullable=False),  # question id within the framework
    Column("position", Integer, nullable=False),
    Column("text", Text, nullable=False),  # the question
    Column("weight", Float, nullable=False),
    Column("answer", Text),  # None = unanswered
    Column("confidence", Float, nullable=False),
    Column("source", String, nullable=False),  # heuristic | llm | none
    Column("evidence", Text),  # JSON list of what the answer rests on
    PrimaryKeyConstraint("scorecard", "question"),
)

sync_journal = Table(
    "sync_journal",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("target", String, nullable=False),
    Column("run_id", String),
    Column("api", String, nullable=False),  # rest | bulk
    Column("op", String, nullable=False),  # insert | upsert
    Column("objects", Text, nullable=False),  # JSON list of object names in the batch
    Column("keys", Text, nullable=False),  # JSON list of record keys, in request order
    Column("job_id", String),  # Bulk API 2.0 job, recorded before its data is uploaded
    Column("started_at", String, nullable=False),  # UTC, before the request was sent
    Index("ix_sync_journal_target", "target"),
)
"""Write-ahead journal of a target's in-flight batches (see targets/salesforce/__init__.py).

A row is written (and committed) before a batch is sent and deleted in the same transaction
that stores the batch's answers in ``sync``; a row left behind means the answer was lost."""


def fingerprint() -> str:
    """A hash of every table's definition: names, column types and flags, keys and indexes.

    ``schema_sqlite.sql`` records the fingerprint of the tables it was built from; a new world
    uses that file only while the fingerprints agree, so editing this module (or the schema it
    derives from) without rebuilding the file costs speed, never a wrong schema.
    """
    import hashlib

    described = [
        (
            table.name,
            [
                (
                    column.name,
                    type(column.type).__name__,
                    # length, precision…: its public settings (repr() is slow; the private
                    # ones are caches SQLAlchemy fills in as it uses the type)
                    sorted((k, v) for k, v in vars(column.type).items() if k[0] != "_"),
                    column.nullable,
                    column.primary_key,
                    str(column.autoincrement),
                    None if column.server_default is None else str(column.server_default.arg),
                )
                for column in table.columns
            ],
            sorted(
                (index.name, index.unique, [c.name for c in index.columns])
                for index in table.indexes
            ),
            sorted(
                (type(key).__name__, str(key.name), [c.name for c in key.columns])
                for key in table.constraints
            ),
        )
        for table in metadata.sorted_tables
    ]
    return hashlib.sha256(repr(described).encode()).hexdigest()[:16]
