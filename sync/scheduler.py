"""``kamsync schedule``: the jobs of ``[schedule]`` on their cron expressions.

APScheduler 3.x runs them.  Each job has ``max_instances=1`` (a job still running when it is
due again is skipped, not doubled), ``coalesce`` (missed runs collapse into one) and the
configured misfire grace time.  Different jobs, and a manual command started meanwhile, never
work on the warehouse at once: each takes the warehouse job lock, waits up to ``[warehouse]
lock_wait_seconds`` for it, and otherwise gives up with a message naming the holder.  Every job
logs one line when it starts and one when it ends, with its counts or its failure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from zoneinfo import ZoneInfo

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from config.errors import ConfigError, ConfigProblem, KamsyncError
from config.model import KamsyncConfig
from sync.jobs import Job, pipeline_job, run_job

log = logging.getLogger("kamsync.schedule")


def scheduled_job(
    name: str, job: Job, config: KamsyncConfig, should_stop: Callable[[], bool]
) -> Callable[[], None]:
    """What the scheduler calls: run the job; a failure is logged, and the schedule goes on."""

    def fire() -> None:
        if should_stop():
            return
        try:
            run_job(name, job, config, should_stop)
        except KamsyncError:
            pass  # run_job logged it; the next run will try again
        except Exception:
            log.exception("job %s failed unexpectedly", name)

    return fire


def build_scheduler(
    config: KamsyncConfig,
    jobs: Mapping[str, Job],
    should_stop: Callable[[], bool],
    *,
    file: str = "kamsync.toml",
    scheduler: BaseScheduler | None = None,
) -> BaseScheduler:
    """A scheduler holding every job of ``[schedule]`` (not started)."""
    wanted = config.schedule.jobs()
    if not wanted:
        raise ConfigError(
            [ConfigProblem(file, "schedule", 'no job is scheduled; add e.g. sync = "*/30 * * * *"')]
        )
    zone = ZoneInfo(config.schedule.timezone)
    chosen = scheduler or BlockingScheduler(timezone=zone)
    for name, cron in wanted.items():
        job = pipeline_job if name == "run" else jobs.get(name)
        if job is None:
            raise ConfigError(
                [ConfigProblem(file, f"schedule.{name}", f"the {name} job is not installed")]
            )
        chosen.add_job(
            scheduled_job(name, job, config, should_stop),
            CronTrigger.from_crontab(cron, timezone=zone),
            id=name,
            name=name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=config.schedule.misfire_grace_seconds,
            replace_existing=True,
        )
    return chosen
