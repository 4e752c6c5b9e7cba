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

LARGE = 0.5  # accounts this far up the pack's employee range (log scale) may be in a group
COUNTRY_SHORT = {"United States": "USA", "United Kingdom": "UK"}
SUBSIDIARY_SHARE = 0.5  # of large accounts with an eligible parent before them


class ObjectMaker:
    def __init__(
        self, plan, clock, titles: dict[tuple[str, str], tuple[dict[str, list], object]]
    ) -> None:
        self.plan = plan
        self.clock = clock
        self.titles = titles
        self.book = price_book(plan)
        self.lead_maker = LeadMaker(plan, campaigns(plan), clock)
        self.users = {u.key: u for u in plan.users}

    def block_counts(
        self, block: int, sizes: list[float], opps: list[int], contacts: list[int]
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
            # a lead converts into a deal and a contact of its own: at most one per each
            cap=[min(n, o, c) for n, o, c in zip(leads, opps, contacts, strict=True)],
        )
        return list(zip(leads, converted, strict=True))

    def org_chart(self, h, naming, contacts: list[dict]) -> None:
        rng = stream(self.plan.seed, "org_chart", h.index)
        dedupe_exclusive(rng, contacts, self.titles[naming.industry, naming.segment][0])
        assign_managers(rng, contacts)

    def account(self, out, h, naming, place, team, contacts, opps, counts: tuple[int, int]):
        plan = self.plan
        account = out.rows["Account"][-1]
        account["ParentId"] = None  # set by the block (subsidiaries)
        region = (
            f"of {place.state_name}"
            if account["BillingState"]
            else COUNTRY_SHORT.get(place.country, place.country)
        )
        account["_size"], account["_region"] = h.size, region
        # a parent is of the subsidiary's own segment, and not named for a place: "Austin
        # Generator Service of Texas" would be named for a city it isn't in
        account["_segment"] = naming.segment
        account["_place_name"] = naming.place is not None
        lines_rng = stream(plan.seed, "lines", h.index)
        entries = self.book[naming.industry]
        rows = out.rows.setdefault("OpportunityLineItem", [])
        for n, opp in enumerate(opps, start=1):
            opp.record["CampaignId"] = None
            opp.record["Pricebook2Id"] = None
            rows.extend(
                line_items(
                    lines_rng, h.index, n, opp.record, opp.created, entries, self.clock, opp.owner
                )
            )
        n_leads, n_converted = counts
        by_level = self.titles[naming.industry, naming.segment][0]
        titles = [t for level in by_level.values() for t in level]
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
        email_messages(out, h.index, contacts, self.users, self.clock)

    def subsidiaries(self, out) -> None:
        """Parent/subsidiary pairs among the block's large accounts, once they are made.

        A large account may be a subsidiary of an earlier large account of the block in the
        same industry, created before it; it is then named for its parent and its own region
        (its billing state, else its country: "Granite Health Plan of Ohio", "Granite Health
        Plan Canada"), and so are its deals and
        its text. Each
        account decides from its own stream among accounts before it, and a subsidiary is no
        one's parent, so a world grown later keeps every pair it had.
        """
        accounts = out.rows.get("Account", [])
        parents: list[dict] = []
        for account in accounts:
            large = account.pop("_size") >= LARGE
            region = account.pop("_region")
            segment = account.pop("_segment")
            place_name = account.pop("_place_name")
            if not large:
                continue
            rng = stream(self.plan.seed, "parent", account["account_idx"])
            eligible = [
                p
                for p in parents
                if p["Industry"] == account["Industry"]
                and p["_segment"] == segment
                and p["CreatedDate"] < account["CreatedDate"]
            ]
            if not eligible or rng.random() >= SUBSIDIARY_SHARE:
                if not place_name:
                    parents.append({**account, "_segment": segment})
                continue
            parent = eligible[int(rng.random() * len(eligible))]
            account["ParentId"] = parent["key"]
            self._rename(out, account, f"{parent['Name']} {region}"[:255])

    @staticmethod
    def _rename(out, account: dict, name: str) -> None:
        """The account's new name on it, its deals, its converted leads and its text."""
        old, idx = account["Name"], account["account_idx"]
        account["Name"] = name
        for opp in out.rows.get("Opportunity", ()):
            if opp["account_idx"] == idx and opp["Name"].startswith(old):
                renamed = name + opp["Name"][len(old) :]
                opp["Name"] = renamed if len(renamed) <= 120 else renamed[:117] + "..."
        for lead in out.rows.get("Lead", ()):
            if lead["account_idx"] == idx and lead["Company"] == old:
                lead["Company"] = name
        for record, _, request in out.requests:
            if record["account_idx"] == idx:
                context = request.context
                for key in ("account", "company"):
                    if context.get(key) == old:
                        context[key] = name  # type: ignore[index]
