"""Wallet share and whitespace: peer groups with back-off, quantiles, zero and NULL amounts."""

from __future__ import annotations

from typing import Any

from tests.sql.conftest import World, approx_rows

SETTINGS = {"peer_min": 3}  # peer groups need 3 customers, so a small world backs off


def _line(world: World, key: str, opportunity: str, product: str, **price: Any) -> None:
    world.add(
        "opportunity_lines", line_key=key, opportunity_key=opportunity, product_key=product, **price
    )


def _peer_world(world: World) -> None:
    for product, family in (("sf:p1", "F1"), ("sf:p2", "F2"), ("sf:p3", "F3")):
        world.add("products", product_key=product, family=family)
    # Retail, 50-249 employees: r1..r4 (r4 buys nothing); Retail below 50: r5; Retail without
    # employee count: r6; Mining (too few peers): m1, m2; no industry: n1
    world.add(
        "accounts", account_key="sf:r1", industry="Retail", employees=100, wallet_estimate_crm=150
    )
    world.add("accounts", account_key="sf:r2", industry="Retail", employees=100)
    world.add("accounts", account_key="sf:r3", industry="Retail", employees=200)
    world.add(
        "accounts", account_key="sf:r4", industry="Retail", employees=60, wallet_estimate_crm=0
    )
    world.add("accounts", account_key="sf:r5", industry="Retail", employees=10)
    world.add("accounts", account_key="sf:r6", industry="Retail")
    world.add(
        "accounts", account_key="sf:m1", industry="Mining", employees=100, wallet_estimate_crm=40
    )
    world.add("accounts", account_key="sf:m2", industry="Mining", employees=100)
    world.add("accounts", account_key="sf:n1", employees=100)
    # r1: 100 on F1; a zero-amount win with a zero line on F3 (owned, spend 0); F2 in pipeline
    world.opportunity("sf:o1", "sf:r1", 100, "2025-03-01")
    _line(world, "sf:l1", "sf:o1", "sf:p1", total_price=100)
    world.opportunity("sf:o2", "sf:r1", 0, "2025-03-01")
    _line(world, "sf:l2", "sf:o2", "sf:p3", total_price=0)
    world.opportunity("sf:o3", "sf:r1", 80, "2025-09-01", state="open")
    _line(world, "sf:l3", "sf:o3", "sf:p2", total_price=80)
    # r2: no amount, so the lines make the value: 150 on F1 + 50 on F2 = 200
    world.opportunity("sf:o4", "sf:r2", None, "2025-03-01")
    _line(world, "sf:l4", "sf:o4", "sf:p1", total_price=150)
    _line(world, "sf:l5", "sf:o4", "sf:p2", total_price=50)
    # r3: 400 on F1, the line priced by quantity x unit price only
    world.opportunity("sf:o5", "sf:r3", 400, "2025-03-01")
    _line(world, "sf:l6", "sf:o5", "sf:p1", quantity=4, unit_price=100)
    # r4: a win without amount or lines is worth nothing; r6: a negative amount counts as 0
    world.opportunity("sf:o6", "sf:r4", None, "2025-03-01")
    world.opportunity("sf:o7", "sf:r6", -50, "2025-03-01")
    world.opportunity("sf:o8", "sf:r5", 1000, "2025-03-01")
    _line(world, "sf:l7", "sf:o8", "sf:p2", total_price=1000)
    world.opportunity("sf:o9", "sf:m1", 50, "2025-03-01")
    _line(world, "sf:l8", "sf:o9", "sf:p3", total_price=50)
    # won before the TTM window: neither revenue nor ownership
    world.opportunity("sf:o10", "sf:r4", 999, "2024-06-30")
    _line(world, "sf:l9", "sf:o10", "sf:p1", total_price=999)


def test_wallet_from_crm_field_or_peer_quantile_with_back_off(world: World) -> None:
    _peer_world(world)
    world.analyze(SETTINGS)

    wallets = world.dicts(
        "select account_key, our_revenue_ttm, wallet_estimate, wallet_source, peer_group, "
        "peer_level, peer_count, peer_quantile_spend, is_floored_at_revenue, share, headroom "
        "from kam.wallet_share order by account_key"
    )

    narrow = ("industry x size band: Retail / 50-249", "industry_size", 3)
    retail = ("industry: Retail", "industry", 4)
    everyone = ("all accounts", "all", 5)
    # customers: r1 100, r2 200, r3 400 (Retail 50-249), r5 1000 (Retail <50), m1 50.
    # 0.9 quantiles (linear): [100, 200, 400] -> 200 + 0.8 x 200 = 360;
    # Retail [100, 200, 400, 1000] -> 400 + 0.7 x 600 = 820; all [50 .. 1000] -> 760
    expected = [
        ("sf:m1", 50.0, 50.0, "crm_field", *everyone, 760.0, True, 1.0, 0.0),
        ("sf:m2", 0.0, 760.0, "peer_quantile", *everyone, 760.0, False, 0.0, 760.0),
        ("sf:n1", 0.0, 760.0, "peer_quantile", *everyone, 760.0, False, 0.0, 760.0),
        ("sf:r1", 100.0, 150.0, "crm_field", *narrow, 360.0, False, 2 / 3, 50.0),
        ("sf:r2", 200.0, 360.0, "peer_quantile", *narrow, 360.0, False, 200 / 360, 160.0),
        ("sf:r3", 400.0, 400.0, "peer_quantile", *narrow, 360.0, True, 1.0, 0.0),
        # a CRM wallet of 0 counts as not set
        ("sf:r4", 0.0, 360.0, "peer_quantile", *narrow, 360.0, False, 0.0, 360.0),
        ("sf:r5", 1000.0, 1000.0, "peer_quantile", *retail, 820.0, True, 1.0, 0.0),
        ("sf:r6", 0.0, 820.0, "peer_quantile", *retail, 820.0, False, 0.0, 820.0),
    ]
    columns = list(wallets[0])
    assert wallets == approx_rows([dict(zip(columns, row, strict=True)) for row in expected])


def test_whitespace_status_benchmarks_and_gap_ranks(world: World) -> None:
    _peer_world(world)
    world.analyze(SETTINGS)

    cells = world.dicts(
        "select account_key, product_family, status, our_spend_ttm, open_pipeline_amount, "
        "peer_adoption_rate, peer_median_spend, expected_value, gap_rank "
        "from kam.whitespace order by account_key, product_family"
    )

    # Retail 50-249 (3 customers): F1 owned by r1 100, r2 150, r3 400 -> 3/3, median 150;
    # F2 by r2 50 -> 1/3, median 50; F3 by r1 0 -> 1/3, median 0
    narrow = {"F1": (1.0, 150.0, 150.0), "F2": (1 / 3, 50.0, 50 / 3), "F3": (1 / 3, 0.0, 0.0)}
    # Retail (4): F1 3/4 x 150; F2 r2 50, r5 1000 -> 2/4 x 525; F3 1/4 x 0
    retail = {"F1": (0.75, 150.0, 112.5), "F2": (0.5, 525.0, 262.5), "F3": (0.25, 0.0, 0.0)}
    # all (5): F1 3/5 x 150; F2 2/5 x 525; F3 r1 0, m1 50 -> 2/5 x 25
    everyone = {"F1": (0.6, 150.0, 90.0), "F2": (0.4, 525.0, 210.0), "F3": (0.4, 25.0, 10.0)}

    def cell(
        account: str,
        family: str,
        status: str,
        spend: float,
        pipeline: float,
        peers: dict[str, tuple[float, float, float]],
        rank: int | None,
    ) -> tuple[Any, ...]:
        return (account, family, status, spend, pipeline, *peers[family], rank)

    expected = [
        cell("sf:m1", "F1", "gap", 0.0, 0.0, everyone, 2),
        cell("sf:m1", "F2", "gap", 0.0, 0.0, everyone, 1),
        cell("sf:m1", "F3", "owned", 50.0, 0.0, everyone, None),
        cell("sf:m2", "F1", "gap", 0.0, 0.0, everyone, 2),
        cell("sf:m2", "F2", "gap", 0.0, 0.0, everyone, 1),
        cell("sf:m2", "F3", "gap", 0.0, 0.0, everyone, 3),
        cell("sf:n1", "F1", "gap", 0.0, 0.0, everyone, 2),
        cell("sf:n1", "F2", "gap", 0.0, 0.0, everyone, 1),
        cell("sf:n1", "F3", "gap", 0.0, 0.0, everyone, 3),
        cell("sf:r1", "F1", "owned", 100.0, 0.0, narrow, None),
        cell("sf:r1", "F2", "pipeline", 0.0, 80.0, narrow, None),
        cell("sf:r1", "F3", "owned", 0.0, 0.0, narrow, None),
        cell("sf:r2", "F1", "owned", 150.0, 0.0, narrow, None),
        cell("sf:r2", "F2", "owned", 50.0, 0.0, narrow, None),
        cell("sf:r2", "F3", "gap", 0.0, 0.0, narrow, 1),
        cell("sf:r3", "F1", "owned", 400.0, 0.0, narrow, None),
        cell("sf:r3", "F2", "gap", 0.0, 0.0, narrow, 1),
        cell("sf:r3", "F3", "gap", 0.0, 0.0, narrow, 2),
        # r4's F1 win closed before the TTM window does not make it an owner
        cell("sf:r4", "F1", "gap", 0.0, 0.0, narrow, 1),
        cell("sf:r4", "F2", "gap", 0.0, 0.0, narrow, 2),
        cell("sf:r4", "F3", "gap", 0.0, 0.0, narrow, 3),
        cell("sf:r5", "F1", "gap", 0.0, 0.0, retail, 1),
        cell("sf:r5", "F2", "owned", 1000.0, 0.0, retail, None),
        cell("sf:r5", "F3", "gap", 0.0, 0.0, retail, 2),
        cell("sf:r6", "F1", "gap", 0.0, 0.0, retail, 2),
        cell("sf:r6", "F2", "gap", 0.0, 0.0, retail, 1),
        cell("sf:r6", "F3", "gap", 0.0, 0.0, retail, 3),
    ]
    columns = list(cells[0])
    assert cells == approx_rows([dict(zip(columns, row, strict=True)) for row in expected])


def test_top_gaps_reach_the_score_payload(world: World) -> None:
    _peer_world(world)
    world.analyze(SETTINGS)

    # gaps worth nothing (r3's F3, r4's F3) are not worth a key account manager's attention
    assert world.dicts(
        "select account_key, whitespace_1_family, whitespace_1_value, whitespace_2_family, "
        "whitespace_2_value, whitespace_3_family, whitespace_3_value, focus_product_families "
        "from kam.account_scores where account_key in ('sf:r1', 'sf:r3', 'sf:r4', 'sf:m2') "
        "order by account_key"
    ) == approx_rows(
        [
            {
                "account_key": "sf:m2",
                "whitespace_1_family": "F2",
                "whitespace_1_value": 210.0,
                "whitespace_2_family": "F1",
                "whitespace_2_value": 90.0,
                "whitespace_3_family": "F3",
                "whitespace_3_value": 10.0,
                "focus_product_families": "F2, F1, F3",
            },
            {
                "account_key": "sf:r1",
                "whitespace_1_family": None,
                "whitespace_1_value": None,
                "whitespace_2_family": None,
                "whitespace_2_value": None,
                "whitespace_3_family": None,
                "whitespace_3_value": None,
                "focus_product_families": None,
            },
            {
                "account_key": "sf:r3",
                "whitespace_1_family": "F2",
                "whitespace_1_value": 50 / 3,
                "whitespace_2_family": None,
                "whitespace_2_value": None,
                "whitespace_3_family": None,
                "whitespace_3_value": None,
                "focus_product_families": "F2",
            },
            {
                "account_key": "sf:r4",
                "whitespace_1_family": "F1",
                "whitespace_1_value": 150.0,
                "whitespace_2_family": "F2",
                "whitespace_2_value": 50 / 3,
                "whitespace_3_family": None,
                "whitespace_3_value": None,
                "focus_product_families": "F1, F2",
            },
        ]
    )


def test_without_any_revenue_there_are_no_peers(world: World) -> None:
    world.add("products", product_key="sf:p1", family="F1")
    world.add("accounts", account_key="sf:a", industry="Retail", employees=100)
    world.analyze(SETTINGS)

    assert world.rows(
        "select wallet_estimate, wallet_source, peer_group, share, headroom from kam.wallet_share"
    ) == [(0.0, "peer_quantile", None, None, 0.0)]
    assert world.rows(
        "select status, peer_adoption_rate, expected_value, gap_rank from kam.whitespace"
    ) == [("gap", None, 0.0, 1)]
