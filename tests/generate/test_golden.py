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
    "UserRole": "60b149b831d0ae33",
    "User": "a47bf9820e61a2b5",
    "Product2": "6edc51374afe3063",
    "Pricebook2": "aaf5652c4e594d55",
    "PricebookEntry": "4980a15720c3ad04",
    "Campaign": "2604ee2da90c5f13",
    "Account": "e58fc8931833f29b",
    "Contact": "398b3617b52bbe29",
    "Opportunity": "cb5f45745fbf4d7f",
    "OpportunityLineItem": "9c6f4dc9f21f047a",
    "OpportunityContactRole": "4253586a741ada38",
    "Lead": "6f10b9363c0e389c",
    "CampaignMember": "5a92e2c5120cd0b8",
    "Case": "1dbccd5058ef5287",
    "CaseComment": "4896e42e42a8ea6a",
    "Task": "34692629ec0d420c",
    "EmailMessage": "51d7a3ed9d897535",
    "Event": "a0ad40437ef22de1",
    "EventRelation": "a07ab08e5676d072",
    "History": "b87d77f2efede9d9",
}
GOLDEN_TEXT = {  # the offline engine's text fields
    "Account": "732149ab3701cf19",
    "Opportunity": "27cb81ab0823f15e",
    "Lead": "dfcf6720f8fe4b6c",
    "Case": "2f826a4d48b7b16d",
    "CaseComment": "b52833884d64a7f3",
    "Task": "716f3a45e2128116",
    "EmailMessage": "f3500bebdc5c5e38",
    "Event": "6c19e4b8fdc38838",
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
