"""The jobs ``kamsync run`` and ``kamsync schedule`` run: sync, analyze, write-back.

A job is ``job(config, should_stop) -> summary``: it does its work, returns one line of counts
for the log, and raises a :class:`~config.errors.KamsyncError` when it fails.  ``should_stop``
turns true when the process was asked to stop; a job that works in pages (sync) stops after the
page it is landing, saving its state.

``sync`` is built in.  Packages layered above ``sync`` contribute theirs without ``sync``
importing them, through the ``kamsync.jobs`` entry-point group of ``pyproject.toml``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import cast

from config.errors import ConfigError, KamsyncError, RunFailedError
from config.model import KamsyncConfig
from sync.engine import SyncEngine, SyncResult
from sync.plugins import load_plugins
from sync.progress import LogProgress
from sync.warehouse import Warehouse

log = logging.getLogger("kamsync.jobs")

ENTRY_POINT_GROUP = "kamsync.jobs"
PIPELINE = ("sync", "analyze", "writeback")
SYNC_MEMORY_LIMIT = "256MB"
"""Sync works a page at a time: a bounded buffer pool keeps its memory flat whatever the org's
size and costs it no speed ([warehouse] memory_limit overrides it)."""

SYNC_CHECKPOINT_THRESHOLD = "1GB"
"""Sync commits every page with its checkpoint; DuckDB's default 16 MB threshold would then
checkpoint every few pages, rewriting the staging tables' last row groups again and again.
With 1 GB of write-ahead log allowed, pages stay durable (each commit is in the log) and the
file is checkpointed far less often, at the latest when the job ends (a full Dataverse sync of a
200,000-account world: 45 s down to 36 s, same peak memory)."""

Job = Callable[[KamsyncConfig, Callable[[], bool]], str]


def run_sync(
    config: KamsyncConfig,
    should_stop: Callable[[], bool],
    *,
    source: str | None = None,
    full: bool = False,
    progress: object | None = None,
) -> SyncResult:
    """Sync into the warehouse, holding the job lock; publish the analysts' copy after."""
    warehouse = Warehouse(config.warehouse)
    with warehouse.session(
        job="sync", memory_limit=SYNC_MEMORY_LIMIT, checkpoint_threshold=SYNC_CHECKPOINT_THRESHOLD
    ) as con:
        engine = SyncEngine(
            config,
            con,
            progress=progress or LogProgress(),  # type: ignore[arg-type]
            should_stop=should_stop,
        )
        return engine.run(source=source, full=full)


def sync_job(
    config: KamsyncConfig, should_stop: Callable[[], bool], *, progress: object | None = None
) -> str:
    """The sync job: every source, incremental (``progress``: log lines unless given)."""
    result = run_sync(config, should_stop, progress=progress)
    failed = [s for s in result.sources if s.status not in ("succeeded", "stopped")]
    if failed:
        raise RunFailedError("; ".join(f"{s.name}: {s.error}" for s in failed))
    stopped = (
        " (stopped on request, state saved)"
        if any(s.status == "stopped" for s in result.sources)
        else ""
    )
    return f"{result.rows:,} records from {len(result.sources)} source(s), {result.api_calls:,} API calls{stopped}"


def available() -> dict[str, Job]:
    """Every job this installation can run, by name."""
    plugins = load_plugins(ENTRY_POINT_GROUP, "job")
    return {"sync": sync_job, **{name: cast(Job, job) for name, job in plugins.items()}}


def run_job(name: str, job: Job, config: KamsyncConfig, should_stop: Callable[[], bool]) -> str:
    """Run one job with a log line at its start and end (with counts, or the failure)."""
    log.info("job %s started", name)
    started = time.monotonic()
    try:
        summary = job(config, should_stop)
    except Exception as exc:
        log.error("job %s failed after %.1fs: %s", name, time.monotonic() - started, exc)
        raise
    log.info("job %s finished in %.1fs: %s", name, time.monotonic() - started, summary)
    return summary


def run_pipeline(
    config: KamsyncConfig,
    should_stop: Callable[[], bool],
    report: Callable[[str, str], None] = lambda _name, _summary: None,
    overrides: Mapping[str, Job] | None = None,
) -> list[tuple[str, str]]:
    """Sync, analyze and write back in order; a failed step stops the rest and says which.

    ``overrides`` replaces installed jobs by name (``kamsync demo`` syncs with a live table).
    """
    jobs = {**available(), **(overrides or {})}
    missing = [name for name in PIPELINE if name not in jobs]
    if missing:
        raise RunFailedError(
            f"kamsync run needs the {', '.join(missing)} job(s), which are not installed"
        )
    done: list[tuple[str, str]] = []
    for position, name in enumerate(PIPELINE):
        if should_stop():
            break
        try:
            summary = run_job(name, jobs[name], config, should_stop)
        except ConfigError:
            raise  # names the file and key; exit 2
        except KamsyncError as exc:
            rest = PIPELINE[position + 1 :]
            skipped = f"; not run: {', '.join(rest)}" if rest else ""
            raise RunFailedError(f"{name} failed: {exc}{skipped}") from exc
        done.append((name, summary))
        report(name, summary)
    return done


def pipeline_job(config: KamsyncConfig, should_stop: Callable[[], bool]) -> str:
    """The ``run`` job of the scheduler: the whole pipeline."""
    return "; ".join(f"{name}: {summary}" for name, summary in run_pipeline(config, should_stop))
