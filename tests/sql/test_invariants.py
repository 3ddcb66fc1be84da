"""Invariants over a whole synthetic world: ranges, weights, roll-ups, one row per account."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from analytics.runner import run_analysis
from bench.synthetic import AS_OF, generate
from config.model import AnalyticsConfig
from sync.warehouse import migrate
from tests import mart_invariants as invariants

ACCOUNTS = 3000


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    """A 3,000-account synthetic world (hierarchies, both orgs, global groups), analyzed."""
    path: Path = tmp_path_factory.mktemp("world") / "world.duckdb"
    connection = duckdb.connect(str(path))
    migrate(connection)
    generate(connection, ACCOUNTS, 10)
    run_analysis(connection, AnalyticsConfig(as_of=AS_OF))
    yield connection
    connection.close()


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    return con.execute(sql).fetchall()[0][0]


def test_one_score_row_per_live_account(con: duckdb.DuckDBPyConnection) -> None:
    assert _one(con, "select count(*) from kam.account_scores") == ACCOUNTS
    assert (
        _one(
            con,
            "select count(*) from crm.accounts a full join kam.account_scores s using (account_key) "
            "where a.account_key is null or s.account_key is null",
        )
        == 0
    )
    for mart in (
        "key_accounts",
        "wallet_share",
        "account_health",
        "call_frequency",
        "account_hierarchy",
    ):
        assert _one(con, f"select count(distinct account_key) from kam.{mart}") == ACCOUNTS
        assert _one(con, f"select count(*) from kam.{mart}") == ACCOUNTS


@pytest.mark.parametrize(("table", "column"), invariants.SHARES_AND_RATES)
def test_shares_and_rates_lie_within_0_and_1(
    con: duckdb.DuckDBPyConnection, table: str, column: str
) -> None:
    invariants.assert_within_0_and_1(con, table, column)


def test_scores_lie_within_their_scales(con: duckdb.DuckDBPyConnection) -> None:
    invariants.assert_scores_within_their_scales(con)


def test_health_weights_sum_to_1_and_the_score_is_their_weighted_mean(
    con: duckdb.DuckDBPyConnection,
) -> None:
    invariants.assert_health_is_the_weighted_mean_of_its_components(con, ACCOUNTS)


@pytest.mark.parametrize("metric", invariants.ADDITIVE_ROLLUP_METRICS)
def test_every_rollup_level_sums_to_its_leaves(con: duckdb.DuckDBPyConnection, metric: str) -> None:
    invariants.assert_rollup_levels_sum_to_their_leaves(con, metric)


def test_rollup_ratios_are_recomputed_from_sums(con: duckdb.DuckDBPyConnection) -> None:
    invariants.assert_rollup_ratios_are_recomputed_from_sums(con)


def test_groups_sum_their_members(con: duckdb.DuckDBPyConnection) -> None:
    invariants.assert_groups_sum_their_members(con)
    assert _one(con, "select count(*) from kam.account_groups where group_type = 'global_match'")


def test_subtrees_of_the_tops_sum_their_trees(con: duckdb.DuckDBPyConnection) -> None:
    mismatches = con.execute(
        """
        select h.account_key
        from kam.account_hierarchy h
        join (
            select ultimate_parent_key, sum(w.our_revenue_ttm) as revenue, count(*) as accounts
            from kam.account_hierarchy join kam.wallet_share w using (account_key)
            where not has_parent_cycle
            group by ultimate_parent_key
        ) t on t.ultimate_parent_key = h.account_key
        where h.subtree_account_count <> t.accounts
           or abs(h.subtree_revenue_ttm - t.revenue) > 1e-6 * greatest(1, t.revenue)
        """
    ).fetchall()
    assert mismatches == []
    assert _one(con, "select max(depth) from kam.account_hierarchy") == 2


def test_performance_levels_and_grains_agree(con: duckdb.DuckDBPyConnection) -> None:
    by_level = con.execute(
        "select entity_level, period_grain, period_start, sum(actual), sum(forecast) "
        "from kam.performance group by all"
    ).fetchall()
    cells: dict[tuple[str, object], dict[str, tuple[float, float]]] = {}
    for level, grain, start, actual, forecast in by_level:
        cells.setdefault((grain, start), {})[level] = (actual, forecast)
    assert cells
    for levels in cells.values():
        for level in ("account", "territory", "region", "national"):
            assert levels[level] == pytest.approx(levels["global"])
    per_grain = dict(
        con.execute(
            "select period_grain, sum(actual) from kam.performance "
            "where entity_level = 'global' group by all"
        ).fetchall()
    )
    # months nest in quarters and quarters in years (weeks straddle them)
    assert per_grain["month"] == pytest.approx(per_grain["quarter"])
    assert per_grain["quarter"] == pytest.approx(per_grain["year"])


def test_whitespace_covers_every_account_and_family_with_consecutive_gap_ranks(
    con: duckdb.DuckDBPyConnection,
) -> None:
    families = _one(con, "select count(distinct family) from crm.products")
    assert isinstance(families, int)
    assert _one(con, "select count(*) from kam.whitespace") == ACCOUNTS * families
    assert con.execute(
        "select count(*) from (select account_key, count(*) filter (where status = 'gap') as gaps, "
        "max(gap_rank) as top, count(distinct gap_rank) as ranks from kam.whitespace "
        "group by account_key) where coalesce(top, 0) <> gaps or ranks <> gaps"
    ).fetchall() == [(0,)]


def test_pareto_classes_follow_revenue_rank(con: duckdb.DuckDBPyConnection) -> None:
    classes = [
        r[0]
        for r in con.execute(
            "select pareto_class from kam.account_groups order by revenue_rank"
        ).fetchall()
    ]
    assert classes == sorted(classes)
    assert set(classes) == {"A", "B", "C"}
