"""Configuration of the analytics marts: defaults per SPEC section 6, every mistake named."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import load_config
from sync.cli import main

BASE = """
[warehouse]
path = "kamsync.duckdb"
"""

BAD_ANALYTICS: list[tuple[str, str, str, str]] = [
    (
        "recency-past-window",
        "[analytics]\nengagement_days = 30\n[analytics.health]\nrecency_full_days = 30\n",
        "analytics",
        "health.recency_full_days (30) must be below engagement_days (30)",
    ),
    (
        "decision-maker-weight-range",
        "[analytics.health]\ndecision_maker_weight = 1.5\n",
        "analytics.health.decision_maker_weight",
        "less than or equal to 1",
    ),
    (
        "win-rate-target-zero",
        "[analytics.health]\nwin_rate_target = 0.0\n",
        "analytics.health.win_rate_target",
        "greater than 0",
    ),
    (
        "pipeline-target-negative",
        "[analytics.health]\npipeline_coverage_target = -1.0\n",
        "analytics.health.pipeline_coverage_target",
        "greater than 0",
    ),
    (
        "neutral-score-range",
        "[analytics.health]\nneutral_score = 120.0\n",
        "analytics.health.neutral_score",
        "less than or equal to 100",
    ),
    (
        "explanation-drags-range",
        "[analytics.health]\nexplanation_drags = 0\n",
        "analytics.health.explanation_drags",
        "greater than or equal to 1",
    ),
    (
        "plan-period-unknown",
        "[analytics]\nplan_period = 'week'\n",
        "analytics.plan_period",
        "must be one of month, quarter or year; got 'week'",
    ),
    (
        "review-days-zero",
        "[analytics.review_days]\nkey = 0\n",
        "analytics.review_days.key",
        "greater than 0",
    ),
    (
        "review-days-unknown-tier",
        "[analytics.review_days]\nkye = 10\n",
        "analytics.review_days.kye",
        "unknown key (did you mean 'key'?)",
    ),
    (
        "targets-csv-missing",
        "[analytics]\ntargets_csv = 'no-such-targets.csv'\n",
        "analytics.targets_csv",
        "does not exist",
    ),
]


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [pytest.param(text, key, reason, id=case) for case, text, key, reason in BAD_ANALYTICS],
)
def test_bad_analytics_setting_exits_2_naming_key_and_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, key: str, reason: str
) -> None:
    path = tmp_path / "kamsync.toml"
    path.write_text(BASE + text, encoding="utf-8")

    code = main(["--config", str(path), "config", "check"])

    err = capsys.readouterr().err
    assert code == 2
    assert f"{path}: {key}:" in err
    assert reason in err


def test_analytics_defaults_follow_the_spec(tmp_path: Path) -> None:
    path = tmp_path / "kamsync.toml"
    path.write_text(BASE, encoding="utf-8")

    analytics = load_config(path).analytics

    health = analytics.health
    assert (health.contacts_target_min, health.contacts_target_max) == (3, 5)
    assert health.decision_maker_weight == 0.5
    assert health.recency_full_days == 14
    assert (health.pipeline_coverage_target, health.win_rate_target) == (0.5, 0.5)
    assert health.neutral_score == 50
    assert health.explanation_drags == 2
    assert analytics.plan_period == "quarter"
    review = analytics.review_days
    assert (review.key, review.growth, review.maintain, review.non_key, review.red) == (
        30,
        90,
        180,
        365,
        14,
    )


def test_targets_csv_resolves_against_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "targets.csv").write_text("entity_level\n", encoding="utf-8")
    path = tmp_path / "kamsync.toml"
    path.write_text(BASE + "[analytics]\ntargets_csv = 'targets.csv'\n", encoding="utf-8")

    assert load_config(path).analytics.targets_csv == tmp_path / "targets.csv"
