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


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("wallet_share", "share"),
        ("account_groups", "wallet_share"),
        ("rollups", "wallet_share"),
        ("account_scores", "wallet_share"),
        ("call_frequency", "compliance"),
        ("call_frequency", "decision_maker_coverage"),
        ("whitespace", "peer_adoption_rate"),
        ("rollups", "win_rate"),
    ],
)
def test_shares_and_rates_lie_within_0_and_1(
    con: duckdb.DuckDBPyConnection, table: str, column: str
) -> None:
    low, high, count = con.execute(
        f"select min({column}), max({column}), count({column}) from kam.{table}"
    ).fetchall()[0]
    assert count > 0
    assert 0 <= low <= high <= 1


def test_scores_lie_within_their_scales(con: duckdb.DuckDBPyConnection) -> None:
    assert con.execute(
        "select min(health_score) >= 0, max(health_score) <= 100 from kam.account_health"
    ).fetchall() == [(True, True)]
    assert con.execute(
        "select min(score) >= 0, max(score) <= 100 from kam.account_health_components"
    ).fetchall() == [(True, True)]
    assert con.execute(
        "select min(triage_score) >= 1, max(triage_score) <= 10 from kam.account_groups"
    ).fetchall() == [(True, True)]
    assert _one(con, "select count(*) from kam.wallet_share where headroom < 0") == 0


def test_health_weights_sum_to_1_and_the_score_is_their_weighted_mean(
    con: duckdb.DuckDBPyConnection,
) -> None:
    rows = con.execute(
        "select c.account_key, sum(c.weight), count(*), round(sum(c.weighted_score), 1), "
        "any_value(h.health_score) from kam.account_health_components c "
        "join kam.account_health h using (account_key) group by c.account_key"
    ).fetchall()
    assert len(rows) == ACCOUNTS
    for _, weights, components, mean, score in rows:
        assert weights == pytest.approx(1.0)
        assert components == 6
        assert mean == pytest.approx(score)


@pytest.mark.parametrize(
    "metric",
    [
        "account_count",
        "revenue_ttm",
        "revenue_prior_ttm",
        "wallet_estimate",
        "headroom",
        "open_pipeline_amount",
        "won_count_ttm",
        "lost_count_ttm",
    ],
)
def test_every_rollup_level_sums_to_its_leaves(con: duckdb.DuckDBPyConnection, metric: str) -> None:
    totals = dict(
        con.execute(
            f"select entity_level, sum({metric}) from kam.rollups group by entity_level"
        ).fetchall()
    )
    leaves = totals["account"]
    assert leaves > 0
    for level in ("territory", "region", "national", "global"):
        assert totals[level] == pytest.approx(leaves)


def test_rollup_ratios_are_recomputed_from_sums(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute(
        "select revenue_ttm, wallet_estimate, wallet_share from kam.rollups "
        "where entity_level <> 'account' and wallet_estimate > 0"
    ).fetchall()
    assert rows
    for revenue, wallet, share in rows:
        assert share == pytest.approx(revenue / wallet)


def test_groups_sum_their_members(con: duckdb.DuckDBPyConnection) -> None:
    mismatches = con.execute(
        """
        select g.group_key
        from kam.account_groups g
        join (
            select k.group_key, count(*) as members, sum(w.our_revenue_ttm) as revenue,
                   sum(w.headroom) as headroom, sum(w.wallet_estimate) as wallet
            from kam.key_accounts k join kam.wallet_share w using (account_key)
            group by k.group_key
        ) m using (group_key)
        where g.member_count <> m.members
           or abs(g.revenue_ttm - m.revenue) > 1e-6 * greatest(1, m.revenue)
           or abs(g.headroom - m.headroom) > 1e-6 * greatest(1, m.headroom)
           or abs(g.wallet_estimate - m.wallet) > 1e-6 * greatest(1, m.wallet)
        """
    ).fetchall()
    assert mismatches == []
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
