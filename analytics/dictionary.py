"""The warehouse data dictionary, generated from the COMMENTs every table and column carries.

    python -m analytics.dictionary            # print it
    python -m analytics.dictionary --write    # update docs/warehouse.md

It builds a throw-away warehouse (every migration, and every mart built once over an empty crm
model), then lists the ``crm``, ``kam`` and ``ops`` schemas table by table.  A test compares
the result with docs/warehouse.md, so the document cannot fall behind the schema.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import date
from pathlib import Path

import duckdb

from analytics.runner import run_analysis
from config.model import AnalyticsConfig, WarehouseConfig
from sync.warehouse import Warehouse

SCHEMAS = (
    (
        "crm",
        "The unified model across all sources: one row per live record; keys are `<source>:<CRM id>`.",
    ),
    ("kam", "The analytics marts `kamsync analyze` rebuilds (one transaction per run)."),
    ("ops", "Run history, cursors and checkpoints, API use and the write-back ledger and log."),
)
RAW = """## `raw_<source>`

One schema per configured source, one table per CRM object or table, as landed: a column per
field of the CRM's own metadata (describe / EntityDefinitions), typed from it and commented with
the field's label and CRM type, plus `_loaded_at` (when kamsync landed this version of the
record), `_run_id` (the sync run that landed it) and `_is_deleted` (deleted in the CRM: soft
deletes, getDeleted / `$deletedEntity` answers and records a full read no longer saw).
"""
DOCUMENT = Path(__file__).resolve().parents[1] / "docs" / "warehouse.md"


def reference_warehouse(directory: Path) -> Path:
    """A warehouse with every migration applied and every mart built once."""
    path = directory / "reference.duckdb"
    warehouse = Warehouse(
        WarehouseConfig(path=path, engine_path=directory / "reference.engine.duckdb")
    )
    con = warehouse.connect()
    try:
        run_analysis(con, AnalyticsConfig(as_of=date(2026, 1, 1)))
        con.execute("checkpoint")
    finally:
        con.close()
    return warehouse.work_path


def render(con: duckdb.DuckDBPyConnection) -> str:
    """The dictionary as Markdown."""
    lines = [
        "# Warehouse data dictionary",
        "",
        "Generated from the COMMENTs in the DuckDB file by `python -m analytics.dictionary "
        "--write`; do not edit by hand. In the duckdb CLI, `select * from duckdb_columns()` shows "
        "the same descriptions.",
        "",
    ]
    for schema, about in SCHEMAS:
        lines += [f"## `{schema}`", "", about, ""]
        tables = con.execute(
            "select table_name, coalesce(comment, '') from duckdb_tables() "
            "where schema_name = ? order by table_name",
            [schema],
        ).fetchall()
        for table, comment in tables:
            lines += [
                f"### `{schema}.{table}`",
                "",
                comment,
                "",
                "| column | type | description |",
                "|---|---|---|",
            ]
            columns = con.execute(
                "select column_name, data_type, coalesce(comment, '') from duckdb_columns() "
                "where schema_name = ? and table_name = ? order by column_index",
                [schema, table],
            ).fetchall()
            for name, kind, description in columns:
                cell = _markdown(description)
                lines.append(f"| `{name}` | {kind.lower()} | {cell} |")
            lines.append("")
    lines.append(RAW)
    return "\n".join(lines).rstrip() + "\n"


def _markdown(text: str) -> str:
    """Comment text made safe in a Markdown table cell (pipes, and <...> read as HTML)."""
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def generate() -> str:
    """Build the reference warehouse and render its dictionary."""
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(str(reference_warehouse(Path(tmp))), read_only=True)
        try:
            return render(con)
        finally:
            con.close()


def main() -> None:
    """Print the dictionary, or write it to docs/warehouse.md."""
    parser = argparse.ArgumentParser(description="kamsync warehouse data dictionary")
    parser.add_argument("--write", action="store_true", help=f"update {DOCUMENT.name}")
    args = parser.parse_args()
    text = generate()
    if args.write:
        DOCUMENT.write_text(text, encoding="utf-8")
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
