"""Write-back into the emulated Salesforce org: simple-salesforce over TLS, real Collections/Bulk."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest

from config.errors import RunFailedError, StalePlanError, UnsafeWriteError
from connectors.emulator.sfschema import SCORE_OBJECT
from connectors.emulator.store import TableDef
from tests.integration.writeback.conftest import (
    SF_OBJECT,
    Bench,
    LostAnswers,
    assert_a_rerun_writes_nothing,
    assert_applied_as_planned,
)
from writeback.crm import CrmTarget, SalesforceTarget
from writeback.metadata import FIELDS
from writeback.payload import normalise
from writeback.plan import read_plan, write_plan


def _scores(bench: Bench) -> dict[str, str]:
    return dict(
        bench.sql("select account_key, source_id from kam.account_scores where source = 'sf'")
    )


def _stored(record: dict[str, Any]) -> dict[str, Any]:
    """A stored score record, each field normalised the way kamsync compares them."""
    from writeback.payload import salesforce_shape

    return {
        f.salesforce.name: normalise(
            record.get(f.salesforce.name), salesforce_shape(f), from_crm=True
        )
        for f in FIELDS
    }


def _api_requests(bench: Bench) -> int:
    return bench.emulator.salesforce.usage.used


def test_first_run_creates_one_record_per_scored_account(bench: Bench) -> None:
    result = bench.run(source="sf")

    report = result.sources[0]
    scores = _scores(bench)
    records = bench.sf_records()
    assert (report.status, report.creates, report.succeeded) == (
        "succeeded",
        len(scores),
        len(scores),
    )
    assert report.requests == {"collections": math.ceil(len(scores) / 200)}
    assert set(records) == set(scores)
    assert all(records[key]["KAM_Account__c"] == account for key, account in scores.items())
    ledger = bench.ledger_payloads("sf")
    assert {key: _stored(records[key]) for key in records} == ledger
    log = bench.log(result.run_id)
    assert {(v["action"], v["status"], v["method"]) for v in log.values()} == {
        ("create", "success", "collections")
    }
    assert len(log) == len(scores)


def test_second_run_with_nothing_changed_sends_no_write_request(bench: Bench) -> None:
    bench.run(source="sf")
    requests_before = _api_requests(bench)

    again = assert_a_rerun_writes_nothing(bench, "sf")

    assert _api_requests(bench) == requests_before  # not even a describe
    assert again.sources[0].unchanged == len(_scores(bench))


def test_changed_accounts_go_in_ceil_n_over_200_collections_calls(bench: Bench) -> None:
    bench.run(source="sf")
    changed = bench.change_scores("sf", 150, offset=10) + bench.change_scores("sf", 1, offset=190)
    writes, requests_before = bench.writes(), _api_requests(bench)

    result = bench.run(source="sf")

    sent = bench.emulator.write_log("salesforce")[writes:]
    assert sorted(bench.sf_records()[k]["KAM_Ext_Id__c"] for k in changed) == sorted(changed)
    assert len(sent) == len(changed)
    assert {e.api for e in sent} == {"composite"}
    assert _api_requests(bench) - requests_before == 1 + math.ceil(len(changed) / 200)
    assert set(bench.log(result.run_id)) == set(changed)
    for key in changed:
        assert bench.sf_records()[key]["KAM_Health_Score__c"] == pytest.approx(
            json.loads(bench.log(result.run_id)[key]["after"])["KAM_Health_Score__c"]
        )


def test_more_than_the_threshold_go_in_one_bulk_job(bench: Bench) -> None:
    bench.extra = "[writeback]\nbulk_threshold = 100\n"
    bench.run(source="sf")  # 200 records: above the threshold already
    jobs_after_first = len(bench.emulator.salesforce.bulk.ingest_jobs)
    changed = bench.change_scores("sf", 120)
    writes = bench.writes()

    result = bench.run(source="sf")

    jobs = bench.emulator.salesforce.bulk.ingest_jobs
    assert jobs_after_first == 1
    assert len(jobs) == 2
    sent = bench.emulator.write_log("salesforce")[writes:]
    assert len(sent) == 120
    assert {e.api for e in sent} == {"bulk2"}
    assert result.sources[0].requests == {"bulk": 1}
    assert {v["method"] for v in bench.log(result.run_id).values()} == {"bulk"}
    assert len(bench.sf_records()) == len(_scores(bench))
    assert sorted(bench.log(result.run_id)) == sorted(changed)
    assert {v["action"] for v in bench.log(result.run_id).values()} == {"update"}


@pytest.mark.parametrize("threshold", [5000, 10], ids=["collections", "bulk"])
def test_record_failures_are_logged_with_the_crm_message_and_retried(
    bench: Bench, threshold: int
) -> None:
    bench.extra = f"[writeback]\nbulk_threshold = {threshold}\n"
    scores = _scores(bench)
    keys = sorted(scores)
    rejected, orphan = keys[3], keys[7]
    bench.emulator.salesforce.writer.fail_validation([rejected], "Tier needs a review first")
    bench.emulator.world.salesforce.delete("Account", scores[orphan], hard=True)

    first = bench.run(source="sf")

    log = bench.log(first.run_id)
    assert (log[rejected]["status"], log[rejected]["error_code"]) == (
        "failed",
        "FIELD_CUSTOM_VALIDATION_EXCEPTION",
    )
    assert "Tier needs a review first" in log[rejected]["error_message"]
    assert (log[orphan]["status"], log[orphan]["error_code"]) == (
        "failed",
        "INVALID_CROSS_REFERENCE_KEY",
    )
    assert "invalid cross reference id" in log[orphan]["error_message"]
    assert {k for k, v in log.items() if v["status"] == "success"} == set(keys) - {rejected, orphan}
    assert set(bench.sf_records()) == set(keys) - {rejected, orphan}
    assert set(bench.ledger("sf")) == set(keys) - {rejected, orphan}
    assert first.sources[0].status == "failed"
    with pytest.raises(Exception, match="2 rows failed"):
        first.raise_for_status()

    bench.emulator.salesforce.writer.clear_plan()
    second = bench.run(source="sf")

    retried = bench.log(second.run_id)
    assert set(retried) == {rejected, orphan}
    assert retried[rejected]["status"] == "success"
    assert retried[orphan]["status"] == "failed"
    assert rejected in bench.sf_records()


def _lose_answers(observers: list[LostAnswers]) -> Callable[[CrmTarget], None]:
    def watch(target: CrmTarget) -> None:
        assert isinstance(target, SalesforceTarget)
        observers.append(LostAnswers(target.connector.session, ("PATCH", "PUT")))

    return watch


@pytest.mark.parametrize("threshold", [5000, 10], ids=["collections", "bulk"])
def test_faults_during_a_push_neither_lose_nor_duplicate_records(
    bench: Bench, threshold: int
) -> None:
    bench.extra = f"[writeback]\nbulk_threshold = {threshold}\ncollections_size = 10\n"
    bench.emulator.set_faults("429:0.2,reset:0.15,expire_session_after:5", seed=3)
    observers: list[LostAnswers] = []
    results = bench.run_until_ok("sf", _lose_answers(observers))

    assert results[-1].ok
    statuses = [s for o in observers for s in o.statuses]
    assert 429 in statuses
    assert 401 in statuses  # expired sessions, renewed
    assert sum(o.resets for o in observers) > 0
    assert observers[0].dropped == 1
    assert bench.emulator.salesforce.faults.retry_after in bench.sleeps  # Retry-After honoured
    scores = _scores(bench)
    store = list(bench.emulator.world.salesforce.live(SF_OBJECT))
    assert sorted(r["KAM_Ext_Id__c"] for r in store) == sorted(scores)  # no duplicate, none lost
    ledger = bench.ledger_payloads("sf")
    assert {r["KAM_Ext_Id__c"]: _stored(r) for r in store} == ledger
    bench.emulator.set_faults(None)
    assert_a_rerun_writes_nothing(bench, "sf")


@pytest.mark.parametrize("read_all_above", [4000, 5], ids=["by-external-id", "whole-object"])
def test_a_dry_run_plan_is_exactly_what_the_following_apply_does(
    bench: Bench, read_all_above: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("connectors.salesforce.writer.FULL_READ_AT", read_all_above)
    bench.run(source="sf")
    changed = bench.change_scores("sf", 30, offset=40)
    bench.emulator.world.salesforce.update(
        SF_OBJECT,
        bench.sf_records()[changed[0]]["Id"],
        {"KAM_Tier__c": "key"},  # someone edited the record in the CRM
    )
    writes = bench.writes()
    plan_file = bench.directory / "plan.json"

    dry = bench.run(source="sf", dry_run=True)
    write_plan(plan_file, dry.plans)

    assert bench.writes() == writes  # a dry run sends nothing
    (plan,) = read_plan(plan_file)
    total = len(_scores(bench))
    assert plan.counts == {"desired": total, "unchanged": total - 30, "create": 0, "update": 30}
    first = next(r for r in plan.rows if r.external_id == changed[0])
    assert first.changes()["KAM_Tier__c"]["before"] == "key"  # before as read from the CRM
    assert "KAM_Health_Score__c" in first.changes()

    applied = bench.run(source="sf", plan_file=plan_file)

    stored = {k: _stored(r) for k, r in bench.sf_records().items()}
    assert_applied_as_planned(bench, plan, applied.run_id, stored)
    with pytest.raises(StalePlanError, match="before the last write-back to sf"):
        bench.run(source="sf", plan_file=plan_file)


def test_a_plan_for_another_state_or_source_is_refused(bench: Bench) -> None:
    bench.run(source="sf")
    bench.change_scores("sf", 5)
    plan_file = bench.directory / "plan.json"
    write_plan(plan_file, bench.run(source="sf", dry_run=True).plans)
    bench.change_scores("sf", 1, offset=100)
    writes = bench.writes()

    with pytest.raises(StalePlanError, match="made from other scores"):
        bench.run(source="sf", plan_file=plan_file)
    with pytest.raises(Exception, match="has nothing for dv"):
        bench.run(source="dv", plan_file=plan_file)
    assert bench.writes() == writes


def test_no_score_object_refuses_the_push_and_sends_nothing(bench: Bench) -> None:
    del bench.emulator.world.salesforce.tables[SF_OBJECT]
    result = bench.run(source="sf")

    report = result.sources[0]
    assert report.status == "refused"
    assert "the object KAM_Account_Score__c does not exist" in (report.error or "")
    assert "kamsync metadata salesforce" in (report.error or "")
    assert bench.writes() == 0
    with pytest.raises(UnsafeWriteError):
        result.raise_for_status()


def test_a_missing_or_foreign_field_refuses_the_push(bench: Bench) -> None:
    table = bench.emulator.world.salesforce.tables[SF_OBJECT]
    fields = tuple(f for f in SCORE_OBJECT.fields if f.name != "KAM_Focus_Families__c")
    table.definition = TableDef(
        SCORE_OBJECT.name,
        SCORE_OBJECT.key,
        SCORE_OBJECT.label,
        SCORE_OBJECT.plural_label,
        fields,
        custom=True,
    )

    report = bench.run(source="sf").sources[0]

    assert report.status == "refused"
    assert "KAM_Focus_Families__c (focus_families) does not exist" in (report.error or "")
    assert bench.writes() == 0


def test_a_source_that_cannot_log_in_fails_alone(bench: Bench) -> None:
    bench.env["KAMSYNC_DV_CLIENT_SECRET"] = "not-the-secret"

    result = bench.run()

    by_source = {s.source: s for s in result.sources}
    assert by_source["sf"].status == "succeeded"
    assert by_source["dv"].status == "failed"
    assert "refused" in (by_source["dv"].error or "")
    assert "not-the-secret" not in (by_source["dv"].error or "")
    assert len(bench.sf_records()) == len(_scores(bench))
    assert bench.writes("dynamics") == 0
    with pytest.raises(RunFailedError) as failed:
        result.raise_for_status()
    # one line per failed source, which it names once
    assert str(failed.value).splitlines()[1] == f"  dv: {by_source['dv'].error}"
    assert not (by_source["dv"].error or "").startswith("dv: ")
