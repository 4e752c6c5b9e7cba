"""An optional LLM check of the rules' routing choice (``orgforge agents run --llm-check``).

The rules decide; the model only reviews. Each decision — the lead, the segment, region, pool
and rule, the chosen owner, every candidate with its weight and credit, every exclusion with
its reason — goes to the content provider configured in ``content`` (OpenAI, Azure, Anthropic
or any OpenAI-compatible server, through the same providers the LLM text engine uses), which
answers ``{"verdict": "confirm" | "flag", "reason": …, "better_owner": … | null}``. The verdict
is logged with the decision; the owner never changes. A ``better_owner`` is kept only when it
is a candidate the rules considered eligible; one the rules excluded (off shift, out of office,
at cap) or never considered is recorded as refused, with why.

Answers are cached in the world's content cache under (provider, model, check version, the
decision's inputs): a rerun over the same decisions makes no calls. A call that fails after
its retries, or an answer that isn't a verdict, leaves the decision ``unchecked`` (logged, not
cached), never blocked.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass
from typing import Any

from orgforge.agents.routing import Decision, Lead
from orgforge.clock import REAL, Clock
from orgforge.config import ContentConfig
from orgforge.content.pacing import LoopThread
from orgforge.content.providers import CallError, Provider, Reply, make_provider

CHECK_VERSION = "lead.route-check/1"
SYSTEM = """You review lead-routing decisions that deterministic rules made for a RevOps team.
You never assign leads: the rules' owner stands. Read the lead, the segment and region the
rules derived, the pool, every candidate the rules considered (weight, round-robin credit) and
every exclusion with its reason, and the owner chosen. Answer "confirm" when the choice fits
the lead; answer "flag" when something looks wrong for a human to look at (a region or segment
that doesn't fit the company, an account match that looks mistaken, a fallback that a pool
should have taken), with a one-sentence reason. If you flag and one of the ELIGIBLE candidates
fits better, name it in better_owner; otherwise better_owner is null. Never name an excluded rep.
Answer with JSON only: {"verdict": "confirm" | "flag", "reason": "...", "better_owner": null}."""
SCHEMA = {
    "type": "object",
    "properties": {
        "verdict": {"type": "string", "enum": ["confirm", "flag"]},
        "reason": {"type": "string"},
        "better_owner": {"type": ["string", "null"]},
    },
    "required": ["verdict", "reason", "better_owner"],
    "additionalProperties": False,
}
MAX_TOKENS = 300


@dataclass
class Verdict:
    verdict: str  # confirm | flag | unchecked
    reason: str
    source: str  # llm | cache | error
    model: str
    better_owner: str | None = None  # an eligible candidate the model preferred (not applied)
    refused_owner: str | None = None  # a suggestion the rules excluded or never considered
    refused_because: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def decision_inputs(decision: Decision, lead: Lead) -> dict[str, Any]:
    """What the model sees (and the cache key covers): no timestamps of the decision itself,
    so the same lead decided the same way is the same question."""
    match = decision.account_match
    return {
        "lead": {
            "company": lead.company,
            "email_domain": (lead.email or "").rpartition("@")[2] or None,
            "country": lead.country,
            "employees": lead.employees,
        },
        "action": decision.action,
        "segment": decision.segment,
        "region": decision.region,
        "pool": decision.pool,
        "rule": decision.rule,
        "rules_reason": decision.reason,
        "owner": decision.owner,
        "account_match": match.__dict__ if match else None,
        "eligible_candidates": [
            {k: c[k] for k in ("rep", "weight", "credit") if k in c}
            for c in decision.candidates
            if not c.get("excluded")
        ],
        "exclusions": decision.exclusions,
        "policy": decision.policy_digest,
    }


class RouteChecker:
    """One provider client for a session; ``check`` is synchronous (a step decides in order)."""

    def __init__(
        self,
        config: ContentConfig,
        store: Any = None,
        *,
        provider: Provider | None = None,
        clock: Clock = REAL,
        seed: int = 0,
    ) -> None:
        self.config = config
        self.store = store  # the world (its content cache); None: this process only
        self.provider = provider or make_provider(config)  # a missing key fails here
        self.provider.clock = clock
        self.clock = clock
        self.calls = 0
        self.cached = 0
        self.unchecked = 0
        self.flagged = 0
        self._memory: dict[str, str] = {}
        self._jitter = random.Random(seed)
        self._runner: LoopThread | None = None

    def key(self, inputs: dict[str, Any]) -> str:
        material = [self.config.provider, self.config.model, CHECK_VERSION, inputs]
        text = json.dumps(material, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def check(self, decision: Decision, lead: Lead) -> Verdict:
        inputs = decision_inputs(decision, lead)
        key = self.key(inputs)
        text = self._cached(key)
        source = "cache"
        if text is None:
            try:
                text = self._ask(inputs)
            except CallError as exc:
                self.unchecked += 1
                return Verdict("unchecked", f"the LLM call failed ({exc.kind})", "error", self._m)
            source = "llm"
        verdict = self._verdict(text, decision, source)
        if verdict.verdict == "unchecked":
            self.unchecked += 1
            return verdict
        if source == "llm":
            self._put(key, text)
        else:
            self.cached += 1
        self.flagged += verdict.verdict == "flag"
        return verdict

    @property
    def _m(self) -> str:
        return f"{self.config.provider}:{self.config.model}"

    # -- the cache (the world's content cache, as the LLM text engine uses it) -----------------

    def _cached(self, key: str) -> str | None:
        if self.store is None:
            return self._memory.get(key)
        return self.store.cache_get_many([key]).get(key)

    def _put(self, key: str, text: str) -> None:
        if self.store is None:
            self._memory[key] = text
            return
        versions = {key: CHECK_VERSION}
        self.store.cache_put_many([(key, text)], self.config.provider, self.config.model, versions)

    # -- the call -----------------------------------------------------------------------------

    def _ask(self, inputs: dict[str, Any]) -> str:
        user = "Routing decision to review:\n" + json.dumps(inputs, ensure_ascii=False, indent=1)
        if self._runner is None:
            self._runner = LoopThread()
            self._runner.run(self.provider.open())
        attempts = self.config.max_attempts
        for attempt in range(attempts):
            try:
                self.calls += 1
                reply: Reply = self._runner.run(
                    self.provider.call(SYSTEM, user, SCHEMA, MAX_TOKENS, self.config.timeout)
                )
            except CallError as exc:
                if not exc.retryable or attempt == attempts - 1:
                    raise
                ceiling = min(self.config.backoff_max, self.config.backoff * 2**attempt)
                wait = exc.retry_after or ceiling * (0.5 + 0.5 * self._jitter.random())
                self.clock.sleep(wait)
                continue
            if reply.data is not None:
                return json.dumps(reply.data, sort_keys=True)
            return reply.text or ""
        raise CallError("server", "no answer", retryable=False)  # not reached

    def _verdict(self, text: str, decision: Decision, source: str) -> Verdict:
        try:
            data = json.loads(text.strip().removeprefix("```json").strip("`\n "))
        except ValueError:
            data = None
        if not isinstance(data, dict) or data.get("verdict") not in ("confirm", "flag"):
            return Verdict("unchecked", "the answer was not a verdict", "error", self._m)
        verdict = Verdict(data["verdict"], str(data.get("reason") or "")[:500], source, self._m)
        better = data.get("better_owner")
        if isinstance(better, str) and better and better != decision.owner:
            eligible = {c["rep"] for c in decision.candidates if not c.get("excluded")}
            excluded = {e["rep"]: e["reason"] for e in decision.exclusions}
            if better in eligible:
                verdict.better_owner = better
            else:
                verdict.refused_owner = better
                verdict.refused_because = (
                    f"excluded by the rules: {excluded[better]}"
                    if better in excluded
                    else "not a candidate the rules considered"
                )
        return verdict

    def stats(self) -> dict[str, int]:
        return {
            "calls": self.calls,
            "cached": self.cached,
            "flagged": self.flagged,
            "unchecked": self.unchecked,
        }

    def close(self) -> None:
        if self._runner is not None:
            try:
                self._runner.run(self.provider.close())
            finally:
                self._runner.stop()
                self._runner = None
