"""The generated world as both emulated CRMs serve it: counts and values agree with the planted
truth, the same seed serves the same bytes, and mutations show up through the APIs."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msal
import pytest
import requests

from connectors.emulator.emulator import Emulator
from connectors.emulator.world import World
from connectors.http import CrmSession
from tests.integration.emulator.conftest import salesforce_client, session_for

AS_OF = date(2024, 6, 30)
SF_TABLES = (
    "User",
    "Account",
    "Contact",
    "Product2",
    "Opportunity",
    "OpportunityLineItem",
    "OpportunityContactRole",
    "Task",
    "Event",
)


@pytest.fixture(scope="module")
def served() -> Iterator[Emulator]:
    with Emulator(seed=11, accounts=300, as_of=AS_OF) as emulator:
        yield emulator


def _world(emulator: Emulator) -> World:
    world = emulator.world
    assert isinstance(world, World)
    return world


def _dataverse_token(emulator: Emulator, http: CrmSession) -> str:
    dynamics = emulator.credentials()["dynamics"]
    app = msal.ConfidentialClientApplication(
        dynamics["client_id"],
        client_credential=dynamics["client_secret"],
        authority=dynamics["authority"],
        instance_discovery=False,
        http_client=http,
    )
    result = app.acquire_token_for_client(scopes=[f"{dynamics['url']}/.default"])
    assert "access_token" in result, result
    return str(result["access_token"])


def _dataverse_count(emulator: Emulator, http: CrmSession, token: str, entity_set: str) -> int:
    url: str | None = f"{emulator.dynamics_url}/api/data/v9.2/{entity_set}"
    headers = {"Authorization": f"Bearer {token}", "Prefer": "odata.maxpagesize=5000"}
    count = 0
    while url:
        body = http.get(url, headers=headers).json()
        count += len(body["value"])
        url = body.get("@odata.nextLink")
    return count


def test_salesforce_counts_agree_with_the_truth(served: Emulator) -> None:
    sf = salesforce_client(served)
    counts = _world(served).truth.counts["salesforce"]
    for table in SF_TABLES:
        live, deleted = counts[table]["live"], counts[table]["deleted"]
        assert sf.query(f"SELECT COUNT() FROM {table}")["totalSize"] == live, table
        assert (
            sf.query(f"SELECT COUNT() FROM {table}", include_deleted=True)["totalSize"]
            == live + deleted
        )
    accounts = sf.query_all(
        "SELECT Id FROM Account", headers={"Sforce-Query-Options": "batchSize=200"}
    )
    assert len(accounts["records"]) == counts["Account"]["live"]
    tasks = "".join(served_bulk(sf, "SELECT Id FROM Task"))
    assert len(list(csv.DictReader(io.StringIO(tasks)))) == counts["Task"]["live"]


def served_bulk(sf: Any, soql: str) -> list[str]:
    return list(sf.bulk2.Task.query(soql, max_records=1000, wait=0))


def test_dataverse_counts_agree_with_the_truth(served: Emulator) -> None:
    http = session_for(served)
    token = _dataverse_token(served, http)
    counts = _world(served).truth.counts["dynamics"]
    for table, entity_set in (
        ("account", "accounts"),
        ("contact", "contacts"),
        ("opportunity", "opportunities"),
    ):
        assert _dataverse_count(served, http, token, entity_set) == counts[table]["live"], table


def test_planted_truth_matches_served_values(served: Emulator) -> None:
    sf = salesforce_client(served)
    truth = _world(served).truth
    planted = {a.id: a for a in truth.accounts.values() if a.org == "salesforce"}
    records = sf.query_all("SELECT Id, Name, Industry, Wallet_Estimate__c, ParentId FROM Account")[
        "records"
    ]
    assert {r["Id"] for r in records} == set(planted)
    for record in records:
        account = planted[record["Id"]]
        assert record["Name"] == account.name
        assert record["Industry"] == account.industry
        assert record["Wallet_Estimate__c"] == account.wallet_field
    cycle = {key.removeprefix("salesforce:") for key in truth.parent_cycle}
    parents = {r["Id"]: r["ParentId"] for r in records}
    assert len(cycle) == 3
    assert {parents[i] for i in cycle} == cycle  # the one planted parent cycle, as served


def _page_bodies(emulator: Emulator) -> list[bytes]:
    sf = salesforce_client(emulator)
    seen: list[requests.Response] = []
    sf.session.on_response.append(seen.append)
    sf.query_all(
        "SELECT Id, Name, BillingAddress, AnnualRevenue, SystemModstamp FROM Account ORDER BY Name",
        headers={"Sforce-Query-Options": "batchSize=200"},
    )
    sf.query_all("SELECT Id, Subject, ActivityDate, WhatId FROM Task WHERE IsDeleted = false")
    list(
        sf.bulk2.Opportunity.query(
            "SELECT Id, Amount, CloseDate, StageName FROM Opportunity", max_records=500, wait=0
        )
    )
    return [r.content for r in seen if r.request.method == "GET"]


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    bodies = []
    for seed in (5, 5, 6):
        with Emulator(seed=seed, accounts=120, as_of=AS_OF) as emulator:
            bodies.append(_page_bodies(emulator))
    assert bodies[0] == bodies[1]
    assert bodies[0] != bodies[2]
    assert len(bodies[0]) >= 5


def test_mutations_show_up_through_the_apis() -> None:
    with Emulator(seed=9, accounts=150, as_of=AS_OF) as emulator:
        sf = salesforce_client(emulator)
        before = emulator.world.salesforce.now()
        summary = emulator.mutate(seed=1, advance=timedelta(hours=2))
        changed: set[str] = set()
        gone: set[str] = set()
        for table, changes in summary.changes["salesforce"].items():
            changed |= set(changes.inserted) | set(changes.updated)
            gone |= set(changes.soft_deleted) | set(changes.hard_deleted)
            stamp = before.strftime("%Y-%m-%dT%H:%M:%SZ")
            served = sf.query_all(f"SELECT Id FROM {table} WHERE SystemModstamp > {stamp}")[
                "records"
            ]
            assert {r["Id"] for r in served} == set(changes.inserted) | set(changes.updated), table
        end = emulator.world.salesforce.now() + timedelta(minutes=1)
        deleted: set[str] = set()
        for table in summary.changes["salesforce"]:
            deleted |= {
                d["id"]
                for d in sf.restful(f"sobjects/{table}/deleted/", params=_window(before, end))[
                    "deletedRecords"
                ]
            }
        assert gone <= deleted and gone
        assert changed


def _window(start: datetime, end: datetime) -> dict[str, str]:
    return {"start": start.astimezone(UTC).isoformat(), "end": end.astimezone(UTC).isoformat()}


def test_scores_write_back_for_generated_accounts(served: Emulator) -> None:
    sf = salesforce_client(served)
    ids = [r["Id"] for r in sf.query("SELECT Id FROM Account ORDER BY Id LIMIT 3")["records"]]
    records = [
        {
            "attributes": {"type": "KAM_Account_Score__c"},
            "KAM_Ext_Id__c": f"sf:{i}",
            "KAM_Account__c": i,
            "KAM_Tier__c": "key",
        }
        for i in ids
    ]
    results = sf.restful(
        "composite/sobjects/KAM_Account_Score__c/KAM_Ext_Id__c",
        method="PATCH",
        json={"records": records},
    )
    assert [r["success"] for r in results] == [True, True, True]
    assert [e.table for e in served.write_log(crm="salesforce")] == ["KAM_Account_Score__c"] * 3


def test_mutate_through_the_control_endpoint() -> None:
    with Emulator(seed=4, accounts=100, as_of=AS_OF) as emulator:
        http = session_for(emulator)
        before = emulator.world.salesforce.now()
        answer = http.post(
            f"{emulator.dynamics_url}/__emulator/mutate",
            json={
                "seed": 2,
                "advance_seconds": 600,
                "updates": 4,
                "inserts": 2,
                "soft_deletes": 1,
                "hard_deletes": 1,
            },
        )
        assert answer.status_code == 200, answer.text
        summary = answer.json()
        assert summary["seed"] == 2 and summary["count"] > 0
        assert set(summary["changes"]) == {"salesforce", "dynamics"}
        assert emulator.world.salesforce.now() == before + timedelta(seconds=600)
        inserted = {i for t in summary["changes"]["salesforce"].values() for i in t["inserted"]}
        assert inserted
