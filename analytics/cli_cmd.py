"""``kamsync analyze``: recompute every ``kam`` mart from ``crm.*`` and print a summary.

The CLI finds this module through the ``kamsync.commands`` entry point declared in
``pyproject.toml`` (``sync`` never imports ``analytics``).  :func:`analyze_job` is the same work
without printing, declared as the ``analyze`` entry point of ``kamsync.jobs`` for the scheduler
and ``kamsync run``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.console import Console

from analytics.models import Model
from analytics.runner import AnalysisResult, ProgressCallback, run_analysis
from analytics.summary import render, summarize
from config.model import KamsyncConfig
from sync.output import report_console
from sync.warehouse import Warehouse

if TYPE_CHECKING:
    from sync.cli import App


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``analyze``."""
    parser = commands.add_parser(
        "analyze",
        help="recompute every kam.* mart (key accounts, whitespace, wallet, health, calls, ...)",
        description="Recompute every kam.* mart from crm.* in one transaction and print a summary.",
    )
    parser.set_defaults(handler=analyze)


def analyze_job(config: KamsyncConfig, progress: ProgressCallback | None = None) -> AnalysisResult:
    """Run the analysis on the configured warehouse and publish the analysts' copy."""
    with Warehouse(config.warehouse).session() as con:
        return run_analysis(con, config.analytics, progress=progress)


def analyze_scheduled(config: KamsyncConfig, should_stop: Callable[[], bool]) -> str:
    """The ``analyze`` job of ``kamsync run`` and ``kamsync schedule``: one line of counts.

    An analysis is one transaction, so a stop request lets it finish.
    """
    result = analyze_job(config)
    scores = result.mart_rows.get("account_scores", 0)
    return (
        f"{scores:,} accounts scored (as of {result.as_of}), "
        f"{result.rows_written:,} mart rows in {sum(result.seconds.values()):.1f}s"
    )


def analyze(app: App) -> int:
    """Handler of ``kamsync analyze``: exit 0, or raise (1: run failed, 2: bad configuration)."""
    config = app.local_config
    result = analyze_job(config, progress=_progress(Console(stderr=True)))
    con = Warehouse(config.warehouse).read_published()
    try:
        summary = summarize(con, result)
    finally:
        con.close()
    out = report_console()
    render(summary, out)
    out.print(f"warehouse: {config.warehouse.path}")
    return 0


def _progress(console: Console) -> ProgressCallback:
    """One line per model built: dim on a terminal, plain when not on one."""

    def report(position: int, total: int, model: Model, seconds: float) -> None:
        line = f"analyze: built {model.layer}/{model.name} ({position}/{total}) in {seconds:.2f}s"
        if console.is_terminal:
            console.print(line, style="dim", highlight=False)
        else:
            print(line, file=sys.stderr, flush=True)

    return report
