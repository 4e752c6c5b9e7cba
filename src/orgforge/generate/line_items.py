"""Opportunity products: 1–4 OpportunityLineItems per opportunity with an Amount.

The lines are drawn to sum to the Amount the opportunity already has (so adding them changes no
existing value, and an org that recalculates Amount from its products gets the same number):
every line but the primary product's sells whole units at the list price (a multiple of $20)
with a discount in whole 5 %, so its TotalPrice is whole dollars; the primary line takes the
rest, at no discount, in the fewest units (of quantities that divide it into whole cents) that
keep its sales price at or under the list price. An opportunity without an
Amount (some sparse ones) has no lines; a Closed Won one always has an Amount.
"""

from __future__ import annotations

from random import Random
from typing import Any

from orgforge.generate.catalog import STANDARD_PRICEBOOK, PriceEntry
from orgforge.generate.distributions import Weighted

LINES = Weighted(((1, 35), (2, 35), (3, 20), (4, 10)))
DISCOUNTS = (0, 0, 0, 5, 10, 15, 20)
# Quantities that divide any whole-dollar total into whole cents.
PRIMARY_QUANTITIES = (1, 2, 4, 5, 10, 20, 25, 50, 100)


def total_price(quantity: float, unit_price: float, discount: float | None) -> float:
    """Salesforce's TotalPrice: Quantity × UnitPrice × (1 − Discount/100), in cents."""
    return round(quantity * unit_price * (1 - (discount or 0) / 100), 2)


def draw_lines(
    rng: Random, amount: int, primary: PriceEntry, others: list[PriceEntry]
) -> list[tuple[PriceEntry, int, float, int]]:
    """(entry, quantity, unit price, discount %) per line, primary first, summing to amount."""
    count = min(LINES.pick(rng), 1 + len(others))
    chosen = rng.sample(others, count - 1)
    weights = [2.0 + rng.random()] + [0.5 + rng.random() for _ in chosen]
    scale = amount / sum(weights)
    lines: list[tuple[PriceEntry, int, float, int]] = []
    spent = 0
    for entry, weight in zip(chosen, weights[1:], strict=True):
        discount = DISCOUNTS[int(rng.random() * len(DISCOUNTS))]
        quantity = max(1, round(weight * scale / entry.list_price))
        line_total = quantity * entry.list_price * (100 - discount) // 100
        if spent + line_total >= amount:  # no room left for the primary product
            continue
        spent += line_total
        lines.append((entry, quantity, float(entry.list_price), discount))
    rest = amount - spent
    # the fewest units that keep the sales price at or under the list price
    fits = [q for q in PRIMARY_QUANTITIES if rest / q <= primary.list_price]
    quantity = fits[0] if fits else PRIMARY_QUANTITIES[-1]
    return [(primary, quantity, round(rest / quantity, 2), 0), *lines]


def line_items(
    rng: Random,
    account_idx: int,
    opp_number: int,
    opp: dict,
    created: int,
    entries: dict[str, PriceEntry],
    clock: Any,
    seller: Any,
) -> list[dict]:
    """The opportunity's line items (added by its owner, ``seller``, within the hour it was
    created, in their working time); sets its Pricebook2Id. ``opp`` is the Opportunity record,
    ``entries`` its pack's price book, ``clock`` the generation's clock."""
    from orgforge.generate.timeutil import stamp

    amount = opp["Amount"]
    if amount is None:
        return []
    primary = entries[opp["_product"]]
    others = [e for name, e in entries.items() if name != primary.name]
    opp["Pricebook2Id"] = STANDARD_PRICEBOOK
    owner = opp["OwnerId"]
    key_prefix = f"OpportunityLineItem/{account_idx + 1:04d}/{opp_number}/"
    rows = []
    for n, (entry, quantity, unit, discount) in enumerate(
        draw_lines(rng, int(amount), primary, others), start=1
    ):
        added = min(created + 1 + int(rng.random() * 60), clock.now - 1)
        at = stamp(clock.nudge(added, seller, created + 1))
        rows.append(
            {
                "key": f"{key_prefix}{n}",
                "account_idx": account_idx,
                "seq": opp_number * 100 + n,
                "tier": None,
                "job": "generate",
                "OpportunityId": opp["key"],
                "PricebookEntryId": entry.entry_key,
                "Product2Id": entry.product_key,
                "Quantity": float(quantity),
                "UnitPrice": unit,
                "Discount": float(discount) if discount else None,
                "TotalPrice": total_price(quantity, unit, discount),
                "ListPrice": float(entry.list_price),
                "CreatedDate": at,
                "CreatedById": owner,
                "LastModifiedDate": at,
                "LastModifiedById": owner,
            }
        )
    return rows
