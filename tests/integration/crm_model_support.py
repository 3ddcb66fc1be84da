"""What the crm model tests of either CRM read back from crm.*: the same columns each time, so
that a test compares them with what it recomputes from that CRM's emulated records."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import duckdb

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
# the crm tables and their keys
KEYS = {
    "users": "user_key",
    "accounts": "account_key",
    "contacts": "contact_key",
    "products": "product_key",
    "opportunities": "opportunity_key",
    "opportunity_lines": "line_key",
    "opportunity_contacts": "opportunity_contact_key",
    "activities": "activity_key",
}


def assert_keys_unique(db: Path, keys: Mapping[str, str]) -> None:
    """Each crm table of ``keys`` (table -> key column) has rows, each with a key of its own."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        for table, key in keys.items():
            total, distinct = con.execute(
                f"select count(*), count(distinct {key}) from crm.{table}"
            ).fetchall()[0]
            assert total == distinct > 0, table
    finally:
        con.close()
