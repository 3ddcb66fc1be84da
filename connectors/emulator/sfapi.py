"""Salesforce API error and response shapes shared by the REST, Bulk and Tooling handlers."""

from __future__ import annotations

import json
from typing import Any

from connectors.emulator.server import Response

JSON_TYPE = "application/json;charset=UTF-8"
CSV_TYPE = "text/csv"

NOT_FOUND_MESSAGE = "The requested resource does not exist"


class ApiError(Exception):
    """An error answered as ``[{"message": ..., "errorCode": ...}]`` with an HTTP status."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        fields: list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields
        self.headers = headers or {}

    def body(self) -> list[dict[str, Any]]:
        """The JSON error list Salesforce sends."""
        item: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            item["fields"] = self.fields
        return [item]

    def response(self) -> Response:
        """The error as a response."""
        return Response(self.status, dumps(self.body()), dict(self.headers))


def not_found() -> ApiError:
    """404 NOT_FOUND, as for an unknown resource."""
    return ApiError(404, "NOT_FOUND", NOT_FOUND_MESSAGE)


def method_not_allowed(method: str, allowed: str) -> ApiError:
    """405 for a known resource called with the wrong method."""
    return ApiError(
        405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are {allowed}"
    )


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_response(value: Any, status: int = 200) -> Response:
    """A JSON response."""
    return Response(status, dumps(value), {"Content-Type": JSON_TYPE})


def parse_json(body: bytes) -> Any:
    """A request body as JSON, or 400 JSON_PARSER_ERROR."""
    try:
        return json.loads(body.decode("utf-8") or "null")
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "JSON_PARSER_ERROR", f"Unexpected character: {exc}") from None
