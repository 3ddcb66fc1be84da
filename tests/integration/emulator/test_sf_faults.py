"""Every fault kind, in Salesforce's shape, reproducibly."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
import simple_salesforce

from config.errors import ConnectionFailedError
from connectors.emulator.emulator import Emulator
from connectors.http import CrmSession, RetryPolicy
from tests.emulator_support import LIVE_ACCOUNTS, error_body
from tests.integration.emulator.conftest import (
    API,
    client_credentials_token,
    salesforce_client,
    session_for,
)


def _get(
    emulator: Emulator, http: CrmSession, token: str, path: str = "limits"
) -> requests.Response:
    url = f"{emulator.salesforce_url}/services/data/v{API}/{path}"
    return http.get(url, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def faulty(
    make_emulator: Callable[..., Emulator],
) -> Callable[[str], tuple[Emulator, CrmSession, str]]:
    def start(spec: str) -> tuple[Emulator, CrmSession, str]:
        emulator = make_emulator()
        http = session_for(emulator)
        token = client_credentials_token(emulator, http)
        emulator.set_faults(spec, seed=1)
        return emulator, http, token

    return start


@pytest.mark.parametrize(
    ("spec", "status", "code", "retry_after"),
    [
        ("429:1", 429, "REQUEST_LIMIT_EXCEEDED", "1"),
        ("429:1,retry_after:3", 429, "REQUEST_LIMIT_EXCEEDED", "3"),
        ("500:1", 500, "UNKNOWN_EXCEPTION", None),
        ("503:1", 503, "SERVER_UNAVAILABLE", None),
    ],
)
def test_http_error_faults(
    faulty: Any, spec: str, status: int, code: str, retry_after: str | None
) -> None:
    emulator, http, token = faulty(spec)
    response = _get(emulator, http, token)
    assert response.status_code == status
    [error] = response.json()
    assert error["errorCode"] == code and error["message"]
    assert response.headers.get("Retry-After") == retry_after
    assert response.headers["Sforce-Limit-Info"].startswith("api-usage=")


def test_reset_drops_the_connection(faulty: Any) -> None:
    emulator, http, token = faulty("reset:1")
    with pytest.raises(ConnectionFailedError):
        _get(emulator, http, token)


def test_slow_answers_late(faulty: Any) -> None:
    emulator, http, token = faulty("slow:1:0.3s")
    started = time.monotonic()
    response = _get(emulator, http, token)
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3


def test_malformed_bodies_are_not_json_or_complete_csv(faulty: Any) -> None:
    emulator, http, token = faulty("malformed:1")
    response = _get(emulator, http, token, "query?q=SELECT+Id+FROM+Account")
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_expire_session_after_n_requests(faulty: Any) -> None:
    emulator, http, token = faulty("expire_session_after:3")
    statuses = [_get(emulator, http, token).status_code for _ in range(4)]
    assert statuses == [200, 200, 401, 401]
    assert _get(emulator, http, token).json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    fresh = client_credentials_token(emulator, http)
    assert [_get(emulator, http, fresh).status_code for _ in range(3)] == [200, 200, 401]


def test_limit_after_n_requests(faulty: Any) -> None:
    emulator, http, token = faulty("limit_after:5")
    responses = [_get(emulator, http, token) for _ in range(6)]
    assert [r.status_code for r in responses] == [200] * 5 + [403]
    assert responses[4].json()["DailyApiRequests"] == {"Max": 5, "Remaining": 0}
    assert responses[5].json() == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    assert responses[5].headers["Sforce-Limit-Info"] == "api-usage=6/5"
    emulator.salesforce.reset_usage()
    assert _get(emulator, http, token).status_code == 200


def test_churn_changes_records_of_the_object_being_paged(faulty: Any) -> None:
    emulator, http, _token = faulty("churn:1")
    sf = salesforce_client(emulator, http)
    before = emulator.world.salesforce.now()
    records = sf.query_all(
        "SELECT Id FROM Account", headers={"Sforce-Query-Options": "batchSize=200"}
    )["records"]
    assert len(records) == LIVE_ACCOUNTS
    stamp = before.strftime("%Y-%m-%dT%H:%M:%SZ")
    changed = sf.query(f"SELECT Id, SystemModstamp FROM Account WHERE SystemModstamp > {stamp}")[
        "records"
    ]
    assert len(changed) == 6  # three records before each of the two follow-up pages
    assert emulator.world.salesforce.now() > before


def _statuses(emulator: Emulator, spec: str, seed: int, count: int = 40) -> list[int]:
    http = session_for(emulator)
    token = client_credentials_token(emulator, http)
    emulator.set_faults(spec, seed)
    return [_get(emulator, http, token).status_code for _ in range(count)]


def test_faults_are_reproducible_per_seed(make_emulator: Callable[..., Emulator]) -> None:
    spec = "429:0.2,500:0.1,503:0.1"
    first = _statuses(make_emulator(), spec, seed=5)
    again = _statuses(make_emulator(), spec, seed=5)
    other = _statuses(make_emulator(), spec, seed=6)
    assert first == again
    assert first != other
    assert {429, 200} <= set(first) and len(set(first)) >= 3


def test_kamsync_session_rides_out_transient_faults(make_emulator: Callable[..., Emulator]) -> None:
    emulator = make_emulator(faults="429:0.3,503:0.2,reset:0.1,retry_after:2", fault_seed=11)
    sleeps: list[float] = []
    http = CrmSession(
        ca_bundle=emulator.ca_file, policy=RetryPolicy(max_retries=10), sleep=sleeps.append
    )
    sf = salesforce_client(emulator, http)
    records = sf.query_all(
        "SELECT Id FROM Account", headers={"Sforce-Query-Options": "batchSize=200"}
    )["records"]
    assert len({r["Id"] for r in records}) == LIVE_ACCOUNTS
    assert 2.0 in sleeps  # the 429s' Retry-After was honoured
    assert len(sleeps) >= 3


def test_simple_salesforce_sees_the_refusal_types(faulty: Any) -> None:
    emulator, http, _token = faulty("limit_after:2")
    sf = salesforce_client(emulator, http)
    sf.limits()
    sf.limits()
    with pytest.raises(simple_salesforce.SalesforceRefusedRequest) as caught:
        sf.limits()
    assert error_body(caught.value)[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
