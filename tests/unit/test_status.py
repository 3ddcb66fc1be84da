"""``kamsync status`` reports runs, object state, API use and failures from the published file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from config.errors import ApiBudgetExceededError, MalformedResponseError
from config.model import KamsyncConfig
from sync.cli import main
from tests.unit.test_engine import ScriptedConnector, _pages, _row, _sync


def test_status_json_after_a_good_and_a_budget_stopped_run(
    config: KamsyncConfig,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _sync(config, ScriptedConnector([_pages([[_row(1), _row(2)], [_row(3)]])]))
    stop = ApiBudgetExceededError(
        "stopped before passing the API budget", used=80, limit=100, source="sf"
    )
    _sync(
        config,
        ScriptedConnector(
            [_pages([[_row(4)], [_row(5)]], mode="incremental")], fail_after=1, error=stop
        ),
    )
    path = tmp_path / "kamsync.toml"
    path.write_text(
        '[warehouse]\npath = "kamsync.duckdb"\n[[sources]]\nname = "sf"\nkind = "salesforce"\n'
        'instance_url = "https://sf.example.test"\nclient_id_env = "SF_CLIENT_ID"\n'
        'client_secret_env = "SF_CLIENT_SECRET"\n',
        encoding="utf-8",
    )

    assert main(["--config", str(path), "status", "--json"]) == 0

    report = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in report["runs"]] == ["budget_stopped", "succeeded"]
    [account] = report["objects"]
    assert account["rows"] == 3 and account["deleted_rows"] == 0
    assert account["cursor"] == "up to 2026-01-02T00:00:00+00:00"
    assert account["in_progress"] == "incremental in progress, 1 pages staged"
    assert report["failures"][0]["status"] == "budget_stopped"
    assert "stopped before passing the API budget" in report["failures"][0]["error"]


def test_status_without_a_warehouse_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "kamsync.toml"
    path.write_text('[warehouse]\npath = "kamsync.duckdb"\n', encoding="utf-8")

    assert main(["--config", str(path), "status"]) == 1
    assert "run `kamsync sync` (or `kamsync demo`) first" in capsys.readouterr().err


def test_commands_that_reach_no_crm_need_no_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("KAMSYNC_TEST_NO_ID", "KAMSYNC_TEST_NO_SECRET"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "kamsync.toml"
    path.write_text(
        '[warehouse]\npath = "kamsync.duckdb"\n[[sources]]\nname = "sf"\nkind = "salesforce"\n'
        'instance_url = "https://sf.example.test"\nclient_id_env = "KAMSYNC_TEST_NO_ID"\n'
        'client_secret_env = "KAMSYNC_TEST_NO_SECRET"\n',
        encoding="utf-8",
    )

    # a monitoring box without the org's secrets can still run the analysis and read status
    assert main(["--config", str(path), "analyze"]) == 0
    capsys.readouterr()
    assert main(["--config", str(path), "status", "--json"]) == 0
    assert [r["job"] for r in json.loads(capsys.readouterr().out)["runs"]] == ["analyze"]
    # a command that reaches the CRM still names each missing variable before any call
    assert main(["--config", str(path), "sync"]) == 2
    err = capsys.readouterr().err
    assert "client_id_env: environment variable KAMSYNC_TEST_NO_ID is not set" in err
    assert "client_secret_env: environment variable KAMSYNC_TEST_NO_SECRET is not set" in err


def test_status_redirected_to_a_file_shows_whole_run_ids(
    config: KamsyncConfig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    result = _sync(config, ScriptedConnector([_pages([[_row(1)]])]))
    path = _warehouse_only(tmp_path, config)

    assert main(["--config", str(path), "status"]) == 0

    # captured output is not a terminal: rich would cut the table to 80 columns
    out = capsys.readouterr().out
    assert result.run_id in out
    assert "…" not in out


def test_a_long_failure_is_shown_whole(
    config: KamsyncConfig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("COLUMNS", "80")  # a narrow terminal: the error wraps in its cell
    cause = "the certificate authority of the corporate proxy is not in ca_bundle " * 3
    broken = ScriptedConnector(
        [_pages([[_row(1)]])], fail_after=0, error=MalformedResponseError(cause, source="sf")
    )
    _sync(config, broken)
    path = _warehouse_only(tmp_path, config)

    assert main(["--config", str(path), "status"]) == 0

    out = capsys.readouterr().out
    failures = out[out.index("Failures") :]
    cells = " ".join(
        line.split("│")[-2].strip() for line in failures.splitlines() if line.count("│") > 2
    )
    assert " ".join(cells.split()) == f"sf: {cause.strip()}"


def _warehouse_only(tmp_path: Path, config: KamsyncConfig) -> Path:
    """A configuration naming only the warehouse ``config`` synced into (status needs no more)."""
    path = tmp_path / "kamsync.toml"
    path.write_text(f'[warehouse]\npath = "{config.warehouse.path.name}"\n', encoding="utf-8")
    return path
