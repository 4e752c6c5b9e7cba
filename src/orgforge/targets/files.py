"""The files target: export a world as CSV, JSON or Parquet, streaming, one file per object.

CSV is *load-ready*: one ``<Object>.csv`` per object in load order, header of Salesforce field
API names, ready for Bulk API 2.0 or Data Loader upsert on the external-ID field
``Orgforge_Key__c``. Lookups are written as relationship columns that name the parent by its
key: ``Account.Orgforge_Key__c`` and, for polymorphic lookups, one column per parent type in
Bulk API syntax ``ObjectType:RelationshipName.IndexedFieldName`` (``Opportunity:What.…``), only
one of which is filled on a row. Read-only fields (IsClosed, …) are left out; the audit fields
are in, as an org with "Set Audit Fields upon Record Creation" takes them (CreatedDate and
LastModifiedDate as ``2026-01-31T09:00:00.000Z``, CreatedById/LastModifiedById/OwnerId as
``CreatedBy.Orgforge_Key__c`` … naming a User of ``User.csv`` by its key). The team's
``UserRole.csv`` and ``User.csv`` come first.

JSON and Parquet are *full-fidelity* world dumps: every field including read-only ones, the
record ``key`` and its density ``tier``, lookups holding parent keys.

Every format writes ``manifest.json`` (objects in load order, counts, columns). Files are
written to a temporary name and renamed, so a failed export never leaves half a file behind.

Two ways to read the world, one output:

- *SQLite worlds* (those ``World`` serves through sqlite3) take the fast path, which never
  imports SQLAlchemy (its import would cost a small export more than the rows do): its SQL
  is written here as text, read on read-only sqlite3 connections of its own. SQLite renders
  each row as one string (a CSV line with ``\\x1f`` between its cells, a JSON record) that
  reaches Python as UTF-8 bytes: Python handles a string per row rather than an object per
  cell, and quotes only the CSV cells that need it. Rows SQL can't render as Python does (a
  non-integral float, a value of another type than its column) take the generic rendering,
  row by row. Arrow converts a Parquet batch in one call. Big objects are cut into
  ``account_idx`` ranges, written by two forked worker processes (each with its own
  connection) to part files in a hidden folder under ``--out``; the parent concatenates an
  object's parts in order, renames the result and reports progress as parts finish. Small
  worlds take the same path in one process.
- *Any other database* (a SQLAlchemy URL) is read through SQLAlchemy, one object at a time,
  its CSV cells built as SQLAlchemy expressions (``csv_select``, the fast path's
  ``_csv_cells`` written for SQLite).

Both write the same bytes, which tests check on worlds of awkward values (quotes, commas,
line breaks, control characters, floats, values of another type). One known difference: a
CSV cell ends at a NUL character on the fast path (SQLite's printf stops there).
"""

from __future__ import annotations

import csv
import io
import json
import math
import multiprocessing
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from functools import cache
from itertools import islice
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orgforge.errors import OutputError, UsageError
from orgforge.schema import salesforce as sf
from orgforge.world import tables as t
from orgforge.world.store import World, quoted, sqlite_file

if TYPE_CHECKING:
    from sqlalchemy.sql.elements import ColumnElement

FORMATS = ("csv", "json", "parquet")
LOADABLE = sf.GENERATED  # the team (UserRole, User) too: owners and audit users point at it

# Fast path tuning (SQLite worlds). Below PARALLEL_FROM_ROWS records forking workers costs more
# than it saves. A part of PART_ROWS rows is ~5 MB of CSV: enough parts to keep two workers
# busy to the end, few enough that the per-part query and file cost nothing. Rows are fetched
# BATCH_ROWS at a time (memory stays flat); Parquet row groups hold PARQUET_ROWS rows.
PARALLEL_FROM_ROWS = 50_000
PART_ROWS = 20_000
BATCH_ROWS = 5_000
PARQUET_ROWS = 20_000
PROCESSES = 2


def relationship_columns(field: sf.Field) -> list[tuple[str, str]]:
    """(header, parent object) pairs for one lookup field."""
    if field.is_polymorphic:
        used = [t for t in field.reference_to if t in sf.BY_NAME]
        return [(f"{t}:{field.relationship_name}.{sf.KEY_FIELD}", t) for t in used]
    return [(f"{field.relationship_name}.{sf.KEY_FIELD}", field.reference_to[0])]


def _csv_fields(obj: sf.SObject) -> list[tuple[str, sf.Field, str | None]]:
    """The CSV columns after the key: (header, field, parent type for a lookup's column)."""
    columns: list[tuple[str, sf.Field, str | None]] = []
    for field in obj.fields:
        if not (field.createable or field.audit or field.name == "OwnerId"):
            continue
        if field.is_reference:
            columns += [(header, field, parent) for header, parent in relationship_columns(field)]
        else:
            columns.append((field.name, field, None))
    return columns


def csv_layout(obj: sf.SObject) -> tuple[list[str], list[Callable[[dict], str]]]:
    """The CSV header of an object and, per column, how to render it from a world row."""
    header = [sf.KEY_FIELD]
    render: list[Callable[[dict], str]] = [lambda row: row["key"]]
    for column, field, parent in _csv_fields(obj):
        header.append(column)
        if parent is not None:
            render.append(
                lambda row, n=field.name, p=parent + "/": (
                    row[n] if row[n] and row[n].startswith(p) else ""
                )
            )
        else:
            render.append(_renderer(field))
    return header, render


def _renderer(field: sf.Field) -> Callable[[dict], str]:
    name = field.name
    if field.type == "boolean":
        return lambda row: "" if row[name] is None else ("true" if row[name] else "false")
    if field.type in ("currency", "percent", "double"):
        return lambda row: "" if row[name] is None else _number(row[name])
    return lambda row: "" if row[name] is None else str(row[name])


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def csv_select(obj: sf.SObject) -> list[ColumnElement]:
    """The CSV columns of ``csv_layout`` as SQLAlchemy expressions, so rows stream from any
    database to the csv module without a Python function per cell. NULL becomes an empty cell;
    tests check both renderings agree cell for cell. (SQLite worlds: ``_csv_cells``.)"""
    from sqlalchemy import Integer, case, cast

    table = t.RECORD_TABLES[obj.name]
    cells: list[ColumnElement] = [table.c.key]
    for _, field, parent in _csv_fields(obj):
        col = table.c[field.name]
        if parent is not None:
            cells.append(case((col.like(f"{parent}/%"), col), else_=None))
        elif field.type == "boolean":
            cells.append(case((col == 1, "true"), (col == 0, "false"), else_=None))
        elif field.type in ("currency", "percent", "double"):
            whole = cast(col, Integer)
            cells.append(case((col == whole, whole), else_=col))
        else:
            cells.append(col)
    return cells


def export(
    world: World,
    out_dir: str | Path,
    fmt: str = "csv",
    progress: Callable[[int], None] | None = None,
    *,
    processes: int | None = None,
    part_rows: int = PART_ROWS,
) -> dict[str, int]:
    """Write the world to ``out_dir``; return record counts per object.

    For SQLite worlds, ``processes`` is how many worker processes write (default: two for a
    world of ``PARALLEL_FROM_ROWS`` records or more in a file, else one, this process) and
    ``part_rows`` how many rows a part of a big object holds. Neither changes the output.
    """
    if fmt not in FORMATS:
        raise UsageError(f"--format: unknown format {fmt!r}", f"Use one of {', '.join(FORMATS)}.")
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"--out {out}: can't create it ({exc.strerror})") from None
    objects = LOADABLE if fmt == "csv" else sf.GENERATED
    if world.is_sqlite and (fmt != "json" or JSON_IN_SQLITE):
        written = _export_sqlite(world, out, fmt, objects, progress, processes, part_rows)
    else:
        written = _export_generic(world, out, fmt, objects, progress)
    manifest: dict[str, Any] = {
        "format": fmt,
        "key_field": sf.KEY_FIELD,
        "seed": world.get_meta("generated"),
        "objects": [],
    }
    counts: dict[str, int] = {}
    for name in objects:
        columns, count = written[name]
        counts[name] = count
        manifest["objects"].append(
            {"name": name, "file": f"{name}.{fmt}", "count": count, "columns": columns}
        )
    history = _write_history(world, out, fmt)
    if history and progress:
        progress(history["count"])
    extras = [e for e in (history, _write_scorecards(world, out, fmt)) if e]
    if extras:
        manifest["extras"] = extras
        for extra in extras:
            counts[extra["name"]] = extra["count"]
    team_jobs = world.get_meta("team_jobs")
    if team_jobs:  # which role does what: `orgforge check` reads it from an export
        manifest["team_jobs"] = json.loads(team_jobs)
    territories = world.get_meta("team_territories")
    if territories:  # and which territory an account is in, for owners_cover_territory
        manifest["team_territories"] = json.loads(territories)
    generated = world.get_meta("generated")
    manifest["seed"] = json.loads(generated) if generated else None
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return counts


def planned_counts(world: World, fmt: str = "csv") -> dict[str, int]:
    """What ``export`` would write, file by file (counts as ``export`` returns them: records
    per object, then the extras' History rows and scorecards); writes nothing."""
    if fmt not in FORMATS:
        raise UsageError(f"--format: unknown format {fmt!r}", f"Use one of {', '.join(FORMATS)}.")
    objects = LOADABLE if fmt == "csv" else sf.GENERATED
    counts = world.counts(objects)
    with world.reading() as conn:
        history = conn.execute(
            f'SELECT COUNT(*) FROM "{t.record_table_name(t.HISTORY)}"'
        ).fetchone()[0]
        scorecards = conn.execute('SELECT COUNT(*) FROM "scorecards"').fetchone()[0]
    if history:
        counts[t.HISTORY] = history
    if scorecards:
        counts["Scorecard"] = scorecards
    return counts


def _temporary(path: Path) -> Path:
    return path.with_name(path.name + ".tmp")


def _cant_write(path: Path, reason: str | None) -> OutputError:
    return OutputError(f"--out {path}: can't write ({reason})")


# -- any database: SQLAlchemy, one object at a time, in this process ---------------------------


def _export_generic(
    world: World,
    out: Path,
    fmt: str,
    objects: Sequence[str],
    progress: Callable[[int], None] | None,
) -> dict[str, tuple[list[str], int]]:
    writer = {"csv": _write_csv, "json": _write_json, "parquet": _write_parquet}[fmt]
    written: dict[str, tuple[list[str], int]] = {}
    for name in objects:
        path = out / f"{name}.{fmt}"
        tmp = _temporary(path)
        try:
            written[name] = writer(world, sf.get(name), tmp, progress)
            tmp.replace(path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise _cant_write(path, exc.strerror) from None
    return written


def _write_csv(world: World, obj: sf.SObject, path: Path, progress) -> tuple[list[str], int]:
    header, _ = csv_layout(obj)
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for batch in world.iter_batches(obj.name, csv_select(obj)):
            writer.writerows(batch)
            count += len(batch)
            if progress:
                progress(len(batch))
    return header, count


def _full_columns(object_name: str) -> list[str]:
    """The JSON and Parquet columns: every column of the world's table but the sort keys."""
    return [c for c in t.RECORD_COLUMNS[object_name] if c not in ("account_idx", "seq")]


def _json_record(columns: Sequence[str], values: Sequence[Any], booleans: set[str]) -> str:
    """One JSON record as the export writes it: booleans (0/1 in the world) as true/false."""
    record = {
        c: (bool(v) if c in booleans and v is not None else v)
        for c, v in zip(columns, values, strict=True)
    }
    return json.dumps(record, ensure_ascii=False)


def _write_json(world: World, obj: sf.SObject, path: Path, progress) -> tuple[list[str], int]:
    columns, booleans = _full_columns(obj.name), _booleans(obj)
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        handle.write("[")
        for row in world.iter_rows(obj.name, columns):
            handle.write(("\n" if count == 0 else ",\n") + _json_record(columns, row, booleans))
            count += 1
            if progress and count % 5000 == 0:
                progress(5000)
        handle.write("\n]\n" if count else "]\n")
    if progress:
        progress(count % 5000)
    return columns, count


def _arrow_type(field_type: str):
    import pyarrow as pa

    return {
        "int": pa.int64(),
        "boolean": pa.bool_(),
        "currency": pa.float64(),
        "percent": pa.float64(),
        "double": pa.float64(),
    }.get(field_type, pa.string())


def _write_parquet(world: World, obj: sf.SObject, path: Path, progress) -> tuple[list[str], int]:
    columns = _full_columns(obj.name)
    batches = _batched(world.iter_rows(obj.name, columns), PARQUET_ROWS)
    return columns, _parquet_file(
        path, obj, (_arrow_table(obj, rows) for rows in batches), progress
    )


def _batched(rows: Iterable[tuple], size: int) -> Iterator[list[tuple]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


@cache
def _parquet_schema(object_name: str):
    import pyarrow as pa

    types = {f.name: f.type for f in sf.get(object_name).fields}
    columns = _full_columns(object_name)
    return pa.schema([(c, _arrow_type(types.get(c, "string"))) for c in columns])


def _arrow_table(obj: sf.SObject, rows: Sequence[tuple]):
    """Rows of world values (tuples in ``_full_columns`` order) as an Arrow table, converted
    column by column: what ``pa.Table.from_pylist`` of a dict per row gives, several times
    faster. Booleans, 0/1 in the world, become bool() of their value."""
    import pyarrow as pa

    schema = _parquet_schema(obj.name)
    booleans = _booleans(obj)
    values: list[Sequence[Any]] = list(zip(*rows, strict=True))
    for i, name in enumerate(schema.names):
        if name in booleans:
            values[i] = [None if v is None else bool(v) for v in values[i]]
    arrays = [pa.array(v, type=f.type) for v, f in zip(values, schema, strict=True)]
    return pa.Table.from_arrays(arrays, schema=schema)


def _parquet_file(path: Path | str, obj: sf.SObject, tables: Iterable, progress) -> int:
    """Write Arrow tables as a Parquet file, one row group each."""
    import pyarrow.parquet as pq

    count = 0
    with pq.ParquetWriter(path, _parquet_schema(obj.name), compression="zstd") as writer:
        for table in tables:
            writer.write_table(table)
            count += table.num_rows
            if progress:
                progress(table.num_rows)
    return count


SCORECARD_COLUMNS = [
    "Scorecard",
    "Opportunity",
    "Framework",
    "Mode",
    "Coverage",
    "Confidence",
    "Question",
    "QuestionText",
    "Weight",
    "Answer",
    "AnswerConfidence",
    "Source",
    "Evidence",
]


HISTORY_EXPORT_COLUMNS = ("key", *t.HISTORY_COLUMNS)


def _write_history(world: World, out: Path, fmt: str) -> dict[str, Any] | None:
    """The history (every stage and status change, in time order per account) as
    ``History.<fmt>``, listed under ``extras``: not a Salesforce object, but what lets a reader
    (or ``orgforge check``) see what changed when."""
    columns = HISTORY_EXPORT_COLUMNS
    path = out / f"{t.HISTORY}.{fmt}"
    tmp = _temporary(path)
    count = 0
    try:
        with world.reading() as conn:
            cursor = conn.execute(
                f'SELECT {quoted(columns)} FROM "{t.record_table_name(t.HISTORY)}" '
                'ORDER BY "account_idx", "seq"'
            )
            if fmt == "csv":
                with tmp.open("w", newline="", encoding="utf-8") as handle:
                    writer = csv.writer(handle, lineterminator="\n")
                    writer.writerow(columns)
                    for row in cursor:
                        writer.writerow(["" if v is None else v for v in row])
                        count += 1
            elif fmt == "json":
                with tmp.open("w", encoding="utf-8") as handle:
                    handle.write("[")
                    for row in cursor:
                        record = json.dumps(
                            dict(zip(columns, row, strict=True)), ensure_ascii=False
                        )
                        handle.write(("\n" if count == 0 else ",\n") + record)
                        count += 1
                    handle.write("\n]\n" if count else "]\n")
            else:
                import pyarrow as pa
                import pyarrow.parquet as pq

                schema = pa.schema([(c, pa.string()) for c in columns])
                with pq.ParquetWriter(tmp, schema) as writer:
                    for batch in _batched(cursor, PARQUET_ROWS):
                        values = list(zip(*batch, strict=True))
                        arrays = [pa.array(v, type=pa.string()) for v in values]
                        writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
                        count += len(batch)
        if not count:
            tmp.unlink(missing_ok=True)
            return None
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _cant_write(path, exc.strerror) from None
    return {"name": t.HISTORY, "file": path.name, "count": count, "columns": list(columns)}


def _write_scorecards(world: World, out: Path, fmt: str) -> dict[str, Any] | None:
    """Scorecards (activity job) as ``Scorecard.<fmt>`` when the world holds any.

    CSV and Parquet: one row per answer, the scorecard's figures repeated. JSON: one object per
    scorecard with its answers nested. Listed in the manifest under ``extras`` (they are not a
    Salesforce object: an org gets them as Tasks, if at all; see activity.scorecards.salesforce).
    """
    card_columns = t.TABLES["scorecards"].column_names
    answer_columns = t.TABLES["scorecard_answers"].column_names
    with world.reading() as conn:
        cards = [
            dict(zip(card_columns, r, strict=True))
            for r in conn.execute(
                f'SELECT {quoted(card_columns)} FROM "scorecards" '
                'ORDER BY "account_idx", "seq", "key"'
            )
        ]
        if not cards:
            return None
        answers: dict[str, list[dict]] = {}
        for r in conn.execute(
            f'SELECT {quoted(answer_columns)} FROM "scorecard_answers" '
            'ORDER BY "scorecard", "position"'
        ):
            answer = dict(zip(answer_columns, r, strict=True))
            answers.setdefault(answer["scorecard"], []).append(answer)
    path = out / f"Scorecard.{fmt}"
    tmp = path.with_name(path.name + ".tmp")
    rows = [
        [
            c["key"],
            c["opportunity"],
            c["framework"],
            c["mode"],
            c["coverage"],
            c["confidence"],
            a["question"],
            a["text"],
            a["weight"],
            a["answer"],
            a["confidence"],
            a["source"],
            a["evidence"],
        ]
        for c in cards
        for a in answers.get(c["key"], [])
    ]
    try:
        if fmt == "csv":
            with tmp.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(SCORECARD_COLUMNS)
                writer.writerows(["" if v is None else v for v in row] for row in rows)
        elif fmt == "json":
            data = [
                {
                    **{k: c[k] for k in ("key", "opportunity", "framework", "mode")},
                    **{k: c[k] for k in ("answered", "total", "coverage", "confidence")},
                    "answers": [
                        {
                            "question": a["question"],
                            "text": a["text"],
                            "weight": a["weight"],
                            "answer": a["answer"],
                            "confidence": a["confidence"],
                            "source": a["source"],
                            "evidence": json.loads(a["evidence"] or "[]"),
                        }
                        for a in answers.get(c["key"], [])
                    ],
                }
                for c in cards
            ]
            tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", "utf-8")
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pylist(
                [dict(zip(SCORECARD_COLUMNS, row, strict=True)) for row in rows]
            )
            pq.write_table(table, tmp, compression="zstd")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"--out {path}: can't write ({exc.strerror})") from None
    return {"name": "Scorecard", "file": path.name, "count": len(cards), "rows": len(rows)}


# -- SQLite worlds: rows rendered in SQL, parts written by forked workers ----------------------

# Between the cells of a CSV line while it travels from SQLite to Python: a control character
# csv.writer never quotes, so a line splits back into its cells unless a cell holds one (which
# the cell count catches: such rows are rendered the slow way).
SEP = "\x1f"
SEP_BYTES = SEP.encode()
NUMERIC = ("int", "currency", "percent", "double")


def _csv_special_characters() -> tuple[int | bytes, ...]:
    """The characters that make csv.writer quote a cell, found by asking this Python's csv
    module (``,``, ``"`` and a line feed on 3.11; later versions may add others): as UTF-8, a
    byte value when it is one byte (``int in bytes`` is the fastest test there is)."""
    found = []
    for char in [*map(chr, range(256)), "\u2028", "\u2029"]:
        probe = io.StringIO()
        csv.writer(probe, lineterminator="\n").writerow([f"a{char}b", "c"])
        if probe.getvalue().startswith('"'):
            encoded = char.encode()
            found.append(encoded[0] if len(encoded) == 1 else encoded)
    return tuple(found)


CSV_SPECIAL = _csv_special_characters()


@dataclass(frozen=True)
class _Part:
    """One piece of work for a worker: the rows of an object (all of them, or those of an
    account_idx range) written to a part file."""

    object_name: str
    fmt: str
    accounts: tuple[int, int] | None  # [first, end) of account_idx; None: every row
    path: str


class _PartError(Exception):
    """A part could not be written (an OSError in a worker, carried back to the parent)."""

    def __init__(self, object_name: str, reason: str) -> None:
        super().__init__(object_name, reason)
        self.object_name, self.reason = object_name, reason


def _export_sqlite(
    world: World,
    out: Path,
    fmt: str,
    objects: Sequence[str],
    progress: Callable[[int], None] | None,
    processes: int | None,
    part_rows: int,
) -> dict[str, tuple[list[str], int]]:
    with closing(_reader(_world_file(world))) as db:
        sizes = {name: _object_size(db, name) for name in objects}
    if fmt == "parquet":
        import pyarrow.parquet  # noqa: F401  (once, here, rather than in every worker)
    try:
        folder = Path(tempfile.mkdtemp(prefix=".orgforge-parts-", dir=out))
    except OSError as exc:
        raise _cant_write(out / f"{objects[0]}.{fmt}", exc.strerror) from None
    try:
        parts = {name: _split(name, fmt, *sizes[name], part_rows, folder) for name in objects}
        todo = [part for name in objects for part in parts[name]]
        if fmt == "parquet":  # one part per object: biggest first, so no worker idles at the end
            todo.sort(key=lambda p: -sizes[p.object_name][0] * len(_full_columns(p.object_name)))
        processes = _processes(world, processes, sum(count for count, _, _ in sizes.values()))
        with _finished_parts(world, processes, todo) as finished:
            return _assemble_as_finished(finished, out, fmt, parts, progress)
    except _PartError as exc:
        raise _cant_write(out / f"{exc.object_name}.{fmt}", exc.reason) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _assemble_as_finished(
    finished: Iterable[tuple[_Part, int]],
    out: Path,
    fmt: str,
    parts: dict[str, list[_Part]],
    progress: Callable[[int], None] | None,
) -> dict[str, tuple[list[str], int]]:
    """Report rows as parts finish; assemble an object's file when its last part is done."""
    left = {name: len(object_parts) for name, object_parts in parts.items()}
    counts = dict.fromkeys(parts, 0)
    written: dict[str, tuple[list[str], int]] = {}
    for part, rows in finished:
        name = part.object_name
        counts[name] += rows
        if progress and rows:
            progress(rows)
        left[name] -= 1
        if not left[name]:
            columns = _assemble(out / f"{name}.{fmt}", fmt, parts[name], counts[name])
            written[name] = columns, counts[name]
    return written


def _object_size(db: sqlite3.Connection, object_name: str) -> tuple[int, int, int]:
    """(rows, lowest account_idx, highest account_idx) of an object."""
    count, low, high = db.execute(
        f"SELECT count(*), min(account_idx), max(account_idx) FROM {_table(object_name)}"
    ).fetchone()
    return count, low or 0, high or 0


def _split(
    name: str, fmt: str, count: int, low: int, high: int, part_rows: int, folder: Path
) -> list[_Part]:
    """An object's parts: account_idx ranges of about ``part_rows`` rows (rows per account vary
    little over many accounts); one part for a small object or a Parquet file."""
    n = 1 if fmt == "parquet" else min(math.ceil(count / part_rows), high + 1 - low)
    if n <= 1:
        return [_Part(name, fmt, None, str(folder / f"{name}.0"))]
    bounds = [low + (high + 1 - low) * i // n for i in range(n + 1)]
    return [
        _Part(name, fmt, (bounds[i], bounds[i + 1]), str(folder / f"{name}.{i}")) for i in range(n)
    ]


def _processes(world: World, requested: int | None, records: int) -> int:
    """How many worker processes: forked workers need fork (not on Windows), a world that
    sqlite3 serves from its file and no connection of this process's SQLAlchemy engine in use
    (SQLite forbids carrying one into a child; an idle one is closed before forking)."""
    if requested is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        requested = min(PROCESSES, cores or 1) if records >= PARALLEL_FROM_ROWS else 1
    if requested <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    engine = world.engine_if_made
    checked_out = getattr(engine.pool, "checkedout", lambda: 0)() if engine is not None else 0
    return 1 if not world.is_sqlite or checked_out else requested


def _world_file(world: World) -> Path:
    """The file of a world sqlite3 serves (``World.is_sqlite``)."""
    path = sqlite_file(world.location)
    assert path is not None
    return path.resolve()


def _reader(path: Path) -> sqlite3.Connection:
    """A read-only connection of the export's own: the world's is for its writes and other
    threads, and a forked worker can't use one opened before the fork."""
    return sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=10)


@contextmanager
def _finished_parts(
    world: World, processes: int, parts: list[_Part]
) -> Iterator[Iterator[tuple[_Part, int]]]:
    """Write the parts; yield (part, rows) as each one is done. Leaving the block stops the
    workers, so no part file is written after it."""
    path = _world_file(world)
    if processes <= 1:
        with closing(_reader(path)) as db:
            yield ((part, _write_part(db, part)) for part in parts)
        return
    # SQLite connections must not be used across a fork (sqlite.org/howtocorrupt.html, 2.6):
    # close the engine's idle ones, if it has any (it opens new ones when asked), and let each
    # worker open its own.
    engine = world.engine_if_made
    if engine is not None:
        engine.dispose()
    workers = _Workers(path, min(processes, len(parts)))
    try:
        yield workers.run(parts)
    finally:
        workers.stop()


class _Workers:
    """Forked processes that write parts, each fed one part at a time over its own pipe.

    Not multiprocessing.Pool: its workers share queue locks, and stopping it while they are
    busy (an export that fails) can kill one holding a lock and hang the parent for good. Here
    no lock is shared: stopping closes the pipes, kills whoever is still busy and reaps all.
    """

    def __init__(self, path: Path, count: int) -> None:
        context = multiprocessing.get_context("fork")  # inherits the imports: starts in ms
        self.pipes: list[Connection] = []
        self.processes: list[multiprocessing.process.BaseProcess] = []
        self.busy: dict[Connection, _Part] = {}
        for _ in range(count):
            ours, theirs = context.Pipe()
            self.pipes.append(ours)
            # The child inherits our ends of its pipe and of earlier ones: it closes them, or
            # it would never read the end of its own.
            args = (path, theirs, list(self.pipes))
            process = context.Process(target=_worker, args=args, daemon=True)
            process.start()
            theirs.close()
            self.processes.append(process)

    def run(self, parts: list[_Part]) -> Iterator[tuple[_Part, int]]:
        todo = list(reversed(parts))
        for pipe in self.pipes:
            self._give(pipe, todo)
        while self.busy:
            for pipe in wait(list(self.busy)):
                part = self.busy.pop(pipe)
                try:
                    rows = pipe.recv()
                except EOFError:
                    raise RuntimeError(
                        f"an export worker died writing {part.object_name}"
                    ) from None
                if isinstance(rows, BaseException):
                    raise rows
                self._give(pipe, todo)
                yield part, rows

    def _give(self, pipe: Connection, todo: list[_Part]) -> None:
        if todo:
            pipe.send(todo[-1])
            self.busy[pipe] = todo.pop()

    def stop(self) -> None:
        for pipe, process in zip(self.pipes, self.processes, strict=True):
            if pipe in self.busy:  # writing a part nobody wants any more
                process.kill()
            pipe.close()  # an idle worker reads the end of its pipe and exits
        for process in self.processes:
            process.join()


def _worker(path: Path, pipe: Connection, parents: list[Connection]) -> None:
    """A worker process: write the parts the pipe brings, answer each with its rows or error."""
    status = 1
    try:
        for inherited in parents:
            inherited.close()
        db = _reader(path)
        while True:
            try:
                part = pipe.recv()
            except EOFError:
                break
            try:
                pipe.send(_write_part(db, part))
            except Exception as exc:
                try:
                    pipe.send(exc)
                except Exception:  # it doesn't pickle
                    pipe.send(RuntimeError(f"{exc.__class__.__name__}: {exc}"))
        status = 0
    finally:
        # Skip the interpreter's exit (finalizers, flushing stdout): another thread of the
        # parent may have held their locks when it forked.
        os._exit(status)


def _write_part(db: sqlite3.Connection, part: _Part) -> int:
    """Write one part file; return its row count."""
    try:
        if part.fmt == "parquet":
            return _write_parquet_part(db, part)
        return _write_text_part(db, part)
    except OSError as exc:
        raise _PartError(part.object_name, exc.strerror or str(exc)) from None


def _assemble(path: Path, fmt: str, parts: list[_Part], count: int) -> list[str]:
    """Put an object's finished parts together as its file; return its columns."""
    if fmt == "parquet":
        try:
            os.replace(parts[0].path, path)
        except OSError as exc:
            raise _cant_write(path, exc.strerror) from None
        return _full_columns(parts[0].object_name)
    if fmt == "csv":
        columns, _ = csv_layout(sf.get(parts[0].object_name))
        header = io.StringIO()
        csv.writer(header, lineterminator="\n").writerow(columns)
        head, between, tail = header.getvalue(), "", ""
    else:
        columns = _full_columns(parts[0].object_name)
        head, between, tail = ("[\n", ",\n", "\n]\n") if count else ("[", "", "]\n")
    tmp = _temporary(path)
    try:
        with tmp.open("wb") as handle:
            handle.write(head.encode())
            wrote_rows = False
            for part in parts:
                if not os.path.getsize(part.path):
                    continue
                if wrote_rows:
                    handle.write(between.encode())
                with open(part.path, "rb") as piece:
                    shutil.copyfileobj(piece, handle, 1 << 20)
                wrote_rows = True
            handle.write(tail.encode())
        tmp.replace(path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _cant_write(path, exc.strerror) from None
        raise
    return columns


def _write_text_part(db: sqlite3.Connection, part: _Part) -> int:
    query, width = _line_query(part.object_name, part.fmt, ranged=part.accounts is not None)
    render = _csv_text if part.fmt == "csv" else _json_text
    between = b"" if part.fmt == "csv" else b",\n"  # CSV batches end with a line feed
    count = 0
    with open(part.path, "wb") as handle:
        for rows in _batches(db.execute(query, part.accounts or ()), BATCH_ROWS):
            text = render(db, part.object_name, rows, width)
            handle.write(text if not count else between + text)
            count += len(rows)
    return count


def _write_parquet_part(db: sqlite3.Connection, part: _Part) -> int:
    obj = sf.get(part.object_name)
    rows = db.execute(_parquet_query(obj.name))
    tables = (_arrow_table_from_sqlite(db, obj, batch) for batch in _batches(rows, PARQUET_ROWS))
    return _parquet_file(part.path, obj, tables, None)


def _arrow_table_from_sqlite(db: sqlite3.Connection, obj: sf.SObject, rows: list[tuple]):
    """A batch of ``_parquet_query`` rows as an Arrow table, converted by Arrow in one call (a
    struct per row: no Python loop, no column of Python objects). A batch Arrow refuses (a
    value of another type than its column, a boolean that isn't 0/1) is read again and
    converted as the generic path converts it, which also raises what that path raises."""
    import pyarrow as pa

    schema = _parquet_schema(obj.name)
    booleans = _booleans(obj)
    as_read = [pa.field(f.name, pa.int64() if f.name in booleans else f.type) for f in schema]
    try:
        fetched = pa.array(rows, type=pa.struct([*as_read, pa.field("rowid", pa.int64())]))
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        raw = [db.execute(_row_query(obj.name, "parquet"), (row[-1],)).fetchone() for row in rows]
        return _arrow_table(obj, raw)
    columns = fetched.flatten()[:-1]
    arrays = [
        column.cast(pa.bool_()) if name in booleans else column
        for column, name in zip(columns, schema.names, strict=True)
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def _batches(cursor: sqlite3.Cursor, size: int) -> Iterator[list[tuple]]:
    while rows := cursor.fetchmany(size):
        yield rows


def _csv_text(db: sqlite3.Connection, object_name: str, rows: list[tuple], width: int) -> bytes:
    """A batch of (line, rowid) rows as CSV, byte for byte what csv.writer writes. Lines stay
    UTF-8 bytes throughout: the characters that matter are ASCII, which UTF-8 never uses
    inside another character, and no decoding or encoding is paid."""
    lines = [row[0] for row in rows]
    try:
        text = b"\n".join(lines)
    except TypeError:  # a NULL line: a float in a cell
        return _csv_text_row_by_row(db, object_name, rows, width)
    if text.count(SEP_BYTES) != len(lines) * (width - 1):  # a cell holds SEP
        return _csv_text_row_by_row(db, object_name, rows, width)
    # Quote the lines that need it (a few in ten); `in` is a memchr, cheap per line.
    dirty = {i for c in CSV_SPECIAL if c in text for i, line in enumerate(lines) if c in line}
    if dirty:
        for i in dirty:
            lines[i] = _quote_cells(lines[i])
        text = b"\n".join(lines)
    return text.replace(SEP_BYTES, b",") + b"\n"


def _quote_cells(line: bytes) -> bytes:
    """A line of SEP-separated cells as csv.writer writes it (QUOTE_MINIMAL, quotes doubled)."""
    cells = line.split(SEP_BYTES)
    quoted = {i for c in CSV_SPECIAL if c in line for i, cell in enumerate(cells) if c in cell}
    for i in quoted:
        cells[i] = b'"' + cells[i].replace(b'"', b'""') + b'"'
    return b",".join(cells)


def _csv_text_row_by_row(
    db: sqlite3.Connection, object_name: str, rows: list[tuple], width: int
) -> bytes:
    """The rare batch with a row SQL could not render (a float) or a cell holding SEP: those
    rows go through csv.writer as the generic path writes them."""
    lines = []
    for line, rowid in rows:
        if line is None or line.count(SEP_BYTES) != width - 1:
            row = db.execute(_row_query(object_name, "csv"), (rowid,)).fetchone()
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerow(row)
            lines.append(buffer.getvalue().encode())
        else:
            lines.append(_quote_cells(line) + b"\n")
    return b"".join(lines)


def _json_text(db: sqlite3.Connection, object_name: str, rows: list[tuple], _width: int) -> bytes:
    """A batch of (record, rowid) rows as JSON records separated by ",\\n", UTF-8."""
    lines = [row[0] for row in rows]
    if None in lines:  # a value SQL leaves to Python (a float, a boolean that isn't 0/1)
        obj = sf.get(object_name)
        columns, booleans = _full_columns(object_name), _booleans(obj)
        for i, (line, rowid) in enumerate(rows):
            if line is None:
                row = db.execute(_row_query(object_name, "json"), (rowid,)).fetchone()
                lines[i] = _json_record(columns, row, booleans).encode()
    return b",\n".join(lines)


def _booleans(obj: sf.SObject) -> set[str]:
    return {f.name for f in obj.fields if f.type == "boolean"}


# -- the SQL that renders rows ----------------------------------------------------------------


@cache
def _line_query(object_name: str, fmt: str, ranged: bool) -> tuple[str, int]:
    """The SELECT of (rendered line, rowid) in generation order, optionally of an account_idx
    range; and the number of cells of a CSV line."""
    if fmt == "csv":
        line, width = _csv_line_sql(object_name)
    else:
        line, width = _json_line_sql(object_name), 0
    where = " WHERE account_idx >= ? AND account_idx < ?" if ranged else ""
    # As a BLOB, the line reaches Python as UTF-8 bytes, written as they are.
    query = (
        f"SELECT CAST({line} AS BLOB), rowid FROM {_table(object_name)}{where} "
        "ORDER BY account_idx, seq"
    )
    return query, width


@cache
def _row_query(object_name: str, fmt: str) -> str:
    """The SELECT of one row's values by rowid, for rendering it in Python."""
    if fmt == "csv":
        columns = [cell for cell, _ in _csv_cells(sf.get(object_name))]
    else:  # the world's values, as the generic path reads them
        columns = [_quote_name(c) for c in _full_columns(object_name)]
    return f"SELECT {', '.join(columns)} FROM {_table(object_name)} WHERE rowid = ?"


@cache
def _parquet_query(object_name: str) -> str:
    """The SELECT of a row's values as Arrow takes them in one go, and its rowid: texts as
    UTF-8 bytes (not decoded to str only to be encoded again), booleans as 0/1 ints (a text
    there, for the generic path to handle: Arrow refuses it)."""
    obj = sf.get(object_name)
    types = {f.name: f.type for f in obj.fields}
    columns = []
    for name in _full_columns(object_name):
        col = _quote_name(name)
        if types.get(name) == "boolean":
            columns.append(
                f"CASE typeof({col}) WHEN 'integer' THEN {col} != 0 WHEN 'null' THEN NULL "
                "ELSE 'not 0/1' END"
            )
        elif types.get(name) in NUMERIC:
            columns.append(col)
        else:
            columns.append(f"CAST({col} AS BLOB)")
    return (
        f"SELECT {', '.join(columns)}, rowid FROM {_table(object_name)} ORDER BY account_idx, seq"
    )


def _csv_cells(obj: sf.SObject) -> list[tuple[str, bool]]:
    """``csv_select``'s columns as SQLite SQL, each with whether it can hold a float (an int or
    number field). Written out rather than compiled from csv_select: building and compiling
    SQLAlchemy expressions costs its import, a good part of a small export's time."""
    cells = [(_quote_name("key"), False)]
    for _, field, parent in _csv_fields(obj):
        col = _quote_name(field.name)
        if parent is not None:
            cells.append(
                (f"CASE WHEN {col} LIKE {_sql_string(parent + '/%')} THEN {col} END", False)
            )
        elif field.type == "boolean":
            cells.append(
                (f"CASE WHEN {col} = 1 THEN 'true' WHEN {col} = 0 THEN 'false' END", False)
            )
        elif field.type in ("currency", "percent", "double"):
            whole = f"CAST({col} AS INTEGER)"
            cells.append((f"CASE WHEN {col} = {whole} THEN {whole} ELSE {col} END", True))
        else:
            cells.append((col, field.type == "int"))
    return cells


def _csv_line_sql(object_name: str) -> tuple[str, int]:
    """csv_select's cells joined by SEP. NULL on a row where a cell is a float: csv.writer writes
    repr(float), which SQLite's float formatting doesn't always match."""
    cells = _csv_cells(sf.get(object_name))
    values = [cell for cell, _ in cells]
    guards = [f"typeof({cell}) != 'real'" for cell, may_be_float in cells if may_be_float]
    literals = ["", *[SEP] * (len(values) - 1), ""]
    return _guarded(guards, _printf(literals, values)), len(values)


def _json_line_sql(object_name: str) -> str:
    """A row as ``json.dumps(record, ensure_ascii=False)`` writes it: values through json_quote
    (same escapes, checked by JSON_IN_SQLITE), booleans as true/false. Floats are integral and
    below 1e15 in a generated world, and json_quote writes those as repr() does ("125000.0");
    NULL on a row with another float or a boolean that isn't 0/1: Python renders those."""
    obj = sf.get(object_name)
    types = {f.name: f.type for f in obj.fields}
    columns = _full_columns(object_name)
    values, guards = [], []
    for name in columns:
        col = _quote_name(name)
        if types.get(name) == "boolean":
            values.append(
                f"CASE WHEN {col} IS NULL THEN 'null' WHEN {col} THEN 'true' ELSE 'false' END"
            )
            guards.append(f"typeof({col}) IN ('integer', 'null')")
        else:  # a number, or a text (the table's TEXT affinity keeps it text)
            values.append(f"json_quote({col})")
            if types.get(name) in NUMERIC:
                whole = f"CAST({col} AS INTEGER)"
                guards.append(
                    f"(typeof({col}) != 'real' OR ({col} = {whole} AND abs({col}) < 1e15))"
                )
    keys = [json.dumps(name, ensure_ascii=False) + ": " for name in columns]
    literals = ["{" + keys[0], *[", " + key for key in keys[1:]], "}"]
    return _guarded(guards, _printf(literals, values))


def _printf(literals: list[str], values: list[str]) -> str:
    """SQL for literals[0] + values[0] + literals[1] + … + values[-1] + literals[-1], a NULL
    value as an empty string: printf builds each line in one allocation, where || copies it
    once per cell. One call per 100 values (SQLite caps a function's arguments)."""
    calls = []
    for start in range(0, len(values), 100):
        chunk = values[start : start + 100]
        template = "".join(literals[start + i].replace("%", "%%") + "%s" for i in range(len(chunk)))
        if start + len(chunk) == len(values):
            template += literals[-1].replace("%", "%%")
        calls.append(f"printf({_sql_string(template)}, {', '.join(chunk)})")
    return " || ".join(calls)


def _guarded(guards: list[str], expression: str) -> str:
    return f"CASE WHEN {' AND '.join(guards)} THEN {expression} END" if guards else expression


def _table(object_name: str) -> str:
    return _quote_name(t.record_table_name(object_name))


def _quote_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sqlite_json_matches_python() -> bool:
    """Whether this SQLite's json_quote writes what json.dumps(ensure_ascii=False) writes for
    texts (escapes of control characters, quotes and backslashes; non-ASCII as it is),
    integers and integral floats."""
    samples = [
        "".join(map(chr, range(1, 128))) + "é – “ ” \u2028\u2029 \U0001f600",
        -(2**63),
        125000.0,
        -3.0,
        99999999999999.0,
    ]
    try:
        with closing(sqlite3.connect(":memory:")) as db:
            quoted = [db.execute("SELECT json_quote(?)", (v,)).fetchone()[0] for v in samples]
    except sqlite3.Error:  # built without the JSON functions
        return False
    return quoted == [json.dumps(v, ensure_ascii=False) for v in samples]


JSON_IN_SQLITE = _sqlite_json_matches_python()


EXPORT_FORMATS = ("csv", "json", "parquet")


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The manifest of an exported folder, checked: a format orgforge writes, and objects whose
    files are regular files inside the folder. Anything else is one UsageError line."""
    from orgforge.inputs import read_text

    folder = Path(folder)
    hint = "Point --from at a folder written by `orgforge export` or `generate --out`."
    manifest_path = folder / "manifest.json"
    text = read_text(manifest_path, "--from", UsageError, hint)
    try:
        manifest = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        line = getattr(exc, "lineno", 1)
        raise UsageError(f"--from {manifest_path}:{line}: not valid JSON", hint) from None
    if not isinstance(manifest, dict):
        raise UsageError(f"--from {manifest_path}: not an orgforge manifest (no mapping)", hint)
    if manifest.get("format") not in EXPORT_FORMATS:
        raise UsageError(
            f"--from {manifest_path}: format {manifest.get('format')!r} is none of "
            f"{', '.join(EXPORT_FORMATS)}",
            hint,
        )
    objects = manifest.get("objects")
    if not isinstance(objects, list):
        raise UsageError(f"--from {manifest_path}: 'objects' is missing or not a list", hint)
    root = folder.resolve()
    for index, entry in enumerate(objects):
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("name"), str)
            and isinstance(entry.get("file"), str)
        ):
            raise UsageError(
                f"--from {manifest_path}: objects[{index}] needs a name and a file", hint
            )
        path = (folder / entry["file"]).resolve()
        if root not in path.parents:
            raise UsageError(
                f"--from {manifest_path}: objects[{index}].file {entry['file']!r} is outside "
                "the folder",
                hint,
            )
    return manifest


def read_export(folder: str | Path) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Read an exported folder back: (object, records) in load order, values as written."""
    from orgforge.inputs import check_path, require_regular

    folder = Path(folder)
    manifest = read_manifest(folder)
    fmt = manifest["format"]
    for entry in manifest["objects"]:
        path = folder / entry["file"]
        st = check_path(path, "--from", UsageError)
        if st is None:
            raise UsageError(
                f"--from {path}: listed in manifest.json but missing",
                "Export the world again with `orgforge export`.",
            )
        require_regular(path, st, "--from", UsageError)  # a FIFO would block the read
        try:
            if fmt == "csv":
                with path.open(newline="", encoding="utf-8") as handle:
                    yield entry["name"], list(csv.DictReader(handle))
            elif fmt == "json":
                rows = json.loads(path.read_text(encoding="utf-8"))
                if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                    raise UsageError(
                        f"--from {path}: not a JSON list of records",
                        "Export the world again with `orgforge export`.",
                    )
                yield entry["name"], rows
            else:
                import pyarrow.parquet as pq

                yield entry["name"], pq.read_table(path).to_pylist()
        except (csv.Error, ValueError, RecursionError, OSError) as exc:
            # ValueError: bad JSON, not UTF-8 (UnicodeDecodeError), a damaged Parquet file
            raise UsageError(
                f"--from {path}: can't be read as {fmt} ({exc.__class__.__name__})",
                "Export the world again with `orgforge export`.",
            ) from None
