"""Dataverse Web API errors in their real shape: ``{"error": {"code": "0x...", "message": ...}}``.

Also the check of a JSON request body that the handlers share, since what it gives back on a bad
body is one of these errors.
"""

from __future__ import annotations

import json
from typing import Any

from connectors.emulator.server import Request, Response

ODATA_ERROR = "0x80060888"  # bad query option / unknown property
NOT_FOUND_SEGMENT = "0x8006088a"  # unknown entity set or path segment
OBJECT_DOES_NOT_EXIST = "0x80040217"
DUPLICATE_RECORD = "0x80040237"
PRIVILEGE_DENIED = "0x80040220"
VALIDATION_FAILED = "0x80044331"
EXPIRED_VERSION_STAMP = "0x80044352"
CHANGE_TRACKING_NOT_ENABLED = "0x80072491"
REQUEST_LIMIT = "0x80072322"
UNEXPECTED = "0x80040216"
INVALID_ARGUMENT = "0x80040203"
PLUGIN_FAILED = "0x80040265"

JSON_CONTENT_TYPE = "application/json; odata.metadata=minimal"


class DataverseError(Exception):
    """A request the Web API refuses, with its HTTP status, error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, dict[str, str]]:
        """The JSON error body."""
        return {"error": {"code": self.code, "message": self.message}}

    def response(self) -> Response:
        """The error as an HTTP response."""
        return Response(
            self.status,
            json.dumps(self.body()).encode(),
            {"Content-Type": JSON_CONTENT_TYPE, "OData-Version": "4.0"},
        )


def segment_not_found(segment: str) -> DataverseError:
    """An unknown entity set, function or path segment."""
    return DataverseError(
        404, NOT_FOUND_SEGMENT, f"Resource not found for the segment '{segment}'."
    )


def bad_query(message: str) -> DataverseError:
    """A query option Dataverse rejects."""
    return DataverseError(400, ODATA_ERROR, message)


def record_not_found(table: str, record_id: str) -> DataverseError:
    """A record addressed by id that does not exist."""
    return DataverseError(
        404, OBJECT_DOES_NOT_EXIST, f"{table} With Id = {record_id} Does Not Exist"
    )


def key_not_found(table: str) -> DataverseError:
    """A record addressed by alternate key that does not exist."""
    return DataverseError(
        404,
        OBJECT_DOES_NOT_EXIST,
        f"A record with the specified key values does not exist in {table} entity",
    )


def json_body(request: Request) -> dict[str, Any]:
    """The request body as a JSON object (none: empty), or the 400 Dataverse answers."""
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise bad_query("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise bad_query("The request body must be a JSON object.")
    return body
