"""Run bookkeeping: ``ops.sync_runs``, ``ops.sync_run_objects`` and ``ops.api_usage``.

Each write here is its own small transaction, so a run's record survives the failure of the run
it describes.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import duckdb

from connectors.base import ApiUsage
from sync.warehouse import kamsync_version


def new_run_id(job: str, now: datetime | None = None) -> str:
    """A unique run id that sorts by start time, such as ``sync-20260101T120000Z-1a2b3c4d``:
    the job, the UTC start (default: now) and a random suffix."""
    started = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{job}-{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def interrupt_stale(con: duckdb.DuckDBPyConnection) -> int:
    """Mark runs left 'running' by a killed process as 'interrupted'.

    Only one process can hold the engine file open for writing, so any run still marked
    running when a new one starts was cut off.
    """
    rows = con.execute(
        "update ops.sync_runs set status = 'interrupted', finished_at = current_timestamp, "
        "error = coalesce(error, 'the process stopped before the run finished') "
        "where status = 'running' returning run_id"
    ).fetchall()
    con.execute(
        "update ops.sync_run_objects set status = 'interrupted', finished_at = current_timestamp "
        "where status = 'running'"
    )
    return len(rows)


def start_run(con: duckdb.DuckDBPyConnection, run_id: str, job: str, source: str | None) -> None:
    """Record a run as running."""
    con.execute(
        "insert into ops.sync_runs (run_id, job, source, started_at, status, kamsync_version) "
        "values (?, ?, ?, current_timestamp, 'running', ?)",
        [run_id, job, source, kamsync_version()],
    )


def finish_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    *,
    status: str,
    api_calls: int = 0,
    rows_written: int = 0,
    error: str | None = None,
) -> None:
    """Record how a run ended."""
    con.execute(
        "update ops.sync_runs set status = ?, finished_at = current_timestamp, api_calls = ?, "
        "rows_written = ?, error = ? where run_id = ?",
        [status, api_calls, rows_written, error, run_id],
    )


def start_object(con: duckdb.DuckDBPyConnection, run_id: str, source: str, obj: str) -> None:
    """Record that a run started reading an object."""
    con.execute(
        "insert into ops.sync_run_objects (run_id, source, object, started_at, status) "
        "values (?, ?, ?, current_timestamp, 'running') "
        "on conflict (run_id, source, object) do nothing",
        [run_id, source, obj],
    )


def add_page(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    source: str,
    obj: str,
    *,
    method: str,
    rows: int,
    deleted: int,
    api_calls: int,
) -> None:
    """Count a landed page (inside the page's transaction).

    The object's method is how its records were read (rest, bulk, delta), not how deletions were.
    """
    con.execute(
        "update ops.sync_run_objects set method = coalesce(?, method, ?), pages = pages + 1, "
        "rows_upserted = rows_upserted + ?, rows_deleted = rows_deleted + ?, "
        "api_calls = api_calls + ? where run_id = ? and source = ? and object = ?",
        [method if rows else None, method, rows, deleted, api_calls, run_id, source, obj],
    )


def finish_object(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    source: str,
    obj: str,
    *,
    status: str,
    error: str | None = None,
) -> None:
    """Record how reading an object ended."""
    con.execute(
        "update ops.sync_run_objects set status = ?, finished_at = current_timestamp, error = ? "
        "where run_id = ? and source = ? and object = ?",
        [status, error, run_id, source, obj],
    )


def record_usage(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    source: str,
    usage: ApiUsage,
    budget_percent: float | None,
) -> None:
    """Append what the connector has seen of API consumption."""
    con.execute(
        "insert into ops.api_usage (run_id, source, observed_at, calls_made, org_used, org_limit, "
        "budget_percent, detail) values (?, ?, current_timestamp, ?, ?, ?, ?, ?)",
        [
            run_id,
            source,
            usage.calls,
            usage.org_used,
            usage.org_limit,
            budget_percent,
            usage.detail,
        ],
    )
