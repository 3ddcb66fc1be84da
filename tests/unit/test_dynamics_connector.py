"""Dynamics connector edge cases, against scripted HTTP answers (``responses``)."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import responses
from responses import Call

from config.errors import MalformedResponseError, RequestRejectedError, ServerError
from config.loader import parse_config
from config.model import DynamicsSource
from connectors.base import ArrowRecords, ObjectSchema, Page, StreamState
from connectors.dynamics import DynamicsConnector, odata
from connectors.dynamics.schema import object_schema
from tests import recorded

URL = "https://org.example.test"
API = f"{URL}/api/data/v9.2"
AUTHORITY = "https://login.example.test/tenant-1"
TOKEN = "eyJ0eXAi.dv-access-token.sig"
DELTA = f"{API}/accounts?$select=accountid&$deltatoken=919042!07/01/2026 12:00:00"


def _label(text: str) -> dict[str, Any]:
    return {"UserLocalizedLabel": {"Label": text}, "LocalizedLabels": [{"Label": text}]}


def _attribute(name: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {
        "LogicalName": name,
        "AttributeType": kind,
        "AttributeOf": None,
        "IsValidForRead": True,
        "IsValidODataAttribute": True,
        "DisplayName": _label(name.title()),
        "IsCustomAttribute": name.startswith("new_"),
        "RequiredLevel": {"Value": "None"},
        **extra,
    }


ENTITY: dict[str, Any] = {
    "LogicalName": "account",
    "EntitySetName": "accounts",
    "PrimaryIdAttribute": "accountid",
    "ChangeTrackingEnabled": True,
    "DisplayName": _label("Account"),
    "Attributes": [
        _attribute("accountid", "Uniqueidentifier", RequiredLevel={"Value": "SystemRequired"}),
        _attribute("name", "String"),
        _attribute("parentaccountid", "Lookup"),
        _attribute("parentaccountidname", "String", AttributeOf="parentaccountid"),
        _attribute("industrycode", "Picklist"),
        _attribute("industrycodename", "Virtual"),
        _attribute("revenue", "Money"),
        _attribute("numberofemployees", "Integer"),
        _attribute("new_isvip", "Boolean"),
        _attribute("new_lastreview", "DateTime"),
        _attribute("modifiedon", "DateTime"),
        _attribute("entityimage", "Image"),
        _attribute("secret_column", "String", IsValidForRead=False),
    ],
}
DATES = {"new_lastreview": "DateOnly", "modifiedon": "DateAndTime"}
CHOICES = {
    "industrycode": {
        "Options": [
            {"Value": 1, "Label": _label("Banking")},
            {"Value": 2, "Label": _label("Retail")},
        ]
    }
}


def _retrieved(entity: dict[str, Any]) -> dict[str, Any]:
    """A RetrieveEntity answer: attributes carry their Format and OptionSet inline."""
    attributes = []
    for attribute in entity["Attributes"]:
        name = attribute["LogicalName"]
        extra: dict[str, Any] = {}
        if name in DATES:
            extra["Format"] = DATES[name]
        if name in CHOICES:
            extra["OptionSet"] = CHOICES[name]
        if attribute["AttributeType"] == "String":
            extra["Format"] = "Text"  # not a date: a String's Format says nothing of dates
        attributes.append({**attribute, **extra})
    return {"EntityMetadata": {**entity, "Attributes": attributes}}


PROPS = (
    "accountid",
    "name",
    "_parentaccountid_value",
    "industrycode",
    "revenue",
    "numberofemployees",
    "new_isvip",
    "new_lastreview",
    "modifiedon",
)


def _source(tmp_path: Path, extra: str = "") -> DynamicsSource:
    text = f"""
[[sources]]
name = "dv"
kind = "dynamics"
url = "{URL}"
authority = "{AUTHORITY}"
client_id_env = "D365_CLIENT_ID"
client_secret_env = "D365_CLIENT_SECRET"
{extra}
"""
    source = parse_config(text, "kamsync.toml", base_dir=tmp_path).sources[0]
    assert isinstance(source, DynamicsSource)
    return source


def _login() -> None:
    responses.get(
        f"{AUTHORITY}/v2.0/.well-known/openid-configuration",
        json={
            "token_endpoint": f"{AUTHORITY}/oauth2/v2.0/token",
            "authorization_endpoint": f"{AUTHORITY}/oauth2/v2.0/authorize",
            "issuer": f"{AUTHORITY}/v2.0",
        },
    )
    responses.post(
        f"{AUTHORITY}/oauth2/v2.0/token",
        json={"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3599},
    )


def _schema(tracked: bool = True) -> ObjectSchema:
    entity = {**ENTITY, "ChangeTrackingEnabled": tracked}
    return object_schema(entity, {"new_lastreview"}, {"industrycode": (("1", "Banking"),)}, "dv")


def _record(n: int, **overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "@odata.etag": f'W/"{n}"',
        "accountid": f"00000000-0000-0000-0000-{n:012d}",
        "name": f"Account {n}",
        "_parentaccountid_value": None if n == 1 else "00000000-0000-0000-0000-000000000001",
        "industrycode": 1,
        "revenue": 1500.25,
        "numberofemployees": 40 + n,
        "new_isvip": n % 2 == 0,
        "new_lastreview": "2026-05-01",
        "modifiedon": f"2026-06-30T10:00:{n:02d}Z",
    }
    record.update(overrides)
    return record


def _page(rows: list[dict[str, Any]], **links: str) -> dict[str, Any]:
    return {"@odata.context": f"{API}/$metadata#accounts", "value": rows, **links}


def _params(call: Call) -> dict[str, str]:
    return {k: v[0] for k, v in recorded.query(call).items()}


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def connector(
    tmp_path: Path, secret_env: dict[str, str], sleeps: list[float]
) -> Iterator[DynamicsConnector]:
    made = DynamicsConnector(_source(tmp_path, "page_size = 2"), sleep=sleeps.append)
    yield made
    made.close()


def _read(connector: DynamicsConnector, schema: ObjectSchema, state: StreamState) -> list[Page]:
    return list(connector.read(schema, state))


def _rows(page: Page) -> list[dict[str, Any]]:
    assert isinstance(page.records, ArrowRecords)
    rows: list[dict[str, Any]] = page.records.table.to_pylist()
    return rows


# --------------------------------------------------------------------------- describe


@responses.activate
def test_describe_lands_attributes_by_logical_name_with_metadata_types(
    connector: DynamicsConnector,
) -> None:
    _login()
    path = (
        f"{API}/RetrieveEntity(EntityFilters=@filters,LogicalName=@name,MetadataId=@id,"
        "RetrieveAsIfPublished=@unpublished)"
    )
    responses.get(path, json=_retrieved(ENTITY))

    [schema] = connector.discover(["account"])

    types = {c.name: (c.type, c.crm_type) for c in schema.columns}
    assert types == {
        "accountid": ("varchar", "Uniqueidentifier"),
        "name": ("varchar", "String"),
        "parentaccountid": ("varchar", "Lookup"),
        "industrycode": ("bigint", "Picklist"),
        "industrycodename": ("varchar", "OptionLabel"),
        "revenue": ("decimal", "Money"),
        "numberofemployees": ("bigint", "Integer"),
        "new_isvip": ("boolean", "Boolean"),
        "new_lastreview": ("date", "DateTime"),
        "modifiedon": ("timestamp", "DateTime"),
    }
    assert schema.key == "accountid" and schema.collection == "accounts"
    assert schema.cursor_field is None  # change tracking: the delta link is the cursor
    assert schema.column("revenue") is not None and schema.column("revenue").scale == 4  # type: ignore[union-attr]
    assert dict(schema.column("industrycode").options) == {"1": "Banking", "2": "Retail"}  # type: ignore[union-attr]
    assert not next(c for c in schema.columns if c.name == "accountid").nullable
    describes = [c for c in responses.calls if "RetrieveEntity" in recorded.url(c)]
    assert len(describes) == 1  # one request per table
    params = _params(describes[0])
    assert params["@filters"] == "Microsoft.Dynamics.CRM.EntityFilters'Attributes'"
    assert params["@name"] == "'account'"
    assert describes[0].request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert ObjectSchema.from_dict(schema.to_dict()) == schema  # the engine caches it


def test_a_table_without_change_tracking_is_read_by_modifiedon() -> None:
    assert _schema(tracked=False).cursor_field == "modifiedon"
    untracked = {
        **ENTITY,
        "ChangeTrackingEnabled": False,
        "Attributes": [a for a in ENTITY["Attributes"] if a["LogicalName"] != "modifiedon"],
    }
    with pytest.raises(MalformedResponseError, match="neither change tracking nor a modifiedon"):
        object_schema(untracked, set(), {}, "dv")


def test_an_unknown_attribute_type_is_a_clear_error() -> None:
    entity = {**ENTITY, "Attributes": [*ENTITY["Attributes"], _attribute("x", "Hologram")]}
    with pytest.raises(MalformedResponseError, match=r"account\.x has type 'Hologram'"):
        object_schema(entity, set(), {}, "dv")


@responses.activate
def test_a_table_name_that_is_not_a_logical_name_is_refused_before_any_request(
    connector: DynamicsConnector,
) -> None:
    with pytest.raises(ValueError, match="not a valid Dataverse name"):
        connector.discover(["account') or (1 eq 1"])
    assert not responses.calls


# --------------------------------------------------------------------------- OData values


def test_odata_values_are_escaped_and_validated() -> None:
    assert odata.string("O'Hara & Sons") == "'O''Hara & Sons'"
    with pytest.raises(ValueError, match="control characters"):
        odata.string("a\nb")
    assert odata.modified_since("2026-06-30T10:00:00+02:00") == "modifiedon ge 2026-06-30T08:00:00Z"
    assert odata.modified_since(None) is None
    for bad in ("2026-06-30T10:00:00", "yesterday", "2026-06-30T10:00:00Z or 1 eq 1"):
        # no zone, not a time, an injection attempt
        with pytest.raises(ValueError, match=r"time zone|isoformat"):
            odata.modified_since(bad)
    for bad in ("accounts?$top=1", "na me", "", "1st"):
        with pytest.raises(ValueError, match="not a valid Dataverse name"):
            odata.name(bad)
    assert odata.select(["accountid", "_ownerid_value"]) == "accountid,_ownerid_value"


# --------------------------------------------------------------------------- full tracked read


@responses.activate
def test_full_read_pages_with_track_changes_and_the_delta_link_becomes_the_cursor(
    connector: DynamicsConnector,
) -> None:
    _login()
    second = f"{API}/accounts?$select=accountid&$skiptoken=page2"
    responses.get(
        f"{API}/accounts", json=_page([_record(1), _record(2)], **{"@odata.nextLink": second})
    )
    responses.get(second, json=_page([_record(3)], **{"@odata.deltaLink": DELTA}))

    pages = _read(connector, _schema(), StreamState())

    assert [p.record_count for p in pages] == [2, 1, 0]
    assert pages[0].checkpoint == {
        "mode": "full",
        "method": "track",
        "phase": "records",
        "next": second,
    }
    assert pages[-1].done and pages[-1].cursor == {"delta_link": DELTA}
    assert all(p.mode == "full" for p in pages)
    first = responses.calls[2].request
    assert first.headers["Prefer"] == "odata.track-changes,odata.maxpagesize=2"
    assert _params(responses.calls[2])["$select"] == ",".join(PROPS)
    assert responses.calls[3].request.headers["Prefer"] == "odata.track-changes,odata.maxpagesize=2"
    row = _rows(pages[0])[1]
    assert row == {
        "accountid": "00000000-0000-0000-0000-000000000002",
        "name": "Account 2",
        "parentaccountid": "00000000-0000-0000-0000-000000000001",  # _x_value -> its column
        "industrycode": 1,  # whole numbers and booleans as decoded, typed
        "industrycodename": "Banking",
        "revenue": "1500.25",  # a float bound for a decimal travels as its shortest text
        "numberofemployees": 42,
        "new_isvip": True,
        "new_lastreview": "2026-05-01",
        "modifiedon": "2026-06-30T10:00:02Z",
    }


@responses.activate
def test_a_resumed_read_continues_from_the_saved_next_link(connector: DynamicsConnector) -> None:
    _login()
    second = f"{API}/accounts?$select=accountid&$skiptoken=page2"
    responses.get(second, json=_page([_record(3)], **{"@odata.deltaLink": DELTA}))
    saved = {"mode": "full", "method": "track", "phase": "records", "next": second}

    pages = _read(connector, _schema(), StreamState(checkpoint=saved))

    assert [p.record_count for p in pages] == [1, 0]
    assert [c.request.url for c in responses.calls[2:]] == [second]


# --------------------------------------------------------------------------- deltas


@responses.activate
def test_delta_read_turns_deleted_entity_rows_into_deletions(connector: DynamicsConnector) -> None:
    _login()
    gone = {
        "@odata.context": f"{API}/$metadata#accounts/$deletedEntity",
        "id": "00000000-0000-0000-0000-000000000009",
        "reason": "deleted",
    }
    fresh = f"{API}/accounts?$select=accountid&$deltatoken=919077!07/02/2026 12:00:00"
    responses.get(f"{API}/accounts", json=_page([_record(4), gone], **{"@odata.deltaLink": fresh}))

    pages = _read(connector, _schema(), StreamState(cursor={"delta_link": DELTA}))

    assert pages[0].mode == "incremental" and pages[0].method == "delta"
    assert pages[0].deleted_ids == ("00000000-0000-0000-0000-000000000009",)
    assert [r["accountid"] for r in _rows(pages[0])] == ["00000000-0000-0000-0000-000000000004"]
    assert pages[-1].cursor == {"delta_link": fresh}
    params = _params(responses.calls[2])
    assert params["$deltatoken"] == "919042!07/01/2026 12:00:00"
    assert params["$select"] == ",".join(PROPS)  # the current columns, not the link's


@responses.activate
def test_an_expired_delta_token_reads_the_table_in_full_and_says_so(
    connector: DynamicsConnector, caplog: pytest.LogCaptureFixture
) -> None:
    _login()
    expired = {
        "error": {
            "code": "0x80044352",
            "message": "Version stamp associated with the client has expired. Please perform a full sync.",
        }
    }
    responses.get(f"{API}/accounts", json=expired, status=400)
    responses.get(f"{API}/accounts", json=_page([_record(1)], **{"@odata.deltaLink": DELTA}))

    with caplog.at_level(logging.WARNING):
        pages = _read(connector, _schema(), StreamState(cursor={"delta_link": DELTA}))

    assert (
        "dv: change tracking token expired; reading account in full (deletions are reconciled)"
        in caplog.text
    )
    assert [p.mode for p in pages] == ["full", "full"]  # a full pass: the engine reconciles
    assert "$deltatoken" not in _params(responses.calls[3])
    assert recorded.header(responses.calls[3], "Prefer").startswith("odata.track-changes")


@responses.activate
def test_change_tracking_turned_off_falls_back_to_modifiedon(connector: DynamicsConnector) -> None:
    _login()
    refused = {
        "error": {
            "code": "0x80072491",
            "message": "Entity account isn't enabled for change tracking.",
        }
    }
    responses.get(f"{API}/accounts", json=refused, status=400)
    responses.get(f"{API}/accounts", json=_page([_record(1)]))

    pages = _read(connector, _schema(), StreamState(cursor={"delta_link": DELTA}))

    assert [p.method for p in pages] == ["modifiedon", "modifiedon"]
    assert pages[-1].cursor == {"since": "2026-06-30T10:00:01Z"}


# --------------------------------------------------------------------------- modifiedon windows


@responses.activate
def test_modifiedon_window_is_inclusive_then_lists_live_ids_for_deletions(
    connector: DynamicsConnector,
) -> None:
    _login()
    since = "2026-06-30T10:00:03Z"
    nxt = f"{API}/accounts?$skiptoken=w2"
    # the record on the boundary second comes again: the engine keeps one copy per key
    responses.get(
        f"{API}/accounts", json=_page([_record(3), _record(7)], **{"@odata.nextLink": nxt})
    )
    responses.get(nxt, json=_page([_record(5)]))
    responses.get(
        f"{API}/accounts",
        json=_page(
            [{"accountid": "a"}, {"accountid": "b"}],
            **{"@odata.nextLink": f"{API}/accounts?$skiptoken=ids2"},
        ),
    )
    responses.get(f"{API}/accounts?$skiptoken=ids2", json=_page([{"accountid": "c"}]))

    pages = _read(connector, _schema(tracked=False), StreamState(cursor={"since": since}))

    window = _params(responses.calls[2])
    assert window["$filter"] == "modifiedon ge 2026-06-30T10:00:03Z"
    assert window["$orderby"] == "modifiedon asc,accountid asc"
    assert "Prefer" in responses.calls[2].request.headers
    assert "track-changes" not in responses.calls[2].request.headers["Prefer"]
    assert [p.method for p in pages[:-1]] == ["modifiedon", "modifiedon", "reconcile", "reconcile"]
    assert _params(responses.calls[4]) == {"$select": "accountid"}
    assert pages[2].live_ids == ("a", "b") and pages[3].live_ids == ("c",)
    assert pages[-1].cursor == {"since": "2026-06-30T10:00:07Z"}  # the latest modifiedon seen
    assert all(p.mode == "incremental" for p in pages)


@responses.activate
def test_a_full_window_read_needs_no_id_pass(connector: DynamicsConnector) -> None:
    _login()
    responses.get(f"{API}/accounts", json=_page([]))

    pages = _read(connector, _schema(tracked=False), StreamState())

    assert "$filter" not in _params(responses.calls[2])
    assert [p.mode for p in pages] == ["full", "full"]
    assert pages[-1].cursor == {"since": None}


# --------------------------------------------------------------------------- throttling


@responses.activate
def test_429_waits_exactly_as_long_as_retry_after_says(
    tmp_path: Path, secret_env: dict[str, str]
) -> None:
    now = [1000.0]
    sent_at: list[float] = []

    def sleep(seconds: float) -> None:
        now[0] += seconds

    connector = DynamicsConnector(_source(tmp_path), sleep=sleep)
    connector.session.on_response.append(lambda _response: sent_at.append(now[0]))
    _login()
    limit = {"error": {"code": "0x80072322", "message": "Number of requests exceeded the limit"}}
    responses.get(f"{API}/accounts", json=limit, status=429, headers={"Retry-After": "7"})
    responses.get(f"{API}/accounts", json=limit, status=429, headers={"Retry-After": "2.5"})
    responses.get(
        f"{API}/accounts",
        json=_page([_record(1)], **{"@odata.deltaLink": DELTA}),
        headers={
            "x-ms-ratelimit-burst-remaining-xrm-requests": "5997",
            "x-ms-ratelimit-time-remaining-xrm-requests": "1199873.25",
        },
    )

    pages = _read(connector, _schema(), StreamState())
    connector.close()

    api_sends = sent_at[-3:]
    assert [b - a for a, b in itertools.pairwise(api_sends)] == [7.0, 2.5]
    assert pages[0].record_count == 1 and pages[0].api_calls == 3
    usage = connector.usage()
    assert usage.calls == 3  # retries are calls too; the token endpoint is not the Web API
    assert usage.detail == (
        "x-ms-ratelimit-burst-remaining-xrm-requests=5997; "
        "x-ms-ratelimit-time-remaining-xrm-requests=1199873.25; "
        "lowest burst remaining=5997; throttled (429)=2"
    )
    assert usage.extra["throttled"] == 2


@responses.activate
def test_a_server_that_keeps_failing_is_a_server_error(
    connector: DynamicsConnector, sleeps: list[float]
) -> None:
    _login()
    responses.get(f"{API}/accounts", status=503, body="busy")

    with pytest.raises(ServerError, match="HTTP 503"):
        _read(connector, _schema(), StreamState())
    assert len(sleeps) == 6  # the configured max_retries, every wait through the injected sleep


# --------------------------------------------------------------------------- odd payloads


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "the answer is not valid JSON"),
        (b"[1, 2]", "the answer is not an object"),
        (b'{"value": {"accountid": "x"}}', "the answer has no list of records"),
        (b'{"value": ["x"]}', "the answer has no list of records"),
    ],
)
@responses.activate
def test_answers_that_are_not_pages_are_malformed(
    connector: DynamicsConnector, body: bytes, message: str
) -> None:
    _login()
    responses.get(f"{API}/accounts", body=body, content_type="application/json")

    with pytest.raises(MalformedResponseError, match=message):
        _read(connector, _schema(), StreamState())


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (_record(1, name=42), r"account\.name: value 42 \(int\)"),
        (_record(1, new_isvip="yes"), r"account\.new_isvip: value 'yes'"),
        (_record(1, revenue={"amount": 1}), r"account\.revenue: value \{'amount': 1\}"),
        (_record(1, accountid=None), "a record has no accountid"),
        ({k: v for k, v in _record(1).items() if k != "revenue"}, "a record lacks revenue"),
    ],
)
@responses.activate
def test_records_that_do_not_fit_the_metadata_are_malformed(
    connector: DynamicsConnector, record: dict[str, Any], message: str
) -> None:
    _login()
    responses.get(f"{API}/accounts", json=_page([record], **{"@odata.deltaLink": DELTA}))

    with pytest.raises(MalformedResponseError, match=message):
        _read(connector, _schema(), StreamState())


@pytest.mark.parametrize(
    ("column", "values", "landed"),
    [
        # numbers sent as text (IEEE754Compatible) beside numbers: all travel as text
        ("revenue", ["1500.25", 7, None], ["1500.25", "7", None]),
        ("numberofemployees", ["9007199254740993", 3, None], ["9007199254740993", "3", None]),
        # orjson decodes a whole number past 64 bits as a float: it travels as that float's text
        # (as before), and the warehouse names it when a bigint cannot hold it
        ("numberofemployees", [2**70, 1, None], [str(float(2**70)), "1", None]),
        ("revenue", [1, 2.5, None], ["1", "2.5", None]),  # shortest text, parsed exactly
        ("industrycodename", [None, None, None], ["Banking", "Banking", "Banking"]),
    ],
)
@responses.activate
def test_numbers_travel_typed_or_as_their_text(
    connector: DynamicsConnector, column: str, values: list[Any], landed: list[Any]
) -> None:
    _login()
    records = [
        _record(n + 1, **({} if column.endswith("name") else {column: v}))
        for n, v in enumerate(values)
    ]
    if column == "industrycodename":
        records[1]["industrycode"] = "1"  # a code sent as text still finds its label
    responses.get(f"{API}/accounts", json=_page(records, **{"@odata.deltaLink": DELTA}))

    [page, _] = _read(connector, _schema(), StreamState())

    assert [r[column] for r in _rows(page)] == landed


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (_record(1, numberofemployees=True), r"account\.numberofemployees: value True \(bool\)"),
        (_record(1, new_isvip=1), r"account\.new_isvip: value 1 \(int\)"),
        (_record(1, name=["a"]), r"account\.name: value \['a'\] \(list\)"),
    ],
)
@responses.activate
def test_json_types_the_column_does_not_take_are_named(
    connector: DynamicsConnector, record: dict[str, Any], message: str
) -> None:
    _login()
    responses.get(f"{API}/accounts", json=_page([record], **{"@odata.deltaLink": DELTA}))

    with pytest.raises(MalformedResponseError, match=message):
        _read(connector, _schema(), StreamState())


@responses.activate
def test_a_tracked_read_must_end_with_a_delta_link(connector: DynamicsConnector) -> None:
    _login()
    responses.get(f"{API}/accounts", json=_page([_record(1)]))

    with pytest.raises(MalformedResponseError, match=r"has no @odata\.deltaLink"):
        _read(connector, _schema(), StreamState())


@responses.activate
def test_links_to_another_host_are_not_followed(connector: DynamicsConnector) -> None:
    _login()
    elsewhere = "https://attacker.example.test/api/data/v9.2/accounts?$skiptoken=x"
    responses.get(f"{API}/accounts", json=_page([_record(1)], **{"@odata.nextLink": elsewhere}))

    with pytest.raises(MalformedResponseError, match="a link to another host"):
        _read(connector, _schema(), StreamState())
    assert all(
        urlsplit(recorded.url(c)).hostname != "attacker.example.test" for c in responses.calls
    )


@responses.activate
def test_refused_requests_name_the_crm_error_and_never_the_token(
    connector: DynamicsConnector,
) -> None:
    _login()
    denied = {
        "error": {
            "code": "0x80040220",
            "message": "Principal user is missing prvReadAccount privilege.",
        }
    }
    responses.get(f"{API}/accounts", json=denied, status=403)

    with pytest.raises(RequestRejectedError) as caught:
        _read(connector, _schema(), StreamState())

    assert "0x80040220" in str(caught.value) and "prvReadAccount" in str(caught.value)
    assert TOKEN not in str(caught.value)


@responses.activate
def test_an_expired_session_logs_in_again_once_and_replays(connector: DynamicsConnector) -> None:
    _login()
    responses.get(
        f"{API}/accounts", status=401, headers={"WWW-Authenticate": "Bearer error=invalid_token"}
    )
    responses.get(f"{API}/accounts", json=_page([_record(1)], **{"@odata.deltaLink": DELTA}))

    pages = _read(connector, _schema(), StreamState())

    assert pages[0].record_count == 1
    token_posts = [c for c in responses.calls if c.request.method == "POST"]
    assert len(token_posts) == 2  # the cached token was dropped and a new one fetched


# --------------------------------------------------------------------------- polymorphic lookups

TASK: dict[str, Any] = {
    "LogicalName": "task",
    "EntitySetName": "tasks",
    "PrimaryIdAttribute": "activityid",
    "ChangeTrackingEnabled": True,
    "DisplayName": _label("Task"),
    "Attributes": [
        _attribute("activityid", "Uniqueidentifier"),
        _attribute("regardingobjectid", "Lookup"),
        # as Dataverse describes it: part of the lookup, not served by the Web API
        _attribute("regardingobjecttypecode", "EntityName", AttributeOf="regardingobjectid"),
        _attribute("regardingobjectidname", "String", AttributeOf="regardingobjectid"),
    ],
}


@responses.activate
def test_the_table_of_a_polymorphic_lookup_comes_from_its_annotation(
    connector: DynamicsConnector,
) -> None:
    _login()
    schema = object_schema(TASK, set(), {}, "dv")
    annotation = "_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname"
    rows: list[dict[str, Any]] = [
        {"activityid": "t1", "_regardingobjectid_value": "c1", annotation: "contact"},
        {"activityid": "t2", "_regardingobjectid_value": None},
    ]
    responses.get(f"{API}/tasks", json=_page(rows, **{"@odata.deltaLink": DELTA}))

    pages = _read(connector, schema, StreamState())

    assert schema.column_names == ("activityid", "regardingobjectid", "regardingobjecttypecode")
    assert _params(responses.calls[2])["$select"] == "activityid,_regardingobjectid_value"
    prefer = responses.calls[2].request.headers["Prefer"]
    assert prefer == (
        "odata.track-changes,odata.maxpagesize=2,"
        'odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"'
    )
    assert _rows(pages[0]) == [
        {"activityid": "t1", "regardingobjectid": "c1", "regardingobjecttypecode": "contact"},
        {"activityid": "t2", "regardingobjectid": None, "regardingobjecttypecode": None},
    ]
