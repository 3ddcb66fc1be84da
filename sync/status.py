"""What ``kamsync status`` reports, read from the published warehouse (never blocks a job)."""

from __future__ import annotations

import json
from typing import Any

import duckdb

RECENT_RUNS = 10
RECENT_FAILURES = 10


def _rows(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    rows = con.execute(
        "select count(*) from duckdb_tables() where schema_name = ? and lower(table_name) = lower(?)",
        [schema, table],
    ).fetchall()
    return bool(rows[0][0])


def collect(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Everything status shows, as plain data."""
    return {
        "runs": _rows(
            con,
            "select run_id, job, source, started_at, finished_at, status, api_calls, rows_written, "
            "error from ops.sync_runs order by started_at desc limit ?",
            [RECENT_RUNS],
        ),
        "objects": _objects(con),
        "api_usage": _rows(
            con,
            "select source, observed_at, calls_made, org_used, org_limit, budget_percent, "
            "case when org_limit is not null and budget_percent is not null "
            "then greatest(cast(floor(org_limit * budget_percent / 100) as bigint) - org_used, 0) "
            "end as budget_left, detail "
            "from ops.api_usage qualify row_number() over (partition by source order by observed_at desc) = 1 "
            "order by source",
        ),
        "writeback": _rows(
            con,
            "with last_run as (select source, max(run_id) as run_id from ops.writeback_log group by source) "
            "select log.source, log.run_id, count(*) filter (where status = 'success') as succeeded, "
            "count(*) filter (where status = 'failed') as failed, "
            "count(*) filter (where status = 'unprocessed') as unprocessed "
            "from ops.writeback_log as log join last_run using (source, run_id) "
            "group by all order by log.source",
        ),
        "failures": _rows(
            con,
            "select run_id, job, source, started_at, status, error from ops.sync_runs "
            "where status not in ('succeeded', 'running') order by started_at desc limit ?",
            [RECENT_FAILURES],
        )
        + _rows(
            con,
            "select run_id, 'writeback' as job, source, logged_at as started_at, status, "
            "external_id || ': ' || coalesce(error_code || ': ', '') || coalesce(error_message, '') as error "
            "from ops.writeback_log where status <> 'success' order by logged_at desc limit ?",
            [RECENT_FAILURES],
        ),
    }


def _objects(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    states = _rows(
        con,
        "select source, object, cursor, checkpoint, last_success_at, last_full_sync_at, updated_at "
        "from ops.sync_state order by source, object",
    )
    for state in states:
        state["cursor"] = _short(state["cursor"])
        checkpoint = json.loads(state["checkpoint"]) if state["checkpoint"] else None
        state["in_progress"] = _describe_checkpoint(checkpoint)
        del state["checkpoint"]
        raw = f"raw_{state['source']}"
        if _table_exists(con, raw, state["object"]):
            counts = con.execute(
                f"select count(*) filter (where not _is_deleted), count(*) filter (where _is_deleted) "
                f'from "{raw}"."{state["object"]}"'
            ).fetchall()[0]
            state["rows"], state["deleted_rows"] = int(counts[0]), int(counts[1])
        else:
            state["rows"], state["deleted_rows"] = 0, 0
    return states


def _short(cursor: Any) -> str | None:
    if cursor is None:
        return None
    value = json.loads(cursor) if isinstance(cursor, str) else cursor
    if isinstance(value, dict) and "upper" in value:
        return f"up to {value['upper']}"
    if isinstance(value, dict) and "delta_link" in value:
        return "delta link"
    if isinstance(value, dict) and "since" in value:
        return f"modifiedon from {value['since']}" if value["since"] else "modifiedon (empty)"
    return json.dumps(value)[:60]


def _describe_checkpoint(checkpoint: dict[str, Any] | None) -> str | None:
    if not checkpoint:
        return None
    pages = checkpoint.get("pages", 0)
    if checkpoint.get("complete"):
        return f"{pages} pages staged, waiting for the source's merge"
    return f"{checkpoint.get('mode', 'extraction')} in progress, {pages} pages staged"
