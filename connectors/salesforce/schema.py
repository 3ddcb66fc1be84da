"""From Salesforce describe results to the columns kamsync lands."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from config.errors import MalformedResponseError
from connectors.base import Column, ColumnType, ObjectSchema

# describe field type -> warehouse column type; None: not landed (compound or binary)
SALESFORCE_TYPES: dict[str, ColumnType | None] = {
    "id": "varchar",
    "reference": "varchar",
    "string": "varchar",
    "picklist": "varchar",
    "multipicklist": "varchar",
    "combobox": "varchar",
    "textarea": "varchar",
    "email": "varchar",
    "phone": "varchar",
    "url": "varchar",
    "encryptedstring": "varchar",
    "anyType": "varchar",
    "boolean": "boolean",
    "int": "bigint",
    "long": "bigint",
    "double": "double",
    "percent": "double",
    "currency": "decimal",
    "date": "date",
    "datetime": "timestamp",
    "time": "time",
    "address": None,
    "location": None,
    "base64": None,
    "complexvalue": None,
}

CURSOR_FIELDS = ("SystemModstamp", "LastModifiedDate", "CreatedDate")


def object_schema(describe: Mapping[str, Any], source: str) -> ObjectSchema:
    """The landed shape of one object from its describe result."""
    name = _required(describe, "name", source, "describe")
    fields = describe.get("fields")
    if not isinstance(fields, list):
        raise MalformedResponseError(f"describe of {name} has no field list", source=source)
    columns = tuple(c for f in fields if (c := _column(f, name, source)) is not None)
    names = {c.name for c in columns}
    if "Id" not in names:
        raise MalformedResponseError(f"describe of {name} has no Id field", source=source)
    cursor = next((f for f in CURSOR_FIELDS if f in names), None)
    return ObjectSchema(
        name=name,
        label=str(describe.get("label") or name),
        key="Id",
        columns=columns,
        cursor_field=cursor,
    )


def _column(field: Mapping[str, Any], obj: str, source: str) -> Column | None:
    name = _required(field, "name", source, f"a field of {obj}")
    crm_type = _required(field, "type", source, f"{obj}.{name}")
    if crm_type not in SALESFORCE_TYPES:
        raise MalformedResponseError(
            f"{obj}.{name} has type {crm_type!r}, which kamsync does not know how to store",
            source=source,
        )
    kind = SALESFORCE_TYPES[crm_type]
    if kind is None:
        return None
    scale = field.get("scale")
    return Column(
        name=name,
        type=kind,
        label=str(field.get("label") or name),
        crm_type=crm_type,
        nullable=bool(field.get("nillable", True)),
        custom=bool(field.get("custom", False)),
        scale=int(scale) if isinstance(scale, int) and kind == "decimal" else None,
    )


def _required(data: Mapping[str, Any], key: str, source: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedResponseError(f"{where}: describe result lacks {key!r}", source=source)
    return value
