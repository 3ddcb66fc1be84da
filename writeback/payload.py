"""The payload of a score record, normalised the way each CRM stores it, and its hash.

A value is normalised before it is hashed, compared or sent: numbers rounded to the field's
decimal places (half up, as both CRMs round), shares scaled to percent, integers as integers,
datetimes in UTC cut to the CRM's precision (Salesforce keeps milliseconds, Dataverse seconds),
dates as ``YYYY-MM-DD``, text cut to the field's length and empty text as null (both CRMs store
an empty string as null).  Noise below the stored precision (``365637.00000000035``) therefore
never makes a record look changed, and a value read back from the CRM compares equal to the one
that was sent.  :mod:`writeback.desired` does the same in SQL for the warehouse's rows; this
module's :func:`normalise` serves values read back from the CRM (a test holds the two together).

:class:`TargetMap` is one source's target: the object and, per :class:`ScoreField`, the CRM field
name (after the configuration's overrides) and its :class:`Shape`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Literal

from config.errors import ConfigError, ConfigProblem
from config.model import WritebackTarget
from writeback.metadata import (
    DV_ENTITY_SET,
    DV_TABLE,
    FIELDS,
    SF_OBJECT,
    ScoreField,
)

CrmKind = Literal["salesforce", "dynamics"]
ShapeKind = Literal["text", "decimal", "integer", "date", "datetime", "reference"]
Value = str | int | float | None


@dataclass(frozen=True)
class Shape:
    """How a CRM stores a field's values."""

    kind: ShapeKind
    length: int | None = None
    scale: int = 0
    fraction_digits: int = 0
    percent: bool = False


def salesforce_shape(score: ScoreField) -> Shape:
    """The shape of ``score`` in Salesforce."""
    spec = score.salesforce
    if spec.type in ("Text", "LongTextArea", "Picklist"):
        return Shape("text", length=spec.length)
    if spec.type in ("Number", "Currency", "Percent"):
        scale = spec.scale or 0
        return Shape("decimal" if scale else "integer", scale=scale, percent=score.percent)
    if spec.type == "Date":
        return Shape("date")
    if spec.type == "DateTime":
        return Shape("datetime", fraction_digits=3)
    return Shape("reference")


def dataverse_shape(score: ScoreField) -> Shape:
    """The shape of ``score`` in Dataverse."""
    column = score.dataverse
    if column.type in ("String", "Memo"):
        return Shape("text", length=column.max_length)
    if column.type in ("Decimal", "Money"):
        return Shape("decimal", scale=column.precision or 0, percent=score.percent)
    if column.type == "Integer":
        return Shape("integer", percent=score.percent)
    if column.type == "DateTime":
        return Shape("date") if column.date_only else Shape("datetime")
    return Shape("reference")


# --------------------------------------------------------------------------- normalisation


def normalise(value: Any, shape: Shape, *, from_crm: bool = False) -> Value:
    """``value`` (from the warehouse, or read back from the CRM) as the CRM stores it.

    A share in the warehouse is a fraction (0.25) and is scaled to percent (25.0); a value read
    from the CRM is already a percentage.
    """
    if value is None:
        return None
    if shape.kind == "text":
        return _text(value, shape.length)
    if shape.kind in ("decimal", "integer"):
        return _number(value, shape, scale_percent=shape.percent and not from_crm)
    if shape.kind == "date":
        return _date(value)
    if shape.kind == "datetime":
        return _datetime(value, shape.fraction_digits)
    text = str(value)
    return text or None


def _text(value: Any, length: int | None) -> str | None:
    text = value if isinstance(value, str) else str(value)
    if length is not None:
        text = text[:length]
    return text or None


def _number(value: Any, shape: Shape, *, scale_percent: bool) -> int | float | None:
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    try:
        number = Decimal(value) if isinstance(value, str) else Decimal(repr(float(value)))
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"{value!r} is not a number") from exc
    if not number.is_finite():
        return None
    if scale_percent:
        number *= 100
    scale = shape.scale if shape.kind == "decimal" else 0
    rounded = number.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
    if shape.kind == "integer":
        return int(rounded)
    result = float(rounded)
    return 0.0 if result == 0 else result  # no -0.0


def _date(value: Any) -> str:
    if isinstance(value, datetime):
        return (
            value.astimezone(UTC).date().isoformat() if value.tzinfo else value.date().isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    return date.fromisoformat(str(value)[:10]).isoformat()


def parse_datetime(text: str) -> datetime:
    """A datetime in any form the CRMs or DuckDB write (``Z``, ``+0000``, ``+00:00``, none)."""
    cleaned = text.strip().replace("Z", "+00:00")
    if len(cleaned) > 5 and cleaned[-5] in "+-" and cleaned[-3] != ":":
        cleaned = cleaned[:-2] + ":" + cleaned[-2:]  # Salesforce's +0000
    parsed = datetime.fromisoformat(cleaned)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _datetime(value: Any, fraction_digits: int) -> str:
    moment = value if isinstance(value, datetime) else parse_datetime(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if fraction_digits:
        base += "." + f"{moment.microsecond:06d}"[:fraction_digits]
    return base + "Z"


# --------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class MappedField:
    """A score field as one source writes it: its CRM name and shape."""

    score: ScoreField
    name: str
    shape: Shape


@dataclass(frozen=True)
class TargetMap:
    """One source's write-back target: the object and every mapped field."""

    kind: CrmKind
    object: str
    fields: tuple[MappedField, ...]
    entity_set: str | None = None

    @property
    def external_id(self) -> MappedField:
        """The external id field."""
        return next(f for f in self.fields if f.score.role == "external_id")

    @property
    def lookup(self) -> MappedField:
        """The lookup to the account."""
        return next(f for f in self.fields if f.score.role == "lookup")

    @property
    def volatile(self) -> frozenset[str]:
        """Fields whose change alone does not make a record changed."""
        return frozenset(f.name for f in self.fields if f.score.volatile)

    def field(self, name: str) -> MappedField:
        """The mapped field with CRM name ``name``."""
        for mapped in self.fields:
            if mapped.name == name:
                return mapped
        raise KeyError(name)


def target_map(
    kind: CrmKind, source: str, target: WritebackTarget, config_file: str = "kamsync.toml"
) -> TargetMap:
    """The target of ``source``, with the configuration's renames checked against the fields."""
    unknown = sorted(set(target.fields) - {f.key for f in FIELDS})
    if unknown:
        raise ConfigError(
            [
                ConfigProblem(
                    config_file,
                    f"writeback.sources.{source}.fields.{key}",
                    f"no score field is called {key!r}; the fields are "
                    + ", ".join(f.key for f in FIELDS),
                )
                for key in unknown
            ]
        )
    shape = salesforce_shape if kind == "salesforce" else dataverse_shape
    fields = tuple(
        MappedField(
            score,
            target.fields.get(score.key)
            or (score.salesforce.name if kind == "salesforce" else score.dataverse.name),
            shape(score),
        )
        for score in FIELDS
    )
    names = [f.name.lower() for f in fields]
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise ConfigError(
            [
                ConfigProblem(
                    config_file,
                    f"writeback.sources.{source}.fields",
                    f"two score fields would both write {', '.join(doubled)}",
                )
            ]
        )
    default_object = SF_OBJECT if kind == "salesforce" else DV_TABLE
    obj = target.object or default_object
    entity_set = None if kind == "salesforce" else (DV_ENTITY_SET if obj == DV_TABLE else obj + "s")
    return TargetMap(kind, obj, fields, entity_set)
