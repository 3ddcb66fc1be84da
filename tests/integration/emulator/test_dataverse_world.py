"""The generated KAM world served by the Dataverse emulator: full and incremental reads agree
with the store and with the planted truth."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from connectors.emulator.mutate import mutate
from connectors.emulator.schemas import DV_FIELDS
from connectors.emulator.world import World, generate_world
from tests.integration.emulator.dataverse_fixtures import Org, running_org

LOOKUP = "@Microsoft.Dynamics.CRM.lookuplogicalname"
NAVIGATION = "@Microsoft.Dynamics.CRM.associatednavigationproperty"


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(seed=11, accounts=400, as_of=date(2024, 6, 30))


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory, world: World) -> Iterator[Org]:
    yield from running_org(tmp_path_factory, "dv-world", store=world.dynamics)


def entity_sets(org: Org) -> dict[str, str]:
    body = org.session.get(
        f"{org.api}/EntityDefinitions",
        headers=org.headers(),
        params={"$select": "LogicalName,EntitySetName,PrimaryIdAttribute"},
    ).json()
    return {e["LogicalName"]: e["EntitySetName"] for e in body["value"]}


def read_all(org: Org, url: str, prefer: str) -> tuple[list[dict[str, Any]], str | None]:
    headers = org.headers(prefer=prefer)
    body = org.session.get(url, headers=headers).json()
    rows = list(body["value"])
    while "@odata.nextLink" in body:
        body = org.session.get(body["@odata.nextLink"], headers=headers).json()
        rows += body["value"]
    return rows, body.get("@odata.deltaLink")


def test_full_read_of_every_table_matches_the_truth(org: Org, world: World) -> None:
    counts = world.truth.counts["dynamics"]
    for table, entity_set in entity_sets(org).items():
        rows, _ = read_all(org, f"{org.api}/{entity_set}", "odata.maxpagesize=100")
        key = world.dynamics.tables[table].definition.key
        assert len(rows) == counts[table]["live"], table
        assert sorted(r[key] for r in rows) == sorted(world.dynamics.tables[table].rows), table


def test_served_accounts_carry_the_planted_values(org: Org, world: World) -> None:
    select = f"name,revenue,{DV_FIELDS.wallet_estimate},{DV_FIELDS.global_match_key},_parentaccountid_value"
    rows, _ = read_all(org, f"{org.api}/accounts?$select={select}", "odata.maxpagesize=5000")
    served = {row["accountid"]: row for row in rows}
    planted = [a for a in world.truth.accounts.values() if a.org == "dynamics"]
    assert planted
    for truth in planted:
        row = served[truth.id]
        assert row["name"] == truth.name
        assert row[DV_FIELDS.wallet_estimate] == truth.wallet_field
    parents = {a.id: a.parent_key for a in planted}
    assert any(parents.values())
    for account_id, parent_key in parents.items():
        parent = world.truth.accounts[parent_key].id if parent_key else None
        assert served[account_id]["_parentaccountid_value"] == parent


def test_lookup_annotations_on_world_records(org: Org) -> None:
    rows, _ = read_all(
        org,
        f"{org.api}/appointments?$select=subject,_regardingobjectid_value,_ownerid_value",
        'odata.include-annotations="*",odata.maxpagesize=5000',
    )
    regarding = {
        row["_regardingobjectid_value" + LOOKUP] for row in rows if row["_regardingobjectid_value"]
    }
    assert regarding <= {"account", "contact", "opportunity"}
    assert "account" in regarding
    on_account = next(r for r in rows if r.get("_regardingobjectid_value" + LOOKUP) == "account")
    assert (
        on_account["_regardingobjectid_value" + NAVIGATION]
        == "regardingobjectid_account_appointment"
    )
    assert on_account["_ownerid_value" + NAVIGATION] == "ownerid"
    assert on_account["_ownerid_value" + LOOKUP] == "systemuser"


def test_metadata_describes_every_world_table(org: Org, world: World) -> None:
    for table, definition in ((t.name, t.definition) for t in world.dynamics.tables.values()):
        body = org.session.get(
            f"{org.api}/EntityDefinitions(LogicalName='{table}')",
            headers=org.headers(),
            params={
                "$select": "LogicalName",
                "$expand": "Attributes($select=LogicalName,AttributeType)",
            },
        ).json()
        served = {a["LogicalName"]: a["AttributeType"] for a in body["Attributes"]}
        assert served == {f.name: f.type for f in definition.fields}, table


def test_incremental_sync_after_mutation_reproduces_the_store(org: Org, world: World) -> None:
    """A replica built from a tracked full read plus one delta equals the live store."""
    sets = entity_sets(org)
    replicas: dict[str, dict[str, dict[str, Any]]] = {}
    links: dict[str, str] = {}
    for table, entity_set in sets.items():
        rows, delta = read_all(
            org, f"{org.api}/{entity_set}", "odata.track-changes,odata.maxpagesize=250"
        )
        key = world.dynamics.tables[table].definition.key
        replicas[table] = {row[key]: row for row in rows}
        assert delta is not None
        links[table] = delta

    summary = mutate(world, seed=5, updates=40, inserts=20, soft_deletes=5, hard_deletes=5)
    assert summary.count() > 0

    for table in sets:
        key = world.dynamics.tables[table].definition.key
        changes, fresh = read_all(org, links[table], "odata.maxpagesize=7")
        assert fresh is not None and fresh != links[table]
        for row in changes:
            if row.get("reason") == "deleted":
                replicas[table].pop(row["id"], None)
            else:
                replicas[table][row[key]] = row
        live = world.dynamics.tables[table].rows
        assert set(replicas[table]) == set(live), table
        for record_id, row in replicas[table].items():
            assert row["@odata.etag"] == f'W/"{world.dynamics.tables[table].seqs[record_id]}"', (
                table
            )
        mutated = summary.table("dynamics", table)
        deleted = set(mutated.soft_deleted) | set(mutated.hard_deleted)
        assert {r["id"] for r in changes if r.get("reason") == "deleted"} >= deleted & set(
            mutated.all_ids()
        )
