"""Salesforce sync against the emulator: exact results through full, incremental, faults,
kills, API budget stops and malformed answers (issue 4 acceptance)."""

from __future__ import annotations

import random
import signal
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from connectors.emulator.emulator import Emulator
from sync.cli import main
from tests.integration.sync_support import (
    SALESFORCE_OBJECTS,
    assert_raw_matches_store,
    crm_keys,
    kamsync,
    killed_at_request,
    load,
    no_duplicates,
    raw_rows,
    salesforce_env,
    snapshot,
    sync_in_process,
    write_salesforce_config,
)

ACCOUNTS = 600


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(seed=11, accounts=ACCOUNTS) as running:
        yield running


def _db(tmp_path: Path) -> Path:
    return tmp_path / "kamsync.duckdb"


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
    assert_raw_matches_store(_db(tmp_path), "sf", store)
    assert crm_keys(_db(tmp_path), "accounts", "account_key") == {
        f"sf:{r['Id']}" for r in store.live("Account")
    }

    summary = emulator.mutate(seed=5, updates=60, inserts=30, soft_deletes=8, hard_deletes=8)
    result = sync_in_process(config, env)

    assert result.ok
    assert_raw_matches_store(_db(tmp_path), "sf", store)
    no_duplicates(_db(tmp_path), "sf")
    shared = summary.shared_ids["salesforce"]  # several records stamped in one second
    assert len(shared) >= 2
    for table, record_id in shared:
        assert record_id in raw_rows(_db(tmp_path), "sf", table)
    landed = crm_keys(_db(tmp_path), "accounts", "account_key")
    gone = summary.table("salesforce", "Account")
    assert not {f"sf:{i}" for i in gone.soft_deleted + gone.hard_deleted} & landed
    assert {f"sf:{i}" for i in gone.inserted} <= landed

    quiet = sync_in_process(config, env)  # nothing changed since

    assert quiet.ok
    assert _object_calls(_db(tmp_path)) == dict.fromkeys(SALESFORCE_OBJECTS, (2, 0))


def test_bulk_extraction_gives_the_same_exact_result(emulator: Emulator, tmp_path: Path) -> None:
    env = salesforce_env(emulator)
    config = load(write_salesforce_config(tmp_path, emulator, "bulk_threshold = 200"), env)

    assert sync_in_process(config, env).ok
    emulator.mutate(seed=6, updates=250, inserts=30, soft_deletes=5, hard_deletes=5)
    assert sync_in_process(config, env).ok

    assert_raw_matches_store(_db(tmp_path), "sf", emulator.world.salesforce)
    con = duckdb.connect(str(_db(tmp_path)), read_only=True)
    methods = {
        r[0] for r in con.execute("select distinct method from ops.sync_run_objects").fetchall()
    }
    con.close()
    assert {"bulk", "rest"} <= methods


def test_faults_during_sync_change_nothing_in_the_result(
    emulator: Emulator, tmp_path: Path
) -> None:
    env = salesforce_env(emulator)
    config = load(
        write_salesforce_config(
            tmp_path, emulator, "batch_size = 200\nbulk_threshold = 1500\nmax_retries = 12"
        ),
        env,
    )
    emulator.set_faults(
        "429:0.05,503:0.05,500:0.02,reset:0.03,slow:0.02:10ms,expire_session_after:25", seed=3
    )

    assert sync_in_process(config, env).ok
    emulator.mutate(seed=7, updates=80, inserts=20)
    assert sync_in_process(config, env).ok

    emulator.set_faults(None)
    assert_raw_matches_store(_db(tmp_path), "sf", emulator.world.salesforce)
    no_duplicates(_db(tmp_path), "sf")


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

    child = killed_at_request(
        emulator, "salesforce", kill_at, lambda: kamsync(path, "sync", env=env)
    )
    assert child.returncode == -signal.SIGKILL

    rerun = kamsync(path, "sync", env=env)
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert_raw_matches_store(_db(tmp_path), "sf", emulator.world.salesforce)
    no_duplicates(_db(tmp_path), "sf")


def test_budget_stop_saves_state_and_the_next_run_continues(
    emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = salesforce_env(emulator)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
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
    assert_raw_matches_store(_db(tmp_path), "sf", emulator.world.salesforce)
    no_duplicates(_db(tmp_path), "sf")


@pytest.mark.parametrize("fault", ["malformed:1.0"])
def test_malformed_answers_fail_clearly_and_leave_the_warehouse_as_it_was(
    emulator: Emulator,
    tmp_path: Path,
    fault: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = salesforce_env(emulator)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    path = write_salesforce_config(tmp_path, emulator, "max_retries = 0")
    assert main(["--config", str(path), "sync"]) == 0
    before = snapshot(_db(tmp_path), "sf", SALESFORCE_OBJECTS)
    emulator.mutate(seed=9, updates=50)
    emulator.set_faults(fault)
    capsys.readouterr()

    assert main(["--config", str(path), "sync"]) == 1

    err = capsys.readouterr().err
    assert "sf: " in err and ("not valid JSON" in err or "malformed" in err.lower())
    assert snapshot(_db(tmp_path), "sf", SALESFORCE_OBJECTS) == before


def test_no_secret_reaches_logs_the_warehouse_or_errors(emulator: Emulator, tmp_path: Path) -> None:
    env = salesforce_env(emulator)
    path = write_salesforce_config(tmp_path, emulator, "max_retries = 1")
    emulator.set_faults("503:0.1,expire_session_after:10", seed=4)

    child = kamsync(path, "-vvv", "sync", env=env)
    out, err = child.communicate(timeout=300)
    emulator.set_faults(None)
    bad = kamsync(path, "sync", env={**env, "KAMSYNC_SF_CLIENT_SECRET": "wrong-secret-value-0000"})
    bad_out, bad_err = bad.communicate(timeout=60)

    secrets = [
        env["KAMSYNC_SF_CLIENT_SECRET"],
        "wrong-secret-value-0000",
        *emulator.salesforce.sessions.sessions,
    ]
    assert child.returncode == 0, err
    assert bad.returncode == 1 and "invalid_client" in bad_err
    assert len(secrets) > 3
    warehouse_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("*.duckdb*") if p.is_file())
    for secret in secrets:
        assert secret not in out + err + bad_out + bad_err
        assert secret.encode() not in warehouse_bytes


def test_records_changing_during_a_sync_are_caught_by_the_next_one(
    emulator: Emulator, tmp_path: Path
) -> None:
    env = salesforce_env(emulator)
    config = load(
        write_salesforce_config(tmp_path, emulator, "batch_size = 200\nbulk_threshold = 1500"), env
    )
    emulator.set_faults("churn:0.3", seed=8)
    store = emulator.world.salesforce
    before = store.seq

    assert sync_in_process(config, env).ok
    assert store.seq > before  # records did change while the sync was paging
    emulator.mutate(seed=12, updates=40)
    assert sync_in_process(config, env).ok  # still churning
    emulator.set_faults(None)
    assert sync_in_process(config, env).ok

    assert_raw_matches_store(_db(tmp_path), "sf", emulator.world.salesforce)
    no_duplicates(_db(tmp_path), "sf")
