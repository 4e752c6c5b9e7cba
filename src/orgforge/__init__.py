"""orgforge: realistic, living demo and test orgs for go-to-market SaaS.

The library mirrors the CLI: every ``orgforge <command>`` calls the function of the same name
here (see :mod:`orgforge.api`). Errors are :class:`orgforge.errors.OrgforgeError` subclasses.
"""

from __future__ import annotations

from orgforge.api import (
    cleanup,
    export,
    generate,
    load,
    reset_world,
    resolve,
    smoke,
    stats,
    validate,
)
from orgforge.config import Config, load_config
from orgforge.errors import OrgforgeError

__version__ = "0.1.0"

__all__ = [
    "Config",
    "OrgforgeError",
    "__version__",
    "cleanup",
    "export",
    "generate",
    "load",
    "load_config",
    "reset_world",
    "resolve",
    "smoke",
    "stats",
    "validate",
]
