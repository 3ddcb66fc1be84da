"""Key accounts: Pareto classes, criteria, triage factors (CRM fields or proxies), tiers."""

from __future__ import annotations

from typing import Any

from tests.sql.conftest import World, approx_rows

SETTINGS = {
    "key_accounts": {
        "revenue_threshold": 1000.0,
        "headroom_threshold": 500.0,
        "growth_threshold": 0.10,
        "triage_threshold": 6.0,
    }
}


def _factors(*scores: float | None) -> dict[str, Any]:
    names = (
        "market_position",
        "innovation_orientation",
        "strategy_influence",
        "operational_complexity",
    )
    return {f"{name}_score": score for name, score in zip(names, scores, strict=True)}


def _tier_world(world: World) -> None:
    world.add("products", product_key="sf:p1", family="F1")
    world.add("products", product_key="sf:p2", family="F2")
    # group A: a1 with child a2 in another territory of the same country
    world.add(
        "accounts",
        account_key="sf:a1",
        country="DE",
        territory="T1",
        annual_revenue=1e6,
        wallet_estimate_crm=8000,
        **_factors(8, 8, 8, 8),
    )
    world.add(
        "accounts",
        account_key="sf:a2",
        parent_account_key="sf:a1",
        country="DE",
        territory="T2",
        wallet_estimate_crm=1000,
        **_factors(6, None, None, None),
    )
    world.add(
        "accounts",
        account_key="sf:b1",
        country="DE",
        territory="T1",
        annual_revenue=2e6,
        wallet_estimate_crm=2100,
        **_factors(7, 7, 7, 7),
    )
    world.add(
        "accounts",
        account_key="sf:c1",
        country="DE",
        territory="T1",
        annual_revenue=5e5,
        wallet_estimate_crm=1300,
        **_factors(6, 6, 6, 6),
    )
    world.add(
        "accounts",
        account_key="sf:d1",
        country="DE",
        territory="T1",
        wallet_estimate_crm=500,
        **_factors(5, 5, 5, 5),
    )
    world.add(
        "accounts",
        account_key="sf:e1",
        country="DE",
        territory="T1",
        annual_revenue=3e6,
        wallet_estimate_crm=1000,
        **_factors(9, None, 9, 9),
    )
    world.add(
        "accounts",
        account_key="sf:f1",
        country="DE",
        territory="T1",
        annual_revenue=4e6,
        wallet_estimate_crm=100,
    )
    world.opportunity("sf:oa1", "sf:a1", 5000, "2025-03-01")
    world.opportunity("sf:oa1p", "sf:a1", 5000, "2024-03-01")
    world.opportunity("sf:oa2", "sf:a2", 1000, "2025-05-01")
    world.opportunity("sf:ob1", "sf:b1", 2000, "2025-01-15")
    world.opportunity("sf:ob1p", "sf:b1", 2000, "2024-01-15")
    world.opportunity("sf:oc1", "sf:c1", 1200, "2024-12-01")
    world.opportunity("sf:oc1p", "sf:c1", 1000, "2023-12-01")
    world.opportunity("sf:od1", "sf:d1", 500, "2025-02-01")
    world.opportunity("sf:od1p", "sf:d1", 600, "2024-02-01")
    world.opportunity("sf:oe1", "sf:e1", 300, "2025-04-01")
    world.opportunity("sf:oe1p", "sf:e1", 300, "2024-04-01")
    world.add(
        "opportunity_lines",
        line_key="sf:le1",
        opportunity_key="sf:oe1",
        product_key="sf:p1",
        total_price=300,
    )


def test_pareto_criteria_triage_and_tier_per_group(world: World) -> None:
    _tier_world(world)
    world.analyze(SETTINGS)

    groups = world.dicts(
        "select group_key, member_count, level, revenue_ttm, revenue_prior_ttm, revenue_growth, "
        "headroom, revenue_rank, cumulative_share_before, pareto_class, "
        "meets_revenue_criterion, meets_potential_criterion, meets_growth_criterion, "
        "meets_profit_criterion, market_position_score, market_position_source, "
        "innovation_orientation_score, innovation_orientation_source, strategy_influence_score, "
        "strategy_influence_source, operational_complexity_score, operational_complexity_source, "
        "triage_score, tier from kam.account_groups order by revenue_rank"
    )

    crm = "crm_field"
    proxy = "data_proxy"
    # total revenue 10,000: A (6,000) starts at 0% and B (2,000) at 60% -> class A; C (1,200)
    # starts at exactly 80% and D (500) at 92% -> B; E (300) at 97% and F at 100% -> C
    expected = [
        # A: market position averages a1's 8 and a2's 6; the other factors only a1 has
        (
            "sf:a1",
            2,
            "national",
            6000.0,
            5000.0,
            0.2,
            3000.0,
            1,
            0.0,
            "A",
            True,
            True,
            True,
            None,
            7.0,
            crm,
            8.0,
            crm,
            8.0,
            crm,
            8.0,
            crm,
            7.7,
            "key",
        ),
        (
            "sf:b1",
            1,
            "territory",
            2000.0,
            2000.0,
            0.0,
            100.0,
            2,
            0.6,
            "A",
            True,
            False,
            False,
            None,
            7.0,
            crm,
            7.0,
            crm,
            7.0,
            crm,
            7.0,
            crm,
            7.0,
            "key",
        ),
        # triage exactly at the threshold passes; class B is not key; growth 20% makes growth
        (
            "sf:c1",
            1,
            "territory",
            1200.0,
            1000.0,
            0.2,
            100.0,
            3,
            0.8,
            "B",
            True,
            False,
            True,
            None,
            6.0,
            crm,
            6.0,
            crm,
            6.0,
            crm,
            6.0,
            crm,
            6.0,
            "growth",
        ),
        (
            "sf:d1",
            1,
            "territory",
            500.0,
            600.0,
            -1 / 6,
            0.0,
            4,
            0.92,
            "B",
            False,
            False,
            False,
            None,
            5.0,
            crm,
            5.0,
            crm,
            5.0,
            crm,
            5.0,
            crm,
            5.0,
            "non_key",
        ),
        # innovation from the proxy: 1 of 2 families bought -> 1 + 9 x 0.5 = 5.5;
        # triage 0.3 x 9 + 0.2 x 5.5 + 0.25 x 9 + 0.25 x 9 = 8.3; headroom 700 -> growth
        (
            "sf:e1",
            1,
            "territory",
            300.0,
            300.0,
            0.0,
            700.0,
            5,
            0.97,
            "C",
            False,
            True,
            False,
            None,
            9.0,
            crm,
            5.5,
            proxy,
            9.0,
            crm,
            9.0,
            crm,
            8.3,
            "growth",
        ),
        # all proxies: largest customer revenue of six groups -> 10; no family, lowest revenue
        # and smallest footprint (tied) -> 1; triage 0.3 x 10 + 0.7 x 1 = 3.7
        (
            "sf:f1",
            1,
            "territory",
            0.0,
            0.0,
            None,
            100.0,
            6,
            1.0,
            "C",
            False,
            False,
            False,
            None,
            10.0,
            proxy,
            1.0,
            proxy,
            1.0,
            proxy,
            1.0,
            proxy,
            3.7,
            "non_key",
        ),
    ]
    columns = list(groups[0])
    assert groups == approx_rows([dict(zip(columns, row, strict=True)) for row in expected])


def test_every_account_carries_its_group_tier(world: World) -> None:
    _tier_world(world)
    world.analyze(SETTINGS)

    assert world.rows(
        "select account_key, group_key, pareto_class, triage_score, tier, level "
        "from kam.key_accounts order by account_key"
    ) == [
        ("sf:a1", "sf:a1", "A", 7.7, "key", "national"),
        ("sf:a2", "sf:a1", "A", 7.7, "key", "national"),
        ("sf:b1", "sf:b1", "A", 7.0, "key", "territory"),
        ("sf:c1", "sf:c1", "B", 6.0, "growth", "territory"),
        ("sf:d1", "sf:d1", "B", 5.0, "non_key", "territory"),
        ("sf:e1", "sf:e1", "C", 8.3, "growth", "territory"),
        ("sf:f1", "sf:f1", "C", 3.7, "non_key", "territory"),
    ]


def test_triage_weights_come_from_config(world: World) -> None:
    _tier_world(world)
    weights = {
        "market_position": 1.0,
        "innovation_orientation": 0.0,
        "strategy_influence": 0.0,
        "operational_complexity": 0.0,
    }
    settings = {"key_accounts": {**SETTINGS["key_accounts"], "triage_weights": weights}}
    world.analyze(settings)

    # f1 is now judged on market position alone (10): no longer non-key, class C, headroom 100
    assert world.rows(
        "select triage_score, tier from kam.account_groups where group_key = 'sf:f1'"
    ) == [(10.0, "maintain")]


def test_no_revenue_anywhere_makes_every_group_class_c(world: World) -> None:
    world.add("accounts", account_key="sf:a", **_factors(9, 9, 9, 9))
    world.add("accounts", account_key="sf:b", **_factors(9, 9, 9, 9))
    world.analyze(SETTINGS)

    assert world.rows(
        "select group_key, cumulative_share_before, pareto_class, tier from kam.account_groups "
        "order by group_key"
    ) == [("sf:a", None, "C", "maintain"), ("sf:b", None, "C", "maintain")]
