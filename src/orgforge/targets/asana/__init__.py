"""The Asana target on the official ``asana`` SDK: multi-user, rate-limited, tracked in the world.

    from orgforge.targets.asana import AsanaRecord, AsanaTarget, load_tokens

    target = AsanaTarget("https://app.asana.com/api/1.0", load_tokens())
    gids: dict[str, str] = {}
    (result,) = target.create([AsanaRecord("asana/x/t1", "task", {"name": "Hi",
                                            "workspace": "123"})], gids)
    result.key, result.remote_id, result.error

See docs/asana.md. ``orgforge asana seed`` / ``cleanup`` drive it from a config and a world.
"""

from orgforge.targets.asana.client import AsanaTarget, TargetReport
from orgforge.targets.asana.limiter import ClientRateLimiter
from orgforge.targets.asana.records import AsanaRecord
from orgforge.targets.asana.tokens import Tokens, load_tokens, persona_name

__all__ = [
    "AsanaRecord",
    "AsanaTarget",
    "ClientRateLimiter",
    "TargetReport",
    "Tokens",
    "load_tokens",
    "persona_name",
]
