"""kamsync's two custom score objects, defined once: fields, types, and what an admin deploys.

Everything about the write-back targets comes from :data:`FIELDS`:

* the payload: which ``kam.account_scores`` column feeds which field, and how a value is
  normalised the way the CRM stores it (:mod:`writeback.payload`);
* the safety check before a push: the fields that must exist and be kamsync's own;
* ``kamsync metadata salesforce``: Salesforce DX source (:func:`write_salesforce_dx`);
* ``kamsync metadata dynamics``: the Dataverse metadata API requests
  (:func:`dataverse_requests`), applied idempotently by :func:`apply_dataverse`.

Salesforce ``KAM_Account_Score__c`` has an auto-number name, a lookup ``KAM_Account__c`` to
Account (cleared if the account is deleted, so no account deletion is ever blocked) and the
unique, case-insensitive external id ``KAM_Ext_Id__c``.  Dataverse ``kam_accountscore`` has the
primary name ``kam_name``, the lookup ``kam_accountid`` (created with its one-to-many
relationship from account) and the alternate key ``kam_ExtIdKey`` on ``kam_extid``.  Shares are
stored as percentages (0-100) in both CRMs.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

SF_API_VERSION = "62.0"
SF_NAMESPACE = "http://soap.sforce.com/2006/04/metadata"

SF_OBJECT = "KAM_Account_Score__c"
SF_OBJECT_LABEL = "KAM Account Score"
SF_OBJECT_PLURAL = "KAM Account Scores"
SF_INTEGRATION_PERMISSION_SET = "KAM_Sync_Integration"
SF_READER_PERMISSION_SET = "KAM_Score_Reader"

DV_TABLE = "kam_accountscore"
DV_TABLE_SCHEMA = "kam_AccountScore"
DV_ENTITY_SET = "kam_accountscores"
DV_PRIMARY_NAME = "kam_name"
DV_KEY_SCHEMA = "kam_ExtIdKey"
DV_RELATIONSHIP = "kam_account_kam_accountscore_accountid"
DV_LANGUAGE = 1033

OBJECT_DESCRIPTION = (
    "Key account management scores and account-plan fields, one record per account, written "
    "by kamsync. Do not edit: the next write-back overwrites changes."
)

SalesforceType = Literal[
    "Text",
    "LongTextArea",
    "Number",
    "Currency",
    "Percent",
    "Date",
    "DateTime",
    "Picklist",
    "Lookup",
]
DataverseType = Literal["String", "Memo", "Decimal", "Money", "Integer", "DateTime", "Lookup"]
Role = Literal["lookup", "external_id", "value"]


@dataclass(frozen=True)
class SalesforceField:
    """A custom field of ``KAM_Account_Score__c`` as DX source declares it."""

    name: str
    type: SalesforceType
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    values: tuple[tuple[str, str], ...] = ()  # picklist (API name, label)
    required: bool = False
    external_id: bool = False
    unique: bool = False
    reference_to: str | None = None


@dataclass(frozen=True)
class DataverseColumn:
    """A column of ``kam_accountscore`` as the metadata API creates it."""

    name: str
    schema_name: str
    type: DataverseType
    max_length: int | None = None
    precision: int | None = None
    date_only: bool = False
    reference_to: str | None = None


@dataclass(frozen=True)
class ScoreField:
    """One field of the score record in both CRMs, and where its value comes from.

    ``key`` names the field in ``[writeback.sources.<name>.fields]`` overrides and in plans.
    ``column`` is the ``kam.account_scores`` column.  ``percent``: a 0-1 share stored as 0-100.
    ``volatile``: the value changes on every analyze run (the scoring time), so it is sent with
    every changed record but a change of it alone sends nothing.
    """

    key: str
    column: str
    label: str
    description: str
    salesforce: SalesforceField
    dataverse: DataverseColumn
    role: Role = "value"
    percent: bool = False
    volatile: bool = False


def _text(name: str, length: int, **extra: Any) -> SalesforceField:
    return SalesforceField(name, "Text", length=length, **extra)


def _number(name: str, scale: int = 2, precision: int = 18) -> SalesforceField:
    return SalesforceField(name, "Number", precision=precision, scale=scale)


def _currency(name: str) -> SalesforceField:
    return SalesforceField(name, "Currency", precision=18, scale=2)


def _percent(name: str) -> SalesforceField:
    return SalesforceField(name, "Percent", precision=5, scale=2)


def _picklist(name: str, values: tuple[tuple[str, str], ...]) -> SalesforceField:
    return SalesforceField(name, "Picklist", values=values)


def _dv(name: str, kind: DataverseType, **extra: Any) -> DataverseColumn:
    schema = "kam_" + "".join(part.capitalize() for part in name.removeprefix("kam_").split("_"))
    return DataverseColumn(name, extra.pop("schema_name", schema), kind, **extra)


TIERS = (("key", "Key"), ("growth", "Growth"), ("maintain", "Maintain"), ("non_key", "Non-key"))
BANDS = (("green", "Green"), ("amber", "Amber"), ("red", "Red"))


def _whitespace(rank: int) -> tuple[ScoreField, ScoreField]:
    ordinal = {1: "largest", 2: "second largest", 3: "third largest"}[rank]
    family = ScoreField(
        f"whitespace_{rank}",
        f"whitespace_{rank}_family",
        f"Top Whitespace {rank}",
        f"Product family of the {ordinal} whitespace gap (not bought, peers buy it).",
        _text(f"KAM_Whitespace_{rank}__c", 80),
        _dv(f"kam_whitespace{rank}", "String", max_length=100, schema_name=f"kam_Whitespace{rank}"),
    )
    value = ScoreField(
        f"whitespace_{rank}_value",
        f"whitespace_{rank}_value",
        f"Top Whitespace {rank} Value",
        f"Expected yearly value of the {ordinal} whitespace gap.",
        _currency(f"KAM_Whitespace_{rank}_Value__c"),
        _dv(
            f"kam_whitespace{rank}value",
            "Money",
            precision=2,
            schema_name=f"kam_Whitespace{rank}Value",
        ),
    )
    return family, value


FIELDS: tuple[ScoreField, ...] = (
    ScoreField(
        "account",
        "source_id",
        "Account",
        "The scored account.",
        SalesforceField("KAM_Account__c", "Lookup", reference_to="Account"),
        _dv("kam_accountid", "Lookup", reference_to="account", schema_name="kam_AccountId"),
        role="lookup",
    ),
    ScoreField(
        "external_id",
        "account_key",
        "kamsync Key",
        "kamsync's key of the record: <source>:<account id>.",
        _text("KAM_Ext_Id__c", 80, required=True, external_id=True, unique=True),
        _dv("kam_extid", "String", max_length=100, schema_name="kam_ExtId"),
        role="external_id",
    ),
    ScoreField(
        "tier",
        "tier",
        "Tier",
        "Key-account tier: key, growth, maintain or non_key.",
        _picklist("KAM_Tier__c", TIERS),
        _dv("kam_tier", "String", max_length=20),
    ),
    ScoreField(
        "health_score",
        "health_score",
        "Health Score",
        "Account health, 0-100.",
        _number("KAM_Health_Score__c", precision=5),
        _dv("kam_healthscore", "Decimal", precision=2),
    ),
    ScoreField(
        "health_band",
        "health_band",
        "Health Band",
        "green (70+), amber (40-69) or red.",
        _picklist("KAM_Health_Band__c", BANDS),
        _dv("kam_healthband", "String", max_length=10),
    ),
    ScoreField(
        "wallet_estimate",
        "wallet_estimate",
        "Wallet Estimate",
        "The customer's estimated yearly spend on our categories.",
        _currency("KAM_Wallet_Estimate__c"),
        _dv("kam_walletestimate", "Money", precision=2),
    ),
    ScoreField(
        "wallet_share",
        "wallet_share",
        "Wallet Share",
        "Our revenue in the last twelve months as a share of the wallet.",
        _percent("KAM_Wallet_Share__c"),
        _dv("kam_walletshare", "Decimal", precision=2),
        percent=True,
    ),
    ScoreField(
        "headroom",
        "headroom",
        "Wallet Headroom",
        "Wallet estimate minus our revenue in the last twelve months.",
        _currency("KAM_Headroom__c"),
        _dv("kam_walletheadroom", "Money", precision=2),
    ),
    *_whitespace(1),
    *_whitespace(2),
    *_whitespace(3),
    ScoreField(
        "calls_actual",
        "call_actual_last_30d",
        "Calls (last 30 days)",
        "Completed calls, meetings and visits in the last 30 days.",
        _number("KAM_Calls_Actual__c", scale=0, precision=9),
        _dv("kam_callsactual", "Integer"),
    ),
    ScoreField(
        "call_compliance",
        "call_compliance",
        "Call Compliance",
        "Touches in the last 30 days against the tier's target.",
        _percent("KAM_Call_Compliance__c"),
        _dv("kam_callcompliance", "Decimal", precision=2),
        percent=True,
    ),
    ScoreField(
        "days_since_contact",
        "days_since_last_contact",
        "Days Since Last Contact",
        "Days since the latest completed call, meeting, visit or e-mail.",
        _number("KAM_Days_Since_Contact__c", scale=0, precision=9),
        _dv("kam_dayssincecontact", "Integer"),
    ),
    ScoreField(
        "explanation",
        "explanation",
        "Explanation",
        "Why the health score is what it is, in plain words.",
        SalesforceField("KAM_Explanation__c", "LongTextArea", length=32768),
        _dv("kam_explanation", "Memo", max_length=4000),
    ),
    ScoreField(
        "scored_at",
        "scored_at",
        "Scored At",
        "When kamsync computed these scores.",
        SalesforceField("KAM_Scored_At__c", "DateTime"),
        _dv("kam_scoredat", "DateTime"),
        volatile=True,
    ),
    ScoreField(
        "plan_period",
        "plan_period",
        "Plan Period",
        "The account-plan period the plan fields cover, e.g. 2025-Q3.",
        _text("KAM_Plan_Period__c", 20),
        _dv("kam_planperiod", "String", max_length=20),
    ),
    ScoreField(
        "revenue_target",
        "revenue_target",
        "Revenue Target",
        "Revenue target for the plan period.",
        _currency("KAM_Revenue_Target__c"),
        _dv("kam_revenuetarget", "Money", precision=2),
    ),
    ScoreField(
        "revenue_forecast",
        "period_forecast",
        "Revenue Forecast",
        "Won so far in the plan period plus open pipeline due in it, weighted by probability.",
        _currency("KAM_Revenue_Forecast__c"),
        _dv("kam_revenueforecast", "Money", precision=2),
    ),
    ScoreField(
        "revenue_gap",
        "gap_to_target",
        "Gap to Target",
        "Revenue target minus forecast for the plan period.",
        _currency("KAM_Revenue_Gap__c"),
        _dv("kam_revenuegap", "Money", precision=2),
    ),
    ScoreField(
        "call_cycle",
        "recommended_calls_per_month",
        "Recommended Touches per Month",
        "The recommended call cycle for the tier.",
        _number("KAM_Call_Cycle__c", precision=5),
        _dv("kam_callcycle", "Decimal", precision=2),
    ),
    ScoreField(
        "next_due_date",
        "next_call_due_date",
        "Next Contact Due",
        "When the next touch is due.",
        SalesforceField("KAM_Next_Due_Date__c", "Date"),
        _dv("kam_nextduedate", "DateTime", date_only=True),
    ),
    ScoreField(
        "focus_families",
        "focus_product_families",
        "Focus Product Families",
        "Product families to focus on, largest opportunity first.",
        _text("KAM_Focus_Families__c", 255),
        _dv("kam_focusfamilies", "String", max_length=500),
    ),
    ScoreField(
        "next_review_date",
        "next_review_date",
        "Next Review Date",
        "When the account plan is next reviewed.",
        SalesforceField("KAM_Next_Review_Date__c", "Date"),
        _dv("kam_nextreviewdate", "DateTime", date_only=True),
    ),
)

FIELD_KEYS: tuple[str, ...] = tuple(f.key for f in FIELDS)
LOOKUP = next(f for f in FIELDS if f.role == "lookup")
EXTERNAL_ID = next(f for f in FIELDS if f.role == "external_id")
DV_PRIMARY_NAME_COLUMN = DataverseColumn(DV_PRIMARY_NAME, "kam_Name", "String", max_length=100)


def field_by_key(key: str) -> ScoreField:
    """The field whose payload key is ``key``; KeyError when there is none."""
    for candidate in FIELDS:
        if candidate.key == key:
            return candidate
    raise KeyError(key)


# --------------------------------------------------------------------------- Salesforce DX


def _sub(parent: ET.Element, tag: str, text: str | int | bool | None = None) -> ET.Element:
    child = ET.SubElement(parent, tag)
    if text is not None:
        child.text = str(text).lower() if isinstance(text, bool) else str(text)
    return child


def _root(tag: str) -> ET.Element:
    return ET.Element(tag, xmlns=SF_NAMESPACE)


def _xml(root: ET.Element) -> str:
    ET.indent(root, space="    ")
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def salesforce_object_xml() -> str:
    """``KAM_Account_Score__c.object-meta.xml``."""
    root = _root("CustomObject")
    _sub(root, "label", SF_OBJECT_LABEL)
    _sub(root, "pluralLabel", SF_OBJECT_PLURAL)
    _sub(root, "description", OBJECT_DESCRIPTION)
    name = _sub(root, "nameField")
    _sub(name, "label", f"{SF_OBJECT_LABEL} Number")
    _sub(name, "type", "AutoNumber")
    _sub(name, "displayFormat", "KAS-{0000000}")
    _sub(root, "deploymentStatus", "Deployed")
    # everyone who may read the object sees every score; only the owner (kamsync) edits
    _sub(root, "sharingModel", "Read")
    _sub(root, "externalSharingModel", "Private")
    for flag, value in (
        ("enableActivities", False),
        ("enableBulkApi", True),
        ("enableFeeds", False),
        ("enableHistory", False),
        ("enableReports", True),
        ("enableSearch", True),
        ("enableSharing", True),
        ("enableStreamingApi", True),
    ):
        _sub(root, flag, value)
    return _xml(root)


def salesforce_field_xml(score: ScoreField) -> str:
    """``<field>.field-meta.xml`` for one custom field."""
    spec = score.salesforce
    root = _root("CustomField")
    _sub(root, "fullName", spec.name)
    _sub(root, "label", score.label)
    _sub(root, "description", score.description)
    _sub(root, "inlineHelpText", score.description)
    _sub(root, "type", spec.type)
    _sub(root, "required", spec.required)
    _sub(root, "trackTrending", False)
    if spec.type in ("Text", "LongTextArea"):
        _sub(root, "length", spec.length)
    if spec.type == "LongTextArea":
        _sub(root, "visibleLines", 5)
    if spec.type in ("Number", "Currency", "Percent"):
        _sub(root, "precision", spec.precision)
        _sub(root, "scale", spec.scale)
    if spec.external_id:
        _sub(root, "externalId", True)
        _sub(root, "unique", spec.unique)
        _sub(root, "caseSensitive", False)
    if spec.type == "Picklist":
        _picklist_values(_sub(root, "valueSet"), spec.values)
    if spec.type == "Lookup":
        _sub(root, "referenceTo", spec.reference_to)
        _sub(root, "relationshipName", "KAM_Account_Scores")
        _sub(root, "relationshipLabel", SF_OBJECT_PLURAL)
        # a deleted account clears the lookup: kamsync never blocks deleting an account
        _sub(root, "deleteConstraint", "SetNull")
    return _xml(root)


def _picklist_values(value_set: ET.Element, values: Iterable[tuple[str, str]]) -> None:
    _sub(value_set, "restricted", True)
    definition = _sub(value_set, "valueSetDefinition")
    _sub(definition, "sorted", False)
    for api_name, label in values:
        value = _sub(definition, "value")
        _sub(value, "fullName", api_name)
        _sub(value, "default", False)
        _sub(value, "label", label)


def _field_permissions(root: ET.Element, *, editable: bool) -> None:
    for score in FIELDS:
        if score.salesforce.required:
            continue  # required fields are always editable; Salesforce refuses them here
        entry = _sub(root, "fieldPermissions")
        _sub(entry, "editable", editable)
        _sub(entry, "field", f"{SF_OBJECT}.{score.salesforce.name}")
        _sub(entry, "readable", True)


def _object_permission(
    root: ET.Element, obj: str, *, read: bool, create: bool = False, edit: bool = False
) -> None:
    entry = _sub(root, "objectPermissions")
    _sub(entry, "allowCreate", create)
    _sub(entry, "allowDelete", False)
    _sub(entry, "allowEdit", edit)
    _sub(entry, "allowRead", read)
    _sub(entry, "modifyAllRecords", False)
    _sub(entry, "object", obj)
    _sub(entry, "viewAllRecords", False)


def salesforce_integration_permission_set_xml() -> str:
    """The integration user's permission set: read Account; create and edit the scores only."""
    root = _root("PermissionSet")
    _sub(root, "label", "kamsync Integration")
    _sub(
        root,
        "description",
        "Least privilege for the kamsync integration user: read accounts, create and edit "
        f"{SF_OBJECT} records and their fields. No delete, no view-all, no other object.",
    )
    _sub(root, "hasActivationRequired", False)
    _field_permissions(root, editable=True)
    _object_permission(root, "Account", read=True)
    _object_permission(root, SF_OBJECT, read=True, create=True, edit=True)
    return _xml(root)


def salesforce_reader_permission_set_xml() -> str:
    """A read-only permission set for the key account managers who look at the scores."""
    root = _root("PermissionSet")
    _sub(root, "label", "KAM Score Reader")
    _sub(root, "description", f"Read {SF_OBJECT} records and their fields.")
    _sub(root, "hasActivationRequired", False)
    _field_permissions(root, editable=False)
    _object_permission(root, SF_OBJECT, read=True)
    return _xml(root)


def salesforce_package_xml() -> str:
    """``manifest/package.xml`` listing everything the DX source holds."""
    root = _root("Package")
    members: dict[str, list[str]] = {
        "CustomObject": [SF_OBJECT],
        "CustomField": sorted(f"{SF_OBJECT}.{f.salesforce.name}" for f in FIELDS),
        "PermissionSet": [SF_INTEGRATION_PERMISSION_SET, SF_READER_PERMISSION_SET],
    }
    for kind, names in members.items():
        types = _sub(root, "types")
        for name in names:
            _sub(types, "members", name)
        _sub(types, "name", kind)
    _sub(root, "version", SF_API_VERSION)
    return _xml(root)


def salesforce_dx_files() -> dict[str, str]:
    """Relative path -> content of the Salesforce DX project for the score object."""
    base = "force-app/main/default"
    obj = f"{base}/objects/{SF_OBJECT}"
    files = {
        "sfdx-project.json": json.dumps(
            {
                "packageDirectories": [{"path": "force-app", "default": True}],
                "name": "kamsync-score-object",
                "namespace": "",
                "sourceApiVersion": SF_API_VERSION,
            },
            indent=2,
        )
        + "\n",
        "manifest/package.xml": salesforce_package_xml(),
        f"{obj}/{SF_OBJECT}.object-meta.xml": salesforce_object_xml(),
        f"{base}/permissionsets/{SF_INTEGRATION_PERMISSION_SET}.permissionset-meta.xml": (
            salesforce_integration_permission_set_xml()
        ),
        f"{base}/permissionsets/{SF_READER_PERMISSION_SET}.permissionset-meta.xml": (
            salesforce_reader_permission_set_xml()
        ),
    }
    for score in FIELDS:
        files[f"{obj}/fields/{score.salesforce.name}.field-meta.xml"] = salesforce_field_xml(score)
    return files


def write_salesforce_dx(out: Path) -> list[Path]:
    """Write the DX project under ``out``; return the files written."""
    written: list[Path] = []
    for relative, content in salesforce_dx_files().items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


# --------------------------------------------------------------------------- Dataverse


def dv_label(text: str) -> dict[str, Any]:
    """A Dataverse Label in English."""
    localized = {
        "@odata.type": "Microsoft.Dynamics.CRM.LocalizedLabel",
        "Label": text,
        "LanguageCode": DV_LANGUAGE,
    }
    return {"@odata.type": "Microsoft.Dynamics.CRM.Label", "LocalizedLabels": [localized]}


_DV_METADATA_TYPES = {
    "String": "StringAttributeMetadata",
    "Memo": "MemoAttributeMetadata",
    "Decimal": "DecimalAttributeMetadata",
    "Money": "MoneyAttributeMetadata",
    "Integer": "IntegerAttributeMetadata",
    "DateTime": "DateTimeAttributeMetadata",
}


def _required(level: str = "None") -> dict[str, Any]:
    return {
        "Value": level,
        "CanBeChanged": True,
        "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings",
    }


def dataverse_attribute_body(
    column: DataverseColumn, label: str, description: str, *, primary: bool = False
) -> dict[str, Any]:
    """The AttributeMetadata a ``POST .../Attributes`` creates (not for lookups)."""
    body: dict[str, Any] = {
        "@odata.type": f"Microsoft.Dynamics.CRM.{_DV_METADATA_TYPES[column.type]}",
        "SchemaName": column.schema_name,
        "AttributeType": column.type,
        "AttributeTypeName": {"Value": f"{column.type}Type"},
        "DisplayName": dv_label(label),
        "Description": dv_label(description),
        "RequiredLevel": _required("ApplicationRequired" if primary else "None"),
    }
    if column.type in ("String", "Memo"):
        text_format = "TextArea" if column.type == "Memo" else "Text"
        body.update({"MaxLength": column.max_length, "FormatName": {"Value": text_format}})
        if column.type == "Memo":
            body["Format"] = "TextArea"
    if primary:
        body["IsPrimaryName"] = True
    if column.type in ("Decimal", "Money"):
        body.update(
            {"Precision": column.precision, "MinValue": -100000000000.0, "MaxValue": 100000000000.0}
        )
    if column.type == "Money":
        body["PrecisionSource"] = 0  # the column's own Precision
    if column.type == "Integer":
        body.update({"Format": "None", "MinValue": -2147483648, "MaxValue": 2147483647})
    if column.type == "DateTime":
        body.update(
            {
                "Format": "DateOnly" if column.date_only else "DateAndTime",
                "DateTimeBehavior": {"Value": "DateOnly" if column.date_only else "UserLocal"},
            }
        )
    return body


def dataverse_table_body() -> dict[str, Any]:
    """``POST EntityDefinitions``: the table with its primary name column."""
    return {
        "@odata.type": "Microsoft.Dynamics.CRM.EntityMetadata",
        "SchemaName": DV_TABLE_SCHEMA,
        "EntitySetName": DV_ENTITY_SET,
        "DisplayName": dv_label(SF_OBJECT_LABEL),
        "DisplayCollectionName": dv_label(SF_OBJECT_PLURAL),
        "Description": dv_label(OBJECT_DESCRIPTION),
        "OwnershipType": "UserOwned",
        "IsActivity": False,
        "HasActivities": False,
        "HasNotes": False,
        "ChangeTrackingEnabled": True,
        "Attributes": [
            dataverse_attribute_body(
                DV_PRIMARY_NAME_COLUMN,
                "Name",
                "kamsync's key of the record (set when the record is created).",
                primary=True,
            )
        ],
    }


def dataverse_key_body() -> dict[str, Any]:
    """``POST EntityDefinitions(...)/Keys``: the alternate key on the external id."""
    return {
        "SchemaName": DV_KEY_SCHEMA,
        "DisplayName": dv_label("kamsync key"),
        "KeyAttributes": [EXTERNAL_ID.dataverse.name],
    }


def dataverse_relationship_body() -> dict[str, Any]:
    """``POST RelationshipDefinitions``: account 1:N score, which creates the lookup column."""
    lookup = LOOKUP.dataverse
    return {
        "@odata.type": "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
        "SchemaName": DV_RELATIONSHIP,
        "ReferencedEntity": "account",
        "ReferencingEntity": DV_TABLE,
        "CascadeConfiguration": {
            "Assign": "NoCascade",
            "Delete": "RemoveLink",  # a deleted account clears the lookup, as in Salesforce
            "Merge": "NoCascade",
            "Reparent": "NoCascade",
            "Share": "NoCascade",
            "Unshare": "NoCascade",
        },
        "Lookup": {
            "@odata.type": "Microsoft.Dynamics.CRM.LookupAttributeMetadata",
            "SchemaName": lookup.schema_name,
            "AttributeType": "Lookup",
            "AttributeTypeName": {"Value": "LookupType"},
            "DisplayName": dv_label(LOOKUP.label),
            "Description": dv_label(LOOKUP.description),
            "RequiredLevel": _required(),
        },
    }


@dataclass(frozen=True)
class MetadataRequest:
    """One metadata API request: what it creates, and the call."""

    what: str
    name: str
    method: str
    path: str
    body: Mapping[str, Any]


def _table_path() -> str:
    return f"EntityDefinitions(LogicalName='{DV_TABLE}')"


def dataverse_requests() -> list[MetadataRequest]:
    """Every request that creates the table from nothing, in order."""
    requests = [
        MetadataRequest("table", DV_TABLE, "POST", "EntityDefinitions", dataverse_table_body())
    ]
    for score in FIELDS:
        column = score.dataverse
        if column.type == "Lookup":
            continue
        requests.append(
            MetadataRequest(
                "column",
                column.name,
                "POST",
                f"{_table_path()}/Attributes",
                dataverse_attribute_body(column, score.label, score.description),
            )
        )
    requests.append(
        MetadataRequest("key", DV_KEY_SCHEMA, "POST", f"{_table_path()}/Keys", dataverse_key_body())
    )
    requests.append(
        MetadataRequest(
            "lookup",
            LOOKUP.dataverse.name,
            "POST",
            "RelationshipDefinitions",
            dataverse_relationship_body(),
        )
    )
    return requests


class DataverseMetadataApi(Protocol):
    """What :func:`apply_dataverse` needs from a Dataverse connection."""

    def table_metadata(self, logical_name: str) -> Mapping[str, Any] | None:
        """The table's EntityMetadata with ``Attributes`` and ``Keys``; None when absent."""
        ...

    def post_metadata(self, path: str, body: Mapping[str, Any]) -> None:
        """POST a metadata definition."""
        ...


@dataclass
class ApplyReport:
    """What :func:`apply_dataverse` found and did."""

    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)


def apply_dataverse(
    api: DataverseMetadataApi, on_step: Callable[[str], None] | None = None
) -> ApplyReport:
    """Create whatever of the table, columns, key and lookup is missing; touch nothing else."""
    report = ApplyReport()
    table = api.table_metadata(DV_TABLE)
    present_columns = _present(table, "Attributes", "LogicalName")
    present_keys = _present(table, "Keys", "SchemaName")
    for request in dataverse_requests():
        label = f"{request.what} {request.name}"
        exists = (
            table is not None
            if request.what == "table"
            else request.name.lower() in present_keys
            if request.what == "key"
            else request.name in present_columns
        )
        if exists:
            report.existing.append(label)
            continue
        api.post_metadata(request.path, request.body)
        report.created.append(label)
        if on_step is not None:
            on_step(label)
    return report


def _present(table: Mapping[str, Any] | None, part: str, name: str) -> set[str]:
    items: Sequence[Any] = (table or {}).get(part) or []
    return {str(i.get(name)).lower() for i in items if isinstance(i, Mapping) and i.get(name)}
