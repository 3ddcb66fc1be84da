"""What the CRM writers give write-back: a target's metadata, and one result per record sent.

The writers (:mod:`connectors.salesforce.writer`, :mod:`connectors.dynamics.writer`) know the
CRMs' write APIs and nothing about scores: they take records as field name -> JSON value, keyed
by an external id, and answer with a :class:`RowResult` for every external id they were given,
whatever the API did (``unprocessed`` when the CRM said nothing about a record).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

RowStatus = Literal["success", "failed", "unprocessed"]
Record = Mapping[str, Any]


@dataclass(frozen=True)
class RowResult:
    """What became of one record sent to the CRM."""

    external_id: str
    status: RowStatus
    created: bool | None = None
    record_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True)
class TargetField:
    """One field (Salesforce) or column (Dataverse) of a write target, as its metadata says."""

    name: str
    type: str
    custom: bool
    createable: bool
    updateable: bool
    external_id: bool = False
    reference_to: tuple[str, ...] = ()
    length: int | None = None


@dataclass(frozen=True)
class TargetDescription:
    """A write target as the CRM describes it (describe / EntityDefinitions)."""

    name: str
    custom: bool
    createable: bool
    updateable: bool
    fields: Mapping[str, TargetField] = field(default_factory=dict)
    entity_set: str | None = None
    alternate_keys: tuple[tuple[str, ...], ...] = ()

    def field(self, name: str) -> TargetField | None:
        """The field called ``name`` (case-insensitive), or None."""
        found = self.fields.get(name)
        if found is not None:
            return found
        lowered = name.lower()
        return next((f for n, f in self.fields.items() if n.lower() == lowered), None)


def unprocessed(
    external_ids: Sequence[str], message: str, code: str | None = None
) -> list[RowResult]:
    """Every one of ``external_ids`` as unprocessed, with why."""
    return [
        RowResult(e, "unprocessed", error_code=code, error_message=message) for e in external_ids
    ]
