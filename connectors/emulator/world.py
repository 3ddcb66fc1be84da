"""The seeded synthetic KAM world behind the emulator: two orgs and the planted truth.

``generate_world(seed, accounts, as_of)`` builds one Salesforce org and one Dataverse org holding
``accounts`` customer accounts between them, plus a :class:`~connectors.emulator.truth.Truth`
saying what was planted.  Same seed, size and as-of date give byte-identical stores
(:meth:`World.fingerprint`); nothing depends on the wall clock or on hash randomisation.

Chunks
    After the plan (who exists, their ids and owners), the accounts' rows and histories are
    written in chunks of :data:`CHUNK_ACCOUNTS` consecutive accounts.  Each chunk draws from
    generators seeded by the seed and its number and takes Salesforce ids from its own block of
    sequence numbers, so a chunk is the same whichever process writes it: big worlds are written
    by this process and a forked helper together (:mod:`connectors.emulator.split`), and come out
    byte-identical to one process writing them alone.

Time
    Everything is laid out relative to ``as_of`` (default: today).  Both store clocks start at
    ``as_of`` 12:00 UTC; every created/modified stamp is a whole second at least a minute
    earlier.  Stamps spread over years for accounts and contacts, around the close date for
    opportunities, around the activity for activities; some records share one
    ``SystemModstamp`` / ``modifiedon`` second (mass updates of accounts, lines stamped with their
    opportunity).

Geography and orgs
    Region > territory > country (e.g. EMEA > DACH > Germany/Austria/Switzerland; Americas; APAC).
    The Salesforce org serves the Americas, DACH, UK & Ireland, France & Benelux and Southern
    Europe; the Dataverse org serves APAC, the Nordics and Middle East & Africa.  Account managers
    (``User`` / ``systemuser``) carry their region and territory in custom fields (about one per
    80 accounts, at least two per territory, plus one inactive user per org); accounts are owned
    by a manager of their territory.

Customers
    Groups are global groups (about 3.5%: 4-40 accounts with hierarchies in *both* orgs, all
    sharing a 9-digit D-U-N-S-like global match key), domestic hierarchies (about 12%: 2-10
    accounts in one org, up to 4 levels, half of them with a match key on every member) and
    standalone accounts (10% of them with their own match key).  Customer size (annual revenue,
    employees) is lognormal and heavy-tailed; the true wallet (the customer's yearly spend on our
    categories) is revenue x an industry intensity x noise; our yearly revenue is a
    Beta-distributed share of it, so the top fifth of groups make roughly four fifths of our
    revenue (80-88%).  About 10% of standalone accounts are prospects (never won), a few churned
    (no revenue in the last year).

Catalogue
    10 product families with 2-4 products each and whole-unit list prices.  Salesforce:
    ``Product2`` with the ``Family`` picklist.  Dataverse: each family is a ``product`` with
    ``productstructure`` = 2; products (``productstructure`` = 1) point at it with
    ``parentproductid`` and carry ``price``.

Opportunities
    Three years: won deals per year summing to the year's revenue, lost deals by the account's win
    rate, open deals closing from 20 days ago to 6 months ahead (a few overdue by up to three
    months).  Amounts are sums of line totals (quantity x unit price, whole currency units, so
    sums are exact).  Salesforce: standard stages with probability and forecast category,
    ``OpportunityLineItem``, ``OpportunityContactRole`` on about 30% of deals.  Dataverse:
    ``statecode`` 0 open / 1 won / 2 lost, ``statuscode``, ``stepname``, ``closeprobability``,
    ``msdyn_forecastcategory``, ``estimatedvalue`` always, ``actualvalue`` when won,
    ``actualclosedate`` when closed (``estimatedclosedate`` may differ from it: the close date
    of a closed deal is ``actualclosedate``), ``opportunityproduct`` lines.  Date-only columns
    (``CloseDate``, ``ActivityDate``, ``ServiceDate``, ``estimatedclosedate``,
    ``actualclosedate``) hold ``datetime.date`` values; every other time is an aware UTC
    ``datetime``.

Contacts and activities
    Contacts have titles and buying roles (Decision Maker, Influencer, User, Gatekeeper; a few
    unknown).  Each account has a rhythm: weekly, monthly, quarterly or neglected (last contact
    100+ days ago, or never); touches are calls, e-mails, meetings and visits over the last 365
    days, plus internal tasks and a few scheduled future meetings/calls for active accounts.
    Salesforce: calls/e-mails/tasks are ``Task`` (``TaskSubtype`` Call/Email/Task), meetings and
    visits ``Event`` (``Type`` Meeting/Visit), ``WhatId`` = ``AccountId`` = the account, ``WhoId``
    the contact for most touches.  Dataverse: ``phonecall``, ``email``, ``appointment`` (visit
    when ``new_isvisit``), ``task``; ``regardingobjectid`` is the account for most activities and
    a contact of it for some (``regardingobjecttypecode`` says which); completed = ``statecode``
    1, date = ``actualend``.  Past Dataverse activities are sometimes canceled or left open.

Custom fields (names are the :mod:`config.model` defaults)
    Salesforce ``Account``: ``Wallet_Estimate__c``, ``Global_DUNS__c``, ``Market_Position__c``,
    ``Innovation_Orientation__c``, ``Strategy_Influence__c``, ``Operational_Complexity__c``;
    ``Contact.Buying_Role__c``; ``User.Region__c`` / ``Territory__c``.  Dataverse ``account``:
    ``new_walletestimate``, ``new_globalmatchkey``, ``new_marketposition``,
    ``new_innovationorientation``, ``new_strategyinfluence``, ``new_operationalcomplexity``;
    ``contact.new_buyingrole``; ``systemuser.new_region`` / ``new_territory``;
    ``appointment.new_isvisit``.

Planting (see :mod:`connectors.emulator.planting`)
    *Wallets*: the wallet field holds the true wallet with about 15% noise, rounded to thousands,
    on about a third of the accounts (bigger ones more often, and every member of a group planted
    ``key``, ``growth`` or ``maintain``, so its headroom is known exactly).  *Tiers*: about 30%
    of groups get triage factors on their top accounts (every root of the group, same values):
    7-10 each (score >= 7) when the group's numbers are far from every threshold (clearly-key
    groups are considered first, they are rare), or 1-5 each (score <= 5, ``non_key``); the
    truth records the tier the rule gives.  Other groups have no triage fields.  *Health*: some
    weekly accounts are planted clearly green (contact in the last week, 5+ engaged contacts
    including every decision maker, rising activity, pipeline above revenue, growing, high win
    rate) and some neglected ones clearly red (no contact for 150+ days, nothing open, revenue
    down 60%+, low win rate); a plan is kept in the truth only if the written history meets it.

Dirty records (listed in ``truth.dirty``)
    Two accounts per org without industry, three with zero annual revenue, one orphan contact per
    org (no account), one completed call per org dated 200-400 days *after* as-of, and exactly
    one parent cycle: three German accounts in Salesforce whose ``ParentId`` links loop (no
    revenue in the last two years, no match key).  Salesforce also holds a few soft-deleted
    records (old lost opportunities with their lines and contact roles, open tasks) and Dataverse
    a few deleted ones (tombstones); none of them affects the truth numbers.
"""

from __future__ import annotations

import gc
import hashlib
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeVar

from connectors.emulator.history import Calendar, CatalogItem, HistoryWriter
from connectors.emulator.ids import SalesforceIds
from connectors.emulator.plan import (
    AccountPlan,
    ContactPlan,
    GroupPlan,
    Planner,
    UserPlan,
    WorldRandom,
)
from connectors.emulator.planting import (
    GroupMetrics,
    fill_wallets,
    group_key,
    measure,
    plant_tiers,
    settle_wallets,
    verified_health,
)
from connectors.emulator.reference import FAMILIES, FIRST_NAMES, LAST_NAMES, ORGS, Org
from connectors.emulator.schemas import dataverse_tables, salesforce_tables
from connectors.emulator.split import run_pieces, worker_count
from connectors.emulator.store import Store
from connectors.emulator.truth import AccountTruth, DirtyRecord, GroupTruth, Truth, triage_score
from connectors.emulator.writers import (
    DataverseWriter,
    OrgWriter,
    Person,
    Row,
    SalesforceWriter,
    Touch,
)

DEFAULT_SEED = 7
DEFAULT_ACCOUNTS = 2000
_PODS = ("5g", "8c", "Dn", "4x", "6F", "9a", "3k", "7Q")
_MASS_UPDATES = 3
CHUNK_ACCOUNTS = 2_000
# Salesforce sequence numbers reserved per object for each chunk (the biggest chunk of a
# 200,000-account world allocates about 40,000 Task ids)
_ID_BLOCK = 1 << 22
_NO_INDUSTRY: dict[Org, int] = {"salesforce": 2, "dynamics": 2}
_ZERO_REVENUE: dict[Org, int] = {"salesforce": 2, "dynamics": 1}
T = TypeVar("T")


@dataclass
class World:
    """Both orgs and the planted truth.

    ``sf_ids`` is the Salesforce id allocator, kept so that
    :func:`~connectors.emulator.mutate.mutate` continues the id sequences; ``mutations`` counts
    the mutations applied so far.
    """

    salesforce: Store
    dynamics: Store
    truth: Truth
    as_of: date
    seed: int
    sf_ids: SalesforceIds
    mutations: int = 0

    def store(self, org: str) -> Store:
        """The store of ``org`` (``salesforce`` or ``dynamics``)."""
        if org == "salesforce":
            return self.salesforce
        if org == "dynamics":
            return self.dynamics
        raise KeyError(org)

    def fingerprint(self) -> str:
        """sha256 over a canonical serialisation of both stores (records, sequences, tombstones)."""
        digest = hashlib.sha256()
        for org in ORGS:
            _hash_store(digest, org, self.store(org))
        return digest.hexdigest()


def _hash_store(digest: hashlib._Hash, org: str, store: Store) -> None:
    digest.update(f"{org}|{store.clock.isoformat()}|{store.seq}\n".encode())
    for name in sorted(store.tables):
        table = store.tables[name]
        fields = tuple(f.name for f in table.definition.fields if f.type != "address")
        known = frozenset(fields)
        digest.update(f"table {name} {len(table.rows)}\n".encode())
        for key in sorted(table.rows):
            record = table.rows[key]
            values = tuple(record.get(f) for f in fields)
            extra = sorted((k, v) for k, v in record.items() if k not in known)
            digest.update(repr((table.seqs.get(key), values, extra)).encode())
            digest.update(b"\n")
        for tombstone in table.tombstones:
            digest.update(repr(tombstone).encode())


# ----------------------------------------------------------------------------- generation


def generate_world(
    seed: int = DEFAULT_SEED,
    accounts: int = DEFAULT_ACCOUNTS,
    as_of: date | None = None,
    *,
    workers: int | None = None,
) -> World:
    """Generate both orgs with ``accounts`` accounts in total, as of ``as_of`` (default today).

    Worlds of fewer than three accounts have no parent cycle (it takes three accounts).
    ``workers`` (1 or 2) is how many processes write the accounts' histories; by default two
    when the world has more than one chunk of accounts and the process may fork (see
    :mod:`connectors.emulator.split`).  The world is the same either way.
    """
    if accounts < 1:
        raise ValueError("accounts must be at least 1")
    # millions of small dicts would make the cyclic collector rescan the heap again and again;
    # the generator breaks its own reference cycles before it returns, so nothing is left for
    # the collector to find (a long-running host may call gc.freeze() after this to keep later
    # collections from walking the world at all)
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _Generator(seed, accounts, as_of or date.today(), workers).run()
    finally:
        if enabled:
            gc.enable()


@dataclass(slots=True)
class _AccountHistory:
    """What writing an account's history set on its plan (the truth accumulators and row)."""

    row: Row | None
    contacts: list[ContactPlan]
    ttm: float
    prior: float
    open_pipeline: float
    won: int
    lost: int
    c30: int
    c90: int
    c180: int
    last_contact: int | None
    engaged: set[str]
    engaged_dm: set[str]

    @classmethod
    def of(cls, account: AccountPlan) -> _AccountHistory:
        return cls(
            account.row,
            account.contacts,
            account.ttm,
            account.prior,
            account.open_pipeline,
            account.won,
            account.lost,
            account.c30,
            account.c90,
            account.c180,
            account.last_contact,
            account.engaged,
            account.engaged_dm,
        )

    def apply(self, account: AccountPlan) -> None:
        """Set these values on ``account`` (a no-op when the chunk ran in this process)."""
        account.row = self.row
        account.contacts = self.contacts
        account.ttm, account.prior, account.open_pipeline = self.ttm, self.prior, self.open_pipeline
        account.won, account.lost = self.won, self.lost
        account.c30, account.c90, account.c180 = self.c30, self.c90, self.c180
        account.last_contact = self.last_contact
        account.engaged, account.engaged_dm = self.engaged, self.engaged_dm


@dataclass(slots=True)
class _Chunk:
    """The rows of up to :data:`CHUNK_ACCOUNTS` consecutive accounts and what they planted.

    A chunk draws from generators seeded by the world seed and its own number, and allocates
    Salesforce ids from its own block of sequence numbers, so it comes out the same whichever
    process writes it and whatever the other chunks do; the world is the chunks in order.
    """

    rows: dict[Org, dict[str, list[Row]]]
    accounts: list[_AccountHistory]
    old_lost: dict[str, list[tuple[str, list[str], list[str]]]]
    plain_tasks: dict[str, list[tuple[str, str]]]
    next_numbers: dict[str, int]


class _Generator:
    def __init__(self, seed: int, accounts: int, as_of: date, workers: int | None) -> None:
        self.seed = seed
        self.workers = workers
        self.total = accounts
        self.cal = Calendar(as_of)
        self.rngs = {
            name: WorldRandom(f"kamsync-world/{seed}/{name}")
            for name in ("plan", "salesforce", "dynamics", "history", "planting", "dirty")
        }
        pick = self.rngs["salesforce"]
        self.sf_ids = SalesforceIds(pick.choice(_PODS), pick.randrange(62**5, 62**6))
        self.writers: dict[Org, OrgWriter] = {
            "salesforce": SalesforceWriter(self.sf_ids, self.rngs["salesforce"]),
            "dynamics": DataverseWriter(self.rngs["dynamics"]),
        }
        self.history = HistoryWriter(self.rngs["history"], self.cal, [])
        self.dirty: list[DirtyRecord] = []
        self.excluded_groups: set[int] = set()

    def run(self) -> World:
        planner = Planner(self.rngs["plan"], self.total)
        groups = planner.plan()
        users = planner.users()
        self._write_users(users)
        self.history = HistoryWriter(self.rngs["history"], self.cal, self._write_catalog())
        self._assign(planner.accounts, users)
        self._write_accounts(planner.accounts)
        estimates = settle_wallets(self.rngs["planting"], planner.accounts)
        metrics = measure(groups)
        plant_tiers(self.rngs["planting"], metrics, estimates, self.excluded_groups)
        fill_wallets(self.rngs["planting"], planner.accounts, estimates)
        self._plant_dirty(planner.accounts)
        stores = self._load()
        self._initial_deletes(stores)
        truth = self._truth(planner.accounts, metrics, estimates, stores)
        _release(groups)
        return World(
            stores["salesforce"], stores["dynamics"], truth, self.cal.as_of, self.seed, self.sf_ids
        )

    # ------------------------------------------------------------------ users and catalogue

    def _write_users(self, users: list[UserPlan]) -> None:
        history = self.history
        for user in users:
            created = history.stamp_between(-3000, -400)
            self.writers[user.org].user(user, created, history.recent_modification(created))

    def _write_catalog(self) -> list[CatalogItem]:
        created = self.cal.past(self.rngs["history"], -1500, 9 * 3600)
        sf_ids = self.writers["salesforce"].products(created)
        dv_ids = self.writers["dynamics"].products(created)
        items = []
        position = 0
        for index, family in enumerate(FAMILIES):
            for product in family.products:
                ids = {"salesforce": sf_ids[position], "dynamics": dv_ids[position]}
                items.append(CatalogItem(index, product.list_price, ids))
                position += 1
        return items

    # ------------------------------------------------------------------ accounts

    def _assign(self, accounts: list[AccountPlan], users: list[UserPlan]) -> None:
        """Ids and owners for every account (ids first, so the cycle can close)."""
        managers: dict[tuple[str, str], list[UserPlan]] = {}
        for user in users:
            if user.active:
                managers.setdefault((user.org, user.country.territory), []).append(user)
        rng = self.rngs["plan"]
        for account in accounts:
            account.id = self.writers[account.org].new_account_id()
            account.owner = rng.choice(managers[(account.org, account.country.territory)])
        cycle = [a for a in accounts if a.group.kind == "cycle"]
        if cycle:
            cycle[0].parent = cycle[-1]

    def _write_accounts(self, accounts: list[AccountPlan]) -> None:
        """Every account's row and history, written chunk by chunk (see :class:`_Chunk`)."""
        history = self.history
        batches = {
            org: [history.stamp_between(-30, -1) for _ in range(_MASS_UPDATES)] for org in ORGS
        }
        pieces = [
            accounts[start : start + CHUNK_ACCOUNTS]
            for start in range(0, len(accounts), CHUNK_ACCOUNTS)
        ]
        workers = self.workers if self.workers is not None else worker_count(len(pieces))
        chunks = run_pieces(
            len(pieces),
            lambda index: self._write_chunk(index, pieces[index], batches),
            workers=workers,
        )
        for members, chunk in zip(pieces, chunks, strict=True):
            self._merge(members, chunk)

    def _write_chunk(
        self, index: int, accounts: list[AccountPlan], batches: dict[Org, list[datetime]]
    ) -> _Chunk:
        """The rows and truth of one chunk, drawn from the chunk's own generators and ids."""
        name = f"kamsync-world/{self.seed}/chunk/{index}"
        rng = WorldRandom(f"{name}/history")
        ids = SalesforceIds(self.sf_ids.pod, self.sf_ids.start + (index + 1) * _ID_BLOCK)
        writers: dict[Org, OrgWriter] = {
            "salesforce": SalesforceWriter(ids, WorldRandom(f"{name}/salesforce")),
            "dynamics": DataverseWriter(WorldRandom(f"{name}/dynamics")),
        }
        history = HistoryWriter(rng, self.cal, self.history.catalog)
        for account in accounts:
            writer = writers[account.org]
            created = history.stamp_between(-3650, -200)
            modified = history.recent_modification(created)
            if rng.random() < 0.03:
                modified = rng.choice(batches[account.org])
            account.row = writer.account(account, created, modified)
            history.contacts(writer, account, created)
            history.deals(writer, account)
            history.activities(writer, account)
        for sobject, number in ids.next_numbers.items():
            if number - ids.start > _ID_BLOCK:
                raise RuntimeError(f"chunk {index} ran out of {sobject} ids")
        return _Chunk(
            rows={org: writer.rows for org, writer in writers.items()},
            accounts=[_AccountHistory.of(account) for account in accounts],
            old_lost=history.old_lost,
            plain_tasks=history.plain_tasks,
            next_numbers=ids.next_numbers,
        )

    def _merge(self, accounts: list[AccountPlan], chunk: _Chunk) -> None:
        """Append a chunk's rows to the orgs' and its truth to its accounts, in chunk order."""
        for org, tables in chunk.rows.items():
            rows = self.writers[org].rows
            for table, chunk_rows in tables.items():
                rows[table].extend(chunk_rows)
        for account, written in zip(accounts, chunk.accounts, strict=True):
            written.apply(account)
        for org in ORGS:
            self.history.old_lost[org].extend(chunk.old_lost[org])
            self.history.plain_tasks[org].extend(chunk.plain_tasks[org])
        numbers = self.sf_ids.next_numbers
        for sobject, number in chunk.next_numbers.items():
            numbers[sobject] = max(numbers.get(sobject, self.sf_ids.start), number)

    # ------------------------------------------------------------------ dirty records

    def _plant_dirty(self, accounts: list[AccountPlan]) -> None:
        rng = self.rngs["dirty"]
        plain = {
            org: [
                a
                for a in accounts
                if a.org == org
                and a.group.kind == "standalone"
                and a.group.intended_tier is None
                and a.health is None
            ]
            for org in ORGS
        }
        for org in ORGS:
            for account in _take(rng, plain[org], _NO_INDUSTRY[org]):
                self._no_industry(account)
            for account in _take(rng, plain[org], _ZERO_REVENUE[org]):
                self._zero_revenue(account)
        for org in ORGS:
            self._orphan_contact(org)
            for account in _take(rng, plain[org], 1):
                self._future_activity(account)
        cycle = [a for a in accounts if a.group.kind == "cycle"]
        for account in cycle:
            self.dirty.append(
                DirtyRecord("parent_cycle", account.org, "Account", account.id, "parent links loop")
            )

    def _no_industry(self, account: AccountPlan) -> None:
        assert account.row is not None
        account.industry = None
        field_name = "Industry" if account.org == "salesforce" else "industrycode"
        account.row[field_name] = None
        table = "Account" if account.org == "salesforce" else "account"
        self.dirty.append(
            DirtyRecord("missing_industry", account.org, table, account.id, "no industry")
        )

    def _zero_revenue(self, account: AccountPlan) -> None:
        assert account.row is not None
        account.revenue = 0.0
        field_name = "AnnualRevenue" if account.org == "salesforce" else "revenue"
        account.row[field_name] = 0.0
        table = "Account" if account.org == "salesforce" else "account"
        self.dirty.append(
            DirtyRecord("zero_revenue", account.org, table, account.id, "annual revenue is 0")
        )

    def _orphan_contact(self, org: Org) -> None:
        rng = self.rngs["dirty"]
        writer = self.writers[org]
        created = self.history.stamp_between(-400, -30)
        owner = self._users_of(org)[0]
        first, last = rng.choice(FIRST_NAMES["en"]), rng.choice(LAST_NAMES["en"])
        person = Person(first, last, "Consultant", None, owner, created, created)
        contact_id = writer.contact(None, person)
        table = "Contact" if org == "salesforce" else "contact"
        self.dirty.append(
            DirtyRecord("orphan_contact", org, table, contact_id, "contact without account")
        )

    def _users_of(self, org: Org) -> list[str]:
        table = "User" if org == "salesforce" else "systemuser"
        key = "Id" if org == "salesforce" else "systemuserid"
        return [row[key] for row in self.writers[org].rows[table]]

    def _future_activity(self, account: AccountPlan) -> None:
        rng = self.rngs["dirty"]
        assert account.owner is not None
        offset = 200 + rng.randrange(200)
        start = self.cal.at(offset, 10 * 3600)
        created = self.history.stamp_between(-10, -1)
        touch = Touch(
            kind="call",
            day=self.cal.day(offset),
            start=start,
            end=start + timedelta(minutes=15),
            state="done",
            contact=None,
            subject="Call logged with a mistyped date",
            owner_id=account.owner.id,
            created=created,
            modified=created,
        )
        table, record_id = self.writers[account.org].activity(account, touch)
        self.dirty.append(
            DirtyRecord(
                "future_activity", account.org, table, record_id, "completed call dated after as-of"
            )
        )

    # ------------------------------------------------------------------ stores

    def _load(self) -> dict[Org, Store]:
        stores: dict[Org, Store] = {}
        definitions_of = {"salesforce": salesforce_tables(), "dynamics": dataverse_tables()}
        for org in ORGS:
            definitions = definitions_of[org]
            store = Store(kind=org, clock=self.cal.clock)
            rows = self.writers[org].rows
            for definition in definitions:
                store.add_table(definition)
                store.load(definition.name, rows.get(definition.name, []))
            stores[org] = store
        return stores

    def _initial_deletes(self, stores: dict[Org, Store]) -> None:
        """A few records deleted before the world starts (none of them counts in the truth)."""
        rng = self.rngs["dirty"]
        names = {
            "salesforce": ("Opportunity", "OpportunityLineItem", "OpportunityContactRole"),
            "dynamics": ("opportunity", "opportunityproduct", ""),
        }
        for org in ORGS:
            store = stores[org]
            opportunity, line, role = names[org]
            soft = org == "salesforce"
            for opportunity_id, line_ids, role_ids in _take(
                rng, list(self.history.old_lost[org]), 2
            ):
                when = self.history.stamp_between(-15, -1)
                for line_id in line_ids:
                    store.delete(line, line_id, hard=not soft, at=when)
                for role_id in role_ids:
                    store.delete(role, role_id, hard=not soft, at=when)
                store.delete(opportunity, opportunity_id, hard=not soft, at=when)
            for table, task_id in _take(rng, list(self.history.plain_tasks[org]), 3):
                store.delete(table, task_id, hard=not soft, at=self.history.stamp_between(-15, -1))

    # ------------------------------------------------------------------ truth

    def _truth(
        self,
        accounts: list[AccountPlan],
        metrics: list[GroupMetrics],
        estimates: dict[int, float],
        stores: dict[Org, Store],
    ) -> Truth:
        group_truths: dict[str, GroupTruth] = {}
        for metric in metrics:
            group_truths[metric.key] = _group_truth(metric.key, metric.group, metric.cum_before)
        account_truths = {a.key: _account_truth(self.cal.as_of, a) for a in accounts}
        counts: dict[str, dict[str, dict[str, int]]] = {
            org: {
                name: {"live": live, "deleted": gone}
                for name, (live, gone) in store.counts().items()
            }
            for org, store in stores.items()
        }
        cycle = tuple(a.key for a in accounts if a.group.kind == "cycle")
        products = {f.name: [p.name for p in f.products] for f in FAMILIES}
        del estimates
        return Truth(
            seed=self.seed,
            accounts_requested=self.total,
            as_of=self.cal.as_of,
            clock=self.cal.clock,
            accounts=account_truths,
            groups=group_truths,
            counts=counts,
            parent_cycle=cycle,
            dirty=tuple(self.dirty),
            products=products,
        )


def _release(groups: list[GroupPlan]) -> None:
    """Break the plan's reference cycles (group <-> member, the parent loop)."""
    for group in groups:
        for member in group.members:
            member.parent = None
            member.row = None
        group.members.clear()


def _take(rng: random.Random, pool: list[T], count: int) -> list[T]:
    """Remove ``count`` random items from ``pool`` and return them in pool order."""
    chosen = rng.sample(range(len(pool)), min(count, len(pool)))
    picked = [pool[i] for i in sorted(chosen)]
    for i in sorted(chosen, reverse=True):
        pool.pop(i)
    return picked


def _group_truth(key: str, group: GroupPlan, cum_before: float) -> GroupTruth:
    members = group.members
    revenue = sum(m.ttm for m in members)
    prior = sum(m.prior for m in members)
    complete = all(m.wallet_field is not None for m in members)
    room = sum(max(0.0, (m.wallet_field or 0.0) - m.ttm) for m in members) if complete else None
    triage = next((m.triage for m in members if m.triage is not None), None)
    return GroupTruth(
        key=key,
        kind=group.kind,
        global_match_key=group.duns,
        members=tuple(m.key for m in members),
        orgs=tuple(sorted({m.org for m in members})),
        ttm_revenue=revenue,
        prior_ttm_revenue=prior,
        growth=(revenue - prior) / prior if prior > 0 else None,
        headroom_crm=room,
        pareto_cum_before=cum_before,
        triage=triage,
        triage_score=triage_score(triage) if triage is not None else None,
        intended_tier=group.intended_tier,
    )


def _account_truth(as_of: date, account: AccountPlan) -> AccountTruth:
    last = account.last_contact
    return AccountTruth(
        key=account.key,
        org=account.org,
        id=account.id,
        name=account.name,
        group=group_key(account.group),
        parent_key=account.parent.key if account.parent is not None else None,
        country=account.country.name,
        region=account.country.region,
        territory=account.country.territory,
        industry=account.industry,
        ttm_revenue=account.ttm,
        prior_ttm_revenue=account.prior,
        open_pipeline=account.open_pipeline,
        won_730d=account.won,
        lost_730d=account.lost,
        true_wallet=account.wallet,
        wallet_field=account.wallet_field,
        contacts_30d=account.c30,
        contacts_90d=account.c90,
        contacts_180d=account.c180,
        last_contact_date=as_of + timedelta(days=last) if last is not None else None,
        distinct_contacts_180d=len(account.engaged),
        decision_makers=sum(1 for c in account.contacts if c.dm),
        decision_makers_engaged_180d=len(account.engaged_dm),
        rhythm=account.rhythm,
        intended_health=verified_health(account),
        triage=account.triage,
    )


__all__ = ["DEFAULT_ACCOUNTS", "DEFAULT_SEED", "World", "generate_world"]
