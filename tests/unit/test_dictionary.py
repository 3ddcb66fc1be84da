"""docs/warehouse.md is the data dictionary of the current schema, to the letter."""

from __future__ import annotations

from analytics.dictionary import DOCUMENT, generate


def test_data_dictionary_is_up_to_date() -> None:
    expected = generate()
    assert DOCUMENT.read_text(encoding="utf-8") == expected, (
        "docs/warehouse.md is out of date: run `python -m analytics.dictionary --write`"
    )


def test_dictionary_covers_every_table_with_its_comment() -> None:
    text = generate()
    for table in (
        "crm.accounts",
        "crm.activities",
        "kam.key_accounts",
        "kam.account_scores",
        "ops.sync_state",
        "ops.writeback_ledger",
    ):
        assert f"### `{table}`" in text
    assert "| `health_band` |" in text
