"""The SOQL parser and evaluator: the edge cases connectors (and their bugs) run into."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from connectors.emulator.soql import (
    CompiledQuery,
    SoqlError,
    compile_query,
    like_regex,
    parse,
    parse_datetime,
    tokenize,
)
from connectors.emulator.store import FieldDef, TableDef

NOW = datetime(2024, 6, 30, 15, 30, tzinfo=UTC)

TABLE = TableDef(
    "Account",
    "Id",
    "Account",
    "Accounts",
    (
        FieldDef("Id", "id", "Id"),
        FieldDef("Name", "string", "Name"),
        FieldDef("Industry", "picklist", "Industry"),
        FieldDef("AnnualRevenue", "currency", "Revenue"),
        FieldDef("Employees", "int", "Employees"),
        FieldDef("IsKey", "boolean", "Key"),
        FieldDef("Review", "date", "Review"),
        FieldDef("Stamp", "datetime", "Stamp"),
        FieldDef("ParentId", "reference", "Parent", reference_to=("Account",)),
        FieldDef("BillingCity", "string", "City", compound="BillingAddress"),
        FieldDef("BillingAddress", "address", "Address"),
    ),
)

ROWS: list[dict[str, Any]] = [
    {
        "Id": "001000000000001AAA",
        "Name": "Alpha",
        "Industry": "Banking",
        "AnnualRevenue": 100.0,
        "Employees": 5,
        "IsKey": True,
        "Review": date(2024, 1, 1),
        "Stamp": datetime(2024, 6, 30, 1, tzinfo=UTC),
        "ParentId": None,
    },
    {
        "Id": "001000000000002AAA",
        "Name": "beta",
        "Industry": None,
        "AnnualRevenue": 300.0,
        "Employees": 50,
        "IsKey": False,
        "Review": date(2024, 3, 1),
        "Stamp": datetime(2024, 6, 29, 23, tzinfo=UTC),
        "ParentId": "001000000000001AAA",
    },
    {
        "Id": "001000000000003AAA",
        "Name": "O'Hara 100%",
        "Industry": "Retail",
        "AnnualRevenue": None,
        "Employees": 7,
        "IsKey": True,
        "Review": None,
        "Stamp": datetime(2024, 5, 1, tzinfo=UTC),
        "ParentId": "001000000000001AAA",
    },
    {
        "Id": "001000000000004AAA",
        "Name": "Gamma_1",
        "Industry": "banking",
        "AnnualRevenue": 200.0,
        "Employees": 9,
        "IsKey": False,
        "Review": date(2024, 6, 30),
        "Stamp": datetime(2024, 6, 25, tzinfo=UTC),
        "ParentId": None,
    },
]


def run(soql: str) -> list[str]:
    """The names of the rows ``soql`` selects, in order."""
    return [r["Name"] for r in compiled(soql).run(ROWS)]


def compiled(soql: str) -> CompiledQuery:
    return compile_query(parse(soql), TABLE, NOW)


def error(soql: str) -> SoqlError:
    with pytest.raises(SoqlError) as caught:
        compiled(soql)
    return caught.value


def test_keywords_objects_and_fields_are_case_insensitive() -> None:
    query = compiled("select id, NAME from account where industry = 'BANKING' order by name")
    assert [f.name for f in query.fields] == ["Id", "Name"]
    assert [r["Name"] for r in query.run(ROWS)] == ["Alpha", "Gamma_1"]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Name = 'o\\'hara 100%'", ["O'Hara 100%"]),
        ("Name != 'alpha'", ["beta", "O'Hara 100%", "Gamma_1"]),
        ("Industry != 'Banking'", ["beta", "O'Hara 100%"]),  # != matches nulls
        ("Industry = null", ["beta"]),
        ("Industry != null", ["Alpha", "O'Hara 100%", "Gamma_1"]),
        ("AnnualRevenue > 100", ["beta", "Gamma_1"]),
        ("AnnualRevenue <= 200.0", ["Alpha", "Gamma_1"]),
        ("Employees >= 9", ["beta", "Gamma_1"]),
        ("Employees < -1", []),
        ("IsKey = TRUE", ["Alpha", "O'Hara 100%"]),
        ("IsKey = false", ["beta", "Gamma_1"]),
        ("Review < 2024-03-01", ["Alpha"]),
        ("Review >= 2024-03-01", ["beta", "Gamma_1"]),
        ("Stamp > 2024-06-29T23:00:00Z", ["Alpha"]),
        ("Stamp >= 2024-06-29T23:00:00.000+0000", ["Alpha", "beta"]),
        ("Stamp > 2024-06-30T00:00:00+01:00", ["Alpha"]),
        ("Stamp < 2024-06-29T23:30:00-00:30", ["beta", "O'Hara 100%", "Gamma_1"]),
        ("Industry IN ('retail', 'Banking')", ["Alpha", "O'Hara 100%", "Gamma_1"]),
        ("Industry NOT IN ('Retail')", ["Alpha", "beta", "Gamma_1"]),
        ("Industry NOT IN ('Retail', null)", ["Alpha", "Gamma_1"]),
        ("Name LIKE 'a%'", ["Alpha"]),
        ("Name LIKE '%\\%'", ["O'Hara 100%"]),
        ("Name LIKE 'Gamma\\__'", ["Gamma_1"]),
        ("Name LIKE '_eta'", ["beta"]),
        ("ParentId = '001000000000001'", ["beta", "O'Hara 100%"]),
        ("Id IN ('001000000000004AAA')", ["Gamma_1"]),
        ("NOT IsKey = true", ["beta", "Gamma_1"]),
        (
            "(Employees > 6 OR IsKey = true) AND NOT (Name LIKE 'g%')",
            ["Alpha", "beta", "O'Hara 100%"],
        ),
        ("Employees > 6 AND (IsKey = true OR Industry = null)", ["beta", "O'Hara 100%"]),
        ("Stamp = TODAY", ["Alpha"]),
        ("Stamp = YESTERDAY", ["beta"]),
        ("Stamp = LAST_N_DAYS:7", ["Alpha", "beta", "Gamma_1"]),
        ("Review = TODAY", ["Gamma_1"]),
        ("Stamp < N_DAYS_AGO:30", ["O'Hara 100%"]),
    ],
)
def test_where(where: str, expected: list[str]) -> None:
    assert run(f"SELECT Name FROM Account WHERE {where} ORDER BY Id") == expected


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("Name", ["Alpha", "beta", "Gamma_1", "O'Hara 100%"]),  # case-insensitive
        ("Name DESC", ["O'Hara 100%", "Gamma_1", "beta", "Alpha"]),
        ("AnnualRevenue", ["O'Hara 100%", "Alpha", "Gamma_1", "beta"]),  # nulls first by default
        ("AnnualRevenue DESC", ["O'Hara 100%", "beta", "Gamma_1", "Alpha"]),
        ("AnnualRevenue DESC NULLS LAST", ["beta", "Gamma_1", "Alpha", "O'Hara 100%"]),
        ("AnnualRevenue ASC NULLS LAST", ["Alpha", "Gamma_1", "beta", "O'Hara 100%"]),
        ("IsKey DESC, Name", ["Alpha", "O'Hara 100%", "beta", "Gamma_1"]),
        ("Industry NULLS LAST, Employees DESC", ["Gamma_1", "Alpha", "O'Hara 100%", "beta"]),
    ],
)
def test_order_by(order: str, expected: list[str]) -> None:
    assert run(f"SELECT Name FROM Account ORDER BY {order}") == expected


def test_limit_and_offset() -> None:
    assert run("SELECT Name FROM Account ORDER BY Name LIMIT 2") == ["Alpha", "beta"]
    assert run("SELECT Name FROM Account ORDER BY Name LIMIT 2 OFFSET 1") == ["beta", "Gamma_1"]
    assert run("SELECT Name FROM Account ORDER BY Name OFFSET 3") == ["O'Hara 100%"]
    assert run("SELECT Name FROM Account LIMIT 0") == []


def test_count_forms() -> None:
    plain = compiled("SELECT COUNT() FROM Account WHERE IsKey = true")
    assert plain.is_count and not plain.is_aggregate and plain.fields == ()
    aggregate = compiled("SELECT COUNT(Industry) total FROM Account")
    assert aggregate.is_aggregate and aggregate.count_alias == "total"
    assert compiled("SELECT COUNT(Id) FROM Account").count_alias == "expr0"


def test_compound_fields_can_be_selected_but_not_filtered_or_sorted() -> None:
    assert [f.name for f in compiled("SELECT BillingAddress FROM Account").fields] == [
        "BillingAddress"
    ]
    assert error("SELECT Id FROM Account WHERE BillingAddress = null").code == "INVALID_FIELD"
    assert error("SELECT Id FROM Account ORDER BY BillingAddress").code == "INVALID_FIELD"


@pytest.mark.parametrize(
    ("soql", "code", "fragment"),
    [
        ("SELECT Id FORM Account", "MALFORMED_QUERY", "unexpected token: 'FORM'"),
        ("SELECT FROM Account", "MALFORMED_QUERY", "unexpected token: 'FROM'"),
        ("SELECT Id FROM Account WHERE", "MALFORMED_QUERY", "unexpected token: '<EOF>'"),
        (
            "SELECT Id FROM Account WHERE Name = 'open",
            "MALFORMED_QUERY",
            "unterminated string literal",
        ),
        (
            "SELECT Id FROM Account WHERE Name = 'a\\qb'",
            "MALFORMED_QUERY",
            "invalid escape sequence",
        ),
        (
            "SELECT Id FROM Account WHERE a = 1 AND b = 2 OR c = 3",
            "MALFORMED_QUERY",
            "unexpected token: 'OR'",
        ),
        ("SELECT Id FROM Account LIMIT -1", "MALFORMED_QUERY", "unexpected token: '-1'"),
        ("SELECT Id FROM Account GROUP BY Name", "MALFORMED_QUERY", "unexpected token: 'GROUP'"),
        ("SELECT Id, Id FROM Account", "MALFORMED_QUERY", "duplicate field selected: Id"),
        (
            "SELECT Id, Foo__c FROM Account",
            "INVALID_FIELD",
            "No such column 'Foo__c' on entity 'Account'",
        ),
        (
            "SELECT Owner.Name FROM Account",
            "INVALID_FIELD",
            "Didn't understand relationship 'Owner'",
        ),
        (
            "SELECT Id FROM Account WHERE Stamp > 2024-01-01",
            "MALFORMED_QUERY",
            "must be of type dateTime",
        ),
        (
            "SELECT Id FROM Account WHERE Stamp > '2024-01-01T00:00:00Z'",
            "MALFORMED_QUERY",
            "should not be enclosed in quotes",
        ),
        (
            "SELECT Id FROM Account WHERE Employees = '5'",
            "MALFORMED_QUERY",
            "must be of type double",
        ),
        (
            "SELECT Id FROM Account WHERE Name = 5",
            "MALFORMED_QUERY",
            "should be enclosed in quotes",
        ),
        ("SELECT Id FROM Account WHERE IsKey > true", "MALFORMED_QUERY", "invalid operator"),
        ("SELECT Id FROM Account WHERE Name > null", "MALFORMED_QUERY", "invalid operator on null"),
        (
            "SELECT COUNT(), Name FROM Account",
            "MALFORMED_QUERY",
            "COUNT() must be the only element",
        ),
        (
            "SELECT COUNT(Id), Name FROM Account",
            "MALFORMED_QUERY",
            "Field must be grouped or aggregated: Name",
        ),
        (
            "SELECT Id FROM Account WHERE Employees LIKE '5%'",
            "MALFORMED_QUERY",
            "LIKE needs a text field",
        ),
    ],
)
def test_errors(soql: str, code: str, fragment: str) -> None:
    caught = error(soql)
    assert caught.code == code
    assert fragment in caught.message


def test_error_messages_point_at_row_and_column() -> None:
    caught = error("SELECT Id,\n  Nmae FROM Account")
    assert caught.message.startswith("\n  Nmae FROM Account\n  ^\nERROR at Row:2:Column:3\n")


def test_string_escapes() -> None:
    [token] = [
        t
        for t in tokenize(r"SELECT Id FROM Account WHERE Name = 'a\\b\'c\n'")
        if t.kind == "string"
    ]
    query = parse(r"SELECT Id FROM Account WHERE Name = 'a\\b\'c\n'")
    assert token.text == r"'a\\b\'c\n'"
    assert query.where is not None
    assert query.where.value.value == "a\\b'c\n"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-02T03:04:05Z",
        "2024-01-02T03:04:05.000+0000",
        "2024-01-02T04:04:05+01:00",
        "2024-01-02T03:04:05.000Z",
    ],
)
def test_datetime_forms(text: str) -> None:
    assert parse_datetime(text) == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_like_is_anchored_and_case_insensitive() -> None:
    assert like_regex("ab%").match("ABc")
    assert not like_regex("ab").match("abc")
    assert like_regex("a.c").match("a.c") and not like_regex("a.c").match("abc")


def test_relative_literals_follow_the_org_clock() -> None:
    later = compile_query(
        parse("SELECT Name FROM Account WHERE Stamp = TODAY"), TABLE, NOW + timedelta(days=1)
    )
    assert [r["Name"] for r in later.run(ROWS)] == []
