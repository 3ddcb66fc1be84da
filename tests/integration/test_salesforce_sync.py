"""Salesforce sync against the emulator: exact results through full, incremental, Bulk
extraction, kills and API budget stops (issue 4 acceptance; faults, records changing mid-sync,
malformed answers and secrets are checked for both CRMs in test_sync_both_crms)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from connectors.emulator.emulator import Emulator
from sync.cli import main
from tests.integration.sync_support import (
    SALESFORCE,
    SALESFORCE_OBJECTS,
    assert_killed_sync_resumes_exactly,
    assert_raw_matches_store,
    crm_keys,
    load,
    no_duplicates,
    raw_rows,
    salesforce_env,
    set_env,
    sync_in_process,
    warehouse_file,
    write_salesforce_config,
)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with SALESFORCE.emulator() as running:
        yield running


def _object_calls(db: Path) -> dict[str, tuple[int, int]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "select object, api_calls, rows_upserted from ops.sync_run_objects "
            "where run_id = (select max(run_id) from ops.sync_runs where job = 'sync')"
        ).fetchall()
    finally:
        con.close()
    return {r[0]: (r[1], r[2]) for r in rows}


def test_full_then_incremental_sync_equals_the_live_org(emulator: Emulator, tmp_path: Path) -> None:
    env = salesforce_env(emulator)
    config = load(write_salesforce_config(tmp_path, emulator, "batch_size = 500"), env)
    store = emulator.world.salesforce

    assert sync_in_process(config, env).ok
    assert_raw_matches_store(warehouse_file(tmp_path), "sf", store)
    assert crm_keys(warehouse_file(tmp_path), "accounts", "account_key") == {
        f"sf:{r['Id']}" for r in store.live("Account")
    }

    summary = emulator.mutate(seed=5, updates=60, inserts=30, soft_deletes=8, hard_deletes=8)
    result = sync_in_process(config, env)

    assert result.ok
    assert_raw_matches_store(warehouse_file(tmp_path), "sf", store)
    no_duplicates(warehouse_file(tmp_path), "sf")
    shared = summary.shared_ids["salesforce"]  # several records stamped in one second
    assert len(shared) >= 2
    for table, record_id in shared:
        assert record_id in raw_rows(warehouse_file(tmp_path), "sf", table)
    landed = crm_keys(warehouse_file(tmp_path), "accounts", "account_key")
    gone = summary.table("salesforce", "Account")
    assert not {f"sf:{i}" for i in gone.soft_deleted + gone.hard_deleted} & landed
    assert {f"sf:{i}" for i in gone.inserted} <= landed

    quiet = sync_in_process(config, env)  # nothing changed since

    assert quiet.ok
    assert _object_calls(warehouse_file(tmp_path)) == dict.fromkeys(SALESFORCE_OBJECTS, (2, 0))


def test_bulk_extraction_gives_the_same_exact_result(emulator: Emulator, tmp_path: Path) -> None:
    env = salesforce_env(emulator)
    config = load(write_salesforce_config(tmp_path, emulator, "bulk_threshold = 200"), env)

    assert sync_in_process(config, env).ok
    emulator.mutate(seed=6, updates=250, inserts=30, soft_deletes=5, hard_deletes=5)
    assert sync_in_process(config, env).ok

    assert_raw_matches_store(warehouse_file(tmp_path), "sf", emulator.world.salesforce)
    con = duckdb.connect(str(warehouse_file(tmp_path)), read_only=True)
    methods = {
        r[0] for r in con.execute("select distinct method from ops.sync_run_objects").fetchall()
    }
    con.close()
    assert {"bulk", "rest"} <= methods


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sync_killed_at_random_points_resumes_exactly(
    emulator: Emulator, tmp_path: Path, seed: int
) -> None:
    env = salesforce_env(emulator)
    path = write_salesforce_config(tmp_path, emulator, "batch_size = 200\nbulk_threshold = 2500")
    assert sync_in_process(load(path, env), env).ok  # a committed state to kill incrementals from
    emulator.mutate(seed=seed, updates=120, inserts=40, soft_deletes=6, hard_deletes=6)
    # the incremental run makes 19 requests: kill it at one of them (the assert below checks)
    kill_at = random.Random(seed).randint(3, 18)

    assert_killed_sync_resumes_exactly(emulator, SALESFORCE, path, env, kill_at)


def test_budget_stop_saves_state_and_the_next_run_continues(
    emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    set_env(monkeypatch, salesforce_env(emulator))
    path = write_salesforce_config(tmp_path, emulator, "batch_size = 200\napi_budget_percent = 50")
    emulator.set_faults("limit_after:60")

    assert main(["--config", str(path), "sync"]) == 1

    err = capsys.readouterr().err
    assert (
        "stopped before passing the API budget: the org has used 30 of its 60 daily API requests (50.0%; budget 50%)"
        in err
    )
    assert "the next run continues where this one stopped" in err
    assert emulator.salesforce.usage.used == 30
    emulator.set_faults("limit_after:100000")
    emulator.salesforce.reset_usage()

    assert main(["--config", str(path), "sync"]) == 0
    assert_raw_matches_store(warehouse_file(tmp_path), "sf", emulator.world.salesforce)
    no_duplicates(warehouse_file(tmp_path), "sf")
