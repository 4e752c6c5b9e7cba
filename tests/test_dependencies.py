"""pyproject.toml declares what src/ imports, and src/ imports what it declares."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# declared for what they bring at run time, not imported by name
RUNTIME_ONLY = {
    "cryptography": "PyJWT's RS256 (JWT bearer flow) and the sandbox's TLS certificate",
    "python-multipart": "FastAPI's Form() parsing: the web app's HTML forms",
}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _names(requirements: list[str]) -> list[str]:
    return [re.split(r"[<>=!~ \[;]", d, maxsplit=1)[0] for d in requirements]


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _declared() -> list[str]:
    """The core dependencies."""
    return _names(_project()["dependencies"])


def _optional() -> list[str]:
    """Extras' dependencies (``charts``…), which src/ may import where the extra is needed;
    ``dev`` is the tests' and tools' own."""
    extras = _project().get("optional-dependencies", {})
    return [n for extra, reqs in extras.items() if extra != "dev" for n in _names(reqs)]


@cache
def _top_level_modules(distribution: str) -> frozenset[str]:
    """The importable top-level names an installed distribution provides."""
    dist = metadata.distribution(distribution)
    listed = dist.read_text("top_level.txt")
    if listed:
        return frozenset(line.strip() for line in listed.splitlines() if line.strip())
    tops = set()
    for file in dist.files or ():
        first = file.parts[0]
        if first.endswith((".dist-info", ".data")) or first == "..":
            continue
        tops.add(first.removesuffix(".py"))
    return frozenset(tops)


@cache
def _imported() -> dict[str, str]:
    """Top-level third-party module → one place in src/ that imports it."""
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
                if top != "orgforge" and top not in sys.stdlib_module_names:
                    found.setdefault(top, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_imported_module_comes_from_a_declared_distribution():
    provided = set().union(*(_top_level_modules(d) for d in [*_declared(), *_optional()]))
    missing = {top: where for top, where in _imported().items() if top not in provided}
    assert not missing, f"imported but no declared dependency provides it: {missing}"


def test_every_declared_dependency_is_imported():
    unused = [
        d
        for d in _declared()
        if not (_top_level_modules(d) & set(_imported())) and _normal(d) not in RUNTIME_ONLY
    ]
    assert not unused, f"declared but never imported: {unused}"
