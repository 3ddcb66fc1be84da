"""The crm templates: a CRM's file renames, the shared end of the model is written once."""

from __future__ import annotations

import pytest

from sync.unified import render, templates

KINDS = ("salesforce", "dynamics")


@pytest.mark.parametrize("kind", KINDS)
def test_every_template_renders_without_a_placeholder_left(kind: str) -> None:
    for template in templates(kind):
        sql = render(template, "src", set(), {})
        assert "{{" not in sql, (kind, template.obj)
        assert sql.rstrip().endswith("select * from final"), (kind, template.obj)


@pytest.mark.parametrize("crm_table", ["users", "accounts", "contacts", "opportunities"])
def test_both_crms_end_a_folded_crm_table_with_the_same_shared_model(crm_table: str) -> None:
    endings = set()
    for kind in KINDS:
        [template] = [t for t in templates(kind) if t.crm_table == crm_table]
        head, sep, tail = template.sql.partition(f"-- crm.{crm_table}, shared by every CRM")
        assert sep, (kind, crm_table)
        assert "final as (" not in head, (kind, crm_table)
        endings.add(tail)
    assert len(endings) == 1
