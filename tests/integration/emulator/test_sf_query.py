"""REST query, describe, limits and replication through simple-salesforce over TLS."""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
import requests
import simple_salesforce

from connectors.emulator.emulator import Emulator
from connectors.emulator.sfpages import Prefetcher
from connectors.http import CrmSession
from tests.emulator_support import (
    ACCOUNTS,
    CLOCK,
    LIVE_ACCOUNTS,
    SOFT_DELETED_ACCOUNTS,
    account_id,
    error_body,
)
from tests.integration.emulator.conftest import API, FakeClock, salesforce_client, session_for

SF_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")
NEXT_URL = re.compile(rf"^/services/data/v{API}/query/01g[0-9A-Za-z]{{15}}-(\d+)$")


def _pages(sf: Any) -> list[requests.Response]:
    seen: list[requests.Response] = []
    sf.session.on_response.append(seen.append)
    return seen


def test_query_all_pages_with_batch_size(sf: Any) -> None:
    pages = _pages(sf)
    result = sf.query_all(
        "SELECT Id, Name FROM Account ORDER BY Name",
        headers={"Sforce-Query-Options": "batchSize=200"},
    )
    records = result["records"]
    assert len(records) == LIVE_ACCOUNTS
    assert len({r["Id"] for r in records}) == LIVE_ACCOUNTS
    bodies = [p.json() for p in pages]
    assert [len(b["records"]) for b in bodies] == [200, 200, 47]
    assert [b["done"] for b in bodies] == [False, False, True]
    assert all(b["totalSize"] == LIVE_ACCOUNTS for b in bodies)
    offsets = [NEXT_URL.match(b["nextRecordsUrl"]) for b in bodies[:2]]
    assert [m[1] for m in offsets if m] == ["200", "400"]
    assert "nextRecordsUrl" not in bodies[2]
    names = [r["Name"] for r in records]
    assert names == sorted(names, key=str.upper)


def test_default_batch_is_2000_and_batch_size_is_clamped(sf: Any) -> None:
    pages = _pages(sf)
    sf.query_all("SELECT Id FROM Account")
    sf.query_all("SELECT Id FROM Account", headers={"Sforce-Query-Options": "batchSize=5"})
    assert [len(p.json()["records"]) for p in pages] == [LIVE_ACCOUNTS, 200, 200, 47]


def test_records_have_attributes_and_salesforce_formats(sf: Any) -> None:
    record = sf.query(
        "SELECT Id, Name, CreatedDate, Last_Review__c, AnnualRevenue, Is_Key__c, BillingAddress, "
        f"Wallet_Estimate__c FROM Account WHERE Id = '{account_id(12)}'"
    )["records"][0]
    assert record["attributes"] == {
        "type": "Account",
        "url": f"/services/data/v{API}/sobjects/Account/{account_id(12)}",
    }
    assert list(record)[1:] == [
        "Id",
        "Name",
        "CreatedDate",
        "Last_Review__c",
        "AnnualRevenue",
        "Is_Key__c",
        "BillingAddress",
        "Wallet_Estimate__c",
    ]
    assert SF_DATETIME.match(record["CreatedDate"])
    assert record["Last_Review__c"] == "2024-01-13"
    assert record["AnnualRevenue"] == 12000.0
    assert record["Is_Key__c"] is True
    assert record["Wallet_Estimate__c"] == 60000.0
    assert record["BillingAddress"] == {
        "city": "Berlin",
        "country": "Germany",
        "geocodeAccuracy": None,
        "latitude": None,
        "longitude": None,
        "postalCode": "10012",
        "state": None,
        "street": "12 Main Street",
    }


def test_deleted_rows_only_through_query_all(sf: Any) -> None:
    soql = "SELECT Id, IsDeleted FROM Account WHERE IsDeleted = true"
    assert sf.query(soql)["totalSize"] == 0
    deleted = sf.query_all(soql, include_deleted=True)["records"]
    assert sorted(r["Id"] for r in deleted) == [
        account_id(401 + n) for n in range(SOFT_DELETED_ACCOUNTS)
    ]
    assert sf.query("SELECT COUNT() FROM Account", include_deleted=True)["totalSize"] == ACCOUNTS


def test_count_and_aggregate_count(sf: Any) -> None:
    assert sf.query("SELECT COUNT() FROM Account WHERE Industry = null") == {
        "totalSize": 45,
        "done": True,
        "records": [],
    }
    aggregate = sf.query("SELECT COUNT(Industry) n FROM Account")
    assert aggregate["records"] == [{"attributes": {"type": "AggregateResult"}, "n": 402}]


def test_where_order_limit_offset(sf: Any) -> None:
    result = sf.query(
        "SELECT Id, AnnualRevenue FROM Account WHERE (Industry = 'banking' OR Industry IN ('Retail')) "
        "AND AnnualRevenue >= 100000 AND (NOT Name LIKE '%o\\'hara') "
        "ORDER BY AnnualRevenue DESC NULLS LAST LIMIT 5 OFFSET 2"
    )
    # 450 has no industry, 449 and 447 are kept, 448 too; 441 is o'hara (n % 7 == 0)
    revenues = [r["AnnualRevenue"] for r in result["records"]]
    assert revenues == [446000.0, 445000.0, 444000.0, 443000.0, 442000.0]


def test_datetime_filters_in_every_salesforce_form(sf: Any) -> None:
    since = CLOCK - timedelta(days=10) + timedelta(minutes=440)
    forms = [
        since.strftime("%Y-%m-%dT%H:%M:%SZ"),
        since.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        (since + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+02:00"),
    ]
    counts = {
        form: sf.query(
            f"SELECT COUNT() FROM Account WHERE CreatedDate > {form}", include_deleted=True
        )["totalSize"]
        for form in forms
    }
    assert set(counts.values()) == {10}


@pytest.mark.parametrize(
    ("soql", "code", "fragment"),
    [
        ("SELECT Id FORM Account", "MALFORMED_QUERY", "unexpected token: 'FORM'"),
        (
            "SELECT Id, Nmae FROM Account",
            "INVALID_FIELD",
            "No such column 'Nmae' on entity 'Account'",
        ),
        ("SELECT Id FROM Acount", "INVALID_TYPE", "sObject type 'Acount' is not supported"),
        (
            "SELECT Id FROM Account WHERE CreatedDate > '2024-01-01'",
            "MALFORMED_QUERY",
            "must be of type dateTime",
        ),
        (
            "SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'",
            "MALFORMED_QUERY",
            "unexpected token: 'OR'",
        ),
    ],
)
def test_bad_soql_gets_400_with_the_salesforce_error(
    sf: Any, soql: str, code: str, fragment: str
) -> None:
    with pytest.raises(simple_salesforce.SalesforceMalformedRequest) as caught:
        sf.query(soql)
    assert caught.value.status == 400
    [error] = error_body(caught.value)
    assert error["errorCode"] == code
    assert fragment in error["message"]
    assert "ERROR at Row:1:Column:" in error["message"]


def test_query_locators_expire(make_emulator: Callable[..., Emulator]) -> None:
    clock = FakeClock()
    emulator = make_emulator(clock=clock)
    http = session_for(emulator)
    sf = salesforce_client(emulator, http)
    first = sf.query("SELECT Id FROM Account", headers={"Sforce-Query-Options": "batchSize=200"})
    clock.advance(14 * 60)
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert len(second["records"]) == 200
    clock.advance(16 * 60)
    with pytest.raises(simple_salesforce.SalesforceMalformedRequest) as caught:
        sf.query_more(second["nextRecordsUrl"], identifier_is_url=True)
    assert error_body(caught.value) == [
        {"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}
    ]


def test_describe_global_and_object(sf: Any) -> None:
    names = [o["name"] for o in sf.describe()["sobjects"]]
    assert {"Account", "Contact", "User", "KAM_Account_Score__c"} <= set(names)
    account = sf.Account.describe()
    assert account["name"] == "Account" and account["queryable"] and not account["custom"]
    assert account["keyPrefix"] == "001"
    fields = {f["name"]: f for f in account["fields"]}
    assert fields["Id"]["type"] == "id" and not fields["Id"]["nillable"]
    assert fields["ParentId"]["referenceTo"] == ["Account"]
    assert fields["ParentId"]["relationshipName"] == "Parent"
    assert fields["BillingCity"]["compoundFieldName"] == "BillingAddress"
    assert fields["BillingAddress"]["type"] == "address"
    assert fields["Wallet_Estimate__c"]["custom"] is True
    assert [p["value"] for p in fields["Industry"]["picklistValues"]] == ["Banking", "Retail"]
    assert (
        fields["Name"]["updateable"] is False
    )  # the integration user only writes kamsync's object
    score = {f["name"]: f for f in sf.KAM_Account_Score__c.describe()["fields"]}
    assert score["KAM_Ext_Id__c"]["externalId"] and score["KAM_Ext_Id__c"]["unique"]
    assert score["KAM_Account__c"]["referenceTo"] == ["Account"]
    assert score["KAM_Tier__c"]["updateable"] is True


def test_limits_and_the_limit_info_header(sf: Any) -> None:
    before = sf.limits()["DailyApiRequests"]
    after = sf.limits()["DailyApiRequests"]
    assert before["Max"] == 100_000
    assert after["Remaining"] == before["Remaining"] - 1
    assert sf.api_usage["api-usage"].total == 100_000
    assert sf.api_usage["api-usage"].used == before["Max"] - after["Remaining"]


def test_get_updated_and_get_deleted(sf: Any) -> None:
    end = CLOCK
    updated = sf.Account.updated(CLOCK - timedelta(days=10), end)
    assert len(updated["ids"]) == LIVE_ACCOUNTS
    assert updated["latestDateCovered"] == "2024-06-30T12:00:00.000+0000"
    window = sf.Account.updated(
        CLOCK - timedelta(days=10), CLOCK - timedelta(days=10) + timedelta(minutes=11)
    )
    assert window["ids"] == [account_id(n) for n in range(1, 11)]
    deleted = sf.Account.deleted(CLOCK - timedelta(days=7), end)
    assert [d["id"] for d in deleted["deletedRecords"]] == [account_id(401 + n) for n in range(3)]
    assert {d["deletedDate"] for d in deleted["deletedRecords"]} == {"2024-06-25T12:00:00.000+0000"}
    assert deleted["earliestDateAvailable"] == "2024-06-15T12:00:00.000+0000"
    purged = sf.Contact.deleted(CLOCK - timedelta(days=7), end)["deletedRecords"]
    assert len(purged) == 1


def test_replication_windows_are_enforced(sf: Any) -> None:
    with pytest.raises(simple_salesforce.SalesforceMalformedRequest) as too_old:
        sf.Account.updated(CLOCK - timedelta(days=31), CLOCK)
    assert error_body(too_old.value)[0]["errorCode"] == "INVALID_REPLICATION_DATE"
    with pytest.raises(simple_salesforce.SalesforceMalformedRequest) as backwards:
        sf.Account.deleted(CLOCK, CLOCK - timedelta(days=1))
    assert error_body(backwards.value)[0]["errorCode"] == "INVALID_REPLICATION_DATE"
    with pytest.raises(simple_salesforce.SalesforceMalformedRequest):
        sf.Account.deleted(CLOCK - timedelta(days=16), CLOCK)


def test_unknown_resources_and_methods(http: CrmSession, sf: Any) -> None:
    base = f"{sf.base_url}"
    headers = sf.headers
    missing = http.get(base + "nothing/here", headers=headers)
    assert missing.status_code == 404
    assert missing.json() == [
        {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
    ]
    wrong = http.post(base + "limits", headers=headers)
    assert wrong.status_code == 405
    assert wrong.json()[0]["errorCode"] == "METHOD_NOT_ALLOWED"


def test_same_world_same_bytes(make_emulator: Callable[..., Emulator]) -> None:
    bodies = []
    for _ in range(2):
        emulator = make_emulator()
        sf = salesforce_client(emulator)
        pages = _pages(sf)
        sf.query_all(
            "SELECT Id, Name, CreatedDate, BillingAddress FROM Account",
            headers={"Sforce-Query-Options": "batchSize=300"},
        )
        list(
            sf.bulk2.Account.query(
                "SELECT Id, Name, SystemModstamp FROM Account", max_records=200, wait=0
            )
        )
        bodies.append([p.content for p in pages if p.request.method == "GET"])
    assert bodies[0] == bodies[1]
    assert len(bodies[0]) >= 5


def test_changed_records_are_served_fresh(emulator: Emulator) -> None:
    sf = salesforce_client(emulator)
    soql = f"SELECT Id, Name FROM Account WHERE Id = '{account_id(5)}'"
    bulk = f"SELECT Id, Name FROM Account WHERE Id = '{account_id(5)}'"
    assert sf.query(soql)["records"][0]["Name"] == "Account 0005"
    assert "Account 0005" in "".join(sf.bulk2.Account.query(bulk, wait=0))
    emulator.world.salesforce.update("Account", account_id(5), {"Name": "Renamed 5"})
    assert sf.query(soql)["records"][0]["Name"] == "Renamed 5"
    assert "Renamed 5" in "".join(sf.bulk2.Account.query(bulk, wait=0))


class MakeNow(Prefetcher):
    """Does scheduled work at once, so that a test knows the next page was made already."""

    def schedule(self, key: Hashable, work: Callable[[], Any]) -> None:
        done: Future[Any] = Future()
        done.set_result(work())
        self._pending[key] = done


def test_pages_made_ahead_show_changes_and_follow_the_batch_size(emulator: Emulator) -> None:
    """The next page is made once a page is sent; it is served as made only while the store
    has not changed since, and only for the batch size it was made for."""
    app = emulator.salesforce
    app.prefetcher = MakeNow()
    sf = salesforce_client(emulator)
    soql = "SELECT Id, Name FROM Account"
    batch = {"Sforce-Query-Options": "batchSize=200"}
    first = sf.query(soql, headers=batch)
    live = [r["Id"] for r in app.store.live("Account")]
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)  # as made ahead
    assert [r["Id"] for r in second["records"]] == live[200:400]
    app.store.update("Account", live[410], {"Name": "Renamed after it was made"})
    third = sf.query_more(second["nextRecordsUrl"], identifier_is_url=True)
    assert [r["Id"] for r in third["records"]] == live[400:]
    assert third["records"][10]["Name"] == "Renamed after it was made"
    again = sf.query(soql, headers=batch)
    wider = sf.query_more(
        again["nextRecordsUrl"],
        identifier_is_url=True,
        headers={"Sforce-Query-Options": "batchSize=300"},
    )  # made ahead for 200 records: made again for 300
    assert [r["Id"] for r in wider["records"]] == live[200:] and wider["done"]


@pytest.mark.parametrize("deleted", [True, False])
def test_live_records_whether_or_not_some_are_deleted_or_lack_the_flag(
    emulator: Emulator, deleted: bool
) -> None:
    rows = emulator.salesforce.store.table("Account").rows
    if not deleted:
        for record in rows.values():
            record["IsDeleted"] = False
    else:
        next(iter(rows.values())).pop("IsDeleted")  # a record without the flag is live
    expected = [key for key, r in sorted(rows.items()) if not r.get("IsDeleted")]
    sf = salesforce_client(emulator)
    got = [r["Id"] for r in sf.query_all("SELECT Id FROM Account")["records"]]
    assert got == expected and (len(got) < len(rows)) == deleted


def test_date_header_is_the_org_clock(emulator: Emulator) -> None:
    # one Date header (a second one would be joined in and not parse), one second past the clock
    sf = salesforce_client(emulator)
    seen: list[requests.Response] = []
    sf.session.on_response.append(seen.append)
    store = emulator.world.salesforce
    sf.limits()
    assert parsedate_to_datetime(seen[-1].headers["Date"]) == store.now() + timedelta(seconds=1)
    store.advance(timedelta(hours=3))
    sf.query("SELECT COUNT() FROM Account")
    assert parsedate_to_datetime(seen[-1].headers["Date"]) == store.now() + timedelta(seconds=1)
