"""Writes into the emulated Salesforce org: upsert by external id, for kamsync's score object only.

One engine serves sObject Collections upsert, single-record upsert and Bulk API 2.0 ingest:
:meth:`Writer.upsert` validates every record (field writability, types, lengths, restricted
picklists, required fields, the Account lookup, duplicate external ids in one call, failures
planted by tests), then applies the good ones, or none when ``all_or_none`` and any failed.
Every attempt, applied or not, is appended to the store's write log.

Writes to any other object are refused (:meth:`Writer.refuse`) with Salesforce's
``INSUFFICIENT_ACCESS_OR_READONLY`` error, and logged too.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from connectors.emulator.ids import SalesforceIds, base62, sf_to_18
from connectors.emulator.sfauth import USER_ID
from connectors.emulator.sfschema import SCORE_KEY_PREFIX, SCORE_OBJECT_NAME
from connectors.emulator.soql import ID_TYPES, NUMBER_TYPES, TEXT_TYPES, parse_datetime
from connectors.emulator.store import FieldDef, Store, TableDef, WriteLogEntry

WRITABLE_OBJECTS = frozenset({SCORE_OBJECT_NAME})
READONLY_MESSAGE = "insufficient access rights on object id"
ROLLED_BACK = (
    "Record rolled back because not all records were valid and the request was using AllOrNone "
    "header"
)


def salesforce_id(prefix: str, number: int, pod: str = "5g") -> str:
    """An 18-character Salesforce id: prefix, pod, ``0``, 9 base-62 digits, case-safe suffix."""
    return sf_to_18(f"{prefix}{pod}0{base62(number, 9)}")


@dataclass(frozen=True)
class RecordError:
    """One record's failure, as Salesforce reports it."""

    code: str
    message: str
    fields: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The REST / Collections error object."""
        return {"statusCode": self.code, "message": self.message, "fields": list(self.fields)}

    def as_bulk(self) -> str:
        """The ``sf__Error`` text of a Bulk API failed-results row."""
        return f"{self.code}:{self.message}:{','.join(self.fields)} --"

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True)
class Outcome:
    """What happened to one record of an upsert."""

    id: str | None
    created: bool
    error: RecordError | None = None

    @property
    def success(self) -> bool:
        """True when the record was written."""
        return self.error is None

    def as_json(self) -> dict[str, Any]:
        """The Collections UpsertResult object."""
        result: dict[str, Any] = {"id": self.id, "success": self.success}
        result["errors"] = [self.error.as_json()] if self.error else []
        if self.success:
            result["created"] = self.created
        return result


class ValueProblem(Exception):
    """A value that does not fit its field."""

    def __init__(self, error: RecordError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass
class Plan:
    """Failures tests plant: external ids that fail validation or stay unprocessed in Bulk."""

    validation: dict[str, str] = field(default_factory=dict)
    unprocessed: set[str] = field(default_factory=set)


@dataclass
class _Prepared:
    ext_id: str
    values: dict[str, Any]
    existing: str | None
    error: RecordError | None = None


class Writer:
    """Upserts into the score object of one store and logs every attempt."""

    def __init__(self, store: Store, ids: SalesforceIds | None = None) -> None:
        self.store = store
        self.ids = ids
        if ids is not None:
            ids.register(SCORE_OBJECT_NAME, SCORE_KEY_PREFIX)
        self.plan = Plan()
        self._next_number = 1
        self._index: dict[str, str] = {}
        self._indexed_rows = -1
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ planted failures

    def fail_validation(self, ext_ids: Sequence[str], message: str | None = None) -> None:
        """Make these external ids fail with FIELD_CUSTOM_VALIDATION_EXCEPTION."""
        text = message or "kamsync test validation rule: this score is rejected"
        for ext_id in ext_ids:
            self.plan.validation[ext_id.lower()] = text

    def leave_unprocessed(self, ext_ids: Sequence[str]) -> None:
        """Make these external ids end as unprocessed records of Bulk ingest jobs."""
        self.plan.unprocessed.update(e.lower() for e in ext_ids)

    def clear_plan(self) -> None:
        """Forget every planted failure."""
        self.plan = Plan()

    # ------------------------------------------------------------------ logging

    def log(
        self,
        api: str,
        table: str,
        record_id: str | None,
        operation: str,
        fields: Sequence[str],
        error: RecordError | None = None,
    ) -> None:
        """Append one write attempt to the store's write log."""
        self.store.log_write(
            WriteLogEntry(
                at=self.store.now(),
                api=api,
                table=table,
                record_id=record_id,
                operation=operation,
                fields=tuple(fields),
                ok=error is None,
                error=str(error) if error else None,
            )
        )

    def refuse(
        self, api: str, table: str, record_id: str | None, operation: str, fields: Sequence[str]
    ) -> RecordError:
        """Log and return the refusal of a write to an object kamsync may not write."""
        error = RecordError("INSUFFICIENT_ACCESS_OR_READONLY", READONLY_MESSAGE)
        self.log(api, table, record_id, operation, fields, error)
        return error

    # ------------------------------------------------------------------ upsert

    def upsert(
        self,
        table: TableDef,
        ext_field: FieldDef,
        records: Sequence[Mapping[str, Any]],
        *,
        api: str,
        all_or_none: bool = False,
        from_csv: bool = False,
    ) -> list[Outcome]:
        """Upsert ``records`` (field name -> JSON value or CSV text) by ``ext_field``."""
        with self._lock, self.store.lock:
            index = self._ext_index(table, ext_field)
            prepared = [self._prepare(table, ext_field, r, index, from_csv) for r in records]
            self._mark_duplicates(prepared, ext_field)
            failed = any(p.error is not None for p in prepared)
            if all_or_none and failed:
                return [
                    self._rolled_back(table, p, api, records[i]) for i, p in enumerate(prepared)
                ]
            return [self._apply(table, ext_field, p, api, index) for p in prepared]

    def _ext_index(self, table: TableDef, ext_field: FieldDef) -> dict[str, str]:
        rows = self.store.table(table.name).rows
        if self._indexed_rows != len(rows):
            name = ext_field.name
            self._index = {
                str(r[name]).lower(): key for key, r in rows.items() if r.get(name) is not None
            }
            self._indexed_rows = len(rows)
        return self._index

    def _prepare(
        self,
        table: TableDef,
        ext_field: FieldDef,
        record: Mapping[str, Any],
        index: dict[str, str],
        from_csv: bool,
    ) -> _Prepared:
        raw_ext = record.get(ext_field.name)
        ext_id = "" if raw_ext is None else str(raw_ext).strip()
        prepared = _Prepared(ext_id, {}, index.get(ext_id.lower()) if ext_id else None)
        if not ext_id:
            prepared.error = RecordError(
                "MISSING_ARGUMENT", f"{ext_field.name} not specified", (ext_field.name,)
            )
            return prepared
        try:
            prepared.values = self._values(table, record, from_csv)
            self._check_required(table, prepared)
            self._check_lookups(table, prepared.values)
        except ValueProblem as problem:
            prepared.error = problem.error
            return prepared
        planted = self.plan.validation.get(ext_id.lower())
        if planted is not None:
            prepared.error = RecordError("FIELD_CUSTOM_VALIDATION_EXCEPTION", planted)
        return prepared

    def _values(self, table: TableDef, record: Mapping[str, Any], from_csv: bool) -> dict[str, Any]:
        values: dict[str, Any] = {}
        readonly: list[str] = []
        for name, raw in record.items():
            if name == "attributes":
                continue
            definition = table.field(name)
            if definition is None:
                raise ValueProblem(
                    RecordError(
                        "INVALID_FIELD",
                        f"No such column '{name}' on sobject of type {table.name}",
                        (name,),
                    )
                )
            if from_csv and raw == "":
                continue  # Bulk API: an empty cell leaves the field as it is
            if not definition.updateable or definition.name == "Id":
                readonly.append(definition.name)
                continue
            values[definition.name] = coerce(definition, raw, from_csv)
        if readonly:
            raise ValueProblem(
                RecordError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {', '.join(readonly)}. Please check the "
                    "security settings of this field and verify that it is read/write for your "
                    "profile or permission set.",
                    tuple(readonly),
                )
            )
        return values

    def _check_required(self, table: TableDef, prepared: _Prepared) -> None:
        missing = [
            f.name
            for f in table.fields
            if f.custom
            and not f.nullable
            and f.type != "boolean"
            and (
                (prepared.existing is None and prepared.values.get(f.name) is None)
                or (f.name in prepared.values and prepared.values[f.name] is None)
            )
        ]
        if missing:
            raise ValueProblem(
                RecordError(
                    "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{', '.join(missing)}]",
                    tuple(missing),
                )
            )

    def _check_lookups(self, table: TableDef, values: Mapping[str, Any]) -> None:
        for definition in table.fields:
            if definition.type != "reference" or not definition.custom:
                continue
            value = values.get(definition.name)
            if value is None:
                continue
            problem = self._lookup_problem(definition, str(value))
            if problem is not None:
                raise ValueProblem(problem)

    def _lookup_problem(self, definition: FieldDef, value: str) -> RecordError | None:
        for target in definition.reference_to:
            try:
                rows = self.store.table(target).rows
            except KeyError:
                continue
            record = rows.get(value) if len(value) == 18 else _by_15(rows, value)
            if record is None:
                continue
            if record.get("IsDeleted"):
                return RecordError("ENTITY_IS_DELETED", "entity is deleted", (definition.name,))
            return None
        return RecordError(
            "INVALID_CROSS_REFERENCE_KEY",
            "invalid cross reference id",
            (definition.name,),
        )

    @staticmethod
    def _mark_duplicates(prepared: list[_Prepared], ext_field: FieldDef) -> None:
        counts: dict[str, int] = {}
        for item in prepared:
            if item.ext_id:
                counts[item.ext_id.lower()] = counts.get(item.ext_id.lower(), 0) + 1
        for item in prepared:
            if item.ext_id and counts[item.ext_id.lower()] > 1 and item.error is None:
                item.error = RecordError(
                    "DUPLICATE_EXTERNAL_ID",
                    f"Duplicate external id specified: {item.ext_id}",
                    (ext_field.name,),
                )

    def _rolled_back(
        self, table: TableDef, item: _Prepared, api: str, record: Mapping[str, Any]
    ) -> Outcome:
        error = item.error or RecordError("ALL_OR_NONE_OPERATION_ROLLED_BACK", ROLLED_BACK)
        self.log(api, table.name, item.existing, "upsert", _names(record), error)
        return Outcome(None, False, error)

    def _apply(
        self,
        table: TableDef,
        ext_field: FieldDef,
        item: _Prepared,
        api: str,
        index: dict[str, str],
    ) -> Outcome:
        names = sorted(item.values)
        if item.error is not None:
            self.log(api, table.name, item.existing, "upsert", names, item.error)
            return Outcome(None, False, item.error)
        if item.existing is not None:
            self.store.update(table.name, item.existing, item.values)
            self.log(api, table.name, item.existing, "upsert", names)
            return Outcome(item.existing, False)
        record_id = self._insert(table, ext_field, item)
        index[item.ext_id.lower()] = record_id
        self._indexed_rows += 1
        self.log(api, table.name, record_id, "upsert", names)
        return Outcome(record_id, True)

    def _insert(self, table: TableDef, ext_field: FieldDef, item: _Prepared) -> str:
        number = self._next_number
        self._next_number += 1
        if self.ids is not None:  # the org's own allocator: ids look like the org's
            record_id = self.ids.new(table.name)
        else:
            record_id = salesforce_id(SCORE_KEY_PREFIX, number)
        record: dict[str, Any] = {
            name.name: None for name in table.fields if name.type != "address"
        }
        record.update(item.values)
        record.update(
            {
                "Id": record_id,
                "Name": f"KAS-{number:07d}",
                "OwnerId": USER_ID,
                "CreatedById": USER_ID,
                "LastModifiedById": USER_ID,
                "CreatedDate": None,
                "IsDeleted": False,
                ext_field.name: item.ext_id,
            }
        )
        self.store.insert(table.name, record)
        return record_id


def _names(record: Mapping[str, Any]) -> list[str]:
    return sorted(k for k in record if k != "attributes")


def _by_15(rows: Mapping[str, dict[str, Any]], value: str) -> dict[str, Any] | None:
    if len(value) != 15:
        return None
    for key, record in rows.items():
        if key[:15] == value:
            return record
    return None


# ----------------------------------------------------------------------------- values


def _problem(field: FieldDef, code: str, message: str) -> ValueProblem:
    return ValueProblem(RecordError(code, f"{field.label}: {message}", (field.name,)))


def coerce(field: FieldDef, raw: Any, from_csv: bool) -> Any:
    """``raw`` (a JSON value, or CSV text) as the Python value ``field`` stores."""
    if raw is None or (from_csv and raw == "#N/A"):
        return None
    kind = field.type
    try:
        if kind in TEXT_TYPES or kind in ID_TYPES:
            return _text(field, raw)
        if kind in NUMBER_TYPES:
            return _number(field, raw)
        if kind == "boolean":
            return _boolean(raw)
        if kind == "date":
            return (
                raw
                if isinstance(raw, date) and not isinstance(raw, datetime)
                else date.fromisoformat(str(raw)[:10])
            )
        if kind == "datetime":
            return _datetime(raw)
    except (TypeError, ValueError):
        raise _problem(
            field, "INVALID_TYPE_ON_FIELD_IN_RECORD", f"value not of required type: {raw}"
        ) from None
    return raw


def _text(field: FieldDef, raw: Any) -> str:
    if isinstance(raw, (dict, list)):
        raise TypeError("not text")
    text = raw if isinstance(raw, str) else str(raw).lower() if isinstance(raw, bool) else str(raw)
    if field.length and len(text) > field.length:
        raise _problem(
            field,
            "STRING_TOO_LONG",
            f"data value too large: {text[:40]} (max length={field.length})",
        )
    if field.options and field.type == "picklist":
        allowed = {str(value) for value, _label in field.options}
        if text not in allowed:
            raise _problem(
                field,
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"bad value for restricted picklist field: {text}",
            )
    return text


def _number(field: FieldDef, raw: Any) -> float | int:
    if isinstance(raw, bool):
        raise TypeError("boolean is not a number")
    value = float(raw) if not isinstance(raw, (int, float)) else raw
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return int(value) if field.type == "int" else float(value)


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValueError(f"not a boolean: {raw!r}")


def _datetime(raw: Any) -> datetime:
    if isinstance(raw, datetime):
        return raw if raw.tzinfo else raw.replace(tzinfo=UTC)
    text = str(raw).strip()
    try:
        return parse_datetime(text)
    except ValueError:
        parsed = datetime.fromisoformat(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
