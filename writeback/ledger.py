"""The ledger of confirmed pushes and the outcome log.

``ops.writeback_ledger`` holds, per source and external id, the payload the CRM last confirmed
and its hash (the diff against it is in :mod:`writeback.desired`).  The ledger moves only for rows
the CRM confirmed, in the same transaction as their ``ops.writeback_log`` rows, so a failed or
unprocessed row keeps its old hash and is sent again next run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import duckdb
import orjson
import pyarrow as pa

from writeback.payload import Value
from writeback.records import Change, Outcome


def _json(value: Mapping[str, Value] | None) -> str | None:
    return None if value is None else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def record_outcomes(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    source: str,
    target_object: str,
    outcomes: Sequence[Outcome],
) -> None:
    """Log every outcome and move the ledger for the successes, in one transaction."""
    if not outcomes:
        return
    log = _strings(
        external_id=[o.change.record.external_id for o in outcomes],
        action=[o.action for o in outcomes],
        status=[o.result.status for o in outcomes],
        before=[o.before_json for o in outcomes],
        after=[_json(o.change.record.values) for o in outcomes],
        error_code=[o.result.error_code for o in outcomes],
        error_message=[o.result.error_message for o in outcomes],
        method=[o.method for o in outcomes],
        crm_record_id=[_record_id(o) for o in outcomes],
    )
    confirmed = [o for o in outcomes if o.result.status == "success"]
    ledger = _strings(
        external_id=[o.change.record.external_id for o in confirmed],
        account_key=[o.change.record.account_key for o in confirmed],
        crm_record_id=[_record_id(o) for o in confirmed],
        payload_hash=[o.change.record.payload_hash for o in confirmed],
        payload=[_json(o.change.record.values) for o in confirmed],
    )
    con.begin()
    try:
        _insert_log(con, log, run_id, source, target_object)
        _upsert_ledger(con, ledger, run_id, source, target_object)
        con.commit()
    except BaseException:
        con.rollback()
        raise


def _strings(**columns: Sequence[str | None]) -> pa.Table:
    """An Arrow table of text columns (typed even when a column holds only nulls)."""
    schema = pa.schema([(name, pa.string()) for name in columns])
    return pa.table({name: list(values) for name, values in columns.items()}, schema=schema)


def _record_id(outcome: Outcome) -> str | None:
    previous = outcome.change.previous
    return outcome.result.record_id or (previous.crm_record_id if previous else None)


def _insert_log(
    con: duckdb.DuckDBPyConnection, log: pa.Table, run_id: str, source: str, target: str
) -> None:
    con.register("wb_log_batch", log)
    try:
        con.execute(
            "insert into ops.writeback_log (run_id, source, external_id, action, status, before, "
            "after, error_code, error_message, logged_at, method, target_object, crm_record_id) "
            "select ?, ?, external_id, action, status, before::json, after::json, error_code, "
            "error_message, current_timestamp, method, ?, crm_record_id from wb_log_batch",
            [run_id, source, target],
        ).fetchall()
    finally:
        con.unregister("wb_log_batch")


def _upsert_ledger(
    con: duckdb.DuckDBPyConnection, ledger: pa.Table, run_id: str, source: str, target: str
) -> None:
    if ledger.num_rows == 0:
        return
    con.register("wb_ledger_batch", ledger)
    try:
        con.execute(
            "insert or replace into ops.writeback_ledger (source, external_id, target_object, "
            "account_key, crm_record_id, payload_hash, payload, confirmed_at, run_id) "
            "select ?, external_id, ?, account_key, crm_record_id, payload_hash, payload::json, "
            "current_timestamp, ? from wb_ledger_batch",
            [source, target, run_id],
        ).fetchall()
    finally:
        con.unregister("wb_ledger_batch")


def known_record_ids(changes: Sequence[Change]) -> dict[str, str]:
    """External id -> CRM record id, for the changes the ledger knows an id of."""
    return {
        c.record.external_id: c.previous.crm_record_id
        for c in changes
        if c.previous is not None and c.previous.crm_record_id
    }
