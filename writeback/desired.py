"""Desired state: one score record per account of a source, from ``kam.account_scores``.

Each record carries the account's CRM id (the lookup), a deterministic external id (the
account key, ``<source>:<account id>``), every mapped field's value normalised the way the CRM
stores it, and the hash of those values (the scoring time left out, see
:attr:`writeback.metadata.ScoreField.volatile`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from config.errors import RunFailedError
from writeback.payload import TargetMap, Value, normalise, payload_hash


@dataclass(frozen=True)
class DesiredRecord:
    """The score record kamsync wants in the CRM for one account."""

    external_id: str
    account_key: str
    account_id: str
    values: Mapping[str, Value]  # CRM field name -> normalised value
    payload_hash: str


def scores_exist(con: duckdb.DuckDBPyConnection) -> bool:
    """True once ``kamsync analyze`` has built ``kam.account_scores``."""
    rows = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'kam' and table_name = 'account_scores'"
    ).fetchall()
    return bool(rows[0][0])


def desired_records(
    con: duckdb.DuckDBPyConnection, source: str, target: TargetMap
) -> list[DesiredRecord]:
    """The records of ``source``'s accounts, in external-id order."""
    if not scores_exist(con):
        raise RunFailedError(
            "there are no scores to write back yet: run `kamsync analyze` first "
            "(kam.account_scores does not exist)"
        )
    columns = list(dict.fromkeys(f.score.column for f in target.fields))
    if "account_key" not in columns:
        columns.append("account_key")
    selected = ", ".join(f'"{c}"' for c in columns)
    rows = con.execute(
        f"select {selected} from kam.account_scores where source = ? order by account_key",
        [source],
    ).fetchall()
    return [_record(dict(zip(columns, row, strict=True)), target) for row in rows]


def _record(row: Mapping[str, Any], target: TargetMap) -> DesiredRecord:
    values: dict[str, Value] = {}
    for mapped in target.fields:
        try:
            values[mapped.name] = normalise(row[mapped.score.column], mapped.shape)
        except (TypeError, ValueError) as exc:
            raise RunFailedError(
                f"kam.account_scores.{mapped.score.column} of {row['account_key']} cannot be "
                f"written to {target.object}.{mapped.name}: {exc}"
            ) from None
    ext = target.external_id
    external_id = values[ext.name]
    limit = ext.shape.length
    if not isinstance(external_id, str) or (
        limit is not None and len(str(row["account_key"])) > limit
    ):
        raise RunFailedError(
            f"the external id {row['account_key']!r} does not fit {target.object}.{ext.name} "
            f"({limit} characters): use a shorter source name"
        )
    account_id = values[target.lookup.name]
    if not isinstance(account_id, str):
        raise RunFailedError(f"{row['account_key']} has no CRM account id")
    return DesiredRecord(
        external_id=external_id,
        account_key=str(row["account_key"]),
        account_id=account_id,
        values=values,
        payload_hash=payload_hash(values, target.volatile),
    )


def digest(pairs: Iterable[Sequence[Any]]) -> str:
    """A SHA-256 over rows of text (the fingerprint of a warehouse state)."""
    hasher = hashlib.sha256()
    for pair in pairs:
        hasher.update(("\x1f".join("" if v is None else str(v) for v in pair) + "\x1e").encode())
    return hasher.hexdigest()


def scores_digest(records: Sequence[DesiredRecord]) -> str:
    """The fingerprint of the desired state, volatile fields included."""
    return digest((r.external_id, payload_hash(r.values, frozenset())) for r in records)
