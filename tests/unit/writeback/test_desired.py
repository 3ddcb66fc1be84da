"""writeback.desired: SQL normalisation agrees with Python's; the diff is against the ledger."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pytest

from config.errors import RunFailedError
from config.model import WritebackTarget
from sync.warehouse import migrate
from writeback.desired import desired_state, sql_normalised
from writeback.metadata import FIELDS
from writeback.payload import dataverse_shape, normalise, salesforce_shape, target_map

COLUMNS = {
    "account_key": "varchar",
    "source": "varchar",
    "source_id": "varchar",
    **{f.column: "varchar" for f in FIELDS if f.column not in ("account_key", "source_id")},
}
TYPES = {
    "health_score": "double",
    "wallet_estimate": "double",
    "wallet_share": "double",
    "headroom": "double",
    "whitespace_1_value": "double",
    "whitespace_2_value": "double",
    "whitespace_3_value": "double",
    "call_actual_last_30d": "bigint",
    "call_compliance": "double",
    "days_since_last_contact": "bigint",
    "scored_at": "timestamptz",
    "revenue_target": "double",
    "period_forecast": "double",
    "gap_to_target": "double",
    "recommended_calls_per_month": "double",
    "next_call_due_date": "date",
    "next_review_date": "date",
}
COLUMNS.update(TYPES)


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    migrate(connection)
    columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
    connection.execute(f"create table kam.account_scores ({columns})").fetchall()
    yield connection
    connection.close()


def _add(con: duckdb.DuckDBPyConnection, key: str, **values: Any) -> None:
    source, _, source_id = key.partition(":")
    row = {"account_key": key, "source": source, "source_id": source_id, "tier": "key", **values}
    names = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    con.execute(f"insert into kam.account_scores ({names}) values ({marks})", list(row.values()))


NUMBERS = [0.005, 2.675, -2.675, 365637.00000000035, 0.123456, 1 / 3, 1e16, -0.0001, 12.0, None]
MOMENT = datetime(2025, 6, 30, 20, 0, 1, 123456, tzinfo=timezone(timedelta(hours=2)))


@pytest.mark.parametrize("shape_of", [salesforce_shape, dataverse_shape], ids=["sf", "dv"])
def test_sql_normalisation_is_python_normalisation(
    con: duckdb.DuckDBPyConnection, shape_of: Any
) -> None:
    cases: list[tuple[str, str, Any]] = [
        (column, TYPES.get(column, "varchar"), value)
        for column in ("wallet_estimate", "wallet_share", "call_cycle", "calls_actual")
        for value in NUMBERS
    ]
    samples: list[tuple[str, Any]] = [
        ("health_score", 31.45),
        ("scored_at", MOMENT),
        ("next_review_date", date(2025, 7, 14)),
        ("explanation", "é" * 40_000),
        ("plan_period", ""),
        ("focus_families", "Support, Training"),
    ]
    for key, value in samples:
        score = next(f for f in FIELDS if f.key == key)
        cases.append((score.column, TYPES.get(score.column, "varchar"), value))
    for index, (column, kind, value) in enumerate(cases):
        score = next(f for f in FIELDS if column in (f.column, f.key))
        shape = shape_of(score)
        expression = sql_normalised("v", shape)
        got = con.execute(f"select {expression} from (select ?::{kind} as v)", [value]).fetchall()
        expected = normalise(value, shape)
        assert got[0][0] == expected, (index, column, value, got[0][0], expected)
        if isinstance(expected, float):
            assert repr(got[0][0]) == repr(expected)


def test_only_changed_records_come_back_and_volatile_fields_do_not_count(
    con: duckdb.DuckDBPyConnection,
) -> None:
    target = target_map("salesforce", "sf", WritebackTarget())
    for n in range(5):
        _add(
            con,
            f"sf:00100000000000{n}AAA",
            health_score=50.0 + n,
            scored_at=datetime(2025, 1, 1, tzinfo=UTC),
        )
    first = desired_state(con, "sf", target)
    assert (first.total, len(first.changes)) == (5, 5)
    assert {c.action for c in first.changes} == {"create"}
    for change in first.changes[:4]:
        _confirm(con, change.record.external_id, change.record.payload_hash, change.record.values)

    con.execute("update kam.account_scores set scored_at = scored_at + interval 1 day").fetchall()
    con.execute(
        "update kam.account_scores set health_score = health_score + 0.000001 "
        "where account_key like '%1AAA'"
    ).fetchall()  # below the stored precision: not a change
    second = desired_state(con, "sf", target)

    assert [c.record.external_id for c in second.changes] == ["sf:001000000000004AAA"]
    assert second.scores_digest != first.scores_digest  # the scoring time is in the state
    assert second.ledger_digest != first.ledger_digest

    con.execute(
        "update kam.account_scores set health_score = health_score + 1 where account_key like '%2AAA'"
    ).fetchall()
    third = desired_state(con, "sf", target)
    changed = {c.record.external_id: c for c in third.changes}
    assert set(changed) == {"sf:001000000000002AAA", "sf:001000000000004AAA"}
    update = changed["sf:001000000000002AAA"]
    assert update.action == "update"
    assert update.previous is not None and update.previous.payload["KAM_Health_Score__c"] == 52.0
    assert update.record.values["KAM_Health_Score__c"] == 53.0


def test_a_record_confirmed_for_another_object_is_sent_again(
    con: duckdb.DuckDBPyConnection,
) -> None:
    _add(con, "sf:001000000000001AAA", health_score=1.0)
    target = target_map("salesforce", "sf", WritebackTarget())
    (change,) = desired_state(con, "sf", target).changes
    _confirm(con, change.record.external_id, change.record.payload_hash, change.record.values)

    renamed = target_map("salesforce", "sf", WritebackTarget(object="KAM_Score__c"))
    (again,) = desired_state(con, "sf", renamed).changes

    assert again.action == "create"
    assert again.record.payload_hash == change.record.payload_hash


def test_a_key_too_long_or_a_missing_account_is_a_clear_failure(
    con: duckdb.DuckDBPyConnection,
) -> None:
    target = target_map("salesforce", "sf", WritebackTarget())
    _add(con, "sf:" + "x" * 90)
    with pytest.raises(RunFailedError, match=r"does not fit KAM_Account_Score__c\.KAM_Ext_Id__c"):
        desired_state(con, "sf", target)

    con.execute("delete from kam.account_scores").fetchall()
    con.execute(
        "insert into kam.account_scores (account_key, source, source_id) values ('sf:1', 'sf', null)"
    ).fetchall()
    with pytest.raises(RunFailedError, match="sf:1 has no CRM account id"):
        desired_state(con, "sf", target)


def test_no_scores_yet(tmp_path: Path) -> None:
    connection = duckdb.connect(str(tmp_path / "empty.duckdb"))
    migrate(connection)
    with pytest.raises(RunFailedError, match="run `kamsync analyze` first"):
        desired_state(connection, "sf", target_map("salesforce", "sf", WritebackTarget()))
    connection.close()


def _confirm(con: duckdb.DuckDBPyConnection, ext: str, digest: str, values: Any) -> None:
    con.execute(
        "insert or replace into ops.writeback_ledger values "
        "('sf', ?, 'KAM_Account_Score__c', ?, null, ?, ?, current_timestamp, 'run')",
        [ext, ext, digest, json.dumps(dict(values))],
    ).fetchall()
