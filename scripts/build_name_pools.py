"""Rebuild src/orgforge/packs/data/_names.json from Faker's en_US person data.

The generator reads name pools from that file instead of importing Faker at run time (Faker's
import scans every locale and costs ~150 ms, a third of a small run), so Faker is a build-time
dependency only (the ``build`` extra: ``pip install -e '.[build]'``). The file records the
Faker version it was built from: tests/generate/test_pools.py checks the file against that
version and skips (it does not fail) when another Faker is installed, since upstream list
changes must not change worlds until someone rebuilds the pools on purpose.

    .venv/bin/python scripts/build_name_pools.py
"""

from __future__ import annotations

import json
from pathlib import Path

TARGET = Path(__file__).resolve().parents[1] / "src/orgforge/packs/data/_names.json"


def faker_pools() -> dict[str, str | list[str]]:
    import faker
    from faker.providers.person.en_US import Provider as Person

    female, male = set(Person.first_names_female), set(Person.first_names_male)
    return {
        "source": "faker.providers.person.en_US",
        "faker_version": faker.VERSION,
        "first_names": sorted(female | male),
        "female_only": sorted(female - male),
        "last_names": sorted(set(Person.last_names)),
    }


def main() -> None:
    TARGET.write_text(json.dumps(faker_pools(), indent=0, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
