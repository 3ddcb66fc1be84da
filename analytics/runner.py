"""Build every ``kam`` mart from ``crm.*`` in one transaction.

A run reads the targets file, sets the run's variables and seeds, then builds the models in
dependency order: staging and intermediate models as temporary relations, marts as ``kam``
tables (each commented from ``marts/docs.toml``), and appends the run's scores to
``kam.score_history``.  All of it happens inside one transaction, so a run that fails anywhere
leaves the previous marts exactly as they were.  The run is recorded in ``ops.sync_runs`` (job
``analyze``) whether it succeeds or fails.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib import resources

import duckdb

from analytics import targets as target_file
from analytics.docs import TableDoc, apply_comments, load_docs
from analytics.models import MART_SCHEMA, Model, build_order, discover, relation_name, render
from analytics.params import SEEDS, RunContext, create_seeds, set_variables, variables
from config.errors import KamsyncError, RunFailedError
from config.model import AnalyticsConfig
from sync.runs import new_run_id
from sync.warehouse import kamsync_version

log = logging.getLogger(__name__)

JOB = "analyze"

ProgressCallback = Callable[[int, int, Model, float], None]
"""Called after each model: its position (1-based), how many there are, it, seconds taken."""


@dataclass(frozen=True)
class AnalysisResult:
    """What a successful run built."""

    run_id: str
    scored_at: datetime
    as_of: date
    mart_rows: Mapping[str, int]
    seconds: Mapping[str, float] = field(default_factory=dict)
    cpu_seconds: Mapping[str, float] = field(default_factory=dict)
    """Per model, the process's CPU time while it was built (all DuckDB threads; steadier than
    wall time on a shared machine)."""

    @property
    def rows_written(self) -> int:
        """Rows in every mart the run built (for score_history: the rows it appended)."""
        return sum(self.mart_rows.values())


def run_analysis(
    con: duckdb.DuckDBPyConnection,
    config: AnalyticsConfig,
    *,
    now: datetime | None = None,
    models: list[Model] | None = None,
    docs: Mapping[str, TableDoc] | None = None,
    progress: ProgressCallback | None = None,
) -> AnalysisResult:
    """Rebuild every mart in one transaction and record the run; raise on failure."""
    scored_at = now or datetime.now(UTC)
    run = RunContext(
        new_run_id(JOB, scored_at), scored_at, config.as_of_date(scored_at.astimezone().date())
    )
    _record_start(con, run)
    try:
        targets = target_file.read_targets(config.targets_csv)
        ordered = build_order(discover() if models is None else models, SEEDS)
        result = _build(
            con, config, run, ordered, load_docs() if docs is None else docs, targets, progress
        )
    except KamsyncError as exc:
        _record_end(con, run, "failed", 0, str(exc))
        raise
    except duckdb.Error as exc:
        _record_end(con, run, "failed", 0, str(exc))
        raise RunFailedError(f"analyze failed: {exc}") from exc
    except BaseException as exc:  # interrupted, or a bug: the run is over either way
        _record_end(con, run, "failed", 0, repr(exc))
        raise
    _record_end(con, run, "succeeded", result.rows_written, None)
    return result


def _build(
    con: duckdb.DuckDBPyConnection,
    config: AnalyticsConfig,
    run: RunContext,
    ordered: list[Model],
    docs: Mapping[str, TableDoc],
    targets: list[target_file.Target],
    progress: ProgressCallback | None,
) -> AnalysisResult:
    values = variables(config, run)
    relations = {seed: relation_name(seed, mart=False) for seed in SEEDS}
    mart_rows: dict[str, int] = {}
    seconds: dict[str, float] = {}
    cpu_seconds: dict[str, float] = {}
    checks: dict[str, Callable[[str], None]] = {
        "stg_accounts": lambda rel: target_file.check_entities(con, rel, config.targets_csv),
    }
    con.begin()
    try:
        con.execute(_bootstrap_sql()).fetchall()
        set_variables(con, values)
        create_seeds(con, config)
        target_file.load_targets(con, targets)
        for position, model in enumerate(ordered, start=1):
            relations[model.name] = model.relation
            started, cpu_started = time.perf_counter(), time.process_time()
            _materialize(con, model, render(model, relations, values))
            if model.name in checks:
                checks[model.name](model.relation)
            if model.is_mart:
                apply_comments(con, MART_SCHEMA, model.name, docs.get(model.name))
                mart_rows[model.name] = _rows(con, model, run)
            seconds[model.name] = time.perf_counter() - started
            cpu_seconds[model.name] = time.process_time() - cpu_started
            log.debug("analyze: built %s in %.2fs", model.name, seconds[model.name])
            if progress is not None:
                progress(position, len(ordered), model, seconds[model.name])
        con.commit()
    except BaseException:
        con.rollback()
        raise
    finally:
        _drop_temporaries(con, ordered)
    return AnalysisResult(run.run_id, run.scored_at, run.as_of, mart_rows, seconds, cpu_seconds)


def _bootstrap_sql() -> str:
    return (resources.files("analytics") / "sql" / "bootstrap.sql").read_text(encoding="utf-8")


def _materialize(con: duckdb.DuckDBPyConnection, model: Model, sql: str) -> None:
    try:
        if model.materialized == "append":
            con.execute(f"insert into {model.relation} by name {sql}").fetchall()
        elif model.materialized == "view":
            con.execute(f"create or replace temp view {model.name} as {sql}").fetchall()
        elif model.is_mart:
            con.execute(f"create or replace table {model.relation} as {sql}").fetchall()
        else:
            con.execute(f"create or replace temp table {model.name} as {sql}").fetchall()
    except duckdb.Error as exc:
        raise RunFailedError(f"analyze failed in model {model.layer}/{model.name}: {exc}") from exc


def _rows(con: duckdb.DuckDBPyConnection, model: Model, run: RunContext) -> int:
    if model.materialized == "append":
        found = con.execute(
            f"select count(*) from {model.relation} where run_id = ?", [run.run_id]
        ).fetchall()
    else:
        found = con.execute(f"select count(*) from {model.relation}").fetchall()
    return int(found[0][0])


def _drop_temporaries(con: duckdb.DuckDBPyConnection, ordered: list[Model]) -> None:
    """Free the run's temporary relations (a rolled-back run has none left to drop)."""
    for model in reversed(ordered):
        if model.is_mart:
            continue
        kind = "view" if model.materialized == "view" else "table"
        con.execute(f"drop {kind} if exists {model.relation}").fetchall()
    for seed in SEEDS:
        con.execute(f"drop table if exists {relation_name(seed, mart=False)}").fetchall()


def _record_start(con: duckdb.DuckDBPyConnection, run: RunContext) -> None:
    con.execute(
        "insert into ops.sync_runs (run_id, job, source, started_at, status, kamsync_version) "
        "values (?, ?, null, ?, 'running', ?)",
        [run.run_id, JOB, run.scored_at, kamsync_version()],
    ).fetchall()


def _record_end(
    con: duckdb.DuckDBPyConnection, run: RunContext, status: str, rows: int, error: str | None
) -> None:
    con.execute(
        "update ops.sync_runs set finished_at = ?, status = ?, rows_written = ?, error = ? "
        "where run_id = ?",
        [datetime.now(UTC), status, rows, error, run.run_id],
    ).fetchall()
