"""Same seed, size and as-of give the same bytes; anything else gives other bytes."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from connectors.emulator.world import World, generate_world

from .conftest import ACCOUNTS, AS_OF, SEED


def test_same_seed_same_fingerprint(world: World) -> None:
    again = generate_world(SEED, ACCOUNTS, AS_OF)
    assert again.fingerprint() == world.fingerprint()
    assert again.truth.to_json() == world.truth.to_json()


def test_other_seed_size_or_date_other_fingerprint(world: World) -> None:
    base = world.fingerprint()
    assert generate_world(SEED + 1, ACCOUNTS, AS_OF).fingerprint() != base
    small = generate_world(SEED, 300, AS_OF)
    assert small.fingerprint() != generate_world(SEED, 300, date(2025, 7, 1)).fingerprint()


def test_account_total_is_exact() -> None:
    for total in (1, 2, 3, 7, 301):
        small = generate_world(11, total, AS_OF)
        live = len(small.salesforce.table("Account").rows) + len(
            small.dynamics.table("account").rows
        )
        assert live == total == len(small.truth.accounts)


def test_truth_exports_json(world: World, tmp_path: Path) -> None:
    path = world.truth.write(tmp_path / "truth.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["as_of"] == "2025-06-30"
    assert data["windows"]["ttm"] == ["2024-07-01", "2025-06-30"]
    assert len(data["accounts"]) == ACCOUNTS
    some = next(iter(data["accounts"].values()))
    assert {"ttm_revenue", "true_wallet", "contacts_90d", "rhythm"} <= set(some)
