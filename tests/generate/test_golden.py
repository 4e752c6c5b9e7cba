"""The prd world's records are the ones this version of orgforge has always made.

Every other determinism test compares two runs of the same code, so a change that alters what
the generator draws (a reordered weight table, a changed data file, a new draw in a hot loop)
passes them all. These digests pin the records of ``--preset prd --seed 42 --as-of
2026-11-23``. When a change is *meant* to alter the world, update them in the same commit and
say so in its message; otherwise a mismatch is a bug.

Last changed by the sales objects (Lead, Campaign, products, line items, EmailMessage, the org
chart and subsidiaries): every existing record kept its values but four — two contacts holding
an account's second exclusive title (now a VP title, and the two texts quoting it) and two
sparse Closed Won deals that had no Amount.
"""

from __future__ import annotations

import hashlib
import json

from orgforge.schema import salesforce as sf
from orgforge.world import tables as t
from orgforge.world.store import World

GOLDEN = {  # structure: every column but the text fields
    "UserRole": "d96f3746d76a42c7",
    "User": "8810a07774483e73",
    "Product2": "6413442e4bcb26a9",
    "Pricebook2": "52f6b28620bc8fe5",
    "PricebookEntry": "fa07acb2651b7551",
    "Campaign": "98604022b70abc4b",
    "Account": "b304bda233a327d5",
    "Contact": "d079225b410537fc",
    "Opportunity": "a8d336b8ab042f83",
    "OpportunityLineItem": "24fa0cb2a9cbbf67",
    "OpportunityContactRole": "ff24f48ec2ea6580",
    "Lead": "22b7ddaa2e149fca",
    "CampaignMember": "9538b9b2064509b3",
    "Case": "d65480567cfc255c",
    "CaseComment": "499034054c803d62",
    "Task": "57e12a778c29a699",
    "EmailMessage": "2c4a77eb1442190c",
    "Event": "160359b7060d499c",
    "EventRelation": "5ff46bb918de7ac4",
    "History": "40a97bdd98eb4cea",
}
GOLDEN_TEXT = {  # the offline engine's text fields
    "Account": "ad86e8ceb22e1501",
    "Opportunity": "f0c88ea92917c9b2",
    "Lead": "fb3dd9cdf393a092",
    "Case": "eb5bfef2b5335945",
    "CaseComment": "ffc7d7f56816ca71",
    "Task": "7c9bea8392008d76",
    "EmailMessage": "ce44f2b0144d40b3",
    "Event": "e0fbabc185936e85",
}


def record_digests(world_path, text: bool = False) -> dict[str, str]:
    """Per object: SHA-256 of its rows in generation order, over its structure columns (every
    column but the text fields), or with ``text=True`` over its text fields only."""
    digests = {}
    with World(world_path, create=False) as world:
        for name in (*sf.GENERATED, t.HISTORY):
            text_fields = (
                {f.name for f in sf.BY_NAME[name].text_fields} if name in sf.BY_NAME else set()
            )
            columns = [c for c in world.columns(name) if (c in text_fields) == text]
            if not columns:
                continue
            rows = [list(row) for row in world.iter_rows(name, columns)]
            digests[name] = hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]
    return digests


def test_prd_structure_is_unchanged(prd_world):
    assert record_digests(prd_world) == GOLDEN


def test_prd_offline_text_is_unchanged(prd_world):
    """Separate from the structure, so a change to the offline text engine shows as such."""
    assert record_digests(prd_world, text=True) == GOLDEN_TEXT
