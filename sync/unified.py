"""Rebuilding the unified ``crm`` model from every source's raw tables.

Each ``sync/sql/crm/<kind>/<crm table>__<Object>.sql`` file is one SELECT from one raw object,
written like a dbt model; a file named ``<crm table>__<A>+<B>.sql`` serves objects of the same
shape alike, once per object.  Where every CRM ends a crm table's model the same way, the CRM's
file holds only its ``renamed`` CTE (the CRM's fields under crm names) and ends with a
``{{final}}`` line, which stands for the shared rest of the model, ``common/<crm table>.sql``.
Placeholders are filled with validated pieces only:

* ``{{source}}`` the source name (``[a-z0-9_]+``), ``{{raw}}`` the quoted raw table,
  ``{{object}}`` the object's name (``[A-Za-z0-9_]+``);
* ``{{c:Field}}`` the quoted column, or ``null`` when the org does not have that field;
* ``{{f:key}}`` the column the source's ``fields`` mapping names (custom fields), or ``null``;
* ``{{l:key}}`` the label column of that mapped field (``<column>name``: Dataverse lands a
  choice's label beside its code), or ``null``.

The crm tables are emptied and refilled in dependency order inside the caller's transaction,
then ``common/account_hierarchy.sql`` sets ultimate parents and flags parent cycles (the
caller logs them once per run: :meth:`Rebuilt.warn_about_cycles`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

import duckdb
import pyarrow as pa

from config.model import KamsyncConfig
from sync.landing import literal, quote, raw_schema

log = logging.getLogger(__name__)

CRM_TABLES = (
    "users",
    "accounts",
    "contacts",
    "products",
    "opportunities",
    "opportunity_lines",
    "opportunity_contacts",
    "activities",
)
_PLACEHOLDER_RE = re.compile(r"\{\{(?:(c|f|l):([A-Za-z0-9_]+)|(source|raw|object))\}\}")
_TEMPLATE_RE = re.compile(r"^([a-z_]+)__([A-Za-z0-9_]+(?:\+[A-Za-z0-9_]+)*)\.sql$")
_FINAL_RE = re.compile(r"^\{\{final\}\}$", re.MULTILINE)


@dataclass(frozen=True)
class Template:
    """One crm model for one CRM object."""

    kind: str
    crm_table: str
    obj: str
    sql: str


def templates(kind: str) -> list[Template]:
    """The crm templates shipped for a CRM kind."""
    crm: Traversable = resources.files("sync") / "sql" / "crm"
    found: list[Template] = []
    for entry in (crm / kind).iterdir():
        match = _TEMPLATE_RE.match(entry.name)
        if match:
            sql = _with_shared_end(crm, match[1], entry.read_text(encoding="utf-8"))
            found.extend(Template(kind, match[1], obj, sql) for obj in match[2].split("+"))
    return sorted(found, key=lambda t: (CRM_TABLES.index(t.crm_table), t.obj))


def _with_shared_end(crm: Traversable, crm_table: str, sql: str) -> str:
    """``sql`` with its ``{{final}}`` line replaced by ``common/<crm_table>.sql``."""
    if not _FINAL_RE.search(sql):
        return sql
    shared = (crm / "common" / f"{crm_table}.sql").read_text(encoding="utf-8")
    return _FINAL_RE.sub(lambda _: shared, sql)


def render(template: Template, source: str, columns: set[str], mapping: dict[str, str]) -> str:
    """Fill a template's placeholders for one source (``columns``: the raw table's, lower-case)."""
    table = f"{quote(raw_schema(source))}.{quote(template.obj)}"

    def column(name: str) -> str:
        return quote(name) if name.lower() in columns else "null"

    def fill(match: re.Match[str]) -> str:
        kind, name, word = match.groups()
        if word == "source":
            return source
        if word == "raw":
            return table
        if word == "object":
            return template.obj
        if kind == "c":
            return column(name)
        mapped = mapping.get(name, "")
        if kind == "l" and mapped:
            return column(f"{mapped}name")
        return column(mapped) if mapped else "null"

    return _PLACEHOLDER_RE.sub(fill, template.sql)


def _raw_columns(con: duckdb.DuckDBPyConnection, source: str, obj: str) -> set[str] | None:
    rows = con.execute(
        "select lower(column_name) from duckdb_columns() where schema_name = ? "
        "and lower(table_name) = lower(?)",
        [raw_schema(source), obj],
    ).fetchall()
    return {r[0] for r in rows} or None


def _load_regions(con: duckdb.DuckDBPyConnection, config: KamsyncConfig) -> None:
    table = pa.table(
        {
            "country": pa.array(list(config.regions), type=pa.string()),
            "region": pa.array(list(config.regions.values()), type=pa.string()),
        }
    )
    con.register("_kamsync_regions_in", table)
    con.execute(
        "create or replace temp table _kamsync_regions as select * from _kamsync_regions_in"
    )
    con.unregister("_kamsync_regions_in")


@dataclass(frozen=True)
class Rebuilt:
    """What a crm rebuild made: rows per crm table, and the accounts caught in parent cycles."""

    counts: dict[str, int]
    cycle_keys: tuple[str, ...]

    def warn_about_cycles(self) -> None:
        """Log the parent cycles once (a run that merges several sources rebuilds crm each time)."""
        if not self.cycle_keys:
            return
        shown = ", ".join(literal(key) for key in self.cycle_keys[:10])
        log.warning(
            "%d account%s sit on or below a parent cycle (no ultimate parent): %s",
            len(self.cycle_keys),
            "" if len(self.cycle_keys) == 1 else "s",
            shown,
        )


def rebuild_crm(con: duckdb.DuckDBPyConnection, config: KamsyncConfig) -> Rebuilt:
    """Refill every crm table from the raw tables (inside the caller's transaction)."""
    _load_regions(con, config)
    counts: dict[str, int] = {}
    for table in CRM_TABLES:
        con.execute(f"delete from crm.{table}")
        for source in config.sources:
            mapping = source.fields.model_dump()
            for template in templates(source.kind):
                if template.crm_table != table:
                    continue
                columns = _raw_columns(con, source.name, template.obj)
                if columns is None:
                    continue
                sql = render(template, source.name, columns, mapping)
                con.execute(f"insert into crm.{table} by name {sql}")
        counts[table] = int(con.execute(f"select count(*) from crm.{table}").fetchall()[0][0])
    cycle_keys = _apply_hierarchy(con)
    con.execute("drop table if exists _kamsync_regions")
    return Rebuilt(counts, cycle_keys)


def _apply_hierarchy(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """Set ultimate parents and cycle flags; the keys of accounts on or below a cycle."""
    sql = (resources.files("sync") / "sql" / "crm" / "common" / "account_hierarchy.sql").read_text(
        encoding="utf-8"
    )
    con.execute(f"create or replace temp table _kamsync_hierarchy as {sql}")
    con.execute(
        "update crm.accounts set ultimate_parent_key = h.ultimate_parent_key, "
        "has_parent_cycle = h.has_parent_cycle from _kamsync_hierarchy as h "
        "where crm.accounts.account_key = h.account_key"
    )
    cycles = con.execute(
        "select account_key from _kamsync_hierarchy where has_parent_cycle order by 1"
    ).fetchall()
    con.execute("drop table _kamsync_hierarchy")
    return tuple(str(row[0]) for row in cycles)
