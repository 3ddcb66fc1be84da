"""Hierarchy: parent closure, cycles reported not looped, missing parents, global groups."""

from __future__ import annotations

from tests.sql.conftest import World


def _hierarchy_world(world: World) -> None:
    # a Salesforce tree P > C1 > C2 and a Dynamics tree Q > Q1 whose tops share global match
    # key G1: Q1's parent is in the Dynamics org, yet it rolls up with the Salesforce tree
    world.add(
        "accounts",
        account_key="sf:P",
        name="Parent AG",
        global_match_key="G1",
        country="DE",
        region="EMEA",
        territory="T1",
    )
    world.add(
        "accounts",
        account_key="sf:C1",
        parent_account_key="sf:P",
        country="DE",
        region="EMEA",
        territory="T2",
    )
    world.add(
        "accounts",
        account_key="sf:C2",
        parent_account_key="sf:C1",
        country="AT",
        region="EMEA",
        territory="T3",
    )
    world.add(
        "accounts",
        account_key="d365:Q",
        name="Parent KK",
        global_match_key="G1",
        country="JP",
        region="APAC",
        territory="T9",
    )
    world.add(
        "accounts",
        account_key="d365:Q1",
        parent_account_key="d365:Q",
        country="JP",
        region="APAC",
        territory="T9",
    )
    # a cycle X1 -> X2 -> X3 -> X1, and X4 hanging under it
    world.add(
        "accounts",
        account_key="sf:X1",
        name="Loop One",
        parent_account_key="sf:X2",
        country="FR",
        region="EMEA",
        territory="T5",
    )
    world.add(
        "accounts",
        account_key="sf:X2",
        parent_account_key="sf:X3",
        country="FR",
        region="EMEA",
        territory="T6",
    )
    world.add(
        "accounts",
        account_key="sf:X3",
        parent_account_key="sf:X1",
        country="BE",
        region="EMEA",
        territory="T6",
    )
    world.add(
        "accounts",
        account_key="sf:X4",
        parent_account_key="sf:X2",
        country="FR",
        region="EMEA",
        territory="T5",
    )
    # a parent that is not a live account, a national tree, a lone account, a lone global key
    world.add(
        "accounts",
        account_key="sf:M",
        parent_account_key="sf:GONE",
        country="DE",
        region="EMEA",
        territory="T1",
    )
    world.add("accounts", account_key="sf:N", country="DE", region="EMEA", territory="T1")
    world.add(
        "accounts",
        account_key="sf:N1",
        parent_account_key="sf:N",
        country="DE",
        region="EMEA",
        territory="T2",
    )
    world.add("accounts", account_key="sf:S", country="US", region="AMER", territory="T7")
    world.add(
        "accounts",
        account_key="d365:R",
        global_match_key="G2",
        country="SG",
        region="APAC",
        territory="T8",
    )


def test_closure_gives_ultimate_parent_depth_path_and_group(world: World) -> None:
    _hierarchy_world(world)
    world.analyze()

    rows = world.rows(
        "select account_key, parent_account_key, ultimate_parent_key, depth, path_to_top, "
        "group_key, group_type, has_parent_cycle, has_missing_parent, subtree_account_count "
        "from kam.account_hierarchy order by account_key"
    )

    cycle_group = ("sf:X1", "ultimate_parent", True, False)
    assert rows == [
        ("d365:Q", None, "d365:Q", 0, ["d365:Q"], "global:G1", "global_match", False, False, 2),
        (
            "d365:Q1",
            "d365:Q",
            "d365:Q",
            1,
            ["d365:Q1", "d365:Q"],
            "global:G1",
            "global_match",
            False,
            False,
            1,
        ),
        ("d365:R", None, "d365:R", 0, ["d365:R"], "global:G2", "global_match", False, False, 1),
        (
            "sf:C1",
            "sf:P",
            "sf:P",
            1,
            ["sf:C1", "sf:P"],
            "global:G1",
            "global_match",
            False,
            False,
            2,
        ),
        (
            "sf:C2",
            "sf:C1",
            "sf:P",
            2,
            ["sf:C2", "sf:C1", "sf:P"],
            "global:G1",
            "global_match",
            False,
            False,
            1,
        ),
        ("sf:M", "sf:GONE", "sf:M", 0, ["sf:M"], "sf:M", "ultimate_parent", False, True, 1),
        ("sf:N", None, "sf:N", 0, ["sf:N"], "sf:N", "ultimate_parent", False, False, 2),
        (
            "sf:N1",
            "sf:N",
            "sf:N",
            1,
            ["sf:N1", "sf:N"],
            "sf:N",
            "ultimate_parent",
            False,
            False,
            1,
        ),
        ("sf:P", None, "sf:P", 0, ["sf:P"], "global:G1", "global_match", False, False, 3),
        ("sf:S", None, "sf:S", 0, ["sf:S"], "sf:S", "ultimate_parent", False, False, 1),
        # every account of the cycle reaches the other two, and X4 hangs below X2
        ("sf:X1", "sf:X2", "sf:X1", None, ["sf:X1", "sf:X2", "sf:X3"], *cycle_group, 4),
        ("sf:X2", "sf:X3", "sf:X1", None, ["sf:X2", "sf:X3", "sf:X1"], *cycle_group, 4),
        ("sf:X3", "sf:X1", "sf:X1", None, ["sf:X3", "sf:X1", "sf:X2"], *cycle_group, 4),
        ("sf:X4", "sf:X2", "sf:X1", None, ["sf:X4", "sf:X2", "sf:X3", "sf:X1"], *cycle_group, 1),
    ]


def test_cycles_and_missing_parents_are_reported(world: World) -> None:
    _hierarchy_world(world)
    world.analyze()

    issues = world.rows("select * from kam.hierarchy_issues order by issue, account_key")

    loop = "parent links loop: sf:X1 -> sf:X2 -> sf:X3 -> sf:X1"
    assert issues == [
        (
            "sf:M",
            "missing_parent",
            "sf:GONE",
            "parent sf:GONE is not a live account; the chain stops here",
        ),
        ("sf:X1", "parent_cycle", "sf:X1", loop),
        ("sf:X2", "parent_cycle", "sf:X1", loop),
        ("sf:X3", "parent_cycle", "sf:X1", loop),
        ("sf:X4", "parent_cycle", "sf:X1", loop),
    ]


def test_a_self_parent_is_a_cycle_of_one(world: World) -> None:
    world.add("accounts", account_key="sf:A", parent_account_key="sf:A")
    world.analyze()

    assert world.rows(
        "select ultimate_parent_key, depth, has_parent_cycle from kam.account_hierarchy"
    ) == [("sf:A", None, True)]
    assert world.rows("select detail from kam.hierarchy_issues") == [
        ("parent links loop: sf:A -> sf:A",)
    ]


def test_groups_take_level_from_footprint_and_name_from_top(world: World) -> None:
    _hierarchy_world(world)
    world.analyze()

    groups = world.rows(
        "select group_key, group_name, member_count, source_count, country_count, "
        "region_count, territory_count, level from kam.account_groups order by group_key"
    )

    assert groups == [
        # two regions: global; the revenue tie between the tops goes to the larger key, sf:P
        ("global:G1", "Parent AG", 5, 2, 3, 2, 4, "global"),
        ("global:G2", "d365:R", 1, 1, 1, 1, 1, "territory"),
        ("sf:M", "sf:M", 1, 1, 1, 1, 1, "territory"),
        # one country, two territories
        ("sf:N", "sf:N", 2, 1, 1, 1, 2, "national"),
        ("sf:S", "sf:S", 1, 1, 1, 1, 1, "territory"),
        # one region, two countries
        ("sf:X1", "Loop One", 4, 1, 2, 1, 2, "regional"),
    ]
    assert world.rows(
        "select account_key, group_key, level from kam.key_accounts "
        "where account_key in ('d365:Q1', 'sf:X4') order by account_key"
    ) == [("d365:Q1", "global:G1", "global"), ("sf:X4", "sf:X1", "regional")]


def test_subtree_revenue_sums_the_accounts_below(world: World) -> None:
    _hierarchy_world(world)
    for key, amount in (("sf:P", 100.0), ("sf:C1", 20.0), ("sf:C2", 3.0)):
        world.add(
            "opportunities",
            opportunity_key=f"sf:o-{key}",
            account_key=key,
            amount=amount,
            is_closed=True,
            is_won=True,
            close_date="2025-05-01",
        )
    world.analyze()

    assert world.rows(
        "select account_key, subtree_revenue_ttm from kam.account_hierarchy "
        "where account_key in ('sf:P', 'sf:C1', 'sf:C2') order by account_key"
    ) == [("sf:C1", 23.0), ("sf:C2", 3.0), ("sf:P", 123.0)]
    assert world.rows(
        "select revenue_ttm from kam.account_groups where group_key = 'global:G1'"
    ) == [(123.0,)]
