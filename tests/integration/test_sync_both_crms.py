"""Sync behaviour that is the same for Salesforce and Dataverse, each test run against both
emulated orgs: faults, records changing mid-sync, malformed answers and secrets.

Expected values always come from the emulator's live store, never from the code under test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.emulator.emulator import Emulator
from sync.cli import main
from tests.integration.sync_support import (
    BOTH_CRMS,
    Crm,
    kamsync,
    load,
    set_env,
    snapshot,
    sync_in_process,
    warehouse_file,
)

FAULTS = "429:0.05,503:0.05,500:0.02,reset:0.03,slow:0.02:10ms,expire_session_after:25"
WRONG_SECRET = "wrong-secret-value-0000"


@pytest.fixture(params=BOTH_CRMS)
def crm(request: pytest.FixtureRequest) -> Crm:
    assert isinstance(request.param, Crm)
    return request.param


@pytest.fixture
def emulator(crm: Crm) -> Iterator[Emulator]:
    with crm.emulator() as running:
        yield running


def test_faults_during_sync_change_nothing_in_the_result(
    crm: Crm, emulator: Emulator, tmp_path: Path
) -> None:
    env = crm.env(emulator)
    config = load(crm.write_config(tmp_path, emulator, f"{crm.small_pages}\nmax_retries = 12"), env)
    emulator.set_faults(FAULTS, seed=3)

    assert sync_in_process(config, env).ok
    emulator.mutate(seed=7, updates=80, inserts=20, hard_deletes=10)
    assert sync_in_process(config, env).ok

    emulator.set_faults(None)
    crm.assert_synced_exactly(warehouse_file(tmp_path), crm.store(emulator))


def test_records_changing_during_a_sync_are_caught_by_the_next_one(
    crm: Crm, emulator: Emulator, tmp_path: Path
) -> None:
    env = crm.env(emulator)
    config = load(crm.write_config(tmp_path, emulator, crm.small_pages), env)
    emulator.set_faults("churn:0.3", seed=8)
    store = crm.store(emulator)
    before = store.seq

    assert sync_in_process(config, env).ok
    assert store.seq > before  # records did change while the sync was paging
    emulator.mutate(seed=12, updates=40)
    assert sync_in_process(config, env).ok  # still churning
    emulator.set_faults(None)
    assert sync_in_process(config, env).ok

    crm.assert_synced_exactly(warehouse_file(tmp_path), store)


def test_malformed_answers_fail_clearly_and_leave_the_warehouse_as_it_was(
    crm: Crm,
    emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    set_env(monkeypatch, crm.env(emulator))
    path = crm.write_config(tmp_path, emulator, "max_retries = 0")
    assert main(["--config", str(path), "sync"]) == 0
    before = snapshot(warehouse_file(tmp_path), crm.source, crm.tables)
    emulator.mutate(seed=9, updates=50)
    emulator.set_faults("malformed:1.0")
    capsys.readouterr()

    assert main(["--config", str(path), "sync"]) == 1

    # the source is named once, in front of what went wrong
    assert f"  {crm.malformed}" in capsys.readouterr().err.splitlines()
    assert snapshot(warehouse_file(tmp_path), crm.source, crm.tables) == before


def test_no_secret_reaches_logs_the_warehouse_or_errors(
    crm: Crm, emulator: Emulator, tmp_path: Path
) -> None:
    env = crm.env(emulator)
    path = crm.write_config(tmp_path, emulator, "max_retries = 3")
    emulator.set_faults("503:0.1,expire_session_after:10", seed=4)

    child = kamsync(path, "-vvv", "sync", env=env)
    out, err = child.communicate(timeout=300)
    emulator.set_faults(None)
    bad = kamsync(path, "sync", env={**env, crm.secret_env: WRONG_SECRET})
    bad_out, bad_err = bad.communicate(timeout=60)

    tokens = crm.issued_tokens(emulator)
    assert child.returncode == 0, err
    assert bad.returncode == 1 and crm.login_refused in bad_err
    assert len(tokens) >= 2  # the expired ones were renewed
    warehouse_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("*.duckdb*") if p.is_file())
    for secret in [env[crm.secret_env], WRONG_SECRET, *tokens]:
        assert secret not in out + err + bad_out + bad_err
        assert secret.encode() not in warehouse_bytes


def test_an_untrusted_certificate_fails_at_once_naming_host_and_ca_bundle(
    crm: Crm,
    emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    set_env(monkeypatch, crm.env(emulator))
    path = crm.write_config(tmp_path, emulator, "max_retries = 5")
    # the same source without the emulator's CA: the system trust store does not know it
    text = path.read_text(encoding="utf-8")
    path.write_text(
        "\n".join(line for line in text.splitlines() if not line.startswith("ca_bundle")),
        encoding="utf-8",
    )

    assert main(["--config", str(path), "-v", "sync"]) == 1  # -v: retries are logged

    err = capsys.readouterr().err
    lines = err.splitlines()
    [failed] = [line for line in lines if line.startswith(f"  {crm.source}: ")]
    assert failed.startswith(f"  {crm.source}: the TLS certificate of https://127.0.0.1:")
    assert failed.endswith("name its PEM file in the source's ca_bundle")
    assert "retry" not in err  # a certificate that failed verification is not retried
