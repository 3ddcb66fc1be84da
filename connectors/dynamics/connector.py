"""The Dynamics 365 / Dataverse connector: RetrieveEntity, then change tracking.

Reading a table is one *pass*, resumable after every page (the checkpoint is the next
``@odata.nextLink``):

* **Full, change-tracked** (no cursor, or ``--full``): ``GET <set>?$select=...`` with
  ``Prefer: odata.track-changes,odata.maxpagesize=<page_size>``, following ``@odata.nextLink``
  until the last page's ``@odata.deltaLink``, which becomes the cursor.  A full pass is also a
  reconciliation: records the engine holds that it did not see are marked deleted.
* **Incremental, change-tracked**: the saved delta link's ``$deltatoken`` with the current
  ``$select``: changed and created rows, ``$deletedEntity`` rows as deletions, and a new delta
  link.  When Dataverse no longer knows the token (``0x80044352``, it keeps them a limited number
  of days) the connector logs ``change tracking token expired; reading <table> in full`` and
  reads the table again in full, which reconciles deletions.
* **Tables without change tracking** (``ChangeTrackingEnabled`` false, or ``0x80072491``):
  ``$filter=modifiedon ge <last modifiedon seen>`` ordered by ``modifiedon`` and key; records
  on the boundary are read again and the engine keeps one copy of each (latest page wins).  An
  incremental window is followed by a pass over every key (``$select=<key>``) so hard deletions
  are found without change tracking.

Every request goes through the shared :class:`~connectors.http.CrmSession` (429 waited out
exactly as ``Retry-After`` says, 5xx and dropped connections retried, one re-login on 401);
``x-ms-ratelimit-*`` headers are recorded for ``ops.api_usage``.  A page travels as Arrow
columns that pyarrow builds from the decoded JSON in C, refusing a value of a JSON type the
column's metadata does not allow (named with table, column and value); the engine casts them to
the column types.  Lookups arrive as ``_<name>_value`` and land as ``<name>``; choices land as
code and label.  Only links on the configured environment's
own host are followed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import repeat
from operator import itemgetter
from typing import Any

import orjson
import pyarrow as pa
import requests

from config.errors import CrmError, MalformedResponseError
from config.model import DynamicsSource
from connectors.base import ApiUsage, ArrowRecords, Column, ObjectSchema, Page, StreamState
from connectors.dynamics import odata
from connectors.dynamics.auth import DynamicsAuth
from connectors.dynamics.limits import RateLimits
from connectors.dynamics.schema import (
    DERIVED_TYPES,
    LABEL_TYPE,
    LOOKUP_TABLE_TYPE,
    property_name,
    retrieved_schema,
)
from connectors.dynamics.writer import translate

log = logging.getLogger(__name__)

EXPIRED_VERSION_STAMP = "0x80044352"
NOT_TRACKED = "0x80072491"
NAMESPACE = "Microsoft.Dynamics.CRM"
LOOKUP_NAME = f"{NAMESPACE}.lookuplogicalname"
# one request per table: the entity, its attributes (derived properties included) and the
# option sets of its choices, where EntityDefinitions paths need three
RETRIEVE_ENTITY = (
    "RetrieveEntity(EntityFilters=@filters,LogicalName=@name,MetadataId=@id,"
    "RetrieveAsIfPublished=@unpublished)"
)
EMPTY_ID = "00000000-0000-0000-0000-000000000000"

Json = dict[str, Any]

_TEXT: frozenset[type] = frozenset({str, type(None)})
# JSON types each kind of column accepts (numbers may come as text: Edm.Int64, Edm.Decimal)
_ALLOWED: dict[str, frozenset[type]] = {
    "text": _TEXT,
    "bool": frozenset({bool, type(None)}),
    "number": frozenset({int, float, str, type(None)}),
}
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError)


class _Expired(Exception):
    """The delta token is no longer known: read the table in full."""


class _NotTracked(Exception):
    """The table has no change tracking: read it in modifiedon windows."""


@dataclass(frozen=True)
class _Plan:
    """How one column's values come out of a page of records."""

    column: str
    prop: str
    kind: str  # text, bool, number, label, annotation
    labels: Mapping[object, str]  # a choice's code (as sent, or as text) -> its label
    floats_as_text: bool = True  # floats travel as their shortest text unless landed as double


class DynamicsConnector:
    """Reads one Dataverse environment over kamsync's session with an msal token."""

    kind = "dynamics"
    deleted_field: str | None = None

    def __init__(
        self,
        config: DynamicsSource,
        *,
        env: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.source = config.name
        self.auth = DynamicsAuth(config, env=env, sleep=sleep)
        self.session = self.auth.session
        self.root = f"{config.url}/api/data/v{config.api_version}"
        self.limits = RateLimits()
        self.session.on_response.append(self._observe)
        self._plans: dict[tuple[str, tuple[str, ...]], list[_Plan]] = {}

    # ------------------------------------------------------------------ session

    def _observe(self, response: requests.Response) -> None:
        self.limits.observe(response.status_code, response.headers)

    def usage(self) -> ApiUsage:
        """Calls made by this connector and the service protection headers last seen."""
        return ApiUsage(
            calls=self.session.calls,
            detail=self.limits.detail(),
            extra={
                "burst_remaining": self.limits.burst_remaining,
                "lowest_burst_remaining": self.limits.lowest_burst,
                "time_remaining": self.limits.time_remaining,
                "throttled": self.limits.throttled,
            },
        )

    def close(self) -> None:
        """Close the sessions."""
        self.auth.close()

    def _get(
        self,
        url: str,
        what: str,
        *,
        params: Mapping[str, str] | None = None,
        prefer: str | None = None,
    ) -> Json:
        if not url.startswith(self.config.url + "/"):
            raise MalformedResponseError(
                f"{what}: the CRM sent a link to another host ({url[:80]}); not followed",
                source=self.source,
            )
        headers = {
            "Authorization": f"Bearer {self.auth.token()}",
            "Accept": "application/json",
            "OData-MaxVersion": "4.0",
            "OData-Version": "4.0",
        }
        if prefer:
            headers["Prefer"] = prefer
        response = self.session.get(url, params=params, headers=headers)
        if response.status_code != 200:
            raise translate(response, what, self.source)
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise MalformedResponseError(
                f"{what}: the answer is not valid JSON", source=self.source
            ) from None
        if not isinstance(body, dict):
            raise MalformedResponseError(f"{what}: the answer is not an object", source=self.source)
        return body

    # ------------------------------------------------------------------ discover

    def discover(self, objects: Sequence[str]) -> list[ObjectSchema]:
        """Describe each table: entity, attributes, date-only formats, choice labels (1 call)."""
        return [self._describe(odata.name(name)) for name in objects]

    def _describe(self, logical: str) -> ObjectSchema:
        body = self._get(
            f"{self.root}/{RETRIEVE_ENTITY}",
            f"describe {logical}",
            params={
                "@filters": f"{NAMESPACE}.EntityFilters'Attributes'",
                "@name": odata.string(logical),
                "@id": EMPTY_ID,
                "@unpublished": "false",
            },
        )
        return retrieved_schema(body, self.source)

    # ------------------------------------------------------------------ read

    def read(self, schema: ObjectSchema, state: StreamState) -> Iterator[Page]:
        """Yield the pages of one pass, resuming from ``state.checkpoint`` when set."""
        checkpoint = state.checkpoint or self._new_pass(schema, state)
        restart = False
        while checkpoint["phase"] != "done":
            try:
                for page in self._pages(schema, checkpoint):
                    # the first page of a pass started over drops what the old one staged
                    yield replace(page, restart=True) if restart else page
                    restart = False
                    assert page.checkpoint is not None
                    checkpoint = page.checkpoint
            except _Expired:
                restart = True
                log.warning(
                    "%s: change tracking token expired; reading %s in full "
                    "(deletions are reconciled)",
                    self.source,
                    schema.name,
                )
                checkpoint = _tracked_full()
            except _NotTracked:
                restart = True
                log.info(
                    "%s: %s has no change tracking; reading it by modifiedon",
                    self.source,
                    schema.name,
                )
                checkpoint = _window(None, full=True)
        yield Page(
            mode=checkpoint["mode"],
            method=checkpoint["method"],
            cursor=checkpoint["cursor"],
            done=True,
        )

    def _new_pass(self, schema: ObjectSchema, state: StreamState) -> Json:
        cursor = None if state.full else state.cursor
        if schema.cursor_field is None:
            link = (cursor or {}).get("delta_link")
            if isinstance(link, str) and link:
                return {
                    "mode": "incremental",
                    "method": "delta",
                    "phase": "records",
                    "token": odata.delta_token(link),
                    "next": None,
                }
            return _tracked_full()
        if cursor is not None and "since" in cursor:
            return _window(cursor["since"], full=False)
        return _window(None, full=True)

    def _pages(self, schema: ObjectSchema, checkpoint: Json) -> Iterator[Page]:
        method = checkpoint["method"]
        if method in ("track", "delta"):
            yield from self._tracked_pages(schema, checkpoint)
        elif checkpoint["phase"] == "reconcile":
            yield from self._reconcile_pages(schema, checkpoint)
        elif method == "modifiedon":
            yield from self._window_pages(schema, checkpoint)
        else:
            raise MalformedResponseError(
                f"unknown checkpoint method {method!r}", source=self.source
            )

    def _collection(self, schema: ObjectSchema) -> str:
        return f"{self.root}/{odata.name(schema.collection or schema.name + 's')}"

    def _prefer(self, schema: ObjectSchema, *, tracking: bool) -> str:
        prefer = [f"odata.maxpagesize={self.config.page_size}"]
        if tracking:
            prefer.insert(0, "odata.track-changes")
        if _annotated(schema):
            prefer.append(f'odata.include-annotations="{LOOKUP_NAME}"')
        return ",".join(prefer)

    def _first_params(self, schema: ObjectSchema, checkpoint: Json) -> dict[str, str]:
        params = {"$select": odata.select(property_name(c) for c in _landed(schema))}
        if checkpoint["method"] == "delta":
            params["$deltatoken"] = checkpoint["token"]
        return params

    # ---------------------------------------------------------- change tracking

    def _tracked_pages(self, schema: ObjectSchema, checkpoint: Json) -> Iterator[Page]:
        what = f"read {schema.name}"
        while True:
            calls = self.session.calls
            link = checkpoint.get("next")
            try:
                if link:
                    body = self._get(link, what, prefer=self._prefer(schema, tracking=True))
                else:
                    body = self._get(
                        self._collection(schema),
                        what,
                        params=self._first_params(schema, checkpoint),
                        prefer=self._prefer(schema, tracking=True),
                    )
            except CrmError as exc:
                if exc.code == EXPIRED_VERSION_STAMP and checkpoint["method"] == "delta":
                    raise _Expired from None
                if exc.code == NOT_TRACKED:
                    raise _NotTracked from None
                raise
            rows = _rows(body, what, self.source)
            deleted: tuple[str, ...] = ()
            if checkpoint["method"] == "delta":
                deleted = tuple(str(r["id"]) for r in rows if odata.is_deleted_entity(r))
                if deleted:
                    rows = [r for r in rows if not odata.is_deleted_entity(r)]
            following = self._following(body, checkpoint, what)
            yield Page(
                checkpoint["mode"],
                checkpoint["method"],
                records=self._records(schema, rows),
                deleted_ids=deleted,
                checkpoint=following,
                api_calls=self.session.calls - calls,
            )
            if following["phase"] == "done":
                return
            checkpoint = following

    def _following(self, body: Json, checkpoint: Json, what: str) -> Json:
        next_link = body.get("@odata.nextLink")
        if isinstance(next_link, str) and next_link:
            return {**checkpoint, "next": next_link}
        delta_link = body.get("@odata.deltaLink")
        if not isinstance(delta_link, str) or not delta_link:
            raise MalformedResponseError(
                f"{what}: the last page of a tracked read has no @odata.deltaLink",
                source=self.source,
            )
        odata.delta_token(delta_link)  # refuse a link without a token now, not next sync
        return _done(checkpoint, {"delta_link": delta_link})

    # ---------------------------------------------------------- modifiedon windows

    def _window_pages(self, schema: ObjectSchema, checkpoint: Json) -> Iterator[Page]:
        what = f"read {schema.name}"
        cursor_field = schema.cursor_field or "modifiedon"
        while True:
            calls = self.session.calls
            link = checkpoint.get("next")
            if link:
                body = self._get(link, what, prefer=self._prefer(schema, tracking=False))
            else:
                params = self._first_params(schema, checkpoint)
                window = odata.modified_since(checkpoint.get("since"))
                if window:
                    params["$filter"] = window
                params["$orderby"] = f"{odata.name(cursor_field)} asc,{odata.name(schema.key)} asc"
                body = self._get(
                    self._collection(schema),
                    what,
                    params=params,
                    prefer=self._prefer(schema, tracking=False),
                )
            rows = _rows(body, what, self.source)
            seen = _latest(rows, cursor_field, checkpoint.get("seen"))
            following = {**checkpoint, "seen": seen}
            next_link = body.get("@odata.nextLink")
            if isinstance(next_link, str) and next_link:
                following["next"] = next_link
            elif checkpoint["mode"] == "incremental":
                following = {**following, "phase": "reconcile", "next": None}
            else:
                following = _done(following, {"since": seen})
            yield Page(
                checkpoint["mode"],
                "modifiedon",
                records=self._records(schema, rows),
                checkpoint=following,
                api_calls=self.session.calls - calls,
            )
            if following["phase"] != "records":
                return
            checkpoint = following

    def _reconcile_pages(self, schema: ObjectSchema, checkpoint: Json) -> Iterator[Page]:
        what = f"list {schema.name} ids"
        key = odata.name(schema.key)
        while True:
            calls = self.session.calls
            link = checkpoint.get("next")
            if link:
                body = self._get(link, what, prefer=self._prefer(schema, tracking=False))
            else:
                body = self._get(
                    self._collection(schema),
                    what,
                    params={"$select": key},
                    prefer=self._prefer(schema, tracking=False),
                )
            ids = tuple(_key(r, key, what, self.source) for r in _rows(body, what, self.source))
            next_link = body.get("@odata.nextLink")
            if isinstance(next_link, str) and next_link:
                following = {**checkpoint, "next": next_link}
            else:
                following = _done(checkpoint, {"since": checkpoint.get("seen")})
            yield Page(
                checkpoint["mode"],
                "reconcile",
                live_ids=ids,
                checkpoint=following,
                api_calls=self.session.calls - calls,
            )
            if following["phase"] == "done":
                return
            checkpoint = following

    # ------------------------------------------------------------------ records

    def _plan(self, schema: ObjectSchema) -> list[_Plan]:
        key = (schema.name, schema.column_names)
        plan = self._plans.get(key)
        if plan is None:
            plan = [_column_plan(c) for c in schema.columns]
            self._plans[key] = plan
        return plan

    def _records(self, schema: ObjectSchema, rows: list[Json]) -> ArrowRecords:
        arrays = [self._column(schema, p, rows) for p in self._plan(schema)]
        if arrays[schema.column_names.index(schema.key)].null_count:
            raise MalformedResponseError(
                f"{schema.name}: a record has no {schema.key}", source=self.source
            )
        return ArrowRecords(pa.Table.from_arrays(arrays, names=list(schema.column_names)))

    def _column(self, schema: ObjectSchema, plan: _Plan, rows: list[Json]) -> pa.Array:
        """One column as an Arrow array, built and type-checked in C (pyarrow refuses a value
        of another JSON type), with Python only to name a value that does not fit."""
        if plan.kind == "annotation":  # absent where the lookup is empty
            values = list(map(dict.get, rows, repeat(plan.prop)))
            return _typed(values, pa.string()) or _text_array(map(_text_or_none, values))
        values = self._pluck(schema, plan, rows)
        if plan.kind == "label":
            return pa.array(list(map(plan.labels.get, values)), type=pa.string())
        if plan.kind == "text":
            array = _typed(values, pa.string())
        elif plan.kind == "bool":
            array = _typed(values, pa.bool_())
        else:
            array = _number(values, floats_as_text=plan.floats_as_text)
        if array is None:
            raise self._odd(schema, plan, _misfit(values, plan.kind))
        return array

    def _pluck(self, schema: ObjectSchema, plan: _Plan, rows: list[Json]) -> list[Any]:
        try:
            return list(map(itemgetter(plan.prop), rows))
        except KeyError:
            raise MalformedResponseError(
                f"{schema.name}: a record lacks {plan.prop}", source=self.source
            ) from None

    def _odd(self, schema: ObjectSchema, plan: _Plan, value: object) -> MalformedResponseError:
        shown = repr(value)[:80]
        return MalformedResponseError(
            f"{schema.name}.{plan.column}: value {shown} ({type(value).__name__}) does not fit "
            "the column's metadata type",
            source=self.source,
        )


# --------------------------------------------------------------------------- helpers


def _tracked_full() -> Json:
    return {"mode": "full", "method": "track", "phase": "records", "next": None}


def _window(since: str | None, *, full: bool) -> Json:
    return {
        "mode": "full" if full else "incremental",
        "method": "modifiedon",
        "phase": "records",
        "since": since,
        "seen": since,
        "next": None,
    }


def _done(checkpoint: Json, cursor: Json) -> Json:
    return {
        "mode": checkpoint["mode"],
        "method": checkpoint["method"],
        "phase": "done",
        "cursor": cursor,
    }


def _landed(schema: ObjectSchema) -> list[Column]:
    """The columns selected from the Web API (derived labels and lookup tables are not)."""
    return [c for c in schema.columns if c.crm_type not in DERIVED_TYPES]


def _annotated(schema: ObjectSchema) -> bool:
    """True when a column comes from the ``lookuplogicalname`` annotation."""
    return any(c.crm_type == LOOKUP_TABLE_TYPE for c in schema.columns)


def _column_plan(column: Column) -> _Plan:
    if column.crm_type == LABEL_TYPE:
        source = column.name.removesuffix("name")
        return _Plan(column.name, source, "label", _labels(column.options))
    if column.crm_type == LOOKUP_TABLE_TYPE:
        lookup = dict(column.options)["attribute_of"]
        return _Plan(column.name, f"_{lookup}_value@{LOOKUP_NAME}", "annotation", {})
    kind = {"boolean": "bool", "bigint": "number", "double": "number", "decimal": "number"}
    return _Plan(
        column.name,
        property_name(column),
        kind.get(column.type, "text"),
        {},
        floats_as_text=column.type != "double",
    )


def _labels(options: Sequence[tuple[str, str]]) -> dict[object, str]:
    """Labels by code as text and, for whole-number codes, by the number JSON decodes to."""
    labels: dict[object, str] = dict(options)
    for code, label in options:
        if code.lstrip("-").isdigit():
            labels[int(code)] = label
    return labels


def _typed(values: list[Any], kind: pa.DataType) -> pa.Array | None:
    """``values`` as an Arrow array of ``kind``, or None when one has another JSON type."""
    try:
        return pa.array(values, type=kind)
    except _ARROW_ERRORS:
        return None


def _text_array(values: Iterable[str | None]) -> pa.Array:
    return pa.array(list(values), type=pa.string())


def _number(values: list[Any], *, floats_as_text: bool) -> pa.Array | None:
    """Whole numbers as int64, floats as double (or their shortest text, which the warehouse
    parses exactly into a decimal), numbers sent as text as text; None for anything else."""
    try:
        array = pa.array(values)
    except _ARROW_ERRORS:  # text and numbers mixed, or a whole number past 64 bits
        if not set(map(type, values)) <= _ALLOWED["number"]:
            return None
        return _text_array(v if v is None or type(v) is str else str(v) for v in values)
    kind = array.type
    if pa.types.is_floating(kind):
        return array.cast(pa.string()) if floats_as_text else array
    if pa.types.is_integer(kind) or pa.types.is_string(kind) or pa.types.is_null(kind):
        return array
    return None  # booleans, objects, lists


def _misfit(values: list[Any], kind: str) -> object:
    """The first value whose JSON type a column of ``kind`` does not accept."""
    allowed = _ALLOWED[kind]
    return next((v for v in values if type(v) not in allowed), values[0] if values else None)


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _rows(body: Json, what: str, source: str) -> list[Json]:
    rows = body.get("value")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise MalformedResponseError(f"{what}: the answer has no list of records", source=source)
    return rows


def _key(row: Json, key: str, what: str, source: str) -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedResponseError(f"{what}: a record has no {key}", source=source)
    return value


def _latest(rows: list[Json], field: str, current: str | None) -> str | None:
    """The latest ``field`` value among ``rows`` and ``current`` (UTC ``...Z`` text)."""
    values = [v for r in rows if isinstance(v := r.get(field), str)]
    if current is not None:
        values.append(current)
    if not values:
        return None
    latest = max(values, key=odata.timestamp)
    return odata.timestamp(latest)
