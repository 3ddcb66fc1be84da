"""``kamsync status [--json]``: runs, cursors, rows, API use and write-back outcomes."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from sync.output import report_console
from sync.status import collect
from sync.warehouse import Warehouse

if TYPE_CHECKING:
    from sync.cli import App


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``status``."""
    parser = commands.add_parser("status", help="show recent runs, cursors, API use and failures")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.set_defaults(handler=show_status)


def show_status(app: App) -> int:
    """Print the status of the published warehouse."""
    con = Warehouse(app.local_config.warehouse).read_published()
    try:
        report = collect(con)
    finally:
        con.close()
    if app.args.json:
        print(json.dumps(report, default=str, indent=2))
    else:
        render(report, report_console())
    return 0


def _table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column.replace("_", " "))
    for row in rows:
        table.add_row(*("" if row.get(c) is None else _cell(row[c]) for c in columns))
    return table


def _cell(value: Any) -> str:
    # long values (a failure's error) wrap inside their cell: an error cut short loses its cause
    return f"{value:,}" if isinstance(value, int) else str(value)


def render(report: dict[str, Any], console: Console) -> None:
    """The report as tables."""
    console.print(
        _table(
            "Recent runs",
            report["runs"],
            ["run_id", "job", "source", "started_at", "status", "api_calls", "rows_written"],
        )
    )
    console.print(
        _table(
            "Objects",
            report["objects"],
            [
                "source",
                "object",
                "rows",
                "deleted_rows",
                "cursor",
                "in_progress",
                "last_success_at",
            ],
        )
    )
    console.print(
        _table(
            "API use per org",
            report["api_usage"],
            [
                "source",
                "observed_at",
                "calls_made",
                "org_used",
                "org_limit",
                "budget_left",
                "detail",
            ],
        )
    )
    if report["writeback"]:
        console.print(
            _table(
                "Last write-back",
                report["writeback"],
                ["source", "run_id", "succeeded", "failed", "unprocessed"],
            )
        )
    if report["failures"]:
        console.print(
            _table(
                "Failures", report["failures"], ["started_at", "job", "source", "status", "error"]
            )
        )
