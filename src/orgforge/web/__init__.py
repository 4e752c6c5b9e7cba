"""`orgforge serve`: a FastAPI app over one world — the job API (OpenAPI at /docs), live
progress over server-sent events, and HTML pages — with the simulation runner in-process.

    from orgforge.web import WebSettings, run_in_thread

    with run_in_thread(WebSettings(world="demo.db", port=0)) as server:
        print(server.url, server.token)

Nothing here is library logic: every page and route calls ``orgforge`` / ``orgforge.simulate``
(see docs/web.md).
"""

from __future__ import annotations

from orgforge.web.app import WebSettings, create_app
from orgforge.web.server import TOKEN_ENV, WebServer, run_in_thread, serve

__all__ = ["TOKEN_ENV", "WebServer", "WebSettings", "create_app", "run_in_thread", "serve"]
