"""``kamsync schedule``: jobs fire on time, never overlap, and a manual run meanwhile waits for
the lock a bounded time, then exits naming the holder (an injected clock drives APScheduler)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path

import apscheduler.executors.base
import apscheduler.schedulers.base
import pytest
from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MAX_INSTANCES, JobEvent
from apscheduler.executors.debug import DebugExecutor
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.base import BaseScheduler

from config.loader import parse_config
from config.model import KamsyncConfig
from sync.cli import main
from sync.scheduler import build_scheduler
from sync.warehouse import Warehouse

START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)


class Clock:
    """The time APScheduler sees."""

    def __init__(self) -> None:
        self.now = START

    def at(self, minutes: int) -> None:
        self.now = START + timedelta(minutes=minutes)


class SteppedScheduler(BaseScheduler):  # type: ignore[misc]  # APScheduler 3 ships no types
    """A scheduler with no loop of its own: the test moves the clock and processes due jobs."""

    def wakeup(self) -> None:
        pass

    def shutdown(self, wait: bool = True) -> None:
        super().shutdown(wait)

    def step(self) -> None:
        self._process_jobs()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    current = Clock()

    class FrozenDateTime(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
            return current.now.astimezone(tz) if tz else current.now.replace(tzinfo=None)

    monkeypatch.setattr(apscheduler.schedulers.base, "datetime", FrozenDateTime)
    monkeypatch.setattr(apscheduler.executors.base, "datetime", FrozenDateTime)
    return current


def _config(tmp_path: Path) -> tuple[KamsyncConfig, Path]:
    text = """
[warehouse]
path = "kamsync.duckdb"
lock_wait_seconds = 0
[schedule]
sync = "*/30 * * * *"
analyze = "5 * * * *"
timezone = "UTC"
misfire_grace_seconds = 60
"""
    path = tmp_path / "kamsync.toml"
    path.write_text(text, encoding="utf-8")
    return parse_config(text, str(path), base_dir=tmp_path), path


def test_jobs_fire_on_their_cron_times(clock: Clock, tmp_path: Path) -> None:
    config, _ = _config(tmp_path)
    fired: list[tuple[str, datetime]] = []

    def job(name: str) -> Callable[[KamsyncConfig, Callable[[], bool]], str]:
        def run(_config: KamsyncConfig, _stop: Callable[[], bool]) -> str:
            fired.append((name, clock.now))
            return "ok"

        return run

    scheduler = SteppedScheduler(timezone=UTC, executors={"default": DebugExecutor()})
    build_scheduler(
        config, {"sync": job("sync"), "analyze": job("analyze")}, lambda: False, scheduler=scheduler
    )
    scheduler.start()
    for minute in range(0, 121):
        clock.at(minute)
        scheduler.step()
    scheduler.shutdown()

    def at(hour: int, minute: int) -> datetime:
        return START.replace(hour=hour, minute=minute)

    assert [t for n, t in fired if n == "sync"] == [
        at(0, 0),
        at(0, 30),
        at(1, 0),
        at(1, 30),
        at(2, 0),
    ]
    assert [t for n, t in fired if n == "analyze"] == [at(0, 5), at(1, 5)]


def test_jobs_never_overlap_and_a_manual_run_exits_naming_the_holder(
    clock: Clock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config, path = _config(tmp_path)
    warehouse = Warehouse(config.warehouse)
    sync_started, release = threading.Event(), threading.Event()
    starts: list[str] = []

    def sync(_config: KamsyncConfig, _stop: Callable[[], bool]) -> str:
        with warehouse.locked("sync"):
            starts.append("sync")
            sync_started.set()
            release.wait(timeout=30)
        return "synced"

    def analyze(_config: KamsyncConfig, _stop: Callable[[], bool]) -> str:
        with warehouse.locked("analyze"):
            starts.append("analyze")
        return "analyzed"

    events: dict[str, threading.Event] = {
        "analyze": threading.Event(),
        "skipped": threading.Event(),
    }

    def listen(event: JobEvent) -> None:
        if event.code == EVENT_JOB_MAX_INSTANCES:
            events["skipped"].set()
        elif event.job_id == "analyze":
            events["analyze"].set()

    caplog.set_level(logging.INFO, logger="kamsync")
    scheduler = SteppedScheduler(timezone=UTC, executors={"default": ThreadPoolExecutor(4)})
    built = build_scheduler(
        config, {"sync": sync, "analyze": analyze}, lambda: False, scheduler=scheduler
    )
    built.add_listener(listen, EVENT_JOB_EXECUTED | EVENT_JOB_MAX_INSTANCES)
    scheduler.start()
    assert {j.id: (j.max_instances, j.coalesce) for j in scheduler.get_jobs()} == {
        "sync": (1, True),
        "analyze": (1, True),
    }

    clock.at(0)
    scheduler.step()
    assert sync_started.wait(timeout=30)
    clock.at(5)
    scheduler.step()  # analyze is due while sync holds the warehouse
    assert events["analyze"].wait(timeout=30)
    clock.at(30)
    scheduler.step()  # sync is due again while its first run still works
    assert events["skipped"].wait(timeout=30)
    manual = main(["--config", str(path), "sync"])  # a manual run meanwhile
    release.set()
    scheduler.shutdown(wait=True)

    assert starts == ["sync"]  # analyze and the second sync never ran beside the first
    assert "job analyze failed" in caplog.text
    assert "is busy: kamsync sync (pid" in caplog.text
    assert manual == 1
    assert "is busy: kamsync sync (pid" in capsys.readouterr().err


def test_schedule_without_jobs_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "kamsync.toml"
    path.write_text('[warehouse]\npath = "kamsync.duckdb"\n', encoding="utf-8")

    assert main(["--config", str(path), "schedule"]) == 2
    assert f"{path}: schedule: no job is scheduled" in capsys.readouterr().err
