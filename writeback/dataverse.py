"""Write-back into a Dataverse environment (see :mod:`writeback.crm` for the Salesforce side).

UpsertMultiple carries ``dataverse_chunk_size`` records a request and applies all or none; a
chunk refused as a whole (one bad record, or a table without UpsertMultiple) goes again as one
``$batch`` with continue-on-error, where each record succeeds or fails on its own.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

from config.errors import RequestRejectedError
from config.model import DynamicsSource, WritebackConfig, WritebackMode
from connectors.base import ApiUsage
from connectors.dynamics.auth import DynamicsAuth
from connectors.dynamics.writer import DataverseAccess, DataverseWriter, Lookup
from connectors.writes import Record, TargetDescription
from writeback.crm import Batch, CrmTarget, normalised_before, rejected_whole
from writeback.payload import CrmKind, TargetMap, Value
from writeback.records import Change

ACCOUNT_SET = "accounts"


class DataverseTarget:
    """Write-back into one Dataverse environment through :class:`DataverseWriter`."""

    kind: CrmKind = "dynamics"

    def __init__(
        self,
        writer: DataverseWriter,
        url: str,
        settings: WritebackConfig,
        mode: WritebackMode,
        close: Callable[[], None] = lambda: None,
    ) -> None:
        self.writer = writer
        self.url = url
        self.settings = settings
        self.mode = mode
        self._close = close
        self._entity_sets: dict[str, str] = {}

    @property
    def calls(self) -> int:
        """Requests made through the session."""
        return self.writer.calls

    def _entity_set(self, target: TargetMap) -> str:
        return self._entity_sets.get(target.object) or target.entity_set or target.object + "s"

    def describe(self, target: TargetMap) -> TargetDescription | None:
        """The table's metadata (its entity set is remembered for the writes)."""
        described = self.writer.describe(target.object)
        if described is not None and described.entity_set:
            self._entity_sets[target.object] = described.entity_set
        return described

    def read(self, target: TargetMap, external_ids: Sequence[str]) -> dict[str, dict[str, Value]]:
        """The records with these external ids, by external id."""
        lookup = target.lookup.name
        columns = [f"_{f.name}_value" if f.name == lookup else f.name for f in target.fields]
        primary = f"{target.object}id"
        raw = self.writer.read(
            self._entity_set(target), target.external_id.name, [primary, *columns], external_ids
        )
        found: dict[str, dict[str, Value]] = {}
        for ext, record in raw.items():
            plain = dict(record)
            plain[lookup] = plain.pop(f"_{lookup}_value", None)
            found[ext] = normalised_before(target, plain)
        return found

    def push(self, target: TargetMap, changes: Sequence[Change]) -> Iterator[Batch]:
        """UpsertMultiple chunks, each falling back to ``$batch`` when refused as a whole."""
        size = self.settings.dataverse_chunk_size
        lookups = [Lookup(target.lookup.name, ACCOUNT_SET)]
        entity_set = self._entity_set(target)
        key = target.external_id.name
        for start in range(0, len(changes), size):
            chunk = changes[start : start + size]
            records: list[Record] = [c.record.values for c in chunk]
            if self.mode != "batch":
                try:
                    results = self.writer.upsert_multiple(
                        target.object, entity_set, key, records, lookups
                    )
                    yield Batch("upsert_multiple", chunk, results)
                    continue
                except RequestRejectedError as exc:
                    if not rejected_whole(exc):
                        raise
            results = self.writer.upsert_batch(target.object, entity_set, key, records, lookups)
            yield Batch("batch", chunk, results)

    def usage(self) -> ApiUsage:
        """Requests made (Dataverse has no daily counter to report)."""
        return ApiUsage(calls=self.calls)

    def close(self) -> None:
        """Close the connection."""
        self._close()


def open_access(
    source: DynamicsSource,
    *,
    env: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[DataverseAccess, Callable[[], None]]:
    """A logged-in connection to ``source`` and how to close it: the Dynamics connector's own
    authentication (the same msal application, session, retry policy and re-authentication as
    sync)."""
    access = DynamicsAuth(source, env=env, sleep=sleep)
    return access, access.close


def open_dataverse_target(
    source: DynamicsSource,
    settings: WritebackConfig,
    mode: WritebackMode,
    *,
    env: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> CrmTarget:
    """A target on a new connection to ``source``."""
    access, close = open_access(source, env=env, sleep=sleep)
    writer = DataverseWriter(access, source.url, source.api_version)
    return DataverseTarget(writer, source.url, settings, mode, close=close)


@contextlib.contextmanager
def metadata_api(
    source: DynamicsSource, *, env: Mapping[str, str] | None = None
) -> Iterator[DataverseWriter]:
    """A writer for ``kamsync metadata dynamics --apply`` (its metadata calls)."""
    access, close = open_access(source, env=env)
    try:
        yield DataverseWriter(access, source.url, source.api_version)
    finally:
        close()
