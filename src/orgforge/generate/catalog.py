"""The world's shared records: the price book of the packs' products, and the campaigns.

They belong to no account (``account_idx`` -1, like the team's Users), and are a pure function
of (seed, packs, as_of): every account's subtree may point at them without any account
depending on another.

* **Product2 / Pricebook2 / PricebookEntry**: every product of every pack in the plan becomes a
  Product2 with an entry in the standard price book (a real org has exactly one, which a client
  cannot create: the Salesforce load maps this one onto it). A product's list price is a unit
  (a licence band, a service package) worth a fraction of its smallest deal, so a deal buys a
  quantity of it.
* **Campaign**: one a quarter (13 weeks, so a shift of as_of by whole weeks keeps weekdays)
  back over the world's history, the current one in progress and the next one planned. A lead
  created while a campaign runs may come from it (generate/leads.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from orgforge.generate.distributions import hash_unit
from orgforge.generate.plan import Plan
from orgforge.generate.team import HISTORY_START_DAYS
from orgforge.generate.timeutil import iso_date, local_minute, stamp, work_day
from orgforge.schema.salesforce import CAMPAIGN_TYPES

STANDARD_PRICEBOOK = "Pricebook2/standard"
CAMPAIGN_DAYS = 91  # a quarter, in whole weeks
CAMPAIGN_QUARTERS = 20  # back to about the oldest account (ACCOUNT_AGE: 1,800 days)
CAMPAIGN_LEAD_DAYS = 35  # a campaign is set up five weeks before it starts
THEMES = (
    "Modernization",
    "Customer Summit",
    "Automation",
    "Partner Day",
    "Efficiency",
    "Data & AI",
    "Compliance Briefing",
    "Roadshow",
)
SERVICES = ("Services", "Implementation", "Training", "Support")


@dataclass(frozen=True, slots=True)
class PriceEntry:
    product_key: str
    entry_key: str
    name: str
    list_price: int  # whole dollars, a multiple of 20 (see generate/line_items.py)


@dataclass(frozen=True, slots=True)
class CampaignSpan:
    key: str
    start: int  # day ordinal
    end: int  # day ordinal, inclusive


def list_price(minimum: int) -> int:
    """A unit worth about a fifth of the product's smallest deal, in steps of $20."""
    return max(20, round(minimum / 5 / 20) * 20)


def price_book(plan: Plan) -> dict[str, dict[str, PriceEntry]]:
    """Per pack: product name → its price book entry."""
    book: dict[str, dict[str, PriceEntry]] = {}
    for pack_id, pack in plan.packs.items():
        entries = {}
        for n, product in enumerate(pack.products, start=1):
            entries[product.name] = PriceEntry(
                f"Product2/{pack_id}/{n}",
                f"PricebookEntry/{pack_id}/{n}",
                product.name,
                list_price(product.min),
            )
        book[pack_id] = entries
    return book


def campaigns(plan: Plan) -> list[CampaignSpan]:
    """The campaigns, oldest first: CAMPAIGN_QUARTERS ended or running, and the next one."""
    asof = plan.as_of_ordinal
    # The running quarter started nine weeks before as_of; the others are whole quarters apart.
    spans = []
    for n in range(CAMPAIGN_QUARTERS + 1):
        start = asof - 63 - CAMPAIGN_DAYS * (CAMPAIGN_QUARTERS - 1 - n)
        spans.append(CampaignSpan(f"Campaign/{n + 1:02d}", start, start + CAMPAIGN_DAYS - 1))
    return spans


def campaign_at(spans: list[CampaignSpan], day: int) -> CampaignSpan | None:
    """The campaign running on ``day`` (None before the first)."""
    first = spans[0].start
    if day < first:
        return None
    index = (day - first) // CAMPAIGN_DAYS
    return spans[index] if index < len(spans) else None


def catalog_records(plan: Plan) -> dict[str, list[dict]]:
    """Product2, Pricebook2, PricebookEntry and Campaign records, in key order."""
    asof = plan.as_of_ordinal
    admin = plan.users[0]
    # After the team's first user joined (team.py: up to 200 days before the history starts).
    weekdays_only = plan.skip_weekends
    created_day = work_day(max(asof - HISTORY_START_DAYS, admin.created + 1), asof, weekdays_only)
    # set up by the first user, mid-morning of their working day
    created = stamp(local_minute(created_day, admin.hours[0] * 60 + 120, admin.tz))
    audit = {
        "CreatedDate": created,
        "CreatedById": admin.key,
        "LastModifiedDate": created,
        "LastModifiedById": admin.key,
    }

    def base(key: str, seq: int) -> dict:
        return {"key": key, "account_idx": -1, "seq": seq, "tier": None, "job": "generate"}

    out: dict[str, list[dict]] = {
        "Pricebook2": [
            {
                **base(STANDARD_PRICEBOOK, 1),
                "Name": "Standard Price Book",
                "IsActive": 1,
                "IsStandard": 1,
                **audit,
            }
        ],
        "Product2": [],
        "PricebookEntry": [],
        "Campaign": [],
    }
    seq = 0
    for pack_id, entries in price_book(plan).items():
        for n, entry in enumerate(entries.values(), start=1):
            seq += 1
            services = any(word in entry.name for word in SERVICES)
            out["Product2"].append(
                {
                    **base(entry.product_key, seq),
                    "Name": entry.name,
                    "ProductCode": f"{pack_id[:3].upper()}-{n:03d}",
                    "Family": "Services" if services else "Software",
                    "IsActive": 1,
                    **audit,
                }
            )
            out["PricebookEntry"].append(
                {
                    **base(entry.entry_key, seq),
                    "Pricebook2Id": STANDARD_PRICEBOOK,
                    "Product2Id": entry.product_key,
                    "UnitPrice": float(entry.list_price),
                    "IsActive": 1,
                    "UseStandardPrice": 0,
                    **audit,
                }
            )
    owner = admin.key
    for n, span in enumerate(campaigns(plan), start=1):
        kind = CAMPAIGN_TYPES[int(hash_unit(plan.seed, "campaign", n) * len(CAMPAIGN_TYPES))]
        theme = THEMES[int(hash_unit(plan.seed, "campaign-theme", n) * len(THEMES))]
        status = (
            "Completed" if span.end < asof else "In Progress" if span.start <= asof else "Planned"
        )
        budget = 5000 + round(hash_unit(plan.seed, "campaign-budget", n) * 45) * 1000
        made_day = work_day(max(created_day, span.start - CAMPAIGN_LEAD_DAYS), asof, weekdays_only)
        made = local_minute(made_day, admin.hours[0] * 60 + 60, admin.tz)
        # Last touched when it closed (or when it was set up, if it hasn't), never after as_of.
        touched_day = work_day(min(span.end + 1, asof - 1), asof, weekdays_only)
        touched = local_minute(touched_day, admin.hours[1] * 60 - 120, admin.tz)
        if status == "Planned":
            touched = made
        out["Campaign"].append(
            {
                **base(span.key, n),
                # no date in the name: shifting as_of moves dates only
                "Name": f"{theme} {kind} #{n}",
                "Type": kind,
                "Status": status,
                "StartDate": iso_date(span.start),
                "EndDate": iso_date(span.end),
                "IsActive": int(status != "Completed"),
                "BudgetedCost": float(budget),
                "ActualCost": float(round(budget * 0.9, -2)) if status == "Completed" else None,
                "OwnerId": owner,
                "CreatedDate": stamp(made),
                "CreatedById": owner,
                "LastModifiedDate": stamp(max(made, touched)),
                "LastModifiedById": owner,
            }
        )
    return out
