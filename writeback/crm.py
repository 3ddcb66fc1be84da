"""Write-back targets per CRM: choose the API, cut the records into requests, read back.

A :class:`CrmTarget` turns changed records into requests of its CRM and yields one
:class:`Batch` (the records and the CRM's result for each) per request or job, so the runner
can log each batch and move the ledger as soon as the CRM has confirmed it.

* Salesforce (:class:`SalesforceTarget`): up to ``bulk_threshold`` records by sObject
  Collections, ``collections_size`` a call; more by Bulk API 2.0, one ingest job (a new job per
  ~90 MB of CSV, below the API's upload limit).  ``mode`` forces one or the other.
* Dataverse (:class:`DataverseTarget`): UpsertMultiple, ``dataverse_chunk_size`` records a
  request; a chunk the CRM refuses as a whole (one bad record fails them all) is sent again as a
  ``$batch`` with continue-on-error, which gives each record its own result.  ``mode = "batch"``
  uses ``$batch`` only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import orjson

from config.errors import RequestRejectedError
from config.model import WritebackConfig, WritebackMode
from connectors.base import ApiUsage
from connectors.salesforce.connector import SalesforceConnector
from connectors.salesforce.writer import SalesforceWriter
from connectors.writes import Record, RowResult, TargetDescription
from writeback.ledger import known_record_ids
from writeback.payload import CrmKind, TargetMap, Value, normalise
from writeback.records import Change

BULK_JOB_BYTES = 90_000_000


@dataclass(frozen=True)
class Batch:
    """One request (or Bulk job) and the CRM's result for each of its records."""

    method: str
    changes: Sequence[Change]
    results: Sequence[RowResult]


class CrmTarget(Protocol):
    """A source's CRM as write-back uses it."""

    kind: CrmKind
    url: str

    @property
    def calls(self) -> int:
        """API requests made so far (retries included)."""
        ...

    def describe(self, target: TargetMap) -> TargetDescription | None:
        """The target as the CRM's metadata describes it; None when it does not exist."""
        ...

    def read(self, target: TargetMap, external_ids: Sequence[str]) -> dict[str, dict[str, Value]]:
        """The records the CRM holds for these external ids, values normalised, by id."""
        ...

    def push(self, target: TargetMap, changes: Sequence[Change]) -> Iterator[Batch]:
        """Send ``changes``; yield each request's results as soon as the CRM answered."""
        ...

    def usage(self) -> ApiUsage:
        """API use as the connector saw it."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def normalised_before(target: TargetMap, raw: Mapping[str, object]) -> dict[str, Value]:
    """A record read from the CRM with each mapped field normalised (ids kept as they are)."""
    values: dict[str, Value] = {}
    for mapped in target.fields:
        values[mapped.name] = normalise(raw.get(mapped.name), mapped.shape, from_crm=True)
    for key in ("Id", f"{target.object}id"):
        if key in raw:
            value = raw[key]
            values[key] = None if value is None else str(value)
    return values


def _chunks(items: Sequence[Change], size: int) -> Iterator[Sequence[Change]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --------------------------------------------------------------------------- Salesforce


class SalesforceTarget:
    """Write-back into a Salesforce org through :class:`SalesforceWriter`."""

    kind: CrmKind = "salesforce"

    def __init__(
        self, connector: SalesforceConnector, settings: WritebackConfig, mode: WritebackMode
    ) -> None:
        self.connector = connector
        self.writer = SalesforceWriter(connector, poll_timeout=settings.bulk_poll_timeout_seconds)
        self.settings = settings
        self.mode = mode
        self.url = connector.config.instance_url

    @property
    def calls(self) -> int:
        """Requests made through the connector's session."""
        return self.writer.calls

    def describe(self, target: TargetMap) -> TargetDescription | None:
        """The object's describe."""
        return self.writer.describe(target.object)

    def read(self, target: TargetMap, external_ids: Sequence[str]) -> dict[str, dict[str, Value]]:
        """The records with these external ids, by external id."""
        names = [f.name for f in target.fields]
        raw = self.writer.read(target.object, target.external_id.name, names, external_ids)
        return {ext: normalised_before(target, record) for ext, record in raw.items()}

    def push(self, target: TargetMap, changes: Sequence[Change]) -> Iterator[Batch]:
        """Collections below the Bulk threshold (or as configured), else Bulk API 2.0 jobs."""
        bulk = self.mode == "bulk" or (
            self.mode == "auto" and len(changes) > self.settings.bulk_threshold
        )
        if bulk:
            yield from self._bulk(target, changes)
        else:
            yield from self._collections(target, changes)

    def _collections(self, target: TargetMap, changes: Sequence[Change]) -> Iterator[Batch]:
        known = known_record_ids(changes)
        ext = target.external_id.name
        for chunk in _chunks(changes, self.settings.collections_size):
            records = [dict(c.record.values) for c in chunk]
            results = self.writer.upsert_collections(target.object, ext, records, known)
            yield Batch("collections", chunk, results)

    def _bulk(self, target: TargetMap, changes: Sequence[Change]) -> Iterator[Batch]:
        columns = [f.name for f in target.fields]
        for job in _bulk_jobs(changes):
            records: list[Record] = [c.record.values for c in job]
            results = self.writer.upsert_bulk(
                target.object, target.external_id.name, columns, records
            )
            yield Batch("bulk", job, results)

    def usage(self) -> ApiUsage:
        """The connector's view of API use."""
        return self.connector.usage()

    def close(self) -> None:
        """Close the connector."""
        self.connector.close()


def _bulk_jobs(changes: Sequence[Change]) -> Iterator[Sequence[Change]]:
    """Consecutive runs of changes whose CSV stays below one job's upload limit."""
    start, size = 0, 0
    for index, change in enumerate(changes):
        estimate = len(orjson.dumps(list(change.record.values.values())))  # about its CSV row
        if size + estimate > BULK_JOB_BYTES and index > start:
            yield changes[start:index]
            start, size = index, 0
        size += estimate
    if start < len(changes):
        yield changes[start:]


def rejected_whole(error: RequestRejectedError) -> bool:
    """True for a refusal of a whole request (4xx), after which records are sent one by one."""
    return error.status is not None and 400 <= error.status < 500
