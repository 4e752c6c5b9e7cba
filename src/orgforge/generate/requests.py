"""Text requests of a recipe without writing a world: what ``content estimate`` prices."""

from __future__ import annotations

from orgforge.config import BLOCK_SIZE, Config
from orgforge.content.contract import ContentRequest
from orgforge.content.offline import OfflineEngine
from orgforge.generate.accounts import BlockGenerator
from orgforge.generate.names import Namer
from orgforge.generate.plan import make_plan

SAMPLE_BLOCKS = 10


def sample_requests(config: Config) -> tuple[list[ContentRequest], int]:
    """The text requests of the first accounts (case subjects filled offline), and how many."""
    plan = make_plan(config)
    blocks = list(range(min(plan.blocks, SAMPLE_BLOCKS)))
    accounts = min(plan.accounts, len(blocks) * BLOCK_SIZE)
    namer = Namer(plan)
    names = {i: namer.name(i) for i in range(accounts)}
    generator = BlockGenerator(plan)
    offline = OfflineEngine(plan.packs, plan.seed)
    requests: list[ContentRequest] = []
    for block in blocks:
        industries = [namer.industry(block * BLOCK_SIZE + j) for j in range(BLOCK_SIZE)]
        part = generator.block(block, names, industries)
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
