"""What every CRM connector gives the sync engine, and nothing more.

A connector is a pure adapter, in the manner of a Singer SDK stream: it describes the objects
it can read (:class:`ObjectSchema`), and, given the saved :class:`StreamState` of one object,
yields :class:`Page` after :class:`Page` of records, each carrying the state to save once that
page is safely landed.  It persists nothing; the sync engine owns state and stores it in the same
DuckDB transaction as the page it describes.

Values travel as the CRM sent them, as text (``None`` for null), or, for a connector that
decodes JSON, as an Arrow column of the JSON scalars (text, whole numbers, floats, booleans);
the engine casts them to the column types of the schema, so a value that does not fit its
declared type is caught in one place and reported with its object, field and value.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

import pyarrow as pa

# Column types the warehouse knows; connectors map their CRM's types onto these.
ColumnType = Literal[
    "varchar", "boolean", "bigint", "double", "decimal", "date", "timestamp", "time"
]
COLUMN_TYPES: tuple[str, ...] = (
    "varchar",
    "boolean",
    "bigint",
    "double",
    "decimal",
    "date",
    "timestamp",
    "time",
)

ReadMode = Literal["full", "incremental"]


@dataclass(frozen=True)
class Column:
    """One column of an object, with its warehouse type and the CRM's own description."""

    name: str
    type: ColumnType
    label: str
    crm_type: str
    nullable: bool = True
    custom: bool = False
    scale: int | None = None
    # an option set's (value, label) pairs, for CRMs that store codes (Dataverse choices)
    options: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ObjectSchema:
    """An object (Salesforce) or table (Dataverse) as a connector reads it."""

    name: str
    label: str
    key: str
    columns: tuple[Column, ...]
    cursor_field: str | None = None
    # where the CRM serves the records when that is not ``name`` (a Dataverse entity set)
    collection: str | None = None

    def column(self, name: str) -> Column | None:
        """The column called ``name`` (case-insensitive), or None."""
        lowered = name.lower()
        return next((c for c in self.columns if c.name.lower() == lowered), None)

    @property
    def column_names(self) -> tuple[str, ...]:
        """Column names in order."""
        return tuple(c.name for c in self.columns)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (the engine caches described schemas)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ObjectSchema:
        """The schema :meth:`to_dict` produced."""
        columns = tuple(
            Column(**{**column, "options": tuple(tuple(o) for o in column.get("options") or ())})
            for column in data["columns"]
        )
        return cls(**{**data, "columns": columns})


@dataclass(frozen=True)
class StreamState:
    """What the engine saved for one object.

    ``cursor`` is the committed incremental position (None: never synced, read everything);
    ``checkpoint`` the position inside an unfinished extraction, to resume from; both are
    JSON-serialisable dicts whose meaning only the connector knows.
    """

    cursor: dict[str, Any] | None = None
    checkpoint: dict[str, Any] | None = None
    full: bool = False


@dataclass(frozen=True)
class Records:
    """Records of a page as rows of text values, in the order of ``columns``."""

    columns: tuple[str, ...]
    rows: Sequence[Sequence[str | None]]


@dataclass(frozen=True)
class ColumnRecords:
    """Records of a page as one list of text values per column, in the order of ``columns``
    (what a connector that parses JSON column by column hands over without transposing)."""

    columns: tuple[str, ...]
    values: Sequence[Sequence[str | None]]
    count: int


@dataclass(frozen=True)
class ArrowRecords:
    """Records of a page as an Arrow table named by column: string columns hold the CRM's text,
    int64, double and bool columns its JSON numbers and booleans as decoded (built column by
    column in C, with no Python value conversion)."""

    table: pa.Table

    @property
    def count(self) -> int:
        """How many records."""
        return int(self.table.num_rows)


@dataclass(frozen=True)
class CsvRecords:
    """Records of a page as CSV text with a header row (Bulk API results)."""

    csv: bytes
    count: int


@dataclass(frozen=True)
class Page:
    """One landed unit: records, deletions, and the state to save with them.

    * ``records``: new or changed records (deleted ones flagged through ``deleted_field``).
    * ``deleted_ids``: ids the CRM reports deleted with no record to show (hard deletes).
    * ``live_ids``: for a reconciliation pass, ids that exist; every landed id not listed in
      any page of the pass is then marked deleted.
    * ``checkpoint``: where to resume if the run stops after this page.
    * ``cursor``: set on the last page only: the incremental position once the pass commits.
    * ``restart``: the pass starts over here (a position the CRM no longer knows): what the
      object staged earlier in this pass is discarded before this page is staged.
    """

    mode: ReadMode
    method: str
    records: Records | ColumnRecords | ArrowRecords | CsvRecords | None = None
    deleted_ids: tuple[str, ...] = ()
    live_ids: tuple[str, ...] | None = None
    checkpoint: dict[str, Any] | None = None
    cursor: dict[str, Any] | None = None
    done: bool = False
    api_calls: int = 0
    restart: bool = False

    @property
    def record_count(self) -> int:
        """How many records the page carries."""
        if isinstance(self.records, CsvRecords | ColumnRecords | ArrowRecords):
            return self.records.count
        if isinstance(self.records, Records):
            return len(self.records.rows)
        return 0


@dataclass
class ApiUsage:
    """API consumption as the connector has seen it."""

    calls: int = 0
    org_used: int | None = None
    org_limit: int | None = None
    detail: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Connector(Protocol):
    """A CRM source as the sync engine uses it."""

    source: str
    kind: str
    deleted_field: str | None

    def discover(self, objects: Sequence[str]) -> list[ObjectSchema]:
        """Describe ``objects`` (fields, types, key, cursor field)."""
        ...

    def read(self, schema: ObjectSchema, state: StreamState) -> Iterator[Page]:
        """Yield pages from ``state`` on; the last page has ``done`` and a new ``cursor``."""
        ...

    def usage(self) -> ApiUsage:
        """API calls made so far and the org's counters where known."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
