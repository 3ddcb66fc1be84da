"""Salesforce's wire formats for records: REST JSON and Bulk API 2.0 CSV.

Rendering is column by column: the values of a page are read row-major with one
``itemgetter`` call per record, transposed, and each column is encoded by one list
comprehension chosen by the field's describe type (falling back to per-value dispatch when a
value is not of the declared type).  Datetimes go through the C ``isoformat``.

* REST JSON: datetimes as ``2024-01-02T03:04:05.000+0000``, dates as ``2024-01-02``, compound
  address fields as an object of their components, an ``attributes`` map (type and url) first.
* Bulk CSV: every value quoted, empty for null, datetimes as ``2024-01-02T03:04:05.000Z``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from itertools import repeat
from json.encoder import encode_basestring as _json_str
from operator import attrgetter, itemgetter, sub
from typing import Any

from connectors.emulator.soql import ID_TYPES, TEXT_TYPES
from connectors.emulator.store import FieldDef, TableDef

Record = dict[str, Any]
Column = Sequence[Any]


# ----------------------------------------------------------------------------- datetimes


_TIMES_OF_DAY = [
    f"T{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)
]
_DAYS: dict[int, str] = {}


def _day(ordinal: int) -> str:
    text = _DAYS.get(ordinal)
    if text is None:
        text = _DAYS[ordinal] = date.fromordinal(ordinal).isoformat()
    return text


def _utc_ms(value: datetime) -> str:
    """``2024-01-02T03:04:05.000`` in UTC (naive values are taken as UTC).

    UTC values take a table path (day strings memoised by ordinal, the 86,400 times of day
    prepared), faster than ``isoformat``: this is the hottest call when rendering records.
    """
    if value.tzinfo is UTC:
        micro = value.microsecond
        return (
            (_DAYS.get(value.toordinal()) or _day(value.toordinal()))
            + _TIMES_OF_DAY[value.hour * 3600 + value.minute * 60 + value.second]
            + (".000" if not micro else f".{micro // 1000:03d}")
        )
    if value.tzinfo is None:
        return value.isoformat(timespec="milliseconds")
    return value.astimezone(UTC).isoformat(timespec="milliseconds")[:-6]


def sf_datetime(value: datetime) -> str:
    """``2024-01-02T03:04:05.000+0000``: the REST API's datetime format (always UTC)."""
    return _utc_ms(value) + "+0000"


def bulk_datetime(value: datetime) -> str:
    """``2024-01-02T03:04:05.000Z``: Bulk API CSV's datetime format (always UTC)."""
    return _utc_ms(value) + "Z"


def columns(records: Sequence[Record], names: Sequence[str]) -> list[Column]:
    """The values of ``names`` in ``records``, one sequence per name (missing keys are null)."""
    if not names:
        return []
    if not records:
        return [() for _ in names]
    try:
        rows = list(map(itemgetter(*names), records))
    except KeyError:
        return [[r.get(name) for r in records] for name in names]
    if len(names) == 1:
        return [rows]
    return list(zip(*rows, strict=True))


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


def _typed(kind: str, values: Column) -> bool:
    """False when a date or datetime column holds something else (or a non-UTC datetime)."""
    if kind == "datetime":
        return all(v is None or (type(v) is datetime and v.tzinfo is UTC) for v in values)
    if kind == "date":
        return all(v is None or type(v) is date for v in values)
    return True


def _json_typed(kind: str, values: Column) -> list[str]:
    if kind in TEXT_TYPES or kind in ID_TYPES:
        return ["null" if v is None else _json_str(v) for v in values]
    if kind == "datetime":
        return ["null" if v is None else '"' + _utc_ms(v) + '+0000"' for v in values]
    if kind == "date":
        return ["null" if v is None else '"' + v.isoformat() + '"' for v in values]
    if kind == "boolean":
        return ["null" if v is None else "true" if v else "false" for v in values]
    return [json_value(v) for v in values]


def json_column(field: FieldDef, values: Column) -> list[str]:
    """One column as JSON value texts, by the field's type (per value when types disagree)."""
    if not _typed(field.type, values):
        return [json_value(v) for v in values]
    try:
        return _json_typed(field.type, values)
    except (AttributeError, TypeError):
        return [json_value(v) for v in values]


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
        self.head = '{"attributes":{"type":' + _json_str(table.name) + ',"url":"' + self.url_prefix
        self.key = table.key
        self.fields = list(fields)
        self.labels = [',"' + field.name + '":' for field in fields]
        self.compound = {
            field.name: field_getter(table, field)
            for field in fields
            if field.type in ("address", "location")
        }

    def render(self, records: Sequence[Record]) -> list[str]:
        """One JSON object text per record, in order."""
        plain = [f.name for f in self.fields if f.name not in self.compound]
        keys, *read = columns(records, [self.key, *plain])
        values = dict(zip(plain, read, strict=True))
        head = self.head
        parts: list[Iterable[str]] = [[head + _json_str(str(k))[1:] + "}" for k in keys]]
        for field, label in zip(self.fields, self.labels, strict=True):
            getter = self.compound.get(field.name)
            if getter is not None:
                encoded = [json.dumps(getter(r), ensure_ascii=False) for r in records]
            else:
                encoded = json_column(field, values[field.name])
            parts += (repeat(label), encoded)
        parts.append(repeat("}"))
        return ["".join(record) for record in zip(*parts)]  # noqa: B905 - repeat() is endless


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
    return '"' + value.replace('"', '""') + '"'


def _csv_plain_float(value: float) -> str:
    text = repr(value)
    if "e" in text or "E" in text:
        text = f"{value:f}".rstrip("0").rstrip(".") or "0"
    return text


_CSV_PLAIN: dict[type, Callable[[Any], str]] = {
    str: lambda v: v.replace('"', '""'),
    type(None): lambda _v: "",
    bool: lambda v: "true" if v else "false",
    int: int.__repr__,
    float: _csv_plain_float,
    datetime: bulk_datetime,
    date: date.isoformat,
}


def _csv_plain(value: Any) -> str:
    encoder = _CSV_PLAIN.get(type(value))
    return encoder(value) if encoder is not None else str(value).replace('"', '""')


def csv_value(value: Any) -> str:
    """One value as a quoted Bulk API CSV cell."""
    return '"' + _csv_plain(value) + '"'


_NULL_AS_EMPTY = {None: ""}
_STR = {str}
_STR_OR_NULL = {str, type(None)}


def _csv_typed(kind: str, values: Column) -> Sequence[str]:
    if kind in TEXT_TYPES or kind in ID_TYPES:
        kinds = set(map(type, values))
        if kinds == _STR and (kind in ID_TYPES or '"' not in "".join(values)):
            return values  # written as they are
        if kinds == _STR_OR_NULL and kind in ID_TYPES:
            return list(map(_NULL_AS_EMPTY.get, values, values))
    if kind in TEXT_TYPES:
        return ["" if v is None else v.replace('"', '""') for v in values]
    if kind in ID_TYPES:
        return ["" if v is None else v + "" for v in values]
    if kind == "boolean":
        return ["" if v is None else "true" if v else "false" for v in values]
    return [_csv_plain(v) for v in values]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAYS: dict[int, str] = {}  # days since 1970-01-01 -> "2024-01-02"
_TIMES_OF_DAY_Z: list[list[str]] = []  # [the times of day as "T03:04:05.000Z"], made once
_MICROSECONDS = attrgetter("microseconds")


def _times_of_day_z() -> list[str]:
    if not _TIMES_OF_DAY_Z:
        _TIMES_OF_DAY_Z.append([t + ".000Z" for t in _TIMES_OF_DAY])  # one append: atomic
    return _TIMES_OF_DAY_Z[0]


def _csv_datetimes(values: Column) -> list[str]:
    """A datetime column's cells, each exactly as :func:`_csv_plain` writes it.

    When every value is an aware datetime in whole seconds (what the store holds), each one's
    distance from the epoch (subtracted in C) indexes a table of days and one of the 86,400 times
    of day, which is the UTC text; otherwise every value goes through :func:`_csv_plain`.
    """
    kinds = set(map(type, values))
    if kinds == {datetime, type(None)}:  # nulls left empty, the rest as below
        texts = iter(_csv_datetimes([v for v in values if v is not None]))
        return ["" if v is None else next(texts) for v in values]
    if kinds == {datetime}:
        try:
            deltas = list(map(sub, values, repeat(_EPOCH)))
        except TypeError:  # naive datetimes cannot be subtracted from aware ones
            deltas = []
        if deltas and not any(map(_MICROSECONDS, deltas)):
            days, times = _EPOCH_DAYS, _times_of_day_z()
            try:
                return [days[d.days] + times[d.seconds] for d in deltas]
            except KeyError:  # a day not seen yet: add every day of the column, then again
                first = _EPOCH.toordinal()
                for n in {d.days for d in deltas}.difference(days):
                    days[n] = date.fromordinal(first + n).isoformat()
                return [days[d.days] + times[d.seconds] for d in deltas]
    return [_csv_plain(v) for v in values]


_DATE_CELLS: dict[date | None, str] = {None: ""}  # every date written so far -> its cell


def _csv_dates(values: Column) -> list[str]:
    """A date column's cells: each distinct date formatted once per process, as
    :func:`_csv_plain` writes it, and looked up after that (other values one by one)."""
    if not set(map(type, values)) <= {date, type(None)}:
        return [_csv_plain(v) for v in values]
    texts = _DATE_CELLS
    try:
        return list(map(texts.__getitem__, values))
    except KeyError:  # dates not seen yet (only dates and None are keys: their types are exact)
        for value in set(values).difference(texts):
            texts[value] = _csv_plain(value)
        return list(map(texts.__getitem__, values))


class _Untyped(Exception):
    """A column holds a value its field's type does not (see :meth:`CsvRecords.cells`)."""


def csv_column(field: FieldDef, values: Column, *, whole: bool = True) -> Sequence[str]:
    """One column as CSV cell contents (quotes doubled, not yet enclosed), by field type.

    When a value is not of the field's type, every value of the column is written by
    :func:`_csv_plain` (ids with quotes then have them doubled); a part of a column
    (``whole=False``) raises :class:`_Untyped` instead, so that the caller can render the
    column as a whole.
    """
    if field.type == "datetime":  # every value as _csv_plain writes it, faster
        return _csv_datetimes(values)
    if field.type == "date":
        return _csv_dates(values)
    try:
        return _csv_typed(field.type, values)
    except (AttributeError, TypeError):
        if not whole:
            raise _Untyped(field.name) from None
        return [_csv_plain(v) for v in values]


CHUNK = 512  # records rendered at a time (see CsvRecords.cells)


class CsvRecords:
    """Renders records as Bulk API 2.0 query result CSV (header plus lines)."""

    def __init__(
        self, fields: Sequence[FieldDef], delimiter: str = ",", line_ending: str = "\n"
    ) -> None:
        self.fields = list(fields)
        self.names = [field.name for field in fields]
        self.delimiter = delimiter
        self.line_ending = line_ending
        self.separator = '"' + delimiter + '"'

    def header(self) -> str:
        """The header line (quoted field names)."""
        return '"' + self.separator.join(self.names) + '"' + self.line_ending

    def cells(self, records: Sequence[Record]) -> list[str]:
        """One line per record without its enclosing quotes or line ending (the quoted cells
        joined by the quoted delimiter): :meth:`body` or :meth:`lines` adds them.

        Records are rendered :data:`CHUNK` at a time, so that the values a chunk reads are still
        in the processor's cache when they are encoded and joined, and the chunk's row tuples
        are freed before the cyclic collector counts them.
        """
        if len(records) <= CHUNK:
            return self._cells(records)
        out: list[str] = []
        try:
            for start in range(0, len(records), CHUNK):
                out += self._cells(records[start : start + CHUNK], whole=False)
        except _Untyped:  # a value not of its field's type: the page's columns as a whole
            return self._cells(records)
        return out

    def _cells(self, records: Sequence[Record], *, whole: bool = True) -> list[str]:
        encoded = [
            csv_column(field, values, whole=whole)
            for field, values in zip(self.fields, columns(records, self.names), strict=True)
        ]
        return list(map(self.separator.join, zip(*encoded, strict=True)))

    def lines(self, records: Sequence[Record]) -> list[str]:
        """One CSV line (without line ending) per record."""
        return ['"' + text + '"' for text in self.cells(records)]

    def body(self, cells: Sequence[str]) -> str:
        """The header and one line per record, from :meth:`cells` texts."""
        return self.part(cells, self.header())

    def part(self, cells: Sequence[str], before: str = "") -> str:
        """``before``, then one line per record from :meth:`cells` texts: a body is the header
        and its lines, and the parts of consecutive runs of lines add up to their body."""
        if not cells:
            return before
        ending = self.line_ending
        lines = ('"' + ending + '"').join(cells)
        return "".join((before, '"', lines, '"', ending))  # one copy of the lines

    def render(self, records: Sequence[Record]) -> str:
        """The header and one line per record."""
        return self.body(self.cells(records))
