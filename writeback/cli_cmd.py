"""``kamsync writeback [--source NAME] [--dry-run] [--plan FILE]``.

The CLI finds this module through the ``kamsync.commands`` entry point (``sync`` never imports
``writeback``).  :func:`writeback_job` is the same work without printing, declared as the
``writeback`` entry point of ``kamsync.jobs`` for ``kamsync run`` and ``kamsync schedule``.

* no option: push every changed score record of every enabled source;
* ``--dry-run``: send nothing; write a plan (JSON: counts, and per record the field-level before,
  as read from the CRM, and after) to ``--plan FILE`` or to ``kamsync-plan-<time>.json``;
* ``--plan FILE``: apply exactly that plan, refusing it if the warehouse, the source or its CRM
  is no longer what the plan was made for.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from config.model import KamsyncConfig
from sync.output import report_console
from sync.signals import GracefulStop
from writeback.plan import write_plan
from writeback.runner import ProgressCallback, WritebackResult, run_writeback

if TYPE_CHECKING:
    from sync.cli import App


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``writeback``."""
    parser = commands.add_parser(
        "writeback",
        help="push changed scores into kamsync's custom objects in each CRM",
        description="Push the score records whose payload changed since the CRM last confirmed "
        "it, into KAM_Account_Score__c (Salesforce) and kam_accountscore (Dataverse).",
    )
    parser.add_argument("--source", metavar="NAME", help="write back to this source only")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="send nothing: write a plan of what would change (field-level before and after)",
    )
    parser.add_argument(
        "--plan",
        metavar="FILE",
        type=Path,
        help="with --dry-run: where to write the plan; without: apply exactly this plan",
    )
    parser.set_defaults(handler=writeback)


def writeback_job(config: KamsyncConfig, should_stop: Callable[[], bool]) -> str:
    """The ``writeback`` job of ``kamsync run`` and ``kamsync schedule``: one line of counts.

    A stop request ends the push after the request in flight (what the CRM confirmed is in the
    ledger; the rest goes next run).  Raises when a source was refused or a row not confirmed.
    """
    result = run_writeback(config, should_stop=should_stop)
    result.raise_for_status()
    sent = sum(s.succeeded for s in result.sources)
    unchanged = sum(s.unchanged for s in result.sources)
    calls = sum(s.api_calls for s in result.sources)
    stopped = any(s.status == "stopped" for s in result.sources)
    return (
        f"{sent:,} score records written, {unchanged:,} unchanged, {calls:,} API calls "
        f"to {len(result.sources)} source(s){' (stopped on request)' if stopped else ''}"
    )


def writeback(app: App) -> int:
    """Handler of ``kamsync writeback``."""
    args = app.args
    dry_run: bool = args.dry_run
    plan: Path | None = args.plan
    with GracefulStop() as stop:  # SIGTERM / Ctrl-C: stop after the request in flight
        result = run_writeback(
            app.config,
            source=args.source,
            dry_run=dry_run,
            plan_file=None if dry_run else plan,
            config_file=str(app.config_path),
            progress=_progress(Console(stderr=True)),
            should_stop=lambda: stop.requested,
        )
    out = report_console()
    print_summary(result, out)
    if dry_run:
        target = plan or Path(f"kamsync-plan-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json")
        write_plan(target, result.plans)
        out.print(
            f"plan: {target} (nothing was sent; apply it with `kamsync writeback --plan {target}`)"
        )
    result.raise_for_status()
    return 0


def print_summary(result: WritebackResult, console: Console) -> None:
    """A few lines per source: what was desired, changed, sent and confirmed."""
    title = "write-back plan (dry run)" if result.dry_run else f"writeback {result.run_id}"
    console.print(title, style="bold", highlight=False)
    for s in result.sources:
        console.print(f"{s.source} -> {s.target}: {s.status}", highlight=False)
        console.print(
            f"  {s.desired:,} score records: {s.unchanged:,} unchanged, {s.creates:,} to create, "
            f"{s.updates:,} to update",
            highlight=False,
        )
        if not result.dry_run and (s.creates or s.updates):
            requests = ", ".join(f"{m} x{n}" for m, n in sorted(s.requests.items())) or "none"
            console.print(
                f"  sent: {s.succeeded:,} confirmed, {s.failed:,} failed, {s.unprocessed:,} "
                f"unprocessed; requests: {requests}",
                highlight=False,
            )
        console.print(f"  API calls: {s.api_calls:,}", highlight=False)
        if s.error:
            console.print(f"  {s.error}", style="red", highlight=False)
    if not result.sources:
        console.print("write-back is disabled for every source in the configuration")


def _progress(console: Console) -> ProgressCallback:
    def report(source: str, method: str, done: int, total: int) -> None:
        line = f"writeback: {source}: {done:,}/{total:,} records sent ({method})"
        if console.is_terminal:
            console.print(line, style="dim", highlight=False)
        else:
            print(line, file=sys.stderr, flush=True)

    return report
