"""Building Dataverse Web API queries from validated pieces only.

Logical names and entity sets must look like Dataverse names (``[a-z][a-z0-9_]*``, which also
keeps them safe in a URL); string values are quoted the OData way (``'`` doubled); date-times
are parsed and written back as ``YYYY-MM-DDTHH:MM:SSZ``, so nothing a CRM or a saved cursor
holds can change the shape of a ``$filter``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from config.errors import MalformedResponseError

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DELETED_ENTITY = "$deletedEntity"


def name(value: str) -> str:
    """``value`` when it is a valid logical name, property or entity set; else ValueError."""
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise ValueError(f"{value!r} is not a valid Dataverse name")
    return value


def string(value: str) -> str:
    """An OData string literal: ``'O''Hara'``."""
    if not isinstance(value, str):
        raise TypeError(f"an OData string needs str, not {type(value).__name__}")
    if any(ord(c) < 32 for c in value):
        raise ValueError("an OData string literal cannot hold control characters")
    return "'" + value.replace("'", "''") + "'"


def timestamp(value: str | datetime) -> str:
    """An OData DateTimeOffset literal in UTC, whole seconds (``2024-01-02T03:04:05Z``)."""
    moment = (
        datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    )
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def select(properties: Iterable[str]) -> str:
    """A ``$select`` list of validated property names."""
    return ",".join(name(p) for p in properties)


def modified_since(since: str | None) -> str | None:
    """The ``$filter`` of a ``modifiedon`` window, or None for everything."""
    return None if since is None else f"modifiedon ge {timestamp(since)}"


def delta_token(link: str) -> str:
    """The ``$deltatoken`` a delta link carries."""
    values = parse_qs(urlsplit(link).query).get("$deltatoken")
    if not values or not values[0]:
        raise MalformedResponseError(f"the delta link has no $deltatoken: {link[:200]}")
    return values[0]


def is_deleted_entity(row: dict[str, object]) -> bool:
    """True for a ``$deletedEntity`` row of a delta answer."""
    context = row.get("@odata.context")
    return (isinstance(context, str) and context.endswith(DELETED_ENTITY)) or (
        row.get("reason") == "deleted" and "id" in row and len(row) <= 3
    )
