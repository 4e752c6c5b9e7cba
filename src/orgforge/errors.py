"""Every error orgforge raises on purpose, in one tree.

Each error carries a one-line ``message`` that says what is wrong and where (file and line,
field path, record key, URL) and a one-line ``hint`` that says how to fix it. The CLI prints
those two lines and exits with ``exit_code``; a library user catches the class they care about.

    OrgforgeError                 anything orgforge raises on purpose
    ├── UsageError (exit 2)       bad input: the run never started, nothing was written
    │   ├── ConfigError           a setting is wrong (YAML file, env var, flag)
    │   ├── PackError             an industry pack file is wrong
    │   ├── FrameworkError        a scorecard framework file is wrong
    │   ├── WorldError            the world file can't be used (newer schema, not a world, ...)
    │   └── OutputError           an output location can't be written
    └── RunError (exit 1)         a run started and failed; the run log says what was written
        ├── TargetError           a target (Salesforce, Asana, files) refused or failed
        │   └── AuthError         credentials missing, wrong or expired
        └── ContentError          the text engine failed beyond its fallbacks
"""

from __future__ import annotations


class OrgforgeError(Exception):
    """Base of every error orgforge raises on purpose."""

    exit_code = 1
    default_hint = "Run again with --debug for the full traceback."

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint or self.default_hint

    def __str__(self) -> str:
        return self.message


class UsageError(OrgforgeError):
    """Bad input: rejected before anything was written."""

    exit_code = 2
    default_hint = "Run the command with --help to see what it accepts."


class ConfigError(UsageError):
    default_hint = "Check the setting against `orgforge config show` and docs in README.md."


class PackError(UsageError):
    default_hint = "Check the pack against `orgforge packs validate FILE`."


class FrameworkError(UsageError):
    default_hint = "Compare the file with a built-in framework (`orgforge activity frameworks`)."


class WorldError(UsageError):
    default_hint = "Point --world at another file, or start fresh with `orgforge world reset`."


class OutputError(UsageError):
    default_hint = "Choose a directory you can write to with --out."


class RunError(OrgforgeError):
    """A run started and failed; its run log says exactly what was written."""

    exit_code = 1


class TargetError(RunError):
    default_hint = "See errors.jsonl in the run directory for every failed record."


class AuthError(TargetError):
    default_hint = "Check the credentials in your environment or .env (never in orgforge.yaml)."


class ContentError(RunError):
    default_hint = "Use --text offline to generate without an LLM provider."


class PluginError(UsageError):
    """A plugin that can't be loaded, or two that register the same name."""

    default_hint = "`orgforge plugins` lists what is installed; uninstall or fix the plugin."
