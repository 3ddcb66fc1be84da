"""The Dataverse writer against scripted answers: $batch parts are matched by key, never by order."""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest
import responses

from config.errors import MalformedResponseError, RequestRejectedError
from connectors.dynamics.writer import (
    BatchAnswer,
    DataverseWriter,
    Lookup,
    batch_results,
    parse_batch_response,
)
from connectors.http import CrmSession, RetryPolicy
from tests import recorded

URL = "https://org.example.test"
ROOT = f"{URL}/api/data/v9.2"
SET = "kam_accountscores"
KEY = "kam_extid"


class _Access:
    source = "dv"

    def __init__(self) -> None:
        self.session = CrmSession(policy=RetryPolicy(max_retries=0), source="dv")

    def token(self) -> str:
        return "dv-test-token"


def _writer() -> DataverseWriter:
    return DataverseWriter(_Access(), URL)


def _records(*ext_ids: str) -> list[dict[str, object]]:
    return [
        {KEY: e, "kam_accountid": "5b0f3c5e-0000-0000-0000-00000000000" + e[-1], "kam_tier": "key"}
        for e in ext_ids
    ]


def _part(content_id: str | None, status: str, body: str = "") -> str:
    cid = f"Content-ID: {content_id}\r\n" if content_id else ""
    return (
        "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
        f"{cid}\r\nHTTP/1.1 {status}\r\nContent-Type: application/json; odata.metadata=minimal\r\n"
        f"OData-Version: 4.0\r\n\r\n{body}\r\n"
    )


def _batch(*parts: str, nested: bool = True) -> tuple[str, bytes]:
    outer = "batchresponse_1"
    chunks = []
    for index, part in enumerate(parts):
        if nested:
            inner = f"changesetresponse_{index}"
            chunks.append(
                f"--{outer}\r\nContent-Type: multipart/mixed; boundary={inner}\r\n\r\n"
                f"--{inner}\r\n{part}--{inner}--\r\n"
            )
        else:
            chunks.append(f"--{outer}\r\n{part}")
    body = "".join(chunks) + f"--{outer}--\r\n"
    return f"multipart/mixed; boundary={outer}", body.encode()


@responses.activate
def test_upsert_multiple_addresses_by_key_and_binds_the_account() -> None:
    responses.post(f"{ROOT}/{SET}/Microsoft.Dynamics.CRM.UpsertMultiple", json={"Ids": ["x"]})

    results = _writer().upsert_multiple(
        "kam_accountscore", SET, KEY, _records("dv:1"), [Lookup("kam_accountid", "accounts")]
    )

    assert [(r.external_id, r.status) for r in results] == [("dv:1", "success")]
    (target,) = recorded.json_body(responses.calls[0])["Targets"]
    assert target["@odata.type"] == "Microsoft.Dynamics.CRM.kam_accountscore"
    assert target["@odata.id"] == f"{SET}(kam_extid='dv:1')"
    assert target["kam_accountid@odata.bind"].startswith("/accounts(5b0f3c5e-")
    assert "kam_accountid" not in target
    assert responses.calls[0].request.headers["Authorization"] == "Bearer dv-test-token"


@responses.activate
def test_a_refused_upsert_multiple_raises_with_the_crms_code() -> None:
    responses.post(
        f"{ROOT}/{SET}/Microsoft.Dynamics.CRM.UpsertMultiple",
        status=400,
        json={"error": {"code": "0x80040265", "message": "plug-in said no"}},
    )

    with pytest.raises(RequestRejectedError, match="0x80040265: plug-in said no") as caught:
        _writer().upsert_multiple("kam_accountscore", SET, KEY, _records("dv:1"))

    assert caught.value.status == 400


@responses.activate
def test_batch_sends_one_change_set_per_record_and_reads_each_result() -> None:
    content_type, body = _batch(
        _part("2", "201 Created", json.dumps({KEY: "dv:2", "kam_accountscoreid": "id-2"})),
        _part(
            "1",
            "400 Bad Request",
            json.dumps(
                {"error": {"code": "0x80040217", "message": "account With Id = x Does Not Exist"}}
            ),
        ),
        _part("3", "200 OK", json.dumps({KEY: "dv:3", "kam_accountscoreid": "id-3"})),
    )
    responses.post(f"{ROOT}/$batch", body=body, content_type=content_type)

    results = _writer().upsert_batch(
        "kam_accountscore",
        SET,
        KEY,
        _records("dv:1", "dv:2", "dv:3"),
        [Lookup("kam_accountid", "accounts")],
    )

    assert [(r.external_id, r.status, r.created, r.record_id) for r in results] == [
        ("dv:1", "failed", None, None),
        ("dv:2", "success", True, "id-2"),
        ("dv:3", "success", False, "id-3"),
    ]
    assert results[0].error_code == "0x80040217"
    sent = responses.calls[0].request
    assert sent.headers["Prefer"] == "odata.continue-on-error"
    text = sent.body.decode() if isinstance(sent.body, bytes) else str(sent.body)
    assert text.count("Content-Type: multipart/mixed; boundary=changeset_") == 3
    assert f"PATCH {ROOT}/{SET}(kam_extid='dv:1')?$select=kam_extid HTTP/1.1" in unquote(text)


def test_the_key_the_crm_returns_wins_over_a_content_id_that_disagrees() -> None:
    answers = [
        BatchAnswer("1", 204, json.dumps({KEY: "dv:2"}).encode()),  # says it is dv:2
        BatchAnswer(None, 200, json.dumps({KEY: "dv:9"}).encode()),  # a record never sent
        BatchAnswer("7", 400, b"<html>bad</html>"),  # a Content-ID out of range
    ]

    results = batch_results(["dv:1", "dv:2"], KEY, answers)

    assert [(r.external_id, r.status) for r in results] == [
        ("dv:1", "unprocessed"),
        ("dv:2", "success"),
    ]
    assert results[0].error_message == "the $batch answer does not mention this record"


def test_a_failure_with_a_body_that_is_not_json_keeps_its_text() -> None:
    results = batch_results(["dv:1"], KEY, [BatchAnswer("1", 503, b"Service Unavailable")])

    assert (results[0].status, results[0].error_code, results[0].error_message) == (
        "failed",
        "503",
        "Service Unavailable",
    )


def test_top_level_parts_without_change_sets_are_read_too() -> None:
    content_type, body = _batch(_part("1", "204 No Content"), nested=False)

    answers = parse_batch_response(content_type, body)

    assert answers == [BatchAnswer("1", 204, b"")]


def test_an_answer_that_is_not_multipart_is_malformed() -> None:
    with pytest.raises(MalformedResponseError, match="not multipart"):
        parse_batch_response("application/json", b'{"error": {}}')


@responses.activate
def test_describe_reads_columns_keys_and_lookup_targets() -> None:
    responses.get(
        f"{ROOT}/EntityDefinitions(LogicalName='kam_accountscore')",
        json={
            "LogicalName": "kam_accountscore",
            "EntitySetName": SET,
            "IsCustomEntity": True,
            "Attributes": [
                {
                    "LogicalName": "kam_extid",
                    "AttributeType": "String",
                    "IsCustomAttribute": True,
                    "IsValidForCreate": True,
                    "IsValidForUpdate": True,
                },
                {
                    "LogicalName": "kam_accountid",
                    "AttributeType": "Lookup",
                    "IsCustomAttribute": True,
                    "IsValidForCreate": True,
                    "IsValidForUpdate": True,
                },
                {
                    "LogicalName": "createdon",
                    "AttributeType": "DateTime",
                    "IsCustomAttribute": False,
                    "IsValidForCreate": False,
                    "IsValidForUpdate": False,
                },
            ],
            "Keys": [{"SchemaName": "kam_ExtIdKey", "KeyAttributes": ["kam_extid"]}],
        },
    )
    responses.get(
        f"{ROOT}/EntityDefinitions(LogicalName='kam_accountscore')/Attributes/Microsoft.Dynamics.CRM.LookupAttributeMetadata",
        json={"value": [{"LogicalName": "kam_accountid", "Targets": ["account"]}]},
    )

    described = _writer().describe("kam_accountscore")

    assert described is not None
    assert (described.custom, described.entity_set, described.alternate_keys) == (
        True,
        SET,
        (("kam_extid",),),
    )
    lookup = described.field("kam_accountid")
    assert lookup is not None and lookup.reference_to == ("account",)
    created = described.field("createdon")
    assert created is not None and not created.custom


@responses.activate
def test_describe_of_a_missing_table_is_none() -> None:
    responses.get(
        f"{ROOT}/EntityDefinitions(LogicalName='kam_accountscore')",
        status=404,
        json={"error": {"code": "0x80040217", "message": "Could not find entity"}},
    )

    assert _writer().describe("kam_accountscore") is None


@responses.activate
def test_read_back_follows_next_links_inside_the_org_only() -> None:
    responses.get(
        f"{ROOT}/{SET}",
        json={"value": [{KEY: "dv:1"}], "@odata.nextLink": "https://elsewhere.example.test/steal"},
    )

    with pytest.raises(MalformedResponseError, match="outside"):
        _writer().read(SET, KEY, [KEY], ["dv:1", "dv:o'hara"])
    query = unquote(recorded.url(responses.calls[0]))
    assert "kam_extid eq 'dv:1' or kam_extid eq 'dv:o''hara'" in query
