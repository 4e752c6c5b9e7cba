"""The files target: export a world as CSV, JSON or Parquet, streaming, one file per object.

CSV is *load-ready*: one ``<Object>.csv`` per object in load order, header of Salesforce field
API names, ready for Bulk API 2.0 or Data Loader upsert on the external-ID field
``Orgforge_Key__c``. Lookups are written as relationship columns that name the parent by its
key: ``Account.Orgforge_Key__c`` and, for polymorphic lookups, one column per parent type in
Bulk API syntax ``ObjectType:RelationshipName.IndexedFieldName`` (``Opportunity:What.…``), only
one of which is filled on a row. Read-only fields (IsClosed, CreatedDate, …), OwnerId (orgforge's
sales reps are not users of your org) and the User object are left out.

JSON and Parquet are *full-fidelity* world dumps: every field including read-only ones, the
record ``key`` and its density ``tier``, lookups holding parent keys.

Every format writes ``manifest.json`` (objects in load order, counts, columns). Files are
written to a temporary name and renamed, so a failed export never leaves half a file behind.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Integer, case, cast
from sqlalchemy.sql.elements import ColumnElement

from orgforge.errors import OutputError, UsageError
from orgforge.schema import salesforce as sf
from orgforge.world.store import World
from orgforge.world.tables import RECORD_TABLES

FORMATS = ("csv", "json", "parquet")
LOADABLE = tuple(name for name in sf.GENERATED if name != "User")


def relationship_columns(field: sf.Field) -> list[tuple[str, str]]:
    """(header, parent object) pairs for one lookup field."""
    if field.is_polymorphic:
        used = [t for t in field.reference_to if t in sf.BY_NAME]
        return [(f"{t}:{field.relationship_name}.{sf.KEY_FIELD}", t) for t in used]
    return [(f"{field.relationship_name}.{sf.KEY_FIELD}", field.reference_to[0])]


def csv_layout(obj: sf.SObject) -> tuple[list[str], list[Callable[[dict], str]]]:
    """The CSV header of an object and, per column, how to render it from a world row."""
    header = [sf.KEY_FIELD]
    render: list[Callable[[dict], str]] = [lambda row: row["key"]]
    for field in obj.fields:
        if not field.createable or field.name == "OwnerId":
            continue
        if field.is_reference:
            for column, parent in relationship_columns(field):
                header.append(column)
                prefix = parent + "/"
                render.append(
                    lambda row, n=field.name, p=prefix: (
                        row[n] if row[n] and row[n].startswith(p) else ""
                    )
                )
        else:
            header.append(field.name)
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
    """The CSV columns of ``csv_layout`` as SQL, so rows stream from the database to the csv
    module without a Python function per cell (the export's hot path). NULL becomes an empty
    cell; tests check both renderings agree cell for cell."""
    table = RECORD_TABLES[obj.name]
    columns: list[ColumnElement] = [table.c.key]
    for field in obj.fields:
        if not field.createable or field.name == "OwnerId":
            continue
        col = table.c[field.name]
        if field.is_reference:
            for _, parent in relationship_columns(field):
                columns.append(case((col.like(f"{parent}/%"), col), else_=None))
        elif field.type == "boolean":
            columns.append(case((col == 1, "true"), (col == 0, "false"), else_=None))
        elif field.type in ("currency", "percent", "double"):
            whole = cast(col, Integer)
            columns.append(case((col == whole, whole), else_=col))
        else:
            columns.append(col)
    return columns


def _rows(world: World, object_name: str) -> Iterator[dict[str, Any]]:
    names = world.columns(object_name)
    for row in world.iter_rows(object_name):
        yield dict(zip(names, row, strict=True))


def export(
    world: World,
    out_dir: str | Path,
    fmt: str = "csv",
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write the world to ``out_dir``; return record counts per object."""
    if fmt not in FORMATS:
        raise UsageError(f"--format: unknown format {fmt!r}", f"Use one of {', '.join(FORMATS)}.")
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"--out {out}: can't create it ({exc.strerror})") from None
    objects = LOADABLE if fmt == "csv" else sf.GENERATED
    writer = {"csv": _write_csv, "json": _write_json, "parquet": _write_parquet}[fmt]
    manifest: dict[str, Any] = {
        "format": fmt,
        "key_field": sf.KEY_FIELD,
        "seed": world.get_meta("generated"),
        "objects": [],
    }
    counts: dict[str, int] = {}
    for name in objects:
        path = out / f"{name}.{fmt}"
        tmp = path.with_name(path.name + ".tmp")
        try:
            columns, count = writer(world, sf.get(name), tmp, progress)
            tmp.replace(path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise OutputError(f"--out {path}: can't write ({exc.strerror})") from None
        counts[name] = count
        manifest["objects"].append(
            {"name": name, "file": path.name, "count": count, "columns": columns}
        )
    extra = _write_scorecards(world, out, fmt)
    if extra:
        manifest["extras"] = [extra]
        counts["Scorecard"] = extra["count"]
    generated = world.get_meta("generated")
    manifest["seed"] = json.loads(generated) if generated else None
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return counts


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


def _write_scorecards(world: World, out: Path, fmt: str) -> dict[str, Any] | None:
    """Scorecards (activity job) as ``Scorecard.<fmt>`` when the world holds any.

    CSV and Parquet: one row per answer, the scorecard's figures repeated. JSON: one object per
    scorecard with its answers nested. Listed in the manifest under ``extras`` (they are not a
    Salesforce object: the Salesforce sink maps them, see activity.scorecards.salesforce).
    """
    from sqlalchemy import select

    from orgforge.world import tables as t

    sc, sa = t.scorecards, t.scorecard_answers
    with world.engine.connect() as conn:
        cards = [
            dict(r._mapping)
            for r in conn.execute(select(sc).order_by(sc.c.account_idx, sc.c.seq, sc.c.key))
        ]
        if not cards:
            return None
        answers: dict[str, list[dict]] = {}
        for r in conn.execute(select(sa).order_by(sa.c.scorecard, sa.c.position)):
            answers.setdefault(r.scorecard, []).append(dict(r._mapping))
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


def _full_columns(world: World, obj: sf.SObject) -> list[str]:
    return [c for c in world.columns(obj.name) if c not in ("account_idx", "seq")]


def _write_json(world: World, obj: sf.SObject, path: Path, progress) -> tuple[list[str], int]:
    columns = _full_columns(world, obj)
    booleans = {f.name for f in obj.fields if f.type == "boolean"}
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        handle.write("[")
        for row in _rows(world, obj.name):
            record = {
                c: (bool(row[c]) if c in booleans and row[c] is not None else row[c])
                for c in columns
            }
            handle.write(("\n" if count == 0 else ",\n") + json.dumps(record, ensure_ascii=False))
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
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = _full_columns(world, obj)
    types = {f.name: f.type for f in obj.fields}
    schema = pa.schema([(c, _arrow_type(types.get(c, "string"))) for c in columns])
    count = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        batch: list[dict] = []

        def flush() -> None:
            if batch:
                for record in batch:
                    for c in columns:
                        if types.get(c) == "boolean" and record[c] is not None:
                            record[c] = bool(record[c])
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                if progress:
                    progress(len(batch))
                batch.clear()

        for row in _rows(world, obj.name):
            batch.append({c: row[c] for c in columns})
            count += 1
            if len(batch) >= 20_000:
                flush()
        flush()
    return columns, count


def read_export(folder: str | Path) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Read an exported folder back: (object, records) in load order, values as written."""
    folder = Path(folder)
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        raise UsageError(
            f"--from {folder}: no manifest.json there",
            "Point --from at a folder written by `orgforge export` or `generate --out`.",
        )
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    fmt = manifest["format"]
    for entry in manifest["objects"]:
        path = folder / entry["file"]
        if fmt == "csv":
            with path.open(newline="", encoding="utf-8") as handle:
                yield entry["name"], list(csv.DictReader(handle))
        elif fmt == "json":
            yield entry["name"], json.loads(path.read_text(encoding="utf-8"))
        else:
            import pyarrow.parquet as pq

            yield entry["name"], pq.read_table(path).to_pylist()
