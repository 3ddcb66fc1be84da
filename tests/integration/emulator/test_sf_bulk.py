"""Bulk API 2.0 query and ingest through simple-salesforce's ``sf.bulk2`` over TLS."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from datetime import timedelta
from typing import Any

import pytest
import requests
import simple_salesforce

from connectors.emulator import sfbulk
from connectors.emulator.emulator import Emulator
from connectors.emulator.sfpages import Prefetcher
from connectors.emulator.sfrender import CsvRecords
from tests.emulator_support import ACCOUNTS, LIVE_ACCOUNTS, account_id, error_body
from tests.integration.emulator.conftest import API, salesforce_client


def _rows(pages: list[str]) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for page in pages:
        rows.extend(csv.DictReader(io.StringIO(page)))
    return rows


def test_bulk_query_pages_with_locators(sf: Any) -> None:
    seen: list[requests.Response] = []
    sf.session.on_response.append(seen.append)
    pages = list(
        sf.bulk2.Account.query(
            "SELECT Id, Name, CreatedDate, AnnualRevenue, Is_Key__c, Industry FROM Account ORDER BY Id",
            max_records=200,
            wait=0,
        )
    )
    rows = _rows(pages)
    assert len(rows) == LIVE_ACCOUNTS
    assert rows[0] == {
        "Id": account_id(1),
        "Name": "Account 0001",
        "CreatedDate": "2024-06-20T12:01:00.000Z",
        "AnnualRevenue": "1000.0",
        "Is_Key__c": "false",
        "Industry": "Banking",
    }
    assert rows[9]["Industry"] == ""  # null
    results = [r for r in seen if r.url and "/results" in r.url]
    assert [r.headers["Sforce-NumberOfRecords"] for r in results] == ["200", "200", "47"]
    assert results[-1].headers["Sforce-Locator"] == "null"
    assert all(r.headers["Content-Type"].startswith("text/csv") for r in results)
    assert pages[0].splitlines()[1].startswith('"')  # every value quoted
    polls = [
        r.json()["state"]
        for r in seen
        if r.request.method == "GET"
        and "/jobs/query/" in (r.url or "")
        and "/results" not in (r.url or "")
    ]
    assert polls == ["InProgress", "JobComplete"]


def test_bulk_query_all_includes_deleted_rows(sf: Any) -> None:
    rows = _rows(list(sf.bulk2.Account.query_all("SELECT Id, IsDeleted FROM Account", wait=0)))
    assert len(rows) == ACCOUNTS
    assert sum(r["IsDeleted"] == "true" for r in rows) == ACCOUNTS - LIVE_ACCOUNTS


def test_bulk_query_job_lifecycle_shapes(sf: Any) -> None:
    url = sf.base_url + "jobs/query"
    created = sf.session.post(
        url, json={"operation": "query", "query": "SELECT Id FROM Contact"}, headers=sf.headers
    ).json()
    assert created["state"] == "UploadComplete"
    assert created["jobType"] == "V2Query" and created["object"] == "Contact"
    assert created["id"].startswith("750")
    states = [
        sf.session.get(f"{url}/{created['id']}", headers=sf.headers).json()["state"]
        for _ in range(2)
    ]
    assert states == ["InProgress", "JobComplete"]
    info = sf.session.get(f"{url}/{created['id']}", headers=sf.headers).json()
    assert info["numberRecordsProcessed"] == 59


@pytest.mark.parametrize(
    "soql",
    [
        "SELECT COUNT() FROM Account",
        "SELECT Id, BillingAddress FROM Account",
        "SELECT Id FROM Account OFFSET 5",
    ],
)
def test_bulk_query_refuses_what_bulk_does_not_support(sf: Any, soql: str) -> None:
    with pytest.raises(simple_salesforce.SalesforceMalformedRequest) as caught:
        list(sf.bulk2.Account.query(soql, wait=0))
    assert error_body(caught.value)[0]["errorCode"] == "API_ERROR"


class RenderNow(Prefetcher):
    """Does scheduled work at once, so that a test knows the next page was rendered already."""

    def schedule(self, key: Hashable, work: Callable[[], Any]) -> None:
        done: Future[Any] = Future()
        done.set_result(work())
        self._pending[key] = done

    def submit(self, work: Callable[[], Any]) -> None:
        work()


def _job_pages(sf: Any, soql: str, between: Callable[[], None]) -> tuple[list[str], int]:
    """A query job's CSV pages of 100 rows (``between`` runs after the first); and the job's
    numberRecordsProcessed."""
    url = sf.base_url + "jobs/query"
    job = sf.session.post(
        url, json={"operation": "query", "query": soql}, headers=sf.headers
    ).json()["id"]
    while sf.session.get(f"{url}/{job}", headers=sf.headers).json()["state"] != "JobComplete":
        pass
    pages, locator = [], ""
    while locator != "null":
        params = {"maxRecords": 100, **({"locator": locator} if locator else {})}
        page = sf.session.get(f"{url}/{job}/results", params=params, headers=sf.headers)
        pages.append(page.text)
        if locator == "":
            between()
        locator = page.headers["Sforce-Locator"]
    processed = sf.session.get(f"{url}/{job}", headers=sf.headers).json()
    return pages, processed["numberRecordsProcessed"]


@pytest.mark.parametrize("piece", [sfbulk.PIECE, 7])
def test_bulk_query_pages_show_changes_made_after_they_were_prepared(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, piece: int
) -> None:
    """The job's records are fixed when it is created; their values are read when a page is
    served, even when the page was rendered ahead before a record changed (checked piece by
    piece when a page is sent in pieces)."""
    monkeypatch.setattr(sfbulk, "PIECE", piece)
    app = emulator.salesforce
    app.bulk.prefetcher = RenderNow()
    sf = salesforce_client(emulator)
    store = app.store
    soql = "SELECT Id, Name, SystemModstamp FROM Account"
    live = [r["Id"] for r in store.live("Account")]
    changed, deleted = live[150], live[160]  # both on the second page, rendered with the first

    def change() -> None:
        when = store.advance(timedelta(minutes=5))
        store.update("Account", changed, {"Name": 'Renamed "between" pages'}, at=when)
        store.delete("Account", deleted, hard=False, at=when)
        store.insert("Account", {"Id": "001zzzzzzzzzzzzAAA", "Name": "Created meanwhile"})

    pages, processed = _job_pages(sf, soql, change)
    rows = _rows(pages)
    assert processed == len(rows) == LIVE_ACCOUNTS  # as counted when the job was created
    by_id = {r["Id"]: r for r in rows}
    assert by_id[changed]["Name"] == 'Renamed "between" pages'
    assert by_id[changed]["SystemModstamp"] == store.now().strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert deleted in by_id and "001zzzzzzzzzzzzAAA" not in by_id
    assert [r["Id"] for r in rows] == live
    again, _ = _job_pages(sf, soql, lambda: None)  # a new job sees the new membership
    assert [r["Id"] for r in _rows(again)] == [r["Id"] for r in store.live("Account")]
    assert _rows(again)[150] == by_id[changed]


@pytest.mark.parametrize("piece", [1, 7, 200, 1000])
@pytest.mark.parametrize("line_ending", ["LF", "CRLF"])
def test_bulk_query_pages_are_streamed_in_pieces_with_the_same_bytes(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, piece: int, line_ending: str
) -> None:
    """A results page is sent with chunked transfer encoding as its pieces are rendered; the
    body a client reads is the page's CSV exactly, whatever the piece size."""
    monkeypatch.setattr(sfbulk, "PIECE", piece)
    sf = salesforce_client(emulator)
    store = emulator.salesforce.store
    names = ["Id", "Name", "CreatedDate", "AnnualRevenue", "Is_Key__c", "Industry"]
    soql = f"SELECT {', '.join(names)} FROM Account"
    url = sf.base_url + "jobs/query"
    job = sf.session.post(
        url,
        json={"operation": "query", "query": soql, "lineEnding": line_ending},
        headers=sf.headers,
    ).json()["id"]
    while sf.session.get(f"{url}/{job}", headers=sf.headers).json()["state"] != "JobComplete":
        pass
    table = store.table("Account").definition
    fields = [f for f in table.fields if f.name in names]
    fields.sort(key=lambda f: names.index(f.name))
    renderer = CsvRecords(fields, ",", "\r\n" if line_ending == "CRLF" else "\n")
    live = list(store.live("Account"))
    pages, locator, start = [], "", 0
    while locator != "null":
        params = {"maxRecords": 100, **({"locator": locator} if locator else {})}
        page = sf.session.get(f"{url}/{job}/results", params=params, headers=sf.headers)
        assert page.headers["Transfer-Encoding"] == "chunked"
        assert "Content-Length" not in page.headers
        assert page.content == renderer.render(live[start : start + 100]).encode("utf-8")
        pages.append(page.text)
        locator, start = page.headers["Sforce-Locator"], start + 100
    assert [r["Id"] for r in _rows(pages)] == [r["Id"] for r in live]
    empty = sf.session.get(
        f"{url}/{job}/results",
        params={"locator": sfbulk.encode_locator(len(live)), "maxRecords": 100},
        headers=sf.headers,
    )
    assert empty.content == renderer.header().encode("utf-8")
    assert empty.headers["Sforce-NumberOfRecords"] == "0"


def _score(ext: str, account: str, **fields: Any) -> dict[str, Any]:
    return {"KAM_Ext_Id__c": ext, "KAM_Account__c": account, **fields}


def test_bulk_ingest_upsert_with_failed_and_unprocessed_rows(emulator: Emulator) -> None:
    sf = salesforce_client(emulator)
    emulator.salesforce.writer.fail_validation(["sf:3"], "Tier must be set for key accounts")
    emulator.salesforce.writer.leave_unprocessed(["sf:4"])
    records = [
        _score("sf:1", account_id(1), KAM_Tier__c="key", KAM_Health_Score__c="71.5"),
        _score("sf:2", "001000000000000AAA", KAM_Tier__c="growth", KAM_Health_Score__c="40"),
        _score("sf:3", account_id(3), KAM_Tier__c="key", KAM_Health_Score__c="12"),
        _score("sf:4", account_id(4), KAM_Tier__c="maintain", KAM_Health_Score__c="80"),
        _score("sf:5", account_id(5), KAM_Tier__c="platinum", KAM_Health_Score__c="55"),
    ]
    [result] = sf.bulk2.KAM_Account_Score__c.upsert(
        records=records, external_id_field="KAM_Ext_Id__c", wait=0
    )
    assert result["numberRecordsProcessed"] == 4
    assert result["numberRecordsFailed"] == 3
    outcome = sf.bulk2.KAM_Account_Score__c.get_all_ingest_records(result["job_id"])
    [success] = outcome["successfulRecords"]
    assert success["sf__Created"] == "true" and success["KAM_Ext_Id__c"] == "sf:1"
    assert success["sf__Id"].startswith("a0K") and len(success["sf__Id"]) == 18
    failed = {r["KAM_Ext_Id__c"]: r for r in outcome["failedRecords"]}
    assert (
        failed["sf:2"]["sf__Error"]
        == "INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:KAM_Account__c --"
    )
    assert (
        failed["sf:3"]["sf__Error"]
        == "FIELD_CUSTOM_VALIDATION_EXCEPTION:Tier must be set for key accounts: --"
    )
    assert failed["sf:5"]["sf__Error"].startswith(
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST:Tier: bad value"
    )
    assert [r["KAM_Ext_Id__c"] for r in outcome["unprocessedRecords"]] == ["sf:4"]

    second = sf.bulk2.KAM_Account_Score__c.upsert(
        records=[_score("sf:1", account_id(1), KAM_Health_Score__c="75")],
        external_id_field="KAM_Ext_Id__c",
        wait=0,
    )
    again = sf.bulk2.KAM_Account_Score__c.get_successful_records(second[0]["job_id"])
    assert next(csv.DictReader(io.StringIO(again)))["sf__Created"] == "false"
    stored = sf.query(
        "SELECT KAM_Ext_Id__c, KAM_Health_Score__c, KAM_Tier__c FROM KAM_Account_Score__c"
    )
    assert [
        (r["KAM_Ext_Id__c"], r["KAM_Health_Score__c"], r["KAM_Tier__c"]) for r in stored["records"]
    ] == [("sf:1", 75.0, "key")]


def test_bulk_ingest_into_another_object_is_refused_and_logged(emulator: Emulator) -> None:
    sf = salesforce_client(emulator)
    with pytest.raises(simple_salesforce.SalesforceMalformedRequest) as caught:
        sf.bulk2.Account.upsert(
            records=[{"Id": account_id(1), "Name": "Hacked"}], external_id_field="Id", wait=0
        )
    assert error_body(caught.value) == [
        {
            "message": "insufficient access rights on object id",
            "errorCode": "INSUFFICIENT_ACCESS_OR_READONLY",
        }
    ]
    [entry] = emulator.write_log()
    assert (entry.api, entry.table, entry.ok) == ("bulk2", "Account", False)
    assert entry.error is not None and entry.error.startswith("INSUFFICIENT_ACCESS_OR_READONLY")
    assert (
        sf.query(f"SELECT Name FROM Account WHERE Id = '{account_id(1)}'")["records"][0]["Name"]
        == "Account 0001"
    )


def test_bulk_ingest_with_an_unknown_column_fails_the_job(emulator: Emulator) -> None:
    sf = salesforce_client(emulator)
    base = sf.base_url + "jobs/ingest"
    job = sf.session.post(
        base,
        json={
            "object": "KAM_Account_Score__c",
            "operation": "upsert",
            "externalIdFieldName": "KAM_Ext_Id__c",
        },
        headers=sf.headers,
    ).json()
    assert (
        job["state"] == "Open"
        and job["contentUrl"] == f"services/data/v{API}/jobs/ingest/{job['id']}/batches"
    )
    upload = sf.session.put(
        f"{base}/{job['id']}/batches",
        data=b"KAM_Ext_Id__c,Bogus__c\nsf:1,x\n",
        headers={**sf.headers, "Content-Type": "text/csv"},
    )
    assert upload.status_code == 201
    again = sf.session.put(
        f"{base}/{job['id']}/batches",
        data=b"KAM_Ext_Id__c\nsf:2\n",
        headers={**sf.headers, "Content-Type": "text/csv"},
    )
    assert again.status_code == 400
    closed = sf.session.patch(
        f"{base}/{job['id']}", json={"state": "UploadComplete"}, headers=sf.headers
    ).json()
    assert closed["state"] == "UploadComplete"
    states = [sf.session.get(f"{base}/{job['id']}", headers=sf.headers).json() for _ in range(2)]
    assert [s["state"] for s in states] == ["InProgress", "Failed"]
    assert states[-1]["errorMessage"] == "InvalidBatch : Field name not found : Bogus__c"
