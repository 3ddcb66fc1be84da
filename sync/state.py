"""Per-object extraction state in ``ops.sync_state``.

``cursor`` is the committed incremental position; ``checkpoint`` the position inside an
extraction that has not been merged yet.  A checkpoint with ``"complete": true`` marks an
extraction whose pages are all staged and which waits for its source's merge.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb


@dataclass(frozen=True)
class ObjectState:
    """The saved state of one object."""

    cursor: dict[str, Any] | None
    checkpoint: dict[str, Any] | None
    last_success_at: datetime | None
    last_full_sync_at: datetime | None

    @property
    def complete(self) -> bool:
        """True when the extraction is fully staged and waits for the merge."""
        return bool(self.checkpoint and self.checkpoint.get("complete"))

    @property
    def pages(self) -> int:
        """Pages staged so far in the current extraction."""
        return int((self.checkpoint or {}).get("pages", 0))


def load(con: duckdb.DuckDBPyConnection, source: str, obj: str) -> ObjectState:
    """The saved state of ``source``'s ``obj`` (empty when never synced)."""
    rows = con.execute(
        "select cursor, checkpoint, last_success_at, last_full_sync_at from ops.sync_state "
        "where source = ? and object = ?",
        [source, obj],
    ).fetchall()
    if not rows:
        return ObjectState(None, None, None, None)
    cursor, checkpoint, success, full = rows[0]
    return ObjectState(_load_json(cursor), _load_json(checkpoint), success, full)


def _load_json(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    loaded = json.loads(value) if isinstance(value, str) else value
    return loaded if isinstance(loaded, dict) else None


def save_checkpoint(
    con: duckdb.DuckDBPyConnection,
    source: str,
    obj: str,
    checkpoint: dict[str, Any] | None,
    run_id: str,
) -> None:
    """Move the checkpoint of an object (inside the caller's transaction)."""
    con.execute(
        "insert into ops.sync_state (source, object, checkpoint, updated_at, run_id) "
        "values (?, ?, ?, current_timestamp, ?) "
        "on conflict (source, object) do update set checkpoint = excluded.checkpoint, "
        "updated_at = excluded.updated_at, run_id = excluded.run_id",
        [source, obj, _dump(checkpoint), run_id],
    )


def commit_cursor(
    con: duckdb.DuckDBPyConnection,
    source: str,
    obj: str,
    cursor: dict[str, Any] | None,
    *,
    full: bool,
    run_id: str,
) -> None:
    """Store the new cursor and clear the checkpoint (inside the merge transaction)."""
    con.execute(
        "update ops.sync_state set cursor = ?, checkpoint = null, "
        "last_success_at = current_timestamp, "
        "last_full_sync_at = case when ? then current_timestamp else last_full_sync_at end, "
        "updated_at = current_timestamp, run_id = ? where source = ? and object = ?",
        [_dump(cursor), full, run_id, source, obj],
    )


def _dump(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True)


def load_schema(
    con: duckdb.DuckDBPyConnection, source: str, obj: str
) -> tuple[dict[str, Any] | None, datetime | None]:
    """The cached described schema of an object and when it was read."""
    rows = con.execute(
        "select schema, schema_refreshed_at from ops.sync_state where source = ? and object = ?",
        [source, obj],
    ).fetchall()
    if not rows:
        return None, None
    return _load_json(rows[0][0]), rows[0][1]


def save_schema(
    con: duckdb.DuckDBPyConnection, source: str, obj: str, schema: dict[str, Any]
) -> None:
    """Cache a freshly described schema (inside the caller's transaction)."""
    con.execute(
        "insert into ops.sync_state (source, object, schema, schema_refreshed_at, updated_at) "
        "values (?, ?, ?, current_timestamp, current_timestamp) "
        "on conflict (source, object) do update set schema = excluded.schema, "
        "schema_refreshed_at = excluded.schema_refreshed_at",
        [source, obj, _dump(schema)],
    )
