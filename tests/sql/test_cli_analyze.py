"""``kamsync analyze``: summary on success, exit 1 when the run fails, 2 on bad configuration."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

import analytics.runner
from analytics.models import Model, discover
from config.model import WarehouseConfig
from sync.cli import main
from sync.warehouse import Warehouse

CONFIG = """
[warehouse]
path = "kamsync.duckdb"

[analytics]
as_of = 2025-06-30
peer_min = 1
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A configuration whose warehouse holds one key account, one overdue, and a gap."""
    with Warehouse(WarehouseConfig(path=tmp_path / "kamsync.duckdb")).session() as con:
        con.execute(
            """
            insert into crm.products (product_key, source, source_id, family)
            values ('sf:p1', 'sf', 'p1', 'Compute'), ('sf:p2', 'sf', 'p2', 'Storage');
            insert into crm.accounts (account_key, source, source_id, name, industry,
                employees, market_position_score, innovation_orientation_score,
                strategy_influence_score, operational_complexity_score)
            values ('sf:a', 'sf', 'a', 'Acme', 'Retail', 100, 9, 9, 9, 9),
                   ('sf:b', 'sf', 'b', 'Bolt', 'Retail', 100, 2, 2, 2, 2);
            insert into crm.opportunities (opportunity_key, source, source_id, account_key,
                amount, is_closed, is_won, close_date)
            values ('sf:o1', 'sf', 'o1', 'sf:a', 2000000, true, true, '2025-05-01'),
                   ('sf:o2', 'sf', 'o2', 'sf:b', 1000, true, true, '2025-05-01');
            insert into crm.opportunity_lines (line_key, source, source_id, opportunity_key,
                product_key, total_price)
            values ('sf:l1', 'sf', 'l1', 'sf:o1', 'sf:p1', 2000000),
                   ('sf:l2', 'sf', 'l2', 'sf:o2', 'sf:p2', 1000);
            insert into crm.activities (activity_key, source, source_id, source_object,
                account_key, activity_type, activity_date, is_completed)
            values ('sf:t1', 'sf', 't1', 'Task', 'sf:a', 'call', '2025-05-20', true);
            """
        )
    path = tmp_path / "kamsync.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def _published(config: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(config.parent / "kamsync.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_analyze_prints_the_summary_and_publishes(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--config", str(config), "analyze"])

    out, err = capsys.readouterr()
    assert code == 0
    assert "Accounts by tier and health band" in out
    # both accounts are one peer group: each family is owned by one of the two (adoption 0.5),
    # so Bolt's Compute gap is worth 0.5 x 2,000,000 and key account Acme's Storage gap 0.5 x 1,000
    table = out[out.index("Biggest whitespace by product family") :].splitlines()
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in table if "│" in line]
    assert rows[:2] == [["Compute", "1", "0", "1,000,000"], ["Storage", "1", "1", "500"]]
    assert "Most overdue key accounts" in out and "Acme (sf:a)" in out
    assert "analyze: built marts/account_scores" in err
    assert _published(config, "select account_key, tier from kam.account_scores order by 1") == [
        ("sf:a", "key"),
        ("sf:b", "non_key"),
    ]


def test_a_failed_run_exits_1_and_keeps_the_previous_marts(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["--config", str(config), "analyze"]) == 0
    broken = Model("zz_broken", "marts", "select 1 / 'x' as boom", "table")
    monkeypatch.setattr(analytics.runner, "discover", lambda: [*discover(), broken])

    code = main(["--config", str(config), "analyze"])

    err = capsys.readouterr().err
    assert code == 1
    assert "kamsync: error: analyze failed in model marts/zz_broken" in err
    assert _published(config, "select count(*) from kam.account_scores") == [(2,)]
    assert _published(config, "select count(distinct run_id) from kam.score_history") == [(1,)]


def test_a_bad_targets_file_exits_2_naming_file_and_line(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    targets = config.parent / "targets.csv"
    targets.write_text(
        "entity_level,entity_key,period_grain,period_start,target\n"
        "account,sf:a,quarter,2025-04-01,many\n",
        encoding="utf-8",
    )
    config.write_text(CONFIG + 'targets_csv = "targets.csv"\n', encoding="utf-8")

    code = main(["--config", str(config), "analyze"])

    err = capsys.readouterr().err
    assert code == 2
    assert f"{targets}: line 2: target 'many' is not a number" in err


def test_an_unknown_analytics_key_exits_2(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config.write_text(CONFIG + "peer_minimum = 5\n", encoding="utf-8")

    code = main(["--config", str(config), "analyze"])

    assert code == 2
    assert (
        "analytics.peer_minimum: unknown key (did you mean 'peer_min'?)" in capsys.readouterr().err
    )
