"""``POST $batch``: multipart/mixed requests, change sets, ``Prefer: odata.continue-on-error``.

A batch holds up to 1,000 operations.  Each top-level part is one request (``application/http``)
or a change set (a nested ``multipart/mixed``) whose requests succeed or fail together.  The
response mirrors the request: one part per request, change-set responses inside a nested
multipart with each operation's ``Content-ID``; a failed change set answers with its one error.
Without ``odata.continue-on-error`` processing stops at the first failure and the batch's own
status is that failure's; with it the batch answers 200 and every operation has its response.
``$<Content-ID>`` references to entities created earlier in a change set are resolved.
"""

from __future__ import annotations

import http
import json
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from connectors.emulator.dataverse_errors import INVALID_ARGUMENT, DataverseError, bad_query
from connectors.emulator.server import Headers, Request, Response

API_PATH = "/api/data/v9.2"
_BOUNDARY_RE = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_LINE_RE = re.compile(rb"\r?\n")

Dispatch = Callable[[Request], Response]


@dataclass
class Part:
    """One part of a multipart body: its headers and raw body."""

    headers: dict[str, str]
    body: bytes


@dataclass
class Operation:
    """One request inside a batch."""

    request: Request
    content_id: str | None


@dataclass
class ChangeSet:
    """Requests that succeed or fail together."""

    operations: list[Operation] = field(default_factory=list)


def boundary_of(content_type: str | None) -> str | None:
    """The ``boundary`` parameter of a multipart Content-Type."""
    match = _BOUNDARY_RE.search(content_type or "")
    return match.group(1) if match else None


def _split_head(data: bytes) -> tuple[list[bytes], bytes]:
    """Header lines and the rest, split at the first empty line."""
    lines: list[bytes] = []
    position = 0
    while position <= len(data):
        match = _LINE_RE.search(data, position)
        end = match.start() if match else len(data)
        line = data[position:end]
        position = match.end() if match else len(data) + 1
        if not line:
            return lines, data[position:] if position <= len(data) else b""
        lines.append(line)
    return lines, b""


def _headers(lines: list[bytes]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.decode("utf-8", "replace").partition(":")
        headers[name.strip().lower()] = value.strip()
    return headers


def parse_multipart(body: bytes, boundary: str) -> list[Part]:
    """Split a multipart body into parts."""
    delimiter = b"--" + boundary.encode()
    chunks = body.split(delimiter)
    parts = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        trimmed = chunk.removeprefix(b"\r\n").removeprefix(b"\n")
        trimmed = trimmed.removesuffix(b"\n").removesuffix(b"\r")
        lines, rest = _split_head(trimmed)
        parts.append(Part(_headers(lines), rest))
    return parts


def _inner_request(part: Part) -> Request:
    lines, body = _split_head(part.body.lstrip(b"\r\n"))
    if not lines:
        raise bad_query("A batch part does not contain a request line.")
    request_line = lines[0].decode("utf-8", "replace").split()
    if len(request_line) < 2:
        raise bad_query("A batch part does not contain a valid request line.")
    method, target = request_line[0].upper(), request_line[1]
    headers = _headers(lines[1:])
    return Request(
        method=method,
        path=target,
        query={},
        headers=Headers(headers.items()),
        body=body.rstrip(b"\r\n"),
        raw_target=target,
    )


def parse_batch(request: Request) -> list[Operation | ChangeSet]:
    """The operations and change sets of a ``$batch`` request."""
    boundary = boundary_of(request.headers.get("content-type"))
    if boundary is None:
        raise bad_query(
            "The batch request must have a Content-Type of multipart/mixed with a boundary."
        )
    items: list[Operation | ChangeSet] = []
    for part in parse_multipart(request.body, boundary):
        inner_boundary = boundary_of(part.headers.get("content-type"))
        if (
            part.headers.get("content-type", "").lower().startswith("multipart/mixed")
            and inner_boundary
        ):
            change_set = ChangeSet()
            for inner in parse_multipart(part.body, inner_boundary):
                change_set.operations.append(
                    Operation(_inner_request(inner), inner.headers.get("content-id"))
                )
            items.append(change_set)
        else:
            items.append(Operation(_inner_request(part), part.headers.get("content-id")))
    return items


def _count(items: list[Operation | ChangeSet]) -> int:
    return sum(len(item.operations) if isinstance(item, ChangeSet) else 1 for item in items)


# ---------------------------------------------------------------------------- responses


def _status_line(status: int) -> str:
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    return f"HTTP/1.1 {status} {phrase}"


def render_part(response: Response, content_id: str | None) -> bytes:
    """One ``application/http`` response part."""
    head = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id is not None:
        head.append(f"Content-ID: {content_id}")
    inner = [_status_line(response.status)]
    headers = {"OData-Version": "4.0", **response.headers}
    if response.status == 204 or not response.body:
        headers.pop("Content-Type", None)
    inner += [f"{name}: {value}" for name, value in headers.items()]
    text = "\r\n".join(head) + "\r\n\r\n" + "\r\n".join(inner) + "\r\n\r\n"
    return text.encode() + response.body + b"\r\n"


@dataclass
class _Result:
    parts: list[bytes]
    failure: Response | None


class BatchRunner:
    """Runs the operations of a batch through the Web API router."""

    def __init__(
        self,
        dispatch: Dispatch,
        transaction: Callable[[], AbstractContextManager[Any]],
        limit: int,
    ) -> None:
        self.dispatch = dispatch
        self.transaction = transaction
        self.limit = limit

    def run(self, request: Request, continue_on_error: bool) -> Response:
        """The batch response."""
        items = parse_batch(request)
        if _count(items) > self.limit:
            raise DataverseError(
                400,
                INVALID_ARGUMENT,
                f"The number of requests in the batch ({_count(items)}) exceeds the limit of {self.limit}.",
            )
        boundary = f"batchresponse_{uuid.uuid4()}"
        body, status = b"", 200
        for item in items:
            result = self._change_set(item) if isinstance(item, ChangeSet) else self._single(item)
            for part in result.parts:
                body += f"--{boundary}\r\n".encode() + part
            if result.failure is not None and not continue_on_error:
                status = result.failure.status
                break
        body += f"--{boundary}--\r\n".encode()
        headers = {"Content-Type": f"multipart/mixed; boundary={boundary}", "OData-Version": "4.0"}
        if continue_on_error:
            headers["Preference-Applied"] = "odata.continue-on-error"
        return Response(status, body, headers)

    def _execute(self, operation: Operation, references: dict[str, str]) -> Response:
        request = self._resolve(operation.request, references)
        try:
            return self.dispatch(request)
        except DataverseError as error:
            return error.response()

    def _single(self, operation: Operation) -> _Result:
        response = self._execute(operation, {})
        part = render_part(response, operation.content_id)
        return _Result([part], response if response.status >= 400 else None)

    def _change_set(self, change_set: ChangeSet) -> _Result:
        references: dict[str, str] = {}
        responses: list[tuple[Response, str | None]] = []
        failure: tuple[Response, str | None] | None = None
        try:
            with self.transaction():
                for operation in change_set.operations:
                    if operation.request.method == "GET":
                        response = DataverseError(
                            400,
                            INVALID_ARGUMENT,
                            "GET requests are not allowed inside a change set.",
                        ).response()
                    else:
                        response = self._execute(operation, references)
                    if response.status >= 400:
                        failure = (response, operation.content_id)
                        raise _ChangeSetFailed
                    responses.append((response, operation.content_id))
                    entity = response.headers.get("OData-EntityId")
                    if operation.content_id and entity:
                        references[operation.content_id] = entity
        except _ChangeSetFailed:
            assert failure is not None
            return _Result([render_part(*failure)], failure[0])
        boundary = f"changesetresponse_{uuid.uuid4()}"
        nested = b"".join(
            f"--{boundary}\r\n".encode() + render_part(r, cid) for r, cid in responses
        )
        nested += f"--{boundary}--\r\n".encode()
        head = f"Content-Type: multipart/mixed; boundary={boundary}\r\n\r\n".encode()
        return _Result([head + nested], None)

    def _resolve(self, request: Request, references: dict[str, str]) -> Request:
        target = request.raw_target
        if target.startswith("$"):
            name, _, rest = target[1:].partition("/")
            if name not in references:
                raise DataverseError(
                    400,
                    INVALID_ARGUMENT,
                    f"Content-ID Reference: '${name}' does not exist in the batch context.",
                )
            target = references[name] + (f"/{rest}" if rest else "")
        parts = urlsplit(target)
        path = parts.path
        if not path.startswith("/"):
            path = f"{API_PATH}/{path}"
        body = request.body
        if references and body:
            body = self._resolve_body(body, references)
        return Request(
            method=request.method,
            path=path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=request.headers,
            body=body,
            raw_target=path + (f"?{parts.query}" if parts.query else ""),
        )

    @staticmethod
    def _resolve_body(body: bytes, references: dict[str, str]) -> bytes:
        try:
            payload = json.loads(body)
        except ValueError:
            return body
        if not isinstance(payload, dict):
            return body
        for key, value in list(payload.items()):
            if isinstance(value, str) and value.startswith("$") and value[1:] in references:
                payload[key] = references[value[1:]]
        return json.dumps(payload).encode()


class _ChangeSetFailed(Exception):
    """Raised inside a change set to roll it back."""


def iter_parts(items: list[Operation | ChangeSet]) -> Iterator[Operation]:
    """Every operation of a parsed batch, in order."""
    for item in items:
        if isinstance(item, ChangeSet):
            yield from item.operations
        else:
            yield item
