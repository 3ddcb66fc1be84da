"""From Dataverse ``EntityDefinitions`` attribute metadata to the columns kamsync lands.

Columns are named by attribute logical name (a lookup's value arrives as ``_<name>_value`` and
lands as ``<name>``); a choice (Picklist, State, Status) lands as its code and, beside it, its
label as ``<name>name`` (what Dataverse calls the attribute's virtual name column), from the
option set read at describe time.  Attributes that are parts of others (``AttributeOf``), not
readable, or of types with no value to land (virtual, party lists, images, files) are left out,
with one exception: the table a polymorphic lookup points at (``regardingobjecttypecode``,
``owneridtype``: EntityName attributes that are ``AttributeOf`` a lookup, which the Web API does
not serve) is landed under its own name from the lookup's ``lookuplogicalname`` annotation.

A table without change tracking gets ``cursor_field = "modifiedon"``: it is read in
``modifiedon`` windows instead of by delta links (``cursor_field`` None).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from config.errors import MalformedResponseError
from connectors.base import Column, ColumnType, ObjectSchema

# AttributeType -> warehouse column type; None: not landed
DATAVERSE_TYPES: dict[str, ColumnType | None] = {
    "Uniqueidentifier": "varchar",
    "String": "varchar",
    "Memo": "varchar",
    "EntityName": "varchar",
    "Lookup": "varchar",
    "Owner": "varchar",
    "Customer": "varchar",
    "Boolean": "boolean",
    "Integer": "bigint",
    "BigInt": "bigint",
    "Picklist": "bigint",
    "State": "bigint",
    "Status": "bigint",
    "Decimal": "decimal",
    "Money": "decimal",
    "Double": "double",
    "DateTime": "timestamp",
    "MultiSelectPicklist": "varchar",
    "Virtual": None,
    "PartyList": None,
    "CalendarRules": None,
    "ManagedProperty": None,
    "Image": None,
    "File": None,
}
LOOKUP_TYPES = frozenset({"Lookup", "Owner", "Customer"})
CHOICE_TYPES = frozenset({"Picklist", "State", "Status"})
LABEL_TYPE = "OptionLabel"
LOOKUP_TABLE_TYPE = "LookupTable"  # options: (("attribute_of", <lookup logical name>),)
DERIVED_TYPES = frozenset({LABEL_TYPE, LOOKUP_TABLE_TYPE})
# Dataverse keeps money to 4 decimals at most and decimals to 10
_SCALES = {"Money": 4, "Decimal": 10}
CURSOR_FIELD = "modifiedon"


def property_name(column: Column) -> str:
    """The Web API property that carries a column's value (``_x_value`` for lookups)."""
    if column.crm_type in LOOKUP_TYPES:
        return f"_{column.name}_value"
    return column.name


def object_schema(
    entity: Mapping[str, Any],
    date_only: set[str],
    options: Mapping[str, tuple[tuple[str, str], ...]],
    source: str,
) -> ObjectSchema:
    """The landed shape of a table from its EntityDefinitions entry (with ``Attributes``)."""
    logical = _text(entity, "LogicalName", source, "EntityDefinitions")
    key = _text(entity, "PrimaryIdAttribute", source, logical)
    entity_set = _text(entity, "EntitySetName", source, logical)
    attributes = entity.get("Attributes")
    if not isinstance(attributes, list):
        raise MalformedResponseError(f"{logical}: metadata has no attribute list", source=source)
    lookups = {
        a.get("LogicalName"): a.get("AttributeType")
        for a in attributes
        if isinstance(a, Mapping) and a.get("AttributeType") in LOOKUP_TYPES
    }
    columns: list[Column] = []
    for attribute in attributes:
        columns.extend(_columns(attribute, logical, date_only, options, source, lookups))
    names = {c.name for c in columns}
    if key not in names:
        raise MalformedResponseError(f"{logical}: metadata lacks the key {key}", source=source)
    columns = [c for c in columns if c.crm_type not in DERIVED_TYPES or _label_free(c, columns)]
    tracked = entity.get("ChangeTrackingEnabled") is True
    return ObjectSchema(
        name=logical,
        label=_label(entity.get("DisplayName"), logical),
        key=key,
        columns=tuple(columns),
        cursor_field=None if tracked else _cursor(names, logical, source),
        collection=entity_set,
    )


def _label_free(label: Column, columns: list[Column]) -> bool:
    # keep a derived label column only when no real attribute has its name
    return sum(1 for c in columns if c.name == label.name) == 1


def _cursor(names: set[str], logical: str, source: str) -> str:
    if CURSOR_FIELD not in names:
        raise MalformedResponseError(
            f"{logical} has neither change tracking nor a modifiedon column, so kamsync cannot "
            "read its changes; enable change tracking on it or remove it from tables",
            source=source,
        )
    return CURSOR_FIELD


def _columns(
    attribute: Any,
    table: str,
    date_only: set[str],
    options: Mapping[str, tuple[tuple[str, str], ...]],
    source: str,
    lookups: Mapping[Any, Any],
) -> list[Column]:
    if not isinstance(attribute, Mapping):
        raise MalformedResponseError(f"{table}: an attribute is not an object", source=source)
    logical = _text(attribute, "LogicalName", source, f"an attribute of {table}")
    crm_type = _text(attribute, "AttributeType", source, f"{table}.{logical}")
    parent = attribute.get("AttributeOf")
    if crm_type == "EntityName" and isinstance(parent, str) and parent in lookups:
        return [
            Column(
                name=logical,
                type="varchar",
                label=_label(attribute.get("DisplayName"), logical),
                crm_type=LOOKUP_TABLE_TYPE,
                options=(("attribute_of", parent),),
            )
        ]
    if parent or attribute.get("IsValidForRead") is False:
        return []
    if attribute.get("IsValidODataAttribute") is False:
        return []
    if crm_type not in DATAVERSE_TYPES:
        raise MalformedResponseError(
            f"{table}.{logical} has type {crm_type!r}, which kamsync does not know how to store",
            source=source,
        )
    kind = DATAVERSE_TYPES[crm_type]
    if kind is None:
        return []
    if crm_type == "DateTime" and logical in date_only:
        kind = "date"
    label = _label(attribute.get("DisplayName"), logical)
    required = attribute.get("RequiredLevel")
    level = required.get("Value") if isinstance(required, Mapping) else None
    column = Column(
        name=logical,
        type=kind,
        label=label,
        crm_type=crm_type,
        nullable=level not in ("SystemRequired", "ApplicationRequired"),
        custom=attribute.get("IsCustomAttribute") is True,
        scale=_SCALES.get(crm_type),
        options=options.get(logical, ()) if crm_type in CHOICE_TYPES else (),
    )
    if crm_type not in CHOICE_TYPES:
        return [column]
    return [
        column,
        Column(
            name=f"{logical}name",
            type="varchar",
            label=f"{label} (label)",
            crm_type=LABEL_TYPE,
            custom=column.custom,
            options=column.options,
        ),
    ]


def retrieved_schema(body: Any, source: str) -> ObjectSchema:
    """The landed shape of a table from a ``RetrieveEntity`` answer (``EntityFilters``
    ``Attributes``): the entity, every attribute as its complex type with its derived
    properties (a date-time's ``Format``), and the option set of every choice, in one request."""
    entity = body.get("EntityMetadata") if isinstance(body, Mapping) else None
    if not isinstance(entity, Mapping):
        raise MalformedResponseError("describe: the answer has no EntityMetadata", source=source)
    attributes = entity.get("Attributes")
    items = (
        [a for a in attributes if isinstance(a, Mapping)] if isinstance(attributes, list) else []
    )
    return object_schema(entity, date_only_attributes(items), option_sets(items), source)


def date_only_attributes(attributes: list[Mapping[str, Any]]) -> set[str]:
    """Logical names of date-only DateTime attributes (``Format`` DateOnly)."""
    return {
        str(item["LogicalName"])
        for item in attributes
        if item.get("AttributeType") == "DateTime"
        and item.get("Format") == "DateOnly"
        and isinstance(item.get("LogicalName"), str)
    }


def option_sets(attributes: list[Mapping[str, Any]]) -> dict[str, tuple[tuple[str, str], ...]]:
    """Choice attribute -> its ``(value, label)`` pairs, from the attributes' ``OptionSet``."""
    found: dict[str, tuple[tuple[str, str], ...]] = {}
    for item in attributes:
        logical = item.get("LogicalName")
        option_set = item.get("OptionSet")
        if item.get("AttributeType") not in CHOICE_TYPES:
            continue
        if not isinstance(logical, str) or not isinstance(option_set, Mapping):
            continue
        pairs = []
        for option in option_set.get("Options") or ():
            if isinstance(option, Mapping) and isinstance(option.get("Value"), int):
                value = option["Value"]
                pairs.append((str(value), _label(option.get("Label"), str(value))))
        found[logical] = tuple(pairs)
    return found


def _label(value: Any, default: str) -> str:
    if isinstance(value, Mapping):
        user = value.get("UserLocalizedLabel")
        if isinstance(user, Mapping) and user.get("Label"):
            return str(user["Label"])
        for item in value.get("LocalizedLabels") or ():
            if isinstance(item, Mapping) and item.get("Label"):
                return str(item["Label"])
    return default


def _text(data: Mapping[str, Any], key: str, source: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedResponseError(f"{where}: metadata lacks {key!r}", source=source)
    return value
