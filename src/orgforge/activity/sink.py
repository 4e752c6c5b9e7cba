"""Where planned activity goes: the seam between the activity job and a world or an org.

An :class:`ActivitySink` answers two questions and does two things:

* ``existing(opportunities)`` — what orgforge already created for these opportunities (key →
  signature), so the job plans the difference and asks the text engine only for new items;
* ``write(work, run_id)`` — create the new items, remove the no-longer-planned ones (when
  pruning), and store the scorecards; one result per chunk;
* ``remove(...)`` — reset.

:class:`WorldSink` writes the local world: one transaction per chunk for the records (through
``World.write_rows``, job ``activity``, every insert/update/delete in the change log) and one
for the scorecards. A Salesforce sink (with the target) writes Events/Tasks/EventRelations in
REST collections of 200 and keeps key → Id in the world's sync table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select

from orgforge.activity.frameworks import Scorecard
from orgforge.activity.planner import signature
from orgforge.world import tables as t
from orgforge.world.store import Connection, World, in_list, insert_sql, now_iso, quoted

JOB = "activity"
OBJECTS = ("Event", "EventRelation", "Task", "EmailMessage")
# Records that belong to another: key → the key of the record they go with.
_BELONGS = {
    "EventRelation": lambda rest: "Event/" + rest.rsplit("/", 1)[0],
    "EmailMessage": lambda rest: "Task/" + rest,
}


def opp_prefix_of(key: str) -> str:
    """``Event/0042/1/m03`` → ``0042/1`` (the opportunity part of an activity key)."""
    parts = key.split("/")
    return f"{parts[1]}/{parts[2]}"


def stored_signature(object_name: str, row: dict[str, Any]) -> str:
    if object_name == "Event":
        return signature(row["WhatId"], "meeting", row["StartDateTime"], row["Subject"])
    return signature(row["WhatId"], "email", row["ActivityDate"], row["Subject"])


@dataclass
class ChunkWork:
    """One chunk of opportunities, planned and with text: what a sink writes."""

    prefixes: set[str]  # opportunity prefixes (0042/1) this chunk owns
    account_range: tuple[int, int]
    rows: dict[str, list[tuple]] = field(default_factory=dict)  # new or changed records
    keep: set[str] = field(default_factory=set)  # existing keys that stay as they are
    held: set[str] = field(default_factory=set)  # every key the sink held for these opps
    scorecards: list[Scorecard] = field(default_factory=list)
    opportunities: list[str] = field(default_factory=list)
    planned: int = 0


class ActivitySink(Protocol):
    name: str

    def existing(self, opportunities: Sequence[Any]) -> dict[str, dict[str, Any]]: ...

    def write(self, work: ChunkWork, run_id: str | None) -> dict[str, dict[str, int]]: ...


class WorldSink:
    name = "world"

    def __init__(self, world: World) -> None:
        self.world = world

    # -- reading ---------------------------------------------------------------------------

    def existing(self, opportunities: Sequence[Any]) -> dict[str, dict[str, Any]]:
        """key → {signature, relations: [keys]} of activity orgforge made for these opps."""
        prefixes = {o.prefix for o in opportunities}
        idxs = sorted({o.account_idx for o in opportunities})
        out: dict[str, dict[str, Any]] = {}
        relations: dict[str, list[str]] = {}
        with self.world.engine.connect() as conn:
            for name in OBJECTS:
                table = t.RECORD_TABLES[name]
                cols = [table.c.key]
                if name not in _BELONGS:
                    time_col = "StartDateTime" if name == "Event" else "ActivityDate"
                    cols += [table.c.WhatId, table.c[time_col], table.c.Subject]
                    cols.append(table.c.CreatedDate)
                for start in range(0, len(idxs), 500):
                    query = select(*cols).where(
                        table.c.account_idx.in_(idxs[start : start + 500]), table.c.job == JOB
                    )
                    for row in conn.execute(query):
                        key = row[0]
                        if opp_prefix_of(key) not in prefixes:
                            continue
                        if name in _BELONGS:
                            owner_key = _BELONGS[name](key.split("/", 1)[1])
                            relations.setdefault(owner_key, []).append(key)
                            continue
                        record = dict(row._mapping)
                        # made before activity carried audit fields: planned again, in full
                        sig = stored_signature(name, record) if record["CreatedDate"] else None
                        out[key] = {"signature": sig, "relations": []}
        for event_key, keys in relations.items():
            if event_key in out:
                out[event_key]["relations"] = keys
            else:  # an orphan invitee: report it so a rerun cleans it up
                for key in keys:
                    out[key] = {"signature": None, "relations": []}
        return out

    # -- writing ---------------------------------------------------------------------------

    def write(self, work: ChunkWork, run_id: str | None) -> dict[str, dict[str, int]]:
        if not work.rows and work.keep == work.held:  # nothing new, nothing to remove
            stats = {
                name: {"inserted": 0, "updated": 0, "deleted": 0, "unchanged": 0}
                for name in OBJECTS
            }
            for key in work.keep:
                stats[key.split("/", 1)[0]]["unchanged"] += 1
        else:
            stats = self.write_records(work, run_id)
        stats["Scorecard"] = self.write_scorecards(work.scorecards, work.opportunities, run_id)
        return stats

    def write_records(self, work: ChunkWork, run_id: str | None) -> dict[str, dict[str, int]]:
        lo, hi = work.account_range
        rows: dict[str, list[tuple]] = {}
        stored = 0  # activity rows the range holds now, kept or not
        with self.world.engine.connect() as conn:
            for name in OBJECTS:
                table = t.RECORD_TABLES[name]
                query = select(table).where(
                    table.c.account_idx.between(lo, hi - 1), table.c.job == JOB
                )
                keep = []
                for row in conn.execute(query):
                    stored += 1
                    key = row[0]
                    if opp_prefix_of(key) not in work.prefixes or key in work.keep:
                        keep.append(tuple(row))
                rows[name] = keep + work.rows.get(name, [])
        # Only a range with no activity at all may take write_rows' plain-insert path: anything
        # stored there must go through the diff, or what is no longer planned would stay.
        fresh = stored == 0
        return self.world.write_rows(rows, run_id, account_range=(lo, hi), fresh=fresh, job=JOB)

    def write_scorecards(
        self, cards: list[Scorecard], opportunities: Iterable[str], run_id: str | None
    ) -> dict[str, int]:
        counts = {"inserted": 0, "updated": 0, "deleted": 0, "unchanged": 0}
        opportunities = list(opportunities)
        ts = now_iso()
        # The world's own transaction: the scorecards and their change-log entries go through
        # the connection every other world write uses (see World.transaction).
        with self.world.transaction() as conn:
            existing: dict[str, tuple] = {}
            answers: dict[str, list[tuple]] = {}
            for start in range(0, len(opportunities), 500):
                marks, params = in_list(opportunities[start : start + 500])
                of_these = f'FROM "scorecards" WHERE "opportunity" IN {marks}'
                query = f'SELECT "key", {quoted(CARD_FIELDS)} {of_these}'
                for row in conn.execute(query, params):
                    existing[row[0]] = tuple(row[1:])
                query = (
                    f'SELECT "scorecard", {quoted(ANSWER_FIELDS)} FROM "scorecard_answers" '
                    f'WHERE "scorecard" IN (SELECT "key" {of_these}) '
                    'ORDER BY "scorecard", "position"'
                )
                for row in conn.execute(query, params):
                    answers.setdefault(row[0], []).append(tuple(row[1:]))
            log: dict[str, list[str]] = {"insert": [], "update": [], "delete": []}
            card_rows: list[dict[str, Any]] = []
            answer_rows: list[dict[str, Any]] = []
            for card in cards:
                new_row = _card_row(card, run_id, ts)
                new_answers = [_answer_row(card.key, a) for a in card.answers]
                old = existing.pop(card.key, None)
                if (
                    old is not None
                    and old == _card_tuple(new_row)
                    and answers.get(card.key, []) == [_answer_tuple(a) for a in new_answers]
                ):
                    counts["unchanged"] += 1
                    continue
                card_rows.append(new_row)
                answer_rows.extend(new_answers)
                log["update" if old is not None else "insert"].append(card.key)
                counts["updated" if old else "inserted"] += 1
            log["delete"] = list(existing)  # frameworks no longer configured for these opps
            counts["deleted"] = len(existing)
            _delete_scorecards(conn, log["update"] + log["delete"])
            if card_rows:
                conn.executemany(insert_sql("scorecards", tuple(card_rows[0])), card_rows)
                conn.executemany(insert_sql("scorecard_answers", ANSWER_COLUMNS), answer_rows)
            for op, keys in log.items():
                if keys:
                    self.world.log_change(conn, "Scorecard", op, keys, run_id, ts=ts)
        return counts

    # -- removing --------------------------------------------------------------------------

    def remove(self, keys_by_object: dict[str, list[str]], run_id: str | None) -> dict[str, int]:
        removed = {}
        for name in ("EventRelation", "Event", "EmailMessage", "Task"):  # children first
            keys = keys_by_object.get(name, [])
            removed[name] = self.world.delete_keys(name, keys, run_id, job=JOB) if keys else 0
        cards = keys_by_object.get("Scorecard", [])
        removed["Scorecard"] = self.remove_scorecards(cards, run_id) if cards else 0
        return removed

    def remove_scorecards(self, keys: list[str], run_id: str | None) -> int:
        ts = now_iso()
        removed = 0
        with self.world.transaction() as conn:
            for start in range(0, len(keys), 500):
                marks, params = in_list(keys[start : start + 500])
                query = f'SELECT "key" FROM "scorecards" WHERE "key" IN {marks}'
                found = [r[0] for r in conn.execute(query, params)]
                if not found:
                    continue
                _delete_scorecards(conn, found)
                self.world.log_change(conn, "Scorecard", "delete", found, run_id, ts=ts)
                removed += len(found)
        return removed


def _delete_scorecards(conn: Connection, keys: list[str]) -> None:
    params = [{"key": key} for key in keys]
    conn.executemany('DELETE FROM "scorecard_answers" WHERE "scorecard" = :key', params)
    conn.executemany('DELETE FROM "scorecards" WHERE "key" = :key', params)


def _card_row(card: Scorecard, run_id: str | None, ts: str) -> dict[str, Any]:
    prefix = card.opportunity.split("/")
    return {
        "key": card.key,
        "opportunity": card.opportunity,
        "account_idx": int(prefix[1]) - 1,
        "seq": int(prefix[2]),
        "framework": card.framework,
        "mode": card.mode,
        "answered": card.answered,
        "total": card.total,
        "coverage": card.coverage,
        "confidence": card.confidence,
        "job": JOB,
        "run_id": run_id,
        "updated_at": ts,
    }


CARD_FIELDS = ("framework", "mode", "answered", "total", "coverage", "confidence")
ANSWER_COLUMNS = t.TABLES["scorecard_answers"].column_names
ANSWER_FIELDS = ANSWER_COLUMNS[1:]  # what a stored answer is compared on


def _card_tuple(row: dict[str, Any]) -> tuple:
    return tuple(row[c] for c in CARD_FIELDS)


def _answer_row(card_key: str, a: Any) -> dict[str, Any]:
    return {
        "scorecard": card_key,
        "question": a.question,
        "position": a.position,
        "text": a.text,
        "weight": a.weight,
        "answer": a.answer,
        "confidence": a.confidence,
        "source": a.source,
        "evidence": json.dumps(a.evidence),
    }


def _answer_tuple(row: dict[str, Any]) -> tuple:
    return tuple(row[c] for c in ANSWER_FIELDS)
