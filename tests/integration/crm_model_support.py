"""What the crm model tests of either CRM read back from crm.*: the same columns each time, so
that a test compares them with what it recomputes from that CRM's emulated records."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from connectors.emulator.emulator import Emulator
from tests.integration.sync_support import Crm, load, sync_in_process

AS_OF = date(2026, 6, 30)  # well before the wall clock: no event ends while the test runs


ACCOUNTS = (
    "select account_key, name, parent_account_key, owner_user_key, industry, country, region, "
    "territory, annual_revenue, employees, wallet_estimate_crm, global_match_key, "
    "market_position_score from crm.accounts"
)
CONTACTS = "select contact_key, account_key, buying_role, is_decision_maker from crm.contacts"
OPPORTUNITIES = (
    "select opportunity_key, account_key, amount, probability, is_closed, is_won, close_date, "
    "stage, forecast_category from crm.opportunities"
)
LINES = (
    "select line_key, opportunity_key, product_key, quantity, total_price "
    "from crm.opportunity_lines"
)
# a contact's buying role as its CRM labels it -> crm.contacts.buying_role
BUYING_ROLES = {
    "Decision Maker": "decision_maker",
    "Influencer": "influencer",
    "User": "user",
    "Gatekeeper": "gatekeeper",
}


def synced_org(
    tmp_path_factory: pytest.TempPathFactory, crm: Crm
) -> Iterator[tuple[Emulator, Path]]:
    """The emulator (seed 21, 500 accounts, as of :data:`AS_OF`) and a warehouse holding its
    ``crm`` org synced with the default configuration; for a module's fixture to yield from."""
    directory = tmp_path_factory.mktemp(f"{crm.source}-crm")
    with Emulator(seed=21, accounts=500, as_of=AS_OF) as emulator:
        env = crm.env(emulator)
        config = load(crm.write_config(directory, emulator, ""), env)
        assert sync_in_process(config, env).ok
        yield emulator, directory / "kamsync.duckdb"
