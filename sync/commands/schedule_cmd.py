"""``kamsync schedule``: a foreground daemon running the jobs of ``[schedule]``."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING, Any

from sync import jobs
from sync.scheduler import build_scheduler
from sync.signals import GracefulStop

if TYPE_CHECKING:
    from sync.cli import App

log = logging.getLogger("kamsync.schedule")


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``schedule``."""
    parser = commands.add_parser(
        "schedule", help="run the jobs of [schedule] on their cron expressions (foreground)"
    )
    parser.set_defaults(handler=schedule)


def schedule(app: App) -> int:
    """Run until SIGTERM/SIGINT; the job running then finishes its page and saves its state."""
    config = app.config
    logging.getLogger("kamsync").setLevel(min(logging.INFO, logging.getLogger().level))
    stop = GracefulStop(on_request=_leave_loop)
    scheduler = build_scheduler(
        config, jobs.available(), lambda: stop.requested, file=str(app.config_path)
    )
    with stop:
        try:
            for job in scheduler.get_jobs():
                log.info("scheduled %s: %s (%s)", job.id, job.trigger, config.schedule.timezone)
            scheduler.start()
        except SystemExit:
            log.info("stopping: waiting for the running job to save its state")
        finally:
            if scheduler.running:
                scheduler.shutdown(wait=True)
    log.info("schedule stopped")
    return 0


def _leave_loop() -> None:
    raise SystemExit(0)
