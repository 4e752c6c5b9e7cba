"""Flywheel logs: one JSONL line per decision, per workload per day, and their replay.

A line keeps the chat-like shape of the founding brief (``request.messages`` /
``response.choices``, so the logs can feed a model-evaluation or fine-tuning loop as they are)
and adds, under ``metadata``, everything needed to explain and to replay the decision: the
inputs (the lead as routed, the account-match result), the candidates considered with their
weights and credit, the exclusions with reasons, the chosen owner and rule, the policy version
and digest, the router-state digest before the decision, the event's replay id and transaction
key, and the latency. Files are ``<workload>_<YYYY-MM-DD>.jsonl`` by the decision's UTC day.

:func:`replay` re-runs a log's routing decisions from an empty router state, in log order, and
returns every decision whose outcome (owner, rule, pool) differs — none for an unchanged policy.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from orgforge.agents.events import ChangeEvent
from orgforge.agents.policy import Policy
from orgforge.agents.routing import AccountMatch, Decision, Lead, Router
from orgforge.errors import UsageError

ROUTE = "lead.route"
FIRST_TOUCH = "lead.first_touch"
OUTREACH = "outreach.suggest"


class LogError(UsageError):
    default_hint = "Point at a flywheel log file or the folder that holds them (--log-dir)."


def _ts(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_encode_line = json.JSONEncoder(default=str, ensure_ascii=False).encode  # built once, not per line


class FlywheelLog:
    """Appends decision lines to ``<folder>/<workload>_<day>.jsonl``."""

    def __init__(self, folder: str | Path, client_id: str = "orgforge") -> None:
        self.folder = Path(folder)
        self.client_id = client_id
        self.lines = 0
        self._open: dict[str, Any] = {}  # file name → handle: days come in order, so few
        self._known: dict[str, set[str]] = {}  # file name → decision keys already in it

    @staticmethod
    def _keys_in(path: Path) -> set[str]:
        keys: set[str] = set()
        if path.is_file():
            with path.open(encoding="utf-8") as fh:
                for text in fh:
                    try:
                        keys.add(json.loads(text)["metadata"]["decision_key"])
                    except (ValueError, KeyError, TypeError):
                        continue  # a torn last line from a kill: it is written again
        return keys

    def _write(self, workload: str, at: datetime, line: dict[str, Any], key: str) -> None:
        """Append ``line`` unless the file already has one with ``key``: a session killed after
        logging but before saving its position re-decides the same events identically on
        restart, and this keeps each decision in the log once."""
        name = f"{workload}_{at.astimezone(UTC).date().isoformat()}.jsonl"
        known = self._known.get(name)
        if known is None:
            known = self._known[name] = self._keys_in(self.folder / name)
        if key in known:
            return
        known.add(key)
        line["metadata"]["decision_key"] = key
        fh = self._open.get(name)
        if fh is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            if len(self._open) >= 8:
                self.close()
            # unbuffered: each line is one append, so a killed session leaves whole lines
            fh = self._open[name] = (self.folder / name).open("ab", buffering=0)
        fh.write((_encode_line(line) + "\n").encode())
        self.lines += 1

    def routed(self, lead_id: str, at: datetime) -> bool:
        """Whether the log already routed ``lead_id`` (today's or yesterday's file): a session
        restarted after a kill must not route it again, to another rep."""
        return any(
            self.seen(ROUTE, day, route_key(lead_id)) for day in (at, at - timedelta(days=1))
        )

    def seen(self, workload: str, at: datetime, key: str) -> bool:
        """Whether the day's log already holds ``key`` (so an action must not be repeated)."""
        name = f"{workload}_{at.astimezone(UTC).date().isoformat()}.jsonl"
        if name not in self._known:
            self._known[name] = self._keys_in(self.folder / name)
        return key in self._known[name]

    def close(self) -> None:
        for fh in self._open.values():
            fh.close()
        self._open.clear()

    def __enter__(self) -> FlywheelLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def route(
        self,
        decision: Decision,
        lead: Lead,
        *,
        action: str = "route",
        why: str | None = None,
        state_before: str,
        latency_ms: float,
        event: ChangeEvent | None = None,
        check: dict[str, Any] | None = None,
    ) -> None:
        answer = {
            "owner": decision.owner,
            "rule": decision.rule,
            "segment": decision.segment,
            "region": decision.region,
            "pool": decision.pool,
            "reason": decision.reason,
        }
        match = decision.account_match
        # a lead is routed once, whatever feed (stream, or the polling that reconciles it)
        # shows it again; a dispatch or reassignment is keyed by its due time, which a
        # restart that re-decides it computes the same
        key = (
            route_key(lead.id)
            if action == "route"
            else (f"{action}|{lead.id}|{decision.decided_at.isoformat()}")
        )
        self._write(
            ROUTE,
            decision.decided_at,
            {
                "timestamp": _ts(decision.decided_at),
                "client_id": self.client_id,
                "workload_id": ROUTE,
                "request": {
                    "messages": [{"role": "user", "content": lead.describe()}],
                    "model": "rules",
                },
                "response": {"choices": [{"message": {"content": json.dumps(answer)}}]},
                "metadata": {
                    "action": action,
                    "why": why,
                    "lead_id": lead.id,
                    "assigned_to": decision.owner,
                    "reassigned_from": decision.reassigned_from,
                    "inputs": {
                        "lead": lead.as_dict(),
                        "account_match": match.__dict__ if match else None,
                    },
                    "candidates": decision.candidates,
                    "exclusions": decision.exclusions,
                    "policy_version": decision.policy_version,
                    "policy_digest": decision.policy_digest,
                    "state_before": state_before,
                    "event": _event_meta(event),
                    "latency_ms": round(latency_ms, 3),
                    **({"llm_check": check} if check is not None else {}),
                },
            },
            key,
        )

    def first_touch(self, at: datetime, lead_id: str, payload: dict[str, Any]) -> None:
        self._write(
            FIRST_TOUCH,
            at,
            {
                "timestamp": _ts(at),
                "client_id": self.client_id,
                "workload_id": FIRST_TOUCH,
                "request": {"messages": [{"role": "user", "content": f"Lead {lead_id}"}]},
                "response": {"choices": [{"message": {"content": json.dumps(payload)}}]},
                "metadata": {"lead_id": lead_id, **payload},
            },
            f"touch|{lead_id}",
        )

    def outreach(self, at: datetime, suggestion: Any, sent: bool | None, error: str | None):
        answer = {
            "template_id": suggestion.template_id,
            "intent_detected": suggestion.intent,
            "matched_keyword": suggestion.matched,
            "subject": suggestion.subject,
            "body": suggestion.body,
        }
        self._write(
            OUTREACH,
            at,
            {
                "timestamp": _ts(at),
                "client_id": self.client_id,
                "workload_id": OUTREACH,
                "request": {
                    "messages": [{"role": "user", "content": f"Lead {suggestion.lead_id}"}],
                    "model": "rules",
                },
                "response": {"choices": [{"message": {"content": json.dumps(answer)}}]},
                "metadata": {
                    "lead_id": suggestion.lead_id,
                    "template_id": suggestion.template_id,
                    "sent": sent,
                    "error": error,
                },
            },
            f"outreach|{suggestion.lead_id}",
        )


def route_key(lead_id: str) -> str:
    return f"route|{lead_id}"


def _event_meta(event: ChangeEvent | None) -> dict[str, Any] | None:
    if event is None:
        return None
    return {
        "replay_id": event.replay_id,
        "transaction_key": event.transaction_key,
        "change_type": event.change_type,
        "entity": event.entity,
    }


def log_files(location: str | Path, workload: str) -> list[Path]:
    """The workload's log files at ``location`` (a file or a folder), oldest day first."""
    path = Path(location)
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(path.glob(f"{workload}_*.jsonl"))
    raise LogError(f"{location}: no such flywheel log file or folder")


def read_lines(location: str | Path, workload: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(``file:line``, parsed line) for each line of the workload's logs."""
    for path in log_files(location, workload):
        with path.open(encoding="utf-8") as fh:
            for number, text in enumerate(fh, 1):
                if not text.strip():
                    continue
                where = f"{path}:{number}"
                try:
                    line = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise LogError(f"{where}: not a JSON line ({exc.msg})") from None
                if not isinstance(line, dict) or line.get("workload_id") != workload:
                    continue
                yield where, line


@dataclass(frozen=True)
class Difference:
    where: str
    lead_id: str
    logged: tuple[str, str, str | None]
    replayed: tuple[str, str, str | None]
    reason: str  # the replayed decision's explanation


def replay(location: str | Path, policy: Policy) -> tuple[int, list[Difference]]:
    """Re-run every routing decision in the logs; (decisions replayed, those that differ)."""
    router = Router(policy)
    count = 0
    differences: list[Difference] = []
    for where, line in read_lines(location, ROUTE):
        meta = line.get("metadata") or {}
        try:
            lead = Lead.from_dict(meta["inputs"]["lead"])
            at = datetime.fromisoformat(line["timestamp"])
            match = meta["inputs"].get("account_match")
            answer = json.loads(line["response"]["choices"][0]["message"]["content"])
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise LogError(f"{where}: not a lead.route decision line ({exc})") from None
        if meta.get("action") == "reassign":  # route and dispatch re-run the same rules
            decision = router.reassign(lead, at, meta["reassigned_from"], meta.get("why") or "")
        else:
            decision = router.route(lead, at, AccountMatch(**match) if match else None)
        count += 1
        logged = (answer["owner"], answer["rule"], answer.get("pool"))
        if decision.outcome() != logged:
            differences.append(
                Difference(where, lead.id, logged, decision.outcome(), decision.reason)
            )
    return count, differences


def iter_decisions(location: str | Path) -> Iterable[dict[str, Any]]:
    """Each routing line's metadata with its answer folded in, for metrics."""
    for _where, line in read_lines(location, ROUTE):
        meta = dict(line.get("metadata") or {})
        meta.update(json.loads(line["response"]["choices"][0]["message"]["content"]))
        meta["timestamp"] = line["timestamp"]
        yield meta
