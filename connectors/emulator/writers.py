"""Writers that turn the neutral plan into records in each CRM's own shape.

:class:`SalesforceWriter` and :class:`DataverseWriter` have the same methods; the generator calls
them without knowing which org it writes to.  Rows are collected per table and bulk-loaded into
the org's :class:`~connectors.emulator.store.Store` at the end.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, Protocol

from connectors.emulator.ids import SalesforceIds, new_guid
from connectors.emulator.plan import AccountPlan, ContactPlan, UserPlan
from connectors.emulator.reference import FAMILIES, Org
from connectors.emulator.schemas import (
    DV_BUYING_ROLE_CODE,
    DV_FIELDS,
    DV_FORECAST_CODE,
    DV_INDUSTRY_CODE,
    SF_FIELDS,
)

Row = dict[str, Any]
DealStatus = Literal["won", "lost", "open"]
ActivityState = Literal["done", "open", "canceled"]
EMAIL_DOMAIN_USERS = "kamsync-demo.example"


@dataclass(slots=True)
class Deal:
    """An opportunity in neutral terms."""

    name: str
    status: DealStatus
    stage: tuple[str, int, str, str]
    amount: float
    close: date
    estimated_close: date
    type: str
    owner_id: str
    created: datetime
    modified: datetime


_FOLDED: dict[str, str] = {}


def ascii_fold(text: str) -> str:
    """``text`` without accents and spaces, lower case (for e-mail addresses)."""
    found = _FOLDED.get(text)
    if found is None:
        folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
        found = "".join(c for c in folded.lower() if c.isalnum() or c in ".-")
        if len(_FOLDED) < 100_000:
            _FOLDED[text] = found
    return found


def email_for(first: str, last: str, domain: str) -> str:
    """``first.last@domain`` in plain ASCII."""
    return f"{ascii_fold(first)}.{ascii_fold(last)}@{domain}"


def company_domain(name: str) -> str:
    """A plausible e-mail domain for a company name."""
    return ascii_fold(name.split(" ", 1)[0]) + ".example"


@dataclass(slots=True)
class Person:
    """A contact in neutral terms."""

    first: str
    last: str
    title: str | None
    role: str | None
    owner_id: str
    created: datetime
    modified: datetime


@dataclass(slots=True)
class LineItem:
    """An opportunity line in neutral terms (whole-unit prices)."""

    product_id: str
    quantity: int
    unit_price: int
    service_date: date
    created: datetime
    modified: datetime


@dataclass(slots=True)
class Touch:
    """An activity in neutral terms: call, meeting, visit, email or task."""

    kind: str
    day: date
    start: datetime
    end: datetime
    state: ActivityState
    contact: ContactPlan | None
    subject: str
    owner_id: str
    created: datetime
    modified: datetime


class OrgWriter(Protocol):
    """What the generator needs from a writer."""

    org: Org
    rows: dict[str, list[Row]]

    def new_account_id(self) -> str: ...

    def user(self, user: UserPlan, created: datetime, modified: datetime) -> str: ...

    def products(self, created: datetime) -> list[str]: ...

    def account(self, plan: AccountPlan, created: datetime, modified: datetime) -> Row: ...

    def contact(self, plan: AccountPlan | None, person: Person) -> str: ...

    def opportunity(self, plan: AccountPlan, deal: Deal) -> str: ...

    def line(self, opportunity_id: str, line: LineItem) -> str: ...

    def contact_role(
        self, opportunity_id: str, contact: ContactPlan, role: str, primary: bool, created: datetime
    ) -> str | None: ...

    def activity(self, plan: AccountPlan, touch: Touch) -> tuple[str, str]: ...


# ----------------------------------------------------------------------------- Salesforce

_SF_TASK_KIND = {"call": ("Call", "Call"), "email": ("Email", "Email"), "task": ("Task", "Other")}
_SF_EVENT_KIND = {"meeting": "Meeting", "visit": "Visit"}
_SF_OPEN_STATUS = {"open": "Not Started", "canceled": "Deferred"}


class SalesforceWriter:
    """Writes Salesforce-shaped rows (API field names, 18-character ids)."""

    org: Org = "salesforce"

    def __init__(self, ids: SalesforceIds, rng: random.Random) -> None:
        self.ids = ids
        self.rng = rng
        self.rows: dict[str, list[Row]] = {
            name: []
            for name in (
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
        }
        self._tasks = self.rows["Task"]
        self._events = self.rows["Event"]
        self._lines = self.rows["OpportunityLineItem"]
        self._opportunities = self.rows["Opportunity"]

    def new_account_id(self) -> str:
        """Allocate an Account id (ids are allocated before rows, so parents can loop)."""
        return self.ids.new("Account")

    @staticmethod
    def _system(record_id: str, created: datetime, modified: datetime) -> Row:
        return {
            "Id": record_id,
            "IsDeleted": False,
            "CreatedDate": created,
            "LastModifiedDate": modified,
            "SystemModstamp": modified,
        }

    def user(self, user: UserPlan, created: datetime, modified: datetime) -> str:
        """A User row."""
        user.id = self.ids.new("User")
        row = self._system(user.id, created, modified)
        row.update(
            Name=user.name,
            FirstName=user.first,
            LastName=user.last,
            Username=email_for(
                user.first, user.last, f"{ascii_fold(user.id[-6:])}.{EMAIL_DOMAIN_USERS}"
            ),
            Email=email_for(user.first, user.last, EMAIL_DOMAIN_USERS),
            IsActive=user.active,
            Country=user.country.name,
        )
        row[SF_FIELDS.user_region] = user.country.region
        row[SF_FIELDS.user_territory] = user.country.territory
        self.rows["User"].append(row)
        return user.id

    def products(self, created: datetime) -> list[str]:
        """Product2 rows for the whole catalogue; ids in catalogue order."""
        ids: list[str] = []
        for family in FAMILIES:
            for product in family.products:
                record_id = self.ids.new("Product2")
                row = self._system(record_id, created, created)
                row.update(
                    Name=product.name, ProductCode=product.code, Family=family.name, IsActive=True
                )
                self.rows["Product2"].append(row)
                ids.append(record_id)
        return ids

    def account(self, plan: AccountPlan, created: datetime, modified: datetime) -> Row:
        """An Account row (custom fields left empty; planting fills them)."""
        sf = SF_FIELDS
        assert plan.owner is not None
        row = self._system(plan.id, created, modified)
        row.update(
            Name=plan.name,
            ParentId=plan.parent.id if plan.parent is not None else None,
            OwnerId=plan.owner.id,
            Industry=plan.industry,
            AnnualRevenue=plan.revenue,
            NumberOfEmployees=plan.employees,
            Type=_account_type(plan),
            BillingStreet=_street(self.rng, plan),
            BillingCity=plan.city.name,
            BillingState=plan.city.state,
            BillingPostalCode=_postal(self.rng, plan.city.postal),
            BillingCountry=plan.country.name,
        )
        row[sf.wallet_estimate] = None
        row[sf.global_match_key] = plan.duns
        for name in _sf_triage_names():
            row[name] = None
        self.rows["Account"].append(row)
        return row

    def contact(self, plan: AccountPlan | None, person: Person) -> str:
        """A Contact row (AccountId None for the orphan)."""
        record_id = self.ids.new("Contact")
        row = self._system(record_id, person.created, person.modified)
        domain = company_domain(plan.name) if plan is not None else "gmail.example"
        row.update(
            AccountId=plan.id if plan is not None else None,
            FirstName=person.first,
            LastName=person.last,
            Name=f"{person.first} {person.last}",
            Title=person.title,
            Email=email_for(person.first, person.last, domain),
            OwnerId=person.owner_id,
        )
        row[SF_FIELDS.buying_role] = person.role
        self.rows["Contact"].append(row)
        return record_id

    def opportunity(self, plan: AccountPlan, deal: Deal) -> str:
        """An Opportunity row."""
        record_id = self.ids.new("Opportunity")
        stage, probability, forecast, _step = deal.stage
        self._opportunities.append(
            {
                "Id": record_id,
                "IsDeleted": False,
                "CreatedDate": deal.created,
                "LastModifiedDate": deal.modified,
                "SystemModstamp": deal.modified,
                "AccountId": plan.id,
                "OwnerId": deal.owner_id,
                "Name": deal.name,
                "StageName": stage,
                "Amount": deal.amount,
                "Probability": float(probability),
                "IsClosed": deal.status != "open",
                "IsWon": deal.status == "won",
                "CloseDate": deal.close,
                "ForecastCategoryName": forecast,
                "Type": deal.type,
            }
        )
        return record_id

    def line(self, opportunity_id: str, line: LineItem) -> str:
        """An OpportunityLineItem row."""
        record_id = self.ids.new("OpportunityLineItem")
        self._lines.append(
            {
                "Id": record_id,
                "IsDeleted": False,
                "CreatedDate": line.created,
                "LastModifiedDate": line.modified,
                "SystemModstamp": line.modified,
                "OpportunityId": opportunity_id,
                "Product2Id": line.product_id,
                "Quantity": float(line.quantity),
                "UnitPrice": float(line.unit_price),
                "TotalPrice": float(line.quantity * line.unit_price),
                "ServiceDate": line.service_date,
            }
        )
        return record_id

    def contact_role(
        self, opportunity_id: str, contact: ContactPlan, role: str, primary: bool, created: datetime
    ) -> str | None:
        """An OpportunityContactRole row."""
        record_id = self.ids.new("OpportunityContactRole")
        row = self._system(record_id, created, created)
        row.update(OpportunityId=opportunity_id, ContactId=contact.id, Role=role, IsPrimary=primary)
        self.rows["OpportunityContactRole"].append(row)
        return record_id

    def activity(self, plan: AccountPlan, touch: Touch) -> tuple[str, str]:
        """A Task (call, email, task) or Event (meeting, visit) row; returns (table, id)."""
        if touch.kind in _SF_EVENT_KIND:
            return "Event", self._event(plan, touch)
        record_id = self.ids.new("Task")
        subtype, type_ = _SF_TASK_KIND[touch.kind]
        done = touch.state == "done"
        self._tasks.append(
            {
                "Id": record_id,
                "IsDeleted": False,
                "CreatedDate": touch.created,
                "LastModifiedDate": touch.modified,
                "SystemModstamp": touch.modified,
                "WhatId": plan.id,
                "WhoId": touch.contact.id if touch.contact is not None else None,
                "AccountId": plan.id,
                "OwnerId": touch.owner_id,
                "Subject": touch.subject,
                "TaskSubtype": subtype,
                "Type": type_,
                "ActivityDate": touch.day,
                "Status": "Completed" if done else _SF_OPEN_STATUS[touch.state],
                "Priority": "Normal",
                "IsClosed": done,
            }
        )
        return "Task", record_id

    def _event(self, plan: AccountPlan, touch: Touch) -> str:
        record_id = self.ids.new("Event")
        self._events.append(
            {
                "Id": record_id,
                "IsDeleted": False,
                "CreatedDate": touch.created,
                "LastModifiedDate": touch.modified,
                "SystemModstamp": touch.modified,
                "WhatId": plan.id,
                "WhoId": touch.contact.id if touch.contact is not None else None,
                "AccountId": plan.id,
                "OwnerId": touch.owner_id,
                "Subject": touch.subject,
                "Type": _SF_EVENT_KIND[touch.kind],
                "ActivityDate": touch.day,
                "StartDateTime": touch.start,
                "EndDateTime": touch.end,
                "DurationInMinutes": int((touch.end - touch.start).total_seconds()) // 60,
                "Location": plan.city.name if touch.kind == "visit" else None,
            }
        )
        return record_id


# ----------------------------------------------------------------------------- Dataverse

_DV_TABLE = {
    "call": "phonecall",
    "meeting": "appointment",
    "visit": "appointment",
    "email": "email",
    "task": "task",
}
# (statecode, statuscode) per table and neutral state
_DV_STATES: dict[str, dict[str, tuple[int, int]]] = {
    "phonecall": {"done": (1, 2), "open": (0, 1), "canceled": (2, 3)},
    "appointment": {"done": (1, 3), "open": (3, 5), "canceled": (2, 4)},
    "email": {"done": (1, 3), "open": (0, 1), "canceled": (2, 5)},
    "task": {"done": (1, 5), "open": (0, 2), "canceled": (2, 6)},
}
_DV_OPP_STATES: dict[DealStatus, tuple[int, int]] = {"won": (1, 3), "lost": (2, 5), "open": (0, 1)}


class DataverseWriter:
    """Writes Dataverse-shaped rows (logical names, GUIDs, option-set values)."""

    org: Org = "dynamics"

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.rows: dict[str, list[Row]] = {
            name: []
            for name in (
                "systemuser",
                "account",
                "contact",
                "product",
                "opportunity",
                "opportunityproduct",
                "phonecall",
                "appointment",
                "email",
                "task",
            )
        }

    def guid(self) -> str:
        """A new GUID from the writer's seeded generator."""
        return new_guid(self.rng)

    def new_account_id(self) -> str:
        """Allocate an account id."""
        return self.guid()

    @staticmethod
    def _system(key: str, record_id: str, created: datetime, modified: datetime) -> Row:
        return {key: record_id, "createdon": created, "modifiedon": modified, "versionnumber": 0}

    @staticmethod
    def _owned(row: Row, owner_id: str) -> None:
        row["ownerid"] = owner_id
        row["owneridtype"] = "systemuser"

    def user(self, user: UserPlan, created: datetime, modified: datetime) -> str:
        """A systemuser row."""
        user.id = self.guid()
        row = self._system("systemuserid", user.id, created, modified)
        row.update(
            fullname=user.name,
            firstname=user.first,
            lastname=user.last,
            internalemailaddress=email_for(user.first, user.last, EMAIL_DOMAIN_USERS),
            domainname=email_for(user.first, user.last, f"{user.id[:6]}.{EMAIL_DOMAIN_USERS}"),
            address1_country=user.country.name,
            isdisabled=not user.active,
        )
        row[DV_FIELDS.user_region] = user.country.region
        row[DV_FIELDS.user_territory] = user.country.territory
        self.rows["systemuser"].append(row)
        return user.id

    def products(self, created: datetime) -> list[str]:
        """Family rows (productstructure 2) and product rows pointing at them."""
        ids: list[str] = []
        for family in FAMILIES:
            family_id = self.guid()
            self.rows["product"].append(
                self._product(
                    family_id,
                    family.name,
                    number=family.code,
                    structure=2,
                    parent=None,
                    price=None,
                    created=created,
                )
            )
            for product in family.products:
                product_id = self.guid()
                self.rows["product"].append(
                    self._product(
                        product_id,
                        product.name,
                        number=product.code,
                        structure=1,
                        parent=family_id,
                        price=product.list_price,
                        created=created,
                    )
                )
                ids.append(product_id)
        return ids

    def _product(
        self,
        record_id: str,
        name: str,
        *,
        number: str,
        structure: int,
        parent: str | None,
        price: int | None,
        created: datetime,
    ) -> Row:
        row = self._system("productid", record_id, created, created)
        row.update(
            name=name,
            productnumber=number,
            productstructure=structure,
            parentproductid=parent,
            price=float(price) if price is not None else None,
            statecode=0,
            statuscode=1,
        )
        return row

    def account(self, plan: AccountPlan, created: datetime, modified: datetime) -> Row:
        """An account row (custom columns left empty; planting fills them)."""
        dv = DV_FIELDS
        assert plan.owner is not None
        row = self._system("accountid", plan.id, created, modified)
        row["name"] = plan.name
        row["parentaccountid"] = plan.parent.id if plan.parent is not None else None
        self._owned(row, plan.owner.id)
        row.update(
            industrycode=DV_INDUSTRY_CODE[plan.industry] if plan.industry is not None else None,
            revenue=plan.revenue,
            numberofemployees=plan.employees,
            customertypecode=8 if plan.lifecycle == "prospect" else 3,
            address1_line1=_street(self.rng, plan),
            address1_city=plan.city.name,
            address1_stateorprovince=plan.city.state,
            address1_postalcode=_postal(self.rng, plan.city.postal),
            address1_country=plan.country.name,
            statecode=0,
            statuscode=1,
        )
        row[dv.wallet_estimate] = None
        row[dv.global_match_key] = plan.duns
        for name in _dv_triage_names():
            row[name] = None
        self.rows["account"].append(row)
        return row

    def contact(self, plan: AccountPlan | None, person: Person) -> str:
        """A contact row (parentcustomerid None for the orphan)."""
        record_id = self.guid()
        row = self._system("contactid", record_id, person.created, person.modified)
        domain = company_domain(plan.name) if plan is not None else "gmail.example"
        row.update(
            parentcustomerid=plan.id if plan is not None else None,
            parentcustomeridtype="account" if plan is not None else None,
            fullname=f"{person.first} {person.last}",
            firstname=person.first,
            lastname=person.last,
            jobtitle=person.title,
            emailaddress1=email_for(person.first, person.last, domain),
        )
        row[DV_FIELDS.buying_role] = (
            DV_BUYING_ROLE_CODE[person.role] if person.role is not None else None
        )
        self._owned(row, person.owner_id)
        row["statecode"] = 0
        row["statuscode"] = 1
        self.rows["contact"].append(row)
        return record_id

    def opportunity(self, plan: AccountPlan, deal: Deal) -> str:
        """An opportunity row: estimated value always, actual value and date once closed."""
        record_id = self.guid()
        row = self._system("opportunityid", record_id, deal.created, deal.modified)
        _stage, probability, forecast, step = deal.stage
        state, status = _DV_OPP_STATES[deal.status]
        closed = deal.status != "open"
        row["name"] = deal.name
        row["parentaccountid"] = plan.id
        row["customerid"] = plan.id
        row["customeridtype"] = "account"
        self._owned(row, deal.owner_id)
        row.update(
            estimatedvalue=deal.amount,
            actualvalue=deal.amount if deal.status == "won" else None,
            closeprobability=probability,
            estimatedclosedate=deal.estimated_close,
            actualclosedate=deal.close if closed else None,
            statecode=state,
            statuscode=status,
            stepname=step,
            msdyn_forecastcategory=DV_FORECAST_CODE["Lost" if deal.status == "lost" else forecast],
        )
        self.rows["opportunity"].append(row)
        return record_id

    def line(self, opportunity_id: str, line: LineItem) -> str:
        """An opportunityproduct row (no service date column in Dataverse)."""
        record_id = new_guid(self.rng)
        self.rows["opportunityproduct"].append(
            {
                "opportunityproductid": record_id,
                "createdon": line.created,
                "modifiedon": line.modified,
                "versionnumber": 0,
                "opportunityid": opportunity_id,
                "productid": line.product_id,
                "quantity": float(line.quantity),
                "priceperunit": float(line.unit_price),
                "extendedamount": float(line.quantity * line.unit_price),
            }
        )
        return record_id

    def contact_role(
        self, opportunity_id: str, contact: ContactPlan, role: str, primary: bool, created: datetime
    ) -> str | None:
        """Dataverse has no contact-role table in the world: nothing is written."""
        return None

    def activity(self, plan: AccountPlan, touch: Touch) -> tuple[str, str]:
        """A phonecall, appointment, email or task regarding the account or the contact."""
        table = _DV_TABLE[touch.kind]
        record_id = new_guid(self.rng)
        statecode, statuscode = _DV_STATES[table][touch.state]
        row = {
            "activityid": record_id,
            "createdon": touch.created,
            "modifiedon": touch.modified,
            "versionnumber": 0,
            "subject": touch.subject,
            "regardingobjectid": touch.contact.id if touch.contact is not None else plan.id,
            "regardingobjecttypecode": "contact" if touch.contact is not None else "account",
            "ownerid": touch.owner_id,
            "owneridtype": "systemuser",
            "scheduledstart": touch.start,
            "scheduledend": touch.end,
            "actualend": touch.end if touch.state == "done" else None,
            "statecode": statecode,
            "statuscode": statuscode,
            "activitytypecode": table,
        }
        if table in ("phonecall", "email"):
            row["directioncode"] = True
        elif table == "appointment":
            row["location"] = plan.city.name if touch.kind == "visit" else None
            row[DV_FIELDS.visit_flag] = touch.kind == "visit"
        self.rows[table].append(row)
        return table, record_id


# ----------------------------------------------------------------------------- shared helpers


def _sf_triage_names() -> tuple[str, str, str, str]:
    sf = SF_FIELDS
    return (
        sf.market_position,
        sf.innovation_orientation,
        sf.strategy_influence,
        sf.operational_complexity,
    )


def _dv_triage_names() -> tuple[str, str, str, str]:
    dv = DV_FIELDS
    return (
        dv.market_position,
        dv.innovation_orientation,
        dv.strategy_influence,
        dv.operational_complexity,
    )


def triage_names(org: Org) -> tuple[str, str, str, str]:
    """The four triage field names of ``org`` (market, innovation, strategy, complexity)."""
    return _sf_triage_names() if org == "salesforce" else _dv_triage_names()


def wallet_name(org: Org) -> str:
    """The wallet estimate field of ``org``."""
    return SF_FIELDS.wallet_estimate if org == "salesforce" else DV_FIELDS.wallet_estimate


def _account_type(plan: AccountPlan) -> str:
    if plan.lifecycle == "prospect":
        return "Prospect"
    return "Customer - Channel" if plan.index % 7 == 3 else "Customer - Direct"


def _street(rng: random.Random, plan: AccountPlan) -> str:
    from connectors.emulator.reference import STREETS

    street = rng.choice(STREETS[plan.country.culture])
    number = rng.randrange(1, 400)
    if plan.country.culture in ("de", "nl", "nordic", "it", "es", "pt"):
        return f"{street} {number}"
    return f"{number} {street}"


def _postal(rng: random.Random, pattern: str) -> str | None:
    if not pattern:
        return None
    out = []
    for char in pattern:
        if char == "#":
            out.append(chr(48 + rng.randrange(10)))
        elif char == "@":
            out.append(chr(65 + rng.randrange(26)))
        else:
            out.append(char)
    return "".join(out)
