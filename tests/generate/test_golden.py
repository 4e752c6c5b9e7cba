"""The prd world's records are the ones this version of orgforge has always made.

Every other determinism test compares two runs of the same code, so a change that alters what
the generator draws (a reordered weight table, a changed data file, a new draw in a hot loop)
passes them all. These digests pin the records of ``--preset prd --seed 42 --as-of
2026-11-23``. When a change is *meant* to alter the world, update them in the same commit and
say so in its message; otherwise a mismatch is a bug.
"""

from __future__ import annotations

import hashlib
import json

from orgforge.schema import salesforce as sf
from orgforge.world.store import World

GOLDEN = {  # structure: every column but the text fields
    "User": "355e03872edf5e41",
    "Account": "ad07d1b19b363e13",
    "Contact": "684acd244b44b676",
    "Opportunity": "177563e07e6594ab",
    "OpportunityContactRole": "1cd68425684f4578",
    "Case": "a24a508e9150ad5a",
    "CaseComment": "a84eb5bdabdddda3",
    "Task": "5b6c8190515299be",
    "Event": "71e5f06eaa87ba39",
    "EventRelation": "4f53cda18c2baa0c",
}
GOLDEN_TEXT = {  # the offline engine's text fields
    "Account": "1cac41c3a526a077",
    "Opportunity": "60a7e1ede272247e",
    "Case": "c2687e26d69650fd",
    "CaseComment": "3a988377f568f2e1",
    "Task": "f99c03d91d1a1bee",
    "Event": "9856fc7dd67b9f20",
}


def record_digests(world_path, text: bool = False) -> dict[str, str]:
    """Per object: SHA-256 of its rows in generation order, over its structure columns (every
    column but the text fields), or with ``text=True`` over its text fields only."""
    digests = {}
    with World(world_path, create=False) as world:
        for name in sf.GENERATED:
            text_fields = {f.name for f in sf.BY_NAME[name].text_fields}
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
