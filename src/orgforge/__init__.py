"""orgforge: realistic, living demo and test orgs for go-to-market SaaS.

The library mirrors the CLI: every `orgforge <command>` calls the function of the same name here.
"""

from __future__ import annotations

__version__ = "0.1.0"
