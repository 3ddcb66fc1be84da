"""Writes to kamsync's score table, and the refusal of every other write.

* ``PATCH kam_accountscores(kam_extid='...')`` (or ``(<id>)``) upserts, honouring
  ``If-Match: *`` (update only), ``If-None-Match: *`` (create only) and ``If-Match: W/"<n>"``;
  ``POST kam_accountscores`` creates; ``DELETE kam_accountscores(<id>)`` deletes.
* ``POST kam_accountscores/Microsoft.Dynamics.CRM.UpsertMultiple`` upserts up to 1,000
  ``Targets`` (each with ``@odata.type``) all or nothing, as on a standard table.
* Lookups bind with ``kam_accountid@odata.bind: "/accounts(<id>)"``; an unknown account fails
  that record.
* A write to any other table is refused with Dataverse's privilege error.

Every attempt, successful or not, is appended to the store's write log.  Tests plant
per-record failures with :meth:`ScoreWriter.plant_failure`.  Writes inside a ``$batch``
change set or an UpsertMultiple run in a :class:`Transaction` that undoes them on failure.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import unquote

from connectors.emulator.dataverse_auth import stable_id
from connectors.emulator.dataverse_errors import (
    DUPLICATE_RECORD,
    INVALID_ARGUMENT,
    OBJECT_DOES_NOT_EXIST,
    ODATA_ERROR,
    PLUGIN_FAILED,
    PRIVILEGE_DENIED,
    VALIDATION_FAILED,
    DataverseError,
    key_not_found,
    record_not_found,
)
from connectors.emulator.dataverse_model import (
    LOOKUP_TYPES,
    NAMESPACE,
    OPTION_TYPES,
    EntityView,
    TableExtras,
    alternate_keys,
)
from connectors.emulator.store import FieldDef, Store, Table, WriteLogEntry

CONCURRENCY_MISMATCH = "0x80060882"
_GUID_RE = re.compile(
    r"^\{?[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}?$"
)
_KEY_PAIR_RE = re.compile(r"\s*([A-Za-z_][\w]*)\s*=\s*('(?:[^']|'')*'|[^,]+)\s*(?:,|$)")
_REFERENCE_RE = re.compile(r"^(?:.*/)?(?P<set>[A-Za-z_][\w]*)\((?P<key>.*)\)$")


def is_guid(text: str) -> bool:
    """True for a GUID (with or without braces)."""
    return bool(_GUID_RE.match(text.strip()))


@dataclass(frozen=True)
class Address:
    """How a request names a record: by primary key or by alternate key values."""

    record_id: str | None = None
    key_values: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> Address:
        """``<guid>``, ``name='value'`` or ``a='x',b='y'`` from between the parentheses."""
        text = unquote(text).strip()
        if is_guid(text):
            return cls(record_id=text.strip("{}").lower())
        pairs: list[tuple[str, str]] = []
        position = 0
        while position < len(text):
            match = _KEY_PAIR_RE.match(text, position)
            if match is None or match.end() == position:
                raise DataverseError(
                    400, ODATA_ERROR, f"Bad Request - Error in query syntax: '{text}'."
                )
            value = match.group(2).strip()
            if value.startswith("'"):
                value = value[1:-1].replace("''", "'")
            pairs.append((match.group(1).lower(), value))
            position = match.end()
        if not pairs:
            raise DataverseError(400, ODATA_ERROR, "Bad Request - Error in query syntax.")
        return cls(key_values=tuple(pairs))

    def describe(self) -> str:
        """The address as the write log shows it."""
        if self.record_id:
            return self.record_id
        return ",".join(f"{name}={value}" for name, value in self.key_values)


@dataclass
class PlantedFailure:
    """A failure a test planted for one record (by alternate key value or id)."""

    status: int
    code: str
    message: str
    remaining: int | None


@dataclass
class _Attempt:
    entry: WriteLogEntry


@dataclass
class Transaction:
    """Undo actions and deferred write-log entries of an all-or-nothing group of writes."""

    undo: list[Callable[[], None]] = field(default_factory=list)
    attempts: list[WriteLogEntry] = field(default_factory=list)


@dataclass(frozen=True)
class WriteResult:
    """What a successful single write did."""

    record_id: str
    created: bool
    record: Mapping[str, Any]
    seq: int


class ScoreWriter:
    """Performs (or refuses) Web API writes against a store."""

    def __init__(
        self,
        store: Store,
        view: Callable[[Table], EntityView],
        extras: Callable[[str], TableExtras],
        actor: str,
        writable: Callable[[str], bool],
    ) -> None:
        self.store = store
        self.view = view
        self.extras = extras
        self.actor = actor
        self.writable = writable
        self._failures: dict[str, PlantedFailure] = {}
        self._failure_lock = threading.Lock()
        self._local = threading.local()
        self._indexes: dict[
            tuple[str, tuple[str, ...]], tuple[int, dict[tuple[str, ...], str]]
        ] = {}

    # ------------------------------------------------------------------ planted failures

    def plant_failure(
        self,
        key: str,
        *,
        status: int = 400,
        code: str = PLUGIN_FAILED,
        message: str = "An error occurred in the kam_accountscore validation plug-in.",
        times: int | None = None,
    ) -> None:
        """Make writes of the record whose alternate key value (or id) is ``key`` fail."""
        with self._failure_lock:
            self._failures[key.lower()] = PlantedFailure(status, code, message, times)

    def _planted(self, record_id: str | None, address: Address) -> DataverseError | None:
        candidates = [value.lower() for _, value in address.key_values]
        candidates += [c.lower() for c in (record_id, address.record_id) if c]
        with self._failure_lock:
            for candidate in candidates:
                failure = self._failures.get(candidate)
                if failure is None or failure.remaining == 0:
                    continue
                if failure.remaining is not None:
                    failure.remaining -= 1
                return DataverseError(failure.status, failure.code, failure.message)
        return None

    # ------------------------------------------------------------------ transactions

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Group writes: all are undone if the block raises (nested groups join the outer one)."""
        outer: Transaction | None = getattr(self._local, "transaction", None)
        current = Transaction()
        self._local.transaction = current
        try:
            yield current
        except BaseException as error:
            self._rollback(current, error)
            self._finish(outer, [], current.attempts)
            raise
        finally:
            self._local.transaction = outer
        self._finish(outer, current.undo, current.attempts)

    def _rollback(self, transaction: Transaction, error: BaseException) -> None:
        with self.store.lock:
            for undo in reversed(transaction.undo):
                undo()
        reason = error.message if isinstance(error, DataverseError) else str(error)
        transaction.attempts = [
            entry
            if not entry.ok
            else WriteLogEntry(
                entry.at,
                entry.api,
                entry.table,
                entry.record_id,
                entry.operation,
                entry.fields,
                False,
                f"rolled back: {reason}",
            )
            for entry in transaction.attempts
        ]
        self._indexes.clear()

    def _finish(
        self,
        outer: Transaction | None,
        undo: list[Callable[[], None]],
        attempts: list[WriteLogEntry],
    ) -> None:
        if outer is not None:
            outer.undo.extend(undo)
            outer.attempts.extend(attempts)
            return
        for entry in attempts:
            self.store.log_write(entry)

    def _record(self, entry: WriteLogEntry, undo: Callable[[], None] | None = None) -> None:
        current: Transaction | None = getattr(self._local, "transaction", None)
        if current is None:
            self.store.log_write(entry)
            return
        current.attempts.append(entry)
        if undo is not None:
            current.undo.append(undo)

    def _entry(
        self,
        table: str,
        record_id: str | None,
        operation: str,
        names: tuple[str, ...],
        error: DataverseError | None = None,
    ) -> WriteLogEntry:
        return WriteLogEntry(
            at=self.store.now(),
            api="dataverse",
            table=table,
            record_id=record_id,
            operation=operation,
            fields=names,
            ok=error is None,
            error=None if error is None else f"{error.code}: {error.message}",
        )

    # ------------------------------------------------------------------ refusal

    def refuse(
        self, table: str, operation: str, record_id: str | None, names: tuple[str, ...]
    ) -> DataverseError:
        """The privilege error for a write kamsync may not make, logged."""
        privilege = {"create": "prvCreate", "delete": "prvDelete"}.get(operation, "prvWrite")
        entity = table[:1].upper() + table[1:]
        error = DataverseError(
            403,
            PRIVILEGE_DENIED,
            f"Principal user (Id={self.actor}, type=8, roleCount=1, privilegeCount=412, accessMode=4), "
            f"is missing {privilege}{entity} privilege (Id={stable_id('privilege', privilege, table)}) "
            f"on OTC for entity '{table}'. context.Caller={self.actor}",
        )
        self._record(self._entry(table, record_id, operation, names, error))
        return error

    def check_writable(
        self, table: Table, operation: str, record_id: str | None, body: Mapping[str, Any]
    ) -> None:
        """Refuse (and log) a write to a table kamsync does not own."""
        if not self.writable(table.name):
            raise self.refuse(table.name, operation, record_id, field_names(body))

    # ------------------------------------------------------------------ key index

    def _index(self, table: Table, attributes: tuple[str, ...]) -> dict[tuple[str, ...], str]:
        cache_key = (table.name, attributes)
        cached = self._indexes.get(cache_key)
        if cached is not None and cached[0] == self.store.seq:
            return cached[1]
        index: dict[tuple[str, ...], str] = {}
        for record_id, record in table.rows.items():
            values = tuple(_key_text(record.get(a)) for a in attributes)
            if all(values):
                index[values] = record_id
        self._indexes[cache_key] = (self.store.seq, index)
        return index

    def _remember(self, table: Table, record: Mapping[str, Any], record_id: str) -> None:
        for (name, attributes), (_, index) in list(self._indexes.items()):
            if name == table.name:
                values = tuple(_key_text(record.get(a)) for a in attributes)
                if all(values):
                    index[values] = record_id
                self._indexes[(name, attributes)] = (self.store.seq, index)

    def _key_attributes(self, table: Table, address: Address) -> tuple[str, ...]:
        names = tuple(sorted(name for name, _ in address.key_values))
        view = self.view(table)
        for key in alternate_keys(view.definition, self.extras(table.name)):
            if tuple(sorted(key.attributes)) == names:
                return tuple(sorted(key.attributes))
        raise DataverseError(
            400,
            INVALID_ARGUMENT,
            f"The key attributes {', '.join(names)} are not defined as an alternate key for "
            f"entity {table.name}.",
        )

    def find(self, table: Table, address: Address) -> str | None:
        """The id of the record at ``address``, or None."""
        if address.record_id is not None:
            return address.record_id if address.record_id in table.rows else None
        attributes = self._key_attributes(table, address)
        wanted = dict(address.key_values)
        values = tuple(_key_text(wanted[a]) for a in attributes)
        return self._index(table, attributes).get(values)

    # ------------------------------------------------------------------ upsert

    def upsert(
        self,
        table: Table,
        address: Address,
        body: Mapping[str, Any],
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
        create_only: bool = False,
    ) -> WriteResult:
        """Create or update the record at ``address`` (the write is logged either way)."""
        view = self.view(table)
        names = field_names(body)
        with self.store.lock:
            existing = self.find(table, address)
            operation = "update" if existing else "create"
            try:
                self.check_writable(table, operation, existing or address.describe(), body)
                self._check_conditions(
                    table, view, address, existing, if_match, if_none_match, create_only
                )
                changes = self._convert(view, body, address)
                planted = self._planted(existing, address)
                if planted is not None:
                    raise planted
            except DataverseError as error:
                if error.code != PRIVILEGE_DENIED:
                    self._record(
                        self._entry(
                            table.name, existing or address.describe(), operation, names, error
                        )
                    )
                raise
            if existing is None:
                return self._create(table, view, address, changes, names)
            return self._update(table, existing, changes, names)

    def _check_conditions(
        self,
        table: Table,
        view: EntityView,
        address: Address,
        existing: str | None,
        if_match: str | None,
        if_none_match: str | None,
        create_only: bool,
    ) -> None:
        if existing is None and if_match is not None:
            raise (
                record_not_found(view.logical_name, address.record_id)
                if address.record_id
                else key_not_found(view.logical_name)
            )
        if existing is not None and (if_none_match == "*" or create_only):
            raise DataverseError(
                412, DUPLICATE_RECORD, "A record with matching key values already exists."
            )
        if existing is not None and if_match not in (None, "*"):
            current = f'W/"{table.seqs.get(existing, 0)}"'
            if if_match != current:
                raise DataverseError(
                    412,
                    CONCURRENCY_MISMATCH,
                    "The version of the existing record doesn't match the RowVersion property provided.",
                )

    def _create(
        self,
        table: Table,
        view: EntityView,
        address: Address,
        changes: dict[str, Any],
        names: tuple[str, ...],
    ) -> WriteResult:
        record_id = address.record_id or stable_id("record", table.name, address.describe().lower())
        record: dict[str, Any] = {
            view.key: record_id,
            "statecode": 0,
            "statuscode": 1,
            "ownerid": self.actor,
        }
        for name, value in address.key_values:
            record[name] = value
        record.update(changes)
        if view.primary_name and record.get(view.primary_name) is None and address.key_values:
            record[view.primary_name] = address.key_values[0][1]
        known = {f.name for f in view.definition.fields}
        record = {k: v for k, v in record.items() if k in known}
        self.store.insert(table.name, record)
        record["versionnumber"] = table.seqs[record_id]
        self._remember(table, record, record_id)

        def undo() -> None:
            table.rows.pop(record_id, None)
            table.seqs.pop(record_id, None)

        self._record(self._entry(table.name, record_id, "create", names), undo)
        return WriteResult(record_id, True, record, table.seqs[record_id])

    def _update(
        self, table: Table, record_id: str, changes: dict[str, Any], names: tuple[str, ...]
    ) -> WriteResult:
        record = table.rows[record_id]
        before, before_seq = dict(record), table.seqs[record_id]
        self.store.update(table.name, record_id, changes)
        record["versionnumber"] = table.seqs[record_id]
        self._remember(table, record, record_id)

        def undo() -> None:
            record.clear()
            record.update(before)
            table.seqs[record_id] = before_seq

        self._record(self._entry(table.name, record_id, "update", names), undo)
        return WriteResult(record_id, False, record, table.seqs[record_id])

    def delete(self, table: Table, address: Address) -> None:
        """``DELETE <set>(<id>)``."""
        view = self.view(table)
        with self.store.lock:
            existing = self.find(table, address)
            self.check_writable(table, "delete", existing or address.describe(), {})
            if existing is None:
                error = (
                    record_not_found(view.logical_name, address.record_id)
                    if address.record_id
                    else key_not_found(view.logical_name)
                )
                self._record(self._entry(table.name, address.describe(), "delete", (), error))
                raise error
            self.store.delete(table.name, existing, hard=True)
            self._indexes.clear()
            self._record(self._entry(table.name, existing, "delete", ()))

    # ------------------------------------------------------------------ UpsertMultiple

    def upsert_multiple(self, table: Table, body: Mapping[str, Any], limit: int) -> None:
        """``UpsertMultiple``: every target or none."""
        targets = body.get("Targets")
        if not isinstance(targets, list):
            raise DataverseError(
                400,
                INVALID_ARGUMENT,
                "'Targets' should be one of the parameters for UpsertMultiple.",
            )
        if len(targets) > limit:
            raise DataverseError(
                400,
                INVALID_ARGUMENT,
                f"The number of records in Targets ({len(targets)}) exceeds the limit of {limit}.",
            )
        view = self.view(table)
        with self.store.lock, self.transaction():
            for position, target in enumerate(targets):
                if not isinstance(target, Mapping):
                    raise DataverseError(
                        400, INVALID_ARGUMENT, f"Targets[{position}] is not an entity."
                    )
                self._check_type(view, target, position)
                address = self.target_address(table, view, target)
                self.upsert(table, address, target)

    @staticmethod
    def _check_type(view: EntityView, target: Mapping[str, Any], position: int) -> None:
        declared = str(target.get("@odata.type", "")).lstrip("#")
        if declared != view.type_name:
            raise DataverseError(
                400,
                ODATA_ERROR,
                f'Targets[{position}] must have "@odata.type": "{view.type_name}" '
                f"(found '{declared or 'none'}').",
            )

    def target_address(self, table: Table, view: EntityView, target: Mapping[str, Any]) -> Address:
        """The address of an UpsertMultiple target: ``@odata.id``, primary key or alternate key."""
        reference = target.get("@odata.id")
        if isinstance(reference, str):
            match = _REFERENCE_RE.match(reference.strip())
            if match is None or match.group("set").lower() != view.entity_set.lower():
                raise DataverseError(
                    400,
                    ODATA_ERROR,
                    f"The @odata.id '{reference}' does not reference {view.entity_set}.",
                )
            return Address.parse(match.group("key"))
        primary = target.get(view.key)
        if isinstance(primary, str) and is_guid(primary):
            return Address(record_id=primary.strip("{}").lower())
        for key in alternate_keys(view.definition, self.extras(table.name)):
            values = [target.get(a) for a in key.attributes]
            if all(v is not None for v in values):
                return Address(
                    key_values=tuple(
                        (a, str(v)) for a, v in zip(key.attributes, values, strict=True)
                    )
                )
        raise DataverseError(
            400,
            INVALID_ARGUMENT,
            f"A target of type {view.logical_name} must have its primary key, an alternate key or @odata.id.",
        )

    # ------------------------------------------------------------------ payload conversion

    def _convert(
        self, view: EntityView, body: Mapping[str, Any], address: Address
    ) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        for name, value in body.items():
            if name.startswith("@") or (name.startswith("@odata") and "@" not in name[1:]):
                continue
            if name.endswith("@odata.bind"):
                attribute = self._bind_attribute(view, name[: -len("@odata.bind")])
                changes[attribute.name] = self._bind(view, attribute, value)
                continue
            if "@" in name:
                continue  # instance annotations such as FormattedValue are ignored
            plain = view.attribute(name)
            if plain is None or plain.type in LOOKUP_TYPES:
                raise DataverseError(
                    400,
                    ODATA_ERROR,
                    f"The property '{name}' does not exist on type '{view.type_name}'. Make sure to "
                    "only use property names that are defined by the type.",
                )
            if plain.name == view.key:
                continue
            changes[plain.name] = self._value(view, plain, value)
        for key_name, key_value in address.key_values:
            given = changes.get(key_name)
            if given is not None and _key_text(given) != _key_text(key_value):
                raise DataverseError(
                    400,
                    INVALID_ARGUMENT,
                    f"The value of {key_name} in the body does not match the key in the URL.",
                )
        return changes

    def _bind_attribute(self, view: EntityView, navigation: str) -> FieldDef:
        for attribute in view.definition.fields:
            if attribute.type in LOOKUP_TYPES and attribute.name == navigation.lower():
                return attribute
        raise DataverseError(
            400,
            ODATA_ERROR,
            f"An undeclared property '{navigation}' which only has property annotations in the "
            "payload but no property value was found in the payload.",
        )

    def _bind(self, view: EntityView, attribute: FieldDef, value: Any) -> str | None:
        if value is None:
            return None
        match = _REFERENCE_RE.match(str(value).strip()) if isinstance(value, str) else None
        if match is None:
            raise DataverseError(
                400,
                ODATA_ERROR,
                f"The @odata.bind value '{value}' is not a valid entity reference.",
            )
        target_set, key = match.group("set"), unquote(match.group("key")).strip()
        for target in attribute.reference_to:
            table = self.store.tables.get(target)
            if table is None or self.view(table).entity_set.lower() != target_set.lower():
                continue
            if not is_guid(key):
                raise DataverseError(
                    400, ODATA_ERROR, f"The key '{key}' is not a valid id for {target}."
                )
            record_id = key.strip("{}").lower()
            if record_id not in table.rows:
                raise DataverseError(
                    404, OBJECT_DOES_NOT_EXIST, f"{target} With Id = {record_id} Does Not Exist"
                )
            return record_id
        raise DataverseError(
            400,
            ODATA_ERROR,
            f"The entity set '{target_set}' cannot be bound to {attribute.name} of {view.logical_name}.",
        )

    def _value(self, view: EntityView, attribute: FieldDef, value: Any) -> Any:
        if value is None:
            if not attribute.nullable:
                raise _invalid(view, attribute, "cannot be null")
            return None
        if not attribute.updateable:
            raise DataverseError(
                400, ODATA_ERROR, f"The property '{attribute.name}' cannot be set; it is read-only."
            )
        converter = _CONVERTERS.get(attribute.type)
        if converter is None:
            raise DataverseError(
                400, ODATA_ERROR, f"The property '{attribute.name}' cannot be written."
            )
        return converter(view, attribute, value)


def _invalid(view: EntityView, attribute: FieldDef, reason: str) -> DataverseError:
    return DataverseError(
        400,
        VALIDATION_FAILED,
        f"A validation error occurred. The value of the '{attribute.name}' attribute of the "
        f"'{view.logical_name}' entity {reason}.",
    )


def _literal_error(value: Any, edm: str) -> DataverseError:
    return DataverseError(
        400, ODATA_ERROR, f"Cannot convert the literal '{value}' to the expected type '{edm}'."
    )


def _string(view: EntityView, attribute: FieldDef, value: Any) -> str:
    if not isinstance(value, str):
        raise _literal_error(value, "Edm.String")
    limit = attribute.length or (2000 if attribute.type == "Memo" else 100)
    if len(value) > limit:
        raise DataverseError(
            400,
            VALIDATION_FAILED,
            f"A validation error occurred.  The length of the '{attribute.name}' attribute of the "
            f"'{view.logical_name}' entity exceeded the maximum allowed length of '{limit}'.",
        )
    return value


def _integer(view: EntityView, attribute: FieldDef, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _literal_error(value, "Edm.Int32")
    return value


def _number(view: EntityView, attribute: FieldDef, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _literal_error(value, "Edm.Decimal")
    return float(value)


def _boolean(view: EntityView, attribute: FieldDef, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _literal_error(value, "Edm.Boolean")
    return value


def _datetime(view: EntityView, attribute: FieldDef, value: Any) -> date | datetime:
    date_only = attribute.name in view.date_only
    if not isinstance(value, str):
        raise _literal_error(value, "Edm.Date" if date_only else "Edm.DateTimeOffset")
    try:
        if date_only:
            return date.fromisoformat(value[:10])
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _literal_error(value, "Edm.Date" if date_only else "Edm.DateTimeOffset") from None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _option(view: EntityView, attribute: FieldDef, value: Any) -> int:
    number = _integer(view, attribute, value)
    allowed = {int(v) for v, _ in attribute.options}
    if allowed and number not in allowed:
        raise _invalid(view, attribute, f"({number}) is outside the valid range of the option set")
    return number


_CONVERTERS: dict[str, Callable[[EntityView, FieldDef, Any], Any]] = {
    "String": _string,
    "Memo": _string,
    "Integer": _integer,
    "BigInt": _integer,
    "Decimal": _number,
    "Double": _number,
    "Money": _number,
    "Boolean": _boolean,
    "DateTime": _datetime,
    **dict.fromkeys(OPTION_TYPES, _option),
}


def _key_text(value: Any) -> str:
    return "" if value is None else str(value).casefold()


def field_names(body: Mapping[str, Any]) -> tuple[str, ...]:
    names = []
    for name in body:
        if name.startswith("@"):
            continue
        names.append(
            name.removesuffix("@odata.bind").lower() if name.endswith("@odata.bind") else name
        )
    return tuple(sorted(n for n in names if "@" not in n))


__all__ = [
    "NAMESPACE",
    "Address",
    "PlantedFailure",
    "ScoreWriter",
    "Transaction",
    "WriteResult",
    "is_guid",
]
