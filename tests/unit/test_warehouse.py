"""Warehouse: versioned migrations, comments everywhere, and the published copy analysts open."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from config.errors import SchemaVersionError
from config.model import WarehouseConfig
from sync.warehouse import LATEST_VERSION, Warehouse, migrate, migrations, schema_version


def _warehouse(tmp_path: Path) -> Warehouse:
    return Warehouse(WarehouseConfig(path=tmp_path / "kamsync.duckdb"))


def test_new_file_gets_every_schema_and_ops_table(tmp_path: Path) -> None:
    with _warehouse(tmp_path).session() as con:
        schemas = {r[0] for r in con.execute("select schema_name from duckdb_schemas()").fetchall()}
        ops = {
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'ops'"
            ).fetchall()
        }
    assert {"crm", "kam", "ops"} <= schemas
    assert {"sync_runs", "sync_state", "api_usage", "writeback_ledger", "writeback_log"} <= ops


def test_every_table_and_column_has_a_comment(tmp_path: Path) -> None:
    with _warehouse(tmp_path).session() as con:
        tables = con.execute(
            "select schema_name || '.' || table_name from duckdb_tables() "
            "where schema_name in ('ops', 'crm') and (comment is null or comment = '')"
        ).fetchall()
        columns = con.execute(
            "select schema_name || '.' || table_name || '.' || column_name from duckdb_columns() "
            "where schema_name in ('ops', 'crm') and (comment is null or comment = '')"
        ).fetchall()
    assert tables == []
    assert columns == []


def test_file_at_version_1_is_migrated_on_open(tmp_path: Path) -> None:
    assert LATEST_VERSION >= 2
    warehouse = _warehouse(tmp_path)
    con = duckdb.connect(str(warehouse.work_path))
    assert migrate(con, target=1) == [1]
    con.execute(
        "insert into ops.sync_state (source, object, updated_at) values ('s', 'Account', now())"
    )
    con.close()

    with warehouse.session() as con:
        assert schema_version(con) == LATEST_VERSION
        kept = con.execute("select source, object from ops.sync_state").fetchall()
        crm = con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'crm'"
        ).fetchall()[0][0]
    assert kept == [("s", "Account")]
    assert crm >= 7


def test_file_from_a_newer_kamsync_is_refused(tmp_path: Path) -> None:
    warehouse = _warehouse(tmp_path)
    with warehouse.session():
        pass
    con = duckdb.connect(str(warehouse.work_path))
    con.execute(
        "insert into ops.schema_migrations (version, name, kamsync_version) values (?, 'future', '99.0')",
        [LATEST_VERSION + 1],
    )
    con.close()

    with pytest.raises(SchemaVersionError, match=r"written by a newer kamsync"):
        warehouse.connect()


def test_migrations_are_numbered_without_gaps() -> None:
    versions = [m.version for m in migrations()]
    assert versions == list(range(1, len(versions) + 1))


def test_reader_holding_published_file_keeps_its_view_and_sees_new_data_on_reconnect(
    tmp_path: Path,
) -> None:
    warehouse = _warehouse(tmp_path)
    with warehouse.session() as con:
        con.execute("create table kam.t (v integer)")
        con.execute("insert into kam.t values (1)")
    reader = duckdb.connect(str(warehouse.path), read_only=True)

    with warehouse.session() as con:  # a job runs while the reader holds the file open
        con.execute("insert into kam.t values (2)")

    assert reader.execute("select sum(v) from kam.t").fetchall() == [(1,)]
    reader.close()
    fresh = warehouse.read_published()
    assert fresh.execute("select sum(v) from kam.t").fetchall() == [(3,)]
    fresh.close()


def test_a_session_with_a_high_checkpoint_threshold_still_publishes_every_commit(
    tmp_path: Path,
) -> None:
    warehouse = _warehouse(tmp_path)
    with warehouse.session(checkpoint_threshold="1GB") as con:
        setting = con.execute("select current_setting('checkpoint_threshold')").fetchall()
        con.execute("create table kam.t (v integer)")
        con.execute("insert into kam.t select * from range(1000)")
        wal = warehouse.work_path.with_name(warehouse.work_path.name + ".wal")
        assert wal.exists() and wal.stat().st_size > 0  # the commits wait in the log

    assert setting == [("953.6 MiB",)]
    reader = warehouse.read_published()  # the copy is made after the closing checkpoint
    assert reader.execute("select count(*), sum(v) from kam.t").fetchall() == [(1000, 499500)]
    reader.close()


def test_failed_job_publishes_nothing_it_did_not_commit(tmp_path: Path) -> None:
    warehouse = _warehouse(tmp_path)
    with warehouse.session() as con:
        con.execute("create table kam.t (v integer)")
    with pytest.raises(RuntimeError), warehouse.session() as con:
        con.begin()
        con.execute("insert into kam.t values (1)")
        raise RuntimeError("step failed")

    reader = warehouse.read_published()
    assert reader.execute("select count(*) from kam.t").fetchall() == [(0,)]
    reader.close()


def test_second_job_waits_then_names_the_holder(tmp_path: Path) -> None:
    from config.errors import WarehouseBusyError

    patient = Warehouse(WarehouseConfig(path=tmp_path / "kamsync.duckdb", lock_wait_seconds=0))
    with (
        patient.locked("sync"),
        pytest.raises(WarehouseBusyError) as caught,
        patient.session(job="analyze"),
    ):
        pass
    message = str(caught.value)
    assert "is busy: kamsync sync (pid " in message
    assert "Waited 0s" in message
    with patient.session(job="analyze"):  # free again once the holder is done
        pass
