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
from orgforge.world import tables as t
from orgforge.world.store import World

GOLDEN = {  # structure: every column but the text fields
    "UserRole": "d96f3746d76a42c7",
    "User": "bc1b2de250b10144",
    "Account": "f01991c68587888c",
    "Contact": "dfd9d96a7952a189",
    "Opportunity": "288806c4bdc87500",
    "OpportunityContactRole": "9337150570d36424",
    "Case": "cb24ccb05168ee7f",
    "CaseComment": "967a1b7fb2da065a",
    "Task": "3d2b2302b9046118",
    "Event": "44af829d266bda9e",
    "EventRelation": "f7bbbffec155f719",
    "History": "66a4350058e06c17",
}
GOLDEN_TEXT = {  # the offline engine's text fields
    "Account": "732149ab3701cf19",
    "Opportunity": "ca6036df8f148048",
    "Case": "2f826a4d48b7b16d",
    "CaseComment": "1912c2917e591be4",
    "Task": "2f564d38a270cee0",
    "Event": "3fb057a004aa5ecb",
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
