"""A small hand-built Dataverse org and a running emulator for the Dataverse integration tests.

The org has the tables and attribute shapes of the synthetic KAM world (systemuser, account,
contact, product, opportunity, opportunityproduct and the four activity tables), with lookups,
a polymorphic ``regardingobjectid``, option sets, money, dates and date-times.  ``product`` is
marked without change tracking.  Each test module starts its own server (module scope), so the
writes and mutations of one module never change what another reads.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import msal
import pytest

from connectors.emulator.dataverse import (
    ClientCertificate,
    DataverseApp,
    DataverseCredentials,
    DataverseSettings,
    create_client_certificate,
    dataverse_urls,
)
from connectors.emulator.faults import FaultPlan
from connectors.emulator.server import EmulatorServer
from connectors.emulator.store import FieldDef, Store, TableDef
from connectors.emulator.tls import TlsFiles, create_ca
from connectors.http import CrmSession, RetryPolicy

TENANT = "7b1c1f4e-6a2d-4c51-9f0e-3d2a1b4c5d6e"
CLIENT_ID = "0f3c2b1a-9e8d-4c7b-a6f5-e4d3c2b1a090"
CLIENT_SECRET = "dv-emulator-secret-value"
AS_OF = datetime(2024, 6, 30, 12, 0, tzinfo=UTC)

INDUSTRIES = ((1, "Accounting"), (2, "Agriculture"), (3, "Consulting"), (4, "Financial"))
ROLES = ((1, "Decision Maker"), (2, "Employee"), (3, "Influencer"))
STATUS = ((0, "Open"), (1, "Won"), (2, "Lost"))
ACTIVITY_STATE = ((0, "Open"), (1, "Completed"), (2, "Canceled"))


def _guid(kind: str, number: int) -> str:
    return f"{zlib.crc32(kind.encode()):08x}-0000-4000-8000-{number:012x}"


def _stamps() -> list[FieldDef]:
    return [
        FieldDef("createdon", "DateTime", "Created On", updateable=False),
        FieldDef("modifiedon", "DateTime", "Modified On", updateable=False),
        FieldDef("versionnumber", "BigInt", "Version Number", updateable=False),
    ]


def _table(name: str, fields: list[FieldDef], **kwargs: Any) -> TableDef:
    key = f"{name}id" if name not in ACTIVITIES else "activityid"
    primary = FieldDef(key, "Uniqueidentifier", name.title(), nullable=False, updateable=False)
    return TableDef(
        name=name,
        key=key,
        label=name.title(),
        plural_label=name.title() + "s",
        fields=(primary, *fields, *_stamps()),
        **kwargs,
    )


ACTIVITIES = ("phonecall", "appointment", "email", "task")


def table_defs() -> list[TableDef]:
    """The org's tables."""
    owner = FieldDef("ownerid", "Owner", "Owner", reference_to=("systemuser",))
    activity_fields = [
        FieldDef("subject", "String", "Subject", length=200),
        FieldDef(
            "regardingobjectid",
            "Lookup",
            "Regarding",
            reference_to=("account", "contact", "opportunity"),
        ),
        FieldDef("regardingobjecttypecode", "EntityName", "Regarding Type"),
        FieldDef("scheduledstart", "DateTime", "Start"),
        FieldDef("statecode", "State", "Activity Status", options=ACTIVITY_STATE),
        owner,
    ]
    return [
        _table(
            "systemuser",
            [
                FieldDef("fullname", "String", "Full Name", length=200),
                FieldDef("address1_country", "String", "Country", length=80),
            ],
        ),
        _table(
            "account",
            [
                FieldDef("name", "String", "Account Name", length=160),
                FieldDef("parentaccountid", "Lookup", "Parent Account", reference_to=("account",)),
                FieldDef("industrycode", "Picklist", "Industry", options=INDUSTRIES),
                FieldDef("revenue", "Money", "Annual Revenue"),
                FieldDef("numberofemployees", "Integer", "Number of Employees"),
                FieldDef("address1_country", "String", "Country", length=80),
                FieldDef("kam_walletestimate", "Money", "Wallet estimate", custom=True),
                FieldDef("donotphone", "Boolean", "Do not allow Phone Calls"),
                owner,
            ],
        ),
        _table(
            "contact",
            [
                FieldDef("fullname", "String", "Full Name", length=160),
                FieldDef(
                    "parentcustomerid",
                    "Customer",
                    "Company Name",
                    reference_to=("account", "contact"),
                ),
                FieldDef("jobtitle", "String", "Job Title", length=100),
                FieldDef("accountrolecode", "Picklist", "Role", options=ROLES),
                FieldDef("emailaddress1", "String", "Email", length=100),
            ],
        ),
        _table(
            "product",
            [
                FieldDef("name", "String", "Name", length=100),
                FieldDef("kam_family", "String", "Family", length=100, custom=True),
                FieldDef("price", "Money", "List Price"),
            ],
            change_tracking=False,
        ),
        _table(
            "opportunity",
            [
                FieldDef("name", "String", "Topic", length=300),
                FieldDef("parentaccountid", "Lookup", "Account", reference_to=("account",)),
                FieldDef("estimatedvalue", "Money", "Est. Revenue"),
                FieldDef("closeprobability", "Integer", "Probability"),
                FieldDef("estimatedclosedate", "DateTime", "Est. Close Date"),
                FieldDef("statecode", "State", "Status", options=STATUS),
                owner,
            ],
            entity_set="opportunities",
        ),
        _table(
            "opportunityproduct",
            [
                FieldDef("opportunityid", "Lookup", "Opportunity", reference_to=("opportunity",)),
                FieldDef("productid", "Lookup", "Product", reference_to=("product",)),
                FieldDef("quantity", "Decimal", "Quantity"),
                FieldDef("priceperunit", "Money", "Price Per Unit"),
                FieldDef("extendedamount", "Money", "Extended Amount"),
            ],
        ),
        *(_table(name, list(activity_fields)) for name in ACTIVITIES),
    ]


def build_store(accounts: int = 30, seed: int = 7) -> Store:
    """A small, deterministic org."""
    rng = random.Random(seed)
    store = Store("dynamics", AS_OF - timedelta(days=400))
    for definition in table_defs():
        store.add_table(definition)
    users = [_guid("user", i) for i in range(3)]
    for i, user in enumerate(users):
        store.insert("systemuser", {"systemuserid": user, "fullname": f"Manager {i}"})
    account_ids = [_guid("account", i) for i in range(accounts)]
    for i, account in enumerate(account_ids):
        store.insert(
            "account",
            {
                "accountid": account,
                "name": f"Account {i:03d}" if i != 5 else "O'Brien & Sons",
                "parentaccountid": account_ids[i // 4] if i >= 4 and i % 3 == 0 else None,
                "industrycode": INDUSTRIES[i % 4][0] if i % 7 else None,
                "revenue": float(round(rng.lognormvariate(14, 1.2), 2)),
                "numberofemployees": rng.randint(5, 5000),
                "address1_country": ("Japan", "Australia", "Germany", "India")[i % 4],
                "kam_walletestimate": 2_000_000.0 if i % 3 == 0 else None,
                "donotphone": i % 5 == 0,
                "ownerid": users[i % 3],
            },
            at=AS_OF - timedelta(days=400 - i),
        )
    for i in range(accounts + 10):
        store.insert(
            "contact",
            {
                "contactid": _guid("contact", i),
                "fullname": f"Contact {i:03d}",
                "parentcustomerid": account_ids[i % accounts],
                "jobtitle": ("CFO", "Buyer", "Engineer")[i % 3],
                "accountrolecode": ROLES[i % 3][0],
                "emailaddress1": f"contact{i}@example.com",
            },
        )
    products = [_guid("product", i) for i in range(4)]
    for i, product in enumerate(products):
        store.insert(
            "product",
            {
                "productid": product,
                "name": f"Product {i}",
                "kam_family": f"Family {i % 2}",
                "price": 100.0 * (i + 1),
            },
        )
    for i in range(accounts):
        opportunity = _guid("opportunity", i)
        store.insert(
            "opportunity",
            {
                "opportunityid": opportunity,
                "name": f"Deal {i}",
                "parentaccountid": account_ids[i],
                "estimatedvalue": 10_000.0 * (i + 1),
                "closeprobability": (10, 50, 100)[i % 3],
                "estimatedclosedate": (AS_OF - timedelta(days=30 * (i % 12))).date(),
                "statecode": STATUS[i % 3][0],
                "ownerid": users[i % 3],
            },
        )
        store.insert(
            "opportunityproduct",
            {
                "opportunityproductid": _guid("line", i),
                "opportunityid": opportunity,
                "productid": products[i % 4],
                "quantity": float(i % 5 + 1),
                "priceperunit": 100.0,
                "extendedamount": 100.0 * (i % 5 + 1),
            },
        )
    for number, name in enumerate(ACTIVITIES):
        for i in range(accounts):
            regarding, kind = (
                (account_ids[i], "account") if i % 4 else (_guid("contact", i), "contact")
            )
            store.insert(
                name,
                {
                    "activityid": _guid(name, i),
                    "subject": f"{name} {i}",
                    "regardingobjectid": regarding,
                    "regardingobjecttypecode": kind,
                    "scheduledstart": AS_OF - timedelta(days=i * 3 + number, hours=i),
                    "statecode": 1 if i % 3 else 0,
                    "ownerid": users[i % 3],
                },
            )
    return store


# ---------------------------------------------------------------------------- running server


@dataclass
class Org:
    """A running emulated org and a client that reaches it."""

    store: Store
    app: DataverseApp
    server: EmulatorServer
    tls: TlsFiles
    credentials: DataverseCredentials
    url: str
    authority: str
    session: CrmSession
    _cached: str | None = None

    @property
    def api(self) -> str:
        """The Web API root."""
        return f"{self.url}/api/data/v9.2"

    def msal_app(self, credential: Any = CLIENT_SECRET) -> msal.ConfidentialClientApplication:
        """An msal client for this org's tenant, trusting the emulator's CA."""
        return msal.ConfidentialClientApplication(
            CLIENT_ID,
            client_credential=credential,
            authority=self.authority,
            instance_discovery=False,
            http_client=self.session,
        )

    def token(self) -> str:
        """A fresh access token (client secret)."""
        result = self.msal_app().acquire_token_for_client(scopes=[f"{self.url}/.default"])
        return str(result["access_token"])

    def headers(self, token: str | None = None, prefer: str | None = None) -> dict[str, str]:
        """Authorization (and Prefer) headers."""
        if token is None:
            self._cached = self._cached or self.token()
            token = self._cached
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if prefer:
            headers["Prefer"] = prefer
        return headers


def start_org(
    tmp: Path,
    *,
    store: Store | None = None,
    settings: DataverseSettings | None = None,
    faults: str | None = None,
    certificate: str | None = None,
) -> Org:
    """Start an emulated org on loopback (stop it with ``org.server.stop()``)."""
    store = store or build_store()
    credentials = DataverseCredentials(CLIENT_ID, CLIENT_SECRET, TENANT, certificate)
    app = DataverseApp(store, credentials, FaultPlan.parse(faults, seed=3), settings=settings)
    tls = create_ca(tmp)
    server = EmulatorServer(app, tls, name="dynamics").start()
    urls = dataverse_urls(server.url, TENANT)
    session = CrmSession(ca_bundle=tls.ca_file)
    session.policy = RetryPolicy(max_retries=0)  # tests look at every 429 / 503 themselves
    return Org(store, app, server, tls, credentials, urls["url"], urls["authority"], session)


def running_org(factory: pytest.TempPathFactory, name: str, **kwargs: Any) -> Iterator[Org]:
    """Body of a module-scoped ``org`` fixture: start an org, yield it, stop it."""
    running = start_org(factory.mktemp(name), **kwargs)
    try:
        yield running
    finally:
        running.server.stop()


def client_certificate() -> ClientCertificate:
    """A fresh client certificate (key and PEM)."""
    return create_client_certificate("kamsync-tests")


def day(offset: int) -> date:
    """A date relative to the org's as-of date."""
    return (AS_OF + timedelta(days=offset)).date()
