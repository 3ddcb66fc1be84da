"""Dataverse table definitions: reading ``EntityDefinitions`` and creating kamsync's own table.

Reads (``$select``, ``$filter``, ``$expand`` work on each level):

* ``EntityDefinitions`` and ``EntityDefinitions(LogicalName='x')`` (or ``(<MetadataId>)``);
* ``.../Attributes``, ``.../Attributes(LogicalName='y')``, with a type cast such as
  ``.../Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$expand=OptionSet``;
* ``.../Keys``;
* the ``RetrieveEntity`` function (``EntityFilters`` ``Entity`` or ``Attributes``, by
  ``LogicalName`` or ``MetadataId``; parameters inline or as ``@alias`` query values): the
  table's ``ComplexEntityMetadata`` with, for ``Attributes``, every attribute as its complex type
  (``ComplexPicklistAttributeMetadata`` ...) carrying its derived properties (a date-time's
  ``Format``) and, for choices and yes/no columns, its ``OptionSet`` inline: one request for
  what the ``EntityDefinitions`` paths need three for.

Writes (only for tables and columns with kamsync's ``kam_`` publisher prefix; anything else is
refused with a privilege error): ``POST EntityDefinitions``, ``POST .../Attributes``,
``POST .../Keys`` and ``POST RelationshipDefinitions`` (a one-to-many relationship is how a
lookup column is created).  Every write is appended to the store's write log.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from connectors.emulator.dataverse_auth import stable_id
from connectors.emulator.dataverse_errors import (
    DUPLICATE_RECORD,
    INVALID_ARGUMENT,
    JSON_CONTENT_TYPE,
    OBJECT_DOES_NOT_EXIST,
    PRIVILEGE_DENIED,
    DataverseError,
    bad_query,
    json_body,
    segment_not_found,
)
from connectors.emulator.dataverse_model import (
    LOOKUP_TYPES,
    NAMESPACE,
    AlternateKey,
    EntityView,
    TableExtras,
    alternate_keys,
    entity_set_name,
    system_attributes,
)
from connectors.emulator.dataverse_query import split_commas
from connectors.emulator.odata import Column, ODataError, Schema, compile_filter, parse_select
from connectors.emulator.server import Request, Response
from connectors.emulator.store import FieldDef, Store, Table, TableDef, WriteLogEntry

API_PATH = "/api/data/v9.2"
PUBLISHER_PREFIX = "kam_"
LANGUAGE = 1033

_DERIVED = {
    "String": "StringAttributeMetadata",
    "Memo": "MemoAttributeMetadata",
    "Boolean": "BooleanAttributeMetadata",
    "Integer": "IntegerAttributeMetadata",
    "BigInt": "BigIntAttributeMetadata",
    "Decimal": "DecimalAttributeMetadata",
    "Double": "DoubleAttributeMetadata",
    "Money": "MoneyAttributeMetadata",
    "DateTime": "DateTimeAttributeMetadata",
    "Lookup": "LookupAttributeMetadata",
    "Owner": "LookupAttributeMetadata",
    "Customer": "LookupAttributeMetadata",
    "Picklist": "PicklistAttributeMetadata",
    "State": "StateAttributeMetadata",
    "Status": "StatusAttributeMetadata",
    "EntityName": "EntityNameAttributeMetadata",
    "Uniqueidentifier": "UniqueIdentifierAttributeMetadata",
}
_ENUM_TYPES = frozenset({"Picklist", "State", "Status", "Boolean"})
_BASE_CASTS = {"EnumAttributeMetadata": ("Picklist", "State", "Status")}
_CREATABLE = {
    "StringAttributeMetadata": "String",
    "MemoAttributeMetadata": "Memo",
    "BooleanAttributeMetadata": "Boolean",
    "IntegerAttributeMetadata": "Integer",
    "BigIntAttributeMetadata": "BigInt",
    "DecimalAttributeMetadata": "Decimal",
    "DoubleAttributeMetadata": "Double",
    "MoneyAttributeMetadata": "Money",
    "DateTimeAttributeMetadata": "DateTime",
    "PicklistAttributeMetadata": "Picklist",
}
_OBJECT_TYPE_CODES = {
    "account": 1,
    "contact": 2,
    "opportunity": 3,
    "systemuser": 8,
    "product": 1024,
    "opportunityproduct": 1083,
    "appointment": 4201,
    "email": 4202,
    "phonecall": 4210,
    "task": 4212,
}
_ACTIVITIES = frozenset({"appointment", "email", "phonecall", "task", "letter", "fax"})
_FUNCTION_RE = re.compile(r"^RetrieveEntity\((?P<args>[^)]*)\)$")
_EMPTY_ID = "00000000-0000-0000-0000-000000000000"
_ENTITY_FILTERS = {"Default": 1, "Entity": 1, "Attributes": 2, "Privileges": 4}
_ENTITY_FILTERS.update(Relationships=8, All=15)
_SEGMENT_RE = re.compile(r"^(?P<name>[A-Za-z.]+)(?:\((?P<key>[^)]*)\))?$")


def label(text: str) -> dict[str, Any]:
    """A Label complex value in English."""
    localized = {"Label": text, "LanguageCode": LANGUAGE, "IsManaged": False, "HasChanged": None}
    return {"LocalizedLabels": [localized], "UserLocalizedLabel": dict(localized)}


def _label_text(value: Any, default: str) -> str:
    if isinstance(value, Mapping):
        for item in value.get("LocalizedLabels") or []:
            if isinstance(item, Mapping) and item.get("Label"):
                return str(item["Label"])
        user = value.get("UserLocalizedLabel")
        if isinstance(user, Mapping) and user.get("Label"):
            return str(user["Label"])
    return default


# ---------------------------------------------------------------------------- rendering


def _option_set(table: str, attribute: FieldDef) -> dict[str, Any]:
    name = f"{table}_{attribute.name}"
    if attribute.type == "Boolean":
        labels = dict(attribute.options) if attribute.options else {1: "Yes", 0: "No"}
        return {
            "MetadataId": stable_id("optionset", name),
            "Name": name,
            "IsGlobal": False,
            "OptionSetType": "Boolean",
            "TrueOption": {"Value": 1, "Label": label(str(labels.get(1, "Yes")))},
            "FalseOption": {"Value": 0, "Label": label(str(labels.get(0, "No")))},
        }
    options = []
    for index, (value, text) in enumerate(attribute.options):
        option: dict[str, Any] = {
            "Value": value,
            "Label": label(text),
            "Description": label(""),
            "Color": None,
            "IsManaged": False,
            "ExternalValue": None,
        }
        if attribute.type == "Status":
            option["State"] = 0 if index == 0 else 1
        if attribute.type == "State":
            option["InvariantName"] = text.replace(" ", "")
        options.append(option)
    return {
        "MetadataId": stable_id("optionset", name),
        "Name": name,
        "IsGlobal": False,
        "OptionSetType": attribute.type if attribute.type in ("State", "Status") else "Picklist",
        "Options": options,
    }


def _required_level(attribute: FieldDef, view: EntityView) -> dict[str, Any]:
    if attribute.name == view.key:
        value = "SystemRequired"
    elif not attribute.nullable:
        value = "ApplicationRequired"
    else:
        value = "None"
    return {
        "Value": value,
        "CanBeChanged": value != "SystemRequired",
        "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings",
    }


def _type_details(attribute: FieldDef, view: EntityView) -> dict[str, Any]:
    kind = attribute.type
    if kind in ("String", "Memo"):
        text_format = "TextArea" if kind == "Memo" else "Text"
        return {
            "MaxLength": attribute.length or (2000 if kind == "Memo" else 100),
            "Format": text_format,
            "FormatName": {"Value": text_format},
        }
    if kind in LOOKUP_TYPES:
        return {"Targets": list(attribute.reference_to), "Format": None}
    if kind == "DateTime":
        date_only = attribute.name in view.date_only
        return {
            "Format": "DateOnly" if date_only else "DateAndTime",
            "DateTimeBehavior": {"Value": "DateOnly" if date_only else "UserLocal"},
        }
    if kind == "Money":
        return {
            "Precision": 2,
            "PrecisionSource": 2,
            "MinValue": -922337203685477.0,
            "MaxValue": 922337203685477.0,
        }
    if kind == "Decimal":
        return {"Precision": 2, "MinValue": -100000000000.0, "MaxValue": 100000000000.0}
    if kind == "Double":
        return {"Precision": 2, "MinValue": -100000000000.0, "MaxValue": 100000000000.0}
    if kind == "Integer":
        return {"Format": "None", "MinValue": -2147483648, "MaxValue": 2147483647}
    if kind == "BigInt":
        return {"MinValue": -9223372036854775808, "MaxValue": 9223372036854775807}
    if kind in ("Picklist", "State", "Status"):
        return {"DefaultFormValue": -1 if kind == "Picklist" else None}
    if kind == "Boolean":
        return {"DefaultValue": False}
    return {}


def attribute_metadata(
    view: EntityView, attribute: FieldDef, extras: TableExtras, number: int
) -> dict[str, Any]:
    """One AttributeMetadata object, with the properties of its derived type."""
    kind = attribute.type
    schema_name = extras.attribute_schema_names.get(attribute.name, attribute.name)
    return {
        "@odata.type": f"#{NAMESPACE}.{_DERIVED.get(kind, 'AttributeMetadata')}",
        "MetadataId": stable_id("attribute", view.logical_name, attribute.name),
        "LogicalName": attribute.name,
        "SchemaName": schema_name,
        "EntityLogicalName": view.logical_name,
        "AttributeType": kind,
        "AttributeTypeName": {"Value": f"{kind}Type"},
        "DisplayName": label(attribute.label),
        "Description": label(""),
        "IsCustomAttribute": attribute.custom,
        "IsPrimaryId": attribute.name == view.key,
        "IsPrimaryName": attribute.name == view.primary_name,
        "IsValidForCreate": attribute.updateable or attribute.name == view.key,
        "IsValidForRead": True,
        "IsValidForUpdate": attribute.updateable,
        "IsValidODataAttribute": True,
        "IsLogical": False,
        "IsManaged": not attribute.custom,
        "AttributeOf": None,
        "ColumnNumber": number,
        "RequiredLevel": _required_level(attribute, view),
        **_type_details(attribute, view),
    }


def entity_metadata(view: EntityView, extras: TableExtras) -> dict[str, Any]:
    """One EntityMetadata object (without its navigation properties)."""
    definition = view.definition
    name = view.logical_name
    return {
        "MetadataId": stable_id("entity", name),
        "LogicalName": name,
        "SchemaName": extras.schema_name or name,
        "EntitySetName": view.entity_set,
        "LogicalCollectionName": view.entity_set,
        "CollectionSchemaName": (extras.schema_name or name) + "s",
        "PrimaryIdAttribute": view.key,
        "PrimaryNameAttribute": view.primary_name,
        "ObjectTypeCode": _OBJECT_TYPE_CODES.get(
            name, 10000 + int(stable_id("otc", name)[:4], 16) % 9000
        ),
        "IsCustomEntity": definition.custom,
        "IsActivity": name in _ACTIVITIES,
        "IsIntersect": False,
        "IsManaged": not definition.custom,
        "IsLogicalEntity": False,
        "IsValidForAdvancedFind": True,
        "IsOptimisticConcurrencyEnabled": True,
        "ChangeTrackingEnabled": definition.change_tracking,
        "OwnershipType": "UserOwned",
        "TableType": "Standard",
        "HasActivities": False,
        "HasNotes": False,
        "DisplayName": label(definition.label),
        "DisplayCollectionName": label(definition.plural_label),
        "Description": label(extras.description),
    }


def key_metadata(view: EntityView, key: AlternateKey) -> dict[str, Any]:
    """One EntityKeyMetadata object."""
    return {
        "MetadataId": stable_id("key", view.logical_name, key.schema_name.lower()),
        "LogicalName": key.schema_name.lower(),
        "SchemaName": key.schema_name,
        "EntityLogicalName": view.logical_name,
        "KeyAttributes": list(key.attributes),
        "DisplayName": label(key.display_name),
        "EntityKeyIndexStatus": "Active",
        "IsManaged": False,
        "IsCustomizable": {
            "Value": True,
            "CanBeChanged": True,
            "ManagedPropertyLogicalName": "iscustomizable",
        },
    }


# ---------------------------------------------------------------------------- query options on objects


def _split_top_level(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        depth += (char == "(") - (char == ")")
        if char == separator and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return [part for part in parts if part]


def _parse_expand(text: str) -> dict[str, dict[str, str]]:
    expanded: dict[str, dict[str, str]] = {}
    for item in _split_top_level(text, ","):
        name, _, options_text = item.partition("(")
        options: dict[str, str] = {}
        for option in _split_top_level(options_text.removesuffix(")"), ";"):
            option_name, _, value = option.partition("=")
            options[option_name.strip()] = value.strip()
        expanded[name.strip()] = options
    return expanded


def _object_schema(type_name: str, sample: Mapping[str, Any]) -> Schema:
    columns: dict[str, Column] = {}
    for key, value in sample.items():
        if isinstance(value, bool):
            columns[key] = Column(key, "Edm.Boolean")
        elif isinstance(value, int):
            columns[key] = Column(key, "Edm.Int32")
        elif isinstance(value, str) or value is None:
            columns[key] = Column(key, "Edm.Guid" if key == "MetadataId" else "Edm.String")
    return Schema(type_name, columns)


def _project(
    item: Mapping[str, Any], select: tuple[str, ...] | None, type_name: str
) -> dict[str, Any]:
    if select is None:
        return dict(item)
    known = {key.lower(): key for key in item}
    out = {key: item[key] for key in ("@odata.type", "MetadataId") if key in item}
    for name in select:
        key = known.get(name.lower())
        if key is None:
            raise bad_query(f"Could not find a property named '{name}' on type '{type_name}'.")
        out[key] = item[key]
    return out


Expander = Callable[[Mapping[str, Any], str, Mapping[str, str]], Any]


def apply_options(
    items: list[dict[str, Any]],
    options: Mapping[str, str],
    type_name: str,
    expander: Expander | None = None,
) -> list[dict[str, Any]]:
    """Apply ``$filter``, ``$select`` and ``$expand`` to metadata objects."""
    try:
        if options.get("$filter") and items:
            predicate = compile_filter(options["$filter"], _object_schema(type_name, items[0]))
            items = [item for item in items if predicate(item)]
        select = parse_select(options["$select"]) if options.get("$select") else None
    except ODataError as error:
        raise bad_query(str(error)) from None
    expand = _parse_expand(options["$expand"]) if options.get("$expand") else {}
    result = []
    for item in items:
        projected = _project(item, select, type_name)
        for name, nested in expand.items():
            if expander is None:
                raise bad_query(f"Could not find a property named '{name}' on type '{type_name}'.")
            projected[name] = expander(item, name, nested)
        result.append(projected)
    return result


# ---------------------------------------------------------------------------- catalog


class MetadataCatalog:
    """Serves ``EntityDefinitions`` and ``RelationshipDefinitions`` for a store."""

    def __init__(
        self,
        store: Store,
        extras: dict[str, TableExtras],
        view: Callable[[Table], EntityView],
        actor: str,
    ) -> None:
        self.store = store
        self.extras = extras
        self.view = view
        self.actor = actor

    def extras_for(self, name: str) -> TableExtras:
        """The metadata extras of table ``name`` (created on first use)."""
        return self.extras.setdefault(name, TableExtras())

    # ------------------------------------------------------------------ routing

    def handle(self, request: Request, base: str, segments: list[str]) -> Response:
        """Serve a request whose path starts with EntityDefinitions or RelationshipDefinitions."""
        parsed = [self._segment(segment) for segment in segments]
        head, head_key = parsed[0]
        if head == "RelationshipDefinitions":
            if request.method == "POST" and len(parsed) == 1 and head_key is None:
                return self.create_relationship(request, base)
            raise segment_not_found(segments[-1])
        if request.method == "GET":
            return self._get(request, base, parsed, segments)
        if request.method == "POST":
            return self._post(request, base, parsed, segments)
        raise DataverseError(
            405, INVALID_ARGUMENT, f"The HTTP method '{request.method}' is not allowed here."
        )

    def retrieve_entity(self, request: Request, base: str, segment: str) -> Response:
        """``GET RetrieveEntity(EntityFilters=...,LogicalName=...,MetadataId=...,...)``."""
        if request.method != "GET":
            raise DataverseError(
                405, INVALID_ARGUMENT, f"The HTTP method '{request.method}' is not allowed here."
            )
        args = _function_args(segment, request)
        filters = _entity_filters(args.get("EntityFilters"))
        for required in ("MetadataId", "RetrieveAsIfPublished"):
            if required not in args:
                raise bad_query(f"The parameter '{required}' of RetrieveEntity is missing.")
        table = self._function_table(args)
        view = self.view(table)
        extras = self.extras_for(table.name)
        entity: dict[str, Any] = {
            "@odata.type": f"#{NAMESPACE}.ComplexEntityMetadata",
            **entity_metadata(view, extras),
        }
        if filters & _ENTITY_FILTERS["Attributes"]:
            entity["Attributes"] = [
                _complex_attribute(table.name, f, attribute_metadata(view, f, extras, n))
                for n, f in enumerate(view.definition.fields, start=1)
            ]
        context = f"{base}{API_PATH}/$metadata#{NAMESPACE}.RetrieveEntityResponse"
        return _ok({"@odata.context": context, "EntityMetadata": entity})

    def _function_table(self, args: Mapping[str, str]) -> Table:
        logical = args.get("LogicalName")
        metadata_id = args.get("MetadataId", _EMPTY_ID).lower()
        if logical:
            return self._table(logical, "RetrieveEntity")
        if metadata_id != _EMPTY_ID:
            return self._table(metadata_id, "RetrieveEntity")
        raise bad_query("RetrieveEntity needs a LogicalName or a MetadataId.")

    @staticmethod
    def _segment(segment: str) -> tuple[str, str | None]:
        match = _SEGMENT_RE.match(segment)
        if match is None:
            raise segment_not_found(segment)
        return match.group("name"), match.group("key")

    def _table(self, key: str | None, segment: str) -> Table:
        if key is None:
            raise segment_not_found(segment)
        name = _key_value(key, "LogicalName")
        for table in self.store.tables.values():
            if name in (table.name, stable_id("entity", table.name)):
                return table
        raise DataverseError(
            404, OBJECT_DOES_NOT_EXIST, f"Could not find entity with name '{name}'."
        )

    def _get(
        self, request: Request, base: str, parsed: list[tuple[str, str | None]], segments: list[str]
    ) -> Response:
        options = {
            name: values[0] for name, values in request.query.items() if name.startswith("$")
        }
        head, key = parsed[0]
        if head != "EntityDefinitions":
            raise segment_not_found(segments[0])
        if len(parsed) == 1 and key is None:
            items = [entity_metadata(self.view(t), self.extras_for(t.name)) for t in self._tables()]
            value = apply_options(
                items, options, f"{NAMESPACE}.EntityMetadata", self._expand_entity
            )
            return _ok(
                {"@odata.context": f"{base}{API_PATH}/$metadata#EntityDefinitions", "value": value}
            )
        table = self._table(key, segments[0])
        if len(parsed) == 1:
            item = entity_metadata(self.view(table), self.extras_for(table.name))
            (entity,) = apply_options(
                [item], options, f"{NAMESPACE}.EntityMetadata", self._expand_entity
            )
            context = f"{base}{API_PATH}/$metadata#EntityDefinitions/$entity"
            return _ok({"@odata.context": context, **entity})
        return self._get_child(base, table, parsed[1:], segments[1:], options)

    def _get_child(
        self,
        base: str,
        table: Table,
        parsed: list[tuple[str, str | None]],
        segments: list[str],
        options: Mapping[str, str],
    ) -> Response:
        child, child_key = parsed[0]
        view = self.view(table)
        context = f"{base}{API_PATH}/$metadata#EntityDefinitions('{table.name}')/{child}"
        if child == "Keys" and len(parsed) == 1:
            keys = [
                key_metadata(view, k)
                for k in alternate_keys(view.definition, self.extras_for(table.name))
            ]
            if child_key is not None:
                keys = [
                    k
                    for k in keys
                    if _key_value(child_key, "LogicalName") in (k["LogicalName"], k["MetadataId"])
                ]
                if not keys:
                    raise segment_not_found(segments[0])
                return _ok({"@odata.context": context + "/$entity", **keys[0]})
            return _ok(
                {
                    "@odata.context": context,
                    "value": apply_options(keys, options, f"{NAMESPACE}.EntityKeyMetadata"),
                }
            )
        if child != "Attributes":
            raise segment_not_found(segments[0])
        cast = parsed[1][0] if len(parsed) > 1 else None
        if len(parsed) > 2:
            raise segment_not_found(segments[-1])
        items = self._attributes(table, cast, segments)
        type_name = (
            f"{NAMESPACE}.{cast.rsplit('.', 1)[-1]}" if cast else f"{NAMESPACE}.AttributeMetadata"
        )
        if child_key is not None:
            wanted = _key_value(child_key, "LogicalName")
            items = [a for a in items if wanted in (a["LogicalName"], a["MetadataId"])]
            if not items:
                raise DataverseError(
                    404,
                    OBJECT_DOES_NOT_EXIST,
                    f"Could not find attribute with name '{wanted}' on entity '{table.name}'.",
                )
            (one,) = apply_options(items, options, type_name, self._expand_attribute(table))
            return _ok({"@odata.context": context + "/$entity", **one})
        many = apply_options(items, options, type_name, self._expand_attribute(table))
        return _ok({"@odata.context": context, "value": many})

    def _attributes(
        self, table: Table, cast: str | None, segments: list[str]
    ) -> list[dict[str, Any]]:
        view = self.view(table)
        extras = self.extras_for(table.name)
        fields = list(view.definition.fields)
        if cast is not None:
            derived = cast.removeprefix(f"{NAMESPACE}.")
            kinds = _BASE_CASTS.get(derived) or tuple(
                k for k, v in _DERIVED.items() if v == derived
            )
            if not cast.startswith(f"{NAMESPACE}.") or not kinds:
                raise segment_not_found(segments[-1])
            fields = [f for f in fields if f.type in kinds]
        return [attribute_metadata(view, f, extras, n) for n, f in enumerate(fields, start=1)]

    def _tables(self) -> list[Table]:
        return [self.store.tables[name] for name in sorted(self.store.tables)]

    def _expand_entity(self, item: Mapping[str, Any], name: str, nested: Mapping[str, str]) -> Any:
        table = self.store.table(str(item["LogicalName"]))
        view = self.view(table)
        if name == "Attributes":
            items = self._attributes(table, None, [])
            return apply_options(
                items, nested, f"{NAMESPACE}.AttributeMetadata", self._expand_attribute(table)
            )
        if name == "Keys":
            keys = [
                key_metadata(view, k)
                for k in alternate_keys(view.definition, self.extras_for(table.name))
            ]
            return apply_options(keys, nested, f"{NAMESPACE}.EntityKeyMetadata")
        raise bad_query(
            f"Could not find a property named '{name}' on type '{NAMESPACE}.EntityMetadata'."
        )

    def _expand_attribute(self, table: Table) -> Expander:
        def expand(item: Mapping[str, Any], name: str, nested: Mapping[str, str]) -> Any:
            attribute = table.definition.field(str(item["LogicalName"]))
            enum = attribute is not None and attribute.type in _ENUM_TYPES
            if name in ("OptionSet", "GlobalOptionSet") and attribute is not None and enum:
                if name == "GlobalOptionSet":
                    return None
                option_set = _option_set(table.name, attribute)
                (value,) = apply_options([option_set], nested, f"{NAMESPACE}.OptionSetMetadata")
                return value
            raise bad_query(
                f"Could not find a property named '{name}' on type '{item['@odata.type'][1:]}'."
            )

        return expand

    # ------------------------------------------------------------------ writes

    def _post(
        self, request: Request, base: str, parsed: list[tuple[str, str | None]], segments: list[str]
    ) -> Response:
        body = json_body(request)
        head, key = parsed[0]
        if head != "EntityDefinitions":
            raise segment_not_found(segments[0])
        if len(parsed) == 1 and key is None:
            return self.create_table(body, base)
        table = self._table(key, segments[0])
        if len(parsed) == 2 and parsed[1] == ("Attributes", None):
            return self.create_attribute(table, body, base)
        if len(parsed) == 2 and parsed[1] == ("Keys", None):
            return self.create_key(table, body, base)
        raise segment_not_found(segments[-1])

    def _log(
        self,
        table: str,
        operation: str,
        names: tuple[str, ...],
        error: DataverseError | None = None,
    ) -> None:
        self.store.log_write(
            WriteLogEntry(
                at=self.store.now(),
                api="dataverse-metadata",
                table=table,
                record_id=None,
                operation=operation,
                fields=names,
                ok=error is None,
                error=None if error is None else f"{error.code}: {error.message}",
            )
        )

    def _refuse(self, name: str, operation: str, privilege: str) -> DataverseError:
        error = DataverseError(
            403,
            PRIVILEGE_DENIED,
            f"Principal user (Id={self.actor}, type=8, roleCount=1, privilegeCount=412, accessMode=4), "
            f"is missing {privilege} privilege (Id={stable_id('privilege', privilege)}) for entity '{name}'. "
            f"context.Caller={self.actor}",
        )
        self._log(name, operation, (), error)
        return error

    def create_table(self, body: Mapping[str, Any], base: str) -> Response:
        """``POST EntityDefinitions``."""
        schema_name = str(body.get("SchemaName") or "")
        name = schema_name.lower()
        if not name.startswith(PUBLISHER_PREFIX):
            raise self._refuse(name or "(none)", "create_table", "prvCreateEntity")
        if name in self.store.tables:
            error = DataverseError(
                400, DUPLICATE_RECORD, f"An entity with the name {name} already exists."
            )
            self._log(name, "create_table", (), error)
            raise error
        attributes = [a for a in body.get("Attributes") or [] if isinstance(a, Mapping)]
        primary = [a for a in attributes if a.get("IsPrimaryName")]
        if len(primary) != 1:
            error = DataverseError(
                400,
                INVALID_ARGUMENT,
                "The entity must contain exactly one primary name attribute (IsPrimaryName).",
            )
            self._log(name, "create_table", (), error)
            raise error
        primary_name = str(primary[0].get("SchemaName", "")).lower()
        fields = system_attributes(
            name, primary_name, _label_text(primary[0].get("DisplayName"), primary_name)
        )
        extras = TableExtras(schema_name=schema_name, primary_name=primary_name)
        extras.attribute_schema_names[primary_name] = str(primary[0].get("SchemaName"))
        for attribute_body in attributes:
            if attribute_body is primary[0]:
                continue
            new = self._attribute_from(name, attribute_body, extras)
            fields.append(new)
        definition = TableDef(
            name=name,
            key=f"{name}id",
            label=_label_text(body.get("DisplayName"), schema_name),
            plural_label=_label_text(body.get("DisplayCollectionName"), schema_name + "s"),
            fields=tuple(fields),
            custom=True,
            entity_set=str(body["EntitySetName"]) if body.get("EntitySetName") else None,
            change_tracking=bool(body.get("ChangeTrackingEnabled", False)),
        )
        extras.description = _label_text(body.get("Description"), "")
        self.extras[name] = extras
        self.store.add_table(definition)
        self._log(name, "create_table", tuple(f.name for f in fields))
        entity_id = stable_id("entity", name)
        return _created(f"{base}{API_PATH}/EntityDefinitions({entity_id})")

    def _attribute_from(self, table: str, body: Mapping[str, Any], extras: TableExtras) -> FieldDef:
        odata_type = str(body.get("@odata.type", "")).lstrip("#").removeprefix(f"{NAMESPACE}.")
        schema_name = str(body.get("SchemaName") or "")
        name = schema_name.lower()
        if odata_type == "LookupAttributeMetadata" or body.get("AttributeType") in LOOKUP_TYPES:
            raise DataverseError(
                400,
                INVALID_ARGUMENT,
                "Lookup attributes cannot be created with CreateAttribute; create a one-to-many "
                "relationship (POST RelationshipDefinitions) with the lookup instead.",
            )
        kind = _CREATABLE.get(odata_type) or (
            str(body.get("AttributeType"))
            if body.get("AttributeType") in _CREATABLE.values()
            else None
        )
        if kind is None or not name:
            raise DataverseError(
                400, INVALID_ARGUMENT, f"The attribute type '{odata_type}' cannot be created."
            )
        if not name.startswith(PUBLISHER_PREFIX):
            raise self._refuse(table, "create_attribute", "prvCreateAttribute")
        required = (
            (body.get("RequiredLevel") or {}).get("Value", "None")
            if isinstance(body.get("RequiredLevel"), Mapping)
            else "None"
        )
        if kind == "DateTime" and (
            body.get("Format") == "DateOnly"
            or (body.get("DateTimeBehavior") or {}).get("Value") == "DateOnly"
        ):
            extras.date_only.add(name)
        extras.attribute_schema_names[name] = schema_name
        max_length = body.get("MaxLength")
        return FieldDef(
            name=name,
            type=kind,
            label=_label_text(body.get("DisplayName"), schema_name),
            nullable=required == "None",
            custom=True,
            length=int(max_length) if isinstance(max_length, int) else None,
            options=_options_from(body, kind),
        )

    def create_attribute(self, table: Table, body: Mapping[str, Any], base: str) -> Response:
        """``POST EntityDefinitions(...)/Attributes``."""
        if not table.name.startswith(PUBLISHER_PREFIX):
            raise self._refuse(table.name, "create_attribute", "prvCreateAttribute")
        extras = self.extras_for(table.name)
        try:
            new = self._attribute_from(table.name, body, extras)
        except DataverseError as refused:
            self._log(table.name, "create_attribute", (), refused)
            raise
        if table.definition.field(new.name) is not None:
            error = DataverseError(
                400,
                DUPLICATE_RECORD,
                f"An attribute with the name {new.name} already exists on entity {table.name}.",
            )
            self._log(table.name, "create_attribute", (new.name,), error)
            raise error
        self._add_field(table, new)
        self._log(table.name, "create_attribute", (new.name,))
        attribute_id = stable_id("attribute", table.name, new.name)
        return _created(
            f"{base}{API_PATH}/EntityDefinitions(LogicalName='{table.name}')/Attributes({attribute_id})"
        )

    def _add_field(self, table: Table, new: FieldDef) -> None:
        with self.store.lock:
            table.definition = replace(table.definition, fields=(*table.definition.fields, new))

    def create_key(self, table: Table, body: Mapping[str, Any], base: str) -> Response:
        """``POST EntityDefinitions(...)/Keys``."""
        if not table.name.startswith(PUBLISHER_PREFIX):
            raise self._refuse(table.name, "create_key", "prvCreateEntityKey")
        schema_name = str(body.get("SchemaName") or "")
        attributes = tuple(str(a).lower() for a in body.get("KeyAttributes") or [])
        extras = self.extras_for(table.name)
        error: DataverseError | None = None
        if not schema_name or not attributes:
            error = DataverseError(
                400, INVALID_ARGUMENT, "An alternate key needs a SchemaName and KeyAttributes."
            )
        elif missing := [a for a in attributes if table.definition.field(a) is None]:
            error = DataverseError(
                400,
                INVALID_ARGUMENT,
                f"The attribute {missing[0]} does not exist on entity {table.name}.",
            )
        elif any(k.schema_name.lower() == schema_name.lower() for k in extras.keys):
            error = DataverseError(
                400, DUPLICATE_RECORD, f"An entity key with the name {schema_name} already exists."
            )
        if error is not None:
            self._log(table.name, "create_key", attributes, error)
            raise error
        extras.keys.append(
            AlternateKey(schema_name, attributes, _label_text(body.get("DisplayName"), schema_name))
        )
        if len(attributes) == 1:
            with self.store.lock:
                fields = tuple(
                    replace(f, external_id=True, unique=True) if f.name == attributes[0] else f
                    for f in table.definition.fields
                )
                table.definition = replace(table.definition, fields=fields)
        self._log(table.name, "create_key", attributes)
        key_id = stable_id("key", table.name, schema_name.lower())
        return _created(
            f"{base}{API_PATH}/EntityDefinitions(LogicalName='{table.name}')/Keys({key_id})"
        )

    def create_relationship(self, request: Request, base: str) -> Response:
        """``POST RelationshipDefinitions``: a one-to-many relationship and its lookup column."""
        body = json_body(request)
        referencing = str(body.get("ReferencingEntity") or "").lower()
        referenced = str(body.get("ReferencedEntity") or "").lower()
        lookup = body.get("Lookup") if isinstance(body.get("Lookup"), Mapping) else {}
        assert isinstance(lookup, Mapping)
        lookup_name = str(lookup.get("SchemaName") or "").lower()
        if not referencing.startswith(PUBLISHER_PREFIX) or not lookup_name.startswith(
            PUBLISHER_PREFIX
        ):
            raise self._refuse(
                referencing or "(none)", "create_relationship", "prvCreateRelationship"
            )
        error: DataverseError | None = None
        if referencing not in self.store.tables or referenced not in self.store.tables:
            missing = referencing if referencing not in self.store.tables else referenced
            error = DataverseError(
                404, OBJECT_DOES_NOT_EXIST, f"Could not find entity with name '{missing}'."
            )
        elif self.store.tables[referencing].definition.field(lookup_name) is not None:
            error = DataverseError(
                400,
                DUPLICATE_RECORD,
                f"An attribute with the name {lookup_name} already exists on entity {referencing}.",
            )
        if error is not None:
            self._log(referencing, "create_relationship", (lookup_name,), error)
            raise error
        table = self.store.tables[referencing]
        self.extras_for(referencing).attribute_schema_names[lookup_name] = str(
            lookup.get("SchemaName")
        )
        new = FieldDef(
            lookup_name,
            "Lookup",
            _label_text(lookup.get("DisplayName"), lookup_name),
            custom=True,
            reference_to=(referenced,),
        )
        self._add_field(table, new)
        self._log(referencing, "create_relationship", (lookup_name,))
        relationship_id = stable_id("relationship", str(body.get("SchemaName") or lookup_name))
        return _created(f"{base}{API_PATH}/RelationshipDefinitions({relationship_id})")


def _complex_attribute(table: str, attribute: FieldDef, metadata: dict[str, Any]) -> dict[str, Any]:
    """An attribute as RetrieveEntity returns it: its complex type, option sets inline."""
    derived = _DERIVED.get(attribute.type, "AttributeMetadata")
    complex_type = {**metadata, "@odata.type": f"#{NAMESPACE}.Complex{derived}"}
    if attribute.type in _ENUM_TYPES:
        complex_type["OptionSet"] = _option_set(table, attribute)
    return complex_type


def _function_args(segment: str, request: Request) -> dict[str, str]:
    """A function's parameters, aliases (``@p1``) resolved and string literals unquoted."""
    match = _FUNCTION_RE.match(segment)
    if match is None:
        raise segment_not_found(segment)
    args: dict[str, str] = {}
    for part in split_commas(match.group("args"), "'"):
        name, equals, value = part.partition("=")
        if not equals:
            raise bad_query(f"The function parameter '{part}' has no value.")
        if value.startswith("@"):
            aliased = request.param(value)
            if aliased is None:
                raise bad_query(f"The parameter alias '{value}' has no value in the query.")
            value = aliased
        args[name.strip()] = _literal(value.strip())
    return args


def _literal(value: str) -> str:
    """The text of an OData literal: ``'x''y'`` -> ``x'y``; ``Ns.Enum'A,B'`` -> ``A,B``."""
    quote = value.find("'")
    if quote >= 0 and value.endswith("'") and len(value) > quote + 1:
        return value[quote + 1 : -1].replace("''", "'")
    return value


def _entity_filters(value: str | None) -> int:
    if value is None:
        raise bad_query("The parameter 'EntityFilters' of RetrieveEntity is missing.")
    flags = 0
    for member in value.split(","):
        name = member.strip()
        if name.isdigit():
            flags |= int(name)
        elif name in _ENTITY_FILTERS:
            flags |= _ENTITY_FILTERS[name]
        else:
            raise bad_query(f"The value '{name}' is not a member of EntityFilters.")
    return flags


def _options_from(body: Mapping[str, Any], kind: str) -> tuple[tuple[int | str, str], ...]:
    option_set = body.get("OptionSet")
    if not isinstance(option_set, Mapping):
        return ()
    if kind == "Boolean":
        true_option, false_option = (
            option_set.get("TrueOption") or {},
            option_set.get("FalseOption") or {},
        )
        return (
            (1, _label_text(true_option.get("Label"), "Yes")),
            (0, _label_text(false_option.get("Label"), "No")),
        )
    return tuple(
        (int(option["Value"]), _label_text(option.get("Label"), str(option["Value"])))
        for option in option_set.get("Options") or []
        if isinstance(option, Mapping) and isinstance(option.get("Value"), int)
    )


def _key_value(key: str, name: str) -> str:
    text = key.strip()
    prefix = f"{name}="
    if text.startswith(prefix):
        text = text[len(prefix) :]
    return text.strip("'").lower()


def _ok(body: Mapping[str, Any]) -> Response:
    return Response(
        200, json.dumps(body).encode(), {"Content-Type": JSON_CONTENT_TYPE, "OData-Version": "4.0"}
    )


def _created(entity_id: str) -> Response:
    return Response(204, b"", {"OData-Version": "4.0", "OData-EntityId": entity_id})


__all__ = ["MetadataCatalog", "attribute_metadata", "entity_metadata", "entity_set_name", "label"]
