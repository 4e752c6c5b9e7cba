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
    "User": "8810a07774483e73",
    "Account": "199f2e9ba3cd33a2",
    "Contact": "d0049d4825782df8",
    "Opportunity": "8ba5db5ff59cc0bd",
    "OpportunityContactRole": "ff24f48ec2ea6580",
    "Case": "d65480567cfc255c",
    "CaseComment": "499034054c803d62",
    "Task": "57e12a778c29a699",
    "Event": "160359b7060d499c",
    "EventRelation": "5ff46bb918de7ac4",
    "History": "40a97bdd98eb4cea",
}
GOLDEN_TEXT = {  # the offline engine's text fields
    "Account": "ad86e8ceb22e1501",
    "Opportunity": "4670634b50bdda80",
    "Case": "ed1f7c4bd89580ce",
    "CaseComment": "ffc7d7f56816ca71",
    "Task": "2e78dc392ae5afdd",
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
