"""A local Salesforce-compatible sandbox: a real HTTP server over its own SQLite file.

    from orgforge.sandbox.salesforce import SandboxConfig, run_in_thread, sandbox_session

    with run_in_thread(SandboxConfig(schema="orgforge-fields.yaml")) as sb:
        sb.instance_url, sb.token, sb.db_path, sb.cert_path

See docs/sandbox.md for the API subset, the schema file format and fault injection.
"""

from orgforge.sandbox.salesforce.client import sandbox_session, simple_salesforce
from orgforge.sandbox.salesforce.server import (
    DEFAULT_PORT,
    Sandbox,
    SandboxConfig,
    run_in_thread,
    serve,
)

EXAMPLE_SCHEMA = __import__("pathlib").Path(__file__).parent / "examples" / "orgforge-fields.yaml"

__all__ = [
    "DEFAULT_PORT",
    "EXAMPLE_SCHEMA",
    "Sandbox",
    "SandboxConfig",
    "run_in_thread",
    "sandbox_session",
    "serve",
    "simple_salesforce",
]
