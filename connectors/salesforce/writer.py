"""Writing to a Salesforce org: describe, read back, Collections upsert and Bulk API 2.0 ingest.

Everything goes through :class:`~connectors.salesforce.connector.SalesforceConnector`: its
logged-in simple-salesforce client, its HTTP session (retries honouring ``Retry-After``,
re-authentication on an expired session), its API budget and its error translation.

* :meth:`SalesforceWriter.describe` reads the object's describe for the safety check.
* :meth:`SalesforceWriter.upsert_collections` sends at most 200 records in one
  ``PATCH composite/sobjects/{object}/{externalIdField}`` with ``allOrNone`` false.  Salesforce
  answers one result per record *in request order* and without the external id, so results are
  paired with records by that documented order only after checking there is exactly one per
  record, and an update whose id is not the id already known for its external id is not trusted
  (the row is reported unprocessed and sent again next time).
* :meth:`SalesforceWriter.upsert_bulk` runs one Bulk API 2.0 ingest upsert job: create, one CSV
  upload, ``UploadComplete``, poll, then the successful, failed and unprocessed results, which are
  matched to records by the external-id column.  A record no result mentions is unprocessed.
  Null values are sent as ``#N/A`` (an empty cell would leave the field as it was).
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from functools import partial
from typing import Any

from simple_salesforce.bulk2 import Operation, _Bulk2Client

from config.errors import CrmError, MalformedResponseError, RequestRejectedError, ServerError
from connectors.salesforce import soql
from connectors.salesforce.connector import SalesforceConnector
from connectors.writes import Record, RowResult, TargetDescription, TargetField, unprocessed

log = logging.getLogger(__name__)

COLLECTION_LIMIT = 200
READ_CHUNK = 200  # external ids per SOQL IN list when reading records back
FULL_READ_AT = 4000  # above this many, read the whole object (2,000 a page) instead
BULK_POLL_MAX_SECONDS = 10.0
NULL_CELL = "#N/A"

Json = dict[str, Any]
BulkClient = Callable[[], _Bulk2Client]


class SalesforceWriter:
    """Upserts records of one custom object by its external id."""

    def __init__(self, connector: SalesforceConnector, *, poll_timeout: float = 3600.0) -> None:
        self.connector = connector
        self.source = connector.source
        self.poll_timeout = poll_timeout

    @property
    def calls(self) -> int:
        """API requests made so far through the connector's session (retries included)."""
        return self.connector.session.calls

    # ------------------------------------------------------------------ describe

    def describe(self, obj: str) -> TargetDescription | None:
        """The object's describe; None when the org has no such object."""
        path = f"sobjects/{soql.identifier(obj)}/describe"
        try:
            body = self.connector._call(f"describe {obj}", lambda: self.connector.sf.restful(path))
        except RequestRejectedError as exc:
            if exc.status == 404:
                return None
            raise
        if not isinstance(body, dict) or not isinstance(body.get("fields"), list):
            raise MalformedResponseError(f"describe {obj}: no field list", source=self.source)
        fields = {
            str(f["name"]): _target_field(f)
            for f in body["fields"]
            if isinstance(f, dict) and f.get("name")
        }
        return TargetDescription(
            name=str(body.get("name") or obj),
            custom=body.get("custom") is True,
            createable=body.get("createable") is True,
            updateable=body.get("updateable") is True,
            fields=fields,
        )

    # ------------------------------------------------------------------ read back

    def read(
        self, obj: str, ext_field: str, fields: Sequence[str], external_ids: Sequence[str]
    ) -> dict[str, Json]:
        """The current values of ``fields`` of the records with these external ids, by id."""
        names = ", ".join(soql.identifier(f) for f in dict.fromkeys(["Id", ext_field, *fields]))
        found: dict[str, Json] = {}
        if len(external_ids) > FULL_READ_AT:  # cheaper to page through the whole object
            wanted = set(external_ids)
            for record in self._query(obj, f"SELECT {names} FROM {soql.identifier(obj)}"):
                key = record.get(ext_field)
                if isinstance(key, str) and key in wanted:
                    found[key] = {k: v for k, v in record.items() if k != "attributes"}
            return found
        for start in range(0, len(external_ids), READ_CHUNK):
            chunk = external_ids[start : start + READ_CHUNK]
            literals = ", ".join(soql.string_literal(e) for e in chunk)
            statement = (
                f"SELECT {names} FROM {soql.identifier(obj)} "
                f"WHERE {soql.identifier(ext_field)} IN ({literals})"
            )
            for record in self._query(obj, statement):
                key = record.get(ext_field)
                if isinstance(key, str):
                    found[key] = {k: v for k, v in record.items() if k != "attributes"}
        return found

    def _query(self, obj: str, statement: str) -> Iterator[Json]:
        sf = self.connector.sf
        body = self.connector._call(f"query {obj}", lambda: sf.query(statement))
        while True:
            if not isinstance(body, dict) or not isinstance(body.get("records"), list):
                raise MalformedResponseError(f"query {obj}: no records list", source=self.source)
            yield from (r for r in body["records"] if isinstance(r, dict))
            next_url = body.get("nextRecordsUrl")
            if not next_url:
                return
            more = partial(sf.query_more, str(next_url), identifier_is_url=True)
            body = self.connector._call(f"query {obj}", more)

    # ------------------------------------------------------------------ Collections

    def upsert_collections(
        self,
        obj: str,
        ext_field: str,
        records: Sequence[Record],
        known_ids: Mapping[str, str] | None = None,
    ) -> list[RowResult]:
        """Upsert up to 200 records in one sObject Collections call (allOrNone false)."""
        if len(records) > COLLECTION_LIMIT:
            raise ValueError(f"at most {COLLECTION_LIMIT} records per Collections call")
        ext_ids = [str(r[ext_field]) for r in records]
        body = {
            "allOrNone": False,
            "records": [{"attributes": {"type": obj}, **r} for r in records],
        }
        path = f"composite/sobjects/{soql.identifier(obj)}/{soql.identifier(ext_field)}"
        answer = self.connector._call(
            f"upsert {obj}",
            lambda: self.connector.sf.restful(
                path, method="PATCH", data=json.dumps(body, ensure_ascii=False)
            ),
        )
        return collection_results(ext_ids, answer, known_ids or {})

    # ------------------------------------------------------------------ Bulk API 2.0

    def upsert_bulk(
        self, obj: str, ext_field: str, columns: Sequence[str], records: Sequence[Record]
    ) -> list[RowResult]:
        """Upsert ``records`` in one Bulk API 2.0 ingest job; results matched by external id."""
        ext_ids = [str(r[ext_field]) for r in records]
        if not records:
            return []
        client = partial(self.connector._bulk_client, obj)  # a fresh token on each call
        job = self.connector._call(
            f"bulk upsert {obj}",
            lambda: client().create_job(Operation.upsert, external_id_field=ext_field),
        )
        job_id = str(job.get("id") or "") if isinstance(job, dict) else ""
        if not job_id:
            raise MalformedResponseError(f"bulk upsert {obj}: no job id", source=self.source)
        finished = False
        try:
            data = to_csv(columns, records)
            self._upload(obj, job_id, data, client)
            self._close(obj, job_id, client)
            info = self._wait(obj, job_id, client)
            finished = True
            return self._bulk_results(obj, job_id, ext_field, ext_ids, info, client)
        finally:
            if not finished:
                self._abort(obj, job_id, client)

    def _upload(self, obj: str, job_id: str, data: str, client: BulkClient) -> None:
        try:
            self.connector._call(
                f"bulk upsert {obj}", lambda: client().upload_job_data(job_id, data)
            )
        except RequestRejectedError as exc:
            # the job takes one upload; "multiple contents" means the CRM had our upload already
            # (its answer was lost and the session sent it again)
            if exc.code != "INVALIDJOBSTATE" or "multiple contents" not in str(exc).lower():
                raise
            log.info("%s: bulk job %s already had its data", self.source, job_id)

    def _close(self, obj: str, job_id: str, client: BulkClient) -> None:
        try:
            self.connector._call(f"bulk upsert {obj}", lambda: client().close_job(job_id))
        except RequestRejectedError as exc:
            # closed already: an earlier attempt reached the CRM and its answer was lost
            if exc.code != "INVALIDJOBSTATE":
                raise
            info = self.connector._call(
                f"bulk upsert {obj}", lambda: client().get_job(job_id, False)
            )
            if not isinstance(info, dict) or info.get("state") in (None, "Open", "Aborted"):
                raise
            log.info("%s: bulk job %s was closed already", self.source, job_id)

    def _wait(self, obj: str, job_id: str, client: BulkClient) -> Json:
        waited, delay = 0.0, 0.5
        while True:
            info = self.connector._call(
                f"bulk upsert {obj}", lambda: client().get_job(job_id, False)
            )
            state = info.get("state") if isinstance(info, dict) else None
            if state in ("JobComplete", "Failed", "Aborted"):
                return dict(info)
            if waited >= self.poll_timeout:
                raise ServerError(
                    f"bulk upsert {obj}: job {job_id} not complete after {waited:.0f}s",
                    source=self.source,
                )
            self.connector.sleep(delay)
            waited += delay
            delay = min(delay * 2, BULK_POLL_MAX_SECONDS)

    def _bulk_results(
        self,
        obj: str,
        job_id: str,
        ext_field: str,
        ext_ids: Sequence[str],
        info: Json,
        client: BulkClient,
    ) -> list[RowResult]:
        texts: dict[str, str] = {}
        for kind in ("successfulResults", "failedResults", "unprocessedrecords"):
            fetch = partial(_ingest_results, client, job_id, kind)
            texts[kind] = str(self.connector._call(f"bulk upsert {obj}", fetch))
        job_error = None
        if info.get("state") != "JobComplete":
            job_error = f"job {info.get('state')}: {info.get('errorMessage') or 'no reason given'}"
        return bulk_results(ext_ids, ext_field, texts, job_error)

    def _abort(self, obj: str, job_id: str, client: BulkClient) -> None:
        try:
            self.connector._call(f"bulk upsert {obj}", lambda: client().abort_job(job_id, False))
        except CrmError as exc:  # best effort: the job may already be gone
            log.info("%s: could not abort bulk job %s: %s", self.source, job_id, exc)


# --------------------------------------------------------------------------- answers


def _ingest_results(client: BulkClient, job_id: str, kind: str) -> str:
    return str(client().get_ingest_results(job_id, kind))


def _target_field(item: Mapping[str, Any]) -> TargetField:
    length = item.get("length")
    return TargetField(
        name=str(item["name"]),
        type=str(item.get("type") or ""),
        custom=item.get("custom") is True,
        createable=item.get("createable") is True,
        updateable=item.get("updateable") is True,
        external_id=item.get("externalId") is True,
        reference_to=tuple(str(r) for r in item.get("referenceTo") or ()),
        length=int(length) if isinstance(length, int | str) and str(length).isdigit() else None,
    )


def collection_results(
    ext_ids: Sequence[str], answer: Any, known_ids: Mapping[str, str]
) -> list[RowResult]:
    """Pair a Collections answer with the external ids sent, one result per record in order."""
    if not isinstance(answer, list) or len(answer) != len(ext_ids):
        count = len(answer) if isinstance(answer, list) else "no"
        return unprocessed(
            ext_ids,
            f"the CRM answered {count} results for {len(ext_ids)} records; "
            "none is trusted, all are sent again next run",
            "UNMATCHED_RESULTS",
        )
    return [
        _collection_result(e, r, known_ids.get(e)) for e, r in zip(ext_ids, answer, strict=True)
    ]


def _collection_result(ext_id: str, result: Any, known_id: str | None) -> RowResult:
    if not isinstance(result, dict):
        return RowResult(ext_id, "unprocessed", error_message="the CRM's result is not an object")
    record_id = result.get("id")
    if result.get("success") is True:
        created = result.get("created") is True
        if not created and known_id and record_id and str(record_id)[:15] != known_id[:15]:
            return RowResult(
                ext_id,
                "unprocessed",
                error_code="UNMATCHED_RESULTS",
                error_message=f"the CRM reported updating {record_id}, not {known_id}",
            )
        return RowResult(ext_id, "success", created=created, record_id=_opt(record_id))
    code, message = _first_error(result.get("errors"))
    return RowResult(ext_id, "failed", error_code=code, error_message=message)


def _first_error(errors: Any) -> tuple[str | None, str]:
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        fields = first.get("fields") or []
        message = str(first.get("message") or "no message")
        if fields:
            message += f" (fields: {', '.join(str(f) for f in fields)})"
        code = first.get("statusCode") or first.get("errorCode")
        return (str(code) if code else None), message
    return None, "the CRM reported a failure without saying why"


def _opt(value: Any) -> str | None:
    return str(value) if value else None


def bulk_results(
    ext_ids: Sequence[str],
    ext_field: str,
    texts: Mapping[str, str],
    job_error: str | None = None,
) -> list[RowResult]:
    """One result per external id sent, from the three result CSVs (matched by external id)."""
    by_ext: dict[str, RowResult] = {}
    for row in _csv_rows(texts.get("successfulResults", "")):
        ext = row.get(ext_field)
        if ext:
            created = (row.get("sf__Created") or "").lower() == "true"
            by_ext[ext] = RowResult(
                ext, "success", created=created, record_id=row.get("sf__Id") or None
            )
    for row in _csv_rows(texts.get("failedResults", "")):
        ext = row.get(ext_field)
        if ext:
            code, message = parse_bulk_error(row.get("sf__Error") or "")
            by_ext[ext] = RowResult(ext, "failed", error_code=code, error_message=message)
    for row in _csv_rows(texts.get("unprocessedrecords", "")):
        ext = row.get(ext_field)
        if ext and ext not in by_ext:
            by_ext[ext] = RowResult(
                ext, "unprocessed", error_message=job_error or "the job did not process it"
            )
    missing = job_error or "no result of the job mentions it"
    return [by_ext.get(e) or RowResult(e, "unprocessed", error_message=missing) for e in ext_ids]


def parse_bulk_error(text: str) -> tuple[str | None, str]:
    """``CODE:message:fields --`` (Bulk API ``sf__Error``) as code and message."""
    cleaned = text.strip().removesuffix("--").strip()
    code, sep, rest = cleaned.partition(":")
    if not sep or not code.replace("_", "").isalnum() or not code.isupper():
        return None, cleaned or "the CRM reported a failure without saying why"
    message, _, fields = rest.rpartition(":")
    if not message:  # no fields part
        message, fields = rest, ""
    message = message.strip() or "no message"
    if fields.strip():
        message += f" (fields: {fields.strip()})"
    return code, message


def _csv_rows(text: str) -> Iterator[dict[str, str]]:
    if not text.strip():
        return
    reader = csv.DictReader(io.StringIO(text, newline=""))
    for row in reader:
        yield {k: v for k, v in row.items() if k is not None}


def to_csv(columns: Sequence[str], records: Sequence[Record]) -> str:
    """Bulk API CSV: a header, then one row per record; null as ``#N/A``, numbers in full."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow([_cell(record.get(c)) for c in columns])
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return NULL_CELL
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    return str(value)
