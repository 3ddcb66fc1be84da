"""The parameters of a run: DuckDB variables and seed tables, all filled with bound values.

Windows end at the as-of date inclusive: the TTM window of 365 days ending 2025-06-30 starts on
2024-07-01, and the prior TTM window is the 365 days before that.  Every value comes from the
validated :class:`config.model.AnalyticsConfig`; nothing a user wrote is formatted into SQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb

from analytics.vocabularies import TIERS
from config.model import AnalyticsConfig


@dataclass(frozen=True)
class Variable:
    """One scalar parameter: its value and the SQL type it is set as."""

    value: object
    sql_type: str


@dataclass(frozen=True)
class RunContext:
    """What identifies a run: its id, when it scored, and the date it looks back from."""

    run_id: str
    scored_at: datetime
    as_of: date


def window_start(as_of: date, days: int) -> date:
    """First day of the ``days``-long window that ends on ``as_of`` (inclusive)."""
    return as_of - timedelta(days=days - 1)


def period_bounds(grain: str, day: date) -> tuple[date, date]:
    """First and last day of the ``grain`` period (week from Monday) that contains ``day``."""
    if grain == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    if grain == "month":
        start = day.replace(day=1)
    elif grain == "quarter":
        start = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    elif grain == "year":
        start = date(day.year, 1, 1)
    else:
        raise ValueError(f"unknown period grain {grain!r}")
    months = {"month": 1, "quarter": 3, "year": 12}[grain]
    year, month = divmod(start.month - 1 + months, 12)
    return start, date(start.year + year, month + 1, 1) - timedelta(days=1)


def period_label(grain: str, start: date) -> str:
    """A period as people write it: 2025-W27, 2025-06, 2025-Q2, 2025."""
    if grain == "week":
        iso = start.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    if grain == "month":
        return f"{start.year}-{start.month:02d}"
    if grain == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return str(start.year)


def variables(config: AnalyticsConfig, run: RunContext) -> dict[str, Variable]:
    """Every scalar parameter the models read with ``{{ var('name') }}``."""
    as_of = run.as_of
    ttm_start = window_start(as_of, config.ttm_days)
    engagement_start = window_start(as_of, config.engagement_days)
    prior_engagement_end = engagement_start - timedelta(days=1)
    plan_start, plan_end = period_bounds(config.plan_period, as_of)
    health = config.health
    keys = config.key_accounts
    values: dict[str, Variable] = {
        "run_id": Variable(run.run_id, "varchar"),
        "scored_at": Variable(run.scored_at, "timestamptz"),
        "as_of_date": Variable(as_of, "date"),
        "ttm_days": Variable(config.ttm_days, "integer"),
        "ttm_start_date": Variable(ttm_start, "date"),
        "prior_ttm_start_date": Variable(
            window_start(ttm_start - timedelta(days=1), config.ttm_days), "date"
        ),
        "prior_ttm_end_date": Variable(ttm_start - timedelta(days=1), "date"),
        "engagement_days": Variable(config.engagement_days, "integer"),
        "engagement_start_date": Variable(engagement_start, "date"),
        "prior_engagement_start_date": Variable(
            window_start(prior_engagement_end, config.engagement_days), "date"
        ),
        "prior_engagement_end_date": Variable(prior_engagement_end, "date"),
        "call_window_start_date": Variable(window_start(as_of, 30), "date"),
        "relationship_days": Variable(config.relationship_days, "integer"),
        "relationship_start_date": Variable(window_start(as_of, config.relationship_days), "date"),
        "size_bands": Variable(list(config.size_bands), "integer[]"),
        "peer_min": Variable(config.peer_min, "integer"),
        "wallet_quantile": Variable(config.wallet_quantile, "double"),
        "pareto_a": Variable(keys.pareto_a, "double"),
        "pareto_b": Variable(keys.pareto_b, "double"),
        "revenue_threshold": Variable(keys.revenue_threshold, "double"),
        "headroom_threshold": Variable(keys.headroom_threshold, "double"),
        "growth_threshold": Variable(keys.growth_threshold, "double"),
        "triage_threshold": Variable(keys.triage_threshold, "double"),
        "health_green": Variable(health.green, "double"),
        "health_amber": Variable(health.amber, "double"),
        "contacts_target_min": Variable(health.contacts_target_min, "integer"),
        "contacts_target_max": Variable(health.contacts_target_max, "integer"),
        "decision_maker_weight": Variable(health.decision_maker_weight, "double"),
        "recency_full_days": Variable(health.recency_full_days, "integer"),
        "pipeline_coverage_target": Variable(health.pipeline_coverage_target, "double"),
        "win_rate_target": Variable(health.win_rate_target, "double"),
        "neutral_score": Variable(health.neutral_score, "double"),
        "explanation_drags": Variable(health.explanation_drags, "integer"),
        "plan_period": Variable(config.plan_period, "varchar"),
        "plan_period_label": Variable(period_label(config.plan_period, plan_start), "varchar"),
        "plan_period_start_date": Variable(plan_start, "date"),
        "plan_period_end_date": Variable(plan_end, "date"),
        "performance_start_date": Variable(date(ttm_start.year, 1, 1), "date"),
        "performance_end_date": Variable(
            date((as_of + timedelta(days=config.ttm_days)).year, 12, 31), "date"
        ),
        "review_days_red": Variable(config.review_days.red, "integer"),
    }
    return values


def set_variables(con: duckdb.DuckDBPyConnection, values: Mapping[str, Variable]) -> None:
    """Set each variable with a bound value, cast to its declared type."""
    for name, variable in values.items():
        con.execute(f"set variable {name} = ?::{variable.sql_type}", [variable.value]).fetchall()


def _create_seed(
    con: duckdb.DuckDBPyConnection,
    name: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[object]],
) -> None:
    ddl = ", ".join(f"{column} {sql_type}" for column, sql_type in columns)
    con.execute(f"create or replace temp table {name} ({ddl})").fetchall()
    if rows:
        marks = ", ".join("?" for _ in columns)
        con.executemany(f"insert into temp.main.{name} values ({marks})", [list(r) for r in rows])


def create_seeds(con: duckdb.DuckDBPyConnection, config: AnalyticsConfig) -> None:
    """The weight and per-tier tables the models join to."""
    _create_seed(
        con,
        "param_triage_weights",
        [("factor", "varchar"), ("weight", "double")],
        list(config.key_accounts.triage_weights.model_dump().items()),
    )
    _create_seed(
        con,
        "param_health_weights",
        [("component", "varchar"), ("weight", "double")],
        list(config.health.weights.model_dump().items()),
    )
    call_targets = config.call_targets.model_dump()
    review_days = config.review_days.model_dump()
    _create_seed(
        con,
        "param_tiers",
        [("tier", "varchar"), ("target_per_month", "double"), ("review_days", "integer")],
        [(tier, call_targets[tier], review_days[tier]) for tier in TIERS],
    )


SEEDS: tuple[str, ...] = (
    "param_triage_weights",
    "param_health_weights",
    "param_tiers",
    "seed_targets",
)
