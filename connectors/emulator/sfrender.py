"""Salesforce's wire formats for records: REST JSON and Bulk API 2.0 CSV.

Rendering is column by column (one list comprehension per field over a page of records), which
keeps the per-value cost to a dictionary lookup and one C-level encoder call.

* REST JSON: datetimes as ``2024-01-02T03:04:05.000+0000``, dates as ``2024-01-02``, compound
  address fields as an object of their components, an ``attributes`` map (type and url) first.
* Bulk CSV: every value quoted, empty for null, datetimes as ``2024-01-02T03:04:05.000Z``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from json.encoder import encode_basestring as _json_str
from typing import Any

from connectors.emulator.store import FieldDef, TableDef

Record = dict[str, Any]
Cell = Callable[[Record], str]


# ----------------------------------------------------------------------------- datetimes


def sf_datetime(value: datetime) -> str:
    """``2024-01-02T03:04:05.000+0000``: the REST API's datetime format (always UTC)."""
    if value.tzinfo is not None and value.utcoffset():
        value = value.astimezone(UTC)
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:"
        f"{value.minute:02d}:{value.second:02d}.{value.microsecond // 1000:03d}+0000"
    )


def bulk_datetime(value: datetime) -> str:
    """``2024-01-02T03:04:05.000Z``: Bulk API CSV's datetime format (always UTC)."""
    return sf_datetime(value)[:-5] + "Z"


# ----------------------------------------------------------------------------- JSON values


def _json_float(value: float) -> str:
    return repr(value) if math.isfinite(value) else "null"


_JSON: dict[type, Callable[[Any], str]] = {
    str: _json_str,
    type(None): lambda _v: "null",
    bool: lambda v: "true" if v else "false",
    int: int.__repr__,
    float: _json_float,
    datetime: lambda v: '"' + sf_datetime(v) + '"',
    date: lambda v: '"' + v.isoformat() + '"',
}


def json_value(value: Any) -> str:
    """One value as REST JSON text."""
    encoder = _JSON.get(type(value))
    if encoder is not None:
        return encoder(value)
    return json.dumps(value, default=str, ensure_ascii=False)


def to_json_value(value: Any) -> Any:
    """One value as the Python object ``json.dumps`` should write (datetimes formatted)."""
    if isinstance(value, datetime):
        return sf_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


# ----------------------------------------------------------------------------- compound fields

_ADDRESS_ORDER = (
    "city",
    "country",
    "geocodeAccuracy",
    "latitude",
    "longitude",
    "postalCode",
    "state",
    "street",
)


def compound_components(table: TableDef, compound: FieldDef) -> dict[str, str]:
    """Component key (``city``, ``postalCode`` ...) -> field name, for a compound field."""
    prefix = compound.name[: -len("Address")] if compound.name.endswith("Address") else ""
    parts: dict[str, str] = {}
    for field in table.fields:
        if field.compound == compound.name:
            suffix = field.name[len(prefix) :] if field.name.startswith(prefix) else field.name
            parts[suffix[:1].lower() + suffix[1:]] = field.name
    return parts


def _address_cell(name: str, parts: dict[str, str]) -> Callable[[Record], Any]:
    ordered = [(key, parts.get(key)) for key in _ADDRESS_ORDER]

    def value(record: Record) -> Any:
        stored = record.get(name)
        if isinstance(stored, dict):
            return stored
        built = {key: (record.get(field) if field else None) for key, field in ordered}
        return None if all(v is None for v in built.values()) else built

    return value


def field_getter(table: TableDef, field: FieldDef) -> Callable[[Record], Any]:
    """A function reading ``field``'s value from a record (compound fields assembled)."""
    if field.type in ("address", "location"):
        return _address_cell(field.name, compound_components(table, field))
    name = field.name
    return lambda record: record.get(name)


# ----------------------------------------------------------------------------- REST records


class JsonRecords:
    """Renders records of one object with one field list as REST JSON objects."""

    def __init__(self, table: TableDef, fields: Sequence[FieldDef], api_version: str) -> None:
        self.type = table.name
        self.url_prefix = f"/services/data/v{api_version}/sobjects/{table.name}/"
        self.head = '{"attributes":{"type":' + _json_str(table.name) + ',"url":'
        self.key = table.key
        self.columns: list[tuple[str, Callable[[Record], Any], bool]] = []
        for field in fields:
            compound = field.type in ("address", "location")
            self.columns.append((',"' + field.name + '":', field_getter(table, field), compound))

    def render(self, records: Sequence[Record]) -> list[str]:
        """One JSON object text per record, in order."""
        key = self.key
        prefix = self.url_prefix
        head = self.head
        columns: list[list[str]] = [
            [head + _json_str(prefix + str(r.get(key))) + "}" for r in records]
        ]
        for label, getter, compound in self.columns:
            if compound:
                columns.append([label + json.dumps(getter(r), ensure_ascii=False) for r in records])
                continue
            encoders = _JSON
            columns.append(
                [label + (encoders.get(type(v)) or json_value)(v) for v in map(getter, records)]
            )
        return ["".join(parts) + "}" for parts in zip(*columns, strict=True)]


def records_array(rendered: Iterable[str]) -> str:
    """A JSON array of already rendered objects."""
    return "[" + ",".join(rendered) + "]"


# ----------------------------------------------------------------------------- CSV

DELIMITERS = {
    "COMMA": ",",
    "TAB": "\t",
    "SEMICOLON": ";",
    "PIPE": "|",
    "CARET": "^",
    "BACKQUOTE": "`",
}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}


def _csv_str(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if '"' in value else '"' + value + '"'


def _csv_float(value: float) -> str:
    text = repr(value)
    if "e" in text or "E" in text:
        text = f"{value:f}".rstrip("0").rstrip(".") or "0"
    return '"' + text + '"'


_CSV: dict[type, Callable[[Any], str]] = {
    str: _csv_str,
    type(None): lambda _v: '""',
    bool: lambda v: '"true"' if v else '"false"',
    int: lambda v: '"' + repr(v) + '"',
    float: _csv_float,
    datetime: lambda v: '"' + bulk_datetime(v) + '"',
    date: lambda v: '"' + v.isoformat() + '"',
}


def csv_value(value: Any) -> str:
    """One value as a quoted Bulk API CSV cell."""
    encoder = _CSV.get(type(value))
    return encoder(value) if encoder is not None else _csv_str(str(value))


class CsvRecords:
    """Renders records as Bulk API 2.0 query result CSV (header plus lines)."""

    def __init__(
        self, fields: Sequence[FieldDef], delimiter: str = ",", line_ending: str = "\n"
    ) -> None:
        self.names = [field.name for field in fields]
        self.delimiter = delimiter
        self.line_ending = line_ending

    def header(self) -> str:
        """The header line (quoted field names)."""
        return self.delimiter.join(_csv_str(n) for n in self.names) + self.line_ending

    def render(self, records: Sequence[Record]) -> str:
        """The header and one line per record."""
        encoders = _CSV
        columns = [
            [(encoders.get(type(v)) or csv_value)(v) for v in (r.get(name) for r in records)]
            for name in self.names
        ]
        join = self.delimiter.join
        ending = self.line_ending
        body = ending.join(join(cells) for cells in zip(*columns, strict=True))
        return self.header() + (body + ending if records else "")
