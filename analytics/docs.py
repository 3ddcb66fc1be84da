"""Table and column documentation of the ``kam`` marts, applied as DuckDB COMMENTs.

The words live beside the models, in ``analytics/sql/marts/docs.toml``: one table per mart with
a ``description`` and a ``columns`` table of column name to description.  After a mart is built
its comments are applied; a column without words, or words for a column that does not exist,
fails the build, so the schema analysts see is always fully documented.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

import duckdb

from config.errors import RunFailedError


@dataclass(frozen=True)
class TableDoc:
    """The description of one mart and of each of its columns."""

    description: str
    columns: Mapping[str, str]


def load_docs(root: Traversable | None = None) -> dict[str, TableDoc]:
    """Mart name -> its documentation."""
    base = root if root is not None else resources.files("analytics") / "sql"
    path = base / "marts" / "docs.toml"
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    docs: dict[str, TableDoc] = {}
    for name, entry in raw.items():
        description = entry.get("description")
        columns = entry.get("columns", {})
        if not isinstance(description, str) or not isinstance(columns, dict):
            raise RunFailedError(f"docs.toml: [{name}] needs a description and a columns table")
        docs[name] = TableDoc(description.strip(), {k: str(v).strip() for k, v in columns.items()})
    return docs


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def apply_comments(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, doc: TableDoc | None
) -> None:
    """Comment the table and every column; missing or stale documentation is an error."""
    if doc is None:
        raise RunFailedError(f"mart {schema}.{table} has no entry in marts/docs.toml")
    columns = [
        row[0]
        for row in con.execute(
            "select column_name from duckdb_columns() where database_name = current_database() "
            "and schema_name = ? and table_name = ? and not internal order by column_index",
            [schema, table],
        ).fetchall()
    ]
    undocumented = [c for c in columns if c not in doc.columns]
    stale = sorted(set(doc.columns) - set(columns))
    if undocumented or stale:
        parts = []
        if undocumented:
            parts.append(f"undocumented column(s) {', '.join(undocumented)}")
        if stale:
            parts.append(f"documented column(s) that do not exist: {', '.join(stale)}")
        raise RunFailedError(f"marts/docs.toml [{table}]: {'; '.join(parts)}")
    con.execute(f"comment on table {schema}.{table} is {_quote(doc.description)}").fetchall()
    for column in columns:
        con.execute(
            f'comment on column {schema}.{table}."{column}" is {_quote(doc.columns[column])}'
        ).fetchall()
