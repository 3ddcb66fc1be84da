"""Mutation changes exactly what its summary says, at stamps inside the advanced window."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from connectors.emulator.mutate import mutate
from connectors.emulator.world import World, generate_world

from .conftest import AS_OF


@pytest.fixture
def small() -> World:
    return generate_world(21, 300, AS_OF)


def test_changes_are_exactly_the_summary(small: World) -> None:
    before = {org: small.store(org).seq for org in ("salesforce", "dynamics")}
    old_clock = small.salesforce.clock
    summary = mutate(
        small,
        5,
        advance=timedelta(minutes=30),
        updates=12,
        inserts=6,
        soft_deletes=3,
        hard_deletes=2,
    )
    assert small.salesforce.clock == small.dynamics.clock == old_clock + timedelta(minutes=30)
    assert summary.started == old_clock
    assert summary.clock == small.salesforce.clock
    for org, stamp in (("salesforce", "SystemModstamp"), ("dynamics", "modifiedon")):
        store = small.store(org)
        for name in store.tables:
            changed, gone = store.changed_since(name, before[org])
            expected = summary.table(org, name)
            live_changed = {r[store.table(name).definition.key] for r in changed}
            assert live_changed == {
                *expected.inserted,
                *expected.updated,
                *expected.soft_deleted,
            }, name
            purged = {t.id for t in gone if t.id not in store.table(name).rows}
            assert purged == set(expected.hard_deleted), name
            for row in changed:
                assert old_clock < row[stamp] <= store.clock
            for record_id in expected.soft_deleted:
                assert store.table(name).rows[record_id]["IsDeleted"] is True
    assert summary.count() >= 2 * (12 + 6)


def test_counts_per_kind(small: World) -> None:
    summary = mutate(small, 9, updates=10, inserts=4, soft_deletes=3, hard_deletes=2)
    sf: Counter[str] = Counter()
    for changes in summary.changes["salesforce"].values():
        sf["soft"] += len(changes.soft_deleted)
        sf["hard"] += len(changes.hard_deleted)
    assert sf == Counter(soft=3, hard=2)
    dv_deleted = sum(len(c.hard_deleted) for c in summary.changes["dynamics"].values())
    assert dv_deleted >= 5
    assert all(not c.soft_deleted for c in summary.changes["dynamics"].values())


def test_several_updates_share_one_second(small: World) -> None:
    summary = mutate(small, 3, updates=8)
    for org in ("salesforce", "dynamics"):
        assert len(summary.shared_ids[org]) >= 2
        stamp = "SystemModstamp" if org == "salesforce" else "modifiedon"
        for table, record_id in summary.shared_ids[org]:
            row = small.store(org).table(table).rows[record_id]
            assert row[stamp] == summary.shared_second[org]


def test_mutation_is_deterministic() -> None:
    first, second = generate_world(4, 200, AS_OF), generate_world(4, 200, AS_OF)
    a = mutate(first, 17)
    b = mutate(second, 17)
    assert first.fingerprint() == second.fingerprint()
    assert a.changes == b.changes
    mutate(first, 17)
    mutate(second, 18)
    assert first.fingerprint() != second.fingerprint()


def test_new_salesforce_ids_continue_the_sequences(small: World) -> None:
    existing = set(small.salesforce.table("Task").rows)
    summary = mutate(small, 2, updates=0, inserts=30, soft_deletes=0, hard_deletes=0)
    new = summary.table("salesforce", "Task").inserted
    assert new
    assert not existing.intersection(new)
    assert all(record_id > max(existing) for record_id in new)
