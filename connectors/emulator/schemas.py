"""Table definitions of both emulated orgs, in each CRM's own names and types.

The HTTP layers serve Salesforce ``describe`` and Dataverse ``EntityDefinitions`` from these, and
the sync engine types its raw tables from what they serve.  Field names of the custom fields are
the defaults of :mod:`config.model`, so kamsync reads the emulator without any field mapping.

Conventions:

* Salesforce: every object has ``Id``, ``IsDeleted``, ``CreatedDate``, ``LastModifiedDate`` and
  ``SystemModstamp``; picklist options are ``(value, label)`` with value == label.
  ``Account.BillingAddress`` is a compound ``address`` field whose components carry
  ``compound="BillingAddress"``; records hold only the components.
* Dataverse: every table has its key, ``createdon``, ``modifiedon`` and ``versionnumber``
  (``BigInt``); lookups are stored under the attribute's logical name as a GUID string (the Web
  API renders ``_<name>_value``); polymorphic lookups (``ownerid``, ``customerid``,
  ``parentcustomerid``, ``regardingobjectid``) come with an ``EntityName`` companion
  (``owneridtype``, ``customeridtype``, ``parentcustomeridtype``, ``regardingobjecttypecode``)
  naming the target table.  Option sets are ``(int value, label)``.
"""

from __future__ import annotations

from config.model import DynamicsFields, SalesforceFields
from connectors.emulator.reference import (
    ACCOUNT_TYPES,
    BUYING_ROLES,
    CONTACT_ROLES,
    FAMILIES,
    INDUSTRIES,
    LOST_STAGE,
    OPEN_STAGES,
    OPPORTUNITY_TYPES,
    REGIONS,
    WON_STAGE,
    territories,
)
from connectors.emulator.store import FieldDef, TableDef

SF_FIELDS = SalesforceFields()
DV_FIELDS = DynamicsFields()

Options = tuple[tuple[int | str, str], ...]


def _labels(values: tuple[str, ...]) -> Options:
    return tuple((value, value) for value in values)


# ----------------------------------------------------------------------------- option sets

SF_FORECAST_CATEGORIES: tuple[str, ...] = ("Pipeline", "Best Case", "Commit", "Closed", "Omitted")
SF_STAGES: tuple[str, ...] = (*(s[0] for s in OPEN_STAGES), WON_STAGE[0], LOST_STAGE[0])
SF_TASK_SUBTYPES: tuple[str, ...] = ("Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn")
SF_TASK_TYPES: tuple[str, ...] = ("Call", "Email", "Meeting", "Other")
SF_TASK_STATUSES: tuple[str, ...] = (
    "Not Started",
    "In Progress",
    "Completed",
    "Waiting on someone else",
    "Deferred",
)
SF_EVENT_TYPES: tuple[str, ...] = ("Call", "Email", "Meeting", "Other", "Visit")
SF_PRIORITIES: tuple[str, ...] = ("High", "Normal", "Low")

DV_INDUSTRY: Options = tuple((i + 1, label) for i, label in enumerate(INDUSTRIES))
DV_INDUSTRY_CODE: dict[str, int] = {label: i + 1 for i, label in enumerate(INDUSTRIES)}
DV_BUYING_ROLE: Options = tuple((100_000_000 + i, label) for i, label in enumerate(BUYING_ROLES))
DV_BUYING_ROLE_CODE: dict[str, int] = {label: int(code) for code, label in DV_BUYING_ROLE}
DV_FORECAST: Options = (
    (100_000_001, "Pipeline"),
    (100_000_002, "Best case"),
    (100_000_003, "Committed"),
    (100_000_004, "Omitted"),
    (100_000_005, "Won"),
    (100_000_006, "Lost"),
)
# Salesforce forecast category name -> Dataverse msdyn_forecastcategory value
DV_FORECAST_CODE: dict[str, int] = {
    "Pipeline": 100_000_001,
    "Best Case": 100_000_002,
    "Commit": 100_000_003,
    "Omitted": 100_000_004,
    "Closed": 100_000_005,
    "Lost": 100_000_006,
}
DV_CUSTOMER_TYPE: Options = (
    (1, "Competitor"),
    (2, "Consultant"),
    (3, "Customer"),
    (4, "Investor"),
    (5, "Partner"),
    (6, "Influencer"),
    (7, "Press"),
    (8, "Prospect"),
    (9, "Reseller"),
    (10, "Supplier"),
    (11, "Vendor"),
    (12, "Other"),
)
DV_ACTIVE_STATE: Options = ((0, "Active"), (1, "Inactive"))
DV_ACTIVE_STATUS: Options = ((1, "Active"), (2, "Inactive"))
DV_OPPORTUNITY_STATE: Options = ((0, "Open"), (1, "Won"), (2, "Lost"))
DV_OPPORTUNITY_STATUS: Options = (
    (1, "In Progress"),
    (2, "On Hold"),
    (3, "Won"),
    (4, "Canceled"),
    (5, "Out-Sold"),
)
DV_PRODUCT_STATE: Options = ((0, "Active"), (1, "Retired"), (2, "Draft"), (3, "Under Revision"))
DV_PRODUCT_STATUS: Options = ((1, "Active"), (2, "Retired"), (0, "Draft"), (3, "Under Revision"))
DV_PRODUCT_STRUCTURE: Options = ((1, "Product"), (2, "Product Family"), (3, "Product Bundle"))
DV_ACTIVITY_STATE: dict[str, Options] = {
    "phonecall": ((0, "Open"), (1, "Completed"), (2, "Canceled")),
    "appointment": ((0, "Open"), (1, "Completed"), (2, "Canceled"), (3, "Scheduled")),
    "email": ((0, "Open"), (1, "Completed"), (2, "Canceled")),
    "task": ((0, "Open"), (1, "Completed"), (2, "Canceled")),
}
DV_ACTIVITY_STATUS: dict[str, Options] = {
    "phonecall": ((1, "Open"), (2, "Made"), (3, "Canceled"), (4, "Received")),
    "appointment": (
        (1, "Free"),
        (2, "Tentative"),
        (3, "Completed"),
        (4, "Canceled"),
        (5, "Busy"),
        (6, "Out of Office"),
    ),
    "email": (
        (1, "Draft"),
        (2, "Completed"),
        (3, "Sent"),
        (4, "Received"),
        (5, "Canceled"),
        (6, "Pending Send"),
        (7, "Sending"),
        (8, "Failed"),
    ),
    "task": (
        (2, "Not Started"),
        (3, "In Progress"),
        (4, "Waiting on someone else"),
        (7, "Deferred"),
        (5, "Completed"),
        (6, "Canceled"),
    ),
}
DV_ACTIVITY_TABLES: tuple[str, ...] = ("phonecall", "appointment", "email", "task")


# ----------------------------------------------------------------------------- helpers


def _f(
    name: str,
    type_: str,
    label: str,
    *,
    nullable: bool = True,
    custom: bool = False,
    updateable: bool = True,
    ref: tuple[str, ...] = (),
    length: int | None = None,
    options: Options = (),
    external_id: bool = False,
    compound: str | None = None,
) -> FieldDef:
    return FieldDef(
        name=name,
        type=type_,
        label=label,
        nullable=nullable,
        custom=custom,
        updateable=updateable,
        reference_to=ref,
        length=length,
        options=options,
        external_id=external_id,
        compound=compound,
    )


def _sf_id() -> FieldDef:
    return _f("Id", "id", "Record ID", nullable=False, updateable=False, length=18)


def _sf_system() -> tuple[FieldDef, ...]:
    return (
        _f("IsDeleted", "boolean", "Deleted", nullable=False, updateable=False),
        _f("CreatedDate", "datetime", "Created Date", nullable=False, updateable=False),
        _f("LastModifiedDate", "datetime", "Last Modified Date", nullable=False, updateable=False),
        _f("SystemModstamp", "datetime", "System Modstamp", nullable=False, updateable=False),
    )


def _sf_ref(name: str, label: str, *targets: str, nullable: bool = True) -> FieldDef:
    return _f(name, "reference", label, ref=targets, nullable=nullable, length=18)


def _sf_triage(name: str, label: str) -> FieldDef:
    return _f(name, "double", f"{label} (1-10)", custom=True)


def _sf_table(name: str, label: str, plural: str, *fields: FieldDef) -> TableDef:
    return TableDef(
        name=name,
        key="Id",
        label=label,
        plural_label=plural,
        fields=(_sf_id(), *fields, *_sf_system()),
    )


def _sf_activity(name: str, label: str, plural: str, *extra: FieldDef) -> TableDef:
    """A Task or Event: the activity fields both have, then ``extra``."""
    return _sf_table(
        name,
        label,
        plural,
        _sf_ref("WhatId", "Related To ID", "Account", "Opportunity"),
        _sf_ref("WhoId", "Name ID", "Contact", "Lead"),
        _f("AccountId", "reference", "Account ID", ref=("Account",), updateable=False, length=18),
        _sf_ref("OwnerId", "Assigned To ID", "User", nullable=False),
        _f("Subject", "string", "Subject", length=255),
        *extra,
    )


# ----------------------------------------------------------------------------- Salesforce


def salesforce_tables() -> tuple[TableDef, ...]:
    """The Salesforce objects of the world, in load order."""
    sf = SF_FIELDS
    regions = _labels(REGIONS)
    terrs = _labels(tuple(t[1] for t in territories()))
    families = _labels(tuple(f.name for f in FAMILIES))
    return (
        _sf_table(
            "User",
            "User",
            "Users",
            _f("Name", "string", "Full Name", nullable=False, updateable=False, length=121),
            _f("FirstName", "string", "First Name", length=40),
            _f("LastName", "string", "Last Name", nullable=False, length=80),
            _f("Username", "string", "Username", nullable=False, length=80),
            _f("Email", "email", "Email", nullable=False, length=128),
            _f("IsActive", "boolean", "Active", nullable=False),
            _f("Country", "string", "Country", length=80),
            _f(sf.user_region, "picklist", "Region", custom=True, options=regions),
            _f(sf.user_territory, "picklist", "Territory", custom=True, options=terrs),
        ),
        _sf_table(
            "Account",
            "Account",
            "Accounts",
            _f("Name", "string", "Account Name", nullable=False, length=255),
            _sf_ref("ParentId", "Parent Account ID", "Account"),
            _sf_ref("OwnerId", "Owner ID", "User", nullable=False),
            _f("Industry", "picklist", "Industry", options=_labels(INDUSTRIES)),
            _f("AnnualRevenue", "currency", "Annual Revenue"),
            _f("NumberOfEmployees", "int", "Employees"),
            _f("Type", "picklist", "Account Type", options=_labels(ACCOUNT_TYPES)),
            _f("BillingAddress", "address", "Billing Address", updateable=False),
            _f(
                "BillingStreet", "textarea", "Billing Street", length=255, compound="BillingAddress"
            ),
            _f("BillingCity", "string", "Billing City", length=40, compound="BillingAddress"),
            _f(
                "BillingState",
                "string",
                "Billing State/Province",
                length=80,
                compound="BillingAddress",
            ),
            _f(
                "BillingPostalCode",
                "string",
                "Billing Zip/Postal Code",
                length=20,
                compound="BillingAddress",
            ),
            _f("BillingCountry", "string", "Billing Country", length=80, compound="BillingAddress"),
            _f(sf.wallet_estimate, "currency", "Wallet Estimate", custom=True),
            _f(
                sf.global_match_key,
                "string",
                "Global D-U-N-S Number",
                custom=True,
                length=9,
                external_id=True,
            ),
            _sf_triage(sf.market_position, "Market Position"),
            _sf_triage(sf.innovation_orientation, "Innovation Orientation"),
            _sf_triage(sf.strategy_influence, "Strategy Influence"),
            _sf_triage(sf.operational_complexity, "Operational Complexity"),
        ),
        _sf_table(
            "Contact",
            "Contact",
            "Contacts",
            _sf_ref("AccountId", "Account ID", "Account"),
            _f("FirstName", "string", "First Name", length=40),
            _f("LastName", "string", "Last Name", nullable=False, length=80),
            _f("Name", "string", "Full Name", nullable=False, updateable=False, length=121),
            _f("Title", "string", "Title", length=128),
            _f("Email", "email", "Email", length=80),
            _f(
                sf.buying_role,
                "picklist",
                "Buying Role",
                custom=True,
                options=_labels(BUYING_ROLES),
            ),
            _sf_ref("OwnerId", "Owner ID", "User", nullable=False),
        ),
        _sf_table(
            "Product2",
            "Product",
            "Products",
            _f("Name", "string", "Product Name", nullable=False, length=255),
            _f("ProductCode", "string", "Product Code", length=255),
            _f("Family", "picklist", "Product Family", options=families),
            _f("IsActive", "boolean", "Active", nullable=False),
        ),
        _sf_table(
            "Opportunity",
            "Opportunity",
            "Opportunities",
            _sf_ref("AccountId", "Account ID", "Account"),
            _sf_ref("OwnerId", "Owner ID", "User", nullable=False),
            _f("Name", "string", "Name", nullable=False, length=120),
            _f("StageName", "picklist", "Stage", nullable=False, options=_labels(SF_STAGES)),
            _f("Amount", "currency", "Amount"),
            _f("Probability", "percent", "Probability (%)"),
            _f("IsClosed", "boolean", "Closed", nullable=False, updateable=False),
            _f("IsWon", "boolean", "Won", nullable=False, updateable=False),
            _f("CloseDate", "date", "Close Date", nullable=False),
            _f(
                "ForecastCategoryName",
                "picklist",
                "Forecast Category",
                options=_labels(SF_FORECAST_CATEGORIES),
            ),
            _f("Type", "picklist", "Opportunity Type", options=_labels(OPPORTUNITY_TYPES)),
        ),
        _sf_table(
            "OpportunityLineItem",
            "Opportunity Product",
            "Opportunity Product",
            _sf_ref("OpportunityId", "Opportunity ID", "Opportunity", nullable=False),
            _sf_ref("Product2Id", "Product ID", "Product2"),
            _f("Quantity", "double", "Quantity", nullable=False),
            _f("UnitPrice", "currency", "Sales Price"),
            _f("TotalPrice", "currency", "Total Price"),
            _f("ServiceDate", "date", "Date"),
        ),
        _sf_table(
            "OpportunityContactRole",
            "Opportunity Contact Role",
            "Opportunity Contact Role",
            _sf_ref("OpportunityId", "Opportunity ID", "Opportunity", nullable=False),
            _sf_ref("ContactId", "Contact ID", "Contact", nullable=False),
            _f("Role", "picklist", "Role", options=_labels(CONTACT_ROLES)),
            _f("IsPrimary", "boolean", "Primary", nullable=False),
        ),
        _sf_activity(
            "Task",
            "Task",
            "Tasks",
            _f("TaskSubtype", "picklist", "Task Subtype", options=_labels(SF_TASK_SUBTYPES)),
            _f("Type", "picklist", "Type", options=_labels(SF_TASK_TYPES)),
            _f("ActivityDate", "date", "Due Date Only"),
            _f("Status", "picklist", "Status", nullable=False, options=_labels(SF_TASK_STATUSES)),
            _f("Priority", "picklist", "Priority", nullable=False, options=_labels(SF_PRIORITIES)),
            _f("IsClosed", "boolean", "Closed", nullable=False, updateable=False),
        ),
        _sf_activity(
            "Event",
            "Event",
            "Events",
            _f("Type", "picklist", "Type", options=_labels(SF_EVENT_TYPES)),
            _f("ActivityDate", "date", "Due Date Only"),
            _f("StartDateTime", "datetime", "Start Date Time"),
            _f("EndDateTime", "datetime", "End Date Time"),
            _f("DurationInMinutes", "int", "Duration"),
            _f("Location", "string", "Location", length=255),
        ),
    )


# ----------------------------------------------------------------------------- Dataverse


def _dv_key(name: str) -> FieldDef:
    return _f(name, "Uniqueidentifier", name, nullable=False, updateable=False)


def _dv_system() -> tuple[FieldDef, ...]:
    return (
        _f("createdon", "DateTime", "Created On", updateable=False),
        _f("modifiedon", "DateTime", "Modified On", updateable=False),
        _f("versionnumber", "BigInt", "Version Number", updateable=False),
    )


def _dv_owner() -> tuple[FieldDef, ...]:
    return (
        _f("ownerid", "Owner", "Owner", nullable=False, ref=("systemuser", "team")),
        _f("owneridtype", "EntityName", "Owner Type", nullable=False, updateable=False),
    )


def _dv_state(state: Options, status: Options) -> tuple[FieldDef, ...]:
    return (
        _f("statecode", "State", "Status", nullable=False, options=state),
        _f("statuscode", "Status", "Status Reason", options=status),
    )


def _dv_triage(name: str, label: str) -> FieldDef:
    return _f(name, "Integer", f"{label} (1-10)", custom=True)


def _dv_table(
    name: str, key: str, label: str, plural: str, entity_set: str, *fields: FieldDef
) -> TableDef:
    return TableDef(
        name=name,
        key=key,
        label=label,
        plural_label=plural,
        fields=(_dv_key(key), *fields, *_dv_system()),
        entity_set=entity_set,
    )


def _dv_activity(name: str, label: str, plural: str, entity_set: str, *extra: FieldDef) -> TableDef:
    return _dv_table(
        name,
        "activityid",
        label,
        plural,
        entity_set,
        _f("subject", "String", "Subject", length=400),
        _f("regardingobjectid", "Lookup", "Regarding", ref=("account", "contact", "opportunity")),
        _f("regardingobjecttypecode", "EntityName", "Regarding Object Type"),
        *_dv_owner(),
        _f("scheduledstart", "DateTime", "Start Date"),
        _f("scheduledend", "DateTime", "Due Date"),
        _f("actualend", "DateTime", "Actual End"),
        *_dv_state(DV_ACTIVITY_STATE[name], DV_ACTIVITY_STATUS[name]),
        _f("activitytypecode", "EntityName", "Activity Type", nullable=False, updateable=False),
        *extra,
    )


def dataverse_tables() -> tuple[TableDef, ...]:
    """The Dataverse tables of the world, in load order."""
    dv = DV_FIELDS
    return (
        _dv_table(
            "systemuser",
            "systemuserid",
            "User",
            "Users",
            "systemusers",
            _f("fullname", "String", "Full Name", updateable=False, length=200),
            _f("firstname", "String", "First Name", length=64),
            _f("lastname", "String", "Last Name", nullable=False, length=64),
            _f("internalemailaddress", "String", "Primary Email", length=100),
            _f("domainname", "String", "User Name", nullable=False, length=1024),
            _f("address1_country", "String", "Country/Region", length=80),
            _f(dv.user_region, "String", "Region", custom=True, length=100),
            _f(dv.user_territory, "String", "Territory", custom=True, length=100),
            _f("isdisabled", "Boolean", "Status", nullable=False),
        ),
        _dv_table(
            "account",
            "accountid",
            "Account",
            "Accounts",
            "accounts",
            _f("name", "String", "Account Name", nullable=False, length=160),
            _f("parentaccountid", "Lookup", "Parent Account", ref=("account",)),
            *_dv_owner(),
            _f("industrycode", "Picklist", "Industry", options=DV_INDUSTRY),
            _f("revenue", "Money", "Annual Revenue"),
            _f("numberofemployees", "Integer", "Number of Employees"),
            _f("customertypecode", "Picklist", "Relationship Type", options=DV_CUSTOMER_TYPE),
            _f("address1_line1", "String", "Address 1: Street 1", length=250),
            _f("address1_city", "String", "Address 1: City", length=80),
            _f("address1_stateorprovince", "String", "Address 1: State/Province", length=50),
            _f("address1_postalcode", "String", "Address 1: ZIP/Postal Code", length=20),
            _f("address1_country", "String", "Address 1: Country/Region", length=80),
            *_dv_state(DV_ACTIVE_STATE, DV_ACTIVE_STATUS),
            _f(dv.wallet_estimate, "Money", "Wallet Estimate", custom=True),
            _f(dv.global_match_key, "String", "Global Match Key", custom=True, length=9),
            _dv_triage(dv.market_position, "Market Position"),
            _dv_triage(dv.innovation_orientation, "Innovation Orientation"),
            _dv_triage(dv.strategy_influence, "Strategy Influence"),
            _dv_triage(dv.operational_complexity, "Operational Complexity"),
        ),
        _dv_table(
            "contact",
            "contactid",
            "Contact",
            "Contacts",
            "contacts",
            _f("parentcustomerid", "Customer", "Company Name", ref=("account", "contact")),
            _f("parentcustomeridtype", "EntityName", "Company Name Type", updateable=False),
            _f("fullname", "String", "Full Name", updateable=False, length=160),
            _f("firstname", "String", "First Name", length=50),
            _f("lastname", "String", "Last Name", nullable=False, length=50),
            _f("jobtitle", "String", "Job Title", length=100),
            _f("emailaddress1", "String", "Email", length=100),
            _f(dv.buying_role, "Picklist", "Buying Role", custom=True, options=DV_BUYING_ROLE),
            *_dv_owner(),
            *_dv_state(DV_ACTIVE_STATE, DV_ACTIVE_STATUS),
        ),
        _dv_table(
            "product",
            "productid",
            "Product",
            "Products",
            "products",
            _f("name", "String", "Name", nullable=False, length=100),
            _f("productnumber", "String", "Product ID", nullable=False, length=100),
            _f("productstructure", "Picklist", "Product Structure", options=DV_PRODUCT_STRUCTURE),
            _f("parentproductid", "Lookup", "Parent", ref=("product",)),
            _f("price", "Money", "List Price"),
            *_dv_state(DV_PRODUCT_STATE, DV_PRODUCT_STATUS),
        ),
        _dv_table(
            "opportunity",
            "opportunityid",
            "Opportunity",
            "Opportunities",
            "opportunities",
            _f("name", "String", "Topic", nullable=False, length=300),
            _f("parentaccountid", "Lookup", "Account", ref=("account",)),
            _f("customerid", "Customer", "Potential Customer", ref=("account", "contact")),
            _f("customeridtype", "EntityName", "Potential Customer Type", updateable=False),
            *_dv_owner(),
            _f("estimatedvalue", "Money", "Est. Revenue"),
            _f("actualvalue", "Money", "Actual Revenue"),
            _f("closeprobability", "Integer", "Probability"),
            _f("estimatedclosedate", "DateTime", "Est. Close Date"),
            _f("actualclosedate", "DateTime", "Actual Close Date"),
            *_dv_state(DV_OPPORTUNITY_STATE, DV_OPPORTUNITY_STATUS),
            _f("stepname", "String", "Pipeline Phase", length=200),
            _f("msdyn_forecastcategory", "Picklist", "Forecast Category", options=DV_FORECAST),
        ),
        _dv_table(
            "opportunityproduct",
            "opportunityproductid",
            "Opportunity Product",
            "Opportunity Products",
            "opportunityproducts",
            _f("opportunityid", "Lookup", "Opportunity", nullable=False, ref=("opportunity",)),
            _f("productid", "Lookup", "Existing Product", ref=("product",)),
            _f("quantity", "Decimal", "Quantity"),
            _f("priceperunit", "Money", "Price Per Unit"),
            _f("extendedamount", "Money", "Extended Amount", updateable=False),
        ),
        _dv_activity(
            "phonecall",
            "Phone Call",
            "Phone Calls",
            "phonecalls",
            _f("directioncode", "Boolean", "Direction"),
        ),
        _dv_activity(
            "appointment",
            "Appointment",
            "Appointments",
            "appointments",
            _f("location", "String", "Location", length=200),
            _f(DV_FIELDS.visit_flag, "Boolean", "Is Visit", custom=True),
        ),
        _dv_activity(
            "email",
            "Email",
            "Email Messages",
            "emails",
            _f("directioncode", "Boolean", "Direction"),
        ),
        _dv_activity("task", "Task", "Tasks", "tasks"),
    )
