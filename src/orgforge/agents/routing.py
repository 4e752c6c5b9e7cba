"""Deterministic lead routing: rules first, every decision explained and replayable.

For a new lead the router tries, in order:

1. **Account match** (``match_accounts``): a lead whose email domain or normalised company name
   matches an existing account goes to that account's owner — when the owner is on shift; an
   off-shift owner is logged as an exclusion and the lead goes on to the pools.
2. **Pool**: the lead's segment (employees) and region (country) select the pools that serve
   them; within the first pool with an eligible member, a *smooth weighted round robin* (the
   nginx algorithm) picks the member: each eligible member's credit grows by its weight, the
   highest credit wins (ties: policy order) and pays the total eligible weight back. Over every
   full cycle of equal availability each rep gets exactly its weight's share; a rep who is off
   neither earns credit nor is flooded on return. Members who are inactive, off shift, out of
   office, at their daily cap, or (on reassignment) among the lead's recent owners are excluded
   with the reason.
3. **Hold or fallback**: when pools serve the lead but none of their members is on shift (and
   ``hold_off_hours``, the default), the lead is *held* in ``fallback_owner`` (a queue) and
   dispatched through the pools at the first instant one of their members comes on shift —
   the way round-robin pools that follow user schedules work. Otherwise (no pool serves the
   segment and region, or holding is off) it goes to ``fallback_owner``, so no lead is left
   unassigned. A reassignment that finds nobody else on shift keeps the current owner.

The router holds no clock and no randomness: a decision is a function of the policy, the lead,
the decision time, the account-match result and the router state, and :class:`RouterState`
round-trips through JSON, so a decision log replays into the same decisions.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from orgforge.agents.hours import availability, next_on_shift
from orgforge.agents.policy import Policy, Pool

FREE_MAIL = frozenset(
    {"gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com", "proton.me"}
)
_SUFFIXES = re.compile(
    r"\b(incorporated|inc|llc|l\.l\.c|ltd|limited|corp|corporation|co|company|plc|gmbh|ag|sa|"
    r"bv|nv|pty|group|holdings)\b\.?",
    re.IGNORECASE,
)


def company_key(name: str | None) -> str:
    """A company name folded for matching: case, punctuation and legal suffixes dropped."""
    folded = _SUFFIXES.sub(" ", (name or "").casefold())
    return " ".join(re.sub(r"[^\w]+", " ", folded).split())


def email_domain(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    domain = email.rsplit("@", 1)[1].strip().casefold()
    return None if domain in FREE_MAIL or not domain else domain


@dataclass(frozen=True)
class Lead:
    id: str
    created: datetime
    company: str | None = None
    email: str | None = None
    country: str | None = None
    employees: int | None = None

    def describe(self) -> str:
        size = f"{self.employees:,} employees" if self.employees is not None else "size unknown"
        return f"Lead {self.id}: {self.company or '?'}; {size}; {self.country or 'country unknown'}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created": self.created.isoformat(),
            "company": self.company,
            "email": self.email,
            "country": self.country,
            "employees": self.employees,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Lead:
        return cls(**{**data, "created": datetime.fromisoformat(data["created"])})


@dataclass(frozen=True)
class AccountMatch:
    """An existing account the lead belongs to, as looked up when the lead was routed."""

    account_id: str
    owner: str
    by: str  # domain | company


class AccountIndex:
    """Existing accounts by email domain and by folded company name."""

    def __init__(self) -> None:
        self._by_domain: dict[str, AccountMatch] = {}
        self._by_name: dict[str, AccountMatch] = {}

    def add(self, account_id: str, owner: str, name: str | None, domain: str | None) -> None:
        if domain:
            self._by_domain.setdefault(domain.casefold(), AccountMatch(account_id, owner, "domain"))
        key = company_key(name)
        if key:
            self._by_name.setdefault(key, AccountMatch(account_id, owner, "company"))

    def match(self, lead: Lead) -> AccountMatch | None:
        domain = email_domain(lead.email)
        if domain and domain in self._by_domain:
            return self._by_domain[domain]
        return self._by_name.get(company_key(lead.company))


@dataclass
class RouterState:
    """What earlier decisions left behind: round-robin credit, daily counts, owners per lead."""

    credit: dict[str, dict[str, int]] = field(default_factory=dict)  # pool → rep → credit
    daily: dict[str, int] = field(default_factory=dict)  # "rep|local day" → assignments
    owners: dict[str, list[str]] = field(default_factory=dict)  # lead → owners, oldest first
    decisions: int = 0
    chain: str = "0" * 32

    def to_json(self) -> str:
        data = {
            "credit": self.credit,
            "daily": self.daily,
            "owners": self.owners,
            "decisions": self.decisions,
            "chain": self.chain,
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> RouterState:
        return cls(**json.loads(text))

    def digest(self) -> str:
        """A hash chained over every assignment so far: a log line records it before each
        decision, so two runs agree on it exactly as long as they made the same decisions."""
        return self.chain[:12]

    def chain_in(self, lead_id: str, owner: str) -> None:
        link = f"{self.chain}|{lead_id}|{owner}".encode()
        self.chain = hashlib.blake2b(link, digest_size=16).hexdigest()


@dataclass
class Decision:
    lead_id: str
    decided_at: datetime
    owner: str
    rule: str  # account_match | pool | held | fallback | kept
    reason: str
    segment: str
    region: str | None
    pool: str | None = None
    account_match: AccountMatch | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)  # rep, weight, credit, excluded
    exclusions: list[dict[str, str]] = field(default_factory=list)  # rep, reason
    reassigned_from: str | None = None
    dispatch_at: datetime | None = None  # held: when a pool member next comes on shift
    action: str = "route"  # route | dispatch (of a held lead) | reassign (SLA)
    policy_version: str = ""
    policy_digest: str = ""

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["decided_at"] = self.decided_at.isoformat()
        if self.dispatch_at is not None:
            data["dispatch_at"] = self.dispatch_at.isoformat()
        return data

    def outcome(self) -> tuple[str, str, str | None]:
        """What a replay compares: who got the lead, by which rule, from which pool."""
        return (self.owner, self.rule, self.pool)


class Router:
    def __init__(self, policy: Policy, state: RouterState | None = None) -> None:
        self.policy = policy
        self.state = state or RouterState()

    def route(self, lead: Lead, at: datetime, account: AccountMatch | None = None) -> Decision:
        """Choose an owner for a new lead at instant ``at``; updates the router state."""
        policy = self.policy
        segment = policy.segment_for(lead.employees)
        region = policy.region_for(lead.country)
        exclusions: list[dict[str, str]] = []
        base = dict(
            lead_id=lead.id,
            decided_at=at,
            segment=segment,
            region=region,
            account_match=account if policy.match_accounts else None,
            policy_version=policy.version,
            policy_digest=policy.digest,
        )
        if account is not None and policy.match_accounts:
            rep = policy.rep_by_id.get(account.owner)
            why_not = availability(rep, at) if rep is not None else None
            if why_not is None:
                self._record(lead.id, account.owner, at)
                return Decision(
                    **base,
                    owner=account.owner,
                    rule="account_match",
                    reason=f"matches account {account.account_id} by {account.by}; "
                    f"its owner {account.owner} wins",
                )
            exclusions.append({"rep": account.owner, "reason": f"account owner, {why_not}"})
        return self._from_pools(lead, at, segment, region, exclusions, base, recent=())

    def reassign(self, lead: Lead, at: datetime, current_owner: str, why: str) -> Decision:
        """Move an untouched lead to another rep of its pools, never to a recent owner."""
        policy = self.policy
        segment = policy.segment_for(lead.employees)
        region = policy.region_for(lead.country)
        owners = self.state.owners.get(lead.id, [])
        recent = tuple(owners[-policy.recent_owners :]) if policy.recent_owners else ()
        recent = tuple(dict.fromkeys((*recent, current_owner)))
        base = dict(
            lead_id=lead.id,
            decided_at=at,
            segment=segment,
            region=region,
            account_match=None,
            policy_version=policy.version,
            policy_digest=policy.digest,
            reassigned_from=current_owner,
        )
        decision = self._from_pools(lead, at, segment, region, [], base, recent=recent)
        decision.reason = f"{why}; {decision.reason}"
        return decision

    def _from_pools(
        self,
        lead: Lead,
        at: datetime,
        segment: str,
        region: str | None,
        exclusions: list[dict[str, str]],
        base: dict[str, Any],
        recent: tuple[str, ...],
    ) -> Decision:
        pools = [p for p in self.policy.pools if _serves(p, segment, region)]
        candidates: list[dict[str, Any]] = []
        for pool in pools:
            eligible = []
            for member in pool.members:
                why_not = self._excluded(member.rep, member.cap_per_day, at, recent)
                credit = self.state.credit.get(pool.name, {}).get(member.rep, 0)
                candidates.append(
                    {
                        "pool": pool.name,
                        "rep": member.rep,
                        "weight": member.weight,
                        "credit": credit,
                        "excluded": why_not,
                    }
                )
                if why_not is None:
                    eligible.append(member)
                else:
                    exclusions.append({"rep": member.rep, "reason": why_not})
            if not eligible:
                continue
            credits = self.state.credit.setdefault(pool.name, {})
            total = sum(m.weight for m in eligible)
            for member in eligible:
                credits[member.rep] = credits.get(member.rep, 0) + member.weight
            chosen = max(eligible, key=lambda m: credits[m.rep])  # first max: policy order
            score = credits[chosen.rep]
            credits[chosen.rep] -= total
            self._record(lead.id, chosen.rep, at)
            return Decision(
                **base,
                owner=chosen.rep,
                rule="pool",
                pool=pool.name,
                candidates=candidates,
                exclusions=exclusions,
                reason=f"{segment} / {region or 'no region'} → pool {pool.name}; "
                f"{chosen.rep} had the highest round-robin credit ({score} of {total} weight "
                f"among {len(eligible)} eligible)",
            )
        reassigning = base.get("reassigned_from")
        if reassigning and pools:
            return Decision(
                **base,
                owner=reassigning,
                rule="kept",
                candidates=candidates,
                exclusions=exclusions,
                reason=f"no other rep of {', '.join(p.name for p in pools)} can take it now; "
                f"stays with {reassigning}",
            )
        owner = self.policy.fallback_owner
        if pools and self.policy.hold_off_hours:
            members = {m.rep for p in pools for m in p.members}
            nxt = [next_on_shift(self.policy.rep_by_id[r], at) for r in sorted(members)]
            dispatch = min((n for n in nxt if n is not None), default=None)
            if dispatch is not None:
                self._record(lead.id, owner, at)
                return Decision(
                    **base,
                    owner=owner,
                    rule="held",
                    candidates=candidates,
                    exclusions=exclusions,
                    dispatch_at=dispatch,
                    reason=f"nobody in {', '.join(p.name for p in pools)} is on shift; held in "
                    f"{owner} until {dispatch.isoformat(timespec='minutes')}",
                )
        self._record(lead.id, owner, at)
        if not pools:
            why = f"no pool serves {segment} / {region or 'no region'}"
        else:
            why = f"every member of {', '.join(p.name for p in pools)} is excluded"
        return Decision(
            **base,
            owner=owner,
            rule="fallback",
            candidates=candidates,
            exclusions=exclusions,
            reason=f"{why}; fallback owner {owner}",
        )

    def _excluded(
        self, rep_id: str, cap: int | None, at: datetime, recent: tuple[str, ...]
    ) -> str | None:
        if rep_id in recent:
            return "a recent owner of this lead"
        rep = self.policy.rep_by_id[rep_id]
        why_not = availability(rep, at)
        if why_not is not None:
            return why_not
        if cap is not None:
            done = self.state.daily.get(_day_key(rep_id, at, rep.zone), 0)
            if done >= cap:
                return f"daily cap reached ({done}/{cap})"
        return None

    def _record(self, lead_id: str, owner: str, at: datetime) -> None:
        self.state.decisions += 1
        self.state.chain_in(lead_id, owner)
        rep = self.policy.rep_by_id.get(owner)
        if rep is not None:
            key = _day_key(owner, at, rep.zone)
            if key not in self.state.daily:
                self._forget_old_days(at)
            self.state.daily[key] = self.state.daily.get(key, 0) + 1
        self.state.owners.setdefault(lead_id, []).append(owner)

    def _forget_old_days(self, at: datetime) -> None:
        """Caps count the rep's current local day only: drop counts two or more days old."""
        horizon = (at.astimezone(UTC).date() - timedelta(days=2)).isoformat()
        stale = [k for k in self.state.daily if k.rsplit("|", 1)[1] < horizon]
        for key in stale:
            del self.state.daily[key]


def _serves(pool: Pool, segment: str, region: str | None) -> bool:
    if pool.segments and segment not in pool.segments:
        return False
    return not pool.regions or (region is not None and region in pool.regions)


def _day_key(rep_id: str, at: datetime, zone: Any) -> str:
    return f"{rep_id}|{at.astimezone(zone).date().isoformat()}"
