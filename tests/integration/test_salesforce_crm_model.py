"""The unified crm model built from a Salesforce org: every live record, with its values mapped
as the crm column comments say (recomputed here from the emulator's own records)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.emulator.emulator import Emulator
from tests.crm_keys import CRM_KEYS
from tests.integration import crm_model_support as crm_model
from tests.integration.sync_support import (
    SALESFORCE,
    assert_keys_unique,
    comparable,
    query_set,
)


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Emulator, Path]]:
    yield from crm_model.synced_org(tmp_path_factory, SALESFORCE)


def _key(value: str | None) -> str | None:
    return f"sf:{value}" if value else None


def test_accounts(synced: tuple[Emulator, Path]) -> None:
    emulator, db = synced
    store = emulator.world.salesforce
    users = {u["Id"]: u for u in store.live("User")}
    expected = {
        (
            _key(a["Id"]),
            a["Name"],
            _key(a.get("ParentId")),
            _key(a["OwnerId"]),
            a.get("Industry"),
            a.get("BillingCountry"),
            users[a["OwnerId"]].get("Region__c"),
            users[a["OwnerId"]].get("Territory__c"),
            comparable(a.get("AnnualRevenue")),
            comparable(a.get("NumberOfEmployees")),
            comparable(a.get("Wallet_Estimate__c")),
            a.get("Global_DUNS__c"),
            comparable(a.get("Market_Position__c")),
        )
        for a in store.live("Account")
    }
    assert query_set(db, crm_model.ACCOUNTS) == expected


def test_parent_cycle_is_flagged_and_others_reach_their_top(synced: tuple[Emulator, Path]) -> None:
    emulator, db = synced
    parents = {a["Id"]: a.get("ParentId") for a in emulator.world.salesforce.live("Account")}

    def top(account: str) -> str | None:
        seen = {account}
        while parents.get(account) in parents:
            account = parents[account]  # type: ignore[assignment]
            if account in seen:
                return None
            seen.add(account)
        return account

    expected = {(_key(a), _key(top(a)), top(a) is None) for a in parents}
    landed = query_set(
        db, "select account_key, ultimate_parent_key, has_parent_cycle from crm.accounts"
    )
    assert landed == expected
    assert sum(1 for _, _, cycle in landed if cycle) == 3


def test_contacts_opportunities_and_lines(synced: tuple[Emulator, Path]) -> None:
    emulator, db = synced
    store = emulator.world.salesforce
    contacts = {
        (
            _key(c["Id"]),
            _key(c.get("AccountId")),
            crm_model.BUYING_ROLES.get(c.get("Buying_Role__c") or ""),
            c.get("Buying_Role__c") == "Decision Maker",
        )
        for c in store.live("Contact")
    }
    assert query_set(db, crm_model.CONTACTS) == contacts
    categories = {
        "Pipeline": "pipeline",
        "Best Case": "best_case",
        "Commit": "commit",
        "Closed": "closed",
        "Omitted": "omitted",
    }
    opportunities = {
        (
            _key(o["Id"]),
            _key(o["AccountId"]),
            comparable(o.get("Amount")),
            comparable(Decimal(str(o["Probability"])) / 100)
            if o.get("Probability") is not None
            else None,
            o["IsClosed"],
            o["IsWon"],
            o["CloseDate"],
            o["StageName"],
            categories.get(o.get("ForecastCategoryName") or ""),
        )
        for o in store.live("Opportunity")
    }
    assert query_set(db, crm_model.OPPORTUNITIES) == opportunities
    lines = {
        (
            _key(li["Id"]),
            _key(li["OpportunityId"]),
            _key(li["Product2Id"]),
            comparable(li["Quantity"]),
            comparable(li["TotalPrice"]),
        )
        for li in store.live("OpportunityLineItem")
    }
    assert query_set(db, crm_model.LINES) == lines


def test_activities(synced: tuple[Emulator, Path]) -> None:
    emulator, db = synced
    store = emulator.world.salesforce
    now = datetime.now(UTC)
    tasks = {
        (
            _key(t["Id"]),
            _key(t.get("AccountId")),
            _key(t.get("WhoId")),
            {"Call": "call", "Email": "email"}.get(t.get("TaskSubtype") or "", "task"),
            t["ActivityDate"],
            bool(t["IsClosed"]),
        )
        for t in store.live("Task")
    }
    events = {
        (
            _key(e["Id"]),
            _key(e.get("AccountId")),
            _key(e.get("WhoId")),
            "visit" if e.get("Type") == "Visit" else "meeting",
            e["ActivityDate"],
            e["EndDateTime"] <= now,
        )
        for e in store.live("Event")
    }
    landed = query_set(
        db,
        "select activity_key, account_key, contact_key, activity_type, activity_date, is_completed "
        "from crm.activities",
    )
    assert landed == tasks | events


def test_every_crm_key_is_unique(synced: tuple[Emulator, Path]) -> None:
    _, db = synced
    assert_keys_unique(db, "crm", CRM_KEYS, filled=True)
