"""How the emulator sees a Dataverse table: entity set, Web API properties, Edm types, rendering.

A :class:`TableDef` in the store holds attribute logical names and Dataverse AttributeTypes; this
module derives what the Web API shows for it: the entity set name (``accounts``), the property
name of each attribute (lookups become ``_parentaccountid_value``), its Edm type for ``$filter``,
how a stored Python value is written in JSON, and the formatted value Dataverse annotates it with.
It also defines kamsync's own score table, ``kam_accountscore`` (SPEC section 7).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from connectors.emulator.odata import Column, Schema
from connectors.emulator.store import FieldDef, Table, TableDef

LOOKUP_TYPES = frozenset({"Lookup", "Owner", "Customer"})
OPTION_TYPES = frozenset({"Picklist", "State", "Status"})
NAMESPACE = "Microsoft.Dynamics.CRM"

_EDM = {
    "Uniqueidentifier": "Edm.Guid",
    "String": "Edm.String",
    "Memo": "Edm.String",
    "EntityName": "Edm.String",
    "Boolean": "Edm.Boolean",
    "Integer": "Edm.Int32",
    "BigInt": "Edm.Int64",
    "Decimal": "Edm.Decimal",
    "Double": "Edm.Double",
    "Money": "Edm.Decimal",
    "DateTime": "Edm.DateTimeOffset",
    "Picklist": "Edm.Int32",
    "State": "Edm.Int32",
    "Status": "Edm.Int32",
    "Lookup": "Edm.Guid",
    "Owner": "Edm.Guid",
    "Customer": "Edm.Guid",
}
_NAME_CANDIDATES = ("name", "fullname", "subject", "title")


def entity_set_name(definition: TableDef) -> str:
    """The Web API entity set of a table: its TableDef value, else the English plural."""
    if definition.entity_set:
        return definition.entity_set
    name = definition.name
    if name.endswith("y") and name[-2:-1] not in tuple("aeiou"):
        return name[:-1] + "ies"
    if name.endswith(("s", "x", "ch", "sh")):
        return name + "es"
    return name + "s"


def primary_name_attribute(definition: TableDef) -> str | None:
    """The table's primary name column (``name``, ``fullname``, ``subject``, ...)."""
    candidates = (
        *_NAME_CANDIDATES,
        f"{definition.name}name",
        f"{definition.name.split('_')[0]}_name",
    )
    for candidate in candidates:
        found = definition.field(candidate)
        if found is not None and found.type in ("String", "Memo"):
            return found.name
    for candidate_field in definition.fields:
        if candidate_field.type == "String":
            return candidate_field.name
    return None


def property_name(attribute: FieldDef) -> str:
    """The Web API property for an attribute: ``_x_value`` for lookups, else its logical name."""
    if attribute.type in LOOKUP_TYPES:
        return f"_{attribute.name}_value"
    return attribute.name


# ---------------------------------------------------------------------------- value writers


def format_datetime(value: datetime) -> str:
    """``2024-01-02T03:04:05Z`` (UTC, whole seconds)."""
    if value.tzinfo is not None and value.utcoffset():
        value = value.astimezone(UTC)
    return value.isoformat()[:19] + "Z"


def json_value(value: Any) -> Any:
    """A stored Python value as Dataverse writes it in JSON."""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _formatted_datetime(value: Any) -> str:
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value
        hour = moment.hour % 12 or 12
        half = "AM" if moment.hour < 12 else "PM"
        return f"{moment.month}/{moment.day}/{moment.year} {hour}:{moment.minute:02d} {half}"
    if isinstance(value, date):
        return f"{value.month}/{value.day}/{value.year}"
    return str(value)


def formatter(attribute: FieldDef) -> Callable[[Any], str] | None:
    """How Dataverse formats a value of this attribute for the FormattedValue annotation."""
    kind = attribute.type
    if kind in OPTION_TYPES or (kind == "Boolean" and attribute.options):
        labels = {int(value): label for value, label in attribute.options}
        return lambda value: labels.get(int(value), str(value))
    if kind == "Boolean":
        return lambda value: "Yes" if value else "No"
    if kind == "Money":
        return lambda value: f"${float(value):,.2f}"
    if kind in ("Integer", "BigInt"):
        return lambda value: f"{int(value):,}"
    if kind in ("Decimal", "Double"):
        return lambda value: f"{float(value):,.2f}"
    if kind == "DateTime":
        return _formatted_datetime
    return None


# ---------------------------------------------------------------------------- table extras


@dataclass
class AlternateKey:
    """An alternate key definition (EntityKeyMetadata)."""

    schema_name: str
    attributes: tuple[str, ...]
    display_name: str


@dataclass
class TableExtras:
    """What the metadata API knows about a table beyond its TableDef."""

    schema_name: str | None = None
    attribute_schema_names: dict[str, str] = field(default_factory=dict)
    date_only: set[str] = field(default_factory=set)
    keys: list[AlternateKey] = field(default_factory=list)
    primary_name: str | None = None
    description: str = ""


def alternate_keys(definition: TableDef, extras: TableExtras) -> list[AlternateKey]:
    """The table's alternate keys: registered ones plus every external-id attribute."""
    keys = list(extras.keys)
    covered = {attribute for key in keys for attribute in key.attributes}
    for attribute in definition.fields:
        if attribute.external_id and attribute.name not in covered:
            keys.append(AlternateKey(f"{attribute.name}_key", (attribute.name,), attribute.label))
    return keys


# ---------------------------------------------------------------------------- entity view


@dataclass(frozen=True)
class Prop:
    """One Web API property of a table."""

    name: str
    attribute: FieldDef
    edm: str

    @property
    def key(self) -> str:
        """The record key the value is stored under."""
        return self.attribute.name

    @property
    def is_lookup(self) -> bool:
        """True for lookup-like attributes (rendered as ``_x_value``)."""
        return self.attribute.type in LOOKUP_TYPES


def _date_only_attributes(table: Table, declared: Iterable[str]) -> set[str]:
    found = set(declared)
    for attribute in table.definition.fields:
        if attribute.type != "DateTime" or attribute.name in found:
            continue
        for record in table.rows.values():
            value = record.get(attribute.name)
            if value is not None:
                if isinstance(value, date) and not isinstance(value, datetime):
                    found.add(attribute.name)
                break
    return found


class EntityView:
    """A table as the Web API presents it."""

    def __init__(self, table: Table, extras: TableExtras) -> None:
        definition = table.definition
        self.definition = definition
        self.logical_name = definition.name
        self.entity_set = entity_set_name(definition)
        self.key = definition.key
        self.primary_name = extras.primary_name or primary_name_attribute(definition)
        self.type_name = f"{NAMESPACE}.{definition.name}"
        self.date_only = frozenset(_date_only_attributes(table, extras.date_only))
        self.props: dict[str, Prop] = {}
        for attribute in definition.fields:
            edm = _EDM.get(attribute.type, "Edm.String")
            if attribute.name in self.date_only:
                edm = "Edm.Date"
            prop = Prop(property_name(attribute), attribute, edm)
            self.props[prop.name.lower()] = prop
        self.schema = Schema(
            self.type_name, {p.name: Column(p.key, p.edm) for p in self.props.values()}
        )

    def prop(self, name: str) -> Prop | None:
        """The property called ``name`` (case-insensitive)."""
        return self.props.get(name.lower())

    def attribute(self, name: str) -> FieldDef | None:
        """The attribute with logical name ``name``."""
        return self.definition.field(name)


# ---------------------------------------------------------------------------- kam_accountscore

SCORE_TABLE = "kam_accountscore"
SCORE_ENTITY_SET = "kam_accountscores"
SCORE_KEY = "kam_extid"
SCORE_KEY_SCHEMA_NAME = "kam_ExtIdKey"
SCORE_LOOKUP = "kam_accountid"
SCORE_RELATIONSHIP = "kam_account_kam_accountscore_accountid"

# (logical name, AttributeType, display name, max length)
SCORE_COLUMNS: tuple[tuple[str, str, str, int | None], ...] = (
    ("kam_tier", "String", "Tier", 20),
    ("kam_healthscore", "Decimal", "Health score", None),
    ("kam_healthband", "String", "Health band", 10),
    ("kam_walletestimate", "Money", "Wallet estimate", None),
    ("kam_walletshare", "Decimal", "Wallet share", None),
    ("kam_walletheadroom", "Money", "Wallet headroom", None),
    ("kam_whitespace1", "String", "Top whitespace family 1", 100),
    ("kam_whitespace1value", "Money", "Top whitespace value 1", None),
    ("kam_whitespace2", "String", "Top whitespace family 2", 100),
    ("kam_whitespace2value", "Money", "Top whitespace value 2", None),
    ("kam_whitespace3", "String", "Top whitespace family 3", 100),
    ("kam_whitespace3value", "Money", "Top whitespace value 3", None),
    ("kam_callsactual", "Integer", "Calls in the last 30 days", None),
    ("kam_callcompliance", "Decimal", "Call compliance", None),
    ("kam_dayssincecontact", "Integer", "Days since last contact", None),
    ("kam_explanation", "Memo", "Explanation", 4000),
    ("kam_scoredat", "DateTime", "Scored at", None),
    ("kam_planperiod", "String", "Plan period", 20),
    ("kam_revenuetarget", "Money", "Revenue target", None),
    ("kam_revenueforecast", "Money", "Revenue forecast", None),
    ("kam_revenuegap", "Money", "Gap to target", None),
    ("kam_callcycle", "Decimal", "Recommended touches per month", None),
    ("kam_nextduedate", "DateTime", "Next contact due", None),
    ("kam_focusfamilies", "String", "Focus product families", 500),
    ("kam_nextreviewdate", "DateTime", "Next plan review", None),
)
SCORE_DATE_ONLY = frozenset({"kam_nextduedate", "kam_nextreviewdate"})


def system_attributes(table: str, primary_name: str, primary_label: str) -> list[FieldDef]:
    """The attributes Dataverse adds to every new user-owned custom table."""
    status = ((1, "Active"), (2, "Inactive"))
    return [
        FieldDef(f"{table}id", "Uniqueidentifier", "Id", nullable=False, updateable=False),
        FieldDef(primary_name, "String", primary_label, custom=True, length=100),
        FieldDef("createdon", "DateTime", "Created On", updateable=False),
        FieldDef("modifiedon", "DateTime", "Modified On", updateable=False),
        FieldDef("versionnumber", "BigInt", "Version Number", updateable=False),
        FieldDef("ownerid", "Owner", "Owner", reference_to=("systemuser",)),
        FieldDef(
            "statecode", "State", "Status", nullable=False, options=((0, "Active"), (1, "Inactive"))
        ),
        FieldDef("statuscode", "Status", "Status Reason", options=status),
    ]


def score_table_definition() -> TableDef:
    """kamsync's score table as ``kamsync metadata dynamics --apply`` creates it."""
    fields = system_attributes(SCORE_TABLE, "kam_name", "Name")
    fields.append(
        FieldDef(
            SCORE_KEY,
            "String",
            "External id",
            custom=True,
            length=100,
            external_id=True,
            unique=True,
        )
    )
    fields.append(
        FieldDef(SCORE_LOOKUP, "Lookup", "Account", custom=True, reference_to=("account",))
    )
    for name, kind, label, length in SCORE_COLUMNS:
        fields.append(FieldDef(name, kind, label, custom=True, length=length))
    return TableDef(
        name=SCORE_TABLE,
        key=f"{SCORE_TABLE}id",
        label="KAM account score",
        plural_label="KAM account scores",
        fields=tuple(fields),
        custom=True,
        entity_set=SCORE_ENTITY_SET,
        change_tracking=True,
    )


def score_table_extras() -> TableExtras:
    """The metadata extras of the seeded score table."""
    return TableExtras(
        schema_name="kam_AccountScore",
        date_only=set(SCORE_DATE_ONLY),
        keys=[AlternateKey(SCORE_KEY_SCHEMA_NAME, (SCORE_KEY,), "External id key")],
        primary_name="kam_name",
        description="Key account management scores and plan fields written by kamsync.",
    )
