"""Building SOQL safely: identifiers are validated, literals are escaped or formatted."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

_IDENTIFIER_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_ID_RE = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}


def identifier(name: str) -> str:
    """An object or field name, refused unless it is a plain API name."""
    if not _IDENTIFIER_RE.match(name):
        raise ValueError(f"{name!r} is not a Salesforce API name")
    return name


def string_literal(value: str) -> str:
    """A quoted SOQL string literal with every special character escaped."""
    return "'" + "".join(_ESCAPES.get(ch, ch) for ch in value) + "'"


def id_literal(value: str) -> str:
    """A quoted Salesforce id, refused unless it has the shape of one."""
    if not _ID_RE.match(value):
        raise ValueError(f"{value!r} is not a Salesforce id")
    return f"'{value}'"


def datetime_literal(value: datetime) -> str:
    """A SOQL dateTime literal in UTC, to the second (``2024-01-02T03:04:05Z``)."""
    if value.tzinfo is None:
        raise ValueError("datetime literals need a time zone")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def select(
    obj: str,
    fields: Sequence[str],
    *,
    since: datetime | None,
    upper: datetime,
    cursor_field: str,
) -> str:
    """``SELECT fields FROM obj`` for the window ``since <= cursor_field < upper``."""
    columns = ", ".join(identifier(f) for f in fields)
    return f"SELECT {columns} FROM {identifier(obj)} WHERE {window(cursor_field, since, upper)}"


def count(obj: str, *, since: datetime | None, upper: datetime, cursor_field: str) -> str:
    """``SELECT COUNT() FROM obj`` for the same window."""
    return f"SELECT COUNT() FROM {identifier(obj)} WHERE {window(cursor_field, since, upper)}"


def window(cursor_field: str, since: datetime | None, upper: datetime) -> str:
    """The WHERE condition of one extraction window."""
    field = identifier(cursor_field)
    condition = f"{field} < {datetime_literal(upper)}"
    if since is not None:
        condition = f"{field} >= {datetime_literal(since)} AND {condition}"
    return condition
