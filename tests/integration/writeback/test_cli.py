"""``kamsync writeback`` and ``kamsync metadata`` as a user runs them (in process)."""

from __future__ import annotations

import json
import logging
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from config import secrets
from sync.cli import main
from tests.integration.writeback.conftest import DV_TABLE, SF_OBJECT, Bench, write_config


@pytest.fixture
def cli(bench: Bench, monkeypatch: pytest.MonkeyPatch) -> Bench:
    for name, value in bench.env.items():
        monkeypatch.setenv(name, value)
    write_config(bench.directory, bench.emulator)
    monkeypatch.chdir(bench.directory)
    return bench


def _kamsync(bench: Bench, *args: str) -> int:
    return main(["--config", str(bench.config_path), *args])


def test_dry_run_then_apply_the_plan_then_nothing_left(
    cli: Bench, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    plan = cli.directory / "plans" / "first.json"
    caplog.set_level(logging.DEBUG)

    assert _kamsync(cli, "writeback", "--dry-run", "--plan", str(plan)) == 0
    dry = capsys.readouterr()
    assert cli.writes() == 0
    document = json.loads(plan.read_text())
    counts = {s["source"]: s["counts"] for s in document["sources"]}
    assert counts["sf"]["create"] == len(
        cli.sql("select 1 from kam.account_scores where source = 'sf'")
    )
    assert counts["dv"]["create"] == len(
        cli.sql("select 1 from kam.account_scores where source = 'dv'")
    )
    assert "nothing was sent" in dry.out

    assert _kamsync(cli, "writeback", "--plan", str(plan)) == 0
    applied = capsys.readouterr()
    assert len(cli.sf_records()) == counts["sf"]["create"]
    assert len(cli.dv_records()) == counts["dv"]["create"]
    assert "succeeded" in applied.out

    assert _kamsync(cli, "writeback") == 0
    again = capsys.readouterr()
    assert cli.writes() == counts["sf"]["create"] + counts["dv"]["create"]
    assert "writeback:" not in again.err  # nothing was sent, so no progress line

    everything = (
        dry.out
        + dry.err
        + applied.out
        + applied.err
        + again.out
        + again.err
        + caplog.text
        + plan.read_text()
    )
    stored = cli.engine.read_bytes() + (cli.directory / "kamsync.duckdb").read_bytes()
    known = [s for s in secrets.known() if s in {*cli.env.values()} or s.count(".") >= 2]
    assert known, "the emulator's secrets and tokens were registered"
    for secret in secrets.known():
        assert secret not in everything
        assert secret.encode() not in stored


def test_a_plan_made_before_another_run_is_refused_with_exit_2(
    cli: Bench, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = cli.directory / "plan.json"
    assert _kamsync(cli, "writeback", "--source", "sf", "--dry-run", "--plan", str(plan)) == 0
    assert _kamsync(cli, "writeback", "--source", "sf") == 0
    capsys.readouterr()

    assert _kamsync(cli, "writeback", "--source", "sf", "--plan", str(plan)) == 2
    assert "before the last write-back to sf" in capsys.readouterr().err
    assert _kamsync(cli, "writeback", "--plan", str(cli.directory / "missing.json")) == 2
    assert _kamsync(cli, "writeback", "--source", "nosuch") == 2


def test_rows_the_crm_refused_make_the_run_fail_and_say_so(
    cli: Bench, capsys: pytest.CaptureFixture[str]
) -> None:
    key = sorted(cli.sql("select account_key from kam.account_scores where source = 'sf'"))[0][0]
    cli.emulator.salesforce.writer.fail_validation([key], "Blocked by a validation rule")

    assert _kamsync(cli, "writeback", "--source", "sf") == 1

    err = capsys.readouterr().err
    assert "1 rows failed and 0 were not processed" in err
    status = cli.sql(
        "select status, error from ops.sync_runs where job = 'writeback' order by started_at desc limit 1"
    )
    assert status[0][0] == "failed"
    assert "1 rows failed" in status[0][1]


def test_a_missing_score_object_refuses_with_exit_1(
    cli: Bench, capsys: pytest.CaptureFixture[str]
) -> None:
    del cli.emulator.world.dynamics.tables[DV_TABLE]

    assert _kamsync(cli, "writeback", "--source", "dv") == 1

    assert "refusing to write kam_accountscore; nothing was sent" in capsys.readouterr().err
    assert cli.writes() == 0


def test_metadata_commands(cli: Bench, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "dx"
    assert main(["metadata", "salesforce", "--out", str(out)]) == 0
    assert (
        out / "force-app/main/default/objects" / SF_OBJECT / f"{SF_OBJECT}.object-meta.xml"
    ).is_file()
    assert "sf project deploy start" in capsys.readouterr().out

    assert main(["metadata", "dynamics"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed[0]["what"] == "table"
    assert cli.writes() == 0

    assert _kamsync(cli, "metadata", "dynamics", "--apply") == 0
    assert "0 created" in capsys.readouterr().out  # the org has the table already


def test_the_writeback_job_is_declared_for_the_scheduler() -> None:
    jobs = {ep.name: ep for ep in entry_points(group="kamsync.jobs")}

    assert callable(jobs["writeback"].load())


def test_the_scheduled_job_writes_back_and_a_stop_request_ends_after_the_request_in_flight(
    cli: Bench,
) -> None:
    from writeback.cli_cmd import writeback_job

    cli.extra = "[writeback]\ncollections_size = 50\n[writeback.sources.dv]\nenabled = false\n"
    asked = iter([False, True])
    stopped = cli.run(should_stop=lambda: next(asked, True))

    (report,) = stopped.sources
    assert (report.status, report.succeeded) == ("stopped", 50)
    log = cli.log(stopped.run_id)
    waiting = [k for k, v in log.items() if v["status"] == "unprocessed"]
    assert len(waiting) == report.desired - 50
    assert all("asked to stop" in log[k]["error_message"] for k in waiting)
    stopped.raise_for_status()  # a stop is not a failure
    run = cli.sql("select status from ops.sync_runs where run_id = ?", [stopped.run_id])
    assert run == [("stopped",)]

    summary = writeback_job(cli.config, lambda: False)

    assert summary.startswith(f"{report.desired - 50:,} score records written, 50 unchanged")
    assert len(cli.sf_records()) == report.desired
