"""Reading entity sets the way the Dataverse Web API serves them.

* ``$select``, ``$filter``, ``$orderby``, ``$top``, ``$count=true`` and ``/$count``;
* ``Prefer: odata.maxpagesize=N`` (at most 5,000, the default) with ``@odata.nextLink`` carrying a
  paging cookie in ``$skiptoken`` and ``Preference-Applied``; pages are keyset-paged on the sort
  order, so records that change between pages never shift a page boundary;
* lookups as ``_x_value`` and, when ``Prefer: odata.include-annotations`` asks, the
  ``FormattedValue``, ``lookuplogicalname`` and ``associatednavigationproperty`` annotations;
* ``@odata.etag`` ``W/"<versionnumber>"`` on every row (the store's change sequence);
* change tracking: ``Prefer: odata.track-changes`` returns every row, then ``@odata.deltaLink``
  with ``$deltatoken=<sequence>!<MM/dd/yyyy HH:mm:ss>``; following it returns the rows changed
  since, ``$deletedEntity`` rows for deletes, and a fresh delta link.  Tokens older than the
  configured age, or unknown, get Dataverse's ExpiredVersionStamp error.
"""

from __future__ import annotations

import bisect
import functools
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import orjson

from connectors.emulator.dataverse_errors import (
    CHANGE_TRACKING_NOT_ENABLED,
    EXPIRED_VERSION_STAMP,
    JSON_CONTENT_TYPE,
    DataverseError,
    bad_query,
    record_not_found,
)
from connectors.emulator.dataverse_model import (
    LOOKUP_TYPES,
    EntityView,
    Prop,
    formatter,
    json_value,
    primary_name_attribute,
)
from connectors.emulator.odata import (
    ODataError,
    OrderItem,
    Predicate,
    compile_filter,
    normalizer,
    parse_orderby,
    parse_select,
)
from connectors.emulator.server import Headers, Request, Response
from connectors.emulator.store import Store, Table

API_PATH = "/api/data/v9.2"
MAX_PAGE_SIZE = 5000
MAX_COUNT = 5000
FORMATTED = "OData.Community.Display.V1.FormattedValue"
LOOKUP_NAME = "Microsoft.Dynamics.CRM.lookuplogicalname"
NAVIGATION = "Microsoft.Dynamics.CRM.associatednavigationproperty"
TOTAL_COUNT = "Microsoft.Dynamics.CRM.totalrecordcount"
TOTAL_COUNT_EXCEEDED = "Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"
TOKEN_TIME_FORMAT = "%m/%d/%Y %H:%M:%S"  # noqa: S105 - a date format, not a secret
EXPIRED_MESSAGE = (
    "Version stamp associated with the client has expired. Please perform a full sync."
)
_UNSUPPORTED_OPTIONS = ("$expand", "$skip", "$apply", "$search", "$compute")
_TRACKING_FORBIDS = ("$filter", "$orderby", "$expand", "$top")
_KNOWN_OPTIONS = frozenset(
    {"$select", "$filter", "$orderby", "$top", "$count", "$skiptoken", "$deltatoken", "$format"}
)


# ---------------------------------------------------------------------------- preferences


def split_header_list(text: str) -> list[str]:
    """Split a comma-separated header value, keeping commas inside double quotes."""
    return split_commas(text, '"')


def split_commas(text: str, quote: str) -> list[str]:
    """``a=1,b='x,y'`` -> ``["a=1", "b='x,y'"]``: split on commas outside ``quote``s."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == quote:
            quoted = not quoted
        if char == "," and not quoted:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return [part for part in parts if part]


@dataclass(frozen=True)
class Preferences:
    """What the client asked for in ``Prefer``."""

    max_page_size: int | None = None
    annotations: tuple[str, ...] = ()
    annotations_text: str | None = None
    track_changes: bool = False
    continue_on_error: bool = False
    return_representation: bool = False

    @classmethod
    def parse(cls, header: str | None) -> Preferences:
        """Parse a ``Prefer`` header value."""
        values: dict[str, Any] = {}
        for item in split_header_list(header or ""):
            name, _, value = item.partition("=")
            name, value = name.strip().lower(), value.strip()
            if name == "odata.maxpagesize" and value.isdigit():
                values["max_page_size"] = int(value)
            elif name == "odata.include-annotations":
                text = value.strip('"')
                values["annotations_text"] = text
                values["annotations"] = tuple(p.strip() for p in text.split(",") if p.strip())
            elif name == "odata.track-changes":
                values["track_changes"] = True
            elif name == "odata.continue-on-error":
                values["continue_on_error"] = True
            elif name == "return" and value == "representation":
                values["return_representation"] = True
        return cls(**values)

    def wants(self, term: str) -> bool:
        """True when the annotation ``term`` was asked for."""
        for pattern in self.annotations:
            if pattern.startswith("-") and _matches(pattern[1:], term):
                return False
        return any(_matches(pattern, term) for pattern in self.annotations)


def _matches(pattern: str, term: str) -> bool:
    if pattern in ("*", term):
        return True
    return pattern.endswith(".*") and term.startswith(pattern[:-1])


# ---------------------------------------------------------------------------- row rendering

Step = Callable[[Mapping[str, Any], dict[str, Any]], None]


@dataclass(frozen=True)
class _LookupTarget:
    table: str
    rows: Mapping[str, Mapping[str, Any]]
    name_field: str | None


class RowWriter:
    """Turns stored records into Web API JSON objects for a fixed ``$select`` and annotations.

    Values stay Python objects (dates, Decimals) until :func:`json_value` turns them into JSON
    while the page is encoded.  Without annotations a row is built in one ``dict(zip(...))``.
    """

    def __init__(self, view: EntityView, props: list[Prop], prefs: Preferences, store: Store):
        self.view = view
        self.store = store
        self.formatted = prefs.wants(FORMATTED)
        self.lookup_name = prefs.wants(LOOKUP_NAME)
        self.navigation = prefs.wants(NAVIGATION)
        self.key = view.key
        chosen = [prop for prop in props if prop.key != view.key]
        self.annotated = self.formatted or self.lookup_name or self.navigation
        self.steps = [self._step(prop) for prop in chosen] if self.annotated else []
        self._keys = (*(prop.key for prop in chosen), view.key)
        self._names = ("@odata.etag", *(prop.name for prop in chosen), view.key)
        names = [prop.name for prop in chosen]
        self._version = names.index("versionnumber") + 1 if "versionnumber" in names else None

    def __call__(self, record: Mapping[str, Any], seq: int) -> dict[str, Any]:
        if not self.annotated:
            values = [f'W/"{seq}"', *map(record.get, self._keys)]
            if self._version is not None:
                values[self._version] = seq
            return dict(zip(self._names, values, strict=True))
        out: dict[str, Any] = {"@odata.etag": f'W/"{seq}"'}
        for step in self.steps:
            step(record, out)
        if "versionnumber" in out:
            out["versionnumber"] = seq
        out[self.key] = record.get(self.key)
        return out

    def _step(self, prop: Prop) -> Step:
        if prop.is_lookup:
            return self._lookup_step(prop)
        name, key = prop.name, prop.key
        formatted_name = f"{name}@{FORMATTED}"
        format_value = formatter(prop.attribute) if self.formatted else None
        if format_value is None:
            return lambda record, out: out.__setitem__(name, record.get(key))

        def annotated(record: Mapping[str, Any], out: dict[str, Any]) -> None:
            value = record.get(key)
            if value is not None:
                out[formatted_name] = format_value(value)
            out[name] = value

        return annotated

    def _lookup_step(self, prop: Prop) -> Step:
        name, key = prop.name, prop.key
        if not (self.formatted or self.lookup_name or self.navigation):
            return lambda record, out: out.__setitem__(name, record.get(key))
        targets = self._targets(prop)

        def lookup(record: Mapping[str, Any], out: dict[str, Any]) -> None:
            value = record.get(key)
            if value is None:
                out[name] = None
                return
            target = _resolve_target(targets, record, key, str(value))
            if target is not None:
                self._annotate_lookup(prop, target, str(value), f"{name}@", out)
            out[name] = value

        return lookup

    def _annotate_lookup(
        self, prop: Prop, target: _LookupTarget, value: str, prefix: str, out: dict[str, Any]
    ) -> None:
        if self.formatted and target.name_field is not None:
            referenced = target.rows.get(value)
            if referenced is not None and referenced.get(target.name_field) is not None:
                out[prefix + FORMATTED] = str(referenced[target.name_field])
        if self.navigation:
            out[prefix + NAVIGATION] = navigation_property(self.view, prop, target.table)
        if self.lookup_name:
            out[prefix + LOOKUP_NAME] = target.table

    def _targets(self, prop: Prop) -> list[_LookupTarget]:
        targets = []
        for name in prop.attribute.reference_to:
            table = self.store.tables.get(name)
            if table is not None:
                targets.append(
                    _LookupTarget(name, table.rows, primary_name_attribute(table.definition))
                )
            else:
                targets.append(_LookupTarget(name, {}, None))
        return targets


def _resolve_target(
    targets: list[_LookupTarget], record: Mapping[str, Any], key: str, value: str
) -> _LookupTarget | None:
    if len(targets) == 1:
        return targets[0]
    named = record.get(f"{key}typecode") or record.get(f"{key}type")
    for target in targets:
        if target.table == named:
            return target
    for target in targets:
        if value in target.rows:
            return target
    return targets[0] if targets else None


def navigation_property(view: EntityView, prop: Prop, target: str) -> str:
    """The single-valued navigation property behind a lookup value for ``target``."""
    attribute = prop.attribute
    if len(attribute.reference_to) < 2 or attribute.type == "Owner":
        return attribute.name  # parentaccountid, ownerid
    if attribute.type == "Customer":
        return f"{attribute.name}_{target}"  # parentcustomerid_account
    return f"{attribute.name}_{target}_{view.logical_name}"  # regardingobjectid_account_task


# ---------------------------------------------------------------------------- paging cookies


@functools.total_ordering
class _Descending:
    """Reverses the order of a sort-key element."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and self.value == other.value

    def __lt__(self, other: _Descending) -> bool:
        return bool(other.value < self.value)

    def __hash__(self) -> int:
        return hash(self.value)


def _encode_value(value: Any) -> list[Any]:
    if value is None:
        return ["z"]
    if isinstance(value, bool):
        return ["b", value]
    if isinstance(value, datetime):
        return ["t", value.isoformat()]
    if isinstance(value, date):
        return ["d", value.isoformat()]
    if isinstance(value, int | float | Decimal):
        return ["n", str(value)]
    return ["s", str(value)]


def _decode_value(item: list[Any]) -> Any:
    tag = item[0]
    if tag == "z":
        return None
    if tag == "b":
        return bool(item[1])
    if tag == "t":
        return datetime.fromisoformat(item[1])
    if tag == "d":
        return date.fromisoformat(item[1])
    if tag == "n":
        return Decimal(item[1])
    return str(item[1])


@dataclass(frozen=True)
class Cookie:
    """The position a ``$skiptoken`` points at, and what tracking state travels with it."""

    page: int
    last: tuple[Any, ...]
    tracking_token: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def encode(self, key_name: str) -> str:
        """The ``$skiptoken`` value, shaped like Dataverse's paging cookie."""
        position = json.dumps(
            {"last": [_encode_value(v) for v in self.last], **self.extra}, separators=(",", ":")
        )
        inner = f'<cookie page="{self.page - 1}"><{key_name} last="{position}" /></cookie>'
        tracking = (
            f'istracking="True" trackingtoken="{self.tracking_token}"'
            if self.tracking_token
            else 'istracking="False"'
        )
        return f'<cookie pagenumber="{self.page}" pagingcookie="{quote(inner)}" {tracking} />'

    @classmethod
    def decode(cls, text: str) -> Cookie:
        """Read a ``$skiptoken`` this emulator issued."""
        page = re.search(r'pagenumber="(\d+)"', text)
        inner = re.search(r'pagingcookie="([^"]*)"', text)
        token = re.search(r'trackingtoken="([^"]*)"', text)
        if page is None or inner is None:
            raise bad_query("The $skiptoken value is not valid.")
        position = re.search(r'last="(.*)" /></cookie>$', unquote(inner.group(1)))
        if position is None:
            raise bad_query("The $skiptoken value is not valid.")
        try:
            data = json.loads(position.group(1))
            last = tuple(_decode_value(item) for item in data.pop("last"))
        except (ValueError, KeyError, IndexError, TypeError):
            raise bad_query("The $skiptoken value is not valid.") from None
        return cls(int(page.group(1)), last, token.group(1) if token else None, data)


# ---------------------------------------------------------------------------- query options


@dataclass
class QueryOptions:
    """The query options of one collection request."""

    select: list[Prop] | None
    filter: Predicate | None
    filter_text: str | None
    orderby: tuple[OrderItem, ...]
    top: int | None
    count: bool
    skiptoken: str | None
    deltatoken: str | None
    given: set[str]

    @classmethod
    def parse(cls, request: Request, view: EntityView) -> QueryOptions:
        """Read and check the query options."""
        given = {name for name in request.query if name.startswith("$")}
        for name in sorted(given):
            if name in _UNSUPPORTED_OPTIONS:
                raise bad_query(f"The query parameter {name} is not supported.")
            if name not in _KNOWN_OPTIONS:
                raise bad_query(f"The query parameter {name} is not supported.")
        try:
            return cls._parse(request, view, given)
        except ODataError as error:
            raise bad_query(str(error)) from None

    @classmethod
    def _parse(cls, request: Request, view: EntityView, given: set[str]) -> QueryOptions:
        select_text, filter_text = request.param("$select"), request.param("$filter")
        orderby_text, top_text = request.param("$orderby"), request.param("$top")
        select = None
        if select_text:
            select = [_select_prop(view, name) for name in parse_select(select_text)]
        orderby = parse_orderby(orderby_text) if orderby_text else ()
        for item in orderby:
            view.schema.resolve(item.name)
        top = None
        if top_text is not None:
            if not top_text.isdigit():
                raise bad_query(f"Invalid value '{top_text}' for $top query option found.")
            top = int(top_text)
        return cls(
            select=select,
            filter=compile_filter(filter_text, view.schema) if filter_text else None,
            filter_text=filter_text,
            orderby=orderby,
            top=top,
            count=(request.param("$count") or "").lower() == "true",
            skiptoken=request.param("$skiptoken"),
            deltatoken=request.param("$deltatoken"),
            given=given,
        )


def _select_prop(view: EntityView, name: str) -> Prop:
    prop = view.prop(name)
    if prop is None:
        raise ODataError(f"Could not find a property named '{name}' on type '{view.type_name}'.")
    return prop


def context_url(base: str, view: EntityView, select: list[Prop] | None, suffix: str = "") -> str:
    """``@odata.context`` for a collection (``suffix``: ``/$entity``, ``/$delta``)."""
    columns = f"({','.join(p.name for p in select)})" if select else ""
    return f"{base}{API_PATH}/$metadata#{view.entity_set}{columns}{suffix}"


def _link(
    base: str,
    view: EntityView,
    request: Request,
    replace: Mapping[str, str],
    drop: tuple[str, ...] = (),
) -> str:
    """The request's own URL with some query options replaced or dropped (others kept as sent)."""
    _, _, raw_query = request.raw_target.partition("?")
    removed = {*replace, *drop}
    kept = [
        part
        for part in raw_query.split("&")
        if part and unquote(part.split("=", 1)[0]) not in removed
    ]
    kept += [f"{name}={quote(value, safe='')}" for name, value in replace.items()]
    query = "&".join(kept)
    return f"{base}{API_PATH}/{view.entity_set}" + (f"?{query}" if query else "")


def _next_link(base: str, view: EntityView, request: Request, cookie: Cookie) -> str:
    """``@odata.nextLink``: the request's URL with ``cookie`` as its ``$skiptoken``."""
    return _link(base, view, request, {"$skiptoken": cookie.encode(view.key)})


def _delta_link(base: str, view: EntityView, request: Request, token: str) -> str:
    """``@odata.deltaLink``: the request's URL asking for the changes after ``token``."""
    return _link(base, view, request, {"$deltatoken": token}, drop=("$skiptoken",))


def _next_page(cookie: Cookie | None) -> int:
    """The number of the page after ``cookie``'s (after the first when there is none)."""
    return (cookie.page if cookie else 1) + 1


# ---------------------------------------------------------------------------- ordering cache


@dataclass
class _Ordering:
    seq: int
    keys: list[Any]
    ids: list[str]


def _sort_key(
    orderby: tuple[OrderItem, ...], view: EntityView
) -> Callable[[Mapping[str, Any]], Any]:
    parts = []
    for item in orderby:
        column = view.schema.resolve(item.name)
        parts.append((column.key, normalizer(column.edm), item.descending))

    def key(record: Mapping[str, Any]) -> tuple[Any, ...]:
        values: list[Any] = []
        for name, normalize, descending in parts:
            value = normalize(record.get(name))
            element = (0, "") if value is None else (1, value)
            values.append(_Descending(element) if descending else element)
        values.append(record.get(view.key))
        return tuple(values)

    return key


class RowOrder:
    """Sorted row ids per (table, ``$orderby``), rebuilt only when the store has changed."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[tuple[str, tuple[OrderItem, ...]], _Ordering] = {}
        self._lock = threading.Lock()

    def ordering(self, table: Table, view: EntityView, orderby: tuple[OrderItem, ...]) -> _Ordering:
        """The current ordering (keys parallel to ids)."""
        cache_key = (table.name, orderby)
        with self._lock:
            cached = self._cache.get(cache_key)
        if cached is not None and cached.seq == self.store.seq:
            return cached
        with self.store.lock:
            seq = self.store.seq
            if not orderby:
                ids = sorted(table.rows)
                ordering = _Ordering(seq, ids, ids)
            else:
                key = _sort_key(orderby, view)
                pairs = sorted((key(record), rid) for rid, record in table.rows.items())
                ordering = _Ordering(seq, [p[0] for p in pairs], [p[1] for p in pairs])
        with self._lock:
            self._cache[cache_key] = ordering
        return ordering


def _restore_key(last: tuple[Any, ...], orderby: tuple[OrderItem, ...]) -> Any:
    if not orderby:
        return last[0] if last else ""
    restored: list[Any] = []
    for index, item in enumerate(orderby):
        value = last[index]
        element = (0, "") if value is None else (1, value)
        restored.append(_Descending(element) if item.descending else element)
    restored.append(last[-1])
    return tuple(restored)


def _cookie_values(
    record: Mapping[str, Any], view: EntityView, orderby: tuple[OrderItem, ...]
) -> tuple[Any, ...]:
    values = []
    for item in orderby:
        column = view.schema.resolve(item.name)
        values.append(normalizer(column.edm)(record.get(column.key)))
    values.append(record.get(view.key))
    return tuple(values)


# ---------------------------------------------------------------------------- reader


@dataclass
class ReaderSettings:
    """Limits and ages the reader applies."""

    max_page_size: int = MAX_PAGE_SIZE
    delta_token_max_age: timedelta = timedelta(days=90)


@dataclass
class _Page:
    rows: list[tuple[str, Mapping[str, Any]]]
    more: bool


@dataclass
class PageResult:
    """A page's JSON body (not yet encoded) and its response headers."""

    body: dict[str, Any]
    headers: dict[str, str]


PageKey = tuple[str, str, tuple[tuple[str, tuple[str, ...]], ...], str]
Rendered = tuple[Response, str | None]


def _page_key(base: str, path: str, query: Mapping[str, list[str]], prefer: str) -> PageKey:
    items = tuple(sorted((name, tuple(values)) for name, values in query.items()))
    return (base, path, items, prefer)


@dataclass
class _Pending:
    seq: int
    definition: object
    future: Future[Rendered]


class Prefetcher:
    """Renders next pages in one background thread; a page is served only if still current."""

    MAX_PENDING = 8

    def __init__(self, store: Store) -> None:
        self.store = store
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dataverse-prefetch")
        self._pending: OrderedDict[PageKey, _Pending] = OrderedDict()
        self._lock = threading.Lock()

    def submit(self, key: PageKey, table: Table, render: Callable[[], Rendered]) -> None:
        """Start rendering the page ``key``."""
        pending = _Pending(self.store.seq, table.definition, self._executor.submit(render))
        with self._lock:
            self._pending[key] = pending
            while len(self._pending) > self.MAX_PENDING:
                self._pending.popitem(last=False)

    def take(self, key: PageKey, table: Table) -> Rendered | None:
        """The rendered page ``key`` if one is ready and nothing changed since it was started."""
        with self._lock:
            pending = self._pending.pop(key, None)
        if pending is None or pending.future.cancel():  # not started yet: render it inline
            return None
        try:
            rendered = pending.future.result()
        except Exception:  # the request itself will raise the same error, in its own shape
            return None
        if pending.seq != self.store.seq or pending.definition is not table.definition:
            return None
        return rendered


class CollectionReader:
    """Serves ``GET <entityset>`` requests."""

    def __init__(self, store: Store, settings: ReaderSettings) -> None:
        self.store = store
        self.settings = settings
        self.order = RowOrder(store)
        self._delta_cache: dict[tuple[str, int, int], list[tuple[str, str]]] = {}
        self._delta_lock = threading.Lock()
        self.prefetch = Prefetcher(store)

    # ------------------------------------------------------------------ entry points

    def read(self, request: Request, base: str, view: EntityView, table: Table) -> Response:
        """A page of the collection (plain, tracked, or a delta).

        The page a ``@odata.nextLink`` points at is rendered in the background while the client
        reads this one, and served if nothing in the store changed in the meantime.
        """
        prefer = request.headers.get("prefer") or ""
        ready = self.prefetch.take(_page_key(base, request.path, request.query, prefer), table)
        if ready is None:
            ready = self._render(request, base, view, table)
        response, next_link = ready
        if next_link:
            self._prefetch(next_link, prefer, base, view, table)
        return response

    def _render(
        self, request: Request, base: str, view: EntityView, table: Table
    ) -> tuple[Response, str | None]:
        prefs = Preferences.parse(request.headers.get("prefer"))
        options = QueryOptions.parse(request, view)
        if options.deltatoken is not None:
            result = self._delta(request, base, view, table, prefs, options)
        elif prefs.track_changes or (
            options.skiptoken is not None and 'istracking="True"' in options.skiptoken
        ):
            result = self._tracked(request, base, view, table, prefs, options)
        else:
            result = self._plain(request, base, view, table, prefs, options)
        next_link = result.body.get("@odata.nextLink")
        response = _json_response(self._ordered_body(result.body), result.headers)
        return response, next_link if isinstance(next_link, str) else None

    def _prefetch(self, link: str, prefer: str, base: str, view: EntityView, table: Table) -> None:
        parts = urlsplit(link)
        query = parse_qs(parts.query, keep_blank_values=True)
        request = Request(
            method="GET",
            path=parts.path,
            query=query,
            headers=Headers([("prefer", prefer)] if prefer else []),
            body=b"",
            raw_target=f"{parts.path}?{parts.query}",
        )
        key = _page_key(base, parts.path, query, prefer)
        self.prefetch.submit(key, table, lambda: self._render(request, base, view, table))

    def count(self, request: Request, view: EntityView, table: Table) -> Response:
        """``GET <entityset>/$count``: the number of matching rows (at most 5,000) as text."""
        options = QueryOptions.parse(request, view)
        total = sum(1 for _ in self._matching(table, view, options, 0))
        body = str(min(total, MAX_COUNT)).encode()
        return Response(200, body, {"Content-Type": "text/plain", "OData-Version": "4.0"})

    def single(
        self, request: Request, base: str, view: EntityView, table: Table, record_id: str
    ) -> Response:
        """``GET <entityset>(<id>)``."""
        prefs = Preferences.parse(request.headers.get("prefer"))
        options = QueryOptions.parse(request, view)
        record = table.rows.get(record_id)
        if record is None:
            raise record_not_found(view.logical_name, record_id)
        seq = table.seqs.get(record_id, 0)
        if request.headers.get("if-none-match") == f'W/"{seq}"' and not prefs.annotations:
            return Response(304, b"", {"OData-Version": "4.0"})
        writer = RowWriter(view, options.select or list(view.props.values()), prefs, self.store)
        body = {
            "@odata.context": context_url(base, view, options.select, "/$entity"),
            **writer(record, seq),
        }
        return _json_response(body, _applied(prefs))

    # ------------------------------------------------------------------ plain paging

    def _page_size(self, prefs: Preferences) -> int:
        asked = prefs.max_page_size or self.settings.max_page_size
        return max(1, min(asked, self.settings.max_page_size))

    def _matching(
        self,
        table: Table,
        view: EntityView,
        options: QueryOptions,
        start: int,
        ordering: _Ordering | None = None,
    ) -> Iterator[tuple[str, Mapping[str, Any]]]:
        ordering = ordering or self.order.ordering(table, view, options.orderby)
        rows, predicate = table.rows, options.filter
        for index in range(start, len(ordering.ids)):
            record_id = ordering.ids[index]
            record = rows.get(record_id)
            if record is None or record.get("IsDeleted"):
                continue
            if predicate is None or predicate(record):
                yield record_id, record

    def _collect(
        self,
        table: Table,
        view: EntityView,
        options: QueryOptions,
        cookie: Cookie | None,
        limit: int,
    ) -> _Page:
        ordering = self.order.ordering(table, view, options.orderby)
        start = 0
        if cookie is not None:
            start = bisect.bisect_right(ordering.keys, _restore_key(cookie.last, options.orderby))
        rows: list[tuple[str, Mapping[str, Any]]] = []
        for item in self._matching(table, view, options, start, ordering):
            if len(rows) == limit:
                return _Page(rows, True)
            rows.append(item)
        return _Page(rows, False)

    def _plain(
        self,
        request: Request,
        base: str,
        view: EntityView,
        table: Table,
        prefs: Preferences,
        options: QueryOptions,
    ) -> PageResult:
        cookie = Cookie.decode(options.skiptoken) if options.skiptoken else None
        limit = self._page_size(prefs)
        capped_by_top = options.top is not None and prefs.max_page_size is None
        if capped_by_top and options.top is not None:
            limit = min(options.top, limit)
        page = self._collect(table, view, options, cookie, limit)
        body = self._page_body(base, view, table, prefs, options, page)
        if options.count:
            total = min(sum(1 for _ in self._matching(table, view, options, 0)), MAX_COUNT)
            body["@odata.count"] = total
            if prefs.wants(TOTAL_COUNT):
                body[f"@{TOTAL_COUNT}"] = total
            if prefs.wants(TOTAL_COUNT_EXCEEDED):
                body[f"@{TOTAL_COUNT_EXCEEDED}"] = total >= MAX_COUNT
        if page.more and not capped_by_top:
            last = page.rows[-1][1]
            next_cookie = Cookie(_next_page(cookie), _cookie_values(last, view, options.orderby))
            body["@odata.nextLink"] = _next_link(base, view, request, next_cookie)
        return PageResult(body, _applied(prefs, limit))

    def _page_body(
        self,
        base: str,
        view: EntityView,
        table: Table,
        prefs: Preferences,
        options: QueryOptions,
        page: _Page,
        suffix: str = "",
    ) -> dict[str, Any]:
        writer = RowWriter(view, options.select or list(view.props.values()), prefs, self.store)
        seqs = table.seqs
        values = [writer(record, seqs.get(record_id, 0)) for record_id, record in page.rows]
        return {"@odata.context": context_url(base, view, options.select, suffix), "value": values}

    @staticmethod
    def _ordered_body(body: dict[str, Any]) -> dict[str, Any]:
        ordered = {key: value for key, value in body.items() if key != "value"}
        names: tuple[str, ...] = ("@odata.nextLink", "@odata.deltaLink")
        links = {key: ordered.pop(key) for key in names if key in ordered}
        return {**ordered, "value": body["value"], **links}

    # ------------------------------------------------------------------ change tracking

    def _check_tracking(self, view: EntityView, options: QueryOptions) -> None:
        for name in _TRACKING_FORBIDS:
            if name in options.given:
                raise bad_query(
                    f'The "{name}" query parameter isn\'t supported when Change Tracking is enabled.'
                )
        if not view.definition.change_tracking:
            raise DataverseError(
                400,
                CHANGE_TRACKING_NOT_ENABLED,
                f"Entity {view.logical_name} isn't enabled for change tracking.",
            )

    def _new_token(self, seq: int | None = None) -> str:
        with self.store.lock:
            current = self.store.seq if seq is None else seq
            stamp = self.store.now().astimezone(UTC).strftime(TOKEN_TIME_FORMAT)
        return f"{current}!{stamp}"

    def _tracked(
        self,
        request: Request,
        base: str,
        view: EntityView,
        table: Table,
        prefs: Preferences,
        options: QueryOptions,
    ) -> PageResult:
        self._check_tracking(view, options)
        cookie = Cookie.decode(options.skiptoken) if options.skiptoken else None
        token = cookie.tracking_token if cookie and cookie.tracking_token else self._new_token()
        limit = self._page_size(prefs)
        page = self._collect(table, view, options, cookie, limit)
        body = self._page_body(base, view, table, prefs, options, page)
        if page.more:
            last = page.rows[-1][1]
            next_cookie = Cookie(_next_page(cookie), _cookie_values(last, view, ()), token)
            body["@odata.nextLink"] = _next_link(base, view, request, next_cookie)
        else:
            body["@odata.deltaLink"] = _delta_link(base, view, request, token)
        return PageResult(body, _applied(prefs, limit, tracking=True))

    def _parse_delta_token(self, token: str) -> int:
        sequence, _, stamp = token.partition("!")
        try:
            seq = int(sequence)
            issued = datetime.strptime(stamp, TOKEN_TIME_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            raise DataverseError(400, EXPIRED_VERSION_STAMP, EXPIRED_MESSAGE) from None
        with self.store.lock:
            current, now = self.store.seq, self.store.now()
        if seq < 0 or seq > current or now - issued > self.settings.delta_token_max_age:
            raise DataverseError(400, EXPIRED_VERSION_STAMP, EXPIRED_MESSAGE)
        return seq

    def _changes(self, table: Table, since: int, upto: int) -> list[tuple[str, str]]:
        """Changed rows (``u``, by sequence) then deleted ones (``d``) in ``(since, upto]``."""
        cache_key = (table.name, since, upto)
        with self._delta_lock:
            cached = self._delta_cache.get(cache_key)
        if cached is not None:
            return cached
        with self.store.lock:
            changed = sorted((s, rid) for rid, s in table.seqs.items() if since < s <= upto)
            gone = sorted((t.seq, t.id) for t in table.tombstones if since < t.seq <= upto)
        entries = [("u", rid) for _, rid in changed] + [("d", rid) for _, rid in gone]
        with self._delta_lock:
            self._delta_cache = {cache_key: entries}
        return entries

    def _delta(
        self,
        request: Request,
        base: str,
        view: EntityView,
        table: Table,
        prefs: Preferences,
        options: QueryOptions,
    ) -> PageResult:
        self._check_tracking(view, options)
        since = self._parse_delta_token(options.deltatoken or "")
        cookie = Cookie.decode(options.skiptoken) if options.skiptoken else None
        upto = int(cookie.extra["upto"]) if cookie else self.store.seq
        token = cookie.tracking_token if cookie and cookie.tracking_token else self._new_token(upto)
        offset = int(cookie.extra["offset"]) if cookie else 0
        entries = self._changes(table, since, upto)
        limit = self._page_size(prefs)
        window = entries[offset : offset + limit + 1]
        more = len(window) > limit
        body = self._delta_body(base, view, table, prefs, options, window[:limit])
        if more:
            extra = {"upto": upto, "offset": offset + limit}
            next_cookie = Cookie(_next_page(cookie), (), token, extra)
            body["@odata.nextLink"] = _next_link(base, view, request, next_cookie)
        else:
            body["@odata.deltaLink"] = _delta_link(base, view, request, token)
        return PageResult(body, _applied(prefs, limit, tracking=prefs.track_changes))

    def _delta_body(
        self,
        base: str,
        view: EntityView,
        table: Table,
        prefs: Preferences,
        options: QueryOptions,
        entries: list[tuple[str, str]],
    ) -> dict[str, Any]:
        writer = RowWriter(view, options.select or list(view.props.values()), prefs, self.store)
        deleted_context = f"{base}{API_PATH}/$metadata#{view.entity_set}/$deletedEntity"
        values: list[dict[str, Any]] = []
        for kind, record_id in entries:
            if kind == "d":
                values.append(
                    {"@odata.context": deleted_context, "id": record_id, "reason": "deleted"}
                )
                continue
            record = table.rows.get(record_id)
            if record is not None:  # deleted since: its tombstone comes with the next delta
                values.append(writer(record, table.seqs.get(record_id, 0)))
        return {
            "@odata.context": context_url(base, view, options.select, "/$delta"),
            "value": values,
        }


def _applied(
    prefs: Preferences, page_size: int | None = None, tracking: bool = False
) -> dict[str, str]:
    applied = []
    if prefs.max_page_size is not None and page_size is not None:
        applied.append(f"odata.maxpagesize={page_size}")
    if prefs.annotations_text is not None:
        applied.append(f'odata.include-annotations="{prefs.annotations_text}"')
    if tracking:
        applied.append("odata.track-changes")
    return {"Preference-Applied": ",".join(applied)} if applied else {}


_ORJSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_OMIT_MICROSECONDS | orjson.OPT_NAIVE_UTC


def _json_response(body: Mapping[str, Any], headers: Mapping[str, str]) -> Response:
    # orjson writes UTC date-times as 2024-01-02T03:04:05Z and dates as 2024-01-02 natively,
    # which keeps a 5,000-row page cheap to serve
    data = orjson.dumps(body, default=json_value, option=_ORJSON_OPTIONS)
    return Response(
        200, data, {"Content-Type": JSON_CONTENT_TYPE, "OData-Version": "4.0", **headers}
    )


__all__ = [
    "API_PATH",
    "LOOKUP_TYPES",
    "CollectionReader",
    "Cookie",
    "Preferences",
    "ReaderSettings",
    "RowWriter",
    "context_url",
]
