"""The emulated Salesforce org: OAuth token endpoint, REST API, Bulk API 2.0 and Tooling metadata.

:class:`SalesforceApp` is an :class:`~connectors.emulator.server.App` over one
:class:`~connectors.emulator.store.Store`.  It answers what simple-salesforce and plain
``requests`` send, in Salesforce's own shapes:

* ``POST /services/oauth2/token`` (see :mod:`connectors.emulator.sfauth`);
* ``/services/data/vXX.X/``: ``query`` / ``queryAll`` (SOQL, see :mod:`~.soql`) paged through
  ``nextRecordsUrl`` with ``Sforce-Query-Options: batchSize=200..2000``; ``sobjects`` describe
  global and per object; ``sobjects/{type}/updated`` and ``/deleted``; ``limits``; Bulk API 2.0
  ``jobs/query`` and ``jobs/ingest`` (see :mod:`~.sfbulk`); ``composite/sobjects/{type}/{extId}``
  upsert; ``sobjects/{type}/{extId}/{value}`` upsert; ``tooling/sobjects/CustomObject`` and
  ``CustomField`` (see :mod:`~.sfschema`).

Every API response carries ``Sforce-Limit-Info: api-usage=N/M``; past the daily limit the API
answers 403 ``REQUEST_LIMIT_EXCEEDED``.  Writes are accepted only for kamsync's score object
(:mod:`~.sfwrite`); every write attempt lands in the store's write log.

Faults (:class:`~connectors.emulator.faults.FaultPlan`) apply to authenticated API requests, one
draw per request: 429 (with Retry-After), 500, 503, dropped connections, slow answers, malformed
bodies, churn (a few records of the object being paged change between pages), sessions expiring
every N requests and the daily request limit.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import formatdate
from itertools import compress
from operator import itemgetter, methodcaller, not_
from typing import Any
from urllib.parse import unquote

from connectors.emulator.faults import FaultPlan
from connectors.emulator.ids import SalesforceIds
from connectors.emulator.server import Request, Response
from connectors.emulator.sfapi import (
    JSON_TYPE,
    ApiError,
    dumps,
    json_response,
    method_not_allowed,
    not_found,
    parse_json,
)
from connectors.emulator.sfauth import (
    OAuthError,
    SalesforceCredentials,
    Session,
    SessionRegistry,
    TokenEndpoint,
)
from connectors.emulator.sfbulk import BulkApi
from connectors.emulator.sfpages import LineCache, Prefetcher
from connectors.emulator.sfrender import JsonRecords, records_array, sf_datetime
from connectors.emulator.sfschema import (
    SCORE_OBJECT_NAME,
    ToolingError,
    add_score_object,
    create_custom_field,
    create_custom_object,
    describe_global,
    describe_sobject,
    sobject_summary,
)
from connectors.emulator.sfwrite import WRITABLE_OBJECTS, RecordError, Writer, salesforce_id
from connectors.emulator.soql import (
    CompiledQuery,
    SoqlError,
    compile_query,
    located,
    parse,
    parse_datetime,
)
from connectors.emulator.store import FieldDef, Store, TableDef

_IS_DELETED = methodcaller("get", "IsDeleted")
_IS_DELETED_KEY = itemgetter("IsDeleted")

Record = dict[str, Any]

DEFAULT_DAILY_LIMIT = 100_000
CURSOR_SECONDS = 15 * 60.0
MAX_CURSORS = 200
UPDATED_WINDOW_DAYS = 30
DELETED_WINDOW_DAYS = 15
MAX_REPLICATION_IDS = 600_000
MIN_VERSION, MAX_VERSION = 31, 63

_API_RE = re.compile(r"^/services/data/v(\d{2,3}\.\d)(?:/(.*))?$")
_LOCATOR_RE = re.compile(r"^([0-9A-Za-z]{15,18})-(\d+)$")
_BATCH_RE = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)

_RESULT_KINDS = {
    "successfulresults": "successfulResults",
    "failedresults": "failedResults",
    "unprocessedrecords": "unprocessedrecords",
}
LIMIT_EXCEEDED_MESSAGE = "TotalRequests Limit exceeded."


@dataclass
class Cursor:
    """A query evaluated once; pages are cut from its rows."""

    id: str
    compiled: CompiledQuery
    rows: list[Record]
    renderer: JsonRecords
    batch_size: int
    include_deleted: bool
    version: str
    last_used: float


@dataclass(frozen=True)
class PreparedBody:
    """A REST page's body made ahead: current while the store's change sequence is ``seq``."""

    seq: int
    end: int
    body: bytes


@dataclass
class Usage:
    """The org's daily API request counter."""

    used: int = 0
    limit: int = DEFAULT_DAILY_LIMIT


class SalesforceApp:
    """One emulated Salesforce org."""

    def __init__(
        self,
        store: Store,
        credentials: SalesforceCredentials,
        faults: FaultPlan | None = None,
        *,
        with_score_object: bool = False,
        clock: Callable[[], float] = time.time,
        daily_limit: int = DEFAULT_DAILY_LIMIT,
        bulk_progress_polls: int = 1,
        base_url: str | None = None,
        ids: SalesforceIds | None = None,
    ) -> None:
        self.store = store
        self.credentials = credentials
        self.clock = clock
        self.base_url = base_url
        self.sessions = SessionRegistry(credentials, clock)
        self.token_endpoint = TokenEndpoint(self.sessions, self._instance_url)
        self.writer = Writer(store, ids)
        self.render_cache = LineCache()
        self.prefetcher = Prefetcher()
        self.bulk = BulkApi(
            store,
            self.writer,
            self._compile,
            self._rows_ids,
            progress_polls=bulk_progress_polls,
            cache=self.render_cache,
            prefetcher=self.prefetcher,
        )
        self.default_limit = daily_limit
        self.usage = Usage(limit=daily_limit)
        self.cursors: OrderedDict[str, Cursor] = OrderedDict()
        self._cursor_number = 0
        self._authenticated = 0
        self._snapshots: dict[tuple[str, bool], tuple[int, list[Record], list[str]]] = {}
        self._lock = threading.RLock()
        self._host = threading.local()
        self.faults = FaultPlan()
        self._churn_rng = random.Random(0)
        self.set_faults(faults or FaultPlan())
        if with_score_object:
            add_score_object(store)

    # ------------------------------------------------------------------ configuration

    def set_faults(self, plan: FaultPlan) -> None:
        """Use ``plan`` from now on (the daily limit follows ``limit_after`` when set)."""
        with self._lock:
            self.faults = plan
            self._churn_rng = random.Random(plan.seed + 1)
            self._authenticated = 0
            self.usage.limit = plan.limit_after or self.default_limit

    def close(self) -> None:
        """Stop background rendering (the app answers requests no more after this)."""
        self.prefetcher.close()

    def reset_usage(self) -> None:
        """Start a new day: the API request counter goes back to 0."""
        with self._lock:
            self.usage.used = 0

    def issue_token(self) -> str:
        """A fresh access token (what a successful token request returns), for tests."""
        return self.sessions.issue().token

    def _instance_url(self) -> str:
        host = getattr(self._host, "value", None)
        if host:
            return f"https://{host}"
        return self.base_url or "https://127.0.0.1"

    # ------------------------------------------------------------------ entry point

    def handle(self, request: Request) -> Response:
        """Answer one request; its ``Date`` header is the org clock (see :meth:`org_date`)."""
        response = self._answer(request)
        response.headers["Date"] = self.org_date()
        return response

    def org_date(self) -> str:
        """The org clock as an HTTP date, one second past the store clock.

        The store clock only moves when the world changes (a mutation, churn), and a change may
        be stamped with it; an answer is always made after the changes it reflects, so a client
        bounding its windows by ``Date`` (``SystemModstamp < Date``) sees every change made so
        far, and a later window starts where this one ended.
        """
        return formatdate((self.store.now() + timedelta(seconds=1)).timestamp(), usegmt=True)

    def _answer(self, request: Request) -> Response:
        self._host.value = request.headers.get("host")
        try:
            if request.path == "/services/oauth2/token":
                return self._token(request)
            if request.path.rstrip("/") == "/services/data":
                return self._versions(request)
            match = _API_RE.match(request.path)
            if match is None:
                raise not_found()
            return self._api(request, match[1], (match[2] or "").strip("/"))
        except ApiError as error:
            return error.response()

    def _token(self, request: Request) -> Response:
        if request.method != "POST":
            raise method_not_allowed(request.method, "POST")
        try:
            body = self.token_endpoint.grant(request.body, request.headers.get("authorization"))
        except OAuthError as error:
            return Response(error.status, dumps(error.body()), {"Content-Type": JSON_TYPE})
        return json_response(body)

    def _versions(self, request: Request) -> Response:
        if request.method != "GET":
            raise method_not_allowed(request.method, "GET,HEAD")
        return json_response(
            [
                {"label": f"API {v}.0", "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
                for v in range(MIN_VERSION, MAX_VERSION + 1)
            ]
        )

    # ------------------------------------------------------------------ API gate

    def _api(self, request: Request, version: str, rest: str) -> Response:
        major = int(version.split(".", maxsplit=1)[0])
        if not MIN_VERSION <= major <= MAX_VERSION or not version.endswith(".0"):
            raise not_found()
        session = self.sessions.check(request.headers.get("authorization"))
        if session is None:
            raise session_expired()
        limit_header = self._count_request(session)
        try:
            response = self._faulted(request, version, rest)
        except ApiError as error:
            response = error.response()
        response.headers["Sforce-Limit-Info"] = limit_header
        return response

    def _count_request(self, session: Session) -> str:
        plan = self.faults
        with self._lock:
            self.usage.used += 1
            header = f"api-usage={self.usage.used}/{self.usage.limit}"
            if self.usage.used > self.usage.limit:
                raise ApiError(
                    403,
                    "REQUEST_LIMIT_EXCEEDED",
                    LIMIT_EXCEEDED_MESSAGE,
                    headers={"Sforce-Limit-Info": header},
                )
            self._authenticated += 1
            expire = (
                plan.expire_session_after and self._authenticated % plan.expire_session_after == 0
            )
        if expire:
            self.sessions.expire(session)
            raise session_expired({"Sforce-Limit-Info": header})
        return header

    def _faulted(self, request: Request, version: str, rest: str) -> Response:
        fault = self.faults.draw() if self.faults.active else None
        error = fault_error(fault, self.faults)
        if error is not None:
            raise error
        if fault == "reset":
            return Response(reset=True)
        if fault == "churn":
            self._churn(rest)
        response = self._dispatch(request, version, rest)
        if fault == "slow":
            response.delay = self.faults.slow_seconds
        if fault == "malformed" and response.status == 200 and response.read():
            response.body = _malformed(response.body)
        return response

    def _churn(self, rest: str) -> None:
        """Change a few records of the object a paging request reads (SystemModstamp moves)."""
        table = self._paged_table(rest)
        if table is None:
            return
        with self.store.lock:
            live = [
                key for key, r in self.store.table(table).rows.items() if not r.get("IsDeleted")
            ]
            if not live:
                return
            chosen = self._churn_rng.sample(live, min(3, len(live)))  # rows keep insertion order
            when = self.store.advance(timedelta(seconds=1))
            for key in chosen:
                self.store.update(table, key, {}, at=when)

    def _paged_table(self, rest: str) -> str | None:
        parts = rest.split("/")
        if len(parts) == 2 and parts[0] in ("query", "queryAll"):
            match = _LOCATOR_RE.match(parts[1])
            cursor = self.cursors.get(match[1]) if match else None
            return cursor.compiled.table.name if cursor else None
        if len(parts) == 4 and parts[:2] == ["jobs", "query"] and parts[3] == "results":
            job = self.bulk.query_jobs.get(parts[2])
            return job.object if job else None
        return None

    # ------------------------------------------------------------------ routing

    def _dispatch(self, request: Request, version: str, rest: str) -> Response:
        parts = [unquote(part) for part in rest.split("/")] if rest else []
        method = request.method
        head = parts[0] if parts else ""
        if not parts:
            return self._get_only(method, lambda: self._resources(version))
        if head in ("query", "queryAll"):
            return self._get_only(method, lambda: self._query_route(request, version, parts))
        if head == "limits" and len(parts) == 1:
            return self._get_only(method, self._limits)
        if head == "limits" and parts[1:] == ["recordCount"]:
            return self._get_only(method, lambda: self._record_count(request))
        if head == "sobjects":
            return self._sobjects(request, version, parts[1:])
        if head == "composite":
            return self._composite(request, parts[1:])
        if head == "jobs" and len(parts) >= 2:
            return self._jobs(request, version, parts[1:])
        if head == "tooling":
            return self._tooling(request, parts[1:])
        raise not_found()

    @staticmethod
    def _get_only(method: str, answer: Callable[[], Response]) -> Response:
        if method not in ("GET", "HEAD"):
            raise method_not_allowed(method, "GET,HEAD")
        return answer()

    def _resources(self, version: str) -> Response:
        base = f"/services/data/v{version}"
        names = (
            "sobjects",
            "query",
            "queryAll",
            "limits",
            "composite",
            "jobs/query",
            "jobs/ingest",
            "tooling",
        )
        return json_response({name: f"{base}/{name}" for name in names})

    def _limits(self) -> Response:
        with self._lock:
            used, limit = self.usage.used, self.usage.limit
        jobs = len(self.bulk.query_jobs)
        return json_response(
            {
                "DailyApiRequests": {"Max": limit, "Remaining": max(limit - used, 0)},
                "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
                "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
                "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": max(10000 - jobs, 0)},
                "DataStorageMB": {"Max": 1024, "Remaining": 1000},
                "FileStorageMB": {"Max": 1024, "Remaining": 1024},
            }
        )

    def _record_count(self, request: Request) -> Response:
        """``limits/recordCount``: live records per object; unknown names are left out."""
        asked = request.param("sObjects")
        names = (
            [n.strip() for n in asked.split(",") if n.strip()] if asked else list(self.store.tables)
        )
        counts = []
        for name in names:
            try:
                table = self.store.table(name)
            except KeyError:
                continue
            live = sum(1 for record in table.rows.values() if not record.get("IsDeleted"))
            counts.append({"count": live, "name": table.name})
        return json_response({"sObjects": counts})

    # ------------------------------------------------------------------ query

    def _table(self, name: str) -> TableDef:
        try:
            return self.store.table(name).definition
        except KeyError:
            raise not_found() from None

    def _compile(self, soql: str, include_deleted: bool) -> CompiledQuery:
        try:
            query = parse(soql)
            try:
                table = self.store.table(query.sobject).definition
            except KeyError:
                message = (
                    f"sObject type '{query.sobject}' is not supported. If you are attempting to "
                    "use a custom object, be sure to append the '__c' after the entity name. "
                    "Please reference your WSDL or the describe call for the appropriate names."
                )
                raise SoqlError("INVALID_TYPE", located(soql, query.sobject_pos, message)) from None
            return compile_query(query, table, self.store.now())
        except SoqlError as error:
            raise ApiError(400, error.code, error.message) from None

    def _snapshot(self, table: str, include_deleted: bool = True) -> list[Record]:
        """The object's records in id order (live ones only unless ``include_deleted``), read
        again only when the store has changed since."""
        return self._snapshot_ids(table, include_deleted)[0]

    def _snapshot_ids(
        self, table: str, include_deleted: bool = True
    ) -> tuple[list[Record], list[str]]:
        """:meth:`_snapshot` and the ids of its records (the table's keys, in the same order)."""
        with self.store.lock:
            seq = self.store.seq
            cached = self._snapshots.get((table, include_deleted))
            if cached is not None and cached[0] == seq:
                return cached[1], cached[2]
            if include_deleted:
                rows = self.store.table(table).rows
                ids = sorted(rows)
                records = list(map(rows.__getitem__, ids))
            else:
                every, every_id = self._snapshot_ids(table)
                try:
                    deleted = list(map(_IS_DELETED_KEY, every))  # faster than .get
                except KeyError:
                    deleted = list(map(_IS_DELETED, every))
                if any(deleted):
                    live = list(map(not_, deleted))
                    records, ids = list(compress(every, live)), list(compress(every_id, live))
                else:  # nothing deleted: the same lists (a snapshot is never changed)
                    records, ids = every, every_id
            self._snapshots[(table, include_deleted)] = (seq, records, ids)
            return records, ids

    def _rows(self, compiled: CompiledQuery, include_deleted: bool) -> list[Record]:
        return compiled.run(self._snapshot(compiled.table.name, include_deleted))

    def _rows_ids(
        self, compiled: CompiledQuery, include_deleted: bool
    ) -> tuple[list[Record], list[str] | None]:
        """The query's records and, when it selects the whole snapshot in its order (no filter,
        no ORDER BY, no LIMIT), their ids from the snapshot (saving a read of every record).

        A whole snapshot is returned as it is cached, not copied (it is never changed: a change
        to the store makes a new one), so that the collector has one list fewer to walk.
        """
        records, ids = self._snapshot_ids(compiled.table.name, include_deleted)
        query = compiled.query
        whole = compiled.predicate is None and not compiled.order and not query.offset
        if whole and query.limit is None:
            return records, ids
        return compiled.run(records), None

    def _query_route(self, request: Request, version: str, parts: list[str]) -> Response:
        include_deleted = parts[0] == "queryAll"
        batch = _batch_size(request.headers.get("sforce-query-options"))
        if len(parts) == 2:
            return self._more(parts[1], batch)
        if len(parts) != 1:
            raise not_found()
        soql = request.param("q")
        if not soql:
            raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
        return self._query(soql, include_deleted, batch or 2000, version)

    def _query(self, soql: str, include_deleted: bool, batch: int, version: str) -> Response:
        compiled = self._compile(soql, include_deleted)
        rows = self._rows(compiled, include_deleted)
        if compiled.is_count:
            return json_response({"totalSize": len(rows), "done": True, "records": []})
        if compiled.is_aggregate:
            name = compiled.fields[0].name
            count = sum(1 for r in rows if r.get(name) is not None)
            record = {"attributes": {"type": "AggregateResult"}, compiled.count_alias: count}
            return json_response({"totalSize": 1, "done": True, "records": [record]})
        renderer = JsonRecords(compiled.table, compiled.fields, version)
        with self._lock:
            self._cursor_number += 1
            cursor = Cursor(
                salesforce_id("01g", self._cursor_number),
                compiled,
                rows,
                renderer,
                batch,
                include_deleted,
                version,
                self.clock(),
            )
            if len(rows) > batch:
                self._keep_cursor(cursor)
        return self._page(cursor, 0, batch)

    def _keep_cursor(self, cursor: Cursor) -> None:
        self.cursors[cursor.id] = cursor
        while len(self.cursors) > MAX_CURSORS:
            self.cursors.popitem(last=False)

    def _more(self, locator: str, batch: int | None) -> Response:
        match = _LOCATOR_RE.match(locator)
        with self._lock:
            cursor = self.cursors.get(match[1]) if match else None
            now = self.clock()
            if cursor is None or match is None or now - cursor.last_used > CURSOR_SECONDS:
                if cursor is not None:
                    self.cursors.pop(cursor.id, None)
                raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            cursor.last_used = now
            self.cursors.move_to_end(cursor.id)
        start = int(match[2])
        if start >= len(cursor.rows):
            raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(cursor, start, batch or cursor.batch_size)

    def _json_lines(self, cursor: Cursor, rows: list[Record]) -> list[str]:
        table = cursor.compiled.table
        layout = ("json", table.name, tuple(f.name for f in cursor.compiled.fields), cursor.version)
        seqs = self.store.table(table.name).seqs
        return self.render_cache.page(layout, rows, seqs, table.key, cursor.renderer.render).texts

    def _page(self, cursor: Cursor, start: int, batch: int) -> Response:
        total = len(cursor.rows)
        end = min(start + batch, total)
        ready = self.prefetcher.wait(("rest", cursor.id, start))
        if isinstance(ready, PreparedBody) and ready.end == end and ready.seq == self.store.seq:
            body = ready.body  # made in the background, and the store has not changed since
        else:
            body = self._body(cursor, start, end)
        if end >= total:
            with self._lock:
                self.cursors.pop(cursor.id, None)
            return Response(200, body, {"Content-Type": JSON_TYPE})
        following = min(end + batch, total)

        def prefetch() -> None:
            self.prefetcher.schedule(
                ("rest", cursor.id, end), lambda: self._prepare(cursor, end, following)
            )

        # the next page is made once this one is sent: making it while this one is written
        # would hold the interpreter lock the writing thread needs
        return Response(200, body, {"Content-Type": JSON_TYPE}, after=prefetch)

    def _prepare(self, cursor: Cursor, start: int, end: int) -> PreparedBody:
        """The page's body made ahead, stamped with the store's change sequence before it was."""
        seq = self.store.seq
        return PreparedBody(seq, end, self._body(cursor, start, end))

    def _body(self, cursor: Cursor, start: int, end: int) -> bytes:
        """The JSON body of the cursor's rows ``start:end``."""
        total = len(cursor.rows)
        records = records_array(self._json_lines(cursor, cursor.rows[start:end]))
        if end >= total:
            head = f'{{"totalSize":{total},"done":true,"records":'
        else:
            endpoint = "queryAll" if cursor.include_deleted else "query"
            url = f"/services/data/v{cursor.version}/{endpoint}/{cursor.id}-{end}"
            head = f'{{"totalSize":{total},"done":false,"nextRecordsUrl":"{url}","records":'
        return (head + records + "}").encode("utf-8")

    # ------------------------------------------------------------------ sobjects

    def _sobjects(self, request: Request, version: str, parts: list[str]) -> Response:
        method = request.method
        if not parts:
            return self._get_only(
                method, lambda: json_response(describe_global(self.store, version))
            )
        if method not in ("GET", "HEAD"):
            return self._rest_write(request, parts)
        table = self._table(parts[0])
        if len(parts) == 1:
            summary = sobject_summary(self.store, table, version)
            return json_response({"objectDescribe": summary, "recentItems": []})
        if len(parts) == 2 and parts[1] == "describe":
            return json_response(describe_sobject(self.store, table, version))
        if len(parts) == 2 and parts[1] in ("updated", "deleted"):
            return self._replication(request, table, parts[1])
        if len(parts) == 2:
            return self._record(request, table, version, "Id", parts[1])
        if len(parts) == 3:
            return self._record(request, table, version, parts[1], parts[2])
        raise not_found()

    def _record(
        self, request: Request, table: TableDef, version: str, key: str, value: str
    ) -> Response:
        """``GET sobjects/{type}/{id}`` or ``sobjects/{type}/{externalIdField}/{value}``."""
        field = table.field(key)
        if field is None or (key != "Id" and not field.external_id):
            raise not_found()
        record = self._find(table, field.name, value)
        if record is None or record.get("IsDeleted"):
            raise not_found()
        fields = _chosen_fields(table, request.param("fields"))
        rendered = JsonRecords(table, fields, version).render([record])[0]
        return Response(200, rendered.encode("utf-8"), {"Content-Type": JSON_TYPE})

    def _find(self, table: TableDef, field: str, value: str) -> Record | None:
        rows = self.store.table(table.name).rows
        if field == "Id":
            if len(value) == 15:
                return next((r for k, r in rows.items() if k[:15] == value), None)
            return rows.get(value)
        wanted = value.lower()
        return next((r for r in rows.values() if str(r.get(field, "")).lower() == wanted), None)

    def _replication(self, request: Request, table: TableDef, kind: str) -> Response:
        start, end = _window(request.param("start"), request.param("end"))
        now = self.store.now()
        days = UPDATED_WINDOW_DAYS if kind == "updated" else DELETED_WINDOW_DAYS
        earliest = _to_minute(now - timedelta(days=days))
        if start < earliest:
            raise ApiError(
                400,
                "INVALID_REPLICATION_DATE",
                f"startDate cannot be more than {days} days ago",
            )
        covered = min(end, _to_minute(now))
        if kind == "updated":
            ids = self._updated_ids(table, start, covered)
            return json_response({"ids": ids, "latestDateCovered": sf_datetime(covered)})
        deleted = [
            {"id": t.id, "deletedDate": sf_datetime(t.deleted_at)}
            for t in sorted(
                self.store.table(table.name).tombstones, key=lambda t: (t.deleted_at, t.id)
            )
            if start <= t.deleted_at < covered
        ]
        _check_id_limit(len(deleted))
        return json_response(
            {
                "deletedRecords": deleted,
                "earliestDateAvailable": sf_datetime(earliest),
                "latestDateCovered": sf_datetime(covered),
            }
        )

    def _updated_ids(self, table: TableDef, start: datetime, end: datetime) -> list[str]:
        stamp = "SystemModstamp" if table.field("SystemModstamp") else "LastModifiedDate"
        ids = [
            str(r[table.key])
            for r in self._snapshot(table.name, include_deleted=False)
            if (s := r.get(stamp)) is not None and start <= s < end
        ]
        _check_id_limit(len(ids))
        return ids

    # ------------------------------------------------------------------ writes

    def _rest_write(self, request: Request, parts: list[str]) -> Response:
        """POST/PATCH/PUT/DELETE under ``sobjects/``: upsert by external id, or refuse."""
        method = request.method
        operation = {"POST": "create", "PATCH": "update", "PUT": "update", "DELETE": "delete"}.get(
            method, method.lower()
        )
        name = parts[0]
        record_id = parts[-1] if len(parts) >= 2 else None
        body = parse_json(request.body) if request.body and method != "DELETE" else {}
        fields = sorted(body) if isinstance(body, dict) else []
        try:
            table = self.store.table(name).definition
        except KeyError:
            self.writer.log("rest", name, record_id, operation, fields, _not_found_error())
            raise not_found() from None
        if table.name not in WRITABLE_OBJECTS:
            error = self.writer.refuse("rest", table.name, record_id, operation, fields)
            raise ApiError(400, error.code, error.message, fields=[])
        if method == "PATCH" and len(parts) == 3:
            return self._upsert_one(table, parts[1], parts[2], body)
        error = _unsupported_write(method)
        self.writer.log("rest", table.name, record_id, operation, fields, error)
        raise ApiError(405, "METHOD_NOT_ALLOWED", error.message)

    def _upsert_one(self, table: TableDef, ext_name: str, value: str, body: Any) -> Response:
        ext_field = table.field(ext_name)
        if ext_field is None or not ext_field.external_id or not isinstance(body, dict):
            raise ApiError(
                400,
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {ext_name}",
            )
        record = {**body, ext_field.name: value}
        outcome = self.writer.upsert(table, ext_field, [record], api="rest")[0]
        if outcome.error is not None:
            raise ApiError(
                400, outcome.error.code, outcome.error.message, fields=list(outcome.error.fields)
            )
        return json_response(outcome.as_json(), 201 if outcome.created else 200)

    def _composite(self, request: Request, parts: list[str]) -> Response:
        body = parse_json(request.body) if request.body else None
        if request.method == "PATCH" and len(parts) == 3 and parts[0] == "sobjects":
            return self._collections_upsert(parts[1], parts[2], body)
        return self._refuse_composite(request, parts, body)

    def _collections_upsert(self, name: str, ext_name: str, body: Any) -> Response:
        records = body.get("records") if isinstance(body, dict) else None
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise ApiError(400, "JSON_PARSER_ERROR", "The request body must have a records list")
        if len(records) > 200:
            raise ApiError(
                400,
                "EXCEEDED_ID_LIMIT",
                "record limit reached. cannot submit more than 200 records into this call",
            )
        try:
            table = self.store.table(name).definition
        except KeyError:
            for record in records:
                self.writer.log(
                    "composite", name, None, "upsert", sorted(record), _not_found_error()
                )
            raise ApiError(
                400, "INVALID_TYPE", f"sObject type '{name}' is not supported."
            ) from None
        if table.name not in WRITABLE_OBJECTS:
            errors = [
                self.writer.refuse("composite", table.name, None, "upsert", sorted(r))
                for r in records
            ]
            return json_response(
                [{"id": None, "success": False, "errors": [e.as_json()]} for e in errors]
            )
        ext_field = table.field(ext_name)
        if ext_field is None or not ext_field.external_id:
            raise ApiError(
                400,
                "INVALID_FIELD",
                f"Field name provided, {ext_name} is not an External ID or indexed field for {table.name}",
            )
        self._check_collection_records(table, records)
        outcomes = self.writer.upsert(
            table, ext_field, records, api="composite", all_or_none=bool(body.get("allOrNone"))
        )
        return json_response([o.as_json() for o in outcomes])

    @staticmethod
    def _check_collection_records(table: TableDef, records: list[dict[str, Any]]) -> None:
        for record in records:
            attributes = record.get("attributes")
            if not isinstance(attributes, dict) or not attributes.get("type"):
                raise ApiError(400, "INVALID_TYPE", "Must specify a type in the attributes map")
            if str(attributes["type"]).lower() != table.name.lower():
                raise ApiError(400, "INVALID_TYPE", f"Records must all be of type {table.name}")
            for name in record:
                if name != "attributes" and table.field(name) is None:
                    raise ApiError(
                        400,
                        "INVALID_FIELD",
                        f"No such column '{name}' on sobject of type {table.name}",
                    )

    def _refuse_composite(self, request: Request, parts: list[str], body: Any) -> Response:
        if request.method in ("GET", "HEAD"):
            raise not_found()
        records = body.get("records") if isinstance(body, dict) else None
        items = records if isinstance(records, list) else [body if isinstance(body, dict) else {}]
        for item in items:
            attributes = item.get("attributes") if isinstance(item, dict) else None
            name = (
                str(attributes.get("type"))
                if isinstance(attributes, dict)
                else "/".join(["composite", *parts])
            )
            fields = sorted(k for k in item if k != "attributes") if isinstance(item, dict) else []
            if name in WRITABLE_OBJECTS:
                self.writer.log(
                    "composite",
                    name,
                    None,
                    request.method.lower(),
                    fields,
                    _unsupported_write(request.method),
                )
            else:
                self.writer.refuse("composite", name, None, request.method.lower(), fields)
        raise ApiError(
            400,
            "INSUFFICIENT_ACCESS_OR_READONLY",
            "insufficient access rights on object id",
            fields=[],
        )

    # ------------------------------------------------------------------ bulk and tooling

    def _jobs(self, request: Request, version: str, parts: list[str]) -> Response:
        kind, rest = parts[0], parts[1:]
        method = request.method
        if kind == "query":
            return self._query_jobs(request, version, rest)
        if kind != "ingest":
            raise not_found()
        bulk = self.bulk
        if not rest:
            if method == "POST":
                return bulk.create_ingest(request.body, version)
            return self._get_only(method, lambda: bulk.list_jobs(query=False))
        job_id = rest[0]
        if len(rest) == 1:
            answers: dict[str, Callable[[], Response]] = {
                "GET": lambda: bulk.ingest_info(job_id),
                "PATCH": lambda: bulk.set_ingest_state(job_id, request.body),
                "DELETE": lambda: bulk.delete_ingest(job_id),
            }
            return _by_method(method, answers)
        if len(rest) == 2 and rest[1] == "batches":
            return _by_method(method, {"PUT": lambda: bulk.upload(job_id, request.body)})
        results = _RESULT_KINDS.get(rest[1].lower()) if len(rest) == 2 else None
        if results is not None:
            return self._get_only(method, lambda: bulk.ingest_results(job_id, results))
        raise not_found()

    def _query_jobs(self, request: Request, version: str, rest: list[str]) -> Response:
        method = request.method
        bulk = self.bulk
        if not rest:
            if method == "POST":
                return bulk.create_query(request.body, version)
            return self._get_only(method, lambda: bulk.list_jobs(query=True))
        job_id = rest[0]
        if len(rest) == 1:
            answers: dict[str, Callable[[], Response]] = {
                "GET": lambda: bulk.query_info(job_id),
                "PATCH": lambda: bulk.set_query_state(job_id, request.body),
                "DELETE": lambda: bulk.delete_query(job_id),
            }
            return _by_method(method, answers)
        if len(rest) == 2 and rest[1] == "results":
            return self._get_only(
                method,
                lambda: bulk.query_results(
                    job_id, request.param("locator"), request.param("maxRecords")
                ),
            )
        raise not_found()

    def _tooling(self, request: Request, parts: list[str]) -> Response:
        if (
            len(parts) != 2
            or parts[0] != "sobjects"
            or parts[1] not in ("CustomObject", "CustomField")
        ):
            raise not_found()
        if request.method != "POST":
            raise method_not_allowed(request.method, "POST")
        body = parse_json(request.body)
        if not isinstance(body, dict):
            raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
        full_name = str(body.get("FullName") or "")
        try:
            if parts[1] == "CustomObject":
                create_custom_object(self.store, body)
                prefix = "01I"
            else:
                create_custom_field(self.store, body)
                prefix = "00N"
        except ToolingError as error:
            self.writer.log(
                "tooling", full_name, None, f"create {parts[1]}", (), _tooling_error(error)
            )
            raise ApiError(error.status, error.code, error.message) from None
        self.writer.log("tooling", full_name, None, f"create {parts[1]}", ())
        with self._lock:
            self._cursor_number += 1
            new_id = salesforce_id(prefix, self._cursor_number)
        return json_response(
            {"id": new_id, "success": True, "errors": [], "warnings": [], "infos": []}, 201
        )


# ----------------------------------------------------------------------------- helpers


def session_expired(headers: dict[str, str] | None = None) -> ApiError:
    """401 INVALID_SESSION_ID: no token, an unknown one, or one that expired."""
    return ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid", headers=headers)


def fault_error(fault: str | None, plan: FaultPlan) -> ApiError | None:
    """The error an HTTP-status fault is answered with, in Salesforce's shape."""
    if fault == "429":
        seconds = plan.retry_after
        retry = str(int(seconds)) if seconds == int(seconds) else str(seconds)
        return ApiError(
            429,
            "REQUEST_LIMIT_EXCEEDED",
            f"Too many requests. Retry after {retry} seconds.",
            headers={"Retry-After": retry},
        )
    if fault == "500":
        return ApiError(
            500,
            "UNKNOWN_EXCEPTION",
            "An unexpected error occurred. Please include this ErrorId if you contact "
            "support: 1923457812-45631 (-1187032651)",
        )
    if fault == "503":
        return ApiError(
            503, "SERVER_UNAVAILABLE", "Server is temporarily unavailable. Please try again later."
        )
    return None


def _by_method(method: str, answers: dict[str, Callable[[], Response]]) -> Response:
    answer = answers.get("GET" if method == "HEAD" else method)
    if answer is None:
        raise method_not_allowed(method, ",".join(answers))
    return answer()


def _chosen_fields(table: TableDef, wanted: str | None) -> tuple[FieldDef, ...]:
    """The fields a ``?fields=`` parameter names (all fields without one)."""
    if not wanted:
        return tuple(table.fields)
    chosen = [table.field(name.strip()) for name in wanted.split(",") if name.strip()]
    fields = tuple(f for f in chosen if f is not None)
    if len(fields) != len(chosen):
        raise ApiError(400, "INVALID_FIELD", f"No such column on entity '{table.name}'")
    return fields


def _batch_size(header: str | None) -> int | None:
    if not header:
        return None
    match = _BATCH_RE.search(header)
    if match is None:
        return None
    return max(200, min(2000, int(match[1])))


def _to_minute(value: datetime) -> datetime:
    return value.replace(second=0, microsecond=0)


def _parse_window_value(name: str, value: str | None) -> datetime:
    if not value:
        raise ApiError(400, "MISSING_ARGUMENT", f"{name} is required")
    text = value.strip().replace(" ", "+")
    try:
        parsed = parse_datetime(text)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ApiError(
                400, "INVALID_REPLICATION_DATE", f"{name}: not a valid dateTime: {value}"
            ) from None
        if parsed.tzinfo is None:
            raise ApiError(
                400, "INVALID_REPLICATION_DATE", f"{name}: a time zone is required: {value}"
            ) from None
    return _to_minute(parsed)


def _window(start: str | None, end: str | None) -> tuple[datetime, datetime]:
    begin = _parse_window_value("start", start)
    finish = _parse_window_value("end", end)
    if begin >= finish:
        raise ApiError(
            400,
            "INVALID_REPLICATION_DATE",
            "startDate must chronologically precede endDate by more than one minute",
        )
    return begin, finish


def _check_id_limit(count: int) -> None:
    if count > MAX_REPLICATION_IDS:
        raise ApiError(
            400,
            "EXCEEDED_ID_LIMIT",
            "The number of ids returned exceeds 600000; use a shorter window",
        )


def _malformed(body: bytes) -> bytes:
    """A body cut in half, so that it is no longer valid JSON (or complete CSV)."""
    cut = max(1, len(body) // 2)
    return body[:cut] + b'\x00"'


def _not_found_error() -> RecordError:
    return RecordError("NOT_FOUND", "The requested resource does not exist")


def _unsupported_write(method: str) -> RecordError:
    return RecordError(
        "METHOD_NOT_ALLOWED",
        f"HTTP Method '{method}' not allowed here: the emulated org writes {SCORE_OBJECT_NAME} "
        "by external id only (PATCH sobjects/{type}/{externalIdField}/{value}, "
        "composite/sobjects upsert, Bulk API 2.0 upsert)",
    )


def _tooling_error(error: ToolingError) -> RecordError:
    return RecordError(error.code, error.message)
