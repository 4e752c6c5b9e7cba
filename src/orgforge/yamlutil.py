"""YAML helpers shared by the config, the packs and the activity data files.

Imports nothing else of orgforge, so the packs and the world don't reach into the config for
them.
"""

from __future__ import annotations

from typing import Any

import yaml


def line_of(node: Any, path: tuple[str, ...]) -> int | None:
    """The 1-based line of the deepest node along ``path`` (mapping keys and list indexes)."""
    line = None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if str(key_node.value) == part:
                    line = key_node.start_mark.line + 1
                    node = value_node
                    break
            else:
                break
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
            line = node.start_mark.line + 1
        else:
            break
    return line
