"""EntityDefinitions reads and creating kamsync's score table through the metadata API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.emulator.dataverse import DataverseSettings
from connectors.emulator.dataverse_model import SCORE_COLUMNS
from tests.integration.emulator.dataverse_fixtures import Org, running_org


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    yield from running_org(
        tmp_path_factory, "dv-meta", settings=DataverseSettings(create_score_table=True)
    )


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    """An org without kamsync's table, for the create flow."""
    yield from running_org(tmp_path_factory, "dv-meta-bare")


def get(org: Org, path: str, **params: str) -> Any:
    response = org.session.get(f"{org.api}/{path}", headers=org.headers(), params=params)
    return response


def label(text: str) -> dict[str, Any]:
    return {
        "@odata.type": "Microsoft.Dynamics.CRM.Label",
        "LocalizedLabels": [
            {
                "@odata.type": "Microsoft.Dynamics.CRM.LocalizedLabel",
                "Label": text,
                "LanguageCode": 1033,
            }
        ],
    }


def test_entity_definitions_list(org: Org) -> None:
    response = get(
        org,
        "EntityDefinitions",
        **{
            "$select": "LogicalName,EntitySetName,IsCustomEntity,ChangeTrackingEnabled,PrimaryIdAttribute",
            "$filter": "IsCustomEntity eq false",
        },
    )
    assert response.status_code == 200
    entities = {e["LogicalName"]: e for e in response.json()["value"]}
    assert "kam_accountscore" not in entities
    assert entities["opportunity"]["EntitySetName"] == "opportunities"
    assert entities["account"]["PrimaryIdAttribute"] == "accountid"
    assert entities["product"]["ChangeTrackingEnabled"] is False
    assert entities["contact"]["ChangeTrackingEnabled"] is True
    assert set(entities["account"]) == {
        "MetadataId",
        "LogicalName",
        "EntitySetName",
        "IsCustomEntity",
        "ChangeTrackingEnabled",
        "PrimaryIdAttribute",
    }


def test_entity_with_expanded_attributes(org: Org) -> None:
    body = get(
        org,
        "EntityDefinitions(LogicalName='account')",
        **{
            "$select": "LogicalName,EntitySetName,PrimaryNameAttribute",
            "$expand": "Attributes($select=LogicalName,SchemaName,AttributeType,AttributeTypeName,"
            "IsCustomAttribute,IsValidForUpdate,RequiredLevel;$filter=IsValidForRead eq true)",
        },
    ).json()
    assert body["@odata.context"].endswith("$metadata#EntityDefinitions/$entity")
    assert body["PrimaryNameAttribute"] == "name"
    attributes = {a["LogicalName"]: a for a in body["Attributes"]}
    assert attributes["revenue"]["AttributeType"] == "Money"
    assert attributes["revenue"]["@odata.type"] == "#Microsoft.Dynamics.CRM.MoneyAttributeMetadata"
    assert attributes["parentaccountid"]["AttributeTypeName"] == {"Value": "LookupType"}
    assert attributes["accountid"]["RequiredLevel"]["Value"] == "SystemRequired"
    assert attributes["kam_walletestimate"]["IsCustomAttribute"] is True
    assert attributes["createdon"]["IsValidForUpdate"] is False


def test_attributes_of_one_type_with_targets_and_option_sets(org: Org) -> None:
    lookups = get(
        org,
        "EntityDefinitions(LogicalName='contact')/Attributes/Microsoft.Dynamics.CRM.LookupAttributeMetadata",
        **{"$select": "LogicalName,Targets"},
    ).json()["value"]
    assert {a["LogicalName"]: a["Targets"] for a in lookups} == {
        "parentcustomerid": ["account", "contact"]
    }
    picklists = get(
        org,
        "EntityDefinitions(LogicalName='account')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
        **{"$select": "LogicalName", "$expand": "OptionSet($select=Options)"},
    ).json()["value"]
    (industry,) = picklists
    options = {
        o["Value"]: o["Label"]["UserLocalizedLabel"]["Label"]
        for o in industry["OptionSet"]["Options"]
    }
    assert options == {1: "Accounting", 2: "Agriculture", 3: "Consulting", 4: "Financial"}
    single = get(
        org,
        "EntityDefinitions(LogicalName='opportunity')/Attributes(LogicalName='statecode')"
        "/Microsoft.Dynamics.CRM.StateAttributeMetadata",
        **{"$expand": "OptionSet"},
    ).json()
    assert [o["Value"] for o in single["OptionSet"]["Options"]] == [0, 1, 2]


def test_date_only_columns_are_described(org: Org) -> None:
    attributes = get(
        org,
        "EntityDefinitions(LogicalName='opportunity')/Attributes/Microsoft.Dynamics.CRM.DateTimeAttributeMetadata",
        **{"$select": "LogicalName,Format,DateTimeBehavior"},
    ).json()["value"]
    formats = {a["LogicalName"]: a["Format"] for a in attributes}
    assert formats["estimatedclosedate"] == "DateOnly"
    assert formats["createdon"] == "DateAndTime"


RETRIEVE = "RetrieveEntity(EntityFilters=@f,LogicalName=@n,MetadataId=@m,RetrieveAsIfPublished=@p)"
EMPTY_ID = "00000000-0000-0000-0000-000000000000"


def test_retrieve_entity_gives_attributes_formats_and_option_sets_in_one_request(
    org: Org,
) -> None:
    response = get(
        org,
        RETRIEVE,
        **{
            "@f": "Microsoft.Dynamics.CRM.EntityFilters'Attributes'",
            "@n": "'opportunity'",
            "@m": EMPTY_ID,
            "@p": "false",
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"].endswith(
        "$metadata#Microsoft.Dynamics.CRM.RetrieveEntityResponse"
    )
    entity = body["EntityMetadata"]
    assert entity["@odata.type"] == "#Microsoft.Dynamics.CRM.ComplexEntityMetadata"
    assert (entity["EntitySetName"], entity["PrimaryIdAttribute"]) == (
        "opportunities",
        "opportunityid",
    )
    attributes = {a["LogicalName"]: a for a in entity["Attributes"]}
    close = attributes["estimatedclosedate"]
    assert close["@odata.type"] == "#Microsoft.Dynamics.CRM.ComplexDateTimeAttributeMetadata"
    assert (close["Format"], attributes["createdon"]["Format"]) == ("DateOnly", "DateAndTime")
    state = attributes["statecode"]
    assert state["@odata.type"] == "#Microsoft.Dynamics.CRM.ComplexStateAttributeMetadata"
    assert [o["Value"] for o in state["OptionSet"]["Options"]] == [0, 1, 2]
    assert "OptionSet" not in attributes["name"]


def test_retrieve_entity_parameters_inline_entity_only_and_errors(org: Org) -> None:
    inline = get(
        org,
        "RetrieveEntity(EntityFilters=Microsoft.Dynamics.CRM.EntityFilters'Entity',"
        f"LogicalName='account',MetadataId={EMPTY_ID},RetrieveAsIfPublished=false)",
    ).json()["EntityMetadata"]
    assert inline["LogicalName"] == "account" and "Attributes" not in inline
    missing = get(
        org,
        "RetrieveEntity(EntityFilters=Microsoft.Dynamics.CRM.EntityFilters'Attributes',"
        f"LogicalName='nosuchtable',MetadataId={EMPTY_ID},RetrieveAsIfPublished=false)",
    )
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "0x80040217"
    unknown = get(
        org,
        "RetrieveEntity(EntityFilters=Microsoft.Dynamics.CRM.EntityFilters'Everything',"
        f"LogicalName='account',MetadataId={EMPTY_ID},RetrieveAsIfPublished=false)",
    )
    assert unknown.status_code == 400
    alias = get(org, RETRIEVE, **{"@f": "Microsoft.Dynamics.CRM.EntityFilters'Entity'"})
    assert alias.status_code == 400
    assert "'@n' has no value" in alias.json()["error"]["message"]


def test_seeded_score_table_and_key(org: Org) -> None:
    entity = get(
        org,
        "EntityDefinitions(LogicalName='kam_accountscore')",
        **{
            "$select": "LogicalName,EntitySetName,IsCustomEntity,PrimaryNameAttribute",
            "$expand": "Keys",
        },
    ).json()
    assert entity["EntitySetName"] == "kam_accountscores"
    assert entity["IsCustomEntity"] is True
    assert [
        (k["SchemaName"], k["KeyAttributes"], k["EntityKeyIndexStatus"]) for k in entity["Keys"]
    ] == [("kam_ExtIdKey", ["kam_extid"], "Active")]
    attributes = get(
        org,
        "EntityDefinitions(LogicalName='kam_accountscore')/Attributes",
        **{"$select": "LogicalName"},
    )
    names = {a["LogicalName"] for a in attributes.json()["value"]}
    assert {name for name, *_ in SCORE_COLUMNS} | {
        "kam_extid",
        "kam_accountid",
        "kam_name",
    } <= names


def test_metadata_errors(org: Org) -> None:
    missing = get(org, "EntityDefinitions(LogicalName='nosuchtable')")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "0x80040217"
    bogus = get(org, "EntityDefinitions", **{"$select": "LogicalName,Bogus"})
    assert bogus.status_code == 400
    assert bogus.json()["error"]["message"] == (
        "Could not find a property named 'Bogus' on type 'Microsoft.Dynamics.CRM.EntityMetadata'."
    )


# ---------------------------------------------------------------------------- creating the table


TABLE = {
    "@odata.type": "Microsoft.Dynamics.CRM.EntityMetadata",
    "SchemaName": "kam_AccountScore",
    "DisplayName": label("KAM account score"),
    "DisplayCollectionName": label("KAM account scores"),
    "Description": label("Scores written by kamsync"),
    "OwnershipType": "UserOwned",
    "IsActivity": False,
    "HasActivities": False,
    "HasNotes": False,
    "Attributes": [
        {
            "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
            "AttributeType": "String",
            "AttributeTypeName": {"Value": "StringType"},
            "SchemaName": "kam_Name",
            "IsPrimaryName": True,
            "MaxLength": 200,
            "FormatName": {"Value": "Text"},
            "DisplayName": label("Name"),
            "RequiredLevel": {"Value": "None", "CanBeChanged": True},
        }
    ],
}
COLUMNS: list[dict[str, Any]] = [
    {
        "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
        "SchemaName": "kam_ExtId",
        "MaxLength": 100,
        "DisplayName": label("External id"),
    },
    {
        "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
        "SchemaName": "kam_Tier",
        "MaxLength": 20,
        "DisplayName": label("Tier"),
    },
    {
        "@odata.type": "Microsoft.Dynamics.CRM.DecimalAttributeMetadata",
        "SchemaName": "kam_HealthScore",
        "Precision": 2,
        "DisplayName": label("Health"),
    },
    {
        "@odata.type": "Microsoft.Dynamics.CRM.MoneyAttributeMetadata",
        "SchemaName": "kam_WalletEstimate",
        "PrecisionSource": 2,
        "DisplayName": label("Wallet"),
    },
    {
        "@odata.type": "Microsoft.Dynamics.CRM.DateTimeAttributeMetadata",
        "SchemaName": "kam_NextReviewDate",
        "Format": "DateOnly",
        "DisplayName": label("Next review"),
    },
    {
        "@odata.type": "Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
        "SchemaName": "kam_Band",
        "DisplayName": label("Band"),
        "OptionSet": {
            "@odata.type": "Microsoft.Dynamics.CRM.OptionSetMetadata",
            "IsGlobal": False,
            "OptionSetType": "Picklist",
            "Options": [
                {"Value": 100000000 + i, "Label": label(text)}
                for i, text in enumerate(("green", "amber", "red"))
            ],
        },
    },
]
RELATIONSHIP: dict[str, Any] = {
    "@odata.type": "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
    "SchemaName": "kam_account_kam_accountscore",
    "ReferencedEntity": "account",
    "ReferencedAttribute": "accountid",
    "ReferencingEntity": "kam_accountscore",
    "Lookup": {
        "@odata.type": "Microsoft.Dynamics.CRM.LookupAttributeMetadata",
        "AttributeType": "Lookup",
        "AttributeTypeName": {"Value": "LookupType"},
        "SchemaName": "kam_AccountId",
        "DisplayName": label("Account"),
    },
}
KEY = {
    "SchemaName": "kam_ExtIdKey",
    "DisplayName": label("External id key"),
    "KeyAttributes": ["kam_extid"],
}


def post(org: Org, path: str, body: dict[str, Any]) -> Any:
    return org.session.post(f"{org.api}/{path}", headers=org.headers(), json=body)


def test_create_the_score_table_through_the_metadata_api(bare: Org) -> None:
    entity = "EntityDefinitions(LogicalName='kam_accountscore')"
    assert get(bare, entity).status_code == 404  # an idempotent client checks first
    created = post(bare, "EntityDefinitions", TABLE)
    assert created.status_code == 204
    assert created.headers["OData-EntityId"].startswith(f"{bare.api}/EntityDefinitions(")
    for column in COLUMNS:
        response = post(bare, f"{entity}/Attributes", column)
        assert response.status_code == 204, response.text
        assert "/Attributes(" in response.headers["OData-EntityId"]
    assert post(bare, "RelationshipDefinitions", RELATIONSHIP).status_code == 204
    assert post(bare, f"{entity}/Keys", KEY).status_code == 204

    described = get(
        bare,
        entity,
        **{
            "$select": "EntitySetName,PrimaryNameAttribute,ChangeTrackingEnabled",
            "$expand": "Attributes,Keys",
        },
    ).json()
    assert described["EntitySetName"] == "kam_accountscores"
    assert described["PrimaryNameAttribute"] == "kam_name"
    attributes = {a["LogicalName"]: a for a in described["Attributes"]}
    assert attributes["kam_accountid"]["Targets"] == ["account"]
    assert attributes["kam_accountid"]["SchemaName"] == "kam_AccountId"
    assert attributes["kam_nextreviewdate"]["Format"] == "DateOnly"
    assert attributes["kam_walletestimate"]["AttributeType"] == "Money"
    assert attributes["ownerid"]["AttributeType"] == "Owner"
    assert described["Keys"][0]["KeyAttributes"] == ["kam_extid"]

    # repeating any step is refused, so a client that checks first stays idempotent
    assert post(bare, "EntityDefinitions", TABLE).status_code == 400
    assert post(bare, f"{entity}/Attributes", COLUMNS[1]).json()["error"]["code"] == "0x80040237"
    assert post(bare, f"{entity}/Keys", KEY).status_code == 400
    assert post(bare, "RelationshipDefinitions", RELATIONSHIP).status_code == 400

    # and the new table takes upserts by its alternate key
    account = sorted(bare.store.tables["account"].rows)[0]
    upsert = bare.session.patch(
        f"{bare.api}/kam_accountscores(kam_extid='d365:{account}')",
        headers=bare.headers(),
        json={
            "kam_tier": "key",
            "kam_band": 100000001,
            "kam_nextreviewdate": "2024-09-30",
            "kam_AccountId@odata.bind": f"/accounts({account})",
        },
    )
    assert upsert.status_code == 204, upsert.text
    (record,) = bare.store.tables["kam_accountscore"].rows.values()
    assert record["kam_accountid"] == account
    assert str(record["kam_nextreviewdate"]) == "2024-09-30"
    log = [(e.api, e.table, e.operation, e.ok) for e in bare.store.write_log]
    assert ("dataverse-metadata", "kam_accountscore", "create_table", True) in log
    assert ("dataverse-metadata", "kam_accountscore", "create_relationship", True) in log
    assert ("dataverse", "kam_accountscore", "create", True) in log


def test_lookup_columns_need_a_relationship(bare: Org) -> None:
    lookup = dict(RELATIONSHIP["Lookup"], SchemaName="kam_OtherAccountId")
    response = post(bare, "EntityDefinitions(LogicalName='kam_accountscore')/Attributes", lookup)
    assert response.status_code == 400
    assert "RelationshipDefinitions" in response.json()["error"]["message"]


def test_metadata_writes_outside_kamsync_prefix_are_refused(bare: Org) -> None:
    column = {
        "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
        "SchemaName": "new_Thing",
        "DisplayName": label("x"),
    }
    refused = post(bare, "EntityDefinitions(LogicalName='account')/Attributes", column)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "0x80040220"
    table = dict(TABLE, SchemaName="new_Stuff")
    assert post(bare, "EntityDefinitions", table).status_code == 403
    failures = [e for e in bare.store.write_log if not e.ok and e.api == "dataverse-metadata"]
    assert {e.table for e in failures} >= {"account", "new_stuff"}
    assert "new_stuff" not in bare.store.tables
