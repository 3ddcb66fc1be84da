"""``kamsync sync [--source NAME] [--full]``: extract into the warehouse."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from config.errors import RunFailedError
from sync import jobs
from sync.engine import SyncResult
from sync.output import report_console
from sync.progress import LogProgress, TerminalProgress
from sync.signals import GracefulStop

if TYPE_CHECKING:
    from sync.cli import App


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``sync``."""
    parser = commands.add_parser("sync", help="extract CRM data into the warehouse")
    parser.add_argument("--source", metavar="NAME", help="sync only this source")
    parser.add_argument(
        "--full", action="store_true", help="re-read everything instead of what changed"
    )
    parser.set_defaults(handler=sync_command)


def sync_command(app: App) -> int:
    """Run a sync; exit 1 when any source failed or stopped at its API budget."""
    result = sync(app, source=app.args.source, full=app.args.full)
    print_summary(result, report_console())
    if all(s.status in ("succeeded", "stopped") for s in result.sources):
        return 0  # a requested stop is not a failure: state is saved
    if not result.ok:
        failed = [f"{s.name}: {s.error}" for s in result.sources if s.status != "succeeded"]
        raise RunFailedError("sync did not complete:\n  " + "\n  ".join(failed))
    return 0


def sync(app: App, *, source: str | None, full: bool) -> SyncResult:
    """Run the sync engine against the warehouse, with progress fit for the terminal."""
    with contextlib.ExitStack() as stack:
        stop = stack.enter_context(GracefulStop())
        progress: TerminalProgress | LogProgress = (
            stack.enter_context(TerminalProgress()) if sys.stderr.isatty() else LogProgress()
        )
        return jobs.run_sync(
            app.config,
            lambda: stop.requested,
            source=source,
            full=full,
            progress=progress,
        )
    raise AssertionError("unreachable")  # pragma: no cover


def print_summary(result: SyncResult, console: Console) -> None:
    """Per source: status, API calls, records read, the org's API counter."""
    table = Table(title=f"sync {result.run_id}")
    for header in ("source", "status", "objects", "records", "deleted", "API calls", "org API use"):
        table.add_column(header)
    for source in result.sources:
        usage = (
            f"{source.org_used:,} / {source.org_limit:,}"
            if source.org_used is not None and source.org_limit
            else "-"
        )
        table.add_row(
            source.name,
            source.status,
            str(len(source.objects)),
            f"{sum(o.rows for o in source.objects.values()):,}",
            f"{sum(o.deleted + o.merged_deleted for o in source.objects.values()):,}",
            f"{source.api_calls:,}",
            usage,
        )
    console.print(table)
    if result.crm_counts:
        counts = ", ".join(f"{k} {v:,}" for k, v in result.crm_counts.items())
        console.print(f"crm: {counts}")
