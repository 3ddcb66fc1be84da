"""Invariants every analysed warehouse keeps, whatever world it was built from.

Checked on the SQL-built synthetic world (``tests/sql/test_invariants.py``) and on the
generator's world synced through the emulator (``tests/e2e/test_analytics_world.py``): shares
and rates within [0, 1], scores within their scales, health weights summing to 1, every roll-up
level summing to its leaves with ratios recomputed from the sums, groups summing their members.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

SHARES_AND_RATES = (
    ("wallet_share", "share"),
    ("account_groups", "wallet_share"),
    ("rollups", "wallet_share"),
    ("account_scores", "wallet_share"),
    ("call_frequency", "compliance"),
    ("call_frequency", "decision_maker_coverage"),
    ("whitespace", "peer_adoption_rate"),
    ("rollups", "win_rate"),
)

ADDITIVE_ROLLUP_METRICS = (
    "account_count",
    "revenue_ttm",
    "revenue_prior_ttm",
    "wallet_estimate",
    "headroom",
    "open_pipeline_amount",
    "won_count_ttm",
    "lost_count_ttm",
)

HEALTH_COMPONENTS = 6


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return con.execute(sql).fetchall()


def assert_within_0_and_1(con: duckdb.DuckDBPyConnection, table: str, column: str) -> None:
    """``table.column`` has values, all of them in [0, 1]."""
    low, high, count = _rows(
        con, f"select min({column}), max({column}), count({column}) from kam.{table}"
    )[0]
    assert isinstance(low, float) and isinstance(high, float)
    assert count
    assert 0 <= low <= high <= 1


def assert_scores_within_their_scales(con: duckdb.DuckDBPyConnection) -> None:
    """Health and component scores in [0, 100], triage scores in [1, 10], no negative headroom."""
    assert _rows(
        con, "select min(health_score) >= 0, max(health_score) <= 100 from kam.account_health"
    ) == [(True, True)]
    assert _rows(
        con, "select min(score) >= 0, max(score) <= 100 from kam.account_health_components"
    ) == [(True, True)]
    assert _rows(
        con, "select min(triage_score) >= 1, max(triage_score) <= 10 from kam.account_groups"
    ) == [(True, True)]
    assert _rows(con, "select count(*) from kam.wallet_share where headroom < 0") == [(0,)]


def assert_health_is_the_weighted_mean_of_its_components(
    con: duckdb.DuckDBPyConnection, accounts: int
) -> None:
    """Each of ``accounts`` accounts has every component; weights sum to 1; the score is their
    weighted mean."""
    rows = _rows(
        con,
        "select c.account_key, sum(c.weight), count(*), round(sum(c.weighted_score), 1), "
        "any_value(h.health_score) from kam.account_health_components c "
        "join kam.account_health h using (account_key) group by c.account_key",
    )
    assert len(rows) == accounts
    for _key, weights, components, mean, score in rows:
        assert weights == pytest.approx(1.0)
        assert components == HEALTH_COMPONENTS
        assert mean == pytest.approx(score)


def assert_rollup_levels_sum_to_their_leaves(con: duckdb.DuckDBPyConnection, metric: str) -> None:
    """Every geography level of ``kam.rollups`` sums ``metric`` to the accounts' total."""
    totals: dict[Any, Any] = dict(
        _rows(con, f"select entity_level, sum({metric}) from kam.rollups group by entity_level")
    )
    leaves = totals["account"]
    assert isinstance(leaves, int | float) and leaves > 0
    for level in ("territory", "region", "national", "global"):
        assert totals[level] == pytest.approx(leaves)


def assert_rollup_ratios_are_recomputed_from_sums(con: duckdb.DuckDBPyConnection) -> None:
    """Above the account level, wallet share is revenue over wallet of the sums."""
    rows = _rows(
        con,
        "select revenue_ttm, wallet_estimate, wallet_share from kam.rollups "
        "where entity_level <> 'account' and wallet_estimate > 0",
    )
    assert rows
    for revenue, wallet, share in rows:
        assert isinstance(revenue, float) and isinstance(wallet, float)
        assert share == pytest.approx(revenue / wallet)


def assert_groups_sum_their_members(con: duckdb.DuckDBPyConnection) -> None:
    """A group's member count, revenue, headroom and wallet are the sums over its accounts."""
    mismatches = _rows(
        con,
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
        """,
    )
    assert mismatches == []
