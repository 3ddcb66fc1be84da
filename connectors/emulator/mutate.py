"""Realistic changes to a generated world, so that incremental sync can be tested.

:func:`mutate` advances both org clocks and, in each org, applies ``updates`` updates,
``inserts`` inserts, ``soft_deletes`` soft deletes and ``hard_deletes`` hard deletes through the
:class:`~connectors.emulator.store.Store` API, at instants between the old and the new clock.
The first few updates of each org happen in the same second, so they share one
``SystemModstamp`` / ``modifiedon``.  Changes are applied in time order, so change sequence and
stamps agree.

What changes:

* updates: account revenue/employees, contact titles, open opportunities moving a stage (or being
  won, with the close date set to today), line quantities (the opportunity amount follows, so two
  records change), open activities being completed;
* inserts: a new contact, a new open opportunity with one or two lines (plus a contact role in
  Salesforce), a completed call logged now, or a new prospect account;
* Salesforce soft deletes (``IsDeleted`` becomes true: tasks, events, contact roles) and hard
  deletes (purged at once); every Dataverse delete removes the row (``soft_deletes +
  hard_deletes`` of them), an opportunity taking its lines with it.

The :class:`MutationSummary` lists exactly which ids changed in which table, each id once, under
the last thing that happened to it (a record inserted and then updated counts as inserted).
The planted truth is *not* updated.  Same seed and same world state give the same changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from connectors.emulator.ids import new_guid
from connectors.emulator.plan import WorldRandom
from connectors.emulator.reference import ORGS, WON_STAGE, Org
from connectors.emulator.schemas import DV_ACTIVITY_TABLES
from connectors.emulator.store import Store
from connectors.emulator.world import World

ChangeKind = Literal["inserted", "updated", "soft_deleted", "hard_deleted"]
Keep = Callable[[dict[str, Any]], bool]
_BURST = 4
_PROBES = 64


@dataclass
class TableChanges:
    """Ids changed in one table, by kind of change."""

    inserted: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    soft_deleted: list[str] = field(default_factory=list)
    hard_deleted: list[str] = field(default_factory=list)

    def all_ids(self) -> list[str]:
        """Every changed id."""
        return [*self.inserted, *self.updated, *self.soft_deleted, *self.hard_deleted]


@dataclass
class MutationSummary:
    """What one :func:`mutate` call changed."""

    seed: int
    started: datetime
    clock: datetime
    changes: dict[str, dict[str, TableChanges]]
    shared_second: dict[str, datetime]
    shared_ids: dict[str, list[tuple[str, str]]]

    def table(self, org: str, table: str) -> TableChanges:
        """Changes of one table (empty when nothing changed there)."""
        return self.changes.get(org, {}).get(table, TableChanges())

    def count(self) -> int:
        """Number of records changed in both orgs."""
        return sum(len(t.all_ids()) for tables in self.changes.values() for t in tables.values())


class _Recorder:
    """Keeps the last change per (table, id) in first-seen order."""

    def __init__(self) -> None:
        self.last: dict[tuple[str, str], ChangeKind] = {}

    def note(self, table: str, record_id: str, kind: ChangeKind) -> None:
        previous = self.last.get((table, record_id))
        if previous == "inserted" and kind == "updated":
            return
        self.last[(table, record_id)] = kind

    def touched(self, table: str, record_id: str) -> bool:
        return (table, record_id) in self.last

    def result(self) -> dict[str, TableChanges]:
        out: dict[str, TableChanges] = {}
        for (table, record_id), kind in self.last.items():
            getattr(out.setdefault(table, TableChanges()), kind).append(record_id)
        return out


class _OrgMutator:
    """Applies one org's share of a mutation."""

    def __init__(self, world: World, org: Org, rng: WorldRandom) -> None:
        self.world = world
        self.org = org
        self.store: Store = world.store(org)
        self.rng = rng
        self.sf = org == "salesforce"
        self.log = _Recorder()
        self._key_cache: dict[str, list[str]] = {}

    # ------------------------------------------------------------------ helpers

    def _t(self, salesforce: str, dynamics: str) -> str:
        return salesforce if self.sf else dynamics

    def _keys(self, table: str) -> list[str]:
        """Ids of ``table`` in insertion order (cached for this mutation)."""
        keys = self._key_cache.get(table)
        if keys is None:
            keys = self._key_cache[table] = list(self.store.table(table).rows)
        return keys

    def _usable(self, table: str, key: str, keep: Keep | None) -> bool:
        record = self.store.table(table).rows.get(key)
        return (
            record is not None
            and not record.get("IsDeleted", False)
            and not self.log.touched(table, key)
            and (keep is None or keep(record))
        )

    def _pick(self, table: str, keep: Keep | None = None) -> str | None:
        """A random live, untouched record of ``table`` that ``keep`` accepts, or None."""
        keys = self._keys(table)
        if not keys:
            return None
        for _ in range(_PROBES):
            key = self.rng.choice(keys)
            if self._usable(table, key, keep):
                return key
        start = int(self.rng.random() * len(keys))
        for offset in range(len(keys)):
            key = keys[(start + offset) % len(keys)]
            if self._usable(table, key, keep):
                return key
        return None

    def _new_id(self, sobject: str) -> str:
        return self.world.sf_ids.new(sobject) if self.sf else new_guid(self.rng)

    def _template(self, table: str, record_id: str) -> dict[str, Any]:
        record = dict(self.store.table(table).rows[record_id])
        record[self._t("CreatedDate", "createdon")] = None
        return record

    def _update(self, table: str, record_id: str, changes: dict[str, Any], at: datetime) -> None:
        self.store.update(table, record_id, changes, at=at)
        self.log.note(table, record_id, "updated")

    def _insert(self, table: str, record: dict[str, Any], at: datetime) -> str:
        record_id = self.store.insert(table, record, at=at)
        self.log.note(table, record_id, "inserted")
        return record_id

    # ------------------------------------------------------------------ updates

    def update(self, at: datetime) -> bool:
        """One realistic update; False when nothing suitable was left."""
        choices = (
            self._update_account,
            self._update_contact,
            self._move_opportunity,
            self._change_line,
            self._complete_activity,
        )
        first = int(self.rng.random() * len(choices))
        return any(choices[(first + i) % len(choices)](at) for i in range(len(choices)))

    def _update_account(self, at: datetime) -> bool:
        table = self._t("Account", "account")
        record_id = self._pick(table)
        if record_id is None:
            return False
        revenue, employees = (
            self._t("AnnualRevenue", "revenue"),
            self._t("NumberOfEmployees", "numberofemployees"),
        )
        row = self.store.table(table).rows[record_id]
        factor = self.rng.uniform(0.95, 1.08)
        changes = {
            revenue: float(round((row.get(revenue) or 1e6) * factor, -3)),
            employees: max(1, round((row.get(employees) or 10) * factor)),
        }
        self._update(table, record_id, changes, at)
        return True

    def _update_contact(self, at: datetime) -> bool:
        table = self._t("Contact", "contact")
        record_id = self._pick(table)
        if record_id is None:
            return False
        title = self.rng.choice(
            ("Head of Procurement", "Director of Operations", "VP Digital", "IT Manager")
        )
        self._update(table, record_id, {self._t("Title", "jobtitle"): title}, at)
        return True

    def _move_opportunity(self, at: datetime) -> bool:
        table = self._t("Opportunity", "opportunity")
        is_open = (lambda r: not r["IsClosed"]) if self.sf else (lambda r: r["statecode"] == 0)
        record_id = self._pick(table, is_open)
        if record_id is None:
            return False
        won = self.rng.random() < 0.4
        self._update(
            table, record_id, self._won(table, record_id, at) if won else self._advanced(), at
        )
        return True

    def _won(self, table: str, record_id: str, at: datetime) -> dict[str, Any]:
        row = self.store.table(table).rows[record_id]
        today = at.date()
        if self.sf:
            return {
                "StageName": WON_STAGE[0],
                "Probability": 100.0,
                "IsClosed": True,
                "IsWon": True,
                "CloseDate": today,
                "ForecastCategoryName": "Closed",
            }
        return {
            "statecode": 1,
            "statuscode": 3,
            "closeprobability": 100,
            "actualvalue": row["estimatedvalue"],
            "actualclosedate": today,
            "stepname": WON_STAGE[3],
            "msdyn_forecastcategory": 100_000_005,
        }

    def _advanced(self) -> dict[str, Any]:
        if self.sf:
            return {
                "StageName": "Negotiation/Review",
                "Probability": 90.0,
                "ForecastCategoryName": "Commit",
            }
        return {
            "stepname": "4-Close",
            "closeprobability": 90,
            "msdyn_forecastcategory": 100_000_003,
        }

    def _change_line(self, at: datetime) -> bool:
        lines = self._t("OpportunityLineItem", "opportunityproduct")
        opportunities = self._t("Opportunity", "opportunity")
        opp_key, qty, unit, total = (
            ("OpportunityId", "Quantity", "UnitPrice", "TotalPrice")
            if self.sf
            else ("opportunityid", "quantity", "priceperunit", "extendedamount")
        )
        line_id = self._pick(lines)
        if line_id is None:
            return False
        line = self.store.table(lines).rows[line_id]
        opportunity_id = line[opp_key]
        if self.log.touched(opportunities, opportunity_id):
            return False
        quantity = float(line[qty]) + 1.0
        self._update(lines, line_id, {qty: quantity, total: quantity * float(line[unit])}, at)
        amount = sum(
            float(r[total])
            for r in self.store.table(lines).rows.values()
            if r[opp_key] == opportunity_id and not r.get("IsDeleted", False)
        )
        opportunity = self.store.table(opportunities).rows[opportunity_id]
        changes: dict[str, Any] = {"Amount": amount} if self.sf else {"estimatedvalue": amount}
        if not self.sf and opportunity["statecode"] == 1:
            changes["actualvalue"] = amount
        self._update(opportunities, opportunity_id, changes, at)
        return True

    def _complete_activity(self, at: datetime) -> bool:
        if self.sf:
            record_id = self._pick("Task", lambda r: not r["IsClosed"])
            if record_id is None:
                return False
            self._update("Task", record_id, {"Status": "Completed", "IsClosed": True}, at)
            return True
        for table in self.rng.sample(list(DV_ACTIVITY_TABLES), len(DV_ACTIVITY_TABLES)):
            record_id = self._pick(table, lambda r: r["statecode"] in (0, 3))
            if record_id is not None:
                status = {"phonecall": 2, "appointment": 3, "email": 3, "task": 5}[table]
                self._update(
                    table, record_id, {"statecode": 1, "statuscode": status, "actualend": at}, at
                )
                return True
        return False

    # ------------------------------------------------------------------ inserts

    def insert(self, at: datetime) -> bool:
        """One insert (a contact, an opportunity with lines, an activity or an account)."""
        draw = self.rng.random()
        if draw < 0.3:
            return self._insert_contact(at)
        if draw < 0.55:
            return self._insert_opportunity(at)
        if draw < 0.9:
            return self._insert_activity(at)
        return self._insert_account(at)

    def _insert_contact(self, at: datetime) -> bool:
        table = self._t("Contact", "contact")
        template_id = self._pick(
            table, lambda r: r[self._t("AccountId", "parentcustomerid")] is not None
        )
        if template_id is None:
            return False
        record = self._template(table, template_id)
        first, last = (
            self.rng.choice(("Noah", "Mia", "Lea", "Omar", "Yuki")),
            f"Newman{int(self.rng.random() * 1000)}",
        )
        record[self._t("Id", "contactid")] = self._new_id("Contact")
        if self.sf:
            record.update(
                FirstName=first,
                LastName=last,
                Name=f"{first} {last}",
                Email=f"{first}.{last}@new.example".lower(),
            )
        else:
            record.update(
                firstname=first,
                lastname=last,
                fullname=f"{first} {last}",
                emailaddress1=f"{first}.{last}@new.example".lower(),
            )
        self._insert(table, record, at)
        return True

    def _insert_opportunity(self, at: datetime) -> bool:
        table = self._t("Opportunity", "opportunity")
        lines = self._t("OpportunityLineItem", "opportunityproduct")
        template_id = self._pick(lines)
        if template_id is None:
            return False
        template_line = self.store.table(lines).rows[template_id]
        opp_key = self._t("OpportunityId", "opportunityid")
        record = self._template(table, template_line[opp_key])
        opportunity_id = self._new_id("Opportunity")
        close = (at + timedelta(days=30 + int(self.rng.random() * 120))).date()
        count = 1 + int(self.rng.random() * 2)
        unit = float(template_line[self._t("UnitPrice", "priceperunit")])
        amount = unit * 5 * count
        if self.sf:
            record.update(
                Id=opportunity_id,
                StageName="Prospecting",
                Probability=10.0,
                IsClosed=False,
                IsWon=False,
                CloseDate=close,
                ForecastCategoryName="Pipeline",
                Amount=amount,
                Name=f"{record['Name']} (follow-up)",
            )
        else:
            record.update(
                opportunityid=opportunity_id,
                statecode=0,
                statuscode=1,
                closeprobability=10,
                stepname="1-Qualify",
                msdyn_forecastcategory=100_000_001,
                estimatedvalue=amount,
                actualvalue=None,
                estimatedclosedate=close,
                actualclosedate=None,
                name=f"{record['name']} (follow-up)",
            )
        self._insert(table, record, at)
        for _ in range(count):
            line = dict(template_line)
            line[self._t("CreatedDate", "createdon")] = None
            line[self._t("Id", "opportunityproductid")] = self._new_id("OpportunityLineItem")
            line[opp_key] = opportunity_id
            line[self._t("Quantity", "quantity")] = 5.0
            line[self._t("TotalPrice", "extendedamount")] = unit * 5
            if self.sf:
                line["ServiceDate"] = close
            self._insert(lines, line, at)
        if self.sf:
            self._insert_role(opportunity_id, record["AccountId"], at)
        return True

    def _insert_role(self, opportunity_id: str, account_id: str, at: datetime) -> None:
        contact_id = self._pick("Contact", lambda r: r["AccountId"] == account_id)
        template_id = self._pick("OpportunityContactRole")
        if contact_id is None or template_id is None:
            return
        record = self._template("OpportunityContactRole", template_id)
        record.update(
            Id=self._new_id("OpportunityContactRole"),
            OpportunityId=opportunity_id,
            ContactId=contact_id,
            IsPrimary=True,
        )
        self._insert("OpportunityContactRole", record, at)

    def _insert_activity(self, at: datetime) -> bool:
        table = "Task" if self.sf else "phonecall"
        template_id = self._pick(table, (lambda r: r["TaskSubtype"] == "Call") if self.sf else None)
        if template_id is None:
            return False
        record = self._template(table, template_id)
        if self.sf:
            record.update(
                Id=self._new_id("Task"),
                Subject="Call logged just now",
                ActivityDate=at.date(),
                Status="Completed",
                IsClosed=True,
            )
        else:
            start = at - timedelta(minutes=15)
            record.update(
                activityid=self._new_id("Task"),
                subject="Call logged just now",
                scheduledstart=start,
                scheduledend=at,
                actualend=at,
                statecode=1,
                statuscode=2,
            )
        self._insert(table, record, at)
        return True

    def _insert_account(self, at: datetime) -> bool:
        table = self._t("Account", "account")
        template_id = self._pick(table)
        if template_id is None:
            return False
        record = self._template(table, template_id)
        name = f"Newco {int(self.rng.random() * 100_000)}"
        if self.sf:
            record.update(Id=self._new_id("Account"), Name=name, ParentId=None, Type="Prospect")
        else:
            record.update(
                accountid=self._new_id("Account"),
                name=name,
                parentaccountid=None,
                customertypecode=8,
            )
        self._insert(table, record, at)
        return True

    # ------------------------------------------------------------------ deletes

    def delete(self, at: datetime, *, hard: bool) -> bool:
        """Delete a Salesforce activity or contact role, or a Dataverse activity or opportunity."""
        if self.sf:
            tables = ("Task", "Event", "OpportunityContactRole")
            table = self.rng.choice(tables)
            record_id = self._pick(table)
            if record_id is None:
                return False
            self.store.delete(table, record_id, hard=hard, at=at)
            self.log.note(table, record_id, "hard_deleted" if hard else "soft_deleted")
            return True
        if self.rng.random() < 0.2:
            return self._delete_opportunity(at)
        table = self.rng.choice(DV_ACTIVITY_TABLES)
        record_id = self._pick(table)
        if record_id is None:
            return False
        self.store.delete(table, record_id, hard=True, at=at)
        self.log.note(table, record_id, "hard_deleted")
        return True

    def _delete_opportunity(self, at: datetime) -> bool:
        record_id = self._pick("opportunity")
        if record_id is None:
            return False
        lines = [
            k
            for k, r in self.store.table("opportunityproduct").rows.items()
            if r["opportunityid"] == record_id
        ]
        for line_id in sorted(lines):
            self.store.delete("opportunityproduct", line_id, hard=True, at=at)
            self.log.note("opportunityproduct", line_id, "hard_deleted")
        self.store.delete("opportunity", record_id, hard=True, at=at)
        self.log.note("opportunity", record_id, "hard_deleted")
        return True


def _instants(rng: WorldRandom, start: datetime, span: int, count: int) -> list[datetime]:
    """``count`` whole-second instants in ``(start, start + span]``, ascending."""
    return sorted(start + timedelta(seconds=1 + int(rng.random() * span)) for _ in range(count))


def mutate(
    world: World,
    seed: int,
    *,
    advance: timedelta = timedelta(hours=1),
    updates: int = 40,
    inserts: int = 20,
    soft_deletes: int = 5,
    hard_deletes: int = 5,
) -> MutationSummary:
    """Advance both clocks by ``advance`` and change each org (counts are per org)."""
    span = int(advance.total_seconds())
    if span < 1:
        raise ValueError("advance must be at least one second")
    if min(updates, inserts, soft_deletes, hard_deletes) < 0:
        raise ValueError("counts must not be negative")
    started = world.salesforce.clock
    changes: dict[str, dict[str, TableChanges]] = {}
    shared_second: dict[str, datetime] = {}
    shared_ids: dict[str, list[tuple[str, str]]] = {}
    for org in ORGS:
        store = world.store(org)
        rng = WorldRandom(f"kamsync-mutate/{seed}/{org}/{store.seq}/{world.mutations}")
        begin = store.clock
        store.advance(advance)
        mutator = _OrgMutator(world, org, rng)
        burst = begin + timedelta(seconds=1 + int(rng.random() * span))
        ops = _plan(
            rng,
            begin=begin,
            span=span,
            burst=burst,
            updates=updates,
            inserts=inserts,
            soft_deletes=soft_deletes,
            hard_deletes=hard_deletes,
            org=org,
        )
        for at, op in ops:
            _apply(mutator, op, at)
        changes[org] = mutator.log.result()
        shared_second[org] = burst
        shared_ids[org] = [
            (table, key)
            for (table, key), kind in mutator.log.last.items()
            if kind != "hard_deleted"
            and store.table(table).rows.get(key, {}).get(_stamp(org)) == burst
        ]
    world.mutations += 1
    return MutationSummary(
        seed, started, world.salesforce.clock, changes, shared_second, shared_ids
    )


def _stamp(org: Org) -> str:
    return "SystemModstamp" if org == "salesforce" else "modifiedon"


def _plan(
    rng: WorldRandom,
    *,
    begin: datetime,
    span: int,
    burst: datetime,
    updates: int,
    inserts: int,
    soft_deletes: int,
    hard_deletes: int,
    org: Org,
) -> list[tuple[datetime, str]]:
    bursting = min(_BURST, updates)
    ops: list[tuple[datetime, str]] = [(burst, "update")] * bursting
    others = ["update"] * (updates - bursting) + ["insert"] * inserts
    if org == "salesforce":
        others += ["soft_delete"] * soft_deletes + ["hard_delete"] * hard_deletes
    else:
        others += ["hard_delete"] * (soft_deletes + hard_deletes)
    rng.shuffle(others)
    ops += list(zip(_instants(rng, begin, span, len(others)), others, strict=True))
    order = sorted(range(len(ops)), key=lambda i: (ops[i][0], i))
    return [ops[i] for i in order]


def _apply(mutator: _OrgMutator, op: str, at: datetime) -> None:
    if op == "update":
        mutator.update(at)
    elif op == "insert":
        mutator.insert(at)
    else:
        mutator.delete(at, hard=op == "hard_delete")
