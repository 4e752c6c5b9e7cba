"""Built-in targets: ``files`` (CSV/JSON/Parquet exports), ``salesforce`` and ``asana``.

Each operation imports its implementation when called, so listing the targets loads nothing.
"""

from __future__ import annotations

from typing import Any

from orgforge.hookspecs import hookimpl
from orgforge.plugins import TargetPlugin

SALESFORCE_FLAGS = {
    "org": "salesforce.org",
    "instance_url": "salesforce.instance_url",
    "login_url": "salesforce.login_url",
    "username": "salesforce.username",
    "auth": "salesforce.auth",
    "api": "salesforce.api",
    "api_version": "salesforce.api_version",
    "external_id": "salesforce.external_id",
}


def _asana_driver(config: Any, environ: Any, clock: Any) -> Any:
    from orgforge.simulate.drivers import AsanaDriver

    return AsanaDriver(config, environ, clock)


def _salesforce_driver(config: Any, environ: Any, clock: Any) -> Any:
    from orgforge.simulate.salesforce_driver import SalesforceDriver

    return SalesforceDriver(config, environ, clock)


def _export(world: Any, out: Any, format: str, progress: Any = None) -> dict[str, int]:
    from orgforge.targets.files import export

    return export(world, out, format, progress)


def _salesforce(operation: str) -> Any:
    def call(config: Any, **options: Any) -> Any:
        from orgforge.targets.salesforce import ops

        return getattr(ops, operation)(config, **options)

    call.__name__ = operation
    call.__doc__ = f"orgforge.targets.salesforce.ops.{operation}"
    return call


def _activity(operation: str) -> Any:
    def call(config: Any, **options: Any) -> Any:
        from orgforge.activity import salesforce

        return getattr(salesforce, operation)(config, **options)

    call.__name__ = operation
    return call


def _asana_seed(config: Any, *, env: Any = None, **options: Any) -> Any:
    from orgforge.targets.asana import ops

    return ops.seed(config, environ=env, **options)


def _asana_unseed(config: Any, *, env: Any = None, **options: Any) -> Any:
    from orgforge.targets.asana import ops

    return ops.cleanup(config, environ=env, **options)


def _asana_whoami(config: Any, *, env: Any = None) -> Any:
    from orgforge.targets.asana import ops

    return ops.whoami(config, environ=env)


@hookimpl
def register_targets(register: Any) -> None:
    register(
        TargetPlugin(
            "files",
            "One file per object: load-ready CSV (Bulk API 2.0 / Data Loader), JSON, Parquet",
            export=_export,
        )
    )
    register(
        TargetPlugin(
            "salesforce",
            "A Salesforce org (or `orgforge sandbox salesforce`) over REST and Bulk API 2.0",
            load=_salesforce("load"),
            validate=_salesforce("validate"),
            cleanup=_salesforce("cleanup"),
            smoke=_salesforce("smoke"),
            push_activity=_activity("push"),
            prune_activity=_activity("prune"),
            simulate=_salesforce_driver,
            behaviours="orgforge.simulate.behaviours.salesforce",
            flags=SALESFORCE_FLAGS,
        )
    )
    register(
        TargetPlugin(
            "asana",
            "An Asana workspace (or `orgforge sandbox asana`): a project per team, and back out",
            seed=_asana_seed,
            unseed=_asana_unseed,
            whoami=_asana_whoami,
            simulate=_asana_driver,
            behaviours="orgforge.simulate.behaviours.asana",
        )
    )
