"""Rebuild src/orgforge/packs/data/_names.json from Faker's en_US person data.

The generator reads name pools from that file instead of importing Faker at run time (Faker's
import scans every locale and costs ~150 ms, a third of a small run). Run this after upgrading
Faker; tests/generate/test_pools.py fails while the file and Faker disagree.

    .venv/bin/python scripts/build_name_pools.py
"""

from __future__ import annotations

import json
from pathlib import Path

TARGET = Path(__file__).resolve().parents[1] / "src/orgforge/packs/data/_names.json"


def faker_pools() -> dict[str, list[str]]:
    from faker.providers.person.en_US import Provider as Person

    female, male = set(Person.first_names_female), set(Person.first_names_male)
    return {
        "source": "faker.providers.person.en_US",
        "first_names": sorted(female | male),
        "female_only": sorted(female - male),
        "last_names": sorted(set(Person.last_names)),
    }


def main() -> None:
    TARGET.write_text(json.dumps(faker_pools(), indent=0, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
