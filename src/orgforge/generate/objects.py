"""The objects drawn on top of each account's history, each from its own streams.

generate/accounts.py calls this module at three points of an account (see BlockGenerator):
the block's lead counts, the org chart once the contacts exist, and the rest (line items, leads
and campaign members, email messages) once the account's history is done. Every draw here comes
from streams named for this module — ``(seed, "leads-block", b)``, ``(seed, "org_chart", i)``,
``(seed, "lines", i)``, ``(seed, "leads", i)`` — never from the account's own stream, so the
records the history made before these objects existed keep every value (prefix stability and
the exact counts of the existing objects).
"""

from __future__ import annotations

from orgforge.config import BLOCK_SIZE
from orgforge.generate.catalog import campaigns, price_book
from orgforge.generate.distributions import allocate, block_total, stream
from orgforge.generate.emails import email_messages
from orgforge.generate.leads import CONVERTED_SHARE, LeadMaker, conversion_pairs
from orgforge.generate.line_items import line_items
from orgforge.generate.org_chart import assign_managers, dedupe_exclusive


class ObjectMaker:
    def __init__(self, plan, clock, titles: dict[str, tuple[dict[str, list], object]]) -> None:
        self.plan = plan
        self.clock = clock
        self.titles = titles
        self.book = price_book(plan)
        self.lead_maker = LeadMaker(plan, campaigns(plan), clock)
        self.users = {u.key: u for u in plan.users}

    def block_counts(
        self, block: int, sizes: list[float], opps: list[int]
    ) -> list[tuple[int, int]]:
        """(leads, converted leads) per slot of the block, phantoms included: the split uses
        only what the headers decide (sizes, opportunity counts)."""
        rng = stream(self.plan.seed, "leads-block", block)
        per = self.plan.per_account.get("Lead", 0)
        leads = allocate(block_total(per, block, BLOCK_SIZE), sizes, rng)
        quota = round(sum(leads) * CONVERTED_SHARE)
        converted = allocate(
            quota,
            [float(o) for o in opps],
            rng,
            cap=[min(n, o) for n, o in zip(leads, opps, strict=True)],
        )
        return list(zip(leads, converted, strict=True))

    def org_chart(self, h, naming, contacts: list[dict]) -> None:
        rng = stream(self.plan.seed, "org_chart", h.index)
        dedupe_exclusive(rng, contacts, self.titles[naming.industry][0])
        assign_managers(rng, contacts)

    def account(self, out, h, naming, place, team, contacts, opps, counts: tuple[int, int]):
        plan, now = self.plan, self.clock.now
        out.rows["Account"][-1]["ParentId"] = None  # set by the block (parent_accounts)
        lines_rng = stream(plan.seed, "lines", h.index)
        entries = self.book[naming.industry]
        rows = out.rows.setdefault("OpportunityLineItem", [])
        for n, opp in enumerate(opps, start=1):
            opp.record["CampaignId"] = None
            opp.record["Pricebook2Id"] = None
            rows.extend(line_items(lines_rng, h.index, n, opp.record, opp.created, entries, now))
        n_leads, n_converted = counts
        titles = [t for level in self.titles[naming.industry][0].values() for t in level]
        self.lead_maker.leads(
            out,
            stream(plan.seed, "leads", h.index),
            h,
            naming,
            place,
            team,
            contacts,
            conversion_pairs(contacts, opps),
            n_leads,
            n_converted,
            titles,
        )
        email_messages(out, h.index, contacts, self.users)
