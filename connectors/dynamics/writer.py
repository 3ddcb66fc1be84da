"""Writing to a Dataverse environment: metadata, read back, UpsertMultiple and ``$batch``.

Every request goes through a :class:`~connectors.http.CrmSession` (the one retry policy,
``Retry-After`` honoured on 429, the source's CA, a fresh token after a 401) with a bearer token
from msal.

* :meth:`DataverseWriter.describe` reads ``EntityDefinitions`` (columns and alternate keys in one
  request, lookup targets in a second) for the safety check; :meth:`table_metadata` and
  :meth:`post_metadata` serve ``kamsync metadata dynamics --apply``.
* :meth:`DataverseWriter.upsert_multiple` sends up to 1,000 records in one
  ``POST <set>/Microsoft.Dynamics.CRM.UpsertMultiple``, addressed by alternate key.  Dataverse
  applies all of them or none: a refusal raises :class:`RequestRejectedError`, and the caller
  sends the chunk again with :meth:`upsert_batch`.
* :meth:`DataverseWriter.upsert_batch` sends one ``$batch`` with
  ``Prefer: odata.continue-on-error``, each upsert (``PATCH <set>(<key>='<value>')``) in a change
  set of its own with a ``Content-ID``, asking for the record back (``$select`` of the key
  column), so every record gets its own result: a success is matched by the external id the CRM
  returns, a failure by its ``Content-ID``.  A record no part of the answer mentions is
  unprocessed.

The writer needs only a :class:`DataverseAccess` (a session and a token): the Dynamics
connector's :class:`~connectors.dynamics.auth.DynamicsAuth` (see
:func:`writeback.dataverse.open_access`).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import orjson
import requests

from config.errors import (
    CrmError,
    MalformedResponseError,
    RateLimitedError,
    RequestRejectedError,
    ServerError,
    SessionExpiredError,
)
from connectors.http import CrmSession, parse_retry_after
from connectors.writes import Record, RowResult, TargetDescription, TargetField, unprocessed

NAMESPACE = "Microsoft.Dynamics.CRM"
READ_CHUNK = 25  # external ids per $filter when reading records back
FULL_READ_AT = 500  # above this many, read the whole table (5,000 a page) instead
PAGE_SIZE = 5000
_STATUS_RE = re.compile(r"^HTTP/\d\.\d\s+(\d{3})")
_BOUNDARY_RE = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_ATTRIBUTE_SELECT = (
    "LogicalName",
    "AttributeType",
    "IsCustomAttribute",
    "IsValidForCreate",
    "IsValidForUpdate",
)

Json = dict[str, Any]


class DataverseAccess(Protocol):
    """A logged-in connection to one environment: its session and a current token."""

    source: str
    session: CrmSession

    def token(self) -> str:
        """A valid bearer token."""
        ...


@dataclass(frozen=True)
class Lookup:
    """A lookup column a record binds: ``<column>@odata.bind: /<entity set>(<id>)``."""

    column: str
    entity_set: str


class DataverseWriter:
    """Upserts records of one table by an alternate key."""

    def __init__(self, access: DataverseAccess, url: str, api_version: str = "9.2") -> None:
        self.access = access
        self.source = access.source
        self.root = f"{url.rstrip('/')}/api/data/v{api_version}"

    @property
    def calls(self) -> int:
        """Requests sent through the session (retries included)."""
        return self.access.session.calls

    # ------------------------------------------------------------------ HTTP

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self.access.token()}",
            "Accept": "application/json",
            "OData-MaxVersion": "4.0",
            "OData-Version": "4.0",
        }
        headers.update(extra or {})
        return headers

    def _request(
        self,
        method: str,
        path: str,
        what: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = (200, 201, 204),
    ) -> requests.Response:
        url = path if path.startswith("https://") else f"{self.root}/{path}"
        extra = {"Content-Type": "application/json; charset=utf-8"} if body is not None else {}
        response = self.access.session.request(
            method, url, data=body, headers=self._headers({**extra, **(headers or {})})
        )
        if response.status_code not in ok:
            raise translate(response, what, self.source)
        return response

    def _json(self, response: requests.Response, what: str) -> Json:
        try:
            body = json.loads(response.content)
        except ValueError:
            raise MalformedResponseError(
                f"{what}: the answer is not JSON", source=self.source
            ) from None
        if not isinstance(body, dict):
            raise MalformedResponseError(f"{what}: the answer is not an object", source=self.source)
        return body

    # ------------------------------------------------------------------ metadata

    def table_metadata(self, logical_name: str) -> Json | None:
        """EntityMetadata with ``Attributes`` and ``Keys``; None when the table does not exist."""
        path = (
            f"{_entity_path(logical_name)}?$select=LogicalName,SchemaName,EntitySetName,"
            f"IsCustomEntity&$expand=Attributes($select={','.join(_ATTRIBUTE_SELECT)}),"
            "Keys($select=SchemaName,KeyAttributes)"
        )
        what = f"metadata of {logical_name}"
        try:
            return self._json(self._request("GET", path, what), what)
        except RequestRejectedError as exc:
            if exc.status == 404:
                return None
            raise

    def describe(self, logical_name: str) -> TargetDescription | None:
        """The table as its metadata describes it (two requests)."""
        entity = self.table_metadata(logical_name)
        if entity is None:
            return None
        what = f"lookups of {logical_name}"
        path = f"{_entity_path(logical_name)}/Attributes/{NAMESPACE}.LookupAttributeMetadata?$select=LogicalName,Targets"
        lookups = self._json(self._request("GET", path, what), what).get("value") or []
        targets = {
            str(item.get("LogicalName")): tuple(str(t) for t in item.get("Targets") or ())
            for item in lookups
            if isinstance(item, dict)
        }
        return _description(entity, targets)

    def post_metadata(self, path: str, body: Mapping[str, Any]) -> None:
        """POST a metadata definition (a table, column, key or relationship)."""
        self._request(
            "POST",
            path,
            f"create {path.split('(', maxsplit=1)[0]}",
            body=json.dumps(body).encode("utf-8"),
        )

    # ------------------------------------------------------------------ read back

    def read(
        self, entity_set: str, key: str, columns: Sequence[str], external_ids: Sequence[str]
    ) -> dict[str, Json]:
        """The records with these key values, by key value (lookups as ``_<name>_value``)."""
        select = ",".join(dict.fromkeys(columns))
        found: dict[str, Json] = {}
        if len(external_ids) > FULL_READ_AT:  # cheaper to page through the whole table
            wanted = set(external_ids)
            for record in self._pages(f"{entity_set}?$select={select}", f"read {entity_set}"):
                value = record.get(key)
                if isinstance(value, str) and value in wanted:
                    found[value] = record
            return found
        for start in range(0, len(external_ids), READ_CHUNK):
            chunk = external_ids[start : start + READ_CHUNK]
            condition = " or ".join(f"{key} eq {_literal(e)}" for e in chunk)
            path = f"{entity_set}?$select={select}&$filter={quote(condition, safe='')}"
            for record in self._pages(path, f"read {entity_set}"):
                value = record.get(key)
                if isinstance(value, str):
                    found[value] = record
        return found

    def _pages(self, path: str, what: str) -> Iterator[Json]:
        prefer = {"Prefer": f"odata.maxpagesize={PAGE_SIZE}"}
        url: str | None = path
        while url is not None:
            body = self._json(self._request("GET", url, what, headers=prefer), what)
            values = body.get("value")
            if not isinstance(values, list):
                raise MalformedResponseError(f"{what}: no value list", source=self.source)
            yield from (v for v in values if isinstance(v, dict))
            link = body.get("@odata.nextLink")
            url = str(link) if link else None
            if url is not None and not url.startswith(self.root + "/"):
                raise MalformedResponseError(
                    f"{what}: a next link outside {self.root}", source=self.source
                )

    # ------------------------------------------------------------------ UpsertMultiple

    def upsert_multiple(
        self,
        table: str,
        entity_set: str,
        key: str,
        records: Sequence[Record],
        lookups: Sequence[Lookup] = (),
    ) -> list[RowResult]:
        """Upsert every record or none; :class:`RequestRejectedError` when refused as a whole."""
        targets = []
        for record in records:
            body = _body(record, lookups)
            body["@odata.type"] = f"{NAMESPACE}.{table}"
            body["@odata.id"] = f"{entity_set}({key}={_literal(str(record[key]))})"
            targets.append(body)
        payload = orjson.dumps({"Targets": targets})
        self._request(
            "POST",
            f"{entity_set}/{NAMESPACE}.UpsertMultiple",
            f"UpsertMultiple {table}",
            body=payload,
        )
        return [RowResult(str(r[key]), "success") for r in records]

    # ------------------------------------------------------------------ $batch

    def upsert_batch(
        self,
        table: str,
        entity_set: str,
        key: str,
        records: Sequence[Record],
        lookups: Sequence[Lookup] = (),
    ) -> list[RowResult]:
        """Upsert each record in its own change set of one ``$batch`` (continue on error)."""
        ext_ids = [str(r[key]) for r in records]
        boundary = f"batch_{uuid.uuid4()}"
        parts = [
            self._change_set(entity_set, key, str(index), record, lookups)
            for index, record in enumerate(records, start=1)
        ]
        body = "".join(f"--{boundary}\r\n{part}" for part in parts) + f"--{boundary}--\r\n"
        response = self._request(
            "POST",
            "$batch",
            f"$batch {entity_set}",
            body=body.encode("utf-8"),
            headers={
                "Content-Type": f"multipart/mixed; boundary={boundary}",
                "Prefer": "odata.continue-on-error",
            },
        )
        answers = parse_batch_response(response.headers.get("Content-Type", ""), response.content)
        return batch_results(ext_ids, key, answers, primary_id=f"{table}id")

    def _change_set(
        self, entity_set: str, key: str, content_id: str, record: Record, lookups: Sequence[Lookup]
    ) -> str:
        boundary = f"changeset_{uuid.uuid4()}"
        address = f"{entity_set}({key}={quote(_literal(str(record[key])), safe=':@-._~')})"
        payload = json.dumps(_body(record, lookups), ensure_ascii=False)
        request = (
            f"--{boundary}\r\n"
            "Content-Type: application/http\r\n"
            "Content-Transfer-Encoding: binary\r\n"
            f"Content-ID: {content_id}\r\n\r\n"
            f"PATCH {self.root}/{address}?$select={key} HTTP/1.1\r\n"
            "Content-Type: application/json; charset=utf-8\r\n"
            "Prefer: return=representation\r\n\r\n"
            f"{payload}\r\n"
            f"--{boundary}--\r\n"
        )
        return f"Content-Type: multipart/mixed; boundary={boundary}\r\n\r\n{request}"


# --------------------------------------------------------------------------- helpers


def _entity_path(logical_name: str) -> str:
    return f"EntityDefinitions(LogicalName='{quote(logical_name, safe='')}')"


def _literal(value: str) -> str:
    """An OData string literal."""
    return "'" + value.replace("'", "''") + "'"


def _body(record: Record, lookups: Sequence[Lookup]) -> Json:
    bound = {lookup.column: lookup for lookup in lookups}
    body: Json = {}
    for name, value in record.items():
        lookup = bound.get(name)
        if lookup is None:
            body[name] = value
        else:
            body[f"{name}@odata.bind"] = None if value is None else f"/{lookup.entity_set}({value})"
    return body


def _description(
    entity: Mapping[str, Any], targets: Mapping[str, tuple[str, ...]]
) -> TargetDescription:
    fields: dict[str, TargetField] = {}
    for item in entity.get("Attributes") or []:
        if not isinstance(item, dict) or not item.get("LogicalName"):
            continue
        name = str(item["LogicalName"])
        fields[name] = TargetField(
            name=name,
            type=str(item.get("AttributeType") or ""),
            custom=item.get("IsCustomAttribute") is True,
            createable=item.get("IsValidForCreate") is True,
            updateable=item.get("IsValidForUpdate") is True,
            reference_to=targets.get(name, ()),
        )
    keys = tuple(
        tuple(str(a).lower() for a in key.get("KeyAttributes") or ())
        for key in entity.get("Keys") or []
        if isinstance(key, dict)
    )
    writable = entity.get("IsCustomEntity") is True
    return TargetDescription(
        name=str(entity.get("LogicalName") or ""),
        custom=writable,
        createable=writable,
        updateable=writable,
        fields=fields,
        entity_set=str(entity.get("EntitySetName") or "") or None,
        alternate_keys=keys,
    )


def translate(response: requests.Response, what: str, source: str) -> CrmError:
    """The kamsync error for a final non-success answer of the Web API."""
    code, message = error_detail(response.content, response.status_code)
    status = response.status_code
    text = f"{what}: HTTP {status}{' ' + code if code else ''}: {message}"
    if status == 401:
        return SessionExpiredError(text, source=source, status=status, code=code)
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return RateLimitedError(
            text, retry_after=retry_after, source=source, status=status, code=code
        )
    if status >= 500:
        return ServerError(text, source=source, status=status, code=code)
    return RequestRejectedError(text, source=source, status=status, code=code)


def error_detail(content: bytes, status: int) -> tuple[str | None, str]:
    """``{"error": {"code", "message"}}``, or the start of whatever the body is."""
    try:
        body = json.loads(content)
    except ValueError:
        text = content[:200].decode("utf-8", "replace").strip()
        return None, text or f"HTTP {status}"
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = error.get("code")
        message = error.get("message")
        return (str(code) if code else None), (str(message)[:1000] if message else f"HTTP {status}")
    return None, f"HTTP {status}"


# --------------------------------------------------------------------------- $batch answers


@dataclass(frozen=True)
class BatchAnswer:
    """One operation's response inside a ``$batch`` answer."""

    content_id: str | None
    status: int
    body: bytes


def parse_batch_response(content_type: str, body: bytes) -> list[BatchAnswer]:
    """Every operation response of a ``$batch`` answer, change sets opened."""
    boundary = _boundary(content_type)
    if "multipart/mixed" not in content_type.lower() or boundary is None:
        raise MalformedResponseError(
            f"$batch: the answer is {content_type or 'untyped'}, not multipart"
        )
    answers: list[BatchAnswer] = []
    for headers, payload in _parts(body, boundary):
        part_type = headers.get("content-type", "")
        inner = _boundary(part_type)
        if part_type.lower().startswith("multipart/mixed") and inner is not None:
            for inner_headers, inner_payload in _parts(payload, inner):
                answer = _http_answer(inner_headers.get("content-id"), inner_payload)
                if answer is not None:
                    answers.append(answer)
            continue
        answer = _http_answer(headers.get("content-id"), payload)
        if answer is not None:
            answers.append(answer)
    return answers


def _boundary(content_type: str) -> str | None:
    match = _BOUNDARY_RE.search(content_type)
    return match.group(1) if match else None


def _parts(body: bytes, boundary: str) -> Iterator[tuple[dict[str, str], bytes]]:
    """The headers (lower-case names) and body of each part of a multipart body."""
    delimiter = b"--" + boundary.encode()
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            return
        part = chunk.replace(b"\r\n", b"\n").removeprefix(b"\n")
        head, _, rest = part.partition(b"\n\n")
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\n"):
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        yield headers, rest


def _http_answer(content_id: str | None, payload: bytes) -> BatchAnswer | None:
    head, _, rest = payload.partition(b"\n\n")
    lines = head.decode("utf-8", "replace").split("\n")
    match = _STATUS_RE.match(lines[0].strip()) if lines else None
    if match is None:
        return None
    return BatchAnswer(content_id.strip() if content_id else None, int(match[1]), rest.strip())


def batch_results(
    ext_ids: Sequence[str], key: str, answers: Sequence[BatchAnswer], primary_id: str = ""
) -> list[RowResult]:
    """One result per external id sent (Content-ID ``n`` is the n-th record)."""
    by_ext: dict[str, RowResult] = {}
    for answer in answers:
        ext = _answer_ext_id(answer, key, ext_ids)
        if ext is None:
            continue
        if answer.status < 300:
            record = _json_or_empty(answer.body)
            found = record.get(primary_id)
            record_id = str(found) if isinstance(found, str) and found else None
            by_ext[ext] = RowResult(
                ext, "success", created=answer.status == 201, record_id=record_id
            )
        else:
            code, message = error_detail(answer.body, answer.status)
            by_ext[ext] = RowResult(
                ext, "failed", error_code=code or str(answer.status), error_message=message
            )
    missing = [e for e in ext_ids if e not in by_ext]
    results = dict(by_ext)
    for result in unprocessed(missing, "the $batch answer does not mention this record"):
        results[result.external_id] = result
    return [results[e] for e in ext_ids]


def _answer_ext_id(answer: BatchAnswer, key: str, ext_ids: Sequence[str]) -> str | None:
    record = _json_or_empty(answer.body) if answer.status < 300 else {}
    returned = record.get(key)
    by_id = None
    if answer.content_id and answer.content_id.isdigit():
        index = int(answer.content_id) - 1
        by_id = ext_ids[index] if 0 <= index < len(ext_ids) else None
    if isinstance(returned, str):
        # the CRM's own word on which record this is wins; a disagreeing Content-ID is ignored
        return returned if returned in ext_ids else None
    return by_id


def _json_or_empty(body: bytes) -> Json:
    try:
        value = json.loads(body) if body else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
