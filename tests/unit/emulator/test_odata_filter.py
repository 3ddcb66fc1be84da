"""The emulator's OData $filter / $orderby engine: grammar, literals, Dataverse comparison rules."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from connectors.emulator.odata import (
    BoolOp,
    Call,
    Column,
    Compare,
    Not,
    ODataError,
    OrderItem,
    Property,
    Schema,
    Value,
    compile_filter,
    parse_filter,
    parse_orderby,
    parse_select,
)

SCHEMA = Schema(
    "Microsoft.Dynamics.CRM.account",
    {
        "name": Column("name", "Edm.String"),
        "revenue": Column("revenue", "Edm.Decimal"),
        "numberofemployees": Column("numberofemployees", "Edm.Int32"),
        "industrycode": Column("industrycode", "Edm.Int32"),
        "createdon": Column("createdon", "Edm.DateTimeOffset"),
        "kam_nextduedate": Column("kam_nextduedate", "Edm.Date"),
        "accountid": Column("accountid", "Edm.Guid"),
        "_parentaccountid_value": Column("parentaccountid", "Edm.Guid"),
        "donotphone": Column("donotphone", "Edm.Boolean"),
    },
)

PARENT = "6f1b1a0e-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
ROWS: list[dict[str, Any]] = [
    {
        "accountid": "00000000-0000-0000-0000-000000000001",
        "name": "Contoso",
        "revenue": 1_000_000.0,
        "numberofemployees": 120,
        "industrycode": 3,
        "createdon": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        "kam_nextduedate": date(2024, 2, 1),
        "parentaccountid": PARENT,
        "donotphone": False,
    },
    {
        "accountid": "00000000-0000-0000-0000-000000000002",
        "name": "O'Brien & Sons",
        "revenue": 250.5,
        "numberofemployees": None,
        "industrycode": 7,
        "createdon": datetime(2023, 6, 30, 23, 0, tzinfo=UTC),
        "kam_nextduedate": None,
        "parentaccountid": None,
        "donotphone": True,
    },
    {
        "accountid": "00000000-0000-0000-0000-000000000003",
        "name": None,
        "revenue": None,
        "numberofemployees": 5,
        "industrycode": None,
        "createdon": datetime(2024, 5, 1, tzinfo=UTC),
        "kam_nextduedate": date(2024, 1, 15),
        "parentaccountid": PARENT.upper(),
        "donotphone": None,
    },
]


def matching(text: str) -> list[int]:
    """1-based positions of the rows the filter keeps."""
    predicate = compile_filter(text, SCHEMA)
    return [index + 1 for index, row in enumerate(ROWS) if predicate(row)]


# ---------------------------------------------------------------------------- grammar


def test_precedence_is_not_over_and_over_or() -> None:
    tree = parse_filter("a eq 1 or not b eq 2 and c eq 3")
    assert tree == BoolOp(
        "or",
        Compare("eq", Property("a"), Value("int", 1)),
        BoolOp(
            "and",
            Not(Compare("eq", Property("b"), Value("int", 2))),
            Compare("eq", Property("c"), Value("int", 3)),
        ),
    )


def test_parentheses_override_precedence() -> None:
    tree = parse_filter("(a eq 1 or b eq 2) and c eq 3")
    assert isinstance(tree, BoolOp)
    assert tree.op == "and"
    assert isinstance(tree.left, BoolOp)
    assert tree.left.op == "or"


def test_literals_of_every_kind() -> None:
    def literal(text: str) -> Value:
        tree = parse_filter(f"x eq {text}")
        assert isinstance(tree, Compare)
        assert isinstance(tree.right, Value)
        return tree.right

    assert literal("'it''s'") == Value("string", "it's")
    assert literal("''") == Value("string", "")
    assert literal("42") == Value("int", 42)
    assert literal("-7") == Value("int", -7)
    assert literal("12.50") == Value("decimal", Decimal("12.50"))
    assert literal("3.5m") == Value("decimal", Decimal("3.5"))
    assert literal("1e3") == Value("double", 1000.0)
    assert literal("true") == Value("bool", True)
    assert literal("false") == Value("bool", False)
    assert literal("null") == Value("null", None)
    assert literal("6F1B1A0E-3C4D-4E5F-8A9B-0C1D2E3F4A5B") == Value("guid", PARENT)
    assert literal("2024-01-02") == Value("date", date(2024, 1, 2))
    assert literal("2024-01-02T03:04:05Z") == Value(
        "datetime", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    )
    assert literal("2024-01-02T05:04:05.250+02:00") == Value(
        "datetime", datetime(2024, 1, 2, 3, 4, 5, 250000, tzinfo=UTC)
    )
    assert literal("Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist'") == Value(
        "string", "Picklist"
    )


def test_function_calls_parse() -> None:
    assert parse_filter("contains(name,'x')") == Call(
        "contains", (Property("name"), Value("string", "x"))
    )


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("name eq", 7),
        ("name eq 'x' and", 15),
        ("(name eq 'x'", 12),
        ("name eq 'x')", 11),
        ("name eq 'unterminated", 8),
        ("name # 'x'", 5),
        ("", 0),
        ("and eq 1", 0),
    ],
)
def test_syntax_errors_say_where(text: str, position: int) -> None:
    with pytest.raises(ODataError, match=f"Syntax error at position {position} in"):
        parse_filter(text)


# ---------------------------------------------------------------------------- semantics


def test_strings_compare_without_case_and_unescape_quotes() -> None:
    assert matching("name eq 'contoso'") == [1]
    assert matching("name eq 'O''Brien & Sons'") == [2]
    assert matching("name ne 'CONTOSO'") == [2, 3]
    assert matching("name gt 'd'") == [2]


def test_null_comparisons() -> None:
    assert matching("name eq null") == [3]
    assert matching("name ne null") == [1, 2]
    assert matching("revenue gt null") == []
    assert matching("numberofemployees lt 1000") == [1, 3]


def test_numbers_across_int_and_decimal() -> None:
    assert matching("revenue ge 250.5") == [1, 2]
    assert matching("revenue lt 1000000") == [2]
    assert matching("revenue eq 1000000") == [1]
    assert matching("industrycode eq 3 or industrycode eq 7") == [1, 2]
    assert matching("not (industrycode eq 3)") == [2, 3]


def test_datetimes_and_dates() -> None:
    assert matching("createdon ge 2024-01-01T00:00:00Z") == [1, 3]
    assert matching("createdon lt 2024-01-02T03:04:06Z and createdon gt 2024-01-02T03:04:04Z") == [
        1
    ]
    assert matching("createdon ge 2024-01-02") == [1, 3]
    assert matching("kam_nextduedate le 2024-01-31") == [3]
    assert matching("kam_nextduedate eq 2024-02-01") == [1]


def test_guids_and_lookup_values_compare_without_case() -> None:
    assert matching(f"_parentaccountid_value eq {PARENT}") == [1, 3]
    assert matching(f"_parentaccountid_value eq {PARENT.upper()}") == [1, 3]
    assert matching("_parentaccountid_value eq null") == [2]
    assert matching("accountid eq 00000000-0000-0000-0000-000000000002") == [2]


def test_booleans_and_bare_boolean_properties() -> None:
    assert matching("donotphone eq true") == [2]
    assert matching("donotphone eq false") == [1]
    assert matching("donotphone") == [2]
    assert matching("not donotphone") == [1, 3]


def test_string_functions_ignore_case() -> None:
    assert matching("contains(name,'BRIEN')") == [2]
    assert matching("startswith(name,'con')") == [1]
    assert matching("endswith(name,'sons')") == [2]
    assert matching("not contains(name,'o')") == [3]


def test_literal_on_the_left_is_mirrored() -> None:
    assert matching("100 gt numberofemployees") == [3]


def test_property_names_are_case_insensitive() -> None:
    assert matching("Name eq 'contoso'") == [1]


def test_unknown_property_has_the_dataverse_message() -> None:
    with pytest.raises(ODataError) as caught:
        compile_filter("bogus eq 1", SCHEMA)
    assert str(caught.value) == (
        "Could not find a property named 'bogus' on type 'Microsoft.Dynamics.CRM.account'."
    )


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("name eq 1", "'Edm.String' and 'Edm.Int32' for operator kind 'Equal'"),
        ("revenue gt 'x'", "'Edm.Decimal' and 'Edm.String' for operator kind 'GreaterThan'"),
        (f"accountid eq '{PARENT}'", "'Edm.Guid' and 'Edm.String' for operator kind 'Equal'"),
        ("donotphone eq 1", "'Edm.Boolean' and 'Edm.Int32' for operator kind 'Equal'"),
    ],
)
def test_incompatible_types_are_rejected(text: str, found: str) -> None:
    with pytest.raises(ODataError, match="incompatible types") as caught:
        compile_filter(text, SCHEMA)
    assert found in str(caught.value)


def test_unknown_function_and_bad_signature() -> None:
    with pytest.raises(ODataError, match="unknown function with name 'tolower'"):
        compile_filter("tolower(name,'x')", SCHEMA)
    with pytest.raises(ODataError, match="No function signature"):
        compile_filter("contains(revenue,'1')", SCHEMA)


def test_property_compared_to_property_is_rejected() -> None:
    with pytest.raises(ODataError):
        compile_filter("name eq name", SCHEMA)


# ---------------------------------------------------------------------------- orderby, select


def test_orderby_and_select() -> None:
    assert parse_orderby("name, createdon desc , revenue asc") == (
        OrderItem("name", False),
        OrderItem("createdon", True),
        OrderItem("revenue", False),
    )
    assert parse_select("name, accountid") == ("name", "accountid")
    with pytest.raises(ODataError):
        parse_orderby("name sideways")
    with pytest.raises(ODataError):
        parse_select("name,,x")
