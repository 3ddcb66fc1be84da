"""The org-neutral plan of the world: users, customer groups and their accounts.

The generator first lays out *who* exists (groups, hierarchies, countries, sizes, how each
account is looked after) here, then writes each account's history in the shape of its org
(:mod:`connectors.emulator.writers`).  Plans also carry the truth accumulators that the history
writer fills, so the planted truth comes from the generator's own bookkeeping.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from connectors.emulator.reference import (
    COUNTRIES,
    INDUSTRIES,
    INDUSTRY_NOUNS,
    INDUSTRY_WEIGHTS,
    NAME_PREFIXES,
    NAME_SUFFIXES,
    WALLET_INTENSITY,
    City,
    Country,
    Org,
    territories,
)

T = TypeVar("T")
GroupKind = Literal["global", "domestic", "standalone", "cycle"]
Rhythm = Literal["weekly", "monthly", "quarterly", "neglected"]
Lifecycle = Literal["customer", "prospect", "churned", "dormant"]
HealthPlan = Literal["green", "red"]

RHYTHMS: tuple[Rhythm, ...] = ("weekly", "monthly", "quarterly", "neglected")
ACCOUNTS_PER_MANAGER = 80
MAX_DEPTH = 4


@dataclass(slots=True)
class UserPlan:
    """An account manager in one org."""

    org: Org
    first: str
    last: str
    country: Country
    active: bool
    id: str = ""

    @property
    def name(self) -> str:
        """Full name."""
        return f"{self.first} {self.last}"


@dataclass(slots=True)
class ContactPlan:
    """A person at an account (``account`` None for the orphan)."""

    id: str
    role: str | None
    dm: bool


@dataclass(slots=True)
class AccountPlan:
    """One account: where it sits, how big it is, how it is looked after, and its truth."""

    index: int
    org: Org
    group: GroupPlan
    parent: AccountPlan | None
    level: int
    name: str
    country: Country
    city: City
    industry: str | None
    revenue: float
    employees: int
    wallet: float
    ttm_target: float
    growth: float
    lifecycle: Lifecycle
    rhythm: Rhythm
    health: HealthPlan | None = None
    duns: str | None = None
    owner: UserPlan | None = None
    id: str = ""
    row: dict[str, Any] | None = None
    contacts: list[ContactPlan] = field(default_factory=list)
    # truth accumulators, filled while the history is written
    ttm: float = 0.0
    prior: float = 0.0
    open_pipeline: float = 0.0
    won: int = 0
    lost: int = 0
    c30: int = 0
    c90: int = 0
    c180: int = 0
    last_contact: int | None = None
    engaged: set[str] = field(default_factory=set)
    engaged_dm: set[str] = field(default_factory=set)
    wallet_field: float | None = None
    triage: tuple[int, int, int, int] | None = None

    @property
    def key(self) -> str:
        """``<org>:<id>``."""
        return f"{self.org}:{self.id}"


@dataclass(slots=True)
class GroupPlan:
    """A customer group: a global group, a domestic hierarchy or a standalone account."""

    index: int
    kind: GroupKind
    base_name: str
    industry: str
    home: Country
    duns: str | None
    members: list[AccountPlan] = field(default_factory=list)
    intended_tier: str | None = None

    def roots(self) -> list[AccountPlan]:
        """Members without a parent (the top accounts of each org's hierarchy)."""
        return [m for m in self.members if m.parent is None]


# ----------------------------------------------------------------------------- sampling helpers


class WorldRandom(random.Random):
    """A seeded generator with fast ``randrange`` and ``choice``.

    The standard versions draw rejection-sampled bits, which costs about a microsecond a call;
    the world draws tens of millions of them, so these scale one ``random()`` instead.  Still
    fully determined by the seed.
    """

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:
        """An integer in ``[start, stop)`` (``step`` must be 1)."""
        if stop is None:
            start, stop = 0, start
        width = stop - start
        if width <= 0 or step != 1:
            raise ValueError(f"empty or stepped range ({start}, {stop}, {step})")
        return start + int(self.random() * width)

    def choice(self, seq: Sequence[T]) -> T:  # type: ignore[override]
        """An element of ``seq``."""
        return seq[int(self.random() * len(seq))]


def weighted_index(rng: random.Random, cumulative: list[float]) -> int:
    """Index drawn with probability proportional to the increments of ``cumulative``."""
    target = rng.random() * cumulative[-1]
    low, high = 0, len(cumulative) - 1
    while low < high:
        mid = (low + high) // 2
        if cumulative[mid] < target:
            low = mid + 1
        else:
            high = mid
    return low


def lookup_table(values: Sequence[T], weights: Sequence[float], slots: int = 200) -> list[T]:
    """A list in which each value fills a share of ``slots`` proportional to its weight.

    ``table[int(rng.random() * len(table))]`` then draws by weight in one step (to 1/slots).
    """
    total = sum(weights)
    table: list[T] = []
    running = 0.0
    for value, weight in zip(values, weights, strict=True):
        running += weight
        table.extend([value] * (round(running / total * slots) - len(table)))
    return table


def cumulate(weights: tuple[float, ...] | list[float]) -> list[float]:
    """Running sums of ``weights``."""
    total = 0.0
    out = []
    for weight in weights:
        total += weight
        out.append(total)
    return out


def clamp(value: float, low: float, high: float) -> float:
    """``value`` limited to ``[low, high]``."""
    return low if value < low else high if value > high else value


# ----------------------------------------------------------------------------- planner


class Planner:
    """Lays out users, groups and accounts for ``total`` accounts."""

    def __init__(self, rng: random.Random, total: int) -> None:
        self.rng = rng
        self.total = total
        self.country_cum = cumulate(tuple(c.weight for c in COUNTRIES))
        self.industry_cum = cumulate(INDUSTRY_WEIGHTS)
        self.by_org: dict[Org, list[Country]] = {
            "salesforce": [c for c in COUNTRIES if c.org == "salesforce"],
            "dynamics": [c for c in COUNTRIES if c.org == "dynamics"],
        }
        self.duns_seen: set[str] = set()
        self.groups: list[GroupPlan] = []
        self.accounts: list[AccountPlan] = []

    # -- identifiers and names

    def new_duns(self) -> str:
        """A fresh 9-digit D-U-N-S-like number."""
        while True:
            duns = str(self.rng.randrange(100_000_000, 1_000_000_000))
            if duns not in self.duns_seen:
                self.duns_seen.add(duns)
                return duns

    def base_name(self, industry: str) -> str:
        """A company name like ``Nordwind Logistics``."""
        rng = self.rng
        stem = rng.choice(NAME_PREFIXES) + rng.choice(NAME_SUFFIXES)
        return f"{stem} {rng.choice(INDUSTRY_NOUNS[industry])}"

    def country(self) -> Country:
        """A country drawn by business weight."""
        return COUNTRIES[weighted_index(self.rng, self.country_cum)]

    def industry(self) -> str:
        """An industry drawn by weight."""
        return INDUSTRIES[weighted_index(self.rng, self.industry_cum)]

    # -- groups

    def plan(self) -> list[GroupPlan]:
        """Groups (with their accounts) until exactly ``total`` accounts exist."""
        remaining = self.total
        if remaining >= 3:
            self._cycle_group()
            remaining -= 3
        while remaining > 0:
            kind, size = self._group_shape()
            size = min(size, remaining)
            if kind == "global" and size < 2:
                kind = "standalone"
            if kind == "domestic" and size < 2:
                kind = "standalone"
            self._group(kind, size)
            remaining -= size
        return self.groups

    def _group_shape(self) -> tuple[GroupKind, int]:
        rng = self.rng
        draw = rng.random()
        if draw < 0.035:
            return "global", int(clamp(round(rng.lognormvariate(math.log(8), 0.6)), 4, 40))
        if draw < 0.16:
            return "domestic", int(clamp(round(rng.lognormvariate(math.log(2.6), 0.5)), 2, 10))
        return "standalone", 1

    def _group_size(self, kind: GroupKind) -> float:
        """The whole group's own annual revenue (customer size)."""
        rng = self.rng
        if kind == "global":
            return rng.lognormvariate(math.log(1.0e9), 0.9)
        if kind == "domestic":
            return rng.lognormvariate(math.log(1.5e8), 0.9)
        return rng.lognormvariate(math.log(2.5e7), 1.0)

    def _new_group(self, kind: GroupKind, home: Country, duns: str | None) -> GroupPlan:
        industry = self.industry()
        group = GroupPlan(len(self.groups), kind, self.base_name(industry), industry, home, duns)
        self.groups.append(group)
        return group

    def _group(self, kind: GroupKind, size: int) -> None:
        rng = self.rng
        home = self.country()
        if kind == "global":
            duns: str | None = self.new_duns()
        elif kind == "domestic":
            duns = self.new_duns() if rng.random() < 0.5 else None
        else:
            duns = self.new_duns() if rng.random() < 0.1 else None
        group = self._new_group(kind, home, duns)
        total_revenue = self._group_size(kind)
        if kind == "global":
            self._global_members(group, size, total_revenue)
        else:
            self._domestic_members(group, size, total_revenue)

    def _cycle_group(self) -> None:
        """Three German accounts whose parent links loop (the one parent cycle)."""
        home = next(c for c in COUNTRIES if c.code == "DE")
        group = self._new_group("cycle", home, None)
        previous: AccountPlan | None = None
        for level in range(3):
            previous = self._account(group, home, previous, revenue=6e7 / (level + 1), suffix=True)
        # the generator closes the loop once every account has its id

    def _shares(self, size: int) -> list[float]:
        weights = [self.rng.lognormvariate(0.0, 0.8) for _ in range(size)]
        weights[0] = max(weights) * 2.0  # the top account is the biggest
        total = sum(weights)
        return [w / total for w in weights]

    def _domestic_members(self, group: GroupPlan, size: int, revenue: float) -> None:
        shares = self._shares(size)
        members: list[AccountPlan] = []
        for i in range(size):
            parent = self._pick_parent(members)
            country = group.home
            members.append(
                self._account(group, country, parent, revenue=revenue * shares[i], suffix=i > 0)
            )

    def _pick_parent(self, members: list[AccountPlan]) -> AccountPlan | None:
        if not members:
            return None
        candidates = [m for m in members if m.level < MAX_DEPTH]
        # prefer shallow parents so trees are bushy, but let some chains reach 4 levels
        weights = [1.0 / (m.level**1.5) for m in candidates]
        return candidates[weighted_index(self.rng, cumulate(weights))]

    def _global_members(self, group: GroupPlan, size: int, revenue: float) -> None:
        """A hierarchy per org; the HQ org holds the HQ, the other a regional holding."""
        rng = self.rng
        other_org: Org = "dynamics" if group.home.org == "salesforce" else "salesforce"
        n_other = max(1, round(size * rng.uniform(0.25, 0.5)))
        n_home = max(1, size - n_other)
        n_other = size - n_home
        shares = self._shares(size)
        home_members: list[AccountPlan] = []
        for i in range(n_home):
            parent = self._pick_parent(home_members)
            country = (
                group.home
                if i == 0 or rng.random() < 0.4
                else rng.choice(self.by_org[group.home.org])
            )
            home_members.append(
                self._account(group, country, parent, revenue=revenue * shares[i], suffix=i > 0)
            )
        other_members: list[AccountPlan] = []
        hub = rng.choice(self.by_org[other_org])
        for j in range(n_other):
            parent = self._pick_parent(other_members)
            country = hub if j == 0 or rng.random() < 0.3 else rng.choice(self.by_org[other_org])
            share = shares[n_home + j]
            other_members.append(
                self._account(group, country, parent, revenue=revenue * share, suffix=True)
            )

    # -- accounts

    def _account(
        self,
        group: GroupPlan,
        country: Country,
        parent: AccountPlan | None,
        *,
        revenue: float,
        suffix: bool,
    ) -> AccountPlan:
        rng = self.rng
        level = 1 if parent is None else parent.level + 1
        city = rng.choice(country.cities)
        name = self._account_name(group, country, city, level, suffix)
        industry = group.industry if rng.random() < 0.92 else self.industry()
        revenue = round(max(revenue, 2e5), -3)
        employees = max(3, int(revenue / rng.lognormvariate(math.log(250_000), 0.4)))
        wallet = revenue * WALLET_INTENSITY[industry] * rng.lognormvariate(0.0, 0.35)
        lifecycle = self._lifecycle(group.kind)
        share = rng.betavariate(2.2, 4.5)
        target = 0.0 if lifecycle in ("prospect", "churned", "dormant") else wallet * share
        growth = clamp(rng.gauss(0.06, 0.22), -0.6, 1.5)
        account = AccountPlan(
            index=len(self.accounts),
            org=country.org,
            group=group,
            parent=parent,
            level=level,
            name=name,
            country=country,
            city=city,
            industry=industry,
            revenue=revenue,
            employees=employees,
            wallet=wallet,
            ttm_target=target,
            growth=growth,
            lifecycle=lifecycle,
            rhythm=self._rhythm(target),
            duns=group.duns,
        )
        account.health = self._health(account)
        group.members.append(account)
        self.accounts.append(account)
        return account

    def _account_name(
        self, group: GroupPlan, country: Country, city: City, level: int, suffix: bool
    ) -> str:
        if not suffix:
            return f"{group.base_name} {country.legal_suffix}"
        if level <= 2 or self.rng.random() < 0.5:
            return f"{group.base_name} {country.name} {country.legal_suffix}"
        return f"{group.base_name} {city.name}"

    def _lifecycle(self, kind: GroupKind) -> Lifecycle:
        if kind == "cycle":
            return "dormant"
        draw = self.rng.random()
        if kind == "standalone":
            if draw < 0.10:
                return "prospect"
            if draw < 0.16:
                return "churned"
        elif draw < 0.04:
            return "churned"
        return "customer"

    def _health(self, account: AccountPlan) -> HealthPlan | None:
        """Plan a clearly green or clearly red account now and then (verified after writing)."""
        if account.lifecycle != "customer" or account.group.kind == "cycle":
            return None
        if account.rhythm == "weekly" and self.rng.random() < 0.5:
            return "green"
        if account.rhythm == "monthly" and account.ttm_target >= 7.5e4 and self.rng.random() < 0.15:
            account.rhythm = "weekly"  # a well-run account: stepped up to weekly contact
            return "green"
        if account.rhythm == "neglected" and self.rng.random() < 0.2:
            return "red"
        return None

    def _rhythm(self, target: float) -> Rhythm:
        rng = self.rng
        if target >= 3e6:
            odds = (0.40, 0.45, 0.15, 0.0)
        elif target >= 4.5e5:
            odds = (0.10, 0.45, 0.30, 0.15)
        elif target >= 7.5e4:
            odds = (0.02, 0.22, 0.50, 0.26)
        else:
            odds = (0.005, 0.06, 0.49, 0.445)
        return RHYTHMS[weighted_index(rng, cumulate(odds))]

    # -- users

    def users(self) -> list[UserPlan]:
        """Account managers per territory and org (plus one inactive user per org)."""
        from connectors.emulator.reference import FIRST_NAMES, LAST_NAMES

        rng = self.rng
        users: list[UserPlan] = []
        weight_by_territory: dict[str, float] = {}
        for country in COUNTRIES:
            weight_by_territory[country.territory] = (
                weight_by_territory.get(country.territory, 0.0) + country.weight
            )
        total_weight = sum(weight_by_territory.values())
        for _region, territory, _org in territories():
            countries = [c for c in COUNTRIES if c.territory == territory]
            share = weight_by_territory[territory] / total_weight
            count = max(2, round(self.total * share / ACCOUNTS_PER_MANAGER))
            for _ in range(count):
                country = rng.choice(countries)
                first = rng.choice(FIRST_NAMES[country.culture])
                last = rng.choice(LAST_NAMES[country.culture])
                users.append(UserPlan(country.org, first, last, country, True))
        for org in ("salesforce", "dynamics"):
            country = self.by_org[org][0]
            users.append(UserPlan(org, "Former", "Manager", country, False))
        return users
