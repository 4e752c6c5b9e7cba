"""orgforge: realistic, living demo and test orgs for go-to-market SaaS.

The library mirrors the CLI: every ``orgforge <command>`` calls the function of the same name
here (see :mod:`orgforge.api`). Errors are :class:`orgforge.errors.OrgforgeError` subclasses.

The names below are loaded on first use (PEP 562), so importing one submodule
(``orgforge.config``, ``orgforge.errors``, the CLI) doesn't pay for the generator, the world
store and SQLAlchemy; ``orgforge.generate(...)`` works as if they were imported here.
"""

from __future__ import annotations

import sys
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name → the module that defines it
_LAZY = {
    "check": "orgforge.api",
    "cleanup": "orgforge.api",
    "export": "orgforge.api",
    "generate": "orgforge.api",
    "load": "orgforge.api",
    "reset_world": "orgforge.api",
    "resolve": "orgforge.api",
    "shift": "orgforge.api",
    "smoke": "orgforge.api",
    "stats": "orgforge.api",
    "text_stats": "orgforge.api",
    "validate": "orgforge.api",
    "asana_seed": "orgforge.api",
    "asana_cleanup": "orgforge.api",
    "asana_whoami": "orgforge.api",
    "Config": "orgforge.config",
    "load_config": "orgforge.config",
    "OrgforgeError": "orgforge.errors",
}

__all__ = [
    "Config",
    "OrgforgeError",
    "__version__",
    "asana_cleanup",
    "asana_seed",
    "asana_whoami",
    "check",
    "cleanup",
    "export",
    "generate",
    "load",
    "load_config",
    "reset_world",
    "resolve",
    "shift",
    "smoke",
    "stats",
    "text_stats",
    "validate",
]

if TYPE_CHECKING:  # what static tools and IDEs see; at run time __getattr__ resolves these
    from orgforge.api import (
        asana_cleanup,
        asana_seed,
        asana_whoami,
        cleanup,
        export,
        generate,
        load,
        reset_world,
        resolve,
        shift,
        smoke,
        stats,
        text_stats,
        validate,
    )
    from orgforge.config import Config, load_config
    from orgforge.errors import OrgforgeError


def __getattr__(name: str) -> Any:
    if name in ("api", "plugins"):  # `import orgforge` then `orgforge.api.…` works too
        return import_module(f"orgforge.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'orgforge' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


class _Package(ModuleType):
    """This package's module type: ``orgforge.generate`` stays the function.

    Importing a submodule sets it as an attribute of its package, so the first
    ``import orgforge.generate.<anything>`` would make ``orgforge.generate`` the subpackage
    instead of :func:`orgforge.api.generate` (the eager imports this module used to do hid that
    by rebinding the function afterwards). The subpackage stays reachable through imports.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
