"""An analyst holding the published warehouse open never makes a job fail, and sees the new data
when reconnecting (a separate reader process holds the file throughout sync, analyze and
write-back)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.emulator.emulator import Emulator
from sync.cli import main
from tests.integration.sync_support import salesforce_env, write_salesforce_config

READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
for line in sys.stdin:
    sql = line.strip()
    if not sql:
        break
    print(con.execute(sql).fetchall()[0][0], flush=True)
"""


class Reader:
    """A process with the warehouse open read-only, answering one query per line."""

    def __init__(self, path: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", READER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, sql: str) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(sql + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        self.process.wait(timeout=30)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(seed=31, accounts=400) as running:
        yield running


def test_sync_analyze_and_writeback_succeed_while_a_reader_holds_the_file(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in salesforce_env(emulator).items():
        monkeypatch.setenv(name, value)
    config = write_salesforce_config(tmp_path, emulator, WRITEBACK)
    published = tmp_path / "kamsync.duckdb"
    assert main(["--config", str(config), "sync"]) == 0
    reader = Reader(published)
    accounts_then = reader.ask("select count(*) from crm.accounts")

    emulator.mutate(seed=3, inserts=25, updates=10, soft_deletes=0, hard_deletes=0)
    assert main(["--config", str(config), "sync"]) == 0  # the reader still holds the old file
    assert main(["--config", str(config), "analyze"]) == 0
    assert main(["--config", str(config), "writeback"]) == 0

    assert reader.ask("select count(*) from crm.accounts") == accounts_then  # its view is stable
    assert reader.ask("select count(*) from duckdb_tables() where schema_name = 'kam'") == "0"
    assert reader.ask("select count(*) from ops.writeback_ledger") == "0"
    reader.close()
    fresh = Reader(published)
    live = sum(1 for _ in emulator.world.salesforce.live("Account"))
    assert fresh.ask("select count(*) from crm.accounts") == str(live)
    assert int(fresh.ask("select count(*) from kam.account_scores")) == live
    assert int(fresh.ask("select count(*) from ops.writeback_ledger")) == live
    assert int(accounts_then) < live
    fresh.close()
    assert {e.table for e in emulator.write_log("salesforce")} == {"KAM_Account_Score__c"}
    assert sum(1 for _ in emulator.world.salesforce.live("KAM_Account_Score__c")) == live


WRITEBACK = """
[writeback.sources.sf]
enabled = true
"""
