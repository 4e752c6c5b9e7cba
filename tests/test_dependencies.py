"""pyproject.toml declares what src/ imports, and src/ imports what it declares."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# declared for what they bring at run time, not imported by name
RUNTIME_ONLY = {
    "cryptography": "PyJWT's RS256 (JWT bearer flow) and the sandbox's TLS certificate",
    "uvicorn": "imported by name too; listed in case an import moves",
}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {_normal(re.split(r"[<>=!~ \[;]", d, maxsplit=1)[0]) for d in project["dependencies"]}


def _imported_distributions() -> dict[str, str]:
    """distribution → one place that imports it, for every third-party import in src/."""
    by_module = metadata.packages_distributions()
    found: dict[str, str] = {}
    for path in sorted((ROOT / "src" / "orgforge").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top == "orgforge" or top in sys.stdlib_module_names:
                    continue
                for dist in by_module.get(top, [top]):
                    found.setdefault(_normal(dist), f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_imported_distribution_is_declared():
    missing = {d: where for d, where in _imported_distributions().items() if d not in _declared()}
    assert not missing, f"imported but not in [project].dependencies: {missing}"


def test_every_declared_dependency_is_used():
    unused = _declared() - set(_imported_distributions()) - set(RUNTIME_ONLY)
    assert not unused, f"declared but never imported: {sorted(unused)}"
