"""The world looks like a real KAM book of business."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta

from connectors.emulator.world import World

from .conftest import AS_OF


def _sf_parent_links(world: World) -> dict[str, str | None]:
    return {k: r["ParentId"] for k, r in world.salesforce.table("Account").rows.items()}


def _dv_parent_links(world: World) -> dict[str, str | None]:
    return {k: r["parentaccountid"] for k, r in world.dynamics.table("account").rows.items()}


def _cycles(links: dict[str, str | None]) -> list[frozenset[str]]:
    found: set[frozenset[str]] = set()
    for start in links:
        path: list[str] = []
        node: str | None = start
        while node is not None and node not in path:
            path.append(node)
            node = links[node]
        if node is not None:
            found.add(frozenset(path[path.index(node) :]))
    return sorted(found, key=sorted)


def _depth(links: dict[str, str | None], start: str) -> int:
    depth, node = 1, links[start]
    while node is not None:
        depth += 1
        node = links[node]
    return depth


def test_exactly_one_parent_cycle(world: World) -> None:
    sf_cycles = _cycles(_sf_parent_links(world))
    assert _cycles(_dv_parent_links(world)) == []
    assert len(sf_cycles) == 1
    (cycle,) = sf_cycles
    assert 2 <= len(cycle) <= 3
    assert {f"salesforce:{k}" for k in cycle} == set(world.truth.parent_cycle)


def test_hierarchies_reach_four_levels_and_no_more(world: World) -> None:
    for links in (_sf_parent_links(world), _dv_parent_links(world)):
        in_cycle = set().union(*_cycles(links)) if _cycles(links) else set()
        depths = [_depth(links, k) for k in links if k not in in_cycle]
        assert max(depths) <= 4
    assert (
        max(
            _depth(_sf_parent_links(world), k)
            for k in world.salesforce.table("Account").rows
            if f"salesforce:{k}" not in world.truth.parent_cycle
        )
        == 4
    )


def test_global_groups_span_both_orgs(world: World) -> None:
    keys: dict[str, set[str]] = defaultdict(set)
    for row in world.salesforce.table("Account").rows.values():
        if row["Global_DUNS__c"]:
            keys[row["Global_DUNS__c"]].add("salesforce")
    for row in world.dynamics.table("account").rows.values():
        if row["new_globalmatchkey"]:
            keys[row["new_globalmatchkey"]].add("dynamics")
    cross = [k for k, orgs in keys.items() if orgs == {"salesforce", "dynamics"}]
    assert len(cross) >= 10
    assert all(len(k) == 9 and k.isdigit() for k in keys)
    regions = {r["BillingCountry"] for r in world.salesforce.table("Account").rows.values()} & {
        r["address1_country"] for r in world.dynamics.table("account").rows.values()
    }
    assert regions == set(), "each country is served by one org"


def test_our_revenue_is_heavy_tailed(world: World) -> None:
    revenue = sorted((g.ttm_revenue for g in world.truth.groups.values()), reverse=True)
    top = revenue[: len(revenue) // 5]
    share = sum(top) / sum(revenue)
    assert 0.70 <= share <= 0.95


def test_customer_size_is_heavy_tailed(world: World) -> None:
    sizes = sorted(r["AnnualRevenue"] for r in world.salesforce.table("Account").rows.values())
    median = sizes[len(sizes) // 2]
    assert sizes[-1] > 100 * median


def test_wallet_field_filled_for_about_a_third(world: World) -> None:
    rows = [*world.salesforce.table("Account").rows.values()]
    filled = sum(1 for r in rows if r["Wallet_Estimate__c"] is not None)
    dv_rows = [*world.dynamics.table("account").rows.values()]
    filled += sum(1 for r in dv_rows if r["new_walletestimate"] is not None)
    assert 0.30 <= filled / (len(rows) + len(dv_rows)) <= 0.37


def test_contacts_have_titles_and_buying_roles(world: World) -> None:
    roles = Counter(r["Buying_Role__c"] for r in world.salesforce.table("Contact").rows.values())
    assert {"Decision Maker", "Influencer", "User", "Gatekeeper"} <= set(roles)
    assert roles[None] > 0
    dv_roles = Counter(r["new_buyingrole"] for r in world.dynamics.table("contact").rows.values())
    assert {100_000_000, 100_000_001, 100_000_002, 100_000_003} <= set(dv_roles)


def test_rhythms_differ_and_some_accounts_are_neglected(world: World) -> None:
    rhythms = Counter(a.rhythm for a in world.truth.accounts.values())
    assert set(rhythms) == {"weekly", "monthly", "quarterly", "neglected"}
    cutoff = AS_OF - timedelta(days=100)
    neglected = [
        a
        for a in world.truth.accounts.values()
        if a.rhythm == "neglected" and a.last_contact_date is not None
    ]
    assert neglected
    assert all(a.last_contact_date <= cutoff for a in neglected if a.last_contact_date)
    weekly = [a for a in world.truth.accounts.values() if a.rhythm == "weekly"]
    assert sum(a.contacts_90d for a in weekly) / len(weekly) >= 8


def test_three_years_of_opportunities_in_all_states(world: World) -> None:
    rows = list(world.salesforce.live("Opportunity"))
    states = Counter((r["IsClosed"], r["IsWon"]) for r in rows)
    assert states[(True, True)]
    assert states[(True, False)]
    assert states[(False, False)]
    dates = [r["CloseDate"] for r in rows]
    assert min(dates) <= AS_OF - timedelta(days=1000)
    assert max(dates) > AS_OF
    dv_states = Counter(r["statecode"] for r in world.dynamics.table("opportunity").rows.values())
    assert set(dv_states) == {0, 1, 2}


def test_users_carry_region_and_territory(world: World) -> None:
    for row in world.salesforce.table("User").rows.values():
        assert row["Region__c"] in {"Americas", "EMEA"}
        assert row["Territory__c"]
    regions = {r["new_region"] for r in world.dynamics.table("systemuser").rows.values()}
    assert regions == {"APAC", "EMEA"}


def test_dirty_records_are_planted(world: World) -> None:
    truth = world.truth
    kinds = Counter(d.kind for d in truth.dirty)
    assert kinds["orphan_contact"] == 2
    assert kinds["future_activity"] == 2
    assert kinds["missing_industry"] >= 2
    assert kinds["zero_revenue"] >= 2
    for dirty in truth.dirty_of("missing_industry"):
        row = world.store(dirty.org).table(dirty.table).rows[dirty.id]
        assert row["Industry" if dirty.org == "salesforce" else "industrycode"] is None
    for dirty in truth.dirty_of("zero_revenue"):
        row = world.store(dirty.org).table(dirty.table).rows[dirty.id]
        assert row["AnnualRevenue" if dirty.org == "salesforce" else "revenue"] == 0
    for dirty in truth.dirty_of("future_activity"):
        row = world.store(dirty.org).table(dirty.table).rows[dirty.id]
        if dirty.org == "salesforce":
            assert row["IsClosed"]
            assert row["ActivityDate"] > AS_OF
        else:
            assert row["statecode"] == 1
            assert row["actualend"].date() > AS_OF


def test_counts_in_truth_match_the_stores(world: World) -> None:
    for org in ("salesforce", "dynamics"):
        store = world.store(org)
        for name, table in store.tables.items():
            soft = sum(1 for r in table.rows.values() if r.get("IsDeleted"))
            gone = len({t.id for t in table.tombstones} - set(table.rows))
            expected = {"live": len(table.rows) - soft, "deleted": soft + gone}
            assert world.truth.counts[org][name] == expected
    assert world.truth.counts["salesforce"]["Opportunity"]["deleted"] >= 1
    assert world.truth.counts["dynamics"]["opportunity"]["deleted"] >= 1


def test_as_of_is_a_date(world: World) -> None:
    assert world.as_of == date(2025, 6, 30)
