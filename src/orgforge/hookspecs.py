"""The hooks a plugin implements to add to orgforge (pluggy; the pattern of simonw/llm).

A plugin is a module or object with functions marked ``@hookimpl``; each gets a ``register``
callable and hands it one spec per thing it adds::

    from orgforge.hookspecs import hookimpl
    from orgforge.plugins import TargetPlugin

    @hookimpl
    def register_targets(register):
        register(TargetPlugin("hubspot", "HubSpot CRM", load=my_load))

A separate package makes itself known through the ``orgforge`` entry-point group::

    [project.entry-points.orgforge]
    hubspot = "orgforge_hubspot"

The built-ins (the files and Salesforce targets, the offline and LLM engines, the four LLM
providers) register the same way, from ``orgforge.default_plugins``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT = "orgforge"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Register = Callable[[Any], None]


@hookspec
def register_targets(register: Register) -> None:
    """Register targets (:class:`orgforge.plugins.TargetPlugin`): where worlds are loaded,
    exported or cleaned up (``orgforge load|cleanup|validate|smoke --target NAME``)."""


@hookspec
def register_content_engines(register: Register) -> None:
    """Register text engines (:class:`orgforge.plugins.EnginePlugin`), chosen by
    ``content.engine`` / ``--text NAME``."""


@hookspec
def register_llm_providers(register: Register) -> None:
    """Register LLM providers (:class:`orgforge.plugins.ProviderPlugin`) for the LLM engine,
    chosen by ``content.provider`` / ``--provider NAME``."""


@hookspec
def register_feeds(register: Register) -> None:
    """Register change feeds (:class:`orgforge.plugins.FeedPlugin`) the agents read."""


@hookspec
def register_workloads(register: Register) -> None:
    """Register agent workloads (:class:`orgforge.plugins.WorkloadPlugin`)."""
