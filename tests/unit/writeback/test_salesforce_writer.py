"""The Salesforce writer against scripted answers: odd bodies never move a row to success."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses

from config.errors import MalformedResponseError, RequestRejectedError, ServerError
from config.loader import parse_config
from config.model import SalesforceSource
from connectors.salesforce import SalesforceConnector
from connectors.salesforce.writer import (
    SalesforceWriter,
    bulk_results,
    collection_results,
    parse_bulk_error,
    to_csv,
)
from tests import recorded

INSTANCE = "https://sf.example.test"
API = f"{INSTANCE}/services/data/v62.0"
OBJ = "KAM_Account_Score__c"
EXT = "KAM_Ext_Id__c"
COLLECTIONS = f"{API}/composite/sobjects/{OBJ}/{EXT}"


@pytest.fixture
def writer(tmp_path: Path, secret_env: dict[str, str]) -> Iterator[SalesforceWriter]:
    text = f"""
[[sources]]
name = "sf"
kind = "salesforce"
instance_url = "{INSTANCE}"
login_url = "{INSTANCE}"
client_id_env = "SF_CLIENT_ID"
client_secret_env = "SF_CLIENT_SECRET"
max_retries = 1
"""
    source = parse_config(text, "kamsync.toml", base_dir=tmp_path).sources[0]
    assert isinstance(source, SalesforceSource)
    connector = SalesforceConnector(source, sleep=lambda _s: None)
    yield SalesforceWriter(connector, poll_timeout=2.0)
    connector.close()


def _token() -> None:
    responses.post(
        f"{INSTANCE}/services/oauth2/token",
        json={"access_token": "00DTOKEN!writer-token", "instance_url": INSTANCE},
    )


def _records(*ext_ids: str) -> list[dict[str, Any]]:
    return [{EXT: e, "KAM_Account__c": "001000000000001AAA", "KAM_Tier__c": "key"} for e in ext_ids]


@responses.activate
def test_collections_results_pair_by_order_and_keep_the_crms_error(
    writer: SalesforceWriter,
) -> None:
    _token()
    responses.patch(
        COLLECTIONS,
        json=[
            {"id": "a0K000000000001AAA", "success": True, "created": True, "errors": []},
            {
                "id": None,
                "success": False,
                "errors": [
                    {
                        "statusCode": "STRING_TOO_LONG",
                        "message": "Plan Period: data value too large",
                        "fields": ["KAM_Plan_Period__c"],
                    }
                ],
            },
        ],
    )

    results = writer.upsert_collections(OBJ, EXT, _records("sf:1", "sf:2"))

    assert [(r.external_id, r.status, r.created) for r in results] == [
        ("sf:1", "success", True),
        ("sf:2", "failed", None),
    ]
    assert results[1].error_code == "STRING_TOO_LONG"
    assert (
        results[1].error_message == "Plan Period: data value too large (fields: KAM_Plan_Period__c)"
    )
    body = recorded.json_body(responses.calls[1])
    assert body["allOrNone"] is False
    assert body["records"][0]["attributes"] == {"type": OBJ}


@responses.activate
def test_a_short_answer_confirms_nothing(writer: SalesforceWriter) -> None:
    _token()
    responses.patch(COLLECTIONS, json=[{"id": "a0K000000000001AAA", "success": True}])

    results = writer.upsert_collections(OBJ, EXT, _records("sf:1", "sf:2"))

    assert {r.status for r in results} == {"unprocessed"}
    assert "1 results for 2 records" in (results[0].error_message or "")


def test_an_update_of_another_record_than_the_known_one_is_not_trusted() -> None:
    answer = [
        {"id": "a0K000000000009AAA", "success": True, "created": False},
        {"id": "a0K000000000002AAA", "success": True, "created": False},
        {"id": "a0K000000000007AAA", "success": True, "created": True},
    ]
    known = {"sf:1": "a0K000000000001AAA", "sf:2": "a0K000000000002", "sf:3": "a0K000000000003AAA"}

    results = collection_results(["sf:1", "sf:2", "sf:3"], answer, known)

    assert [r.status for r in results] == ["unprocessed", "success", "success"]
    assert results[2].created is True  # recreated after someone deleted it: a new id is fine


@pytest.mark.parametrize(
    "answer",
    [
        {"records": []},
        [None, "x"],
        [{"success": False}, {"success": False, "errors": "oops"}],
    ],
    ids=["object", "not-objects", "no-errors"],
)
def test_odd_collection_bodies_never_count_as_success(answer: Any) -> None:
    results = collection_results(["sf:1", "sf:2"], answer, {})

    assert all(r.status != "success" for r in results)
    assert all(r.error_message for r in results)


@responses.activate
def test_an_html_error_page_is_a_server_error_with_its_text(writer: SalesforceWriter) -> None:
    _token()
    page = "<html><body>Service Unavailable: maintenance</body></html>"
    responses.patch(COLLECTIONS, body=page, status=503, content_type="text/html")
    responses.patch(COLLECTIONS, body=page, status=503, content_type="text/html")

    with pytest.raises(ServerError, match="maintenance"):
        writer.upsert_collections(OBJ, EXT, _records("sf:1"))


@responses.activate
def test_a_truncated_json_answer_is_malformed(writer: SalesforceWriter) -> None:
    _token()
    responses.patch(
        COLLECTIONS, body='[{"id": "a0K0000', status=200, content_type="application/json"
    )

    with pytest.raises(MalformedResponseError, match="not valid JSON"):
        writer.upsert_collections(OBJ, EXT, _records("sf:1"))


@responses.activate
def test_describe_of_a_missing_object_is_none_and_other_refusals_raise(
    writer: SalesforceWriter,
) -> None:
    _token()
    responses.get(
        f"{API}/sobjects/{OBJ}/describe",
        status=404,
        json=[{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}],
    )
    responses.get(
        f"{API}/sobjects/Other__c/describe",
        status=403,
        json=[{"errorCode": "INSUFFICIENT_ACCESS", "message": "no access"}],
    )

    assert writer.describe(OBJ) is None
    with pytest.raises(RequestRejectedError, match="INSUFFICIENT_ACCESS: no access"):
        writer.describe("Other__c")


def test_bulk_results_are_matched_by_external_id_not_position() -> None:
    texts = {
        "successfulResults": (
            f'"sf__Id","sf__Created","{EXT}","KAM_Tier__c"\n'
            f'"a0K2","false","sf:2","key"\n"a0K1","true","sf:1","key"\n'
        ),
        "failedResults": (
            f'"sf__Id","sf__Error","{EXT}","KAM_Tier__c"\n'
            '"","INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST:Tier: bad value for restricted picklist '
            'field: gold:KAM_Tier__c --","sf:4","gold"\n'
        ),
        "unprocessedrecords": f'"{EXT}","KAM_Tier__c"\n"sf:3","key"\n',
    }

    results = bulk_results(["sf:1", "sf:2", "sf:3", "sf:4", "sf:5"], EXT, texts)

    by_ext = {r.external_id: r for r in results}
    assert (by_ext["sf:1"].status, by_ext["sf:1"].created, by_ext["sf:1"].record_id) == (
        "success",
        True,
        "a0K1",
    )
    assert (by_ext["sf:2"].status, by_ext["sf:2"].created) == ("success", False)
    assert by_ext["sf:3"].status == "unprocessed"
    assert by_ext["sf:4"].error_code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert by_ext["sf:4"].error_message == (
        "Tier: bad value for restricted picklist field: gold (fields: KAM_Tier__c)"
    )
    assert by_ext["sf:5"].status == "unprocessed"  # no result mentions it


def test_a_failed_job_leaves_unmentioned_rows_unprocessed_with_the_jobs_reason() -> None:
    results = bulk_results(["sf:1"], EXT, {}, "job Failed: InvalidBatch : Failed to parse CSV")

    assert results[0].status == "unprocessed"
    assert results[0].error_message == "job Failed: InvalidBatch : Failed to parse CSV"


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        (
            "REQUIRED_FIELD_MISSING:Required fields are missing: [KAM_Ext_Id__c]:KAM_Ext_Id__c --",
            "REQUIRED_FIELD_MISSING",
            "Required fields are missing: [KAM_Ext_Id__c] (fields: KAM_Ext_Id__c)",
        ),
        (
            "FIELD_CUSTOM_VALIDATION_EXCEPTION:rejected: --",
            "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "rejected",
        ),
        ("something went wrong", None, "something went wrong"),
        ("", None, "the CRM reported a failure without saying why"),
    ],
)
def test_bulk_error_text(text: str, code: str | None, message: str) -> None:
    assert parse_bulk_error(text) == (code, message)


def test_csv_clears_nulls_and_writes_numbers_in_full() -> None:
    text = to_csv(
        [EXT, "KAM_Headroom__c", "KAM_Explanation__c", "KAM_Tier__c"],
        [
            {
                EXT: "sf:1",
                "KAM_Headroom__c": 1e16,
                "KAM_Explanation__c": 'said "no",\nthen yes',
                "KAM_Tier__c": None,
            }
        ],
    )

    assert text == (
        f"{EXT},KAM_Headroom__c,KAM_Explanation__c,KAM_Tier__c\n"
        'sf:1,10000000000000000,"said ""no"",\nthen yes",#N/A\n'
    )


@responses.activate
def test_a_bulk_job_that_never_finishes_is_aborted(writer: SalesforceWriter) -> None:
    _token()
    jobs = f"{API}/jobs/ingest"
    responses.post(jobs, json={"id": "750J1", "state": "Open"})
    responses.put(f"{jobs}/750J1/batches", status=201)
    responses.patch(f"{jobs}/750J1", json={"id": "750J1", "state": "UploadComplete"})
    responses.get(f"{jobs}/750J1", json={"id": "750J1", "state": "InProgress"})

    with pytest.raises(ServerError, match="not complete"):
        writer.upsert_bulk(OBJ, EXT, [EXT, "KAM_Tier__c"], _records("sf:1"))

    states = [
        recorded.json_body(c)["state"] for c in responses.calls if c.request.method == "PATCH"
    ]
    assert states == ["UploadComplete", "Aborted"]
