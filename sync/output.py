"""The console commands print their results on."""

from __future__ import annotations

import os
import sys

from rich.console import Console

REDIRECTED_WIDTH = 200
"""Columns for output that goes to a file or a pipe: enough for whole ids and timestamps."""


def report_console() -> Console:
    """Standard output for a command's tables and summaries.

    On a terminal, rich fits them to its width. Redirected to a file or a pipe, rich would
    assume 80 columns and cut run ids, keys and timestamps short; there the tables get
    :data:`REDIRECTED_WIDTH` columns instead (tables are only as wide as their contents), unless
    ``COLUMNS`` sets a width.
    """
    console = Console(file=sys.stdout)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = REDIRECTED_WIDTH
    return console
