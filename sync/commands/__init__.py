"""The kamsync commands, one module each.

:data:`COMMAND_MODULES` are the commands ``sync`` ships itself, in the order ``--help`` shows.
Packages layered above ``sync`` (analytics, writeback) add theirs without ``sync`` importing
them: each declares its command module as an entry point in the ``kamsync.commands`` group of
``pyproject.toml``, and :func:`command_modules` loads them after the built-in ones.
"""

from __future__ import annotations

import argparse
import logging
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Protocol, cast

from sync.commands import (
    config_cmd,
    demo_cmd,
    emulator_cmd,
    run_cmd,
    schedule_cmd,
    status_cmd,
    sync_cmd,
)

ENTRY_POINT_GROUP = "kamsync.commands"

log = logging.getLogger(__name__)


class CommandModule(Protocol):
    """A command module registers its sub-command (and sets ``handler``) on the parser."""

    def register(self, commands: argparse._SubParsersAction[Any]) -> None: ...


COMMAND_MODULES: tuple[CommandModule, ...] = (
    demo_cmd,
    config_cmd,
    sync_cmd,
    run_cmd,
    schedule_cmd,
    status_cmd,
    emulator_cmd,
)


def command_modules() -> tuple[CommandModule, ...]:
    """The built-in command modules, then those other packages declare as entry points."""
    found = [m for m in (_load(ep) for ep in _plugin_entry_points()) if m is not None]
    return (*COMMAND_MODULES, *found)


def _plugin_entry_points() -> list[EntryPoint]:
    """Entry points of the command group, one per name, sorted so ``--help`` is stable."""
    unique = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return [unique[name] for name in sorted(unique)]


def _load(entry: EntryPoint) -> CommandModule | None:
    """Import one command module; a broken one is logged and left out, not fatal to the CLI."""
    try:
        module = entry.load()
    except Exception as exc:  # any import-time failure of a plugin
        log.warning("command %r could not be loaded from %s: %s", entry.name, entry.value, exc)
        return None
    if not callable(getattr(module, "register", None)):
        log.warning("command %r (%s) has no register() function", entry.name, entry.value)
        return None
    return cast(CommandModule, module)
