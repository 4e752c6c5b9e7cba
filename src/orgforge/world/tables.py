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
