"""Object metadata for the emulated Salesforce org: describe results and kamsync's score object.

* :func:`describe_global` / :func:`describe_sobject` build the REST describe shapes from the
  store's :class:`TableDef`s.
* :data:`SCORE_OBJECT` is kamsync's write-back target ``KAM_Account_Score__c`` (SPEC section 7):
  a lookup ``KAM_Account__c`` to Account, the unique external id ``KAM_Ext_Id__c`` and the score
  and plan fields, all ``KAM_*__c``.
* :func:`tooling_create` emulates the Tooling API calls an admin (or ``kamsync metadata``) uses to
  create a custom object and its fields: ``POST tooling/sobjects/CustomObject`` with
  ``{"FullName": "X__c", "Metadata": {...}}`` and ``POST tooling/sobjects/CustomField`` with
  ``{"FullName": "X__c.Field__c", "Metadata": {"type": "Text", ...}}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from connectors.emulator.store import FieldDef, Store, TableDef

SCORE_OBJECT_NAME = "KAM_Account_Score__c"
SCORE_EXTERNAL_ID = "KAM_Ext_Id__c"
SCORE_KEY_PREFIX = "a0K"

# ----------------------------------------------------------------------------- field types

SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "address": "urn:address",
}

_NUMERIC = {"int": (9, 0), "double": (18, 2), "currency": (18, 2), "percent": (5, 2)}


def standard_custom_fields(label: str) -> tuple[FieldDef, ...]:
    """The system fields every custom object has (Id, Name, OwnerId, audit fields, IsDeleted)."""
    return (
        FieldDef("Id", "id", "Record ID", nullable=False, updateable=False),
        FieldDef("OwnerId", "reference", "Owner ID", nullable=False, reference_to=("User",)),
        FieldDef("IsDeleted", "boolean", "Deleted", nullable=False, updateable=False),
        FieldDef("Name", "string", f"{label} Name", updateable=False, length=80),
        FieldDef("CreatedDate", "datetime", "Created Date", nullable=False, updateable=False),
        FieldDef(
            "CreatedById",
            "reference",
            "Created By ID",
            nullable=False,
            updateable=False,
            reference_to=("User",),
        ),
        FieldDef(
            "LastModifiedDate", "datetime", "Last Modified Date", nullable=False, updateable=False
        ),
        FieldDef(
            "LastModifiedById",
            "reference",
            "Last Modified By ID",
            nullable=False,
            updateable=False,
            reference_to=("User",),
        ),
        FieldDef("SystemModstamp", "datetime", "System Modstamp", nullable=False, updateable=False),
    )


def _custom(name: str, type_: str, label: str, **extra: Any) -> FieldDef:
    return FieldDef(name, type_, label, custom=True, **extra)


_TIERS = (("key", "Key"), ("growth", "Growth"), ("maintain", "Maintain"), ("non_key", "Non-key"))
_BANDS = (("green", "Green"), ("amber", "Amber"), ("red", "Red"))

SCORE_FIELDS: tuple[FieldDef, ...] = (
    # not required, so a deleted account clears it instead of being blocked (deleteConstraint
    # SetNull, as kamsync's DX source deploys it)
    _custom("KAM_Account__c", "reference", "Account", reference_to=("Account",)),
    _custom(
        "KAM_Ext_Id__c",
        "string",
        "kamsync Key",
        length=80,
        external_id=True,
        unique=True,
        nullable=False,
    ),
    _custom("KAM_Tier__c", "picklist", "Tier", length=40, options=_TIERS),
    _custom("KAM_Health_Score__c", "double", "Health Score"),
    _custom("KAM_Health_Band__c", "picklist", "Health Band", length=20, options=_BANDS),
    _custom("KAM_Wallet_Estimate__c", "currency", "Wallet Estimate"),
    _custom("KAM_Wallet_Share__c", "percent", "Wallet Share"),
    _custom("KAM_Headroom__c", "currency", "Wallet Headroom"),
    _custom("KAM_Whitespace_1__c", "string", "Top Whitespace 1", length=80),
    _custom("KAM_Whitespace_1_Value__c", "currency", "Top Whitespace 1 Value"),
    _custom("KAM_Whitespace_2__c", "string", "Top Whitespace 2", length=80),
    _custom("KAM_Whitespace_2_Value__c", "currency", "Top Whitespace 2 Value"),
    _custom("KAM_Whitespace_3__c", "string", "Top Whitespace 3", length=80),
    _custom("KAM_Whitespace_3_Value__c", "currency", "Top Whitespace 3 Value"),
    _custom("KAM_Calls_Actual__c", "double", "Calls (last 30 days)"),
    _custom("KAM_Call_Compliance__c", "percent", "Call Compliance"),
    _custom("KAM_Days_Since_Contact__c", "double", "Days Since Last Contact"),
    _custom("KAM_Explanation__c", "textarea", "Explanation", length=32768),
    _custom("KAM_Scored_At__c", "datetime", "Scored At"),
    _custom("KAM_Plan_Period__c", "string", "Plan Period", length=20),
    _custom("KAM_Revenue_Target__c", "currency", "Revenue Target"),
    _custom("KAM_Revenue_Forecast__c", "currency", "Revenue Forecast"),
    _custom("KAM_Revenue_Gap__c", "currency", "Gap to Target"),
    _custom("KAM_Call_Cycle__c", "double", "Recommended Touches per Month"),
    _custom("KAM_Next_Due_Date__c", "date", "Next Contact Due"),
    _custom("KAM_Focus_Families__c", "string", "Focus Product Families", length=255),
    _custom("KAM_Next_Review_Date__c", "date", "Next Review Date"),
)

SCORE_OBJECT = TableDef(
    name=SCORE_OBJECT_NAME,
    key="Id",
    label="KAM Account Score",
    plural_label="KAM Account Scores",
    fields=standard_custom_fields("KAM Account Score") + SCORE_FIELDS,
    custom=True,
)


def add_score_object(store: Store) -> None:
    """Create ``KAM_Account_Score__c`` with all its fields (the seed option)."""
    store.add_table(SCORE_OBJECT)


# ----------------------------------------------------------------------------- describe


def key_prefix(store: Store, table: TableDef) -> str | None:
    """The object's 3-character id prefix, from its records (or kamsync's object's constant)."""
    if table.name == SCORE_OBJECT_NAME:
        return SCORE_KEY_PREFIX
    rows = store.table(table.name).rows
    for record_id in rows:
        return str(record_id)[:3]
    return None


def _urls(table: TableDef, version: str) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{table.name}"
    return {
        "compactLayouts": f"{base}/describe/compactLayouts",
        "rowTemplate": f"{base}/{{ID}}",
        "describe": f"{base}/describe",
        "sobject": base,
    }


def _writable(table: TableDef) -> bool:
    return table.name == SCORE_OBJECT_NAME


def sobject_summary(store: Store, table: TableDef, version: str) -> dict[str, Any]:
    """One entry of the describe-global ``sobjects`` list."""
    writable = _writable(table)
    return {
        "activateable": False,
        "createable": writable,
        "custom": table.custom,
        "customSetting": False,
        "deletable": writable,
        "deprecatedAndHidden": False,
        "feedEnabled": False,
        "hasSubtypes": False,
        "isSubtype": False,
        "keyPrefix": key_prefix(store, table),
        "label": table.label,
        "labelPlural": table.plural_label,
        "layoutable": True,
        "mergeable": False,
        "mruEnabled": True,
        "name": table.name,
        "queryable": True,
        "replicateable": True,
        "retrieveable": True,
        "searchable": True,
        "triggerable": True,
        "undeletable": writable,
        "updateable": writable,
        "urls": _urls(table, version),
    }


def describe_global(store: Store, version: str) -> dict[str, Any]:
    """``GET sobjects``."""
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [
            sobject_summary(store, store.tables[name].definition, version)
            for name in sorted(store.tables)
        ],
    }


def _relationship_name(field: FieldDef) -> str | None:
    if field.type != "reference":
        return None
    if field.name.endswith("__c"):
        return field.name[:-3] + "__r"
    if field.name.endswith("Id") and len(field.name) > 2:
        return field.name[:-2]
    return None


def describe_field(field: FieldDef, table: TableDef) -> dict[str, Any]:
    """One entry of an object's describe ``fields`` list."""
    writable = _writable(table) and field.updateable
    precision, scale = _NUMERIC.get(field.type, (0, 0))
    length = field.length or (18 if field.type in ("id", "reference") else 0)
    return {
        "aggregatable": field.type not in ("textarea", "address"),
        "autoNumber": False,
        "byteLength": length * 3,
        "calculated": False,
        "caseSensitive": False,
        "compoundFieldName": field.compound,
        "createable": writable,
        "custom": field.custom,
        "defaultedOnCreate": field.name in ("Id", "OwnerId", "IsDeleted"),
        "externalId": field.external_id,
        "filterable": field.type not in ("textarea", "address"),
        "groupable": field.type not in ("textarea", "address", "double", "currency", "percent"),
        "idLookup": field.name == "Id" or field.external_id,
        "label": field.label,
        "length": length,
        "name": field.name,
        "nillable": field.nullable,
        "picklistValues": [
            {
                "active": True,
                "defaultValue": False,
                "label": label,
                "validFor": None,
                "value": value,
            }
            for value, label in field.options
        ],
        "precision": precision,
        "referenceTo": list(field.reference_to),
        "relationshipName": _relationship_name(field),
        "restrictedPicklist": bool(field.options) and table.name == SCORE_OBJECT_NAME,
        "scale": scale,
        "soapType": SOAP_TYPES.get(field.type, "xsd:string"),
        "sortable": field.type not in ("textarea", "address"),
        "type": field.type,
        "unique": field.unique,
        "updateable": writable,
    }


def describe_sobject(store: Store, table: TableDef, version: str) -> dict[str, Any]:
    """``GET sobjects/{type}/describe``."""
    result = sobject_summary(store, table, version)
    result.update(
        {
            "childRelationships": [],
            "fields": [describe_field(field, table) for field in table.fields],
            "recordTypeInfos": [],
            "supportedScopes": [{"label": "All", "name": "everything"}],
        }
    )
    return dict(sorted(result.items()))


# ----------------------------------------------------------------------------- Tooling API

_TOOLING_TYPES = {
    "Text": "string",
    "TextArea": "textarea",
    "LongTextArea": "textarea",
    "Number": "double",
    "Currency": "currency",
    "Percent": "percent",
    "Date": "date",
    "DateTime": "datetime",
    "Checkbox": "boolean",
    "Lookup": "reference",
    "MasterDetail": "reference",
    "Picklist": "picklist",
    "Email": "email",
    "Phone": "phone",
    "Url": "url",
}


class ToolingError(Exception):
    """A Tooling API refusal: errorCode and message."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def _metadata(body: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    full_name = body.get("FullName")
    metadata = body.get("Metadata") or {}
    if not isinstance(full_name, str) or not full_name:
        raise ToolingError("REQUIRED_FIELD_MISSING", "Required fields are missing: [FullName]")
    if not isinstance(metadata, Mapping):
        raise ToolingError("JSON_PARSER_ERROR", "Metadata must be an object")
    return full_name, metadata


def create_custom_object(store: Store, body: Mapping[str, Any]) -> TableDef:
    """``POST tooling/sobjects/CustomObject``: a custom object with only its system fields."""
    full_name, metadata = _metadata(body)
    if not full_name.endswith("__c"):
        raise ToolingError("FIELD_INTEGRITY_EXCEPTION", "Custom object names must end with __c")
    if full_name in store.tables:
        raise ToolingError(
            "DUPLICATE_DEVELOPER_NAME", f"There is already an object named {full_name}"
        )
    label = str(metadata.get("label") or full_name[:-3].replace("_", " "))
    plural = str(metadata.get("pluralLabel") or label + "s")
    definition = TableDef(
        full_name, "Id", label, plural, standard_custom_fields(label), custom=True
    )
    store.add_table(definition)
    return definition


def _picklist_options(metadata: Mapping[str, Any]) -> tuple[tuple[int | str, str], ...]:
    value_set = metadata.get("valueSet") or {}
    definition = value_set.get("valueSetDefinition") or {} if isinstance(value_set, Mapping) else {}
    values: Iterable[Any] = definition.get("value") or [] if isinstance(definition, Mapping) else []
    options: list[tuple[int | str, str]] = []
    for value in values:
        if isinstance(value, Mapping) and value.get("fullName"):
            options.append((str(value["fullName"]), str(value.get("label") or value["fullName"])))
    return tuple(options)


def create_custom_field(store: Store, body: Mapping[str, Any]) -> FieldDef:
    """``POST tooling/sobjects/CustomField``: add a field to a custom object."""
    full_name, metadata = _metadata(body)
    object_name, _, field_name = full_name.partition(".")
    if object_name not in store.tables:
        raise ToolingError("INVALID_CROSS_REFERENCE_KEY", f"no such custom object: {object_name}")
    if not field_name.endswith("__c"):
        raise ToolingError("FIELD_INTEGRITY_EXCEPTION", "Custom field names must end with __c")
    kind = str(metadata.get("type") or "")
    if kind not in _TOOLING_TYPES:
        raise ToolingError(
            "FIELD_INTEGRITY_EXCEPTION", f"unsupported field type: {kind or '(none)'}"
        )
    table = store.tables[object_name]
    if table.definition.field(field_name) is not None:
        raise ToolingError(
            "DUPLICATE_DEVELOPER_NAME", f"There is already a field named {field_name}"
        )
    field = FieldDef(
        name=field_name,
        type=_TOOLING_TYPES[kind],
        label=str(metadata.get("label") or field_name[:-3]),
        nullable=not bool(metadata.get("required")),
        custom=True,
        reference_to=(str(metadata["referenceTo"]),) if metadata.get("referenceTo") else (),
        length=int(metadata["length"]) if metadata.get("length") else None,
        options=_picklist_options(metadata),
        external_id=bool(metadata.get("externalId")),
        unique=bool(metadata.get("unique")),
    )
    with store.lock:
        table.definition = replace(table.definition, fields=(*table.definition.fields, field))
    return field
