"""The generated records have each CRM's shape and hang together."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

from config.model import DEFAULT_DYNAMICS_TABLES, DEFAULT_SALESFORCE_OBJECTS
from connectors.emulator.ids import SF_PREFIXES, is_valid_sf_id
from connectors.emulator.world import World, generate_world

SF_CUSTOM_ACCOUNT = {
    "Wallet_Estimate__c",
    "Global_DUNS__c",
    "Market_Position__c",
    "Innovation_Orientation__c",
    "Strategy_Influence__c",
    "Operational_Complexity__c",
}
DV_CUSTOM_ACCOUNT = {
    "new_walletestimate",
    "new_globalmatchkey",
    "new_marketposition",
    "new_innovationorientation",
    "new_strategyinfluence",
    "new_operationalcomplexity",
}


def test_both_orgs_have_every_default_object(world: World) -> None:
    assert set(world.salesforce.tables) == set(DEFAULT_SALESFORCE_OBJECTS)
    assert set(world.dynamics.tables) == set(DEFAULT_DYNAMICS_TABLES)
    for store in (world.salesforce, world.dynamics):
        for name, table in store.tables.items():
            assert len(table.rows) > 0, name


def test_records_carry_exactly_the_described_fields(world: World) -> None:
    for store in (world.salesforce, world.dynamics):
        for name, table in store.tables.items():
            described = {f.name for f in table.definition.fields if f.type != "address"}
            for record in table.rows.values():
                assert set(record) == described, name


def test_custom_fields_use_the_config_default_names(world: World) -> None:
    sf_account = world.salesforce.table("Account").definition
    assert {f.name for f in sf_account.fields if f.custom} == SF_CUSTOM_ACCOUNT
    dv_account = world.dynamics.table("account").definition
    assert {f.name for f in dv_account.fields if f.custom} == DV_CUSTOM_ACCOUNT
    assert world.salesforce.table("Contact").definition.field("Buying_Role__c") is not None
    assert world.salesforce.table("User").definition.field("Region__c") is not None
    assert world.salesforce.table("User").definition.field("Territory__c") is not None
    assert world.dynamics.table("contact").definition.field("new_buyingrole") is not None
    assert world.dynamics.table("systemuser").definition.field("new_region") is not None
    assert world.dynamics.table("systemuser").definition.field("new_territory") is not None
    visit = world.dynamics.table("appointment").definition.field("new_isvisit")
    assert visit is not None
    assert visit.custom


def test_billing_address_is_a_compound_field(world: World) -> None:
    definition = world.salesforce.table("Account").definition
    address = definition.field("BillingAddress")
    assert address is not None
    assert address.type == "address"
    parts = {f.name for f in definition.fields if f.compound == "BillingAddress"}
    assert parts == {
        "BillingStreet",
        "BillingCity",
        "BillingState",
        "BillingPostalCode",
        "BillingCountry",
    }


def test_option_sets_have_labels(world: World) -> None:
    industry = world.dynamics.table("account").definition.field("industrycode")
    assert industry is not None
    assert len(industry.options) >= 10
    assert all(isinstance(v, int) and label for v, label in industry.options)
    forecast = world.dynamics.table("opportunity").definition.field("msdyn_forecastcategory")
    assert forecast is not None
    assert dict(forecast.options)[100_000_005] == "Won"
    role = world.salesforce.table("Contact").definition.field("Buying_Role__c")
    assert role is not None
    assert [v for v, _ in role.options] == ["Decision Maker", "Influencer", "User", "Gatekeeper"]


def test_salesforce_ids_are_valid_with_the_right_prefix(world: World) -> None:
    for name, table in world.salesforce.tables.items():
        for key in table.rows:
            assert is_valid_sf_id(key), key
            assert key.startswith(SF_PREFIXES[name]), (name, key)


def test_references_point_at_existing_records(world: World) -> None:
    sf = world.salesforce
    accounts = set(sf.table("Account").rows)
    contacts = set(sf.table("Contact").rows)
    users = set(sf.table("User").rows)
    opportunities = set(sf.table("Opportunity").rows)
    products = set(sf.table("Product2").rows)
    for row in sf.table("Account").rows.values():
        assert row["ParentId"] is None or row["ParentId"] in accounts
        assert row["OwnerId"] in users
    orphans = [r for r in sf.table("Contact").rows.values() if r["AccountId"] is None]
    assert len(orphans) == 1
    for row in sf.table("OpportunityLineItem").rows.values():
        assert row["OpportunityId"] in opportunities
        assert row["Product2Id"] in products
    for row in sf.table("OpportunityContactRole").rows.values():
        assert row["ContactId"] in contacts
    for name in ("Task", "Event"):
        for row in sf.table(name).rows.values():
            assert row["WhatId"] == row["AccountId"]
            assert row["AccountId"] in accounts
            assert row["WhoId"] is None or row["WhoId"] in contacts
    dv = world.dynamics
    dv_accounts = set(dv.table("account").rows)
    dv_contacts = set(dv.table("contact").rows)
    for row in dv.table("opportunity").rows.values():
        assert row["parentaccountid"] in dv_accounts
        assert row["customerid"] in dv_accounts
    for name in ("phonecall", "appointment", "email", "task"):
        for row in dv.table(name).rows.values():
            target = dv_accounts if row["regardingobjecttypecode"] == "account" else dv_contacts
            assert row["regardingobjectid"] in target
            assert row["activitytypecode"] == name


def test_dataverse_products_hang_under_families(world: World) -> None:
    rows = list(world.dynamics.table("product").rows.values())
    families = {r["productid"]: r["name"] for r in rows if r["productstructure"] == 2}
    products = [r for r in rows if r["productstructure"] == 1]
    assert 8 <= len(families) <= 12
    assert all(p["parentproductid"] in families for p in products)
    sf_families = {r["Family"] for r in world.salesforce.table("Product2").rows.values()}
    assert sf_families == set(families.values())
    assert all(p["price"] > 0 for p in products)


def test_amounts_are_sums_of_lines(world: World) -> None:
    sums: Counter[str] = Counter()
    for row in world.salesforce.table("OpportunityLineItem").rows.values():
        assert row["TotalPrice"] == row["Quantity"] * row["UnitPrice"]
        if not row["IsDeleted"]:
            sums[row["OpportunityId"]] += row["TotalPrice"]
    for key, row in world.salesforce.table("Opportunity").rows.items():
        if not row["IsDeleted"]:
            assert row["Amount"] == sums[key]
            assert 0 <= row["Probability"] <= 100
    dv_sums: Counter[str] = Counter()
    for row in world.dynamics.table("opportunityproduct").rows.values():
        dv_sums[row["opportunityid"]] += row["extendedamount"]
    for key, row in world.dynamics.table("opportunity").rows.items():
        assert row["estimatedvalue"] == dv_sums[key]
        if row["statecode"] == 1:
            assert row["actualvalue"] == row["estimatedvalue"]
            assert row["actualclosedate"] is not None


def test_stamps_are_past_whole_seconds_and_some_are_shared(world: World) -> None:
    clock = datetime(2025, 6, 30, 12, tzinfo=UTC)
    assert world.salesforce.clock == clock == world.dynamics.clock
    for store, created, modified in (
        (world.salesforce, "CreatedDate", "SystemModstamp"),
        (world.dynamics, "createdon", "modifiedon"),
    ):
        stamps: Counter[datetime] = Counter()
        for table in store.tables.values():
            for row in table.rows.values():
                assert row[created] <= row[modified] < clock - timedelta(seconds=59)
                assert row[modified].microsecond == 0
                assert row[modified].tzinfo is not None
                stamps[row[modified]] += 1
        assert max(stamps.values()) >= 5
        oldest = min(stamps)
        assert oldest < clock - timedelta(days=365 * 3)


def test_dates_follow_as_of() -> None:
    later = generate_world(3, 60, date(2031, 1, 15))
    close_dates = [r["CloseDate"] for r in later.salesforce.live("Opportunity")]
    assert max(close_dates) <= date(2031, 1, 15) + timedelta(days=200)
    assert min(close_dates) >= date(2031, 1, 15) - timedelta(days=1100)
    assert generate_world(3, 60).as_of == date.today()
