"""``kamsync run``: sync, analyze and write back, in order; a failed step stops the rest."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from sync.jobs import run_pipeline
from sync.signals import GracefulStop

if TYPE_CHECKING:
    from sync.cli import App


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``run``."""
    parser = commands.add_parser("run", help="sync, analyze and write back, in order")
    parser.set_defaults(handler=run)


def run(app: App) -> int:
    """Run the pipeline, printing one line per step; a failed step raises (exit 1)."""
    config = app.config
    with GracefulStop() as stop:
        run_pipeline(config, lambda: stop.requested, report=lambda n, s: print(f"{n}: {s}"))
    return 0
