"""Pieces of the Dataverse emulation that need no server: headers, cookies, keys, batches, limits."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from connectors.emulator.dataverse import ServiceProtection, dataverse_urls
from connectors.emulator.dataverse_batch import ChangeSet, Operation, parse_batch
from connectors.emulator.dataverse_errors import DataverseError
from connectors.emulator.dataverse_model import entity_set_name, format_datetime
from connectors.emulator.dataverse_query import Cookie, Preferences, split_header_list
from connectors.emulator.dataverse_writes import Address
from connectors.emulator.server import Headers, Request
from connectors.emulator.store import TableDef


def test_urls_msal_is_given() -> None:
    assert dataverse_urls("https://127.0.0.1:8443/", "tenant-1") == {
        "url": "https://127.0.0.1:8443",
        "authority": "https://127.0.0.1:8443/tenant-1",
    }


def test_prefer_header_parsing() -> None:
    prefs = Preferences.parse(
        'odata.include-annotations="OData.Community.Display.V1.FormattedValue,'
        'Microsoft.Dynamics.CRM.*", odata.maxpagesize=250, odata.track-changes, return=representation'
    )
    assert prefs.max_page_size == 250
    assert prefs.track_changes
    assert prefs.return_representation
    assert prefs.wants("OData.Community.Display.V1.FormattedValue")
    assert prefs.wants("Microsoft.Dynamics.CRM.lookuplogicalname")
    assert not prefs.wants("Other.Term")
    assert Preferences.parse('odata.include-annotations="*,-Microsoft.Dynamics.CRM.*"').wants(
        "OData.Community.Display.V1.FormattedValue"
    )
    assert not Preferences.parse('odata.include-annotations="*,-Microsoft.Dynamics.CRM.*"').wants(
        "Microsoft.Dynamics.CRM.lookuplogicalname"
    )
    assert split_header_list('a="x,y", b') == ['a="x,y"', "b"]


def test_paging_cookie_round_trip() -> None:
    last = (
        "contoso",
        Decimal("12.5"),
        datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        date(2024, 1, 2),
        None,
        True,
    )
    cookie = Cookie(3, last, "41!06/30/2024 12:00:00", {"upto": 9})
    text = cookie.encode("accountid")
    assert text.startswith('<cookie pagenumber="3" pagingcookie="%3Ccookie%20page%3D%222%22%3E')
    assert 'istracking="True"' in text
    assert Cookie.decode(text) == cookie
    with pytest.raises(DataverseError):
        Cookie.decode("<cookie/>")


def test_addresses() -> None:
    assert Address.parse("{6F1B1A0E-3C4D-4E5F-8A9B-0C1D2E3F4A5B}").record_id == (
        "6f1b1a0e-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
    )
    assert Address.parse("kam_extid='d365:O''Brien'").key_values == (("kam_extid", "d365:O'Brien"),)
    assert Address.parse("a='x',b=5").key_values == (("a", "x"), ("b", "5"))
    with pytest.raises(DataverseError):
        Address.parse("")


def test_entity_set_names_and_datetimes() -> None:
    def named(name: str) -> str:
        return entity_set_name(TableDef(name, f"{name}id", name, name, ()))

    assert [named(n) for n in ("account", "opportunity", "systemuser", "kam_accountscore")] == [
        "accounts",
        "opportunities",
        "systemusers",
        "kam_accountscores",
    ]
    assert format_datetime(datetime(2024, 1, 2, 3, 4, 5, 999, tzinfo=UTC)) == "2024-01-02T03:04:05Z"


def test_batch_parsing_with_a_change_set_and_lf_line_ends() -> None:
    body = (
        b"--batch_1\n"
        b"Content-Type: multipart/mixed; boundary=changeset_a\n\n"
        b"--changeset_a\n"
        b"Content-Type: application/http\n"
        b"Content-Transfer-Encoding: binary\n"
        b"Content-ID: 7\n\n"
        b"PATCH kam_accountscores(kam_extid='x') HTTP/1.1\n"
        b"Content-Type: application/json\n\n"
        b'{"kam_tier":"key"}\n'
        b"--changeset_a--\n"
        b"--batch_1\n"
        b"Content-Type: application/http\n"
        b"Content-Transfer-Encoding: binary\n\n"
        b"GET /api/data/v9.2/accounts?$top=1 HTTP/1.1\n\n\n"
        b"--batch_1--\n"
    )
    request = Request(
        "POST",
        "/api/data/v9.2/$batch",
        {},
        Headers([("content-type", "multipart/mixed; boundary=batch_1")]),
        body,
        "/api/data/v9.2/$batch",
    )
    change_set, single = parse_batch(request)
    assert isinstance(change_set, ChangeSet)
    (patch,) = change_set.operations
    assert patch.content_id == "7"
    assert patch.request.method == "PATCH"
    assert patch.request.raw_target == "kam_accountscores(kam_extid='x')"
    assert patch.request.body == b'{"kam_tier":"key"}'
    assert isinstance(single, Operation)
    assert single.request.raw_target == "/api/data/v9.2/accounts?$top=1"


def test_service_protection_window() -> None:
    now = [0.0]
    limits = ServiceProtection(2, 10.0, lambda: now[0])
    assert limits.admit() is None
    now[0] = 4.0
    assert limits.admit() is None
    assert limits.headers()["x-ms-ratelimit-burst-remaining-xrm-requests"] == "0"
    assert limits.admit() == pytest.approx(6.0)
    now[0] = 10.0
    assert limits.admit() is None  # the first request left the window
    response = limits.error(0.2)
    assert response.status == 429
    assert response.headers["Retry-After"] == "1"
