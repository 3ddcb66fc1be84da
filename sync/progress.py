"""Progress of long steps: a live table on a terminal, plain log lines elsewhere."""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from types import TracebackType
from typing import IO

from rich.console import Console
from rich.live import Live
from rich.table import Table

log = logging.getLogger("kamsync.progress")


class LogProgress:
    """One log line per object started and finished, and every few seconds while paging."""

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self._last = 0.0
        self._counts: dict[tuple[str, str], list[int]] = {}

    def object_started(self, source: str, obj: str, mode: str) -> None:
        """Log the start of an object."""
        self._counts[(source, obj)] = [0, 0, 0]
        log.info("%s: %s: reading (%s)", source, obj, mode)

    def page_landed(self, source: str, obj: str, rows: int, api_calls: int) -> None:
        """Count a page; log now and then."""
        counts = self._counts.setdefault((source, obj), [0, 0, 0])
        counts[0] += 1
        counts[1] += rows
        counts[2] += api_calls
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            log.info("%s: %s: %d pages, %d rows, %d API calls", source, obj, *counts)

    def object_finished(self, source: str, obj: str, status: str) -> None:
        """Log the end of an object with its counts."""
        pages, rows, calls = self._counts.get((source, obj), [0, 0, 0])
        log.info(
            "%s: %s: %s (%d pages, %d rows, %d API calls)", source, obj, status, pages, rows, calls
        )


@dataclass
class _Row:
    status: str
    pages: int = 0
    rows: int = 0
    calls: int = 0


class TerminalProgress:
    """A live table of objects, pages, rows and API calls, for an interactive terminal."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.console = Console(file=stream or sys.stderr)
        self._rows: dict[tuple[str, str], _Row] = {}
        self._live = Live(self._table(), console=self.console, refresh_per_second=4)

    def __enter__(self) -> TerminalProgress:
        self._live.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._live.update(self._table())
        self._live.__exit__(kind, value, traceback)

    def _table(self) -> Table:
        table = Table(title="kamsync sync")
        for header in ("source", "object", "status"):
            table.add_column(header)
        for header in ("pages", "rows", "API calls"):
            table.add_column(header, justify="right")
        for (source, obj), row in self._rows.items():
            table.add_row(
                source, obj, row.status, f"{row.pages:,}", f"{row.rows:,}", f"{row.calls:,}"
            )
        return table

    def object_started(self, source: str, obj: str, mode: str) -> None:
        """Add a row for the object."""
        self._rows[(source, obj)] = _Row(f"reading ({mode})")
        self._live.update(self._table())

    def page_landed(self, source: str, obj: str, rows: int, api_calls: int) -> None:
        """Update the object's counts."""
        row = self._rows.setdefault((source, obj), _Row("reading"))
        row.pages += 1
        row.rows += rows
        row.calls += api_calls
        self._live.update(self._table())

    def object_finished(self, source: str, obj: str, status: str) -> None:
        """Show the object's final status."""
        self._rows.setdefault((source, obj), _Row(status)).status = status
        self._live.update(self._table())
