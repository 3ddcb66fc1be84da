"""``kamsync demo`` as a new user runs it: a child process, a fresh directory, no credentials.

The demo is left running (``--keep-running``) so the test can read the emulator's write log
through its control endpoint; the expected accounts come from generating the same world
(same seed, size and as-of date) in this process.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests

from connectors.emulator.world import World, generate_world
from sync.unified import CRM_TABLES

SEED = 5
ACCOUNTS = 300
SCORE_TABLES = {"salesforce": "KAM_Account_Score__c", "dynamics": "kam_accountscore"}


@dataclass
class Demo:
    """A running ``kamsync demo --keep-running`` and what it printed."""

    process: subprocess.Popen[str]
    directory: Path
    stdout: str
    salesforce_url: str
    ca_file: str

    def write_log(self, crm: str) -> list[dict[str, Any]]:
        response = requests.get(
            f"{self.salesforce_url}/__emulator/write-log",
            params={"crm": crm},
            verify=self.ca_file,
            timeout=30,
        )
        response.raise_for_status()
        entries: list[dict[str, Any]] = response.json()["entries"]
        return entries


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(SEED, ACCOUNTS, date.today())


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    directory = tmp_path_factory.mktemp("demo") / "kamsync-demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAMSYNC_")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sync",
            "demo",
            "--dir",
            str(directory),
            "--accounts",
            str(ACCOUNTS),
            "--seed",
            str(SEED),
            "--keep-running",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:  # until the demo says the emulator stays up
        lines.append(line)
        if line.strip().startswith("CA file"):
            break
    stdout = "".join(lines)
    if process.poll() is not None or "CA file" not in stdout:
        _, err = process.communicate(timeout=30)
        pytest.fail(f"the demo ended early (exit {process.returncode}):\n{stdout}\n{err}")
    url = re.search(r"Salesforce\s+(https://\S+)", stdout)
    ca_file = re.search(r"CA file\s+(\S+)", stdout)
    assert url and ca_file, stdout
    running = Demo(process, directory, stdout, url[1], ca_file[1])
    yield running
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(con.execute(sql).fetchall()[0][0])


@pytest.fixture(scope="module")
def warehouse(demo: Demo) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(demo.directory / "kamsync.duckdb"), read_only=True)
    yield con
    con.close()


def _live_accounts(world: World) -> dict[str, set[str]]:
    return {
        "sf_demo": {r["Id"] for r in world.salesforce.live("Account")},
        "d365_demo": {r["accountid"] for r in world.dynamics.live("account")},
    }


def test_every_crm_and_kam_table_is_populated(warehouse: duckdb.DuckDBPyConnection) -> None:
    for table in CRM_TABLES:
        for source in ("sf_demo", "d365_demo"):
            if table == "opportunity_contacts" and source == "d365_demo":
                continue  # Dataverse has no opportunity contact roles in the default tables
            rows = warehouse.execute(
                f"select count(*) from crm.{table} where source = ?", [source]
            ).fetchall()[0][0]
            assert rows > 0, f"crm.{table} has no rows from {source}"
    kam = [
        r[0]
        for r in warehouse.execute(
            "select table_name from duckdb_tables() where schema_name = 'kam' order by 1"
        ).fetchall()
    ]
    assert "account_scores" in kam and "whitespace" in kam
    for table in kam:
        assert _count(warehouse, f"select count(*) from kam.{table}") > 0, f"kam.{table} is empty"


def test_one_score_per_live_account_of_both_orgs(
    warehouse: duckdb.DuckDBPyConnection, world: World
) -> None:
    rows = warehouse.execute("select source, source_id from kam.account_scores").fetchall()
    scored: dict[str, set[str]] = {}
    for source, source_id in rows:
        scored.setdefault(source, set()).add(source_id)
    assert len(rows) == sum(len(ids) for ids in scored.values())  # no account twice
    assert scored == _live_accounts(world)


def test_the_emulator_holds_one_score_record_per_account_and_nothing_else_was_written(
    demo: Demo, world: World, warehouse: duckdb.DuckDBPyConnection
) -> None:
    live = _live_accounts(world)
    for crm, source in (("salesforce", "sf_demo"), ("dynamics", "d365_demo")):
        entries = demo.write_log(crm)
        assert {e["table"] for e in entries} == {SCORE_TABLES[crm]}
        assert all(e["ok"] for e in entries)
        assert len({e["record_id"] for e in entries}) == len(live[source])
        ledger = _count(
            warehouse, f"select count(*) from ops.writeback_ledger where source = '{source}'"
        )
        assert ledger == len(live[source])


def test_the_summary_names_tiers_whitespace_orgs_and_how_to_open_the_file(
    demo: Demo, warehouse: duckdb.DuckDBPyConnection
) -> None:
    out = demo.stdout
    assert "Accounts by tier and health band" in out
    assert "Biggest whitespace by product family" in out
    # the whitespace table sums each family's gap cells: its first row is the family whose gaps
    # are worth most, with the number of accounts that lack it
    family, accounts = warehouse.execute(
        "select product_family, count(*) from kam.whitespace "
        "where status = 'gap' and expected_value > 0 "
        "group by product_family order by sum(expected_value) desc limit 1"
    ).fetchall()[0]
    table = out[out.index("Biggest whitespace by product family") :]
    first_row = next(line for line in table.splitlines() if line.startswith("│"))
    assert first_row.split("│")[1].strip() == family
    assert first_row.split("│")[2].strip() == f"{accounts:,}"
    assert "sf_demo" in out and "d365_demo" in out
    assert f"duckdb -readonly {demo.directory / 'kamsync.duckdb'}" in out
    config = (demo.directory / "kamsync.toml").read_text(encoding="utf-8")
    assert "client_secret_env" in config
    assert "secret =" not in config.replace("client_secret_env", "")


def test_sigterm_stops_the_demo_and_its_emulator(demo: Demo) -> None:
    demo.process.send_signal(signal.SIGTERM)
    _, err = demo.process.communicate(timeout=60)
    assert demo.process.returncode == 0, err
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{demo.salesforce_url}/__emulator/", verify=demo.ca_file, timeout=5)


def test_a_directory_with_other_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "sync", "demo", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert str(tmp_path) in done.stderr and "did not make" in done.stderr
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert json.dumps([p.name for p in tmp_path.iterdir()]) == '["notes.txt"]'
