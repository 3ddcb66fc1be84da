"""Salesforce wire formats: REST JSON values, compound addresses, Bulk CSV, record ids."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from connectors.emulator.ids import sf_to_18
from connectors.emulator.sfrender import (
    CHUNK,
    CsvRecords,
    JsonRecords,
    bulk_datetime,
    csv_column,
    csv_value,
    json_value,
    records_array,
    sf_datetime,
)
from connectors.emulator.sfwrite import salesforce_id
from connectors.emulator.store import FieldDef, TableDef

TABLE = TableDef(
    "Account",
    "Id",
    "Account",
    "Accounts",
    (
        FieldDef("Id", "id", "Id"),
        FieldDef("Name", "string", "Name"),
        FieldDef("Amount", "currency", "Amount"),
        FieldDef("Count", "int", "Count"),
        FieldDef("Flag", "boolean", "Flag"),
        FieldDef("Day", "date", "Day"),
        FieldDef("Stamp", "datetime", "Stamp"),
        FieldDef("ShippingStreet", "textarea", "Street", compound="ShippingAddress"),
        FieldDef("ShippingPostalCode", "string", "Zip", compound="ShippingAddress"),
        FieldDef("ShippingAddress", "address", "Address"),
    ),
)
RECORD = {
    "Id": "0015g0000000001AAA",
    "Name": 'Müller "Quoted", Inc.\nLine 2',
    "Amount": 1234.5,
    "Count": 3,
    "Flag": False,
    "Day": date(2024, 2, 29),
    "Stamp": datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    "ShippingStreet": "1 Way",
    "ShippingPostalCode": None,
}


def test_datetime_formats_are_utc_with_milliseconds() -> None:
    local = datetime(2024, 1, 2, 5, 4, 5, 9000, tzinfo=timezone(timedelta(hours=2)))
    assert sf_datetime(local) == "2024-01-02T03:04:05.009+0000"
    assert bulk_datetime(local) == "2024-01-02T03:04:05.009Z"


def test_datetime_formatting_agrees_with_isoformat_at_the_edges() -> None:
    cases = [
        datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
        datetime(2024, 2, 29, 12, 0, 0, 1000, tzinfo=UTC),
        datetime(2024, 2, 29, 12, 0, 0, 999, tzinfo=UTC),
    ]
    for value in cases:
        assert sf_datetime(value) == value.isoformat(timespec="milliseconds")[:-6] + "+0000"
    assert (
        sf_datetime(datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05.000+0000"
    )  # naive = UTC


def test_json_values() -> None:
    assert [json_value(v) for v in (None, True, 7, 2.5, 'a"b', date(2024, 1, 2))] == [
        "null",
        "true",
        "7",
        "2.5",
        '"a\\"b"',
        '"2024-01-02"',
    ]
    assert json_value(float("nan")) == "null"


def test_json_records_with_attributes_and_compound_address() -> None:
    fields = [
        TABLE.field(n)
        for n in ("Id", "Name", "Amount", "Flag", "Day", "Stamp", "ShippingAddress", "Count")
    ]
    renderer = JsonRecords(TABLE, [f for f in fields if f], "62.0")
    [record] = json.loads(records_array(renderer.render([RECORD])))
    assert record == {
        "attributes": {
            "type": "Account",
            "url": "/services/data/v62.0/sobjects/Account/0015g0000000001AAA",
        },
        "Id": "0015g0000000001AAA",
        "Name": 'Müller "Quoted", Inc.\nLine 2',
        "Amount": 1234.5,
        "Flag": False,
        "Day": "2024-02-29",
        "Stamp": "2024-01-02T03:04:05.678+0000",
        "ShippingAddress": {
            "city": None,
            "country": None,
            "geocodeAccuracy": None,
            "latitude": None,
            "longitude": None,
            "postalCode": None,
            "state": None,
            "street": "1 Way",
        },
        "Count": 3,
    }
    assert renderer.render([{"Id": "x"}])[0].endswith('"ShippingAddress":null,"Count":null}')


def test_csv_quotes_every_value_and_leaves_nulls_empty() -> None:
    fields = [
        f for f in (TABLE.field(n) for n in ("Id", "Name", "Amount", "Flag", "Stamp", "Count")) if f
    ]
    text = CsvRecords(fields).render([RECORD, {"Id": "2"}])
    assert text == (
        '"Id","Name","Amount","Flag","Stamp","Count"\n'
        '"0015g0000000001AAA","Müller ""Quoted"", Inc.\nLine 2","1234.5","false",'
        '"2024-01-02T03:04:05.678Z","3"\n'
        '"2","","","","",""\n'
    )
    assert (
        CsvRecords(fields, ";", "\r\n").render([])
        == '"Id";"Name";"Amount";"Flag";"Stamp";"Count"\r\n'
    )


ODD_VALUES: list[object] = [
    None,
    datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
    datetime(2024, 1, 2, 3, 4, 5, 678900, tzinfo=UTC),
    datetime(2024, 1, 2, 3, 4, 5),  # naive: taken as UTC
    datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5))),
    datetime(1, 1, 1, tzinfo=UTC),
    date(2024, 2, 29),
    "text",
    7,
]


def test_csv_date_and_datetime_columns_write_each_value_as_a_single_cell_would() -> None:
    day, stamp = TABLE.field("Day"), TABLE.field("Stamp")
    assert day is not None and stamp is not None
    for field in (day, stamp):
        for value in ODD_VALUES:
            alone = csv_column(field, [value])
            among = csv_column(field, [value, *ODD_VALUES, value])
            assert alone == [csv_value(value)[1:-1]] == among[:1] == among[-1:]
    stamps = [datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=s * 997) for s in range(2000)]
    assert csv_column(stamp, stamps) == [bulk_datetime(v) for v in stamps]
    with_nulls = [None, *stamps[:5], None, stamps[7]]
    assert csv_column(stamp, with_nulls) == [
        "" if v is None else bulk_datetime(v) for v in with_nulls
    ]
    days = [date(2024, 1, 1) + timedelta(days=n % 40) for n in range(200)]
    assert csv_column(day, days) == [d.isoformat() for d in days]
    later = [None, date(1, 1, 1), *days[:3], date(9999, 12, 31), None]  # seen and new dates
    expected = ["", "0001-01-01", *(d.isoformat() for d in days[:3]), "9999-12-31", ""]
    assert csv_column(day, later) == expected
    assert csv_column(day, later) == csv_column(day, later)  # the second time from memory


def test_csv_pages_render_the_same_in_chunks() -> None:
    fields = [f for f in TABLE.fields if f.type != "address"]
    records = [
        {**RECORD, "Id": f"{n:018d}", "Stamp": ODD_VALUES[n % len(ODD_VALUES)], "Day": None}
        for n in range(3 * CHUNK + 5)
    ]
    renderer = CsvRecords(fields, "|", "\r\n")
    cells = renderer.cells(records)
    assert cells == [renderer.cells([r])[0] for r in records]
    assert renderer.lines(records) == ['"' + c + '"' for c in cells]
    ids = [f for f in fields if f.name == "Id"]
    odd_ids: list[dict[str, Any]] = [
        {"Id": 'with "quote"'},
        *({"Id": str(n)} for n in range(CHUNK)),
        {"Id": 7},
    ]
    assert CsvRecords(ids).cells(odd_ids)[0] == 'with ""quote""'  # the column as a whole
    assert CsvRecords(ids).cells(odd_ids[:2])[0] == 'with "quote"'  # (as before)
    assert renderer.render(records) == renderer.header() + "".join(
        line + "\r\n" for line in renderer.lines(records)
    )
    parts = [renderer.part(cells[n : n + 7]) for n in range(0, len(cells), 7)]
    assert renderer.header() + "".join(parts) == renderer.render(records)
    assert renderer.part([], "before") == "before" and renderer.body([]) == renderer.header()


def test_emulator_ids_are_case_safe_and_distinct() -> None:
    assert sf_to_18("001D000000IqhSL") == "001D000000IqhSLIAZ"  # the example in Salesforce's docs
    first, second = salesforce_id("001", 1), salesforce_id("001", 62)
    assert first == "0015g0000000001AAA" and second[:15] == "0015g0000000010"
    assert len({salesforce_id("a0K", n) for n in range(1000)}) == 1000
