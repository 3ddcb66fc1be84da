"""Salesforce connector edge cases, against scripted HTTP answers (``responses``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from config.errors import (
    ApiBudgetExceededError,
    AuthenticationError,
    MalformedResponseError,
)
from config.loader import parse_config
from config.model import SalesforceSource
from connectors.base import CsvRecords, Records, StreamState
from connectors.salesforce import SalesforceConnector
from tests import recorded

INSTANCE = "https://sf.example.test"
LOGIN = "https://login.example.test"
API = f"{INSTANCE}/services/data/v62.0"
DATE = "Wed, 01 Jul 2026 12:00:00 GMT"  # the org's clock: windows end here
UPPER = "2026-07-01T12:00:00Z"

DESCRIBE = {
    "name": "Account",
    "label": "Account",
    "fields": [
        {"name": "Id", "type": "id", "label": "Account ID", "nillable": False},
        {"name": "Name", "type": "string", "label": "Account Name"},
        {"name": "AnnualRevenue", "type": "currency", "label": "Annual Revenue", "scale": 2},
        {"name": "IsDeleted", "type": "boolean", "label": "Deleted"},
        {"name": "BillingAddress", "type": "address", "label": "Billing Address"},
        {"name": "SystemModstamp", "type": "datetime", "label": "System Modstamp"},
    ],
}
FIELDS = ("Id", "Name", "AnnualRevenue", "IsDeleted", "SystemModstamp")


def _source(tmp_path: Path, extra: str = "") -> SalesforceSource:
    text = f"""
[[sources]]
name = "sf"
kind = "salesforce"
instance_url = "{INSTANCE}"
login_url = "{LOGIN}"
client_id_env = "SF_CLIENT_ID"
client_secret_env = "SF_CLIENT_SECRET"
bulk_threshold = 5
{extra}
"""
    source = parse_config(text, "kamsync.toml", base_dir=tmp_path).sources[0]
    assert isinstance(source, SalesforceSource)
    return source


def _record(n: int, **overrides: Any) -> dict[str, Any]:
    record = {
        "attributes": {"type": "Account", "url": f"/services/data/v62.0/sobjects/Account/{n}"},
        "Id": f"001A0000000{n:04d}AAA",
        "Name": f"Account {n}",
        "AnnualRevenue": "1500.25",
        "IsDeleted": False,
        "SystemModstamp": "2026-06-30T10:00:00.000+0000",
    }
    record.update(overrides)
    return record


def _token(body: dict[str, Any] | None = None, status: int = 200) -> None:
    responses.post(
        f"{LOGIN}/services/oauth2/token",
        json=body or {"access_token": "00DTOKEN!first-access-token", "instance_url": INSTANCE},
        status=status,
        headers={"Date": DATE},
    )


def _describe() -> None:
    responses.get(f"{API}/sobjects/Account/describe", json=DESCRIBE, headers={"Date": DATE})


def _record_count(count: int, status: int = 200) -> None:
    if status != 200:
        responses.get(
            f"{API}/limits/recordCount",
            status=status,
            json=[{"errorCode": "INSUFFICIENT_ACCESS", "message": "insufficient access rights"}],
        )
        return
    responses.get(
        f"{API}/limits/recordCount",
        json={"sObjects": [{"count": count, "name": "Account"}]},
        headers={"Date": DATE},
    )


def _soql(call: Any) -> str:
    return recorded.query(call)["q"][0]


@pytest.fixture
def connector(tmp_path: Path, secret_env: dict[str, str]) -> Iterator[SalesforceConnector]:
    sleeps: list[float] = []
    made = SalesforceConnector(_source(tmp_path), sleep=sleeps.append)
    yield made
    made.close()


@responses.activate
def test_refused_login_names_the_error_and_never_the_secret(
    connector: SalesforceConnector, secret_env: dict[str, str]
) -> None:
    _token(
        {"error": "invalid_client", "error_description": "invalid client credentials"}, status=400
    )

    with pytest.raises(AuthenticationError) as caught:
        connector.discover(["Account"])

    text = str(caught.value)
    assert "invalid_client: invalid client credentials" in text
    assert all(secret not in text for secret in secret_env.values())


@responses.activate
def test_jwt_assertion_is_signed_for_the_login_host(
    tmp_path: Path, secret_env: dict[str, str]
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "server.key"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    source = _source(
        tmp_path,
        'auth = "jwt"\nusername = "integration@acme.example"\nprivate_key_file = "server.key"',
    )
    _token()
    _describe()

    SalesforceConnector(source, clock=lambda: 1_800_000_000.0, sleep=lambda _: None).discover(
        ["Account"]
    )

    form = recorded.form(responses.calls[0])
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    claims = jwt.decode(
        form["assertion"][0],
        key.public_key(),
        algorithms=["RS256"],
        audience=LOGIN,
        options={"verify_exp": False},
    )
    assert claims == {
        "iss": secret_env["SF_CLIENT_ID"],
        "sub": "integration@acme.example",
        "aud": LOGIN,
        "exp": 1_800_000_180,
    }


@responses.activate
def test_describe_with_an_unknown_type_is_a_clear_error(connector: SalesforceConnector) -> None:
    _token()
    broken = {**DESCRIBE, "fields": [*DESCRIBE["fields"], {"name": "Shape__c", "type": "hologram"}]}
    responses.get(f"{API}/sobjects/Account/describe", json=broken)

    with pytest.raises(MalformedResponseError, match=r"Account.Shape__c has type 'hologram'"):
        connector.discover(["Account"])


@responses.activate
def test_full_pass_counts_then_pages_rest_within_a_window_ending_at_the_org_clock(
    connector: SalesforceConnector,
) -> None:
    _token()
    _describe()
    _record_count(3)
    responses.get(
        f"{API}/queryAll/",
        json={
            "totalSize": 3,
            "done": False,
            "nextRecordsUrl": "/services/data/v62.0/query/01gQ-2",
            "records": [_record(1), _record(2, AnnualRevenue=None, IsDeleted=True)],
        },
    )
    responses.get(
        f"{INSTANCE}/services/data/v62.0/query/01gQ-2",
        json={"totalSize": 3, "done": True, "records": [_record(3, Name="O'Brien & Co")]},
    )
    [schema] = connector.discover(["Account"])

    pages = list(connector.read(schema, StreamState()))

    assert schema.column_names == FIELDS  # the compound address is not landed
    first, second, last = pages
    assert isinstance(first.records, Records) and first.records.rows == [
        ("001A00000000001AAA", "Account 1", "1500.25", "false", "2026-06-30T10:00:00.000+0000"),
        ("001A00000000002AAA", "Account 2", None, "true", "2026-06-30T10:00:00.000+0000"),
    ]
    assert (
        first.checkpoint is not None
        and first.checkpoint["next"] == "/services/data/v62.0/query/01gQ-2"
    )
    assert isinstance(second.records, Records) and second.records.rows[0][1] == "O'Brien & Co"
    assert last.done and last.cursor == {"upper": "2026-07-01T12:00:00+00:00"}
    assert recorded.query(responses.calls[2]) == {
        "sObjects": [
            "User,Account,Contact,Product2,Opportunity,OpportunityLineItem,OpportunityContactRole,Task,Event"
        ]
    }
    query = next(c for c in responses.calls if "queryAll" in recorded.url(c))
    assert _soql(query) == f"SELECT {', '.join(FIELDS)} FROM Account WHERE SystemModstamp < {UPPER}"
    assert query.request.headers["Sforce-Query-Options"] == "batchSize=2000"


@responses.activate
def test_incremental_pass_reads_the_window_then_get_deleted(connector: SalesforceConnector) -> None:
    _token()
    _describe()
    responses.get(f"{API}/queryAll/", json={"totalSize": 1, "done": True, "records": [_record(7)]})
    responses.get(
        f"{API}/sobjects/Account/deleted/",
        json={
            "deletedRecords": [
                {"id": "001A00000000009AAA", "deletedDate": "2026-07-01T11:00:00.000+0000"}
            ],
            "earliestDateAvailable": "2026-06-01T00:00:00.000+0000",
            "latestDateCovered": "2026-07-01T11:59:00.000+0000",
        },
    )
    [schema] = connector.discover(["Account"])

    pages = list(connector.read(schema, StreamState(cursor={"upper": "2026-06-30T12:00:00+00:00"})))

    assert [p.record_count for p in pages] == [1, 0, 0]
    assert pages[1].deleted_ids == ("001A00000000009AAA",)
    assert _soql(responses.calls[2]).endswith(
        f"WHERE SystemModstamp >= 2026-06-30T12:00:00Z AND SystemModstamp < {UPPER}"
    )
    deleted_url = recorded.url(responses.calls[3])
    assert (
        "start=2026-06-30T12%3A00%3A00" in deleted_url or "start=2026-06-30T12:00:00" in deleted_url
    )
    assert (
        sum(p.api_calls for p in pages) == 2
    )  # an unchanged object costs a query and a getDeleted


@responses.activate
def test_window_older_than_get_deleted_keeps_reconciles_live_ids(
    connector: SalesforceConnector,
) -> None:
    _token()
    _describe()
    responses.get(f"{API}/queryAll/", json={"totalSize": 0, "done": True, "records": []})
    _record_count(2)
    responses.get(
        f"{API}/query/",
        json={
            "totalSize": 2,
            "done": True,
            "records": [{"Id": "001A00000000001AAA"}, {"Id": "001A00000000002AAA"}],
        },
    )
    [schema] = connector.discover(["Account"])

    pages = list(connector.read(schema, StreamState(cursor={"upper": "2026-05-01T00:00:00+00:00"})))

    assert pages[1].live_ids == ("001A00000000001AAA", "001A00000000002AAA")
    assert not any("deleted" in recorded.url(c) for c in responses.calls)
    assert _soql(responses.calls[-1]) == f"SELECT Id FROM Account WHERE SystemModstamp < {UPPER}"


@responses.activate
def test_budget_stops_before_the_request_that_would_pass_it(
    tmp_path: Path, secret_env: dict[str, str]
) -> None:
    connector = SalesforceConnector(
        _source(tmp_path, "api_budget_percent = 80"), sleep=lambda _: None
    )
    _token()
    responses.get(
        f"{API}/sobjects/Account/describe",
        json=DESCRIBE,
        headers={"Date": DATE, "Sforce-Limit-Info": "api-usage=80/100"},
    )

    [schema] = connector.discover(["Account"])
    with pytest.raises(
        ApiBudgetExceededError, match=r"used 80 of its 100 daily API requests \(80.0%; budget 80%\)"
    ):
        list(connector.read(schema, StreamState()))

    assert (
        len(responses.calls) == 2
    )  # token and describe; the query that would pass 80% was never sent
    assert connector.usage().org_used == 80


@responses.activate
def test_body_that_is_not_json_is_malformed(connector: SalesforceConnector) -> None:
    _token()
    _describe()
    _record_count(1)
    responses.get(f"{API}/queryAll/", body="<html>oops</html>", content_type="application/json")
    [schema] = connector.discover(["Account"])

    with pytest.raises(MalformedResponseError, match="not valid JSON"):
        list(connector.read(schema, StreamState()))


@responses.activate
def test_record_missing_a_field_is_malformed(connector: SalesforceConnector) -> None:
    _token()
    _describe()
    _record_count(1)
    incomplete = _record(1)
    del incomplete["AnnualRevenue"]
    responses.get(f"{API}/queryAll/", json={"totalSize": 1, "done": True, "records": [incomplete]})
    [schema] = connector.discover(["Account"])

    with pytest.raises(
        MalformedResponseError, match="record 001A00000000001AAA lacks field AnnualRevenue"
    ):
        list(connector.read(schema, StreamState()))


@responses.activate
def test_expired_session_reauthenticates_once_and_replays(connector: SalesforceConnector) -> None:
    _token()
    _describe()
    _record_count(1)
    responses.get(
        f"{API}/queryAll/",
        status=401,
        json=[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
    )
    _token({"access_token": "00DTOKEN!second-access-token", "instance_url": INSTANCE})
    responses.get(f"{API}/queryAll/", json={"totalSize": 1, "done": True, "records": [_record(1)]})
    [schema] = connector.discover(["Account"])

    pages = list(connector.read(schema, StreamState()))

    assert pages[0].record_count == 1
    replay = [c for c in responses.calls if "queryAll" in recorded.url(c)][-1]
    assert replay.request.headers["Authorization"] == "Bearer 00DTOKEN!second-access-token"


@responses.activate
def test_expired_query_locator_restarts_the_phase(connector: SalesforceConnector) -> None:
    _token()
    _describe()
    responses.get(
        f"{INSTANCE}/services/data/v62.0/query/01gQ-4",
        status=400,
        json=[{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}],
    )
    _record_count(2)
    responses.get(
        f"{API}/queryAll/", json={"totalSize": 2, "done": True, "records": [_record(1), _record(2)]}
    )
    [schema] = connector.discover(["Account"])
    resume = {
        "mode": "full",
        "since": None,
        "upper": "2026-07-01T12:00:00+00:00",
        "phase": "records",
        "method": "rest",
        "next": "/services/data/v62.0/query/01gQ-4",
    }

    pages = list(connector.read(schema, StreamState(checkpoint=resume)))

    assert [p.record_count for p in pages] == [2, 0]
    assert pages[-1].cursor == {"upper": "2026-07-01T12:00:00+00:00"}


@responses.activate
def test_large_delta_switches_to_bulk_and_polls_with_the_injected_sleep(
    tmp_path: Path, secret_env: dict[str, str]
) -> None:
    sleeps: list[float] = []
    connector = SalesforceConnector(_source(tmp_path), sleep=sleeps.append)
    _token()
    _describe()
    responses.get(
        f"{API}/queryAll/",
        json={"totalSize": 9, "done": False, "nextRecordsUrl": "/x", "records": []},
    )
    responses.post(f"{API}/jobs/query", json={"id": "750JOB", "state": "UploadComplete"})
    responses.get(f"{API}/jobs/query/750JOB", json={"id": "750JOB", "state": "InProgress"})
    responses.get(f"{API}/jobs/query/750JOB", json={"id": "750JOB", "state": "JobComplete"})
    csv_1 = "Id,Name,AnnualRevenue,IsDeleted,SystemModstamp\n001A00000000001AAA,One,1.00,false,2026-06-30T10:00:00.000Z\n"
    csv_2 = "Id,Name,AnnualRevenue,IsDeleted,SystemModstamp\n001A00000000002AAA,Two,,true,2026-06-30T10:00:00.000Z\n"
    responses.get(
        re.compile(rf"{API}/jobs/query/750JOB/results.*"),
        body=csv_1,
        headers={"Sforce-Locator": "MTAw", "Sforce-NumberOfRecords": "1"},
    )
    responses.get(
        re.compile(rf"{API}/jobs/query/750JOB/results.*"),
        body=csv_2,
        headers={"Sforce-Locator": "null", "Sforce-NumberOfRecords": "1"},
    )
    responses.get(f"{API}/sobjects/Account/deleted/", json={"deletedRecords": []})
    [schema] = connector.discover(["Account"])

    pages = list(connector.read(schema, StreamState(cursor={"upper": "2026-06-30T12:00:00+00:00"})))

    bulk = [p for p in pages if p.method == "bulk" and not p.done]
    assert [p.record_count for p in bulk] == [1, 1]
    assert isinstance(bulk[0].records, CsvRecords) and b"One" in bulk[0].records.csv
    assert (
        bulk[0].checkpoint is not None
        and bulk[0].checkpoint["job"] == "750JOB"
        and bulk[0].checkpoint["locator"] == "MTAw"
    )
    assert recorded.json_body(responses.calls[3])["operation"] == "queryAll"
    assert sleeps == [0.1]


@responses.activate
def test_short_window_widens_get_deleted_backwards(connector: SalesforceConnector) -> None:
    _token()
    _describe()
    responses.get(f"{API}/queryAll/", json={"totalSize": 0, "done": True, "records": []})
    responses.get(f"{API}/sobjects/Account/deleted/", json={"deletedRecords": []})
    [schema] = connector.discover(["Account"])

    list(connector.read(schema, StreamState(cursor={"upper": "2026-07-01T11:59:30+00:00"})))

    query = recorded.query(responses.calls[-1])
    assert query["start"][0].startswith("2026-07-01T11:58:00")
    assert query["end"][0].startswith("2026-07-01T12:00:00")


@responses.activate
def test_without_record_count_access_a_full_pass_counts_the_object(
    connector: SalesforceConnector,
) -> None:
    _token()
    _describe()
    _record_count(0, status=403)
    responses.get(f"{API}/queryAll/", json={"totalSize": 1, "done": True, "records": []})
    responses.get(f"{API}/queryAll/", json={"totalSize": 1, "done": True, "records": [_record(1)]})
    [schema] = connector.discover(["Account"])

    pages = list(connector.read(schema, StreamState()))

    assert pages[0].record_count == 1
    assert (
        _soql(responses.calls[3]) == f"SELECT COUNT() FROM Account WHERE SystemModstamp < {UPPER}"
    )
