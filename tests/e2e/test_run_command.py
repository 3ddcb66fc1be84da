"""``kamsync run``: sync, analyze and write back in order; a failed step stops the rest and says
which (against the emulator's Salesforce org, through the real CLI entry point)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from connectors.emulator.emulator import Emulator
from sync.cli import main
from tests.integration.sync_support import salesforce_env, write_salesforce_config

WRITEBACK = """
[writeback.sources.sf]
enabled = true
"""


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(seed=41, accounts=300) as running:
        yield running


@pytest.fixture
def env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = salesforce_env(emulator)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def _scalar(db: Path, sql: str) -> object:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()[0][0]
    finally:
        con.close()


def test_run_syncs_analyzes_and_writes_back_in_order(
    emulator: Emulator,
    env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_salesforce_config(tmp_path, emulator, WRITEBACK)

    assert main(["--config", str(config), "run"]) == 0

    steps = [line.split(":")[0] for line in capsys.readouterr().out.splitlines()]
    assert steps == ["sync", "analyze", "writeback"]
    live = sum(1 for _ in emulator.world.salesforce.live("Account"))
    db = tmp_path / "kamsync.duckdb"
    assert _scalar(db, "select count(*) from crm.accounts") == live
    assert _scalar(db, "select count(*) from kam.account_scores") == live
    assert _scalar(db, "select count(*) from ops.writeback_ledger") == live
    assert sum(1 for _ in emulator.world.salesforce.live("KAM_Account_Score__c")) == live


def test_a_failed_sync_stops_the_run_and_says_what_was_not_run(
    emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in salesforce_env(emulator).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KAMSYNC_SF_CLIENT_SECRET", "not-the-secret")
    config = write_salesforce_config(tmp_path, emulator, WRITEBACK)

    assert main(["--config", str(config), "run"]) == 1

    err = capsys.readouterr().err
    assert "sync failed:" in err
    assert "not run: analyze, writeback" in err
    assert "not-the-secret" not in err
    db = tmp_path / "kamsync.duckdb"
    kam_tables = "select count(*) from duckdb_tables() where schema_name = 'kam'"
    assert _scalar(db, kam_tables) == 0
    assert emulator.write_log() == []


def test_a_failed_analyze_stops_the_run_before_writeback(
    emulator: Emulator,
    env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    targets = tmp_path / "targets.csv"
    targets.write_text(
        "entity_level,entity_key,period_grain,period_start,target\n"
        "account,sf:NOSUCHACCOUNT,quarter,2025-04-01,1000\n",
        encoding="utf-8",
    )
    config = write_salesforce_config(
        tmp_path, emulator, f'[analytics]\ntargets_csv = "{targets}"\n{WRITEBACK}'
    )

    assert main(["--config", str(config), "run"]) == 2  # a bad targets file is a config error

    captured = capsys.readouterr()
    assert captured.out.splitlines()[0].startswith("sync:")
    assert "analyze" not in captured.out and "writeback" not in captured.out
    assert "targets.csv" in captured.err and "line 2" in captured.err
    assert "sf:NOSUCHACCOUNT" in captured.err
    db = tmp_path / "kamsync.duckdb"
    live = sum(1 for _ in emulator.world.salesforce.live("Account"))
    assert _scalar(db, "select count(*) from crm.accounts") == live
    assert emulator.write_log() == []
