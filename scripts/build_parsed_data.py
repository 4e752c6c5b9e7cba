"""Rebuild src/orgforge/packs/data/_parsed.json: the built-in YAML data files, parsed.

Parsing the packs and the geography file is ~25 ms of every run; reading this JSON is ~2 ms.
Each entry keeps the SHA-256 of the text it was parsed from, and orgforge uses an entry only
while the file still has that text, so an edited YAML file is simply parsed again (slower,
never stale). Run this after editing any packs/data/*.yaml; tests/generate/test_pools.py
fails until you do.

    .venv/bin/python scripts/build_parsed_data.py
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

DATA = Path(__file__).resolve().parents[1] / "src/orgforge/packs/data"


def parsed_data() -> dict[str, dict]:
    """File name → {sha256, data} for every YAML file in packs/data."""
    from orgforge.packs import PARSED_FILE, text_digest

    entries = {}
    for path in sorted(DATA.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        data = yaml.load(
            text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        )  # as at run time
        if json.loads(json.dumps(data)) != data:  # e.g. dates or non-string keys
            raise SystemExit(f"{path.name}: its YAML doesn't survive JSON; leave it out")
        entries[path.name] = {"sha256": text_digest(text), "data": data}
    assert PARSED_FILE not in entries
    return entries


def render(entries: dict[str, dict]) -> str:
    # Key order is kept: it is part of the recipe (weighted tables draw in the order given).
    return json.dumps(entries, ensure_ascii=False, indent=1) + "\n"


def main() -> None:
    from orgforge.packs import PARSED_FILE

    target = DATA / PARSED_FILE
    target.write_text(render(parsed_data()), encoding="utf-8")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
