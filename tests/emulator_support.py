"""A small, hand-built Salesforce org for emulator tests (independent of the world generator)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from simple_salesforce.exceptions import SalesforceError

from connectors.emulator.sfwrite import salesforce_id
from connectors.emulator.store import FieldDef, Store, TableDef


def error_body(error: SalesforceError) -> Any:
    """The error body simple-salesforce raised with: it keeps the decoded JSON in ``content``
    (a list of ``{"errorCode", "message"}``), though it annotates that attribute as bytes."""
    return cast(Any, error.content)


CLOCK = datetime(2024, 6, 30, 12, 0, tzinfo=UTC)
ACCOUNTS = 450
SOFT_DELETED_ACCOUNTS = 3
LIVE_ACCOUNTS = ACCOUNTS - SOFT_DELETED_ACCOUNTS

_SYSTEM = (
    FieldDef("Id", "id", "Record ID", nullable=False, updateable=False),
    FieldDef("IsDeleted", "boolean", "Deleted", nullable=False, updateable=False),
    FieldDef("CreatedDate", "datetime", "Created Date", nullable=False, updateable=False),
    FieldDef(
        "LastModifiedDate", "datetime", "Last Modified Date", nullable=False, updateable=False
    ),
    FieldDef("SystemModstamp", "datetime", "System Modstamp", nullable=False, updateable=False),
)

USER = TableDef(
    "User",
    "Id",
    "User",
    "Users",
    (*_SYSTEM, FieldDef("Name", "string", "Full Name", length=121)),
)

ACCOUNT = TableDef(
    "Account",
    "Id",
    "Account",
    "Accounts",
    (
        *_SYSTEM,
        FieldDef("Name", "string", "Account Name", nullable=False, length=255),
        FieldDef(
            "Industry",
            "picklist",
            "Industry",
            length=255,
            options=(("Banking", "Banking"), ("Retail", "Retail")),
        ),
        FieldDef("AnnualRevenue", "currency", "Annual Revenue"),
        FieldDef("NumberOfEmployees", "int", "Employees"),
        FieldDef("ParentId", "reference", "Parent Account ID", reference_to=("Account",)),
        FieldDef("OwnerId", "reference", "Owner ID", reference_to=("User",)),
        FieldDef("BillingStreet", "textarea", "Billing Street", compound="BillingAddress"),
        FieldDef("BillingCity", "string", "Billing City", length=40, compound="BillingAddress"),
        FieldDef(
            "BillingState", "string", "Billing State/Province", length=80, compound="BillingAddress"
        ),
        FieldDef(
            "BillingPostalCode",
            "string",
            "Billing Zip/Postal Code",
            length=20,
            compound="BillingAddress",
        ),
        FieldDef(
            "BillingCountry", "string", "Billing Country", length=80, compound="BillingAddress"
        ),
        FieldDef("BillingAddress", "address", "Billing Address", updateable=False),
        FieldDef("Wallet_Estimate__c", "currency", "Wallet Estimate", custom=True),
        FieldDef("Is_Key__c", "boolean", "Key Account", custom=True),
        FieldDef("Last_Review__c", "date", "Last Review", custom=True),
    ),
)

CONTACT = TableDef(
    "Contact",
    "Id",
    "Contact",
    "Contacts",
    (
        *_SYSTEM,
        FieldDef("LastName", "string", "Last Name", nullable=False, length=80),
        FieldDef("Title", "string", "Title", length=128),
        FieldDef("Email", "email", "Email", length=80),
        FieldDef("AccountId", "reference", "Account ID", reference_to=("Account",)),
    ),
)


@dataclass
class SmallWorld:
    """Stores shaped like the generated world's (``salesforce``, ``dynamics``)."""

    salesforce: Store
    dynamics: Store
    truth: dict[str, Any] = field(default_factory=dict)


def account_id(number: int) -> str:
    return salesforce_id("001", number)


def build_salesforce_store() -> Store:
    """450 accounts (3 soft-deleted, some without industry), 2 users, 60 contacts (1 purged)."""
    store = Store("salesforce", CLOCK - timedelta(days=10))
    for definition in (USER, ACCOUNT, CONTACT):
        store.add_table(definition)
    users = [salesforce_id("005", n) for n in (1, 2)]
    for number, user in enumerate(users, start=1):
        store.insert("User", {"Id": user, "Name": f"Manager {number}"})
    countries = ("Germany", "United States", "France")
    for n in range(1, ACCOUNTS + 1):
        store.insert(
            "Account",
            {
                "Id": account_id(n),
                "Name": f"Account {n:04d}" if n % 7 else f"account {n:04d} o'hara",
                "Industry": None if n % 10 == 0 else ("Banking" if n % 2 else "Retail"),
                "AnnualRevenue": float(n * 1000) if n % 11 else None,
                "NumberOfEmployees": n * 3,
                "ParentId": account_id(n // 2) if n > 1 and n % 5 == 0 else None,
                "OwnerId": users[n % 2],
                "BillingStreet": f"{n} Main Street",
                "BillingCity": "Berlin" if n % 3 == 0 else "Boston",
                "BillingState": None if n % 3 == 0 else "MA",
                "BillingPostalCode": f"{10000 + n}",
                "BillingCountry": countries[n % 3],
                "Wallet_Estimate__c": float(n * 5000) if n % 3 == 0 else None,
                "Is_Key__c": n % 4 == 0,
                "Last_Review__c": date(2024, 1, 1) + timedelta(days=n % 150),
            },
            at=CLOCK - timedelta(days=10) + timedelta(minutes=n),
        )
    for n in range(1, 61):
        store.insert(
            "Contact",
            {
                "Id": salesforce_id("003", n),
                "LastName": f"Person {n}",
                "Title": "CFO" if n % 5 == 0 else "Buyer",
                "Email": f"person{n}@example.com",
                "AccountId": account_id(n),
            },
        )
    store.advance(timedelta(days=5))
    for n in range(1, SOFT_DELETED_ACCOUNTS + 1):
        store.delete("Account", account_id(400 + n), hard=False)
    store.delete("Contact", salesforce_id("003", 60), hard=True)
    store.advance(timedelta(days=5))
    return store


def small_world() -> SmallWorld:
    """The small org plus an empty Dataverse store."""
    return SmallWorld(build_salesforce_store(), Store("dynamics", CLOCK))
