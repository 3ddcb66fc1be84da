"""Performance: actual, forecast and target per entity and period; the targets file."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from analytics.targets import read_targets
from config.errors import ConfigError
from tests.sql.conftest import World, approx_rows

TARGETS = """entity_level,entity_key,period_grain,period_start,target
account,sf:p1,quarter,2025-04-01,500
territory,T1,month,2025-06-01,200
global,global,year,2025-01-01,1000
national,FR,quarter,2025-07-01,100
"""


def _performance_world(world: World) -> None:
    world.add("accounts", account_key="sf:p1", country="DE", region="EMEA", territory="T1")
    world.add("accounts", account_key="sf:p2", country="FR", region="EMEA", territory="T2")
    world.opportunity("sf:o1", "sf:p1", 100, "2025-06-30")  # won on the as-of date
    world.opportunity("sf:o2", "sf:p1", 50, "2025-05-05")
    world.opportunity("sf:o3", "sf:p1", 200, "2025-07-10", state="open", probability=0.5)
    # open but past its close date: forecast in the period of the as-of date
    world.opportunity("sf:o4", "sf:p1", 40, "2025-06-01", state="open", probability=0.25)
    world.opportunity("sf:o5", "sf:p2", 300, "2025-04-01")
    world.opportunity("sf:o6", "sf:p2", 1000, "2023-12-31")  # before the periods shown


def _with_targets(tmp_path: Path, text: str = TARGETS) -> dict[str, Any]:
    path = tmp_path / "targets.csv"
    path.write_text(text, encoding="utf-8")
    return {"targets_csv": str(path)}


def _perf(
    level: str,
    key: str,
    grain: str,
    start: str,
    end: str,
    actual: float,
    forecast: float,
    target: float | None = None,
) -> dict[str, Any]:
    expected = actual + forecast
    return {
        "entity_level": level,
        "entity_key": key,
        "period_grain": grain,
        "period_start": date.fromisoformat(start),
        "period_end": date.fromisoformat(end),
        "actual": actual,
        "forecast": forecast,
        "target": target,
        "expected_total": expected,
        "gap_to_target": None if target is None else target - expected,
        "attainment": actual / target if target else None,
    }


QUERY = "select * from kam.performance where entity_level = ? order by entity_key, period_grain, period_start"


def test_account_rows_per_week_month_quarter_year(world: World, tmp_path: Path) -> None:
    _performance_world(world)
    world.analyze(_with_targets(tmp_path))

    assert world.dicts(QUERY, ["account"]) == approx_rows(
        [
            _perf("account", "sf:p1", "month", "2025-05-01", "2025-05-31", 50.0, 0.0),
            _perf("account", "sf:p1", "month", "2025-06-01", "2025-06-30", 100.0, 10.0),
            _perf("account", "sf:p1", "month", "2025-07-01", "2025-07-31", 0.0, 100.0),
            _perf("account", "sf:p1", "quarter", "2025-04-01", "2025-06-30", 150.0, 10.0, 500.0),
            _perf("account", "sf:p1", "quarter", "2025-07-01", "2025-09-30", 0.0, 100.0),
            # weeks start on Monday: 2025-05-05 and 2025-06-30 are Mondays
            _perf("account", "sf:p1", "week", "2025-05-05", "2025-05-11", 50.0, 0.0),
            _perf("account", "sf:p1", "week", "2025-06-30", "2025-07-06", 100.0, 10.0),
            _perf("account", "sf:p1", "week", "2025-07-07", "2025-07-13", 0.0, 100.0),
            _perf("account", "sf:p1", "year", "2025-01-01", "2025-12-31", 150.0, 110.0),
            _perf("account", "sf:p2", "month", "2025-04-01", "2025-04-30", 300.0, 0.0),
            _perf("account", "sf:p2", "quarter", "2025-04-01", "2025-06-30", 300.0, 0.0),
            _perf("account", "sf:p2", "week", "2025-03-31", "2025-04-06", 300.0, 0.0),
            _perf("account", "sf:p2", "year", "2025-01-01", "2025-12-31", 300.0, 0.0),
        ]
    )


def test_upper_levels_and_target_only_rows(world: World, tmp_path: Path) -> None:
    _performance_world(world)
    world.analyze(_with_targets(tmp_path))

    assert world.dicts(QUERY, ["global"]) == approx_rows(
        [
            _perf("global", "global", "month", "2025-04-01", "2025-04-30", 300.0, 0.0),
            _perf("global", "global", "month", "2025-05-01", "2025-05-31", 50.0, 0.0),
            _perf("global", "global", "month", "2025-06-01", "2025-06-30", 100.0, 10.0),
            _perf("global", "global", "month", "2025-07-01", "2025-07-31", 0.0, 100.0),
            _perf("global", "global", "quarter", "2025-04-01", "2025-06-30", 450.0, 10.0),
            _perf("global", "global", "quarter", "2025-07-01", "2025-09-30", 0.0, 100.0),
            _perf("global", "global", "week", "2025-03-31", "2025-04-06", 300.0, 0.0),
            _perf("global", "global", "week", "2025-05-05", "2025-05-11", 50.0, 0.0),
            _perf("global", "global", "week", "2025-06-30", "2025-07-06", 100.0, 10.0),
            _perf("global", "global", "week", "2025-07-07", "2025-07-13", 0.0, 100.0),
            _perf("global", "global", "year", "2025-01-01", "2025-12-31", 450.0, 110.0, 1000.0),
        ]
    )
    assert world.dicts(
        "select * from kam.performance where target is not null and entity_level <> 'global' "
        "order by entity_level"
    ) == approx_rows(
        [
            _perf("account", "sf:p1", "quarter", "2025-04-01", "2025-06-30", 150.0, 10.0, 500.0),
            # a target where nothing was sold or forecast still shows
            _perf("national", "FR", "quarter", "2025-07-01", "2025-09-30", 0.0, 0.0, 100.0),
            _perf("territory", "T1", "month", "2025-06-01", "2025-06-30", 100.0, 10.0, 200.0),
        ]
    )


def test_plan_fields_of_the_score_payload(world: World, tmp_path: Path) -> None:
    _performance_world(world)
    world.analyze(_with_targets(tmp_path))

    assert world.dicts(
        "select account_key, plan_period, plan_period_start, plan_period_end, revenue_target, "
        "period_actual, period_forecast, gap_to_target from kam.account_scores "
        "order by account_key"
    ) == approx_rows(
        [
            {
                "account_key": "sf:p1",
                "plan_period": "2025-Q2",
                "plan_period_start": date(2025, 4, 1),
                "plan_period_end": date(2025, 6, 30),
                "revenue_target": 500.0,
                "period_actual": 150.0,
                "period_forecast": 160.0,
                "gap_to_target": 340.0,
            },
            {
                "account_key": "sf:p2",
                "plan_period": "2025-Q2",
                "plan_period_start": date(2025, 4, 1),
                "plan_period_end": date(2025, 6, 30),
                "revenue_target": None,
                "period_actual": 300.0,
                "period_forecast": 300.0,
                "gap_to_target": None,
            },
        ]
    )


def test_targets_file_problems_name_the_line(tmp_path: Path) -> None:
    text = (
        "entity_level,entity_key,period_grain,period_start,target\n"
        "account,sf:p1,quarter,2025-04-01,500\n"
        "acount,sf:p1,quarter,2025-04-01,500\n"
        "account,sf:p1,quarter,2025-04-01,lots\n"
        "region,EMEA,month,2025-06-15,10\n"
        "region,EMEA,fortnight,2025-06-01,10\n"
        "territory,T1,month,2025-06-01,-5\n"
        "account,sf:p1,quarter,2025-04-01,600\n"
        "global,world,year,2025-01-01,1\n"
        "week,1\n"
        "account,sf:p2,week,2025-06-30,1_000\n"
    )
    path = tmp_path / "targets.csv"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        read_targets(path)

    assert [(p.file, p.key, p.message) for p in caught.value.problems] == [
        (
            str(path),
            "line 3",
            "entity_level 'acount' is not one of account, territory, region, national, global",
        ),
        (str(path), "line 4", "target 'lots' is not a number"),
        (str(path), "line 5", "period_start 2025-06-15 is not the first day of a month"),
        (str(path), "line 6", "period_grain 'fortnight' is not one of week, month, quarter, year"),
        (str(path), "line 7", "target '-5' must be a finite number >= 0"),
        (str(path), "line 8", "repeats the target of line 2"),
        (str(path), "line 9", "the global entity_key must be 'global', got 'world'"),
        (str(path), "line 10", "has 2 fields, the header has 5"),
        (str(path), "line 11", "target '1_000' is not a number"),
    ]


def test_targets_file_header_must_have_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "targets.csv"
    path.write_text("level,key,grain,start,target\n", encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        read_targets(path)

    assert [p.message for p in caught.value.problems] == [
        "header lacks column(s) entity_level, entity_key, period_grain, period_start",
        "unknown column(s) level, key, grain, start; expected entity_level, entity_key, "
        "period_grain, period_start, target",
    ]


def test_unknown_entities_fail_the_run_naming_the_line(world: World, tmp_path: Path) -> None:
    _performance_world(world)
    world.analyze()
    before = world.rows("select count(*) from kam.performance")
    text = TARGETS + "account,sf:nobody,year,2025-01-01,5\nnational,Narnia,year,2025-01-01,5\n"

    with pytest.raises(ConfigError) as caught:
        world.analyze(_with_targets(tmp_path, text))

    path = str(tmp_path / "targets.csv")
    assert [(p.file, p.key, p.message) for p in caught.value.problems] == [
        (path, "line 6", "unknown account 'sf:nobody': no such account in the warehouse"),
        (path, "line 7", "unknown country 'Narnia': no such country in the warehouse"),
    ]
    assert world.rows("select count(*) from kam.performance") == before
    assert world.rows(
        "select status, error like '%line 6%' from ops.sync_runs order by status"
    ) == [("failed", True), ("succeeded", None)]
