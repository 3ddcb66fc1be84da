"""The sync engine: owns state, lands pages, merges sources, rebuilds the crm model.

For every configured source (or the one asked for), the engine describes the objects, then for
each object reads pages from its connector and stages each page in one transaction together with
the checkpoint that follows it.  When every object of a source is fully staged, one transaction
merges them into ``raw_<source>``, commits their new cursors, and rebuilds ``crm``; until then
raw and crm tables stay as they were.  A source that fails or hits its API budget keeps its staged
pages and checkpoints, and the next run continues from there; other sources go on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import duckdb

from config.errors import ApiBudgetExceededError, KamsyncError, RunFailedError
from config.model import DynamicsSource, KamsyncConfig, SalesforceSource
from connectors.base import Connector, ObjectSchema, Page, StreamState
from sync import landing, runs, state
from sync.unified import Rebuilt, rebuild_crm

log = logging.getLogger(__name__)

SourceConfig = SalesforceSource | DynamicsSource
ConnectorFactory = Callable[[SourceConfig], Connector]


class Progress(Protocol):
    """Where the engine reports what it is doing (a terminal bar, log lines, nothing)."""

    def object_started(self, source: str, obj: str, mode: str) -> None: ...

    def page_landed(self, source: str, obj: str, rows: int, api_calls: int) -> None: ...

    def object_finished(self, source: str, obj: str, status: str) -> None: ...


class NoProgress:
    """Reports nothing."""

    def object_started(self, source: str, obj: str, mode: str) -> None:
        """Ignore."""

    def page_landed(self, source: str, obj: str, rows: int, api_calls: int) -> None:
        """Ignore."""

    def object_finished(self, source: str, obj: str, status: str) -> None:
        """Ignore."""


@dataclass
class ObjectResult:
    """What a run did for one object."""

    pages: int = 0
    rows: int = 0
    deleted: int = 0
    api_calls: int = 0
    merged_rows: int = 0
    merged_deleted: int = 0


@dataclass
class SourceResult:
    """What a run did for one source."""

    name: str
    status: str = "running"
    error: str | None = None
    api_calls: int = 0
    org_used: int | None = None
    org_limit: int | None = None
    objects: dict[str, ObjectResult] = field(default_factory=dict)


@dataclass
class SyncResult:
    """What a sync run did."""

    run_id: str
    sources: list[SourceResult]
    crm_counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every source succeeded."""
        return all(s.status == "succeeded" for s in self.sources)

    @property
    def api_calls(self) -> int:
        """API calls made across sources."""
        return sum(s.api_calls for s in self.sources)

    @property
    def rows(self) -> int:
        """Records landed across sources."""
        return sum(o.rows for s in self.sources for o in s.objects.values())


def default_connector(source: SourceConfig) -> Connector:
    """The connector for a configured source."""
    if isinstance(source, SalesforceSource):
        from connectors.salesforce import SalesforceConnector

        return SalesforceConnector(source)
    from connectors.dynamics import DynamicsConnector

    return DynamicsConnector(source)


class SyncEngine:
    """Runs syncs of the configured sources into an open warehouse connection."""

    def __init__(
        self,
        config: KamsyncConfig,
        con: duckdb.DuckDBPyConnection,
        *,
        connector_factory: ConnectorFactory = default_connector,
        progress: Progress | None = None,
        objects: Callable[[SourceConfig], Sequence[str]] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.config = config
        self.con = con
        self.connector_factory = connector_factory
        self.progress = progress or NoProgress()
        self._objects = objects or _configured_objects
        self.should_stop = should_stop
        self._described: dict[str, bool] = {}
        self._rebuilt: Rebuilt | None = None

    def run(self, *, source: str | None = None, full: bool = False) -> SyncResult:
        """Sync one source or all; record the run; raise nothing for source failures."""
        chosen = self._sources(source)
        self._rebuilt = None
        run_id = runs.new_run_id("sync")
        with _transaction(self.con):
            runs.interrupt_stale(self.con)
            runs.start_run(self.con, run_id, "sync", source)
        result = SyncResult(run_id, [])
        merged_any = False
        for config in chosen:
            if self.should_stop():
                result.sources.append(SourceResult(config.name, "stopped", _STOPPED))
                continue
            outcome = self._sync_source(config, run_id, full)
            result.sources.append(outcome)
            merged_any = merged_any or outcome.status == "succeeded"
        if self._rebuilt is not None:
            result.crm_counts = self._counts()
            self._rebuilt.warn_about_cycles()
        status, error = _run_status(result)
        with _transaction(self.con):
            runs.finish_run(
                self.con,
                run_id,
                status=status,
                api_calls=result.api_calls,
                rows_written=result.rows,
                error=error,
            )
        return result

    def _sources(self, name: str | None) -> list[SourceConfig]:
        if name is None:
            return list(self.config.sources)
        try:
            return [self.config.source(name)]
        except KeyError:
            known = ", ".join(s.name for s in self.config.sources) or "none"
            raise RunFailedError(f"no source named {name!r} (configured: {known})") from None

    def _counts(self) -> dict[str, int]:
        from sync.unified import CRM_TABLES

        return {
            t: int(self.con.execute(f"select count(*) from crm.{t}").fetchall()[0][0])
            for t in CRM_TABLES
        }

    # ------------------------------------------------------------------ source

    def _sync_source(self, config: SourceConfig, run_id: str, full: bool) -> SourceResult:
        outcome = SourceResult(config.name)
        connector = self.connector_factory(config)
        try:
            schemas = self._schemas(connector, config, full)
            for schema in schemas:
                outcome.objects[schema.name] = self._sync_object(
                    connector, config.name, schema, run_id, full
                )
            self._merge(config, schemas, run_id, outcome)
            outcome.status = "succeeded"
        except ApiBudgetExceededError as exc:
            outcome.status = "budget_stopped"
            outcome.error = exc.reason_at(config.name)
            log.warning("%s", exc)
        except _StopRequested:
            outcome.status = "stopped"
            outcome.error = _STOPPED
        except KamsyncError as exc:
            outcome.status = "failed"
            outcome.error = exc.reason_at(config.name)
            log.error("%s", exc)
        finally:
            usage = connector.usage()
            outcome.api_calls = usage.calls
            outcome.org_used, outcome.org_limit = usage.org_used, usage.org_limit
            with _transaction(self.con):
                runs.record_usage(
                    self.con,
                    run_id,
                    config.name,
                    usage,
                    getattr(config, "api_budget_percent", None),
                )
            connector.close()
        return outcome

    def _schemas(
        self, connector: Connector, config: SourceConfig, full: bool
    ) -> list[ObjectSchema]:
        """Cached schemas while fresh; otherwise describe (and widen the tables) again."""
        objects = list(self._objects(config))
        cached = [state.load_schema(self.con, config.name, obj) for obj in objects]
        now = datetime.now(UTC)
        max_age = timedelta(hours=config.schema_refresh_hours)
        fresh = not full and all(
            schema is not None and at is not None and now - at < max_age for schema, at in cached
        )
        if fresh:
            return [ObjectSchema.from_dict(schema) for schema, _ in cached if schema is not None]
        self._described[config.name] = True  # new fields may change the crm model: rebuild it
        schemas = connector.discover(objects)
        with _transaction(self.con):
            for schema in schemas:
                landing.ensure_tables(self.con, config.name, schema)
                state.save_schema(self.con, config.name, schema.name, schema.to_dict())
        return schemas

    def _sync_object(
        self,
        connector: Connector,
        source: str,
        schema: ObjectSchema,
        run_id: str,
        full: bool,
    ) -> ObjectResult:
        saved = state.load(self.con, source, schema.name)
        result = ObjectResult()
        if saved.complete and not full:
            return result  # staged by an earlier run, waits for this source's merge
        checkpoint = saved.checkpoint
        if full and checkpoint and not checkpoint.get("full_requested"):
            checkpoint = None  # --full discards an unfinished incremental extraction
        fresh = checkpoint is None or bool(checkpoint.get("complete"))
        with _transaction(self.con):
            if fresh:
                landing.clear_stage(self.con, source, schema.name)
            runs.start_object(self.con, run_id, source, schema.name)
        if fresh:
            checkpoint = None
        stream_state = StreamState(
            cursor=saved.cursor,
            checkpoint=(checkpoint or {}).get("position"),
            full=full,
        )
        pages = saved.pages if checkpoint else 0
        mode = "full" if full or saved.cursor is None else "incremental"
        self.progress.object_started(source, schema.name, mode)
        status = "failed"
        error: str | None = None
        try:
            for page in connector.read(schema, stream_state):
                pages += 1
                self._land(connector, source, schema, page, pages, run_id, full)
                result.pages += 0 if page.done else 1
                result.rows += page.record_count
                result.deleted += len(page.deleted_ids)
                result.api_calls += page.api_calls
                if not page.done:
                    self.progress.page_landed(
                        source, schema.name, page.record_count, page.api_calls
                    )
                if self.should_stop() and not page.done:
                    raise _StopRequested
            status = "staged"
        except _StopRequested:
            status, error = "stopped", _STOPPED
            raise
        except ApiBudgetExceededError as exc:
            status, error = "budget_stopped", str(exc)
            raise
        except KamsyncError as exc:
            error = str(exc)
            raise
        finally:
            if status != "staged":  # a staged object was finished with its last page
                with _transaction(self.con):
                    runs.finish_object(
                        self.con, run_id, source, schema.name, status=status, error=error
                    )
            self.progress.object_finished(source, schema.name, status)
        return result

    def _land(
        self,
        connector: Connector,
        source: str,
        schema: ObjectSchema,
        page: Page,
        page_number: int,
        run_id: str,
        full: bool,
    ) -> None:
        if page.done:
            checkpoint = {
                "complete": True,
                "cursor": page.cursor,
                "mode": page.mode,
                "pages": page_number,
            }
        else:
            checkpoint = {
                "position": page.checkpoint,
                "mode": page.mode,
                "pages": page_number,
                "full_requested": full,
            }
        with _transaction(self.con):
            if page.restart:
                landing.clear_stage(self.con, source, schema.name)
            landing.stage_page(
                self.con,
                source,
                schema,
                page,
                page_number=page_number,
                deleted_field=connector.deleted_field,
            )
            state.save_checkpoint(self.con, source, schema.name, checkpoint, run_id)
            if page.done:  # the closing page carries the cursor and ends the object
                runs.finish_object(self.con, run_id, source, schema.name, status="staged")
            else:
                runs.add_page(
                    self.con,
                    run_id,
                    source,
                    schema.name,
                    method=page.method,
                    rows=page.record_count,
                    deleted=len(page.deleted_ids),
                    api_calls=page.api_calls,
                )

    # ------------------------------------------------------------------ merge

    def _merge(
        self,
        config: SourceConfig,
        schemas: Sequence[ObjectSchema],
        run_id: str,
        outcome: SourceResult,
    ) -> None:
        started = time.monotonic()
        changed = False
        with _transaction(self.con):
            for schema in schemas:
                saved = state.load(self.con, config.name, schema.name)
                if not saved.complete:
                    raise RunFailedError(f"{config.name}: {schema.name} is not fully staged")
                checkpoint = saved.checkpoint or {}
                is_full = checkpoint.get("mode") == "full"
                counts = landing.merge_object(
                    self.con, config.name, schema, full=is_full, run_id=run_id
                )
                state.commit_cursor(
                    self.con,
                    config.name,
                    schema.name,
                    checkpoint.get("cursor"),
                    full=is_full,
                    run_id=run_id,
                )
                result = outcome.objects.setdefault(schema.name, ObjectResult())
                result.merged_rows, result.merged_deleted = counts.upserted, counts.deleted
                changed = changed or is_full or bool(counts.upserted or counts.deleted)
            self.con.execute(
                "update ops.sync_run_objects set status = 'succeeded' "
                "where run_id = ? and source = ? and status = 'staged'",
                [run_id, config.name],
            )
            if changed or self._described.get(config.name, False):
                self._rebuilt = rebuild_crm(self.con, self.config)
        log.info("%s: merged in %.1fs", config.name, time.monotonic() - started)


_STOPPED = "stopped on request; the pages landed so far are saved and the next run continues"


class _StopRequested(Exception):
    """A stop was asked for; raised after a page is committed."""


def _configured_objects(source: SourceConfig) -> Sequence[str]:
    if isinstance(source, SalesforceSource):
        return source.objects
    return source.tables


def _run_status(result: SyncResult) -> tuple[str, str | None]:
    failures = [s for s in result.sources if s.status != "succeeded"]
    if not failures:
        return "succeeded", None
    kinds = {s.status for s in failures}
    status = kinds.pop() if len(kinds) == 1 and kinds <= {"budget_stopped", "stopped"} else "failed"
    return status, "; ".join(f"{s.name}: {s.error}" for s in failures)


class _transaction:
    """``with _transaction(con):`` — commit on success, roll back on any exception."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def __enter__(self) -> None:
        self.con.begin()

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        if kind is None:
            self.con.commit()
        else:
            self.con.rollback()
