"""Every SQL example in the README runs against a synced and analyzed warehouse."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from connectors.emulator.emulator import Emulator
from sync.cli import main
from tests.integration.sync_support import salesforce_env, write_salesforce_config

README = Path(__file__).resolve().parents[2] / "README.md"


def _statements() -> list[str]:
    blocks = re.findall(r"```sql\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    statements = [s.strip() for block in blocks for s in block.split(";")]
    return [
        s for s in statements if s and not all(line.startswith("--") for line in s.splitlines())
    ]


def test_readme_has_analyst_queries() -> None:
    assert len(_statements()) >= 5


def test_every_readme_query_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Emulator(seed=41, accounts=400) as emulator:
        for name, value in salesforce_env(emulator).items():
            monkeypatch.setenv(name, value)
        config = write_salesforce_config(tmp_path, emulator)
        assert main(["--config", str(config), "sync"]) == 0
        assert main(["--config", str(config), "analyze"]) == 0
    con = duckdb.connect(str(tmp_path / "kamsync.duckdb"), read_only=True)
    try:
        for statement in _statements():
            con.execute(statement).fetchall()
    finally:
        con.close()
