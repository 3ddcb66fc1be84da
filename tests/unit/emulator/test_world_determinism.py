"""Same seed, size and as-of give the same bytes; anything else gives other bytes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from connectors.emulator.ids import BASE62
from connectors.emulator.world import World, generate_world

from .conftest import ACCOUNTS, AS_OF, SEED


def test_same_seed_same_fingerprint(world: World) -> None:
    again = generate_world(SEED, ACCOUNTS, AS_OF)
    assert again.fingerprint() == world.fingerprint()
    assert again.truth.to_json() == world.truth.to_json()


def test_other_seed_size_or_date_other_fingerprint() -> None:
    base = generate_world(SEED, 300, AS_OF).fingerprint()
    assert generate_world(SEED + 1, 300, AS_OF).fingerprint() != base
    assert generate_world(SEED, 301, AS_OF).fingerprint() != base
    assert generate_world(SEED, 300, date(2025, 7, 1)).fingerprint() != base


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


def test_fingerprint_does_not_depend_on_hash_randomisation() -> None:
    code = (
        "from datetime import date\n"
        "from connectors.emulator.world import generate_world\n"
        "print(generate_world(5, 150, date(2025, 6, 30)).fingerprint())\n"
    )
    prints = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
        )
        prints.add(out.stdout.strip())
    assert prints == {generate_world(5, 150, AS_OF).fingerprint()}


def test_a_forked_helper_writes_the_same_world_as_one_process() -> None:
    """Three chunks of accounts: written here alone, and by a fresh process with its helper."""
    code = (
        "import hashlib\n"
        "from datetime import date\n"
        "from connectors.emulator.world import generate_world\n"
        "world = generate_world(5, 4500, date(2025, 6, 30), workers=2)\n"
        "print(world.fingerprint())\n"
        "print(hashlib.sha256(world.truth.to_json().encode()).hexdigest())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    alone = generate_world(5, 4500, AS_OF, workers=1)
    truth = hashlib.sha256(alone.truth.to_json().encode()).hexdigest()
    assert out.stdout.split() == [alone.fingerprint(), truth]


def test_chunks_take_salesforce_ids_from_separate_blocks() -> None:
    """Every Salesforce record keeps its own id when chunks allocate from their own blocks."""
    world = generate_world(5, 4500, AS_OF, workers=1)
    truth_accounts = sum(1 for a in world.truth.accounts.values() if a.org == "salesforce")
    store = world.salesforce
    assert len(store.table("Account").rows) == truth_accounts
    ids = [key for table in store.tables.values() for key in table.rows]
    assert len(ids) == len(set(ids))
    # later mutations allocate from next_numbers: it must lie past every sequence in use
    for sobject, table in store.tables.items():
        if table.rows:
            used = max(_sequence(key) for key in table.rows)
            assert world.sf_ids.next_numbers.get(sobject, world.sf_ids.start) > used, sobject


def _sequence(record_id: str) -> int:
    """The sequence number inside a Salesforce id (characters 6-15, base 62)."""
    number = 0
    for char in record_id[5:15]:
        number = number * 62 + BASE62.index(char)
    return number
