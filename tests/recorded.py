"""The requests ``responses`` recorded, read with their types narrowed (url and body are
optional on a prepared request; a recorded request always has a url, a sent body, text headers)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

from responses import Call


def url(call: Call) -> str:
    """The request's full URL."""
    assert call.request.url is not None
    return call.request.url


def query(call: Call) -> dict[str, list[str]]:
    """The request's query parameters, decoded."""
    return parse_qs(urlsplit(url(call)).query)


def body(call: Call) -> str:
    """The request's body as text."""
    sent = call.request.body
    assert isinstance(sent, bytes | str), f"no body in {call.request.method} {call.request.url}"
    return sent.decode() if isinstance(sent, bytes) else sent


def json_body(call: Call) -> Any:
    """The request's JSON body, decoded."""
    return json.loads(body(call))


def form(call: Call) -> dict[str, list[str]]:
    """The request's form-encoded body, decoded."""
    return parse_qs(body(call))


def header(call: Call, name: str) -> str:
    """One request header as text."""
    value = call.request.headers[name]
    return value.decode() if isinstance(value, bytes) else value
