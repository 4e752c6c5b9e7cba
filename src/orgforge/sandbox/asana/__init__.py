"""A local Asana-compatible sandbox: a real HTTP server over its own SQLite file.

    import asana
    from orgforge.sandbox.asana import run_in_thread

    with run_in_thread(users=3, tier="free") as sb:
        cfg = asana.Configuration()
        cfg.host = sb.base_url            # http://127.0.0.1:PORT/api/1.0
        cfg.access_token = sb.token
        me = asana.UsersApi(asana.ApiClient(cfg)).get_user("me", {})

It stands alone like a real Asana (no orgforge generator, world or target imports). See
docs/asana.md for the API subset, limits, events, webhooks and fault injection.
"""

from orgforge.sandbox.asana.server import (
    DEFAULT_PORT,
    AsanaSandbox,
    Person,
    SandboxConfig,
    run_in_thread,
    serve,
)

__all__ = ["DEFAULT_PORT", "AsanaSandbox", "Person", "SandboxConfig", "run_in_thread", "serve"]
