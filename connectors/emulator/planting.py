"""Planting after the history is written: group metrics, tiers, wallet fields, health bands.

Tiers are planted by *selection*: once every account's revenue is known, the planter measures each
group, and for about 30% of the groups whose numbers sit far from every threshold of the tier rule
(:mod:`connectors.emulator.truth`) it writes triage factors on the group's top accounts that put
the triage score far from 6 as well, and records the tier the rule then gives.  Groups whose tier
depends on wallet headroom get the wallet field on every member.  Other accounts get the wallet
field until about a third of all accounts have one, bigger accounts more often.
"""

from __future__ import annotations

import math
import random
from collections.abc import Collection
from dataclasses import dataclass

from connectors.emulator.plan import AccountPlan, GroupPlan
from connectors.emulator.truth import (
    GROWTH_THRESHOLD,
    HEADROOM_THRESHOLD,
    PARETO_A,
    REVENUE_THRESHOLD,
    TRIAGE_THRESHOLD,
    Truth,
    triage_score,
)
from connectors.emulator.writers import triage_names, wallet_name

PLANTED_SHARE = 0.30
WALLET_SHARE = 1 / 3
HIGH_TRIAGE_ODDS = 0.75
# margins of safety around each threshold of the tier rule
KEY_MAX_CUM_BEFORE = PARETO_A - 0.10
KEY_MIN_REVENUE = REVENUE_THRESHOLD * 1.5
NOT_KEY_MAX_REVENUE = REVENUE_THRESHOLD * 0.6
NOT_KEY_MIN_CUM_BEFORE = PARETO_A + 0.10
GROWTH_MIN_HEADROOM = HEADROOM_THRESHOLD * 1.6
GROWTH_MIN_RATE = GROWTH_THRESHOLD + 0.15
GROWTH_MIN_PRIOR = 20_000.0
MAINTAIN_MAX_HEADROOM = HEADROOM_THRESHOLD * 0.5
MAINTAIN_MAX_RATE = GROWTH_THRESHOLD - 0.10


@dataclass(slots=True)
class GroupMetrics:
    """The numbers of the tier rule for one group."""

    key: str
    group: GroupPlan
    revenue: float
    prior: float
    cum_before: float = 0.0

    @property
    def growth(self) -> float | None:
        """Year-over-year revenue growth, None without prior revenue."""
        if self.prior <= 0:
            return None
        return (self.revenue - self.prior) / self.prior


def group_key(group: GroupPlan) -> str:
    """``global:<match key>`` for groups with one, else the ultimate parent's account key."""
    if group.duns is not None:
        return f"global:{group.duns}"
    if group.kind == "cycle":
        return f"cycle:{group.members[0].key}"
    return group.members[0].key


def measure(groups: list[GroupPlan]) -> list[GroupMetrics]:
    """Revenue per group and the Pareto cumulative share before each group."""
    metrics = [
        GroupMetrics(
            group_key(g), g, sum(m.ttm for m in g.members), sum(m.prior for m in g.members)
        )
        for g in groups
    ]
    ranked = sorted(metrics, key=lambda m: (-m.revenue, m.key))
    total = sum(m.revenue for m in ranked) or 1.0
    running = 0.0
    for metric in ranked:
        metric.cum_before = running / total
        running += metric.revenue
    return metrics


def settle_wallets(rng: random.Random, accounts: list[AccountPlan]) -> dict[int, float]:
    """Make each true wallet cover our revenue; draw the CRM estimate each account would carry."""
    estimates: dict[int, float] = {}
    for account in accounts:
        account.wallet = float(
            round(max(account.wallet, account.ttm * 1.05, account.prior, 1000.0))
        )
        noisy = account.wallet * rng.lognormvariate(0.0, 0.15)
        estimates[account.index] = float(max(1000, round(noisy, -3)))
    return estimates


def headroom(group: GroupPlan, estimates: dict[int, float]) -> float:
    """CRM headroom if every member carried its wallet estimate."""
    return sum(max(0.0, estimates[m.index] - m.ttm) for m in group.members)


def clear_tier(metric: GroupMetrics, room: float) -> str | None:
    """The tier a high-triage group clearly gets, or None when it is near a threshold."""
    return _clear_tier(metric.revenue, metric.prior, metric.cum_before, room)


def _clear_tier(revenue: float, prior: float, cum_before: float, room: float) -> str | None:
    if cum_before < KEY_MAX_CUM_BEFORE and revenue >= KEY_MIN_REVENUE:
        return "key"
    clearly_not_key = revenue <= NOT_KEY_MAX_REVENUE or cum_before >= NOT_KEY_MIN_CUM_BEFORE
    if not clearly_not_key:
        return None
    growth = (revenue - prior) / prior if prior > 0 else None
    fast = growth is not None and growth >= GROWTH_MIN_RATE and prior >= GROWTH_MIN_PRIOR
    if room >= GROWTH_MIN_HEADROOM or fast:
        return "growth"
    if room <= MAINTAIN_MAX_HEADROOM and growth is not None and growth <= MAINTAIN_MAX_RATE:
        return "maintain"
    return None


def _factors(rng: random.Random, high: bool) -> tuple[int, int, int, int]:
    low, top = (7, 10) if high else (1, 5)
    factors = (
        rng.randint(low, top),
        rng.randint(low, top),
        rng.randint(low, top),
        rng.randint(low, top),
    )
    score = triage_score(factors)
    assert (score >= TRIAGE_THRESHOLD + 1) if high else (score <= TRIAGE_THRESHOLD - 1)
    return factors


def _set_triage(group: GroupPlan, factors: tuple[int, int, int, int]) -> None:
    for root in group.roots():
        assert root.row is not None
        root.triage = factors
        for name, value in zip(triage_names(root.org), factors, strict=True):
            root.row[name] = value


def _set_wallet(account: AccountPlan, value: float) -> None:
    assert account.row is not None
    account.wallet_field = value
    account.row[wallet_name(account.org)] = value


def plant_tiers(
    rng: random.Random,
    metrics: list[GroupMetrics],
    estimates: dict[int, float],
    excluded: set[int],
) -> None:
    """Choose ~30% of groups, write their triage factors, record their intended tier."""
    eligible = [m for m in metrics if m.group.kind != "cycle" and m.group.index not in excluded]
    clear = [clear_tier(m, headroom(m.group, estimates)) for m in eligible]
    # clearly key groups are rare: consider them first, the rest in random order
    keys = [i for i, tier in enumerate(clear) if tier == "key"]
    rest = [i for i, tier in enumerate(clear) if tier != "key"]
    rng.shuffle(keys)
    rng.shuffle(rest)
    wanted = round(PLANTED_SHARE * len(eligible))
    planted = 0
    for position in keys + rest:
        if planted >= wanted:
            break
        metric = eligible[position]
        group = metric.group
        if rng.random() >= HIGH_TRIAGE_ODDS:
            group.intended_tier = "non_key"
            _set_triage(group, _factors(rng, high=False))
            planted += 1
            continue
        tier = clear[position]
        if tier is None:
            continue
        group.intended_tier = tier
        _set_triage(group, _factors(rng, high=True))
        for member in group.members:
            _set_wallet(member, estimates[member.index])
        planted += 1


def fill_wallets(
    rng: random.Random, accounts: list[AccountPlan], estimates: dict[int, float]
) -> None:
    """Give more accounts the wallet field until about a third have it (bigger ones first)."""
    have = sum(1 for a in accounts if a.wallet_field is not None)
    wanted = round(WALLET_SHARE * len(accounts)) - have
    if wanted <= 0:
        return
    keyed: list[tuple[float, int]] = []
    for account in accounts:
        if account.wallet_field is not None or account.group.kind == "cycle":
            continue
        weight = 1.0 + math.log10(max(account.wallet, 10.0))
        keyed.append((rng.random() ** (1.0 / weight), account.index))
    keyed.sort(reverse=True)
    by_index = {a.index: a for a in accounts}
    for _key, index in keyed[:wanted]:
        _set_wallet(by_index[index], estimates[index])


def verified_health(account: AccountPlan) -> str | None:
    """The planned health band if the written history really makes it clear, else None."""
    closed = account.won + account.lost
    win_rate = account.won / closed if closed else 0.0
    if account.health == "green":
        dms = sum(1 for c in account.contacts if c.dm)
        checks: tuple[bool, ...] = (
            account.last_contact is not None and account.last_contact >= -6,
            len(account.engaged) >= 5,
            dms >= 1 and len(account.engaged_dm) == dms,
            account.c90 >= account.c180 - account.c90,
            account.ttm > 0 and account.open_pipeline >= account.ttm,
            account.prior > 0 and account.ttm >= 1.15 * account.prior,
            win_rate >= 0.7,
        )
        return "green" if all(checks) else None
    if account.health == "red":
        checks = (
            account.last_contact is None or account.last_contact <= -150,
            account.c180 == 0,
            account.open_pipeline == 0,
            account.prior > 0 and account.ttm <= 0.4 * account.prior,
            win_rate <= 0.5,
        )
        return "red" if all(checks) else None
    return None


def tiers_within(truth: Truth, orgs: Collection[str]) -> dict[str, str]:
    """Group key -> the tier the planting intends when only ``orgs`` are synced.

    With every org this is exactly :meth:`Truth.planted_tiers`.  With part of the world each
    group is what its accounts in ``orgs`` make of it: revenue, prior revenue and CRM headroom
    summed over those members, the Pareto ranking redone over all groups so restricted.  A
    planted ``non_key`` group stays ``non_key`` (every top account of it, in either org, carries
    the low triage factors); a high-triage group keeps the tier the rule gives only when the
    restricted numbers still sit outside the planting's safety margins (:func:`clear_tier`).
    """
    wanted = set(orgs)
    revenue: dict[str, float] = {}
    prior: dict[str, float] = {}
    room: dict[str, float] = {}
    for account in truth.accounts.values():
        if account.org not in wanted:
            continue
        revenue[account.group] = revenue.get(account.group, 0.0) + account.ttm_revenue
        prior[account.group] = prior.get(account.group, 0.0) + account.prior_ttm_revenue
        field = account.wallet_field or 0.0
        room[account.group] = room.get(account.group, 0.0) + max(0.0, field - account.ttm_revenue)
    total = sum(revenue.values()) or 1.0
    cum_before: dict[str, float] = {}
    running = 0.0
    for key in sorted(revenue, key=lambda k: (-revenue[k], k)):
        cum_before[key] = running / total
        running += revenue[key]
    tiers: dict[str, str] = {}
    for key, intended in truth.planted_tiers().items():
        if key not in revenue:
            continue
        if intended == "non_key":
            tiers[key] = intended
            continue
        tier = _clear_tier(revenue[key], prior[key], cum_before[key], room[key])
        if tier is not None:
            tiers[key] = tier
    return tiers
