"""The plugin manager: what is registered, by whom, and how the rest of orgforge asks for it.

Targets, text engines, LLM providers, feeds and workloads are looked up here by name; nothing
else keeps a list of them. The built-ins in :mod:`orgforge.default_plugins` are registered
first, then every module named by an ``orgforge`` entry point (see :mod:`orgforge.hookspecs`).
Setting ``ORGFORGE_NO_ENTRY_POINTS=1`` skips installed plugins (built-ins only).

    from orgforge import plugins
    plugins.target("salesforce", "load")        # the spec, or UsageError naming what exists
    plugins.listing()                          # what `orgforge plugins --json` prints
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from orgforge import hookspecs
from orgforge.errors import PluginError, UsageError

DEFAULT_PLUGINS = (
    "orgforge.default_plugins.targets",
    "orgforge.default_plugins.content",
    "orgforge.default_plugins.providers",
    "orgforge.default_plugins.agents",
)
ENTRY_POINT_GROUP = hookspecs.PROJECT
NO_ENTRY_POINTS_ENV = "ORGFORGE_NO_ENTRY_POINTS"


@dataclass(frozen=True)
class TargetPlugin:
    """A place worlds go. Each operation is optional; the CLI and library refuse the ones a
    target lacks. Operations take the resolved Config first, then keyword options:

    * ``load(config, *, from_dir, api, dry_run, force, session, env, progress, on_start)``
      → ``(report, run_dir)``; the report has ``failed`` (count), ``target`` and ``as_dict()``
    * ``validate(config, *, from_dir, api, session, env)`` → a report with ``ok``
    * ``cleanup(config, *, run_id, everything, dry_run, session, env, progress)``
      → ``(report, run_dir)``; ``report.failed`` maps object → count
    * ``smoke(config, *, session, env)`` → timings
    * ``export(world, out, format, progress)`` → counts per object (file targets)
    * ``push_activity(config, *, env, session)`` / ``prune_activity(config, *, env, session)``:
      the activity job's ``--target`` (the world first, then this target)
    * ``seed(config, *, teams, dry_run, env, progress, on_total)`` → ``(report, run_dir)``:
      a workspace seeded from a plan of the world (Asana: a project per team), resumable;
      ``report.failed`` maps object → count
    * ``unseed(config, *, run_id, dry_run, env, progress, on_total)`` → ``(report, run_dir)``:
      delete exactly what ``seed`` created (one run's, or all)
    * ``whoami(config, *, env)`` → one row per token: whom it belongs to, or why it fails
    * ``simulate(config, environ, clock)`` → the living org's driver for this target
      (orgforge.simulate.drivers); ``behaviours`` names the module of its behaviours
      (``orgforge.simulate.behaviours.asana``), imported when a job runs

    ``flags`` maps library/CLI option names to dotted config paths
    (``{"org": "salesforce.org"}``).
    """

    name: str
    description: str
    load: Callable[..., Any] | None = None
    validate: Callable[..., Any] | None = None
    cleanup: Callable[..., Any] | None = None
    smoke: Callable[..., Any] | None = None
    export: Callable[..., Any] | None = None
    push_activity: Callable[..., Any] | None = None
    prune_activity: Callable[..., Any] | None = None
    seed: Callable[..., Any] | None = None
    unseed: Callable[..., Any] | None = None
    whoami: Callable[..., Any] | None = None
    simulate: Callable[..., Any] | None = None
    behaviours: str | None = None
    flags: Mapping[str, str] = field(default_factory=dict)

    OPERATIONS = (
        "load",
        "validate",
        "cleanup",
        "smoke",
        "export",
        "push_activity",
        "prune_activity",
        "seed",
        "unseed",
        "whoami",
        "simulate",
    )

    @property
    def operations(self) -> list[str]:
        return [op for op in self.OPERATIONS if getattr(self, op) is not None]


@dataclass(frozen=True)
class EnginePlugin:
    """A text engine: ``factory(config, *, packs, world, progress)`` → a ContentEngine.

    ``inline`` says the engine is cheap, deterministic and picklable, so the generator may
    fill text inside its worker processes (the offline engine) instead of in the parent.
    """

    name: str
    description: str
    factory: Callable[..., Any]
    inline: bool = False


@dataclass(frozen=True)
class ProviderPlugin:
    """An LLM provider for the LLM engine: ``factory(content_config, api_key)`` → a
    :class:`orgforge.content.providers.Provider`.

    ``env_key`` names the environment variable holding its API key; ``needs_key`` refuses to
    start without one; ``check(content_config)`` raises ConfigError for a setting it lacks
    (before anything is written); ``sdk`` is imported up front, so its import time is not
    counted as the first call's.
    """

    name: str
    description: str
    factory: Callable[..., Any]
    env_key: str | None = None
    needs_key: bool = True
    check: Callable[[Any], None] | None = None
    sdk: str | None = None


@dataclass(frozen=True)
class FeedPlugin:
    """A change feed the agents read (``orgforge agents run --feed NAME``).

    ``factory(config, *, world, client, objects, position, interval, clock)`` → a feed: an object
    with ``name``, a JSON-able ``position`` and ``poll()`` → a list of ChangeEvents (see
    :class:`orgforge.agents.feeds.Feed`). ``position`` is what the feed's last run stored (None
    the first time); ``client`` is the connected Salesforce client and ``objects`` the
    {object: fields} to watch, both None unless ``org`` is set.

    ``org``: the feed reads an org, connected (and refused) before the world opens;
    ``decide_at``: ``"now"`` (live time) or ``"event"`` (the events' commit times: replays);
    ``waits``: ``poll`` itself waits for events (a long poll), so no sleep between polls;
    ``finite``: an empty poll means the feed is read to its end, and the run stops.
    """

    name: str
    description: str
    factory: Callable[..., Any]
    org: bool = False
    decide_at: str = "now"
    waits: bool = False
    finite: bool = False


@dataclass(frozen=True)
class WorkloadPlugin:
    """An agent workload (``orgforge agents run --workload NAME``).

    ``factory(config, *, templates, send)`` runs before the world opens (it refuses bad
    options there) and returns ``attach(agents)``, called once the session is built with an
    :class:`orgforge.agents.run.Agents` (``desk``, ``session``, ``policy``, ``log``, ``writer``,
    ``report``): it hooks the workload into the desk. ``sends``: the workload acts on
    ``--send`` (which is refused when no chosen workload does).
    """

    name: str
    description: str
    factory: Callable[..., Any]
    sends: bool = False


# hook name → (kind shown by `orgforge plugins`, the spec class it takes)
KINDS: dict[str, tuple[str, type]] = {
    "register_targets": ("target", TargetPlugin),
    "register_content_engines": ("content engine", EnginePlugin),
    "register_llm_providers": ("llm provider", ProviderPlugin),
    "register_feeds": ("feed", FeedPlugin),
    "register_workloads": ("workload", WorkloadPlugin),
}

pm = pluggy.PluginManager(hookspecs.PROJECT)
pm.add_hookspecs(hookspecs)
_loaded = False
_load_lock = threading.RLock()
_packages: dict[str, tuple[str | None, str | None]] = {}  # plugin name → (package, version)


def load_plugins() -> None:
    """Register the built-ins, then installed plugins (once per process)."""
    # Under the lock, so a second thread (a web server's requests) waits for the whole registry
    # instead of seeing ``_loaded`` already set and an empty one; reentrant, so a plugin whose
    # import asks for the registry gets what is registered so far, as before.
    with _load_lock:
        _load()


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for name in DEFAULT_PLUGINS:
        if pm.get_plugin(name) is None:
            pm.register(importlib.import_module(name), name)
    if os.environ.get(NO_ENTRY_POINTS_ENV):
        return
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if pm.get_plugin(entry_point.name) is not None:
            continue
        try:
            plugin = entry_point.load()
            pm.register(plugin, entry_point.name)
            dist = entry_point.dist
            if dist is not None:
                _packages[entry_point.name] = (dist.metadata["Name"], dist.version)
        except Exception as exc:
            _loaded = False  # the next call reports it again instead of half a registry
            raise PluginError(
                f"plugin {entry_point.name!r} ({entry_point.value}) can't be loaded: "
                f"{exc.__class__.__name__}: {exc}",
                f"Fix or uninstall the package that provides it, or set {NO_ENTRY_POINTS_ENV}=1.",
            ) from None


@contextmanager
def registered(plugin: object, name: str | None = None) -> Iterator[str]:
    """Register ``plugin`` for the duration of a block (tests, embedding applications)."""
    load_plugins()
    plugin_name = pm.register(plugin, name)
    if plugin_name is None:
        raise PluginError(f"plugin {name or plugin!r} is blocked or already registered")
    try:
        yield plugin_name
    finally:
        pm.unregister(name=plugin_name)


def _collect(hook_name: str) -> dict[str, tuple[Any, str]]:
    """name → (spec, plugin name) for one hook; two plugins claiming a name is an error."""
    load_plugins()
    kind, spec_type = KINDS[hook_name]
    found: dict[str, tuple[Any, str]] = {}
    # Oldest registration first, so messages name the plugin that came first.
    for impl in reversed(getattr(pm.hook, hook_name).get_hookimpls()):

        def register(spec: Any, _plugin: str = impl.plugin_name) -> None:
            if not isinstance(spec, spec_type):
                raise PluginError(
                    f"plugin {_plugin!r} registered a {type(spec).__name__} as a {kind}",
                    f"Register {spec_type.__name__}(...) from {hook_name}.",
                )
            if spec.name in found:
                raise PluginError(
                    f"{kind} {spec.name!r} is registered twice: by {found[spec.name][1]!r} "
                    f"and by {_plugin!r}",
                    "Uninstall one of the two plugins.",
                )
            found[spec.name] = (spec, _plugin)

        impl.function(**{arg: register for arg in impl.argnames})
    return found


def _specs(hook_name: str) -> dict[str, Any]:
    return {name: spec for name, (spec, _) in _collect(hook_name).items()}


def targets() -> dict[str, TargetPlugin]:
    return _specs("register_targets")


def content_engines() -> dict[str, EnginePlugin]:
    return _specs("register_content_engines")


def llm_providers() -> dict[str, ProviderPlugin]:
    return _specs("register_llm_providers")


def feeds() -> dict[str, FeedPlugin]:
    return _specs("register_feeds")


def workloads() -> dict[str, WorkloadPlugin]:
    return _specs("register_workloads")


def _unknown(kind: str, name: str, known: Mapping[str, Any], option: str) -> UsageError:
    names = ", ".join(sorted(known)) or "none"
    return UsageError(
        f"{option}: unknown {kind} {name!r}",
        f"Registered {kind}s: {names}. `orgforge plugins` lists them and who provides them.",
    )


def target(name: str, operation: str | None = None) -> TargetPlugin:
    """The target called ``name`` (UsageError if none is, or if it can't do ``operation``)."""
    known = targets()
    spec = known.get(name)
    if spec is None:
        raise _unknown("target", name, known, "--target")
    if operation is not None and getattr(spec, operation) is None:
        able = sorted(n for n, s in known.items() if getattr(s, operation) is not None)
        raise UsageError(
            f"--target: target {name!r} can't {operation.replace('_', ' ')}",
            f"Targets that can: {', '.join(able) or 'none'}.",
        )
    return spec


def _named(hook_name: str, name: str, option: str) -> Any:
    """The spec registered as ``name`` by ``hook_name`` (UsageError naming what exists)."""
    known = _specs(hook_name)
    if name not in known:
        raise _unknown(KINDS[hook_name][0], name, known, option)
    return known[name]


def content_engine(name: str) -> EnginePlugin:
    return _named("register_content_engines", name, "content.engine")


def llm_provider(name: str) -> ProviderPlugin:
    return _named("register_llm_providers", name, "content.provider")


def feed(name: str) -> FeedPlugin:
    return _named("register_feeds", name, "--feed")


def workload(name: str) -> WorkloadPlugin:
    return _named("register_workloads", name, "--workload")


def listing() -> list[dict[str, Any]]:
    """Every registered thing: kind, name, description, plugin, package and version."""
    rows = []
    for hook_name, (kind, _) in KINDS.items():
        for name, (spec, plugin_name) in sorted(_collect(hook_name).items()):
            package, version = _packages.get(plugin_name, (None, None))
            row = {
                "kind": kind,
                "name": name,
                "description": spec.description,
                "plugin": plugin_name,
                "package": package or ("orgforge" if plugin_name in DEFAULT_PLUGINS else None),
                "version": version,
            }
            if isinstance(spec, TargetPlugin):
                row["operations"] = spec.operations
            rows.append(row)
    if rows and any(r["package"] == "orgforge" and r["version"] is None for r in rows):
        from orgforge import __version__

        for row in rows:
            if row["package"] == "orgforge":
                row["version"] = __version__
    return rows
