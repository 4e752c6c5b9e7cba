"""The world: the local store every command reads and writes (see store.World)."""

from orgforge.world.store import World

__all__ = ["World"]
