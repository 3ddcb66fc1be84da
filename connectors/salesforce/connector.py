"""The Salesforce connector: describe, then extraction windows over SystemModstamp.

Every pass reads one window ``since <= SystemModstamp < upper``, where ``upper`` is the org's
own clock (the ``Date`` header of its latest answer, to the second) when the pass starts and
``since`` is the previous pass's ``upper``.  Windows are disjoint and leave no gaps, so records
sharing a timestamp with the end of a window are read exactly once — in the next window — and a
sync with nothing changed reads nothing.  Passes use ``queryAll`` so soft-deleted records come
back with ``IsDeleted = true``; hard deletes come from ``getDeleted`` for the same window, and
when the window reaches further back than getDeleted keeps (30 days) a reconciliation pass lists
every live Id instead.

Small windows are read with REST (``nextRecordsUrl`` paging at ``batch_size``), large ones with
Bulk API 2.0 (CSV pages by locator); the choice comes from ``COUNT()`` for full passes and from
the first REST page's ``totalSize`` for incremental ones, so an unchanged object costs two calls.

The checkpoint saved after each page says how to go on: the next REST page URL, the Bulk job and
locator, or the phase to start.  When a REST query locator or a Bulk job has expired on resume,
the phase restarts; the engine drops the duplicates by Id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any

import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.bulk2 import Operation, _Bulk2Client
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from simple_salesforce.util import call_salesforce

from config.errors import (
    ApiBudgetExceededError,
    CrmError,
    MalformedResponseError,
    RateLimitedError,
    RequestRejectedError,
    ServerError,
    SessionExpiredError,
)
from config.model import SalesforceSource
from connectors.base import ApiUsage, CsvRecords, ObjectSchema, Page, Records, StreamState
from connectors.http import CrmSession, RetryPolicy
from connectors.salesforce import soql
from connectors.salesforce.auth import SalesforceAuth
from connectors.salesforce.limits import ApiBudget, parse_limit_info
from connectors.salesforce.schema import object_schema

log = logging.getLogger(__name__)

GET_DELETED_DAYS = 30
# getDeleted wants its window longer than a minute; a shorter one is widened backwards, which
# only re-reports deletions already applied
GET_DELETED_MIN_WINDOW = timedelta(minutes=2)
BULK_PAGE_RECORDS = 50_000
# Bulk job status checks: right after creating the job, then after 0.1 s, doubling up to 10 s
BULK_POLL_FIRST_SECONDS = 0.1
BULK_POLL_MAX_SECONDS = 10.0


def bulk_poll_delays() -> Iterator[float]:
    """Seconds to wait between a Bulk job's status checks."""
    delay = BULK_POLL_FIRST_SECONDS
    while True:
        yield delay
        delay = min(delay * 2, BULK_POLL_MAX_SECONDS)


_RESTARTABLE_CODES = frozenset({"INVALID_QUERY_LOCATOR", "NOT_FOUND", "INVALIDJOB"})

Json = dict[str, Any]


class _Restart(Exception):
    """A resume position the CRM no longer knows: start the phase again."""


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _text(value: Any, obj: str, field: str) -> str | None:
    if value is None:
        return None
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    raise MalformedResponseError(f"{obj}.{field} holds a {type(value).__name__}, not a value")


class SalesforceConnector:
    """Reads one Salesforce org through simple-salesforce over kamsync's HTTP session."""

    kind = "salesforce"
    deleted_field: str | None = "IsDeleted"

    def __init__(
        self,
        config: SalesforceSource,
        *,
        env: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        bulk_poll_timeout: float = 3600.0,
    ) -> None:
        self.config = config
        self.source = config.name
        policy = RetryPolicy(max_retries=config.max_retries)
        self.session = self._session(config, policy, sleep)
        self._auth_session = self._session(config, policy, sleep)
        self.auth = SalesforceAuth(config, self._auth_session, env=env, clock=clock)
        self.budget = ApiBudget(config.name, config.api_budget_percent)
        self.sleep = sleep
        self.clock = clock
        self.bulk_poll_timeout = bulk_poll_timeout
        self.server_time: datetime | None = None
        self._limit_header: str | None = None
        self._sf: Salesforce | None = None
        self._record_counts: dict[str, int] | None = None
        self.session.on_response.append(self._observe)
        self._auth_session.on_response.append(self._observe_time)
        self.session.reauthenticate = self._reauthenticate

    @staticmethod
    def _session(
        config: SalesforceSource, policy: RetryPolicy, sleep: Callable[[float], None]
    ) -> CrmSession:
        return CrmSession(
            ca_bundle=config.ca_bundle,
            timeout=config.timeout_seconds,
            policy=policy,
            sleep=sleep,
            source=config.name,
        )

    # ------------------------------------------------------------------ session

    @property
    def sf(self) -> Salesforce:
        """The logged-in simple-salesforce client."""
        if self._sf is None:
            token = self.auth.token()
            self._sf = Salesforce(
                instance_url=self.config.instance_url,
                session_id=token.access_token,
                session=self.session,
                version=self.config.api_version,
                parse_float=str,
                object_pairs_hook=dict,
            )
        return self._sf

    def _reauthenticate(self) -> str:
        token = self.auth.token()
        if self._sf is not None:
            self._sf.session_id = token.access_token
            self._sf._generate_headers()
        return f"Bearer {token.access_token}"

    def _observe(self, response: requests.Response) -> None:
        self._observe_time(response)
        header = response.headers.get("Sforce-Limit-Info")
        usage = parse_limit_info(header)
        if usage is not None:
            self._limit_header = header
            self.budget.observe(*usage)

    def _observe_time(self, response: requests.Response) -> None:
        date = response.headers.get("Date")
        if not date:
            return
        try:
            seen = parsedate_to_datetime(date)
        except (TypeError, ValueError):
            return
        if seen.tzinfo is None:
            seen = seen.replace(tzinfo=UTC)
        if self.server_time is None or seen > self.server_time:
            self.server_time = seen

    def _now(self) -> datetime:
        """The org's clock as last seen, to the second (logging in if nothing was seen yet)."""
        if self.server_time is None:
            _ = self.sf
        if self.server_time is None:
            raise MalformedResponseError(
                "the org sends no Date header, so windows cannot be bounded", source=self.source
            )
        return self.server_time.replace(microsecond=0)

    def usage(self) -> ApiUsage:
        """Calls made by this connector and the org's counter as last reported."""
        return ApiUsage(
            calls=self.session.calls,
            org_used=self.budget.used,
            org_limit=self.budget.limit,
            detail=self._limit_header,
        )

    def close(self) -> None:
        """Close both HTTP sessions."""
        self.session.close()
        self._auth_session.close()

    # ------------------------------------------------------------------ calls

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        """Make one API call under the budget, translating errors into kamsync's tree."""
        self.budget.check()
        try:
            return fn()
        except SalesforceError as exc:
            raise self._translate(what, exc) from None
        except requests.exceptions.JSONDecodeError:
            raise MalformedResponseError(
                f"{what}: the answer is not valid JSON", source=self.source
            ) from None

    def _translate(self, what: str, exc: SalesforceError) -> CrmError:
        code, message = _error_detail(exc.content)
        status = exc.status
        text = f"{what}: {code + ': ' if code else ''}{message or 'HTTP ' + str(status)}"
        if isinstance(exc, SalesforceExpiredSession):
            return SessionExpiredError(text, source=self.source, status=status, code=code)
        if isinstance(exc, SalesforceRefusedRequest) and code == "REQUEST_LIMIT_EXCEEDED":
            used = self.budget.used or 0
            return ApiBudgetExceededError(
                f"{what}: the org's daily API limit is exhausted ({message}). Progress is "
                "saved; the next run continues where this one stopped.",
                used=used,
                limit=self.budget.limit or used,
                source=self.source,
            )
        if isinstance(exc, SalesforceGeneralError) and status == 429:
            return RateLimitedError(text, source=self.source, status=status, code=code)
        if isinstance(exc, SalesforceGeneralError) and status >= 500:
            return ServerError(text, source=self.source, status=status, code=code)
        if isinstance(
            exc, SalesforceMalformedRequest | SalesforceResourceNotFound | SalesforceRefusedRequest
        ):
            return RequestRejectedError(text, source=self.source, status=status, code=code)
        return RequestRejectedError(text, source=self.source, status=status, code=code)

    # ------------------------------------------------------------------ discover

    def _restful(self, path: str, params: dict[str, str] | None = None) -> Any:
        return self.sf.restful(path, params=params)

    def discover(self, objects: Sequence[str]) -> list[ObjectSchema]:
        """Describe each object."""
        schemas = []
        for name in objects:
            path = f"sobjects/{soql.identifier(name)}/describe"
            describe = self._call(f"describe {name}", partial(self._restful, path))
            if not isinstance(describe, dict):
                raise MalformedResponseError(f"describe {name}: not an object", source=self.source)
            schemas.append(object_schema(describe, self.source))
        return schemas

    # ------------------------------------------------------------------ read

    def read(self, schema: ObjectSchema, state: StreamState) -> Iterator[Page]:
        """Yield the pages of one pass, resuming from ``state.checkpoint`` when set."""
        checkpoint = state.checkpoint or self._new_pass(schema, state)
        while True:
            phase = checkpoint["phase"]
            if phase == "done":
                yield Page(
                    mode=checkpoint["mode"],
                    method=checkpoint.get("method", "rest"),
                    cursor={"upper": checkpoint["upper"]},
                    done=True,
                )
                return
            try:
                # every phase yields at least one page, the last carrying the next phase
                for page in self._phase(schema, checkpoint):
                    yield page
                    if page.checkpoint is not None:
                        checkpoint = page.checkpoint
            except _Restart:
                log.info(
                    "%s: %s: resume position expired; restarting %s",
                    self.source,
                    schema.name,
                    phase,
                )
                checkpoint = _strip_position(checkpoint)
                continue
            if checkpoint["phase"] == phase:
                raise MalformedResponseError(
                    f"{schema.name}: the {phase} phase ended without a page", source=self.source
                )

    def _new_pass(self, schema: ObjectSchema, state: StreamState) -> Json:
        upper = self._now()
        since: datetime | None = None
        if not state.full and state.cursor and schema.cursor_field:
            since = _parse_iso(state.cursor["upper"])
        return {
            "mode": "incremental" if since else "full",
            "since": _iso(since) if since else None,
            "upper": _iso(upper),
            "phase": "records",
        }

    def _phase(self, schema: ObjectSchema, checkpoint: Json) -> Iterator[Page]:
        phase = checkpoint["phase"]
        if phase == "records":
            yield from self._records(schema, checkpoint)
        elif phase == "deleted":
            yield self._deleted(schema, checkpoint)
        elif phase == "reconcile":
            yield from self._reconcile(schema, checkpoint)
        else:
            raise MalformedResponseError(f"unknown checkpoint phase {phase!r}", source=self.source)

    # ----------------------------------------------------------- records phase

    def _window_soql(self, schema: ObjectSchema, checkpoint: Json, fields: Sequence[str]) -> str:
        since = checkpoint.get("since")
        upper = _parse_iso(checkpoint["upper"])
        if schema.cursor_field is None:
            return f"SELECT {', '.join(soql.identifier(f) for f in fields)} FROM {soql.identifier(schema.name)}"
        return soql.select(
            schema.name,
            fields,
            since=_parse_iso(since) if since else None,
            upper=upper,
            cursor_field=schema.cursor_field,
        )

    def _records(self, schema: ObjectSchema, checkpoint: Json) -> Iterator[Page]:
        if checkpoint.get("job"):
            yield from self._bulk_pages(schema, checkpoint, schema.column_names, "records")
            return
        if checkpoint.get("next"):
            yield from self._rest_pages(schema, checkpoint, None, "records")
            return
        statement = self._window_soql(schema, checkpoint, schema.column_names)
        if checkpoint["mode"] == "full":
            total = self._full_size(schema, checkpoint)
            if total > self.config.bulk_threshold:
                yield from self._bulk_start(
                    schema, checkpoint, statement, "records", query_all=True
                )
                return
            yield from self._rest_pages(schema, checkpoint, statement, "records")
            return
        calls = self.session.calls
        first = self._rest_query(schema.name, statement, include_deleted=True)
        if int(first.get("totalSize", 0)) > self.config.bulk_threshold:
            log.info(
                "%s: %s: %s changed records, switching to Bulk API 2.0",
                self.source,
                schema.name,
                first.get("totalSize"),
            )
            yield from self._bulk_start(schema, checkpoint, statement, "records", query_all=True)
            return
        yield from self._rest_pages(
            schema, checkpoint, None, "records", first=first, calls_before=calls
        )

    def _full_size(self, schema: ObjectSchema, checkpoint: Json) -> int:
        """About how many records a full pass reads: the org's record counts, fetched once for
        every configured object (``limits/recordCount``), else ``COUNT()``."""
        if self._record_counts is None:
            self._record_counts = self._fetch_record_counts()
        known = self._record_counts.get(schema.name.lower())
        return known if known is not None else self._count(schema, checkpoint)

    def _fetch_record_counts(self) -> dict[str, int]:
        names = ",".join(soql.identifier(o) for o in self.config.objects)
        try:
            body = self._call(
                "record counts",
                partial(self._restful, "limits/recordCount", {"sObjects": names}),
            )
        except RequestRejectedError as exc:  # e.g. no "View Setup and Configuration"
            log.info("%s: record counts unavailable (%s); counting per object", self.source, exc)
            return {}
        items = body.get("sObjects") if isinstance(body, dict) else None
        if not isinstance(items, list):
            return {}
        return {
            str(item["name"]).lower(): int(item["count"])
            for item in items
            if isinstance(item, dict) and "name" in item and isinstance(item.get("count"), int)
        }

    def _count(self, schema: ObjectSchema, checkpoint: Json) -> int:
        if schema.cursor_field is None:
            statement = f"SELECT COUNT() FROM {soql.identifier(schema.name)}"
        else:
            since = checkpoint.get("since")
            statement = soql.count(
                schema.name,
                since=_parse_iso(since) if since else None,
                upper=_parse_iso(checkpoint["upper"]),
                cursor_field=schema.cursor_field,
            )
        body = self._rest_query(schema.name, statement, include_deleted=True)
        return int(body.get("totalSize", 0))

    def _rest_query(self, obj: str, statement: str, *, include_deleted: bool) -> Json:
        headers = {"Sforce-Query-Options": f"batchSize={self.config.batch_size}"}
        body = self._call(
            f"query {obj}",
            lambda: self.sf.query(statement, include_deleted=include_deleted, headers=headers),
        )
        return _query_body(body, obj, self.source)

    def _rest_more(self, obj: str, url: str) -> Json:
        headers = {"Sforce-Query-Options": f"batchSize={self.config.batch_size}"}
        try:
            body = self._call(
                f"query {obj}",
                lambda: self.sf.query_more(url, identifier_is_url=True, headers=headers),
            )
        except RequestRejectedError as exc:
            if exc.code in _RESTARTABLE_CODES:
                raise _Restart from None
            raise
        return _query_body(body, obj, self.source)

    def _rest_pages(
        self,
        schema: ObjectSchema,
        checkpoint: Json,
        statement: str | None,
        phase: str,
        *,
        first: Json | None = None,
        ids_only: bool = False,
        calls_before: int | None = None,
    ) -> Iterator[Page]:
        calls = self.session.calls if calls_before is None else calls_before
        if first is not None:
            body = first
        elif statement is not None:
            body = self._rest_query(schema.name, statement, include_deleted=not ids_only)
        else:
            body = self._rest_more(schema.name, checkpoint["next"])
        while True:
            next_url = body.get("nextRecordsUrl")
            position = {**_strip_position(checkpoint), "phase": phase, "method": "rest"}
            if next_url:
                position["next"] = next_url
            else:
                position = _next_phase(position)
            records = body["records"]
            yield self._page(schema, checkpoint, records, position, "rest", calls, ids_only)
            if not next_url:
                return
            calls = self.session.calls
            body = self._rest_more(schema.name, str(next_url))

    def _page(
        self,
        schema: ObjectSchema,
        checkpoint: Json,
        records: list[Json],
        position: Json,
        method: str,
        calls_before: int,
        ids_only: bool,
    ) -> Page:
        spent = self.session.calls - calls_before
        if ids_only:
            ids = tuple(str(_field(r, "Id", schema.name)) for r in records)
            return Page(
                checkpoint["mode"], method, live_ids=ids, checkpoint=position, api_calls=spent
            )
        columns = schema.column_names
        rows = [
            tuple(_text(_field(r, c, schema.name), schema.name, c) for c in columns)
            for r in records
        ]
        return Page(
            checkpoint["mode"],
            method,
            records=Records(columns, rows),
            checkpoint=position,
            api_calls=spent,
        )

    # ----------------------------------------------------------------- bulk

    def _bulk_client(self, obj: str) -> _Bulk2Client:
        sf = self.sf
        headers = {"Authorization": f"Bearer {sf.session_id}", "X-PrettyPrint": "1"}
        return _Bulk2Client(obj, sf.bulk2_url, headers, self.session)

    def _bulk_start(
        self, schema: ObjectSchema, checkpoint: Json, statement: str, phase: str, *, query_all: bool
    ) -> Iterator[Page]:
        calls = self.session.calls
        operation = Operation.query_all if query_all else Operation.query
        job = self._call(
            f"bulk query {schema.name}",
            lambda: self._bulk_client(schema.name).create_job(operation, statement),
        )
        job_id = str(job.get("id") or "")
        if not job_id:
            raise MalformedResponseError(f"bulk query {schema.name}: no job id", source=self.source)
        self._bulk_wait(schema.name, job_id)
        position = {
            **_strip_position(checkpoint),
            "phase": phase,
            "method": "bulk",
            "job": job_id,
            "locator": "",
            "calls": self.session.calls - calls,
        }
        columns = schema.column_names if phase == "records" else ("Id",)
        yield from self._bulk_pages(schema, position, columns, phase)

    def _bulk_results(self, job_id: str, locator: str) -> requests.Response:
        """One page of a query job's CSV results, as the raw bytes the org sent."""
        sf = self.sf
        params: dict[str, str | int] = {"maxRecords": BULK_PAGE_RECORDS}
        if locator:
            params["locator"] = locator
        headers = {"Authorization": f"Bearer {sf.session_id}", "Accept": "text/csv"}
        url = f"{sf.bulk2_url}query/{job_id}/results"
        return call_salesforce(url, "GET", self.session, headers, params=params)

    def _bulk_wait(self, obj: str, job_id: str) -> None:
        waited = 0.0
        delays = bulk_poll_delays()
        while True:
            info = self._call(
                f"bulk query {obj}", lambda: self._bulk_client(obj).get_job(job_id, True)
            )
            state = info.get("state")
            if state == "JobComplete":
                return
            if state in ("Failed", "Aborted"):
                raise RequestRejectedError(
                    f"bulk query {obj}: job {state}: {info.get('errorMessage', '')}",
                    source=self.source,
                    code=str(state),
                )
            if waited >= self.bulk_poll_timeout:
                raise ServerError(
                    f"bulk query {obj}: job not complete after {waited:.0f}s", source=self.source
                )
            delay = next(delays)
            self.sleep(delay)
            waited += delay

    def _bulk_pages(
        self, schema: ObjectSchema, checkpoint: Json, columns: Sequence[str], phase: str
    ) -> Iterator[Page]:
        job_id = checkpoint["job"]
        locator = checkpoint.get("locator") or ""
        extra_calls = int(checkpoint.get("calls", 0))
        while True:
            calls = self.session.calls
            try:
                response = self._call(
                    f"bulk results {schema.name}",
                    partial(self._bulk_results, job_id, locator),
                )
            except RequestRejectedError as exc:
                if exc.status == 404 or exc.code in _RESTARTABLE_CODES:
                    raise _Restart from None
                raise
            locator = response.headers.get("Sforce-Locator", "")
            locator = "" if locator == "null" else locator
            position: Json = {**_strip_position(checkpoint), "phase": phase, "method": "bulk"}
            if locator:
                position.update(job=job_id, locator=locator)
            else:
                position = _next_phase(position)
            spent = self.session.calls - calls + extra_calls
            extra_calls = 0
            count = int(response.headers.get("Sforce-NumberOfRecords") or 0)
            content = response.content.replace(b"\x00", b"")  # as simple-salesforce does
            yield self._bulk_page(
                schema, checkpoint, content, count, columns, position, spent, phase
            )
            if not locator:
                return

    def _bulk_page(
        self,
        schema: ObjectSchema,
        checkpoint: Json,
        content: bytes,
        count: int,
        columns: Sequence[str],
        position: Json,
        spent: int,
        phase: str,
    ) -> Page:
        first = content.split(b"\n", 1)[0].decode("utf-8", "replace")
        header = first.strip().replace('"', "").split(",") if content else []
        if content and header != list(columns):
            raise MalformedResponseError(
                f"bulk results {schema.name}: CSV columns {header[:5]}... do not match the query",
                source=self.source,
            )
        if phase == "reconcile":
            lines = content.decode("utf-8").splitlines()[1:]
            ids = tuple(line.strip().strip('"') for line in lines if line.strip())
            return Page(
                checkpoint["mode"], "bulk", live_ids=ids, checkpoint=position, api_calls=spent
            )
        return Page(
            checkpoint["mode"],
            "bulk",
            records=CsvRecords(content, count),
            checkpoint=position,
            api_calls=spent,
        )

    # ----------------------------------------------------------- deletes

    def _deleted(self, schema: ObjectSchema, checkpoint: Json) -> Page:
        calls = self.session.calls
        end = _parse_iso(checkpoint["upper"])
        start = min(_parse_iso(checkpoint["since"]), end - GET_DELETED_MIN_WINDOW)
        body = self._call(
            f"getDeleted {schema.name}",
            lambda: getattr(self.sf, schema.name).deleted(start, end),
        )
        records = body.get("deletedRecords") if isinstance(body, dict) else None
        if not isinstance(records, list):
            raise MalformedResponseError(
                f"getDeleted {schema.name}: no deletedRecords list", source=self.source
            )
        ids = tuple(str(r["id"]) for r in records if isinstance(r, dict) and r.get("id"))
        position = _next_phase({**_strip_position(checkpoint), "phase": "deleted"})
        return Page(
            checkpoint["mode"],
            "getDeleted",
            deleted_ids=ids,
            checkpoint=position,
            api_calls=self.session.calls - calls,
        )

    def _reconcile(self, schema: ObjectSchema, checkpoint: Json) -> Iterator[Page]:
        if checkpoint.get("job"):
            yield from self._bulk_pages(schema, checkpoint, ("Id",), "reconcile")
            return
        if checkpoint.get("next"):
            yield from self._rest_pages(schema, checkpoint, None, "reconcile", ids_only=True)
            return
        full = {**checkpoint, "since": None}
        statement = self._window_soql(schema, full, ("Id",))
        if self._full_size(schema, full) > self.config.bulk_threshold:
            yield from self._bulk_start(schema, checkpoint, statement, "reconcile", query_all=False)
            return
        yield from self._rest_pages(schema, checkpoint, statement, "reconcile", ids_only=True)


# --------------------------------------------------------------------------- helpers


def _next_phase(checkpoint: Json) -> Json:
    """The checkpoint at the start of the phase after ``checkpoint``'s."""
    base = _strip_position(checkpoint)
    phase = checkpoint["phase"]
    if phase == "records" and checkpoint["mode"] == "incremental":
        since = _parse_iso(checkpoint["since"])
        upper = _parse_iso(checkpoint["upper"])
        if upper - since > timedelta(days=GET_DELETED_DAYS - 1):
            return {**base, "phase": "reconcile"}
        return {**base, "phase": "deleted"}
    return {**base, "phase": "done"}


def _strip_position(checkpoint: Json) -> Json:
    """The pass-level part of a checkpoint, without any in-phase position."""
    return {k: v for k, v in checkpoint.items() if k not in ("next", "job", "locator", "calls")}


def _query_body(body: Any, obj: str, source: str) -> Json:
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise MalformedResponseError(f"query {obj}: the answer has no records list", source=source)
    return body


def _field(record: Json, name: str, obj: str) -> Any:
    try:
        return record[name]
    except KeyError:
        raise MalformedResponseError(
            f"{obj} record {record.get('Id', '?')} lacks field {name}"
        ) from None


def _error_detail(content: Any) -> tuple[str | None, str | None]:
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        return first.get("errorCode"), first.get("message")
    if isinstance(content, dict):
        return content.get("errorCode") or content.get("error"), content.get(
            "message"
        ) or content.get("error_description")
    if isinstance(content, str) and content:
        return None, content[:300]
    return None, None
