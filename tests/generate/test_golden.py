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

GOLDEN = {
    "User": "355e03872edf5e41",
    "Account": "f5a1597fe6d127fd",
    "Contact": "684acd244b44b676",
    "Opportunity": "f01c4a8287fedc65",
    "OpportunityContactRole": "1cd68425684f4578",
    "Case": "9e2ad98963067af7",
    "CaseComment": "5c46bbff026ebc7b",
    "Task": "cc5bbebbef3b40f2",
    "Event": "853bdd5ab2684945",
    "EventRelation": "4f53cda18c2baa0c",
}


def record_digests(world_path) -> dict[str, str]:
    """Per object: SHA-256 of its rows (every column) in generation order."""
    digests = {}
    with World(world_path, create=False) as world:
        for name in sf.GENERATED:
            rows = [list(row) for row in world.iter_rows(name)]
            digests[name] = hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]
    return digests


def test_prd_records_are_unchanged(prd_world):
    assert record_digests(prd_world) == GOLDEN
