"""The emulator's data layer: one :class:`Store` per emulated org.

A store holds tables of records in the CRM's own field names and Python values
(``str``, ``int``, ``float``, ``bool``, ``datetime.date``, timezone-aware ``datetime``, ``None``).
The HTTP layers (``salesforce.py``, ``dataverse.py``) turn them into each API's JSON or CSV.

Every change gets the next value of a store-wide change sequence, so that

* Salesforce ``SystemModstamp`` / Dataverse ``modifiedon`` come from the store clock, and
* Dataverse change tracking can answer "what changed after token N" from ``seq``, and
* Salesforce ``getDeleted`` and Dataverse ``$deletedEntity`` rows come from tombstones.

All methods take the store lock; readers that scan take a snapshot (:meth:`Table.snapshot`) so a
mutation in another thread never breaks an iteration.  Every write made through the API layers
is also appended to :attr:`Store.write_log`, so tests can prove what was (and was not) written.

Additions made with the world generator (backward compatible):

* Dataverse stores stamp ``versionnumber`` with the change sequence on every insert, update and
  load, as Dataverse's row version does.
* :meth:`Store.load` bulk-loads generated records as they are (their own created/modified
  stamps), giving each the next change sequence; it is what the generator uses instead of
  thousands of :meth:`Store.insert` calls.
* :meth:`Store.counts` gives live and deleted record counts per table.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

CrmKind = Literal["salesforce", "dynamics"]


@dataclass(frozen=True)
class FieldDef:
    """One field (Salesforce) or attribute (Dataverse), with the CRM's own type name.

    ``type`` is a Salesforce describe type (``id``, ``string``, ``boolean``, ``int``, ``double``,
    ``currency``, ``percent``, ``date``, ``datetime``, ``reference``, ``picklist``, ``email``,
    ``textarea``, ``address``) or a Dataverse AttributeType (``Uniqueidentifier``, ``String``,
    ``Memo``, ``Boolean``, ``Integer``, ``Decimal``, ``Double``, ``Money``, ``DateTime``,
    ``Lookup``, ``Owner``, ``Customer``, ``Picklist``, ``State``, ``Status``, ``EntityName``).
    """

    name: str
    type: str
    label: str
    nullable: bool = True
    custom: bool = False
    updateable: bool = True
    reference_to: tuple[str, ...] = ()
    length: int | None = None
    options: tuple[tuple[int | str, str], ...] = ()
    external_id: bool = False
    unique: bool = False
    compound: str | None = None


@dataclass(frozen=True)
class TableDef:
    """One object (Salesforce) or table (Dataverse)."""

    name: str
    key: str
    label: str
    plural_label: str
    fields: tuple[FieldDef, ...]
    custom: bool = False
    entity_set: str | None = None
    change_tracking: bool = True

    def field(self, name: str) -> FieldDef | None:
        """The field called ``name`` (case-insensitive), or None."""
        lowered = name.lower()
        for candidate in self.fields:
            if candidate.name.lower() == lowered:
                return candidate
        return None


@dataclass(frozen=True)
class Tombstone:
    """A deleted record: when, at which change sequence, and whether it was purged."""

    id: str
    seq: int
    deleted_at: datetime
    hard: bool


@dataclass(frozen=True)
class WriteLogEntry:
    """One write received through an API: which table, record, operation and fields."""

    at: datetime
    api: str
    table: str
    record_id: str | None
    operation: str
    fields: tuple[str, ...]
    ok: bool
    error: str | None = None


class Table:
    """Records of one object, keyed by id, each with the change sequence that last touched it."""

    def __init__(self, definition: TableDef) -> None:
        self.definition = definition
        self.rows: dict[str, dict[str, Any]] = {}
        self.seqs: dict[str, int] = {}
        self.tombstones: list[Tombstone] = []

    @property
    def name(self) -> str:
        """The object's API or logical name."""
        return self.definition.name

    def snapshot(self) -> list[dict[str, Any]]:
        """A list of the current records (including Salesforce soft-deleted ones), in id order."""
        return [self.rows[key] for key in sorted(self.rows)]

    def __len__(self) -> int:
        return len(self.rows)


@dataclass
class Store:
    """An emulated org: its tables, clock and change sequence."""

    kind: CrmKind
    clock: datetime
    tables: dict[str, Table] = field(default_factory=dict)
    seq: int = 0
    write_log: list[WriteLogEntry] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    # ------------------------------------------------------------------ schema

    def add_table(self, definition: TableDef) -> Table:
        """Create (or return the existing) table for ``definition``."""
        with self.lock:
            if definition.name not in self.tables:
                self.tables[definition.name] = Table(definition)
            return self.tables[definition.name]

    def table(self, name: str) -> Table:
        """The table called ``name`` (case-insensitive); KeyError when there is none."""
        if name in self.tables:
            return self.tables[name]
        lowered = name.lower()
        for key, table in self.tables.items():
            if key.lower() == lowered:
                return table
        raise KeyError(name)

    # ------------------------------------------------------------------ clock

    def now(self) -> datetime:
        """The org's current time."""
        return self.clock

    def advance(self, delta: timedelta) -> datetime:
        """Move the org clock forward and return the new time."""
        with self.lock:
            self.clock = self.clock + delta
            return self.clock

    def _stamp_fields(self) -> tuple[str, ...]:
        if self.kind == "salesforce":
            return ("SystemModstamp", "LastModifiedDate")
        return ("modifiedon",)

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _version(self, record: dict[str, Any], seq: int) -> None:
        if self.kind == "dynamics":
            record["versionnumber"] = seq

    # ------------------------------------------------------------------ writes

    def insert(self, table: str, record: dict[str, Any], *, at: datetime | None = None) -> str:
        """Add a record (its key field must be set); stamps created/modified times."""
        with self.lock:
            target = self.table(table)
            key = record[target.definition.key]
            when = at or self.clock
            created = "CreatedDate" if self.kind == "salesforce" else "createdon"
            if record.get(created) is None:
                record[created] = when
            for name in self._stamp_fields():
                record[name] = when
            if self.kind == "salesforce":
                record.setdefault("IsDeleted", False)
            target.rows[key] = record
            seq = self._next_seq()
            target.seqs[key] = seq
            self._version(record, seq)
            return str(key)

    def update(
        self, table: str, record_id: str, changes: dict[str, Any], *, at: datetime | None = None
    ) -> dict[str, Any]:
        """Change fields of a live record and stamp it; returns the record."""
        with self.lock:
            target = self.table(table)
            record = target.rows[record_id]
            record.update(changes)
            when = at or self.clock
            for name in self._stamp_fields():
                record[name] = when
            seq = self._next_seq()
            target.seqs[record_id] = seq
            self._version(record, seq)
            return record

    def delete(self, table: str, record_id: str, *, hard: bool, at: datetime | None = None) -> None:
        """Delete a record.

        Salesforce soft delete: the record stays, ``IsDeleted`` becomes true (visible through
        queryAll and getDeleted).  Hard delete (Salesforce purge, every Dataverse delete): the
        record is gone and only its tombstone remains.
        """
        with self.lock:
            target = self.table(table)
            when = at or self.clock
            seq = self._next_seq()
            if self.kind == "salesforce" and not hard:
                record = target.rows[record_id]
                record["IsDeleted"] = True
                for name in self._stamp_fields():
                    record[name] = when
                target.seqs[record_id] = seq
            else:
                target.rows.pop(record_id, None)
                target.seqs.pop(record_id, None)
            target.tombstones.append(Tombstone(record_id, seq, when, hard))

    def load(self, table: str, records: Iterable[dict[str, Any]]) -> int:
        """Bulk-add generated records as they are (stamps included); returns how many.

        Each record gets the next change sequence (and, in Dataverse, that ``versionnumber``).
        Nothing is written to the write log: loading is seeding, not an API write.
        """
        with self.lock:
            target = self.table(table)
            key = target.definition.key
            batch = list(records)
            ids = [record[key] for record in batch]
            numbers = range(self.seq + 1, self.seq + 1 + len(batch))
            target.rows.update(zip(ids, batch, strict=True))
            target.seqs.update(zip(ids, numbers, strict=True))
            if self.kind == "dynamics":
                for record, number in zip(batch, numbers, strict=True):
                    record["versionnumber"] = number
            self.seq += len(batch)
            return len(batch)

    def log_write(self, entry: WriteLogEntry) -> None:
        """Record a write received through an API."""
        with self.lock:
            self.write_log.append(entry)

    # ------------------------------------------------------------------ reads

    def live(self, table: str) -> Iterator[dict[str, Any]]:
        """Records that are not deleted, in id order (a snapshot)."""
        for record in self.table(table).snapshot():
            if not record.get("IsDeleted", False):
                yield record

    def counts(self) -> dict[str, tuple[int, int]]:
        """``{table: (live, deleted)}``.

        Deleted counts soft-deleted rows (Salesforce ``IsDeleted``) plus records that are gone and
        left a tombstone (Salesforce purges, every Dataverse delete).
        """
        with self.lock:
            result: dict[str, tuple[int, int]] = {}
            for name, target in self.tables.items():
                soft = (
                    sum(1 for record in target.rows.values() if record.get("IsDeleted", False))
                    if self.kind == "salesforce"  # Dataverse deletes are always hard
                    else 0
                )
                gone = {t.id for t in target.tombstones if t.id not in target.rows}
                result[name] = (len(target.rows) - soft, soft + len(gone))
            return result

    def changed_since(self, table: str, seq: int) -> tuple[list[dict[str, Any]], list[Tombstone]]:
        """Records changed and tombstones written after change sequence ``seq``."""
        with self.lock:
            target = self.table(table)
            changed = [target.rows[k] for k, s in target.seqs.items() if s > seq]
            gone = [t for t in target.tombstones if t.seq > seq]
            return changed, gone
