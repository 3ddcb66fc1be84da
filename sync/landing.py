"""Landing pages: typed raw tables, per-object staging, and the merge that publishes them.

Each page is appended to the object's staging tables (schema ``_kamsync_stage``) in the same
transaction that moves its checkpoint in ``ops.sync_state``: a killed run resumes after its last
committed page, with nothing lost and nothing landed twice.  Raw tables (``raw_<source>.<Object>``)
change only when a source's extraction is complete, in one merge transaction together with the
new cursors and the rebuilt ``crm`` tables — so a failed run leaves them as they were.

Values arrive as text and are cast to the column types of the CRM's metadata here, in SQL, so a
value that does not fit is caught in one place and reported with its object, column and value.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from config.errors import MalformedResponseError
from connectors.base import (
    ArrowRecords,
    Column,
    ColumnRecords,
    CsvRecords,
    ObjectSchema,
    Page,
    Records,
)

STAGE_SCHEMA = "_kamsync_stage"
META_COLUMNS = ("_loaded_at", "_run_id", "_is_deleted")

_SQL_TYPES = {
    "varchar": "varchar",
    "boolean": "boolean",
    "bigint": "bigint",
    "double": "double",
    "date": "date",
    "timestamp": "timestamptz",
    "time": "time",
}
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def quote(identifier: str) -> str:
    """A double-quoted SQL identifier."""
    return '"' + identifier.replace('"', '""') + '"'


def literal(value: str) -> str:
    """A single-quoted SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def sql_type(column: Column) -> str:
    """The DuckDB type of a landed column."""
    if column.type == "decimal":
        scale = column.scale if column.scale is not None else 2
        return f"decimal(38, {min(max(scale, 0), 18)})"
    return _SQL_TYPES[column.type]


def raw_schema(source: str) -> str:
    """The schema holding a source's raw tables."""
    if not _NAME_RE.match(source):
        raise ValueError(f"{source!r} is not a valid source name")
    return f"raw_{source}"


@dataclass(frozen=True)
class StageNames:
    """The staging tables of one object."""

    records: str
    deleted: str
    live: str


def stage_names(source: str, obj: str) -> StageNames:
    """Qualified names of the staging tables of ``source``'s ``obj``."""
    base = f"{source}__{obj.lower()}"
    return StageNames(
        records=f"{STAGE_SCHEMA}.{quote(base + '__records')}",
        deleted=f"{STAGE_SCHEMA}.{quote(base + '__deleted')}",
        live=f"{STAGE_SCHEMA}.{quote(base + '__live')}",
    )


def raw_table(source: str, obj: str) -> str:
    """Qualified name of the raw table of ``source``'s ``obj``."""
    return f"{quote(raw_schema(source))}.{quote(obj)}"


# --------------------------------------------------------------------------- DDL


def ensure_tables(con: duckdb.DuckDBPyConnection, source: str, schema: ObjectSchema) -> None:
    """Create or widen the raw and staging tables of an object to match its schema."""
    con.execute(f"create schema if not exists {quote(raw_schema(source))}")
    con.execute(f"create schema if not exists {STAGE_SCHEMA}")
    raw = raw_table(source, schema.name)
    names = stage_names(source, schema.name)
    _ensure(
        con,
        raw,
        schema.columns,
        extra=(
            ("_loaded_at", "timestamptz", "When kamsync landed this version of the record."),
            ("_run_id", "varchar", "The sync run that landed it (ops.sync_runs.run_id)."),
            ("_is_deleted", "boolean", "True when the record was deleted in the CRM."),
        ),
    )
    _comment_table(
        con, raw, f"{schema.label} ({schema.name}) records of source {source}, as landed."
    )
    _ensure(
        con,
        names.records,
        schema.columns,
        extra=(
            ("_is_deleted", "boolean", "Deleted in the CRM."),
            ("_page", "bigint", "Landing order of the page."),
        ),
    )
    con.execute(f"create table if not exists {names.deleted} (id varchar not null)")
    con.execute(f"create table if not exists {names.live} (id varchar not null)")


def _ensure(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[Column],
    *,
    extra: Sequence[tuple[str, str, str]],
) -> None:
    schema_name, table_name = _split(table)
    existing = {
        row[0].lower(): row[1]
        for row in con.execute(
            "select column_name, data_type from duckdb_columns() "
            "where schema_name = ? and table_name = ?",
            [schema_name, table_name],
        ).fetchall()
    }
    wanted = [(c.name, sql_type(c), f"{c.label} ({c.crm_type})") for c in columns] + list(extra)
    if not existing:
        body = ", ".join(f"{quote(n)} {t}" for n, t, _ in wanted)
        con.execute(f"create table {table} ({body})")
    else:
        for name, kind, _ in wanted:
            if name.lower() not in existing:
                con.execute(f"alter table {table} add column {quote(name)} {kind}")
            elif existing[name.lower()].lower() != kind.lower():
                con.execute(f"alter table {table} alter column {quote(name)} type {kind}")
    for name, _, comment in wanted:
        con.execute(f"comment on column {table}.{quote(name)} is {literal(comment)}")


def _comment_table(con: duckdb.DuckDBPyConnection, table: str, comment: str) -> None:
    con.execute(f"comment on table {table} is {literal(comment)}")


def _split(table: str) -> tuple[str, str]:
    schema_name, _, table_name = table.partition(".")
    return schema_name.strip('"'), table_name.strip('"')


# --------------------------------------------------------------------------- pages


def stage_page(
    con: duckdb.DuckDBPyConnection,
    source: str,
    schema: ObjectSchema,
    page: Page,
    *,
    page_number: int,
    deleted_field: str | None,
) -> None:
    """Append a page's records, deletions and live ids to the staging tables (no commit)."""
    names = stage_names(source, schema.name)
    if page.records is not None and page.record_count:
        with _page_source(page.records) as rows:
            _insert_records(con, names.records, schema, rows, page_number, deleted_field)
    if page.deleted_ids:
        _insert_ids(con, names.deleted, page.deleted_ids)
    if page.live_ids:
        _insert_ids(con, names.live, page.live_ids)


@dataclass(frozen=True)
class _PageSource:
    """Where a page's rows can be selected from: a registered Arrow table (REST pages) or
    DuckDB's CSV reader on a temporary file (Bulk pages, parsed inside DuckDB's memory limit).
    ``typed`` names the columns that hold numbers or booleans rather than text."""

    columns: tuple[str, ...]
    relation: str
    table: pa.Table | None = None
    typed: frozenset[str] = frozenset()

    def value(self, name: str, column: Column) -> str:
        """The SQL cast of one page column to ``column``'s type ('' is null in text)."""
        if name in self.typed:
            return f"cast({quote(name)} as {sql_type(column)})"
        return f"cast(nullif({quote(name)}, '') as {sql_type(column)})"

    def misfit(self, name: str, column: Column) -> str:
        """A SQL condition true where the page's value does not fit ``column``'s type."""
        cast = self.value(name, column)
        present = quote(name) if name in self.typed else f"nullif({quote(name)}, '')"
        return f"{present} is not null and try_{cast} is null"

    def attach(self, con: duckdb.DuckDBPyConnection) -> None:
        """Make ``relation`` selectable on ``con``."""
        if self.table is not None:
            con.register(PAGE_VIEW, self.table)

    def detach(self, con: duckdb.DuckDBPyConnection) -> None:
        """Undo :meth:`attach` (quietly: a failed insert has aborted the transaction)."""
        if self.table is not None:
            with contextlib.suppress(duckdb.Error):
                con.unregister(PAGE_VIEW)


PAGE_VIEW = "_kamsync_page"


@contextlib.contextmanager
def _page_source(
    records: Records | ColumnRecords | ArrowRecords | CsvRecords,
) -> Iterator[_PageSource]:
    if isinstance(records, ArrowRecords):
        table = records.table
        typed = frozenset(f.name for f in table.schema if not pa.types.is_string(f.type))
        yield _PageSource(tuple(table.column_names), PAGE_VIEW, table, typed)
        return
    if isinstance(records, ColumnRecords):
        arrays = [pa.array(values, type=pa.string()) for values in records.values]
        table = pa.Table.from_arrays(arrays, names=list(records.columns))
        yield _PageSource(records.columns, PAGE_VIEW, table)
        return
    if isinstance(records, Records):
        names = list(records.columns)
        data = list(zip(*records.rows, strict=True)) if records.rows else [() for _ in names]
        arrays = [pa.array(values, type=pa.string()) for values in data]
        yield _PageSource(records.columns, PAGE_VIEW, pa.Table.from_arrays(arrays, names=names))
        return
    header = records.csv.split(b"\n", 1)[0].decode("utf-8").strip()
    columns = tuple(name.strip().strip('"') for name in header.split(","))
    with tempfile.NamedTemporaryFile(prefix="kamsync-page-", suffix=".csv") as handle:
        handle.write(records.csv)
        handle.flush()
        types = ", ".join(f"{literal(c)}: 'VARCHAR'" for c in columns)
        relation = (
            f"read_csv({literal(handle.name)}, header = true, auto_detect = false, "
            f"delim = ',', quote = '\"', escape = '\"', columns = {{{types}}})"
        )
        yield _PageSource(columns, relation)


def _insert_records(
    con: duckdb.DuckDBPyConnection,
    table: str,
    schema: ObjectSchema,
    source: _PageSource,
    page_number: int,
    deleted_field: str | None,
) -> None:
    present = {name.lower(): name for name in source.columns}
    missing = [c.name for c in schema.columns if c.name.lower() not in present]
    if missing:
        raise MalformedResponseError(
            f"{schema.name}: page lacks field{'s' if len(missing) > 1 else ''} {', '.join(missing[:5])}"
        )
    # Salesforce stores no empty strings, and Bulk CSV writes null as ""; both mean NULL
    casts = [source.value(present[c.name.lower()], c) for c in schema.columns]
    if deleted_field and deleted_field.lower() in present:
        deleted = f"coalesce(cast({quote(present[deleted_field.lower()])} as boolean), false)"
    else:
        deleted = "false"
    source.attach(con)
    try:
        con.execute(
            f"insert into {table} select {', '.join(casts)}, {deleted}, {page_number} "
            f"from {source.relation}"
        )
    except (duckdb.ConversionException, duckdb.OutOfRangeException):
        raise MalformedResponseError(_bad_value(source, schema, present)) from None
    except duckdb.InvalidInputException as exc:  # a CSV page DuckDB cannot read
        first_line = str(exc).strip().splitlines()[0][:200]
        raise MalformedResponseError(
            f"{schema.name}: a Bulk CSV page is not valid CSV ({first_line})"
        ) from None
    finally:
        source.detach(con)


def _bad_value(source: _PageSource, schema: ObjectSchema, present: dict[str, str]) -> str:
    """Name the first column and value of the page that do not fit their type.

    Runs on a private in-memory database: the failed insert has aborted the warehouse's
    transaction, which the engine rolls back.
    """
    scratch = duckdb.connect()
    try:
        source.attach(scratch)
        for column in schema.columns:
            name = quote(present[column.name.lower()])
            rows = scratch.execute(
                f"select {name} from {source.relation} "
                f"where {source.misfit(present[column.name.lower()], column)} limit 1"
            ).fetchall()
            if rows:
                value = str(rows[0][0])[:80]
                return (
                    f"{schema.name}.{column.name}: value {value!r} is not a valid "
                    f"{column.type} ({column.crm_type})"
                )
    finally:
        scratch.close()
    return f"{schema.name}: a value does not fit its column type"


def _insert_ids(con: duckdb.DuckDBPyConnection, table: str, ids: Iterable[str]) -> None:
    frame = pa.table({"id": pa.array(list(ids), type=pa.string())})
    con.register("_kamsync_ids", frame)
    try:
        con.execute(f"insert into {table} select id from _kamsync_ids")
    finally:
        con.unregister("_kamsync_ids")


# --------------------------------------------------------------------------- merge


@dataclass(frozen=True)
class MergeCounts:
    """What a merge changed in a raw table."""

    upserted: int
    deleted: int


def merge_object(
    con: duckdb.DuckDBPyConnection,
    source: str,
    schema: ObjectSchema,
    *,
    full: bool,
    run_id: str,
) -> MergeCounts:
    """Apply an object's staged extraction to its raw table and clear the stage (no commit).

    Staged records replace the raw rows with the same key (the latest landed copy wins).  A
    full extraction is also a reconciliation: raw rows it did not see are marked deleted, as
    are rows whose ids a getDeleted or $deletedEntity answer named, and, after a
    reconciliation pass, rows whose ids were not among the live ones.
    """
    raw = raw_table(source, schema.name)
    names = stage_names(source, schema.name)
    key = quote(schema.key)
    if full and _count(con, f"select count(*) from {raw}") == 0:
        return _merge_into_empty(con, raw, names, schema, run_id)
    columns = ", ".join(quote(c.name) for c in schema.columns)
    con.execute(
        f"create or replace temp table _kamsync_latest as select * from {names.records} "
        f"qualify {_LATEST.format(key=key)}"
    )
    upserted = _count(con, "select count(*) from _kamsync_latest")
    con.execute(f"delete from {raw} where {key} in (select {key} from _kamsync_latest)")
    con.execute(
        f"insert into {raw} ({columns}, _loaded_at, _run_id, _is_deleted) "
        f"select {columns}, current_timestamp, ?, _is_deleted from _kamsync_latest",
        [run_id],
    )
    deleted = _mark_deleted(con, raw, key, f"{key} in (select id from {names.deleted})", run_id)
    has_live = _count(con, f"select count(*) from {names.live}") > 0
    if full:
        deleted += _mark_deleted(
            con, raw, key, f"{key} not in (select {key} from _kamsync_latest)", run_id
        )
    elif has_live:
        deleted += _mark_deleted(
            con,
            raw,
            key,
            f"{key} not in (select id from {names.live}) "
            f"and {key} not in (select {key} from _kamsync_latest)",
            run_id,
        )
    for table in (names.records, names.deleted, names.live):
        con.execute(f"delete from {table}")
    con.execute("drop table _kamsync_latest")
    return MergeCounts(upserted=upserted, deleted=deleted)


_LATEST = "row_number() over (partition by {key} order by _page desc) = 1"


def _merge_into_empty(
    con: duckdb.DuckDBPyConnection,
    raw: str,
    names: StageNames,
    schema: ObjectSchema,
    run_id: str,
) -> MergeCounts:
    """A full extraction into an empty raw table (a first sync): the latest copy of each
    staged record goes straight in; there is nothing to replace and nothing to reconcile."""
    key = quote(schema.key)
    columns = ", ".join(quote(c.name) for c in schema.columns)
    inserted = con.execute(
        f"insert into {raw} ({columns}, _loaded_at, _run_id, _is_deleted) "
        f"select {columns}, current_timestamp, ?, _is_deleted from {names.records} "
        f"qualify {_LATEST.format(key=key)}",
        [run_id],
    ).fetchall()
    deleted = _mark_deleted(con, raw, key, f"{key} in (select id from {names.deleted})", run_id)
    for table in (names.records, names.deleted, names.live):
        con.execute(f"delete from {table}")
    return MergeCounts(upserted=int(inserted[0][0]), deleted=deleted)


def _mark_deleted(
    con: duckdb.DuckDBPyConnection, raw: str, key: str, condition: str, run_id: str
) -> int:
    count = _count(con, f"select count(*) from {raw} where not _is_deleted and {condition}")
    if count:
        con.execute(
            f"update {raw} set _is_deleted = true, _loaded_at = current_timestamp, _run_id = ? "
            f"where not _is_deleted and {condition}",
            [run_id],
        )
    return count


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(con.execute(sql).fetchall()[0][0])


def clear_stage(con: duckdb.DuckDBPyConnection, source: str, obj: str) -> None:
    """Empty an object's staging tables (for a fresh full extraction)."""
    names = stage_names(source, obj)
    for table in (names.records, names.deleted, names.live):
        con.execute(f"delete from {table}")
