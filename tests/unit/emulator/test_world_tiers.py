"""Planted tiers follow the tier rule when the test recomputes it from the stored records."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from connectors.emulator.planting import tiers_within
from connectors.emulator.world import World

from .conftest import AS_OF

WEIGHTS = (0.30, 0.20, 0.25, 0.25)
SF_TRIAGE = (
    "Market_Position__c",
    "Innovation_Orientation__c",
    "Strategy_Influence__c",
    "Operational_Complexity__c",
)
DV_TRIAGE = (
    "new_marketposition",
    "new_innovationorientation",
    "new_strategyinfluence",
    "new_operationalcomplexity",
)


class Book:
    """Accounts of both orgs as the test reads them: parent, match key, wallet, triage, revenue."""

    def __init__(self, world: World) -> None:
        self.parent: dict[str, str | None] = {}
        self.match: dict[str, str | None] = {}
        self.wallet: dict[str, float | None] = {}
        self.triage: dict[str, tuple[float, ...] | None] = {}
        self.revenue: dict[str, float] = defaultdict(float)
        self.prior: dict[str, float] = defaultdict(float)
        self._read_salesforce(world)
        self._read_dynamics(world)

    def _read_salesforce(self, world: World) -> None:
        for key, row in world.salesforce.table("Account").rows.items():
            name = f"salesforce:{key}"
            self.parent[name] = f"salesforce:{row['ParentId']}" if row["ParentId"] else None
            self.match[name] = row["Global_DUNS__c"]
            self.wallet[name] = row["Wallet_Estimate__c"]
            values = tuple(row[f] for f in SF_TRIAGE)
            self.triage[name] = None if values[0] is None else values
        for row in world.salesforce.live("Opportunity"):
            self._won(
                f"salesforce:{row['AccountId']}", row["IsWon"], row["CloseDate"], row["Amount"]
            )

    def _read_dynamics(self, world: World) -> None:
        for key, row in world.dynamics.table("account").rows.items():
            name = f"dynamics:{key}"
            parent = row["parentaccountid"]
            self.parent[name] = f"dynamics:{parent}" if parent else None
            self.match[name] = row["new_globalmatchkey"]
            self.wallet[name] = row["new_walletestimate"]
            values = tuple(row[f] for f in DV_TRIAGE)
            self.triage[name] = None if values[0] is None else values
        for row in world.dynamics.live("opportunity"):
            won = row["statecode"] == 1
            self._won(
                f"dynamics:{row['parentaccountid']}",
                won,
                row["actualclosedate"],
                row["actualvalue"],
            )

    def _won(self, account: str, won: bool, closed: object, amount: float | None) -> None:
        if not won or amount is None:
            return
        if AS_OF - timedelta(days=364) <= closed <= AS_OF:  # type: ignore[operator]
            self.revenue[account] += amount
        elif AS_OF - timedelta(days=729) <= closed <= AS_OF - timedelta(days=365):  # type: ignore[operator]
            self.prior[account] += amount

    def top(self, account: str) -> str | None:
        seen = set()
        node = account
        while self.parent[node] is not None:
            seen.add(node)
            node = self.parent[node]  # type: ignore[assignment]
            if node in seen:
                return None
        return node

    def groups(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for account in self.parent:
            match = self.match[account]
            top = self.top(account)
            key = f"global:{match}" if match else top
            if key is not None:
                out[key].append(account)
        return out


def _rule(
    triage: float, a_class: bool, revenue: float, headroom: float | None, growth: float | None
) -> str:
    if triage < 6.0:
        return "non_key"
    if a_class and revenue >= 1_000_000:
        return "key"
    if (headroom is not None and headroom >= 1_000_000) or (growth is not None and growth >= 0.10):
        return "growth"
    return "maintain"


def test_planted_tiers_follow_the_rule(world: World) -> None:
    book = Book(world)
    groups = book.groups()
    revenue = {k: sum(book.revenue[m] for m in members) for k, members in groups.items()}
    ranked = sorted(groups, key=lambda k: (-revenue[k], k))
    total = sum(revenue.values())
    cum_before: dict[str, float] = {}
    running = 0.0
    for key in ranked:
        cum_before[key] = running / total
        running += revenue[key]
    planted = world.truth.planted_tiers()
    assert len(planted) >= 0.25 * len(groups)
    assert set(planted.values()) == {"key", "growth", "maintain", "non_key"}
    for key, tier in planted.items():
        members = groups[key]
        assert sorted(members) == sorted(world.truth.groups[key].members)
        factors = {t for m in members if (t := book.triage[m]) is not None}
        assert len(factors) == 1, "the group's top accounts agree"
        (values,) = factors
        triage = sum(w * float(v) for w, v in zip(WEIGHTS, values, strict=True))
        rev = revenue[key]
        prior = sum(book.prior[m] for m in members)
        growth = (rev - prior) / prior if prior > 0 else None
        wallets = [book.wallet[m] for m in members]
        headroom = (
            sum(
                max(0.0, w - book.revenue[m])
                for w, m in zip(wallets, members, strict=True)
                if w is not None
            )
            if all(w is not None for w in wallets)
            else None
        )
        assert _rule(triage, cum_before[key] < 0.80, rev, headroom, growth) == tier, key
        assert abs(triage - 6.0) >= 1.0
        if tier != "non_key":
            assert headroom is not None, "tier may depend on headroom: every member has a wallet"
            a_safely = cum_before[key] < 0.70 and rev >= 1_500_000
            not_a = rev <= 600_000 or cum_before[key] >= 0.90
            assert a_safely or not_a


def test_unplanted_groups_have_no_triage_fields(world: World) -> None:
    book = Book(world)
    planted = world.truth.planted_tiers()
    for key, members in book.groups().items():
        if key not in planted:
            assert all(book.triage[m] is None for m in members), key


def test_truth_groups_match_the_recomputed_groups(world: World) -> None:
    book = Book(world)
    groups = book.groups()
    truth = world.truth.groups
    cycle_free = {k: v for k, v in truth.items() if not k.startswith("cycle:")}
    assert set(cycle_free) == set(groups)
    for key, members in groups.items():
        assert sorted(members) == sorted(truth[key].members)
        assert truth[key].ttm_revenue == sum(book.revenue[m] for m in members)


def test_tiers_within_every_org_are_the_planted_tiers(world: World) -> None:
    assert tiers_within(world.truth, ("salesforce", "dynamics")) == world.truth.planted_tiers()


def test_tiers_within_one_org_follow_the_rule_on_that_org_alone(world: World) -> None:
    book = Book(world)
    groups = {
        key: part
        for key, members in book.groups().items()
        if (part := [m for m in members if m.startswith("salesforce:")])
    }
    revenue = {k: sum(book.revenue[m] for m in members) for k, members in groups.items()}
    total = sum(revenue.values())
    cum_before: dict[str, float] = {}
    running = 0.0
    for key in sorted(groups, key=lambda k: (-revenue[k], k)):
        cum_before[key] = running / total
        running += revenue[key]
    tiers = tiers_within(world.truth, ("salesforce",))
    planted = world.truth.planted_tiers()
    assert set(tiers.values()) == {"key", "growth", "maintain", "non_key"}
    assert len(tiers) >= 0.9 * len([k for k in planted if k in groups])
    for key, tier in tiers.items():
        members = groups[key]
        factors = {t for m in members if (t := book.triage[m]) is not None}
        (values,) = factors
        triage = sum(w * float(v) for w, v in zip(WEIGHTS, values, strict=True))
        prior = sum(book.prior[m] for m in members)
        growth = (revenue[key] - prior) / prior if prior > 0 else None
        headroom = sum(max(0.0, (book.wallet[m] or 0.0) - book.revenue[m]) for m in members)
        rule = _rule(triage, cum_before[key] < 0.80, revenue[key], headroom, growth)
        assert rule == tier, key
        if tier != "non_key":
            assert all(book.wallet[m] is not None for m in members)
