"""The records write-back moves around: desired, last confirmed, changed, and each outcome."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import orjson

from connectors.writes import RowResult
from writeback.payload import Value

Action = Literal["create", "update"]


@dataclass(frozen=True)
class DesiredRecord:
    """The score record kamsync wants in the CRM for one account."""

    external_id: str
    account_key: str
    account_id: str
    values: Mapping[str, Value]  # CRM field name -> normalised value
    payload_hash: str


@dataclass(frozen=True)
class LedgerEntry:
    """The last payload the CRM confirmed for one record (its JSON read only when needed)."""

    external_id: str
    target_object: str
    crm_record_id: str | None
    payload_hash: str
    payload_json: str

    @cached_property
    def payload(self) -> Mapping[str, Value]:
        """The confirmed payload, field name to value."""
        parsed: dict[str, Value] = orjson.loads(self.payload_json)
        return parsed


@dataclass(frozen=True)
class Change:
    """A desired record that differs from the ledger, with what the ledger last had."""

    record: DesiredRecord
    previous: LedgerEntry | None

    @property
    def action(self) -> Action:
        """create when kamsync never confirmed this record, else update."""
        return "update" if self.previous is not None else "create"


@dataclass(frozen=True)
class Outcome:
    """One row's result, ready to log; ``before`` is the record's prior values, if known."""

    change: Change
    result: RowResult
    action: Action
    before: Mapping[str, Value] | LedgerEntry | None
    method: str | None

    @property
    def before_json(self) -> str | None:
        """The prior values as JSON text."""
        if isinstance(self.before, LedgerEntry):
            return self.before.payload_json
        if self.before is None:
            return None
        return orjson.dumps(self.before, option=orjson.OPT_SORT_KEYS).decode()
