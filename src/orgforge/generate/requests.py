"""A recipe's structure without writing a world: the text requests ``content estimate`` prices
and the counts ``generate --dry-run`` can't get from the recipe alone (one EventRelation per
demo, one History row per stage or status change)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from orgforge.config import BLOCK_SIZE, Config
from orgforge.content.contract import ContentRequest
from orgforge.content.offline import OfflineEngine
from orgforge.generate.accounts import BlockGenerator, BlockResult
from orgforge.generate.catalog import catalog_records
from orgforge.generate.names import Namer
from orgforge.generate.plan import Plan, make_plan

SAMPLE_BLOCKS = 10
# per-account objects whose count is drawn, not set by the recipe (History: rows, not records)
DRAWN = (
    "EventRelation",
    "OpportunityLineItem",
    "CampaignMember",
    "EmailMessage",
    "History",
)


def _sample_blocks(plan: Plan) -> tuple[Iterator[BlockResult], int]:
    """The first blocks' records as a run of ``plan`` makes them, and how many accounts the
    blocks hold."""
    blocks = list(range(min(plan.blocks, SAMPLE_BLOCKS)))
    accounts = min(plan.accounts, len(blocks) * BLOCK_SIZE)
    namer = Namer(plan)
    names = {i: namer.name(i) for i in range(accounts)}
    generator = BlockGenerator(plan)

    def parts() -> Iterator[BlockResult]:
        for block in blocks:
            industries = [namer.industry(block * BLOCK_SIZE + j) for j in range(BLOCK_SIZE)]
            yield generator.block(block, names, industries)

    return parts(), accounts


def sample_requests(config: Config) -> tuple[list[ContentRequest], int]:
    """The text requests of the first accounts (case subjects filled offline), and how many."""
    plan = make_plan(config)
    parts, accounts = _sample_blocks(plan)
    offline = OfflineEngine(plan.packs, plan.seed)
    requests: list[ContentRequest] = []
    for part in parts:
        subjects = {}
        for record, _, request in part.requests:
            if request.kind == "case.subject":
                subjects[record["key"]] = offline.text(request.kind, request.key, request.context)
        for _, _, request in part.requests:
            source = request.context.get("subject_of")
            if source is not None:
                request.context["subject"] = subjects.get(source, "")  # type: ignore[index]
            requests.append(request)
    return requests, accounts


def drawn_counts(plan: Plan) -> tuple[dict[str, int], bool, dict[str, int]]:
    """The recipe's totals of the ``DRAWN`` objects and whether they are exact (counted on the
    whole world when it is at most ``SAMPLE_BLOCKS`` blocks, else scaled from those), and the
    counts of the shared records (price book, campaigns), which are exact."""
    parts, sampled = _sample_blocks(plan)
    accounts = plan.accounts
    seen: Counter[str] = Counter()
    for part in parts:
        for name in DRAWN:
            seen[name] += len(part.rows.get(name, ()))
    exact = sampled == accounts
    shared = {name: len(rows) for name, rows in catalog_records(plan).items()}
    return {name: round(seen[name] * accounts / sampled) for name in DRAWN}, exact, shared
