"""Write-back into the emulated Dataverse org: msal and requests over TLS, UpsertMultiple, $batch."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from config.errors import StalePlanError, UnsafeWriteError
from connectors.emulator.dataverse_model import score_table_definition
from tests.integration.writeback.conftest import (
    DV_TABLE,
    Bench,
    LostAnswers,
    assert_a_rerun_writes_nothing,
    assert_applied_as_planned,
)
from writeback.crm import CrmTarget
from writeback.dataverse import DataverseTarget
from writeback.metadata import DV_PRIMARY_NAME, FIELDS
from writeback.payload import dataverse_shape, normalise
from writeback.plan import read_plan, write_plan

DESCRIBE_CALLS = 2  # table with columns and keys, then the lookup targets


def _scores(bench: Bench) -> dict[str, str]:
    return dict(
        bench.sql("select account_key, source_id from kam.account_scores where source = 'dv'")
    )


def _stored(record: dict[str, Any]) -> dict[str, Any]:
    return {
        f.dataverse.name: normalise(record.get(f.dataverse.name), dataverse_shape(f), from_crm=True)
        for f in FIELDS
    }


def test_first_run_creates_one_record_per_scored_account(bench: Bench) -> None:
    result = bench.run(source="dv")

    report = result.sources[0]
    scores = _scores(bench)
    records = bench.dv_records()
    assert (report.status, report.succeeded) == ("succeeded", len(scores))
    assert report.requests == {"upsert_multiple": math.ceil(len(scores) / 500)}
    assert report.api_calls == DESCRIBE_CALLS + math.ceil(len(scores) / 500)
    assert set(records) == set(scores)
    assert all(records[k]["kam_accountid"] == account for k, account in scores.items())
    assert {k: _stored(r) for k, r in records.items()} == bench.ledger_payloads("dv")
    log = bench.log(result.run_id)
    assert {(v["action"], v["status"], v["method"]) for v in log.values()} == {
        ("create", "success", "upsert_multiple")
    }


def test_second_run_with_nothing_changed_sends_no_write_request(bench: Bench) -> None:
    bench.run(source="dv")

    again = assert_a_rerun_writes_nothing(bench, "dv")

    assert again.sources[0].unchanged == len(_scores(bench))


def test_changed_accounts_go_in_upsert_multiple_chunks(bench: Bench) -> None:
    bench.extra = "[writeback]\ndataverse_chunk_size = 100\n"
    bench.run(source="dv")
    changed = bench.change_scores("dv", 150)
    writes = bench.writes()

    result = bench.run(source="dv")

    sent = bench.emulator.write_log("dynamics")[writes:]
    assert sorted(e.record_id or "" for e in sent) == sorted(
        bench.dv_records()[k]["kam_accountscoreid"] for k in changed
    )
    assert {(e.operation, e.ok) for e in sent} == {("update", True)}
    report = result.sources[0]
    assert report.requests == {"upsert_multiple": 2}
    assert report.api_calls == DESCRIBE_CALLS + 2
    assert sorted(bench.log(result.run_id)) == sorted(changed)


@pytest.mark.parametrize("mode", ["auto", "batch"])
def test_record_failures_are_logged_with_the_crm_message_and_retried(
    bench: Bench, mode: str
) -> None:
    bench.extra = (
        f"[writeback]\ndataverse_chunk_size = 100\n[writeback.sources.dv]\nmode = '{mode}'\n"
    )
    scores = _scores(bench)
    keys = sorted(scores)
    rejected, orphan = keys[5], keys[60]
    bench.emulator.dynamics.plant_failure(
        rejected,
        message="Scores of this account are frozen by a plug-in.",
        times=2 if mode == "auto" else 1,
    )
    bench.emulator.world.dynamics.delete("account", scores[orphan], hard=True)

    first = bench.run(source="dv")

    log = bench.log(first.run_id)
    assert log[rejected]["status"] == "failed"
    assert log[rejected]["error_code"] == "0x80040265"
    assert log[rejected]["error_message"] == "Scores of this account are frozen by a plug-in."
    assert log[orphan]["status"] == "failed"
    assert f"account With Id = {scores[orphan]} Does Not Exist" in log[orphan]["error_message"]
    assert {k for k, v in log.items() if v["status"] == "success"} == set(keys) - {rejected, orphan}
    assert set(bench.dv_records()) == set(keys) - {rejected, orphan}
    methods = {v["method"] for v in log.values()}
    assert methods == ({"batch", "upsert_multiple"} if mode == "auto" else {"batch"})
    assert log[rejected]["method"] == "batch"

    second = bench.run(source="dv")

    retried = bench.log(second.run_id)
    assert set(retried) == {rejected, orphan}
    assert (retried[rejected]["status"], retried[rejected]["action"]) == ("success", "create")
    assert retried[orphan]["status"] == "failed"


def _lose_answers(observers: list[LostAnswers]) -> Callable[[CrmTarget], None]:
    def watch(target: CrmTarget) -> None:
        assert isinstance(target, DataverseTarget)
        observers.append(LostAnswers(target.writer.access.session, ("POST",)))

    return watch


@pytest.mark.parametrize("mode", ["auto", "batch"])
def test_faults_during_a_push_neither_lose_nor_duplicate_records(bench: Bench, mode: str) -> None:
    bench.extra = (
        f"[writeback]\ndataverse_chunk_size = 100\n[writeback.sources.dv]\nmode = '{mode}'\n"
    )
    bench.emulator.set_faults("429:0.25,reset:0.2,expire_session_after:3", seed=4)
    observers: list[LostAnswers] = []
    results = bench.run_until_ok("dv", _lose_answers(observers))

    assert results[-1].ok
    statuses = [s for o in observers for s in o.statuses]
    assert 429 in statuses
    assert 401 in statuses
    assert observers[0].dropped == 1
    assert bench.emulator.dynamics.faults.retry_after in bench.sleeps
    store = list(bench.emulator.world.dynamics.live(DV_TABLE))
    assert sorted(r["kam_extid"] for r in store) == sorted(_scores(bench))
    assert {r["kam_extid"]: _stored(r) for r in store} == bench.ledger_payloads("dv")
    bench.emulator.set_faults(None)
    assert_a_rerun_writes_nothing(bench, "dv")


@pytest.mark.parametrize("read_all_above", [500, 5], ids=["by-external-id", "whole-table"])
def test_a_dry_run_plan_is_exactly_what_the_following_apply_does(
    bench: Bench, read_all_above: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("connectors.dynamics.writer.FULL_READ_AT", read_all_above)
    bench.run(source="dv")
    changed = bench.change_scores("dv", 12, offset=3)
    first = bench.dv_records()[changed[0]]
    bench.emulator.world.dynamics.update(DV_TABLE, first["kam_accountscoreid"], {"kam_tier": "key"})
    writes = bench.writes()
    plan_file = bench.directory / "plan.json"

    dry = bench.run(source="dv", dry_run=True)
    write_plan(plan_file, dry.plans)

    assert bench.writes() == writes
    (plan,) = read_plan(plan_file)
    assert (plan.counts["create"], plan.counts["update"]) == (0, 12)
    row = next(r for r in plan.rows if r.external_id == changed[0])
    assert row.changes()["kam_tier"]["before"] == "key"
    assert row.record_id == first["kam_accountscoreid"]

    applied = bench.run(source="dv", plan_file=plan_file)

    stored = {k: _stored(r) for k, r in bench.dv_records().items()}
    assert_applied_as_planned(bench, plan, applied.run_id, stored)
    with pytest.raises(StalePlanError):
        bench.run(source="dv", plan_file=plan_file)


def test_no_score_table_refuses_the_push(bare_bench: Bench) -> None:
    result = bare_bench.run(source="dv")

    assert result.sources[0].status == "refused"
    assert "kamsync metadata dynamics --apply" in (result.sources[0].error or "")
    assert bare_bench.writes() == 0
    with pytest.raises(UnsafeWriteError):
        result.raise_for_status()


def test_metadata_apply_creates_the_table_once_and_write_back_then_works(
    bare_bench: Bench,
) -> None:
    from writeback.dataverse import metadata_api
    from writeback.metadata import apply_dataverse

    source = bare_bench.config.source("dv")
    assert source.kind == "dynamics"
    with metadata_api(source, env=bare_bench.env) as api:
        created = apply_dataverse(api)
    with metadata_api(source, env=bare_bench.env) as api:
        again = apply_dataverse(api)

    assert created.existing == []
    assert created.created[0] == "table kam_accountscore"
    assert again.created == []
    assert len(again.existing) == len(created.created)
    metadata_writes = bare_bench.emulator.write_log("dynamics", "dataverse-metadata")
    assert len(metadata_writes) == len(created.created)
    assert all(e.ok for e in metadata_writes)
    table = bare_bench.emulator.world.dynamics.tables[DV_TABLE].definition
    expected = score_table_definition()
    made = {(f.name, f.type, f.length, f.reference_to) for f in table.fields if f.custom}
    seeded = {(f.name, f.type, f.length, f.reference_to) for f in expected.fields if f.custom}
    assert made == seeded
    assert DV_PRIMARY_NAME in {f.name for f in table.fields}

    result = bare_bench.run(source="dv")

    assert result.ok
    assert set(bare_bench.dv_records()) == set(_scores(bare_bench))
