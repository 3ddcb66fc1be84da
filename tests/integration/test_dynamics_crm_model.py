"""The unified crm model built from a Dataverse org: every live record, with its values mapped
as the crm column comments and docs/dynamics.md say (recomputed here from the emulator's own
records), and the planted truth's per-account numbers recovered from crm.*."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.emulator.emulator import Emulator
from connectors.emulator.store import Store
from connectors.emulator.world import World
from tests.crm_keys import CRM_KEYS
from tests.integration import crm_model_support as crm_model
from tests.integration.sync_support import (
    DYNAMICS,
    assert_keys_unique,
    comparable,
    query_set,
)

FORECAST = {
    100_000_001: "pipeline",
    100_000_002: "best_case",
    100_000_003: "commit",
    100_000_004: "omitted",
    100_000_005: "closed",
    100_000_006: "omitted",
}
TYPES = {"phonecall": "call", "email": "email", "task": "task"}


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Emulator, Path]]:
    yield from crm_model.synced_org(tmp_path_factory, DYNAMICS)


def _key(value: str | None) -> str | None:
    return f"dv:{value}" if value else None


def _labels(store: Store, table: str, attribute: str) -> dict[Any, str]:
    found = store.tables[table].definition.field(attribute)
    assert found is not None
    return dict(found.options)


def _day(value: date | datetime | None) -> date | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC).date()
    return value


def test_accounts_and_users(synced: tuple[Emulator, Path]) -> None:
    emulator, db = synced
    store = emulator.world.dynamics
    users = {u["systemuserid"]: u for u in store.live("systemuser")}
    industries = _labels(store, "account", "industrycode")
    expected = {
        (
            _key(a["accountid"]),
            a["name"],
            _key(a.get("parentaccountid")),
            _key(a["ownerid"]),
            industries.get(a.get("industrycode")),
            a.get("address1_country"),
            users[a["ownerid"]].get("new_region"),
            users[a["ownerid"]].get("new_territory"),
            comparable(a.get("revenue")),
            comparable(a.get("numberofemployees")),
            comparable(a.get("new_walletestimate")),
            a.get("new_globalmatchkey") or None,
            comparable(a.get("new_marketposition")),
        )
        for a in store.live("account")
    }
    assert query_set(db, crm_model.ACCOUNTS) == expected
    people = {
        (
            _key(u["systemuserid"]),
            u["fullname"],
            u.get("new_region"),
            u.get("new_territory"),
            not u["isdisabled"],
        )
        for u in store.live("systemuser")
    }
    assert (
        query_set(db, "select user_key, name, region, territory, is_active from crm.users")
        == people
    )


def test_contacts_products_opportunities_and_lines(synced: tuple[Emulator, Path]) -> None:
    emulator, db = synced
    store = emulator.world.dynamics
    role_labels = _labels(store, "contact", "new_buyingrole")
    contacts = set()
    for c in store.live("contact"):
        role = crm_model.BUYING_ROLES.get(role_labels.get(c.get("new_buyingrole"), ""))
        account = c.get("parentcustomerid") if c.get("parentcustomeridtype") == "account" else None
        contacts.add((_key(c["contactid"]), _key(account), role, role == "decision_maker"))
    assert query_set(db, crm_model.CONTACTS) == contacts
    products = {p["productid"]: p for p in store.live("product")}
    assert query_set(db, "select product_key, name, family from crm.products") == {
        (_key(i), p["name"], products[p["parentproductid"]]["name"])
        for i, p in products.items()
        if p["productstructure"] != 2
    }
    opportunities = set()
    for o in store.live("opportunity"):
        won, closed = o["statecode"] == 1, o["statecode"] in (1, 2)
        opportunities.add(
            (
                _key(o["opportunityid"]),
                _key(o["parentaccountid"]),
                comparable(o["actualvalue"] if won else o["estimatedvalue"]),
                comparable(Decimal(o["closeprobability"]) / 100),
                closed,
                won,
                o["actualclosedate"] if closed else o["estimatedclosedate"],
                o["stepname"],
                FORECAST[o["msdyn_forecastcategory"]],
            )
        )
    assert query_set(db, crm_model.OPPORTUNITIES) == opportunities
    lines = {
        (
            _key(li["opportunityproductid"]),
            _key(li["opportunityid"]),
            _key(li["productid"]),
            comparable(li["quantity"]),
            comparable(li["extendedamount"]),
        )
        for li in store.live("opportunityproduct")
    }
    assert query_set(db, crm_model.LINES) == lines


def test_activities_with_their_regarding_account_and_contact(
    synced: tuple[Emulator, Path],
) -> None:
    emulator, db = synced
    store = emulator.world.dynamics
    contact_accounts = {
        c["contactid"]: c.get("parentcustomerid")
        for c in store.live("contact")
        if c.get("parentcustomeridtype") == "account"
    }
    expected = set()
    for table in ("phonecall", "appointment", "email", "task"):
        for a in store.live(table):
            regarding, kind = a.get("regardingobjectid"), a.get("regardingobjecttypecode")
            account = regarding if kind == "account" else contact_accounts.get(regarding)
            contact = regarding if kind == "contact" else None
            if table == "appointment":
                activity_type = "visit" if a.get("new_isvisit") else "meeting"
            else:
                activity_type = TYPES[table]
            when = a.get("actualend") or a.get("scheduledend") or a.get("scheduledstart")
            expected.add(
                (
                    _key(a["activityid"]),
                    table,
                    _key(account),
                    _key(contact),
                    _key(a["ownerid"]),
                    activity_type,
                    _day(when),
                    a["statecode"] == 1,
                )
            )
    landed = query_set(
        db,
        "select activity_key, source_object, account_key, contact_key, owner_user_key, "
        "activity_type, activity_date, is_completed from crm.activities",
    )
    assert landed == expected


def test_the_planted_truth_comes_back_from_crm(synced: tuple[Emulator, Path]) -> None:
    emulator, db = synced
    world = emulator.world
    assert isinstance(world, World)
    truth = {_key(t.id): t for t in world.truth.accounts.values() if t.org == "dynamics"}
    window = crm_model.AS_OF - timedelta(days=364)
    revenue = {
        r[0]: r[1]
        for r in query_set(
            db,
            "select account_key, sum(amount) from crm.opportunities where is_won "
            f"and close_date between '{window}' and '{crm_model.AS_OF}' group by 1",
        )
    }
    last_contact = {
        r[0]: r[1]
        for r in query_set(
            db,
            "select account_key, max(activity_date) from crm.activities where is_completed "
            f"and activity_type in ('call', 'meeting', 'visit', 'email') "
            f"and activity_date <= '{crm_model.AS_OF}' group by 1",
        )
    }
    accounts = {
        r[0]: r[1:]
        for r in query_set(db, "select account_key, country, region, territory from crm.accounts")
    }
    assert truth.keys() == accounts.keys()
    for key, planted in truth.items():
        assert revenue.get(key, Decimal(0)) == comparable(round(planted.ttm_revenue, 2)), key
        assert last_contact.get(key) == planted.last_contact_date, key
        assert accounts[key] == (planted.country, planted.region, planted.territory), key


def test_every_crm_key_is_unique(synced: tuple[Emulator, Path]) -> None:
    _, db = synced
    # a Dataverse source fills no crm.opportunity_contacts
    keys = {t: k for t, k in CRM_KEYS.items() if t != "opportunity_contacts"}
    assert_keys_unique(db, "crm", keys, filled=True)
