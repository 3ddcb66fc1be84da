"""Analytics on the generator's world: the planted truth comes back, and the invariants hold.

The emulator serves a generated world; both orgs are synced into one warehouse with
``kamsync sync`` and analysed with ``kamsync analyze`` (the real runner, as of the world's as-of
date).  Every expected value comes from the generator's planted truth
(:mod:`connectors.emulator.truth`, :mod:`connectors.emulator.planting`), never from the
analytics code: tiers, wallets, revenue, last contact, health bands.

The planted tiers of the synced orgs (``ORGS``) are read with
:func:`~connectors.emulator.planting.tiers_within`, which equals the intended tiers when every org
is synced, as here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import pytest

from connectors.emulator.emulator import Emulator
from connectors.emulator.planting import tiers_within
from connectors.emulator.truth import AccountTruth, Truth
from connectors.emulator.world import generate_world
from sync.cli import main
from tests import mart_invariants as invariants
from tests.e2e.world_support import accounts_in, warehouse_key, world_env, write_world_config

SEED = 11
ACCOUNTS = 600
AS_OF = date(2025, 6, 30)
ORGS = ("salesforce", "dynamics")
ACCOUNT_TABLE = {"salesforce": "Account", "dynamics": "account"}


@dataclass
class Analysed:
    """The analysed warehouse and the truth of the synced part of the world."""

    con: duckdb.DuckDBPyConnection
    truth: Truth
    accounts: dict[str, AccountTruth]

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.con.execute(sql).fetchall()

    def one(self, sql: str) -> Any:
        return self.rows(sql)[0][0]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Analysed]:
    """The world's Salesforce org synced and analysed once for the module."""
    directory = tmp_path_factory.mktemp("world")
    generated = generate_world(SEED, ACCOUNTS, AS_OF)
    truth = generated.truth
    with Emulator(world=generated) as emulator:
        config = write_world_config(directory, emulator, ORGS, truth.as_of)
        with pytest.MonkeyPatch.context() as patch:
            for name, value in world_env(emulator, ORGS).items():
                patch.setenv(name, value)
            assert main(["--config", str(config), "sync"]) == 0
            assert main(["--config", str(config), "analyze"]) == 0
    con = duckdb.connect(str(directory / "kamsync.duckdb"), read_only=True)
    yield Analysed(con, truth, accounts_in(truth, ORGS))
    con.close()


# ----------------------------------------------------------------------------- planted truth


def test_the_world_was_analysed_as_of_its_own_date(world: Analysed) -> None:
    assert world.truth.as_of == AS_OF
    assert world.one("select distinct as_of_date from kam.account_scores") == AS_OF


def test_every_planted_tier_comes_back(world: Analysed) -> None:
    expected = tiers_within(world.truth, ORGS)
    assert {"key", "growth", "maintain", "non_key"} <= set(expected.values())
    tiers = dict(world.rows("select account_key, tier from kam.key_accounts"))
    wrong = {
        warehouse_key(account): (tier, tiers[warehouse_key(account)])
        for account in world.accounts.values()
        if (tier := expected.get(account.group)) is not None
        and tiers[warehouse_key(account)] != tier
    }
    assert wrong == {}


def test_groups_are_the_planted_groups(world: Analysed) -> None:
    planted: dict[str, set[str]] = {}
    for key, account in world.accounts.items():
        planted.setdefault(account.group, set()).add(key)
    found: dict[str, set[str]] = {}
    for account_key, group_key in world.rows("select account_key, group_key from kam.key_accounts"):
        found.setdefault(str(group_key), set()).add(str(account_key))
    assert sorted(map(sorted, found.values())) == sorted(map(sorted, planted.values()))


def test_planted_triage_factors_give_the_planted_triage_score(world: Analysed) -> None:
    scores = dict(world.rows("select distinct account_key, triage_score from kam.key_accounts"))
    planted = {
        key: world.truth.groups[account.group].triage_score
        for key, account in world.accounts.items()
        if world.truth.groups[account.group].triage_score is not None
    }
    assert planted
    assert {key: scores[key] for key in planted} == pytest.approx(planted, abs=1e-4)


def test_our_revenue_is_the_planted_revenue(world: Analysed) -> None:
    found = {
        key: (revenue, prior)
        for key, revenue, prior in world.rows(
            "select entity_key, revenue_ttm, revenue_prior_ttm from kam.rollups "
            "where entity_level = 'account'"
        )
    }
    expected = {k: (a.ttm_revenue, a.prior_ttm_revenue) for k, a in world.accounts.items()}
    assert found == expected  # whole currency units: the sums are exact


def test_planted_wallets_come_back_exactly_where_the_crm_field_is_set(world: Analysed) -> None:
    rows = {
        key: (source, ours, wallet, share, headroom)
        for key, source, ours, wallet, share, headroom in world.rows(
            "select account_key, wallet_source, our_revenue_ttm, wallet_estimate, share, headroom "
            "from kam.wallet_share"
        )
    }
    planted = {k: a for k, a in world.accounts.items() if a.wallet_field is not None}
    assert len(planted) > len(world.accounts) / 4
    for key, account in planted.items():
        assert account.wallet_field is not None
        wallet = max(account.wallet_field, account.ttm_revenue)  # never below our revenue
        expected = ("crm_field", account.ttm_revenue, wallet, account.ttm_revenue / wallet)
        assert rows[key][:4] == expected, key
        assert rows[key][4] == wallet - account.ttm_revenue, key
    unplanted = {k for k in world.accounts if k not in planted}
    assert {rows[k][0] for k in unplanted} == {"peer_quantile"}


def test_last_contact_is_the_planted_one(world: Analysed) -> None:
    found = dict(world.rows("select account_key, last_contact_date from kam.call_frequency"))
    expected = {k: a.last_contact_date for k, a in world.accounts.items()}
    assert found == expected


def test_planted_neglected_accounts_are_red_and_active_ones_green(world: Analysed) -> None:
    planted = {
        warehouse_key(world.truth.accounts[k]): band
        for k, band in world.truth.planted_health().items()
        if world.truth.accounts[k].org in ORGS
    }
    assert {"red", "green"} <= set(planted.values())
    bands = dict(world.rows("select account_key, health_band from kam.account_health"))
    assert {key: bands[key] for key in planted} == planted
    for key, band in planted.items():
        rhythm = world.accounts[key].rhythm
        assert rhythm == ("neglected" if band == "red" else "weekly"), key


# ----------------------------------------------------------------------------- invariants

PER_ACCOUNT_MARTS = (
    "key_accounts",
    "wallet_share",
    "account_health",
    "call_frequency",
    "account_hierarchy",
    "account_scores",
)


@pytest.mark.parametrize("mart", PER_ACCOUNT_MARTS)
def test_one_row_per_live_account(world: Analysed, mart: str) -> None:
    live = sum(world.truth.counts[org][ACCOUNT_TABLE[org]]["live"] for org in ORGS)
    assert len(world.accounts) == live
    keys = [r[0] for r in world.rows(f"select account_key from kam.{mart}")]
    assert len(keys) == live
    assert set(keys) == set(world.accounts)


@pytest.mark.parametrize(("table", "column"), invariants.SHARES_AND_RATES)
def test_shares_and_rates_lie_within_0_and_1(world: Analysed, table: str, column: str) -> None:
    invariants.assert_within_0_and_1(world.con, table, column)


def test_scores_lie_within_their_scales(world: Analysed) -> None:
    invariants.assert_scores_within_their_scales(world.con)


def test_health_weights_sum_to_1_and_the_score_is_their_weighted_mean(world: Analysed) -> None:
    invariants.assert_health_is_the_weighted_mean_of_its_components(world.con, len(world.accounts))


def test_triage_scores_weigh_the_four_factors_with_weights_summing_to_1(world: Analysed) -> None:
    # the default weights of SPEC section 6 (0.30, 0.20, 0.25, 0.25) sum to 1; every group's
    # score is their weighted sum of its four factor scores
    rows = world.rows(
        "select triage_score, market_position_score, innovation_orientation_score, "
        "strategy_influence_score, operational_complexity_score from kam.account_groups"
    )
    weights = (0.30, 0.20, 0.25, 0.25)
    assert sum(weights) == pytest.approx(1.0)
    for score, *factors in rows:
        assert isinstance(score, float)
        weighted = sum(w * float(f) for w, f in zip(weights, factors, strict=True))
        assert score == pytest.approx(weighted, abs=1e-4)


@pytest.mark.parametrize("metric", invariants.ADDITIVE_ROLLUP_METRICS)
def test_every_rollup_level_sums_to_its_leaves(world: Analysed, metric: str) -> None:
    invariants.assert_rollup_levels_sum_to_their_leaves(world.con, metric)


def test_the_revenue_rollup_equals_the_planted_total(world: Analysed) -> None:
    total = sum(a.ttm_revenue for a in world.accounts.values())
    assert world.one(
        "select revenue_ttm from kam.rollups where entity_level = 'global'"
    ) == pytest.approx(total)


def test_rollup_ratios_are_recomputed_from_sums(world: Analysed) -> None:
    invariants.assert_rollup_ratios_are_recomputed_from_sums(world.con)


def test_groups_sum_their_members_and_the_planted_group_revenue(world: Analysed) -> None:
    invariants.assert_groups_sum_their_members(world.con)
    planted: dict[str, float] = {}
    for account in world.accounts.values():
        planted[account.group] = planted.get(account.group, 0.0) + account.ttm_revenue
    by_account = dict(
        world.rows(
            "select k.account_key, g.revenue_ttm from kam.key_accounts k "
            "join kam.account_groups g using (group_key)"
        )
    )
    found = {a.group: by_account[k] for k, a in world.accounts.items()}
    assert found == pytest.approx(planted)
