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
    "User": "bc1b2de250b10144",
    "Product2": "2444bd9d07e12fe1",
    "Pricebook2": "52f6b28620bc8fe5",
    "PricebookEntry": "64bca9a8b7a0d8c9",
    "Campaign": "98604022b70abc4b",
    "Account": "c839afc951c00f3d",
    "Contact": "eb7bf62a6ec08de7",
    "Opportunity": "d321a488080889a2",
    "OpportunityLineItem": "e356cdb845820e53",
    "OpportunityContactRole": "4a52a7a756f7445d",
    "Lead": "135c480fdfd23d5e",
    "CampaignMember": "9c5f4bfebfbdaf76",
    "Case": "cb24ccb05168ee7f",
    "CaseComment": "967a1b7fb2da065a",
    "Task": "6d9db4551171d3be",
    "EmailMessage": "fff76a8b36203873",
    "Event": "13a0cc86dd593b11",
    "EventRelation": "f7bbbffec155f719",
    "History": "66a4350058e06c17",
}
GOLDEN_TEXT = {  # the offline engine's text fields
    "Account": "732149ab3701cf19",
    "Opportunity": "27cb81ab0823f15e",
    "Lead": "dfcf6720f8fe4b6c",
    "Case": "2f826a4d48b7b16d",
    "CaseComment": "1912c2917e591be4",
    "Task": "d131b4495d6c0df8",
    "EmailMessage": "a795e9c866310b9b",
    "Event": "9440582993edea20",
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
