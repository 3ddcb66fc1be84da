"""The write-back run: desired state, diff, safety check, push, outcome log, ledger.

For each chosen source, in the warehouse's job lock:

1. the desired records of the source's accounts (:mod:`writeback.desired`), diffed against the
   ledger (:mod:`writeback.ledger`); with nothing changed the source is done without a single
   API call;
2. the CRM's metadata is checked (:mod:`writeback.safety`): anything not kamsync's own refuses
   the source's push (status ``refused``; :meth:`WritebackResult.raise_for_status` raises
   :class:`UnsafeWriteError` naming every problem);
3. a dry run reads the current records back from the CRM and returns a plan
   (:mod:`writeback.plan`); an apply sends the changed records (:mod:`writeback.crm`) and, batch
   by batch, logs every row's outcome and moves the ledger for the confirmed ones.

A CRM error during a push stops that source: what the CRM confirmed stays confirmed, the rest is
logged unprocessed and goes again next run (upserts by external id never duplicate a record).
A source that cannot log in or be described fails alone; the other sources still write back.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from config.errors import ConfigError, CrmError, RunFailedError, UnsafeWriteError, UsageError
from config.model import DynamicsSource, KamsyncConfig, SalesforceSource
from connectors.writes import RowResult
from sync import runs
from sync.warehouse import Warehouse
from writeback.crm import Batch, CrmTarget
from writeback.desired import desired_state
from writeback.ledger import record_outcomes
from writeback.payload import TargetMap, Value, target_map
from writeback.plan import SourcePlan, check_plan, plan_rows, read_plan
from writeback.records import Action, Change, Outcome

log = logging.getLogger(__name__)

SourceConfig = SalesforceSource | DynamicsSource
TargetFactory = Callable[[SourceConfig, TargetMap], CrmTarget]
ProgressCallback = Callable[[str, str, int, int], None]  # source, method, rows done, rows total
RECORD_EVERY = 2000  # outcomes logged (and confirmed rows moved in the ledger) per transaction
CHECKPOINT_THRESHOLD = "1GB"


@dataclass
class SourceReport:
    """What a run did (or would do) for one source."""

    source: str
    kind: str
    target: str
    status: str = "succeeded"
    desired: int = 0
    unchanged: int = 0
    creates: int = 0
    updates: int = 0
    succeeded: int = 0
    failed: int = 0
    unprocessed: int = 0
    api_calls: int = 0
    requests: dict[str, int] = field(default_factory=dict)  # method -> requests (or jobs)
    error: str | None = None
    plan: SourcePlan | None = None


@dataclass
class WritebackResult:
    """What a write-back run did."""

    run_id: str
    dry_run: bool
    sources: list[SourceReport]

    @property
    def ok(self) -> bool:
        """True when every row sent was confirmed and no source was refused or failed."""
        return all(s.status in ("succeeded", "planned") for s in self.sources)

    def raise_for_status(self) -> None:
        """Raise :class:`UnsafeWriteError` for a refused source, :class:`RunFailedError` for
        failed rows or a failed push; return when everything was confirmed."""
        refused = [s.error or s.source for s in self.sources if s.status == "refused"]
        if refused:
            raise UnsafeWriteError("\n".join(refused))
        failed = [f"{s.source}: {s.error}" for s in self.sources if s.status == "failed"]
        if failed:
            raise RunFailedError("write-back did not complete:\n  " + "\n  ".join(failed))

    @property
    def plans(self) -> list[SourcePlan]:
        """The plans of a dry run."""
        return [s.plan for s in self.sources if s.plan is not None]


@dataclass
class _Context:
    config: KamsyncConfig
    con: duckdb.DuckDBPyConnection
    run_id: str
    dry_run: bool
    open_target: TargetFactory
    progress: ProgressCallback
    should_stop: Callable[[], bool]


def default_target_factory(
    config: KamsyncConfig,
    *,
    env: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> TargetFactory:
    """Targets on the real connectors of each source."""

    def open_target(source: SourceConfig, target: TargetMap) -> CrmTarget:
        mode = config.writeback.target(source.name).mode
        if isinstance(source, SalesforceSource):
            from connectors.salesforce import SalesforceConnector
            from writeback.crm import SalesforceTarget

            connector = SalesforceConnector(source, env=env, sleep=sleep)
            return SalesforceTarget(connector, config.writeback, mode)
        from writeback.dataverse import open_dataverse_target

        return open_dataverse_target(source, config.writeback, mode, env=env, sleep=sleep)

    return open_target


def chosen_sources(config: KamsyncConfig, source: str | None) -> list[SourceConfig]:
    """The sources to write back: the one asked for, or every enabled one."""
    if source is not None:
        try:
            found = config.source(source)
        except KeyError:
            names = ", ".join(s.name for s in config.sources) or "none"
            raise UsageError(f"no source named {source!r} (configured: {names})") from None
        if not config.writeback.enabled or not config.writeback.target(source).enabled:
            raise UsageError(f"write-back is disabled for {source} in the configuration")
        return [found]
    if not config.writeback.enabled:
        return []
    return [s for s in config.sources if config.writeback.target(s.name).enabled]


def target_maps(
    config: KamsyncConfig, sources: Sequence[SourceConfig], config_file: str
) -> dict[str, TargetMap]:
    """Each source's target, every configuration problem reported at once."""
    maps: dict[str, TargetMap] = {}
    problems = []
    for source in sources:
        try:
            maps[source.name] = target_map(
                source.kind, source.name, config.writeback.target(source.name), config_file
            )
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)
    return maps


def crm_url(source: SourceConfig) -> str:
    """The org a source points at."""
    return source.instance_url if isinstance(source, SalesforceSource) else source.url


def run_writeback(
    config: KamsyncConfig,
    *,
    source: str | None = None,
    dry_run: bool = False,
    plan_file: Path | None = None,
    config_file: str = "kamsync.toml",
    open_target: TargetFactory | None = None,
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> WritebackResult:
    """Write back (or plan) the chosen sources; see the module docstring.

    ``should_stop`` is asked after each request: when true, the push ends there and the
    records not yet sent are logged unprocessed (they go next run).
    """
    sources = chosen_sources(config, source)
    maps = target_maps(config, sources, config_file)
    plans = _plans_for(plan_file, sources, source)
    if plans is not None:
        sources = [s for s in sources if s.name in plans]
    factory = open_target or default_target_factory(config)
    with Warehouse(config.warehouse).session(job="writeback") as con:
        # the outcome log grows in many small transactions: checkpoint once, at the end
        con.execute(f"set checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'").fetchall()
        run_id = runs.new_run_id("writeback")
        if not dry_run:
            runs.interrupt_stale(con)
            runs.start_run(con, run_id, "writeback", source)
        context = _Context(
            config, con, run_id, dry_run, factory, progress or _no_progress, should_stop
        )
        reports: list[SourceReport] = []
        try:
            for chosen in sources:
                if should_stop():
                    break
                plan = plans.get(chosen.name) if plans is not None else None
                reports.append(_run_source(context, chosen, maps[chosen.name], plan))
        except BaseException as exc:
            if not dry_run:
                _finish(con, run_id, reports, error=f"{type(exc).__name__}: {exc}")
            raise
        if not dry_run:
            _finish(con, run_id, reports)
        return WritebackResult(run_id, dry_run, reports)


def _no_progress(source: str, method: str, done: int, total: int) -> None:
    """Report nothing."""


def _plans_for(
    plan_file: Path | None, sources: Sequence[SourceConfig], asked: str | None
) -> dict[str, SourcePlan] | None:
    if plan_file is None:
        return None
    plans = {p.source: p for p in read_plan(plan_file)}
    names = {s.name for s in sources}
    unknown = sorted(set(plans) - names)
    if asked is not None and asked not in plans:
        raise UsageError(f"the plan {plan_file} has nothing for {asked}")
    if asked is None and unknown:
        raise UsageError(
            f"the plan {plan_file} is for {', '.join(unknown)}, which this configuration does "
            "not write back to"
        )
    return {name: plan for name, plan in plans.items() if name in names}


def _finish(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    reports: Sequence[SourceReport],
    error: str | None = None,
) -> None:
    problems = [f"{r.source}: {r.error}" for r in reports if r.error]
    message = "; ".join([*problems, *([error] if error else [])]) or None
    statuses = {r.status for r in reports}
    if message is None and statuses <= {"succeeded"}:
        status = "succeeded"
    elif message is None and statuses <= {"succeeded", "stopped"}:
        status = "stopped"  # as a sync stopped on request: what was confirmed is kept
    else:
        status = "failed"
    runs.finish_run(
        con,
        run_id,
        status=status,
        api_calls=sum(r.api_calls for r in reports),
        rows_written=sum(r.succeeded for r in reports),
        error=message,
    )


# --------------------------------------------------------------------------- one source


def _mapping_digest(target: TargetMap) -> str:
    names = "\x1f".join([target.object, *(f.name for f in target.fields)])
    return hashlib.sha256(names.encode()).hexdigest()


def _run_source(
    context: _Context, source: SourceConfig, target: TargetMap, plan: SourcePlan | None
) -> SourceReport:
    con = context.con
    desired = desired_state(con, source.name, target)
    changes = desired.changes
    report = SourceReport(
        source.name,
        source.kind,
        target.object,
        status="planned" if context.dry_run else "succeeded",
        desired=desired.total,
        unchanged=desired.total - len(changes),
        creates=sum(1 for c in changes if c.action == "create"),
        updates=sum(1 for c in changes if c.action == "update"),
    )
    state = {
        "scores": desired.scores_digest,
        "ledger": desired.ledger_digest,
        "mapping": _mapping_digest(target),
    }
    if plan is not None:
        check_plan(
            plan,
            kind=source.kind,
            crm=crm_url(source),
            target=target,
            state=state,
            changes=changes,
        )
    if not changes:
        if context.dry_run:
            report.plan = _plan(source, target, state, report, [], {})
        log.info(
            "%s: all %d score records are up to date; nothing to send", source.name, desired.total
        )
        return report
    crm = context.open_target(source, target)
    try:
        return _with_crm(context, crm, source, target, changes, state, plan, report)
    except CrmError as exc:  # login, describe or read-back failed: nothing was sent
        report.status, report.error = "failed", exc.reason_at(source.name)
        log.error("%s", exc)
        return report
    finally:
        report.api_calls = crm.calls
        if not context.dry_run:
            runs.record_usage(
                con,
                context.run_id,
                source.name,
                crm.usage(),
                getattr(source, "api_budget_percent", None),
            )
        crm.close()


def _with_crm(
    context: _Context,
    crm: CrmTarget,
    source: SourceConfig,
    target: TargetMap,
    changes: Sequence[Change],
    state: Mapping[str, str],
    plan: SourcePlan | None,
    report: SourceReport,
) -> SourceReport:
    from writeback.safety import check_target

    try:
        check_target(source.name, target, crm.describe(target))
    except UnsafeWriteError as exc:
        report.status, report.error = "refused", str(exc)
        log.error("%s", exc)
        return report
    if context.dry_run:
        before = crm.read(target, [c.record.external_id for c in changes])
        report.plan = _plan(source, target, state, report, changes, before)
        report.creates = sum(1 for r in report.plan.rows if r.action == "create")
        report.updates = len(report.plan.rows) - report.creates
        return report
    _push(context, crm, source, target, changes, plan, report)
    return report


def _plan(
    source: SourceConfig,
    target: TargetMap,
    state: Mapping[str, str],
    report: SourceReport,
    changes: Sequence[Change],
    before: Mapping[str, Mapping[str, Value]],
) -> SourcePlan:
    rows = plan_rows(changes, target, before)
    creates = sum(1 for r in rows if r.action == "create")
    return SourcePlan(
        source=source.name,
        kind=source.kind,
        crm=crm_url(source),
        object=target.object,
        state=dict(state),
        counts={
            "desired": report.desired,
            "unchanged": report.unchanged,
            "create": creates,
            "update": len(rows) - creates,
        },
        rows=rows,
    )


class _Recorder:
    """Logs outcomes and moves the ledger, a few thousand rows per transaction.

    Outcomes are kept until ``RECORD_EVERY`` rows are waiting (and always at the end, after an
    error or a stop).  A process killed in between loses only the record of writes the CRM made:
    those rows are sent again next run, as upserts by external id, so nothing is duplicated.
    """

    def __init__(self, context: _Context, source: SourceConfig, target: TargetMap) -> None:
        self.context, self.source, self.target = context, source, target
        self.waiting: list[Outcome] = []

    def add(self, outcomes: Sequence[Outcome]) -> None:
        self.waiting.extend(outcomes)
        if len(self.waiting) >= RECORD_EVERY:
            self.flush()

    def flush(self) -> None:
        if self.waiting:
            _record(self.context, self.source, self.target, self.waiting)
            self.waiting = []


def _push(
    context: _Context,
    crm: CrmTarget,
    source: SourceConfig,
    target: TargetMap,
    changes: Sequence[Change],
    plan: SourcePlan | None,
    report: SourceReport,
) -> None:
    done: set[str] = set()
    recorder = _Recorder(context, source, target)
    try:
        for batch in crm.push(target, changes):
            outcomes = _outcomes(batch, plan)
            recorder.add(outcomes)
            _count(report, batch.method, outcomes)
            done.update(o.change.record.external_id for o in outcomes)
            context.progress(source.name, batch.method, len(done), len(changes))
            if context.should_stop() and len(done) < len(changes):
                report.status = "stopped"
                recorder.flush()
                _leave(context, source, target, changes, done, plan, report, None)
                return
    except CrmError as exc:
        report.status, report.error = "failed", f"the push stopped: {exc.reason_at(source.name)}"
        recorder.flush()
        _leave(context, source, target, changes, done, plan, report, exc)
        log.warning("%s: %s", source.name, report.error)
        return
    finally:
        recorder.flush()
    if report.failed or report.unprocessed:
        report.status = "failed"
        report.error = (
            f"{report.failed} rows failed and {report.unprocessed} were not processed "
            "(see ops.writeback_log); they are sent again next run"
        )


def _record(
    context: _Context, source: SourceConfig, target: TargetMap, outcomes: Sequence[Outcome]
) -> None:
    record_outcomes(
        context.con,
        run_id=context.run_id,
        source=source.name,
        target_object=target.object,
        outcomes=outcomes,
    )


def _leave(
    context: _Context,
    source: SourceConfig,
    target: TargetMap,
    changes: Sequence[Change],
    done: set[str],
    plan: SourcePlan | None,
    report: SourceReport,
    error: CrmError | None,
) -> None:
    """Log the records the push did not get to as unprocessed: they go next run."""
    why = (
        f"not confirmed, sent again next run: {error}"
        if error
        else ("not sent: the run was asked to stop; sent next run")
    )
    code = error.code if error else None
    rest = [
        _outcome(
            c, RowResult(c.record.external_id, "unprocessed", None, None, code, why), plan, None
        )
        for c in changes
        if c.record.external_id not in done
    ]
    _record(context, source, target, rest)
    report.unprocessed += len(rest)


def _outcomes(batch: Batch, plan: SourcePlan | None) -> list[Outcome]:
    by_ext = {r.external_id: r for r in batch.results}
    outcomes = []
    for change in batch.changes:
        ext = change.record.external_id
        result = by_ext.get(ext) or RowResult(
            ext, "unprocessed", error_message="the CRM's answer does not mention this record"
        )
        outcomes.append(_outcome(change, result, plan, batch.method))
    return outcomes


def _outcome(
    change: Change, result: RowResult, plan: SourcePlan | None, method: str | None
) -> Outcome:
    row = plan.row(change.record.external_id) if plan is not None else None
    action: Action
    if result.created is not None:
        action = "create" if result.created else "update"
    else:
        action = row.action if row is not None else change.action
    before = row.before if row is not None else change.previous
    return Outcome(change, result, action, before, method)


def _count(report: SourceReport, method: str, outcomes: Sequence[Outcome]) -> None:
    report.requests[method] = report.requests.get(method, 0) + 1
    for outcome in outcomes:
        status = outcome.result.status
        if status == "success":
            report.succeeded += 1
        elif status == "failed":
            report.failed += 1
        else:
            report.unprocessed += 1
