"""The kamsync commands, one module each.

:data:`COMMAND_MODULES` are the commands ``sync`` ships itself, in the order ``--help`` shows.
Packages layered above ``sync`` (analytics, writeback) add theirs without ``sync`` importing
them: each declares its command module as an entry point in the ``kamsync.commands`` group of
``pyproject.toml``, and :func:`command_modules` loads them after the built-in ones.
"""

from __future__ import annotations

import argparse
import logging
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
from sync.plugins import load_plugins

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
    """The built-in command modules, then those other packages declare as entry points (in
    name order, so ``--help`` is stable)."""
    plugins = load_plugins(ENTRY_POINT_GROUP, "command")
    found = [cast(CommandModule, m) for name, m in plugins.items() if _registers(name, m)]
    return (*COMMAND_MODULES, *found)


def _registers(name: str, module: object) -> bool:
    """A command module must have ``register()``; one without is logged and left out."""
    if callable(getattr(module, "register", None)):
        return True
    log.warning(
        "command %r (%s) has no register() function", name, getattr(module, "__name__", module)
    )
    return False
