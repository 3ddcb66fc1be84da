"""Dynamics 365 / Dataverse sync against the emulator: exact results through full, incremental,
kills, an expired change-tracking token, tables without change tracking, and one warehouse
holding both CRMs (issue 5 acceptance; faults, records changing mid-sync, malformed answers and
secrets are checked for both CRMs in test_sync_both_crms).

Expected values always come from the emulator's live store, never from the code under test.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import cast

import duckdb
import pytest

from config.model import DynamicsSource
from connectors.dynamics import DynamicsConnector
from connectors.emulator.dataverse_auth import create_client_certificate
from connectors.emulator.emulator import Emulator
from connectors.emulator.world import World, generate_world
from sync.engine import SyncEngine
from sync.warehouse import Warehouse
from tests.crm_keys import CRM_KEYS
from tests.integration.emulator.dataverse_fixtures import start_org
from tests.integration.sync_support import (
    DYNAMICS,
    DYNAMICS_TABLES,
    assert_dataverse_matches_store,
    assert_killed_sync_resumes_exactly,
    assert_raw_matches_store,
    crm_keys,
    dataverse_no_duplicates,
    dynamics_env,
    load,
    salesforce_env,
    sync_in_process,
    warehouse_file,
    write_dynamics_config,
)

EXPIRED_LOG = (
    "dv: change tracking token expired; reading account in full (deletions are reconciled)"
)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with DYNAMICS.emulator() as running:
        yield running


def _last_run_objects(db: Path) -> dict[str, tuple[int, int, str]]:
    """object -> (api calls, rows upserted, methods) of the latest sync run."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "select object, api_calls, rows_upserted, method from ops.sync_run_objects "
            "where run_id = (select max(run_id) from ops.sync_runs where job = 'sync')"
        ).fetchall()
    finally:
        con.close()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def _live_keys(emulator: Emulator, table: str, prefix: str = "dv") -> set[str]:
    store = emulator.world.dynamics
    key = store.tables[table].definition.key
    return {f"{prefix}:{r[key]}" for r in store.live(table)}


def test_full_then_incremental_sync_equals_the_live_org(emulator: Emulator, tmp_path: Path) -> None:
    env = dynamics_env(emulator)
    config = load(write_dynamics_config(tmp_path, emulator, "page_size = 250"), env)
    store = emulator.world.dynamics

    first = sync_in_process(config, env)

    assert first.ok, first.sources[0].error
    assert_dataverse_matches_store(warehouse_file(tmp_path), "dv", store)
    assert crm_keys(warehouse_file(tmp_path), "accounts", "account_key") == _live_keys(
        emulator, "account"
    )
    assert crm_keys(warehouse_file(tmp_path), "contacts", "contact_key") == _live_keys(
        emulator, "contact"
    )
    activities = set().union(
        *(_live_keys(emulator, t) for t in ("phonecall", "appointment", "email", "task"))
    )
    assert crm_keys(warehouse_file(tmp_path), "activities", "activity_key") == activities
    con = duckdb.connect(str(warehouse_file(tmp_path)), read_only=True)
    [(calls, budget, detail)] = con.execute(
        "select calls_made, budget_percent, detail from ops.api_usage"
    ).fetchall()
    con.close()
    assert calls == first.api_calls > 0
    assert budget is None  # Dataverse has no daily budget to keep within
    # the emulator's service protection headers of the last answer
    assert detail.startswith("x-ms-ratelimit-burst-remaining-xrm-requests=")
    assert "x-ms-ratelimit-time-remaining-xrm-requests=" in detail

    summary = emulator.mutate(seed=5, updates=60, inserts=30, soft_deletes=8, hard_deletes=8)
    second = sync_in_process(config, env)

    assert second.ok, second.sources[0].error
    assert_dataverse_matches_store(warehouse_file(tmp_path), "dv", store)
    dataverse_no_duplicates(warehouse_file(tmp_path), "dv", store)
    assert {m for _, _, m in _last_run_objects(warehouse_file(tmp_path)).values()} == {"delta"}
    deleted = {
        f"dv:{i}"
        for table in DYNAMICS_TABLES
        for i in summary.table("dynamics", table).hard_deleted
        + summary.table("dynamics", table).soft_deleted
    }
    inserted = {f"dv:{i}" for i in summary.table("dynamics", "account").inserted}
    assert deleted and inserted  # the mutation did delete and create records
    landed = set().union(*(crm_keys(warehouse_file(tmp_path), t, k) for t, k in CRM_KEYS.items()))
    assert not deleted & landed
    assert inserted <= landed
    assert crm_keys(warehouse_file(tmp_path), "accounts", "account_key") == _live_keys(
        emulator, "account"
    )

    quiet = sync_in_process(config, env)  # nothing changed since: one delta request per table

    assert quiet.ok
    assert {
        o: (c, r) for o, (c, r, _) in _last_run_objects(warehouse_file(tmp_path)).items()
    } == dict.fromkeys(DYNAMICS_TABLES, (1, 0))


@pytest.mark.parametrize(("seed", "incremental"), [(1, False), (2, True), (3, True)])
def test_sync_killed_at_random_pages_resumes_exactly(
    emulator: Emulator, tmp_path: Path, seed: int, incremental: bool
) -> None:
    env = dynamics_env(emulator)
    path = write_dynamics_config(tmp_path, emulator, "page_size = 150")
    if incremental:
        assert sync_in_process(load(path, env), env).ok
        emulator.mutate(seed=seed, updates=300, inserts=200, soft_deletes=20, hard_deletes=20)
    # a full run makes 39 requests, the incremental one 13: kill it at one of them
    kill_at = random.Random(seed).randint(3, 12 if incremental else 38)

    assert_killed_sync_resumes_exactly(emulator, DYNAMICS, path, env, kill_at)


def test_an_expired_delta_token_recovers_by_itself_exactly(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = dynamics_env(emulator)
    config = load(write_dynamics_config(tmp_path, emulator, "page_size = 400"), env)
    store = emulator.world.dynamics
    assert sync_in_process(config, env).ok
    # 91 days later the emulator (like Dataverse) no longer knows the delta tokens
    emulator.mutate(
        seed=4, advance=timedelta(days=91), updates=50, inserts=20, soft_deletes=6, hard_deletes=6
    )

    with caplog.at_level(logging.WARNING, logger="connectors.dynamics.connector"):
        result = sync_in_process(config, env)

    assert result.ok, result.sources[0].error
    assert EXPIRED_LOG in caplog.text
    assert caplog.text.count("change tracking token expired") == len(DYNAMICS_TABLES)
    assert {m for _, _, m in _last_run_objects(warehouse_file(tmp_path)).values()} == {"track"}
    assert_dataverse_matches_store(warehouse_file(tmp_path), "dv", store)
    dataverse_no_duplicates(warehouse_file(tmp_path), "dv", store)
    assert crm_keys(warehouse_file(tmp_path), "accounts", "account_key") == _live_keys(
        emulator, "account"
    )

    caplog.clear()
    emulator.mutate(seed=8, updates=20, hard_deletes=3)
    assert sync_in_process(config, env).ok  # and the fresh token works again
    assert "change tracking token expired" not in caplog.text
    assert {m for _, _, m in _last_run_objects(warehouse_file(tmp_path)).values()} == {"delta"}
    assert_dataverse_matches_store(warehouse_file(tmp_path), "dv", store)


def test_a_token_expiring_while_a_sync_is_paused_drops_the_stale_pages(
    emulator: Emulator, tmp_path: Path
) -> None:
    env = dynamics_env(emulator)
    config = load(
        write_dynamics_config(tmp_path, emulator, 'page_size = 2\ntables = ["account"]'), env
    )
    store = emulator.world.dynamics
    assert sync_in_process(config, env).ok
    changed = sorted(store.tables["account"].rows)[:3]
    for record_id in changed:
        store.update("account", record_id, {"name": "Renamed"})
    asked = iter([False, True])  # go on with the source, stop after its first page
    with Warehouse(config.warehouse).session(job="sync") as con:
        stopped = SyncEngine(
            config,
            con,
            connector_factory=lambda s: DynamicsConnector(
                cast(DynamicsSource, s), env=env, sleep=lambda _s: None
            ),
            should_stop=lambda: next(asked),  # after the first delta page (changed[0], [1])
        ).run()
    assert stopped.sources[0].status == "stopped"
    store.delete("account", changed[0], hard=True)
    store.advance(timedelta(days=91))  # the paused delta's token is gone

    assert sync_in_process(config, env).ok

    assert_dataverse_matches_store(warehouse_file(tmp_path), "dv", store, ("account",))
    assert f"dv:{changed[0]}" not in crm_keys(warehouse_file(tmp_path), "accounts", "account_key")


def test_tables_without_change_tracking_are_read_by_modifiedon(
    emulator: Emulator, tmp_path: Path
) -> None:
    store = emulator.world.dynamics
    for name in ("product", "task", "opportunityproduct"):
        table = store.tables[name]
        table.definition = replace(table.definition, change_tracking=False)
    env = dynamics_env(emulator)
    config = load(write_dynamics_config(tmp_path, emulator, "page_size = 200"), env)

    assert sync_in_process(config, env).ok
    assert_dataverse_matches_store(warehouse_file(tmp_path), "dv", store)
    emulator.mutate(seed=21, updates=120, inserts=40, soft_deletes=10, hard_deletes=10)
    assert sync_in_process(config, env).ok

    assert_dataverse_matches_store(warehouse_file(tmp_path), "dv", store)
    dataverse_no_duplicates(warehouse_file(tmp_path), "dv", store)
    methods = {o: m for o, (_, _, m) in _last_run_objects(warehouse_file(tmp_path)).items()}
    assert methods["task"] == methods["product"] == "modifiedon"  # then the ids pass
    assert methods["account"] == "delta"
    con = duckdb.connect(str(warehouse_file(tmp_path)), read_only=True)
    cursors = dict(
        con.execute(
            "select object, cursor::varchar from ops.sync_state where source = 'dv'"
        ).fetchall()
    )
    con.close()
    assert '"since"' in cursors["task"] and "delta_link" in cursors["account"]


def test_one_warehouse_holds_both_crms_with_keys_that_never_collide(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = {**dynamics_env(emulator), **salesforce_env(emulator)}
    config = load(write_dynamics_config(tmp_path, emulator, with_salesforce=True), env)

    with caplog.at_level(logging.WARNING, logger="sync.unified"):
        result = sync_in_process(config, env)

    assert result.ok, [s.error for s in result.sources]
    # crm is rebuilt after each source's merge, but the planted parent cycle is reported once
    cycle_warnings = [r.getMessage() for r in caplog.records if "parent cycle" in r.getMessage()]
    assert len(cycle_warnings) == 1
    assert isinstance(emulator.world, World)
    planted = emulator.world.truth.parent_cycle
    assert all(f"'sf:{key.split(':', 1)[1]}'" in cycle_warnings[0] for key in planted)
    assert_raw_matches_store(warehouse_file(tmp_path), "sf", emulator.world.salesforce)
    assert_dataverse_matches_store(warehouse_file(tmp_path), "dv", emulator.world.dynamics)
    sf_accounts = {f"sf:{r['Id']}" for r in emulator.world.salesforce.live("Account")}
    dv_accounts = _live_keys(emulator, "account")
    assert (
        crm_keys(warehouse_file(tmp_path), "accounts", "account_key") == sf_accounts | dv_accounts
    )
    assert not sf_accounts & dv_accounts
    con = duckdb.connect(str(warehouse_file(tmp_path)), read_only=True)
    try:
        total, distinct = con.execute(
            "select count(*), count(distinct account_key) from crm.accounts"
        ).fetchall()[0]
        shared = con.execute(
            "select count(*) from (select global_match_key from crm.accounts "
            "where global_match_key is not null group by 1 "
            "having count(distinct source) = 2)"
        ).fetchall()[0][0]
        for table, key in (("contacts", "contact_key"), ("activities", "activity_key")):
            rows, keys = con.execute(
                f"select count(*), count(distinct {key}) from crm.{table}"
            ).fetchall()[0]
            assert rows == keys, table
    finally:
        con.close()
    assert total == distinct == len(sf_accounts) + len(dv_accounts)
    # global groups span both orgs: their accounts stay separate rows sharing the match key
    expected_shared = {r["new_globalmatchkey"] for r in emulator.world.dynamics.live("account")} & {
        r["Global_DUNS__c"] for r in emulator.world.salesforce.live("Account")
    } - {None}
    assert shared == len(expected_shared) > 0


def test_certificate_credentials_sync_exactly(tmp_path: Path) -> None:
    certificate = create_client_certificate("kamsync-sync-test")
    world = generate_world(5, 150)
    org = start_org(tmp_path / "org", store=world.dynamics, certificate=certificate.certificate_pem)
    try:
        pem = tmp_path / "kamsync-app.pem"
        pem.write_text(certificate.private_key_pem + certificate.certificate_pem, encoding="utf-8")
        path = tmp_path / "kamsync.toml"
        path.write_text(
            f"""
[warehouse]
path = "kamsync.duckdb"
[[sources]]
name = "dv"
kind = "dynamics"
url = "{org.url}"
authority = "{org.authority}"
client_id_env = "KAMSYNC_DV_CLIENT_ID"
certificate_file = "{pem.name}"
certificate_thumbprint = "{certificate.sha1_thumbprint}"
ca_bundle = "{org.tls.ca_file}"
""",
            encoding="utf-8",
        )
        env = {"KAMSYNC_DV_CLIENT_ID": org.credentials.client_id}

        result = sync_in_process(load(path, env), env)

        assert result.ok, result.sources[0].error
        assert_dataverse_matches_store(warehouse_file(tmp_path), "dv", world.dynamics)
    finally:
        org.server.stop()
