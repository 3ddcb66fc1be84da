"""The runner: one transaction, documented marts, dependency order, history, run records."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime

import pytest

from analytics.docs import load_docs
from analytics.models import Model, build_order, discover, render
from analytics.params import SEEDS
from config.errors import RunFailedError
from tests.sql.conftest import World

BROKEN = Model(
    "zz_broken",
    "marts",
    "select cast(account_key as integer) as boom from {{ ref('whitespace') }}",
    "table",
)
_VAR_NAMES = re.compile(r"var\('([a-z0-9_]+)'\)")
_ENUM_LITERAL = re.compile(r"\benum\((?:\s*'[^']*'\s*,)+\s*'[^']*'\s*\)")
"""An inline enum of two or more words; ``{{ enum('name') }}`` names one vocabulary."""


def _small_world(world: World) -> None:
    world.add("products", product_key="sf:p1", family="F1")
    world.add("accounts", account_key="sf:a", industry="Retail", employees=100)
    world.add("accounts", account_key="sf:b", industry="Retail", employees=100)
    world.add(
        "opportunities",
        opportunity_key="sf:o1",
        account_key="sf:a",
        amount=100,
        is_closed=True,
        is_won=True,
        close_date="2025-05-01",
    )
    world.add(
        "opportunity_lines",
        line_key="sf:l1",
        opportunity_key="sf:o1",
        product_key="sf:p1",
        total_price=100,
    )


def _snapshot(world: World) -> dict[str, list[tuple[object, ...]]]:
    marts = [
        r[0]
        for r in world.rows(
            "select table_name from duckdb_tables() where schema_name = 'kam' order by 1"
        )
    ]
    return {m: sorted(world.rows(f"select * from kam.{m}"), key=repr) for m in marts}


def test_a_failing_model_leaves_the_previous_marts_intact(world: World) -> None:
    _small_world(world)
    world.analyze({"peer_min": 1})
    before = _snapshot(world)
    # new data that would change whitespace, which is rebuilt before the broken model fails
    world.add("accounts", account_key="sf:c", industry="Retail", employees=100)

    with pytest.raises(RunFailedError, match=r"model marts/zz_broken: .*Conversion Error"):
        world.analyze(
            {"peer_min": 1},
            models=[*discover(), BROKEN],
            now=datetime(2025, 6, 30, 19, 0, tzinfo=UTC),
        )

    assert _snapshot(world) == before
    assert world.rows(
        "select job, status, error like '%zz_broken%' from ops.sync_runs order by started_at"
    ) == [("analyze", "succeeded", None), ("analyze", "failed", True)]
    assert world.rows("select count(*) from duckdb_tables() where temporary") == [(0,)]


def test_every_kam_table_and_column_has_a_comment(world: World) -> None:
    _small_world(world)
    world.analyze()

    tables = world.rows(
        "select table_name, comment from duckdb_tables() where schema_name = 'kam' order by 1"
    )
    undocumented = world.rows(
        "select table_name || '.' || column_name from duckdb_columns() "
        "where schema_name = 'kam' and coalesce(comment, '') = ''"
    )
    assert {name for name, _ in tables} == set(load_docs())
    assert all(comment for _, comment in tables)
    assert undocumented == []


def test_a_mart_column_without_documentation_fails_the_build(world: World) -> None:
    _small_world(world)
    docs = load_docs()
    columns = dict(docs["wallet_share"].columns)
    del columns["headroom"]
    docs["wallet_share"] = dataclasses.replace(docs["wallet_share"], columns=columns)

    with pytest.raises(
        RunFailedError, match=r"\[wallet_share\]: undocumented column\(s\) headroom"
    ):
        world.analyze(docs=docs)


def test_score_history_gets_one_snapshot_per_run_and_runs_are_recorded(world: World) -> None:
    _small_world(world)
    first = world.analyze(now=datetime(2025, 6, 30, 8, 0, tzinfo=UTC))
    second = world.analyze(now=datetime(2025, 6, 30, 9, 0, tzinfo=UTC))

    assert world.rows(
        "select run_id, count(*) from kam.score_history group by run_id order by run_id"
    ) == sorted([(first.run_id, 2), (second.run_id, 2)])
    assert world.rows(
        "select run_id, job, status, rows_written, error from ops.sync_runs order by started_at"
    ) == [
        (first.run_id, "analyze", "succeeded", first.rows_written, None),
        (second.run_id, "analyze", "succeeded", second.rows_written, None),
    ]
    assert first.mart_rows["score_history"] == 2
    assert first.mart_rows["account_scores"] == 2
    # every model is timed, in wall and in CPU time (the benchmark ranks models by the latter)
    assert set(first.cpu_seconds) == set(first.seconds) >= set(first.mart_rows)
    assert all(cpu >= 0.0 for cpu in first.cpu_seconds.values())


def test_models_are_ordered_by_their_references() -> None:
    order = [m.name for m in build_order(discover(), SEEDS)]

    for model in discover():
        for ref in model.refs - set(SEEDS):
            assert order.index(ref) < order.index(model.name), (ref, model.name)
    assert order[-1] == "score_history"


@pytest.mark.parametrize(
    ("models", "message"),
    [
        (
            [Model("a", "marts", "select * from {{ ref('nope') }}", "table")],
            "model 'a' refers to unknown nope",
        ),
        (
            [
                Model("a", "marts", "select * from {{ ref('b') }}", "table"),
                Model("b", "marts", "select * from {{ ref('a') }}", "table"),
            ],
            "models refer to each other in a cycle",
        ),
        (
            [Model("a", "marts", "select 1", "table"), Model("a", "staging", "select 1", "table")],
            "two models are called 'a'",
        ),
    ],
)
def test_bad_model_graphs_are_refused(models: list[Model], message: str) -> None:
    with pytest.raises(RunFailedError, match=message):
        build_order(models, SEEDS)


def test_a_misspelt_variable_is_an_error_not_a_null() -> None:
    model = Model("a", "marts", "select {{ var('as_of_dat') }} as d", "table")

    with pytest.raises(RunFailedError, match="model 'a' reads unknown variable as_of_dat"):
        render(model, {}, ["as_of_date"])


def test_an_enum_is_rendered_from_its_one_vocabulary_alphabetically() -> None:
    model = Model("a", "marts", "select cast('b' as {{ enum('letters') }}) as x", "table")

    assert render(model, {}, [], {"letters": ("c", "a", "b")}) == (
        "select cast('b' as enum('a', 'b', 'c')) as x"
    )


def test_a_misspelt_enum_is_an_error() -> None:
    model = Model("a", "marts", "select cast('week' as {{ enum('period_grian') }}) as g", "table")

    with pytest.raises(RunFailedError, match="model 'a' uses unknown enum period_grian"):
        render(model, {}, [])


def test_every_vocabulary_the_models_name_exists_and_no_enum_literal_repeats() -> None:
    literals: list[str] = []
    for model in discover():
        render(model, {name: name for name in model.refs}, _VAR_NAMES.findall(model.sql))
        literals += [" ".join(found.split()) for found in _ENUM_LITERAL.findall(model.sql)]
    assert sorted(set(literals)) == sorted(literals)
