"""Account health, its components and explanation, call frequency, change between runs."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from tests.sql.conftest import World, approx_rows

# tiers by revenue alone: class A with revenue >= 1000 is key, every other triaged group
# maintains (no headroom or growth can reach these thresholds)
SETTINGS = {
    "key_accounts": {
        "revenue_threshold": 1000.0,
        "headroom_threshold": 1e12,
        "growth_threshold": 10.0,
    }
}
FACTORS_HIGH = {
    f"{f}_score": 8.0
    for f in (
        "market_position",
        "innovation_orientation",
        "strategy_influence",
        "operational_complexity",
    )
}
FACTORS_LOW = dict.fromkeys(FACTORS_HIGH, 3.0)


def _activity(
    world: World,
    key: str,
    account: str,
    kind: str,
    day: str,
    contact: str | None = None,
    *,
    done: bool = True,
) -> None:
    world.add(
        "activities",
        activity_key=key,
        account_key=account,
        contact_key=contact,
        activity_type=kind,
        activity_date=day,
        is_completed=done,
    )


def _health_world(world: World) -> None:
    # h1: an active key account
    world.add("accounts", account_key="sf:h1", **FACTORS_HIGH)
    for contact, dm in (
        ("k1", True),
        ("k2", True),
        ("k3", False),
        ("k4", False),
        ("k5", False),
        ("k6", True),
    ):
        world.add(
            "contacts",
            contact_key=f"sf:{contact}",
            account_key="sf:h1",
            buying_role="decision_maker" if dm else "user",
            is_decision_maker=dm,
        )
    activities: tuple[tuple[str, str, str, str | None], ...] = (
        ("t1", "call", "2025-06-28", "k1"),
        ("t2", "meeting", "2025-06-20", "k2"),
        ("t3", "visit", "2025-06-10", "k3"),
        ("t4", "email", "2025-06-05", "k4"),
        ("t5", "call", "2025-05-15", "k1"),
        ("t6", "call", "2025-04-10", "k5"),
        ("t7", "call", "2025-03-01", "k1"),
        ("t8", "meeting", "2025-02-01", "k2"),
        ("t9", "task", "2025-06-25", None),
        ("t12", "call", "2024-12-01", "k3"),
    )
    for key, kind, day, who in activities:
        _activity(world, f"sf:{key}", "sf:h1", kind, day, f"sf:{who}" if who else None)
    _activity(world, "sf:t10", "sf:h1", "call", "2025-06-29", "sf:k6", done=False)
    _activity(world, "sf:t11", "sf:h1", "call", "2025-07-05", "sf:k6")  # after the as-of date
    world.opportunity("sf:o1", "sf:h1", 10000, "2025-03-01")
    world.opportunity("sf:o2", "sf:h1", 8000, "2024-03-01")
    world.opportunity("sf:o3", "sf:h1", 700, "2025-02-01", state="lost")
    world.opportunity("sf:o4", "sf:h1", 3000, "2025-09-30", state="open")
    # h2: neglected, maintain
    world.add("accounts", account_key="sf:h2", **FACTORS_HIGH)
    for contact in ("d1", "d2", "d3", "d4"):
        world.add(
            "contacts",
            contact_key=f"sf:{contact}",
            account_key="sf:h2",
            buying_role="decision_maker",
            is_decision_maker=True,
        )
    world.add("contacts", contact_key="sf:d5", account_key="sf:h2", buying_role="influencer")
    _activity(world, "sf:u1", "sf:h2", "call", "2025-03-28", "sf:d1")
    _activity(world, "sf:u2", "sf:h2", "meeting", "2025-02-15", "sf:d1")
    _activity(world, "sf:u3", "sf:h2", "email", "2025-01-10", "sf:d5")
    world.opportunity("sf:o5", "sf:h2", 2000, "2024-09-01")
    world.opportunity("sf:o6", "sf:h2", 4000, "2024-01-01")
    # h3: nothing at all, non-key
    world.add("accounts", account_key="sf:h3", **FACTORS_LOW)


def test_components_raw_values_scores_and_weights(world: World) -> None:
    _health_world(world)
    world.analyze(SETTINGS)

    rows = world.dicts(
        "select account_key, component, raw_value, score, weight, drag, detail "
        "from kam.account_health_components order by account_key, component"
    )

    def row(
        account: str, component: str, raw: float | None, score: float, weight: float, detail: str
    ) -> dict[str, Any]:
        return {
            "account_key": account,
            "component": component,
            "raw_value": raw,
            "score": score,
            "weight": weight,
            "drag": (100 - score) * weight,
            "detail": detail,
        }

    expected = [
        # h1: 6 contacts in the last 90 days against 2 before; 5 people and 2 of 3 decision
        # makers engaged in 180 days (key target: 5); pipeline 3,000 on 10,000 revenue;
        # 1 won and 1 lost; revenue 10,000 against 8,000
        row(
            "sf:h1",
            "activity_trend",
            3.0,
            100.0,
            0.15,
            "contacts steady or up: 6 in the last 90 days against 2 before",
        ),
        row("sf:h1", "engagement_recency", 2.0, 100.0, 0.25, "last contact 2 days ago"),
        row(
            "sf:h1",
            "pipeline_coverage",
            0.3,
            60.0,
            0.15,
            "open pipeline covers 30% of TTM revenue (target 50%)",
        ),
        row(
            "sf:h1",
            "relationship_breadth",
            5.0,
            100 * (0.5 + 0.5 * 2 / 3),
            0.20,
            "only 2 of 3 decision makers engaged",
        ),
        row("sf:h1", "revenue_trend", 0.25, 100.0, 0.15, "revenue up 25% on the 365 days before"),
        row(
            "sf:h1",
            "win_rate",
            0.5,
            100.0,
            0.10,
            "won 1 of 2 opportunities closed in the last 365 days",
        ),
        # h2: last contact 2025-03-28, 94 days ago; nothing in the last 90 days against 3;
        # 2 people and 1 of 4 decision makers engaged (target 3); no pipeline; revenue halved
        row(
            "sf:h2",
            "activity_trend",
            0.0,
            0.0,
            0.15,
            "contacts down from 3 to 0 (last 90 days against the 90 before)",
        ),
        row("sf:h2", "engagement_recency", 94.0, 0.0, 0.25, "no contact in 94 days"),
        row("sf:h2", "pipeline_coverage", 0.0, 0.0, 0.15, "no open pipeline"),
        row(
            "sf:h2",
            "relationship_breadth",
            2.0,
            100 * (0.5 * 2 / 3 + 0.5 * 1 / 4),
            0.20,
            "only 1 of 4 decision makers engaged, only 2 of 3 target contacts engaged in 180 days",
        ),
        row("sf:h2", "revenue_trend", -0.5, 50.0, 0.15, "revenue down 50% on the 365 days before"),
        row(
            "sf:h2",
            "win_rate",
            1.0,
            100.0,
            0.10,
            "won 1 of 1 opportunities closed in the last 365 days",
        ),
        # h3: an account with no activity, contact or opportunity at all
        row("sf:h3", "activity_trend", None, 0.0, 0.15, "no contact in the last 180 days"),
        row("sf:h3", "engagement_recency", None, 0.0, 0.25, "no contact on record"),
        row("sf:h3", "pipeline_coverage", None, 0.0, 0.15, "no open pipeline"),
        row(
            "sf:h3",
            "relationship_breadth",
            0.0,
            0.0,
            0.20,
            "no decision maker on file, nobody engaged in 180 days (target 3 contacts)",
        ),
        row("sf:h3", "revenue_trend", None, 50.0, 0.15, "no revenue in the last 730 days"),
        row("sf:h3", "win_rate", None, 50.0, 0.10, "no opportunity closed in the last 365 days"),
    ]
    assert rows == approx_rows(expected)


def test_score_band_and_explanation_naming_the_biggest_drags(world: World) -> None:
    _health_world(world)
    world.analyze(SETTINGS)

    assert world.dicts(
        "select account_key, health_score, health_band, explanation, biggest_drag, "
        "previous_health_score, health_score_change from kam.account_health "
        "order by account_key"
    ) == [
        # 25 + 15 + 0.2 x 83.33 + 0.15 x 60 + 10 + 15 = 90.67
        {
            "account_key": "sf:h1",
            "health_score": 90.7,
            "health_band": "green",
            "explanation": "Open pipeline covers 30% of TTM revenue (target 50%); "
            "only 2 of 3 decision makers engaged.",
            "biggest_drag": "pipeline_coverage",
            "previous_health_score": None,
            "health_score_change": None,
        },
        # 0.2 x 45.83 + 10 + 0.15 x 50 = 26.67; trend and pipeline both cost 15 points, trend
        # is listed first
        {
            "account_key": "sf:h2",
            "health_score": 26.7,
            "health_band": "red",
            "explanation": "No contact in 94 days; contacts down from 3 to 0 "
            "(last 90 days against the 90 before).",
            "biggest_drag": "engagement_recency",
            "previous_health_score": None,
            "health_score_change": None,
        },
        # only the neutral win rate and revenue trend score: 0.1 x 50 + 0.15 x 50 = 12.5
        {
            "account_key": "sf:h3",
            "health_score": 12.5,
            "health_band": "red",
            "explanation": "No contact on record; no decision maker on file, nobody engaged in "
            "180 days (target 3 contacts).",
            "biggest_drag": "engagement_recency",
            "previous_health_score": None,
            "health_score_change": None,
        },
    ]


def test_call_frequency_against_tier_targets(world: World) -> None:
    _health_world(world)
    world.analyze(SETTINGS)

    rows = world.dicts(
        "select account_key, tier, target_per_month, actual_last_30d, compliance_window_days, "
        "touches_in_window, compliance, last_contact_date, days_since_last_contact, "
        "last_touch_date, touch_interval_days, next_due_date, is_overdue, days_overdue, "
        "decision_makers_on_file, decision_makers_engaged, decision_maker_coverage "
        "from kam.call_frequency order by account_key"
    )

    assert rows == approx_rows(
        [
            # key, 4 a month: the call, meeting and visit of June count, the e-mail does not,
            # nor the open call or the one dated after the as-of date
            {
                "account_key": "sf:h1",
                "tier": "key",
                "target_per_month": 4.0,
                "actual_last_30d": 3,
                "compliance_window_days": 30,
                "touches_in_window": 3,
                "compliance": 0.75,
                "last_contact_date": date(2025, 6, 28),
                "days_since_last_contact": 2,
                "last_touch_date": date(2025, 6, 28),
                "touch_interval_days": 8,
                "next_due_date": date(2025, 7, 6),
                "is_overdue": False,
                "days_overdue": 0,
                "decision_makers_on_file": 3,
                "decision_makers_engaged": 2,
                "decision_maker_coverage": 2 / 3,
            },
            # maintain, one a quarter: measured over 90 days; due 90 days after 2025-03-28
            {
                "account_key": "sf:h2",
                "tier": "maintain",
                "target_per_month": 1 / 3,
                "actual_last_30d": 0,
                "compliance_window_days": 90,
                "touches_in_window": 0,
                "compliance": 0.0,
                "last_contact_date": date(2025, 3, 28),
                "days_since_last_contact": 94,
                "last_touch_date": date(2025, 3, 28),
                "touch_interval_days": 90,
                "next_due_date": date(2025, 6, 26),
                "is_overdue": True,
                "days_overdue": 4,
                "decision_makers_on_file": 4,
                "decision_makers_engaged": 1,
                "decision_maker_coverage": 0.25,
            },
            # non-key: no target, nothing due
            {
                "account_key": "sf:h3",
                "tier": "non_key",
                "target_per_month": 0.0,
                "actual_last_30d": 0,
                "compliance_window_days": 90,
                "touches_in_window": 0,
                "compliance": None,
                "last_contact_date": None,
                "days_since_last_contact": None,
                "last_touch_date": None,
                "touch_interval_days": None,
                "next_due_date": None,
                "is_overdue": False,
                "days_overdue": None,
                "decision_makers_on_file": 0,
                "decision_makers_engaged": 0,
                "decision_maker_coverage": None,
            },
        ]
    )


def test_a_key_account_never_touched_is_due_now_and_overdue(world: World) -> None:
    world.add("accounts", account_key="sf:k", **FACTORS_HIGH)
    world.opportunity("sf:o", "sf:k", 5000, "2025-05-01")
    world.analyze(SETTINGS)

    assert world.rows(
        "select tier, next_due_date, is_overdue, days_overdue from kam.call_frequency"
    ) == [("key", date(2025, 6, 30), True, None)]


def test_change_since_previous_run_and_score_history(world: World) -> None:
    _health_world(world)
    first = world.analyze(SETTINGS, now=datetime(2025, 6, 30, 8, 0, tzinfo=UTC))
    # h2 gets a call today: recency 100, trend 1 against 3, 3 people engaged
    _activity(world, "sf:u4", "sf:h2", "call", "2025-06-30", "sf:d2")
    second = world.analyze(SETTINGS, now=datetime(2025, 6, 30, 9, 0, tzinfo=UTC))

    # h2 now: recency 100 (25), trend 1/3 (0.15 x 33.33 = 5), breadth 0.5 x 1 + 0.5 x 2/4 = 75
    # (15), pipeline 0, win 100 (10), revenue 50 (7.5) -> 62.5
    assert world.rows(
        "select account_key, health_score, previous_health_score, previous_health_band, "
        "health_score_change, previous_scored_at from kam.account_health order by account_key"
    ) == [
        ("sf:h1", 90.7, 90.7, "green", 0.0, first.scored_at),
        ("sf:h2", 62.5, 26.7, "red", 35.8, first.scored_at),
        ("sf:h3", 12.5, 12.5, "red", 0.0, first.scored_at),
    ]
    history = world.rows(
        "select run_id, account_key, health_score, health_band from kam.score_history "
        "order by scored_at, account_key"
    )
    assert history == [
        (first.run_id, "sf:h1", 90.7, "green"),
        (first.run_id, "sf:h2", 26.7, "red"),
        (first.run_id, "sf:h3", 12.5, "red"),
        (second.run_id, "sf:h1", 90.7, "green"),
        (second.run_id, "sf:h2", 62.5, "amber"),
        (second.run_id, "sf:h3", 12.5, "red"),
    ]


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        # all weight on recency: h1 contacted 2 days ago scores 100, h2 94 days ago 0
        ({"engagement_recency": 1.0}, [100.0, 0.0, 0.0]),
        # all weight on win rate: h1 1 of 2 at target 50% -> 100; nothing closed -> neutral 50
        ({"win_rate": 1.0}, [100.0, 100.0, 50.0]),
    ],
)
def test_health_weights_come_from_config(
    world: World, weights: dict[str, float], expected: list[float]
) -> None:
    _health_world(world)
    names = (
        "engagement_recency",
        "activity_trend",
        "relationship_breadth",
        "pipeline_coverage",
        "win_rate",
        "revenue_trend",
    )
    all_weights = {name: weights.get(name, 0.0) for name in names}
    world.analyze({**SETTINGS, "health": {"weights": all_weights}})

    scores = [
        r[0] for r in world.rows("select health_score from kam.account_health order by 1 desc")
    ]
    assert scores == sorted(expected, reverse=True)
