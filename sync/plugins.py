"""What the packages layered above ``sync`` contribute without ``sync`` importing them.

Each contribution is an entry point in a group of ``pyproject.toml``: ``kamsync.commands``
(command modules), ``kamsync.jobs`` (jobs for ``run`` and ``schedule``) and
``kamsync.summaries`` (the demo's tables of the marts).
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

log = logging.getLogger(__name__)


def load_plugins(group: str, kind: str) -> dict[str, object]:
    """Every entry point of ``group``, one per name, loaded, in name order.

    One that fails to load is logged as a ``kind`` that could not be loaded and left out: a
    broken plugin is not fatal to the others.
    """
    unique = {entry.name: entry for entry in entry_points(group=group)}
    loaded: dict[str, object] = {}
    for name in sorted(unique):
        entry = unique[name]
        try:
            loaded[name] = entry.load()
        except Exception as exc:  # any import-time failure of a plugin
            log.warning("%s %r could not be loaded from %s: %s", kind, name, entry.value, exc)
    return loaded
