"""The Dataverse (Dynamics 365) side of the loopback CRM emulator.

:class:`DataverseApp` answers what an org and its Entra ID tenant answer, for one
:class:`~connectors.emulator.store.Store`, well enough for msal and requests to work unmodified:

* Entra ID under ``/<tenant>/`` (OIDC discovery, client-credentials tokens with a secret or a
  certificate) — see :mod:`connectors.emulator.dataverse_auth`;
* the Web API under ``/api/data/v9.2/``: entity sets with OData queries, paging and change
  tracking (:mod:`~connectors.emulator.dataverse_query`), ``EntityDefinitions`` and the
  ``RetrieveEntity`` function (:mod:`~connectors.emulator.dataverse_metadata`), writes to
  kamsync's ``kam_`` tables only (:mod:`~connectors.emulator.dataverse_writes`), ``$batch``
  (:mod:`~connectors.emulator.dataverse_batch`), ``WhoAmI``;
* service protection: 429 with ``Retry-After`` past the request rate of the window (measured
  on an injectable clock) and the ``x-ms-ratelimit-*`` headers on every response;
* the faults of a :class:`~connectors.emulator.faults.FaultPlan` in Dataverse's shapes.

The org URL is the listener's own (``https://127.0.0.1:<port>``), read from the ``Host``
header, and the authority is ``<url>/<tenant id>`` (see :func:`dataverse_urls`).
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

from connectors.emulator.dataverse_auth import (
    ClientCertificate,
    DataverseCredentials,
    TokenClaims,
    TokenService,
    create_client_certificate,
    stable_id,
)
from connectors.emulator.dataverse_batch import BatchRunner
from connectors.emulator.dataverse_errors import (
    INVALID_ARGUMENT,
    JSON_CONTENT_TYPE,
    REQUEST_LIMIT,
    UNEXPECTED,
    DataverseError,
    bad_query,
    json_body,
    segment_not_found,
)
from connectors.emulator.dataverse_metadata import MetadataCatalog
from connectors.emulator.dataverse_model import (
    SCORE_TABLE,
    EntityView,
    TableExtras,
    entity_set_name,
    json_value,
    score_table_definition,
    score_table_extras,
)
from connectors.emulator.dataverse_query import (
    API_PATH,
    CollectionReader,
    Preferences,
    ReaderSettings,
    RowWriter,
    context_url,
)
from connectors.emulator.dataverse_writes import Address, ScoreWriter, field_names
from connectors.emulator.faults import FaultPlan
from connectors.emulator.server import Request, Response
from connectors.emulator.store import Store, Table

__all__ = [
    "ClientCertificate",
    "DataverseApp",
    "DataverseCredentials",
    "DataverseSettings",
    "create_client_certificate",
    "dataverse_urls",
]

WRITABLE_PREFIX = "kam_"
EXECUTION_BUDGET_MS = 1_200_000.0  # 20 minutes of combined execution time per window
_TOUCHED_BY_CHURN = 3


def dataverse_urls(base_url: str, tenant_id: str) -> dict[str, str]:
    """The org URL and the authority msal is given, for an emulator listening at ``base_url``."""
    url = base_url.rstrip("/")
    return {"url": url, "authority": f"{url}/{tenant_id}"}


@dataclass
class DataverseSettings:
    """Limits and clocks of the emulated org (defaults are Dataverse's)."""

    max_page_size: int = 5000
    request_limit: int = 6000
    request_window_seconds: float = 300.0
    delta_token_max_age: timedelta = timedelta(days=90)
    max_batch_requests: int = 1000
    max_upsert_multiple: int = 1000
    create_score_table: bool = False
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time


class ServiceProtection:
    """The per-user request-count limit over a sliding window."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._requests: deque[float] = deque()
        self._execution: deque[tuple[float, float]] = deque()
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        while self._requests and self._requests[0] <= now - self.window:
            self._requests.popleft()
        while self._execution and self._execution[0][0] <= now - self.window:
            self._execution.popleft()

    def admit(self) -> float | None:
        """None when the request may run, else the seconds until it may (Retry-After)."""
        with self._lock:
            now = self.clock()
            self._expire(now)
            if len(self._requests) >= self.limit:
                return max(self._requests[0] + self.window - now, 0.0)
            self._requests.append(now)
            return None

    def spent(self, milliseconds: float) -> None:
        """Record the execution time of a request."""
        with self._lock:
            self._execution.append((self.clock(), milliseconds))

    def headers(self) -> dict[str, str]:
        """The ``x-ms-ratelimit-*`` headers for the current window."""
        with self._lock:
            self._expire(self.clock())
            remaining = max(self.limit - len(self._requests), 0)
            spent = sum(ms for _, ms in self._execution)
        return {
            "x-ms-ratelimit-burst-remaining-xrm-requests": str(remaining),
            "x-ms-ratelimit-time-remaining-xrm-requests": f"{max(EXECUTION_BUDGET_MS - spent, 0.0):.2f}",
        }

    def error(self, retry_after: float) -> Response:
        """The 429 Dataverse answers when the limit is passed."""
        message = (
            f"Number of requests exceeded the limit of {self.limit} over time window of "
            f"{self.window:g} seconds."
        )
        response = DataverseError(429, REQUEST_LIMIT, message).response()
        response.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
        return response


@dataclass
class _Counters:
    authenticated: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self) -> int:
        with self.lock:
            self.authenticated += 1
            return self.authenticated


class DataverseApp:
    """An emulated Dataverse environment and its Entra ID tenant, as an :class:`App`."""

    def __init__(
        self,
        store: Store,
        credentials: DataverseCredentials,
        faults: FaultPlan,
        *,
        settings: DataverseSettings | None = None,
    ) -> None:
        self.store = store
        self.credentials = credentials
        self.faults = faults
        self.settings = settings or DataverseSettings()
        self.tokens = TokenService(credentials, self.settings.wall_clock)
        self.actor = self.tokens.application_user_id
        self.limits = ServiceProtection(
            self.settings.request_limit, self.settings.request_window_seconds, self.settings.clock
        )
        self.extras: dict[str, TableExtras] = {}
        self._views: dict[str, tuple[object, bool, EntityView]] = {}
        self._views_lock = threading.Lock()
        self._counters = _Counters()
        self._churn_rng = random.Random(faults.seed)
        self.reader = CollectionReader(
            store, ReaderSettings(self.settings.max_page_size, self.settings.delta_token_max_age)
        )
        self.metadata = MetadataCatalog(store, self.extras, self.view, self.actor)
        self.writer = ScoreWriter(store, self.view, self.metadata.extras_for, self.actor, _writable)
        self._seed_score_table()

    # ------------------------------------------------------------------ public helpers

    def plant_failure(self, key: str, **kwargs: Any) -> None:
        """Make writes of the record with alternate key value (or id) ``key`` fail.

        Keyword arguments: ``status`` (400), ``code`` (``0x80040265``, a plug-in error),
        ``message`` and ``times`` (None: every time).
        """
        self.writer.plant_failure(key, **kwargs)

    def set_faults(self, faults: FaultPlan) -> None:
        """Replace the fault plan; counted faults (expired sessions, limits) count afresh."""
        self.faults = faults
        self._counters = _Counters()
        self._churn_rng = random.Random(faults.seed)

    def view(self, table: Table) -> EntityView:
        """The Web API view of ``table`` (cached until its definition or emptiness changes)."""
        has_rows = bool(table.rows)
        with self._views_lock:
            cached = self._views.get(table.name)
        if cached is not None and cached[0] is table.definition and cached[1] == has_rows:
            return cached[2]
        view = EntityView(table, self.metadata.extras_for(table.name))
        with self._views_lock:
            self._views[table.name] = (table.definition, has_rows, view)
        return view

    def _seed_score_table(self) -> None:
        if self.settings.create_score_table and SCORE_TABLE not in self.store.tables:
            self.store.add_table(score_table_definition())
        if SCORE_TABLE in self.store.tables and SCORE_TABLE not in self.extras:
            self.extras[SCORE_TABLE] = score_table_extras()

    # ------------------------------------------------------------------ entry point

    def handle(self, request: Request) -> Response:
        """Answer one HTTP request."""
        base = _base_url(request)
        segments = [unquote(s) for s in request.path.split("/")[1:]]
        if request.path.startswith(API_PATH + "/") or request.path == API_PATH:
            return self._web_api(request, base, segments[3:])
        if segments and segments[0]:
            return self.tokens.handle(request, base, segments)
        return Response(404, b'{"error": "not found"}')

    def _web_api(self, request: Request, base: str, segments: list[str]) -> Response:
        claims = self.tokens.check(request.headers.get("authorization"), base)
        if not isinstance(claims, TokenClaims):
            return self.tokens.challenge(base, claims)
        refusal = self._guard(request, base, claims)
        if refusal is not None:
            return self._finish(refusal)
        fault = self.faults.draw()
        if fault in ("429", "500", "503", "reset"):
            return self._finish(self._fault_response(fault))
        if fault == "churn":
            self._churn(segments)
        started = time.perf_counter()
        response = self._route(request, base, segments, top_level=True)
        self.limits.spent((time.perf_counter() - started) * 1000)
        if fault == "slow":
            response.delay = self.faults.slow_seconds
        if fault == "malformed" and response.body:
            response.body = response.body[: max(1, len(response.body) // 2)]
        return self._finish(response)

    def _guard(self, request: Request, base: str, claims: TokenClaims) -> Response | None:
        count = self._counters.next()
        every = self.faults.expire_session_after
        if every and count % every == 0:
            self.tokens.revoke(claims.token)
            return self.tokens.challenge(base, "The access token has expired.")
        if self.faults.limit_after is not None and count > self.faults.limit_after:
            return self.limits.error(self.limits.window)
        wait = self.limits.admit()
        if wait is not None:
            return self.limits.error(wait)
        return None

    def _finish(self, response: Response) -> Response:
        response.headers.setdefault("OData-Version", "4.0")
        response.headers["REQ_ID"] = str(uuid.uuid4())
        response.headers.update(self.limits.headers())
        return response

    def _fault_response(self, fault: str) -> Response:
        retry_after = f"{self.faults.retry_after:g}"
        if fault == "reset":
            return Response(reset=True)
        if fault == "429":
            response = self.limits.error(self.faults.retry_after)
            response.headers["Retry-After"] = retry_after
            return response
        if fault == "500":
            return DataverseError(500, UNEXPECTED, "An unexpected error occurred.").response()
        response = DataverseError(
            503, "", "The service is temporarily unavailable. Please try again later."
        ).response()
        response.headers["Retry-After"] = retry_after
        return response

    def _churn(self, segments: list[str]) -> None:
        """Change a few records of the table a request reads (records changing mid-sync)."""
        if not segments:
            return
        table = self._table_for_set(segments[0].partition("(")[0])
        if table is None or not table.rows:
            return
        with self.store.lock:
            ids = sorted(table.rows)
            for record_id in self._churn_rng.sample(ids, min(_TOUCHED_BY_CHURN, len(ids))):
                self.store.update(table.name, record_id, {})

    # ------------------------------------------------------------------ routing

    def _route(
        self, request: Request, base: str, segments: list[str], top_level: bool = False
    ) -> Response:
        try:
            return self._dispatch(request, base, segments, top_level)
        except DataverseError as error:
            return error.response()

    def _dispatch(
        self, request: Request, base: str, segments: list[str], top_level: bool
    ) -> Response:
        head = segments[0] if segments else ""
        if head == "":
            return self._service_document(base)
        if head == "$batch":
            if not top_level or request.method != "POST":
                raise segment_not_found(head)
            return self._batch(request, base)
        if head in ("WhoAmI", "WhoAmI()"):
            return self._who_am_i(base)
        if head.startswith("RetrieveEntity(") and len(segments) == 1:
            return self.metadata.retrieve_entity(request, base, head)
        if head.startswith(("EntityDefinitions", "RelationshipDefinitions")):
            return self.metadata.handle(request, base, segments)
        return self._entity_set(request, base, segments)

    def _inner_dispatch(self, base: str) -> Callable[[Request], Response]:
        def dispatch(inner: Request) -> Response:
            if not inner.path.startswith(API_PATH + "/"):
                raise segment_not_found(inner.path)
            segments = [unquote(s) for s in inner.path.split("/")[4:]]
            return self._dispatch(inner, base, segments, top_level=False)

        return dispatch

    def _batch(self, request: Request, base: str) -> Response:
        prefs = Preferences.parse(request.headers.get("prefer"))
        runner = BatchRunner(
            self._inner_dispatch(base), self.writer.transaction, self.settings.max_batch_requests
        )
        return runner.run(request, prefs.continue_on_error)

    def _service_document(self, base: str) -> Response:
        sets = sorted(self.view(table).entity_set for table in self.store.tables.values())
        value = [{"name": name, "kind": "EntitySet", "url": name} for name in sets]
        return _json(200, {"@odata.context": f"{base}{API_PATH}/$metadata", "value": value})

    def _who_am_i(self, base: str) -> Response:
        tenant = self.credentials.tenant_id
        return _json(
            200,
            {
                "@odata.context": f"{base}{API_PATH}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                "BusinessUnitId": stable_id("businessunit", tenant),
                "UserId": self.actor,
                "OrganizationId": stable_id("organization", tenant),
            },
        )

    def _table_for_set(self, entity_set: str) -> Table | None:
        for table in list(self.store.tables.values()):
            if entity_set_name(table.definition) == entity_set:
                return table
        return None

    # ------------------------------------------------------------------ entity sets

    def _entity_set(self, request: Request, base: str, segments: list[str]) -> Response:
        name, _, key = segments[0].partition("(")
        table = self._table_for_set(name)
        if table is None:
            raise segment_not_found(segments[0])
        view = self.view(table)
        if request.method != "GET" and not _writable(table.name):
            raise self._refuse(request, table, key, segments)
        if key:
            if len(segments) > 1 or not key.endswith(")"):
                raise segment_not_found(segments[-1])
            return self._record(request, base, view, table, Address.parse(key[:-1]))
        if len(segments) == 1:
            return self._collection(request, base, view, table)
        if len(segments) == 2 and segments[1] == "$count" and request.method == "GET":
            return self.reader.count(request, view, table)
        if len(segments) == 2 and segments[1] == "Microsoft.Dynamics.CRM.UpsertMultiple":
            if request.method != "POST":
                raise _method_not_allowed(request)
            self.writer.upsert_multiple(
                table, json_body(request), self.settings.max_upsert_multiple
            )
            return Response(204, b"", {"OData-Version": "4.0"})
        raise segment_not_found(segments[-1])

    def _refuse(
        self, request: Request, table: Table, key: str, segments: list[str]
    ) -> DataverseError:
        """The privilege error (logged) for any write to a table kamsync does not own."""
        if len(segments) > 1 and segments[1].startswith("Microsoft.Dynamics.CRM."):
            operation = "upsert"
        else:
            operation = {"POST": "create", "DELETE": "delete"}.get(request.method, "update")
        record_id = None
        if key.endswith(")"):
            try:
                record_id = Address.parse(key[:-1]).describe()
            except DataverseError:
                record_id = key[:-1]
        try:
            body = json.loads(request.body) if request.body else {}
        except ValueError:
            body = {}
        fields = body if isinstance(body, dict) else {}
        return self.writer.refuse(table.name, operation, record_id, field_names(fields))

    def _collection(self, request: Request, base: str, view: EntityView, table: Table) -> Response:
        if request.method == "GET":
            return self.reader.read(request, base, view, table)
        if request.method != "POST":
            raise _method_not_allowed(request)
        body = json_body(request)
        self.writer.check_writable(table, "create", None, body)
        address = (
            self.writer.target_address(table, view, body) if _has_address(view, body) else None
        )
        result = self.writer.upsert(
            table,
            address or Address(record_id=stable_id("created", table.name, str(self.store.seq))),
            body,
            create_only=True,
        )
        return self._written(request, base, view, result.record_id, result.record, result.seq, True)

    def _record(
        self, request: Request, base: str, view: EntityView, table: Table, address: Address
    ) -> Response:
        if request.method == "GET":
            record_id = (
                self.writer.find(table, address) if address.key_values else address.record_id
            )
            return self.reader.single(request, base, view, table, record_id or address.describe())
        if request.method == "DELETE":
            self.writer.delete(table, address)
            return Response(204, b"", {"OData-Version": "4.0"})
        if request.method != "PATCH":
            raise _method_not_allowed(request)
        body = json_body(request)
        result = self.writer.upsert(
            table,
            address,
            body,
            if_match=request.headers.get("if-match"),
            if_none_match=request.headers.get("if-none-match"),
        )
        return self._written(
            request, base, view, result.record_id, result.record, result.seq, result.created
        )

    def _written(
        self,
        request: Request,
        base: str,
        view: EntityView,
        record_id: str,
        record: Mapping[str, Any],
        seq: int,
        created: bool,
    ) -> Response:
        entity_id = f"{base}{API_PATH}/{view.entity_set}({record_id})"
        headers = {"OData-Version": "4.0", "OData-EntityId": entity_id}
        prefs = Preferences.parse(request.headers.get("prefer"))
        if not prefs.return_representation:
            return Response(204, b"", headers)
        select_text = request.param("$select")
        props = [view.prop(n.strip()) for n in select_text.split(",")] if select_text else None
        if props is not None and any(p is None for p in props):
            raise bad_query(f"Could not find a property named in '$select={select_text}'.")
        chosen = [p for p in props or view.props.values() if p is not None]
        writer = RowWriter(view, chosen, prefs, self.store)
        body = {
            "@odata.context": context_url(base, view, [p for p in props or [] if p], "/$entity"),
            **writer(record, seq),
        }
        headers.update(
            {"Content-Type": JSON_CONTENT_TYPE, "Preference-Applied": "return=representation"}
        )
        if created:
            headers["Location"] = entity_id
        return Response(
            201 if created else 200, json.dumps(body, default=json_value).encode(), headers
        )


def _writable(table: str) -> bool:
    return table.startswith(WRITABLE_PREFIX)


def _has_address(view: EntityView, body: Mapping[str, Any]) -> bool:
    if "@odata.id" in body or body.get(view.key):
        return True
    return any(
        attribute.external_id and body.get(attribute.name) is not None
        for attribute in view.definition.fields
    )


def _base_url(request: Request) -> str:
    host = request.headers.get("host") or "127.0.0.1"
    return f"https://{host}"


def _method_not_allowed(request: Request) -> DataverseError:
    return DataverseError(
        405,
        INVALID_ARGUMENT,
        f"The HTTP method '{request.method}' is not allowed for this resource.",
    )


def _json(status: int, body: Mapping[str, Any]) -> Response:
    return Response(
        status, json.dumps(body, default=json_value).encode(), {"Content-Type": JSON_CONTENT_TYPE}
    )
