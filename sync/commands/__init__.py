"""The kamsync commands, one module each; :data:`COMMAND_MODULES` is the order ``--help`` shows."""

from __future__ import annotations

import argparse
from typing import Any, Protocol

from sync.commands import config_cmd, status_cmd, sync_cmd


class CommandModule(Protocol):
    """A command module registers its sub-command (and sets ``handler``) on the parser."""

    def register(self, commands: argparse._SubParsersAction[Any]) -> None: ...


COMMAND_MODULES: tuple[CommandModule, ...] = (config_cmd, sync_cmd, status_cmd)
