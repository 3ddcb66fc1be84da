"""Desired state, normalised and diffed against the ledger inside DuckDB.

One score record per account of a source comes from ``kam.account_scores``: the account's CRM id
(the lookup), a deterministic external id (the account key, ``<source>:<account id>``) and every
mapped field, normalised the way the CRM stores it by SQL expressions that do exactly what
:func:`writeback.payload.normalise` does in Python (a test holds the two together):

========= ===============================================================================
text      cut to the field's length; empty text is null
decimal   exact decimal, scaled to percent for shares, rounded half up to the field's places
integer   the same, to whole numbers
date      ``YYYY-MM-DD``
datetime  UTC ``YYYY-MM-DDTHH:MM:SS[.mmm]Z`` (Salesforce keeps milliseconds, Dataverse seconds)
========= ===============================================================================

The payload hash is the SHA-256 of the record's normalised fields as JSON (field names in order,
the scoring time left out, see :attr:`writeback.metadata.ScoreField.volatile`).  The diff against
``ops.writeback_ledger`` is a join, so only changed records ever reach Python: an unchanged
warehouse of 100,000 accounts costs two queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from config.errors import RunFailedError
from writeback.payload import MappedField, Shape, TargetMap, Value
from writeback.records import Change, DesiredRecord, LedgerEntry

_STAGE = "wb_desired"


@dataclass(frozen=True)
class DesiredState:
    """A source's desired records against its ledger."""

    total: int
    changes: list[Change]
    scores_digest: str  # every desired record, volatile fields included
    ledger_digest: str  # the ledger as it stands


def scores_exist(con: duckdb.DuckDBPyConnection) -> bool:
    """True once ``kamsync analyze`` has built ``kam.account_scores``."""
    rows = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'kam' and table_name = 'account_scores'"
    ).fetchall()
    return bool(rows[0][0])


# --------------------------------------------------------------------------- SQL normalisation


def sql_normalised(column: str, shape: Shape) -> str:
    """A SQL expression giving ``column`` as :func:`writeback.payload.normalise` would."""
    if shape.kind == "text":
        text = f"cast({column} as varchar)"
        if shape.length is not None:
            text = f"left({text}, {int(shape.length)})"
        return f"nullif({text}, '')"
    if shape.kind in ("decimal", "integer"):
        number = f"cast({column} as decimal(38, 12))"
        if shape.percent:
            number = f"({number} * 100)"
        scale = int(shape.scale) if shape.kind == "decimal" else 0
        kind = "double" if shape.kind == "decimal" else "bigint"
        finite = f"isfinite(cast({column} as double))"
        return f"case when {finite} then cast(round({number}, {scale}) as {kind}) end"
    if shape.kind == "date":
        return f"strftime(cast({column} as date), '%Y-%m-%d')"
    if shape.kind == "datetime":
        fraction = ".%g" if shape.fraction_digits == 3 else ""
        moment = f"timezone('UTC', cast({column} as timestamptz))"
        return f"strftime({moment}, '%Y-%m-%dT%H:%M:%S{fraction}Z')"
    return f"nullif(cast({column} as varchar), '')"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _json_of(fields: Sequence[tuple[str, str]]) -> str:
    """``to_json`` of the named expressions, names sorted (the canonical text that is hashed)."""
    members = ", ".join(f"{_quoted(name)} := {expr}" for name, expr in sorted(fields))
    return f"to_json(struct_pack({members}))"


def _stage(con: duckdb.DuckDBPyConnection, source: str, target: TargetMap) -> list[MappedField]:
    """Normalise the source's rows into a temporary table ``wb_desired`` (c0, c1, ...)."""
    fields = list(target.fields)
    columns = [
        f"{sql_normalised(_quoted(f.score.column), f.shape)} as c{i}" for i, f in enumerate(fields)
    ]
    kept = [(f.name, f"c{i}") for i, f in enumerate(fields) if f.name not in target.volatile]
    every = [(f.name, f"c{i}") for i, f in enumerate(fields)]
    con.execute(
        f"create or replace temp table {_STAGE} as "
        f"with normalised as (select account_key as account_key, {', '.join(columns)} "
        "from kam.account_scores where source = ?) "
        f"select *, sha256({_json_of(kept)}) as payload_hash, "
        f"sha256({_json_of(every)}) as full_hash from normalised",
        [source],
    ).fetchall()
    return fields


def desired_state(con: duckdb.DuckDBPyConnection, source: str, target: TargetMap) -> DesiredState:
    """The source's desired records, and those the ledger does not have as they are."""
    if not scores_exist(con):
        raise RunFailedError(
            "there are no scores to write back yet: run `kamsync analyze` first "
            "(kam.account_scores does not exist)"
        )
    fields = _stage(con, source, target)
    try:
        ext = f"c{fields.index(target.external_id)}"
        lookup = f"c{fields.index(target.lookup)}"
        total, scores = _summary(con, target, ext, lookup)
        changes = _changes(con, source, target, fields, ext, lookup)
        ledger = con.execute(
            "select sha256(coalesce(string_agg(external_id || '=' || payload_hash || '=' || "
            "target_object, ',' order by external_id), '')) "
            "from ops.writeback_ledger where source = ?",
            [source],
        ).fetchall()[0][0]
    finally:
        con.execute(f"drop table if exists {_STAGE}").fetchall()
    return DesiredState(total, changes, scores, ledger)


def _summary(
    con: duckdb.DuckDBPyConnection, target: TargetMap, ext: str, lookup: str
) -> tuple[int, str]:
    limit = target.external_id.shape.length or 10_000
    total, long_key, no_account, digest = con.execute(
        f"select count(*), min(account_key) filter (where length(account_key) > {int(limit)}), "
        f"min(account_key) filter (where {lookup} is null), "
        f"sha256(coalesce(string_agg({ext} || '=' || full_hash, ',' order by {ext}), '')) "
        f"from {_STAGE}"
    ).fetchall()[0]
    if long_key is not None:
        raise RunFailedError(
            f"the external id {long_key!r} does not fit {target.object}.{target.external_id.name} "
            f"({limit} characters): use a shorter source name"
        )
    if no_account is not None:
        raise RunFailedError(f"{no_account} has no CRM account id in kam.account_scores")
    return int(total), str(digest)


def _changes(
    con: duckdb.DuckDBPyConnection,
    source: str,
    target: TargetMap,
    fields: Sequence[MappedField],
    ext: str,
    lookup: str,
) -> list[Change]:
    selected = ", ".join(f"d.c{i}" for i in range(len(fields)))
    rows = con.execute(
        f"select d.account_key, d.payload_hash, {selected}, l.external_id, l.target_object, "
        "l.crm_record_id, l.payload_hash, l.payload "
        f"from {_STAGE} as d left join ops.writeback_ledger as l "
        f"on l.source = ? and l.external_id = d.{ext} "
        "where l.external_id is null or l.payload_hash <> d.payload_hash "
        f"or l.target_object <> ? order by d.{ext}",
        [source, target.object],
    ).fetchall()
    names = [f.name for f in fields]
    ext_at, lookup_at = int(ext[1:]), int(lookup[1:])
    return [_change(row, names, ext_at, lookup_at, target.object) for row in rows]


def _change(
    row: Sequence[Any], names: Sequence[str], ext_at: int, lookup_at: int, target_object: str
) -> Change:
    width = len(names)
    values: dict[str, Value] = dict(zip(names, row[2 : 2 + width], strict=True))
    previous_ext, previous_object, record_id, previous_hash, payload = row[2 + width :]
    previous = None
    if previous_ext is not None and previous_object == target_object:
        previous = LedgerEntry(previous_ext, previous_object, record_id, previous_hash, payload)
    record = DesiredRecord(
        external_id=str(values[names[ext_at]]),
        account_key=str(row[0]),
        account_id=str(values[names[lookup_at]]),
        values=values,
        payload_hash=str(row[1]),
    )
    return Change(record, previous)
