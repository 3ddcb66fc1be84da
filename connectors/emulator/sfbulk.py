"""Bulk API 2.0 for the emulated Salesforce org: query jobs and (score object) ingest jobs.

Query jobs (``jobs/query``): the SOQL is checked and run when the job is created (a snapshot);
the job reports ``UploadComplete``, then ``InProgress`` for :attr:`BulkApi.progress_polls` status
calls, then ``JobComplete``.  Results are CSV pages: ``maxRecords`` rows from the position the
opaque ``locator`` names, with ``Sforce-Locator`` (``null`` on the last page) and
``Sforce-NumberOfRecords`` headers.

Ingest jobs (``jobs/ingest``): ``upsert`` into ``KAM_Account_Score__c`` by an external id.  One
CSV upload (``PUT .../batches``), then ``PATCH {"state": "UploadComplete"}`` processes it through
the shared :class:`~connectors.emulator.sfwrite.Writer`; ``successfulResults``,
``failedResults`` and ``unprocessedrecords`` return the rows with ``sf__Id`` / ``sf__Created`` /
``sf__Error``.  Jobs for any other object are refused and logged.
"""

from __future__ import annotations

import base64
import csv
import io
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.emulator.server import Response
from connectors.emulator.sfapi import CSV_TYPE, ApiError, json_response, parse_json
from connectors.emulator.sfauth import USER_ID
from connectors.emulator.sfpages import LineCache, Pieces, Prefetcher, RenderedPage
from connectors.emulator.sfrender import (
    DELIMITERS,
    LINE_ENDINGS,
    CsvRecords,
    sf_datetime,
)
from connectors.emulator.sfwrite import (
    WRITABLE_OBJECTS,
    Outcome,
    RecordError,
    Writer,
    salesforce_id,
)
from connectors.emulator.soql import CompiledQuery
from connectors.emulator.store import Store, TableDef

Record = dict[str, Any]
DEFAULT_MAX_RECORDS = 250_000
DEFAULT_PREPARED = 50_000  # rows rendered while the client polls (simple-salesforce's page size)
PIECE = 5_000  # rows rendered, then sent, at a time (a page is streamed piece by piece)
PREPARED_PAGES = 2  # pages rendered ahead per job


def _page_end(job: QueryJob, start: int, size: int) -> int:
    """The row after the last of the page of at most ``size`` rows from ``start``."""
    return start + min(size, max(len(job.rows) - start, 0))


def _piece_starts(start: int, end: int) -> range:
    """The first rows of the pieces of the page ``start:end`` (an empty page is one piece)."""
    return range(start, max(end, start + 1), PIECE)


def encode_locator(offset: int) -> str:
    """An opaque locator for a result position (base64 of the offset, as Salesforce's look)."""
    return base64.b64encode(str(offset).encode()).decode().rstrip("=")


def decode_locator(locator: str) -> int:
    """The position an opaque locator names; 400 INVALIDLOCATOR when it names none."""
    try:
        padded = locator + "=" * (-len(locator) % 4)
        return int(base64.b64decode(padded, validate=True).decode())
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "INVALIDLOCATOR", f"Invalid locator: {locator}") from None


@dataclass
class QueryJob:
    """A Bulk API 2.0 query job and its (snapshot) result rows."""

    id: str
    operation: str
    compiled: CompiledQuery
    rows: list[Record]
    ids: list[str] | None  # the rows' ids when known without reading them (a whole snapshot)
    created: datetime
    api_version: str
    delimiter_name: str
    line_ending_name: str
    polls_left: int
    state: str = "UploadComplete"
    # pages being rendered ahead, by (first row, maxRecords)
    prepared: dict[tuple[int, int], Pieces[RenderedPage]] = field(default_factory=dict)

    @property
    def object(self) -> str:
        """The queried object."""
        return self.compiled.table.name

    def info(self, *, created: bool = False) -> dict[str, Any]:
        """The job info JSON."""
        info: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": USER_ID,
            "createdDate": sf_datetime(self.created),
            "systemModstamp": sf_datetime(self.created),
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.api_version),
            "jobType": "V2Query",
            "lineEnding": self.line_ending_name,
            "columnDelimiter": self.delimiter_name,
        }
        if not created:
            done = self.state == "JobComplete"
            info["numberRecordsProcessed"] = len(self.rows) if done else 0
            info["retries"] = 0
            info["totalProcessingTime"] = 0
        return info


@dataclass
class IngestJob:
    """A Bulk API 2.0 ingest (upsert) job."""

    id: str
    object: str
    external_id_field: str
    created: datetime
    api_version: str
    delimiter_name: str
    line_ending_name: str
    polls_left: int
    state: str = "Open"
    data: bytes | None = None
    columns: list[str] = field(default_factory=list)
    successful: list[tuple[Outcome, list[str]]] = field(default_factory=list)
    failed: list[tuple[Outcome, list[str]]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)
    error_message: str | None = None

    def info(self) -> dict[str, Any]:
        """The job info JSON."""
        info: dict[str, Any] = {
            "id": self.id,
            "operation": "upsert",
            "object": self.object,
            "createdById": USER_ID,
            "createdDate": sf_datetime(self.created),
            "systemModstamp": sf_datetime(self.created),
            "state": self.state,
            "externalIdFieldName": self.external_id_field,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.api_version),
            "jobType": "V2Ingest",
            "lineEnding": self.line_ending_name,
            "columnDelimiter": self.delimiter_name,
            "numberRecordsProcessed": len(self.successful) + len(self.failed),
            "numberRecordsFailed": len(self.failed),
            "retries": 0,
            "totalProcessingTime": 0,
            "apiActiveProcessingTime": 0,
            "apexProcessingTime": 0,
        }
        if self.state == "Open":
            info["contentUrl"] = f"services/data/v{self.api_version}/jobs/ingest/{self.id}/batches"
        if self.error_message:
            info["errorMessage"] = self.error_message
        return info


def _choice(body: Mapping[str, Any], key: str, options: Mapping[str, str], default: str) -> str:
    value = body.get(key) or default
    if value not in options:
        raise ApiError(400, "INVALIDJOB", f"Invalid {key}: {value}")
    return str(value)


class BulkApi:
    """Bulk API 2.0 jobs of one org."""

    def __init__(
        self,
        store: Store,
        writer: Writer,
        compile_soql: Callable[[str, bool], CompiledQuery],
        rows_for: Callable[[CompiledQuery, bool], tuple[list[Record], list[str] | None]],
        *,
        progress_polls: int = 1,
        cache: LineCache | None = None,
        prefetcher: Prefetcher | None = None,
    ) -> None:
        self.cache = cache or LineCache()
        self.prefetcher = prefetcher or Prefetcher()
        self.store = store
        self.writer = writer
        self.compile_soql = compile_soql
        self.rows_for = rows_for
        self.progress_polls = progress_polls
        self.query_jobs: dict[str, QueryJob] = {}
        self.ingest_jobs: dict[str, IngestJob] = {}
        self._number = 0
        self._lock = threading.Lock()

    def _new_id(self) -> str:
        with self._lock:
            self._number += 1
            return salesforce_id("750", self._number)

    # ------------------------------------------------------------------ query jobs

    def create_query(self, body: bytes, version: str) -> Response:
        """``POST jobs/query``."""
        request = parse_json(body)
        if not isinstance(request, dict):
            raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
        operation = request.get("operation")
        if operation not in ("query", "queryAll"):
            raise ApiError(400, "INVALIDJOB", f"Invalid operation: {operation}")
        soql = request.get("query")
        if not isinstance(soql, str) or not soql.strip():
            raise ApiError(400, "INVALIDJOB", "The query is required")
        delimiter = _choice(request, "columnDelimiter", DELIMITERS, "COMMA")
        ending = _choice(request, "lineEnding", LINE_ENDINGS, "LF")
        include_deleted = operation == "queryAll"
        compiled = self.compile_soql(soql, include_deleted)
        self._check_bulk_query(compiled)
        rows, ids = self.rows_for(compiled, include_deleted)
        job = QueryJob(
            id=self._new_id(),
            operation=operation,
            compiled=compiled,
            rows=rows,
            ids=ids,
            created=self.store.now(),
            api_version=version,
            delimiter_name=delimiter,
            line_ending_name=ending,
            polls_left=self.progress_polls,
        )
        self.query_jobs[job.id] = job
        self._prepare(job, 0, DEFAULT_PREPARED)
        return json_response(job.info(created=True))

    @staticmethod
    def _check_bulk_query(compiled: CompiledQuery) -> None:
        if compiled.is_count or compiled.is_aggregate:
            raise ApiError(
                400,
                "API_ERROR",
                "Aggregate Relationships and aggregate functions are not supported in Bulk Query",
            )
        if compiled.query.offset is not None:
            raise ApiError(400, "API_ERROR", "OFFSET is not supported in Bulk Query")
        if any(f.type in ("address", "location") for f in compiled.fields):
            raise ApiError(
                400, "API_ERROR", "FeatureNotEnabled : Compound data not supported in Bulk Query"
            )

    def query_job(self, job_id: str) -> QueryJob:
        """The query job ``job_id``; 404 when there is none."""
        job = self.query_jobs.get(job_id)
        if job is None:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        return job

    def query_info(self, job_id: str) -> Response:
        """``GET jobs/query/{id}``: advances the job one step towards JobComplete."""
        job = self.query_job(job_id)
        if job.state in ("UploadComplete", "InProgress"):
            if job.polls_left > 0:
                job.polls_left -= 1
                job.state = "InProgress"
            else:
                job.state = "JobComplete"
        return json_response(job.info())

    def set_query_state(self, job_id: str, body: bytes) -> Response:
        """``PATCH jobs/query/{id}`` with ``{"state": "Aborted"}``."""
        job = self.query_job(job_id)
        state = (parse_json(body) or {}).get("state")
        if state != "Aborted":
            raise ApiError(400, "INVALIDJOBSTATE", f"Invalid state: {state}")
        if job.state == "JobComplete":
            raise ApiError(400, "INVALIDJOBSTATE", "Job is already complete")
        job.state = "Aborted"
        return json_response(job.info())

    def delete_query(self, job_id: str) -> Response:
        """``DELETE jobs/query/{id}``."""
        self.query_job(job_id)
        del self.query_jobs[job_id]
        return Response(204, b"")

    def query_results(self, job_id: str, locator: str | None, max_records: str | None) -> Response:
        """``GET jobs/query/{id}/results``: one CSV page."""
        job = self.query_job(job_id)
        if job.state != "JobComplete":
            raise ApiError(400, "INVALIDJOBSTATE", f"Job is not complete: {job.state}")
        start = decode_locator(locator) if locator else 0
        size = DEFAULT_MAX_RECORDS
        if max_records:
            if not max_records.isdigit() or int(max_records) <= 0:
                raise ApiError(400, "INVALIDMAXRECORDS", f"Invalid maxRecords: {max_records}")
            size = int(max_records)
        pieces = job.prepared.pop((start, size), None) or self._prepare(job, start, size, False)
        end = _page_end(job, start, size)
        if end < len(job.rows):
            self._prepare(job, end, size)  # rendered once this page's pieces are
        headers = {
            "Content-Type": CSV_TYPE,
            "Sforce-Locator": encode_locator(end) if end < len(job.rows) else "null",
            "Sforce-NumberOfRecords": str(end - start),
        }
        return Response(200, headers=headers, stream=self._stream(job, start, end, pieces))

    def _prepare(
        self, job: QueryJob, start: int, size: int, keep: bool = True
    ) -> Pieces[RenderedPage]:
        """Start rendering the page of ``size`` rows from ``start`` in the background, piece by
        piece (``keep``: for a later request, else for the one being answered)."""
        end = _page_end(job, start, size)
        starts = _piece_starts(start, end)
        pieces = Pieces(
            len(starts), lambda n: self._cells(job, starts[n], min(PIECE, end - starts[n]))
        )
        if keep:
            job.prepared[(start, size)] = pieces
            while len(job.prepared) > PREPARED_PAGES:
                job.prepared.pop(next(iter(job.prepared)))
        self.prefetcher.submit(pieces.run)
        return pieces

    def _stream(
        self, job: QueryJob, start: int, end: int, pieces: Pieces[RenderedPage]
    ) -> Iterator[bytes]:
        """The page's CSV (header, then the rows piece by piece) as its pieces are rendered; a
        piece none of whose records changed since it was rendered is sent as it is, otherwise the
        cache renders the changed records again."""
        renderer = self._renderer(job)
        before = renderer.header()
        for n, first in enumerate(_piece_starts(start, end)):
            piece = pieces.get(n)
            if piece.version != self.store.seq and not piece.current(self._seqs(job)):
                piece = self._cells(job, first, min(PIECE, end - first))
            yield renderer.part(piece.texts, before).encode("utf-8")
            before = ""

    @staticmethod
    def _renderer(job: QueryJob) -> CsvRecords:
        return CsvRecords(
            job.compiled.fields, DELIMITERS[job.delimiter_name], LINE_ENDINGS[job.line_ending_name]
        )

    def _seqs(self, job: QueryJob) -> Mapping[str, int]:
        return self.store.table(job.object).seqs

    def _cells(self, job: QueryJob, start: int, size: int) -> RenderedPage:
        """The CSV line texts of ``size`` rows from ``start`` (cached per record while it does
        not change), stamped with the store's change sequence from before they were read."""
        version = self.store.seq
        table = job.compiled.table
        layout = ("csv", table.name, tuple(f.name for f in job.compiled.fields), job.delimiter_name)
        rows = job.rows[start : start + size]
        ids = job.ids[start : start + size] if job.ids is not None else None
        renderer = self._renderer(job).cells
        page = self.cache.page(layout, rows, self._seqs(job), table.key, renderer, ids)
        return page.stamped(version)

    def list_jobs(self, query: bool) -> Response:
        """``GET jobs/query`` / ``GET jobs/ingest``."""
        jobs: Sequence[QueryJob | IngestJob] = list(
            self.query_jobs.values() if query else self.ingest_jobs.values()
        )
        records = [j.info() for j in jobs]
        return json_response({"done": True, "records": records, "nextRecordsUrl": None})

    # ------------------------------------------------------------------ ingest jobs

    def create_ingest(self, body: bytes, version: str) -> Response:
        """``POST jobs/ingest``: only upsert into kamsync's score object is allowed."""
        request = parse_json(body)
        if not isinstance(request, dict):
            raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
        table = self._writable_table(request)
        ext_name = str(request.get("externalIdFieldName") or "")
        ext_field = table.field(ext_name)
        if ext_field is None or not ext_field.external_id:
            raise ApiError(
                400,
                "INVALIDJOB",
                f"InvalidJob : Field name provided, {ext_name or '(blank)'} is not an External ID "
                f"or indexed field for {table.name}",
            )
        if request.get("contentType", "CSV") != "CSV":
            raise ApiError(400, "INVALIDJOB", "Only CSV content is supported")
        job = IngestJob(
            id=self._new_id(),
            object=table.name,
            external_id_field=ext_field.name,
            created=self.store.now(),
            api_version=version,
            delimiter_name=_choice(request, "columnDelimiter", DELIMITERS, "COMMA"),
            line_ending_name=_choice(request, "lineEnding", LINE_ENDINGS, "LF"),
            polls_left=self.progress_polls,
        )
        self.ingest_jobs[job.id] = job
        return json_response(job.info())

    def _writable_table(self, request: Mapping[str, Any]) -> TableDef:
        """The job's object, when it is one kamsync may upsert into (refusals are logged)."""
        object_name = str(request.get("object") or "")
        operation = str(request.get("operation") or "") or "ingest"
        try:
            table = self.store.table(object_name).definition
        except KeyError:
            error = _entity_error(object_name)
            self.writer.log("bulk2", object_name, None, operation, (), error)
            raise ApiError(400, error.code, error.message) from None
        if table.name not in WRITABLE_OBJECTS:
            refusal = self.writer.refuse("bulk2", table.name, None, operation, ())
            raise ApiError(400, refusal.code, refusal.message)
        if operation != "upsert":
            raise ApiError(
                400, "INVALIDJOB", f"Unsupported operation for {table.name}: {operation}"
            )
        return table

    def ingest_job(self, job_id: str) -> IngestJob:
        """The ingest job ``job_id``; 404 when there is none."""
        job = self.ingest_jobs.get(job_id)
        if job is None:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        return job

    def upload(self, job_id: str, body: bytes) -> Response:
        """``PUT jobs/ingest/{id}/batches``: the job's one CSV upload."""
        job = self.ingest_job(job_id)
        if job.state != "Open":
            raise ApiError(400, "INVALIDJOBSTATE", f"Job is not open for uploads: {job.state}")
        if job.data is not None:
            raise ApiError(
                400,
                "INVALIDJOBSTATE",
                f"Found multiple contents for job: <{job.id}>, please 'Close' / 'Abort' / 'Delete' "
                "the current Job then create a new Job and make sure you only do 'PUT' once on a "
                "given Job.",
            )
        job.data = body
        return Response(201, b"", {"Content-Type": "text/plain"})

    def ingest_info(self, job_id: str) -> Response:
        """``GET jobs/ingest/{id}``."""
        job = self.ingest_job(job_id)
        if job.state in ("UploadComplete", "InProgress"):
            if job.polls_left > 0:
                job.polls_left -= 1
                job.state = "InProgress"
            else:
                job.state = "JobComplete" if job.error_message is None else "Failed"
        return json_response(job.info())

    def set_ingest_state(self, job_id: str, body: bytes) -> Response:
        """``PATCH jobs/ingest/{id}``: UploadComplete (process the data) or Aborted."""
        job = self.ingest_job(job_id)
        state = (parse_json(body) or {}).get("state")
        if state == "Aborted":
            if job.state not in ("Open", "UploadComplete", "InProgress"):
                raise ApiError(400, "INVALIDJOBSTATE", f"Job cannot be aborted: {job.state}")
            job.state = "Aborted"
            if job.data is not None and not job.successful and not job.failed:
                self._rows_unprocessed(job)
            return json_response(job.info())
        if state != "UploadComplete":
            raise ApiError(400, "INVALIDJOBSTATE", f"Invalid state: {state}")
        if job.state != "Open":
            raise ApiError(400, "INVALIDJOBSTATE", f"Job is not open: {job.state}")
        job.state = "UploadComplete"
        self._process(job)
        info = json_response(job.info())
        if job.polls_left == 0:
            job.state = "JobComplete" if job.error_message is None else "Failed"
        return info

    def delete_ingest(self, job_id: str) -> Response:
        """``DELETE jobs/ingest/{id}``."""
        self.ingest_job(job_id)
        del self.ingest_jobs[job_id]
        return Response(204, b"")

    def _parse(self, job: IngestJob) -> list[list[str]]:
        text = (job.data or b"").decode("utf-8-sig", "replace")
        reader = csv.reader(
            io.StringIO(text, newline=""),
            delimiter=DELIMITERS[job.delimiter_name],
        )
        return [row for row in reader if row]

    def _rows_unprocessed(self, job: IngestJob) -> None:
        rows = self._parse(job)
        if rows:
            job.columns = rows[0]
            job.unprocessed = rows[1:]

    def _process(self, job: IngestJob) -> None:
        rows = self._parse(job)
        if not rows:
            job.error_message = "InvalidBatch : Failed to parse CSV. No data found"
            return
        job.columns = header = rows[0]
        table = self.store.table(job.object).definition
        unknown = [name for name in header if table.field(name) is None]
        if unknown:
            job.error_message = f"InvalidBatch : Field name not found : {unknown[0]}"
            return
        if job.external_id_field not in header:
            job.error_message = f"InvalidBatch : Field name not found : {job.external_id_field}"
            return
        ext_at = header.index(job.external_id_field)
        planted = self.writer.plan.unprocessed
        todo: list[list[str]] = []
        for row in rows[1:]:
            if len(row) != len(header):
                job.failed.append((Outcome(None, False, _row_error(len(row), len(header))), row))
            elif row[ext_at].lower() in planted:
                job.unprocessed.append(row)
                self.writer.log("bulk2", job.object, None, "upsert", header, _UNPROCESSED)
            else:
                todo.append(row)
        ext_field = table.field(job.external_id_field)
        if ext_field is None:  # the object lost the field since the job was created
            job.error_message = f"InvalidBatch : Field name not found : {job.external_id_field}"
            return
        outcomes = self.writer.upsert(
            table,
            ext_field,
            [dict(zip(header, r, strict=True)) for r in todo],
            api="bulk2",
            from_csv=True,
        )
        for outcome, row in zip(outcomes, todo, strict=True):
            (job.successful if outcome.success else job.failed).append((outcome, row))

    def ingest_results(self, job_id: str, kind: str) -> Response:
        """``GET jobs/ingest/{id}/successfulResults|failedResults|unprocessedrecords``."""
        job = self.ingest_job(job_id)
        delimiter = DELIMITERS[job.delimiter_name]
        ending = LINE_ENDINGS[job.line_ending_name]
        columns = job.columns
        if kind == "successfulResults":
            header = ["sf__Id", "sf__Created", *columns]
            rows = [[o.id or "", "true" if o.created else "false", *r] for o, r in job.successful]
        elif kind == "failedResults":
            header = ["sf__Id", "sf__Error", *columns]
            rows = [[o.id or "", o.error.as_bulk() if o.error else "", *r] for o, r in job.failed]
        else:
            header, rows = list(columns), job.unprocessed
        lines = [delimiter.join(_quote(c) for c in line) for line in (header, *rows)]
        body = ending.join(lines) + ending if header else ""
        return Response(200, body.encode("utf-8"), {"Content-Type": CSV_TYPE})


_UNPROCESSED = RecordError("UNPROCESSED", "the job ended before this record was processed")


def _entity_error(name: str) -> RecordError:
    return RecordError("INVALIDENTITY", f"Entity '{name}' is not supported by the Bulk API.")


def _row_error(got: int, expected: int) -> RecordError:
    return RecordError("INVALID_FIELD", f"Row has {got} columns, the header has {expected}")


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'
