"""Service protection limits and injected faults, in Dataverse's shapes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import requests

from config.errors import ConnectionFailedError
from connectors.emulator.dataverse import DataverseSettings
from connectors.emulator.faults import FaultPlan
from tests.integration.emulator.dataverse_fixtures import Org, running_org


class Clock:
    """An injectable monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory, clock: Clock) -> Iterator[Org]:
    settings = DataverseSettings(request_limit=5, request_window_seconds=300, clock=clock)
    yield from running_org(tmp_path_factory, "dv-limits", settings=settings)


@pytest.fixture
def faults(org: Org, clock: Clock) -> Iterator[Org]:
    """The org with a fresh window, and its fault plan restored afterwards."""
    clock.now += 1000
    plan = org.app.faults
    yield org
    org.app.set_faults(plan)
    clock.now += 1000


def who(org: Org, token: str | None = None) -> requests.Response:
    return org.session.get(f"{org.api}/WhoAmI", headers=org.headers(token))


def test_requests_past_the_limit_get_429_with_retry_after(org: Org, clock: Clock) -> None:
    clock.now += 1000
    token = org.token()
    remaining = []
    for _ in range(5):
        response = who(org, token)
        assert response.status_code == 200
        remaining.append(response.headers["x-ms-ratelimit-burst-remaining-xrm-requests"])
        assert float(response.headers["x-ms-ratelimit-time-remaining-xrm-requests"]) <= 1_200_000
    assert remaining == ["4", "3", "2", "1", "0"]
    throttled = who(org, token)
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "300"
    assert throttled.json() == {
        "error": {
            "code": "0x80072322",
            "message": "Number of requests exceeded the limit of 5 over time window of 300 seconds.",
        }
    }
    clock.now += 299.5
    assert who(org, token).headers["Retry-After"] == "1"
    clock.now += 0.5
    assert who(org, token).status_code == 200  # the oldest request left the window


def test_each_fault_has_its_dataverse_shape(faults: Org) -> None:
    org = faults
    token = org.token()
    org.app.set_faults(FaultPlan.parse("429:1,retry_after:7s"))
    throttled = who(org, token)
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "7"
    assert throttled.json()["error"]["code"] == "0x80072322"
    org.app.set_faults(FaultPlan.parse("500:1"))
    failed = who(org, token)
    assert failed.status_code == 500
    assert failed.json() == {
        "error": {"code": "0x80040216", "message": "An unexpected error occurred."}
    }
    org.app.set_faults(FaultPlan.parse("503:1"))
    unavailable = who(org, token)
    assert unavailable.status_code == 503
    assert "Retry-After" in unavailable.headers
    org.app.set_faults(FaultPlan.parse("malformed:1"))
    malformed = who(org, token)
    assert malformed.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(malformed.text)
    org.app.set_faults(FaultPlan.parse("reset:1"))
    dropped = "|".join(
        (
            "the server closed the connection without answering",
            "connection reset",
            "the connection was dropped",
        )
    )
    with pytest.raises(ConnectionFailedError, match=rf"after 1 attempt: ({dropped})$"):
        who(org, token)


def test_slow_responses(faults: Org) -> None:
    org = faults
    token = org.token()
    org.app.set_faults(FaultPlan.parse("slow:1:50ms"))
    started = time.perf_counter()
    assert who(org, token).status_code == 200
    assert time.perf_counter() - started >= 0.05


def test_expired_session_needs_a_new_token(faults: Org) -> None:
    org = faults
    app = org.msal_app()
    scopes = [f"{org.url}/.default"]
    token = app.acquire_token_for_client(scopes=scopes)["access_token"]
    org.app.set_faults(FaultPlan.parse("expire_session_after:2"))
    assert who(org, token).status_code == 200
    expired = who(org, token)
    assert expired.status_code == 401
    assert "expired" in expired.headers["WWW-Authenticate"]
    assert who(org, token).status_code == 401  # the session stays expired
    assert app.acquire_token_for_client(scopes=scopes)["access_token"] == token  # msal's cache
    app.remove_tokens_for_client()
    fresh = app.acquire_token_for_client(scopes=scopes)["access_token"]
    assert fresh != token
    assert who(org, fresh).status_code == 200  # requests with a dead token are not counted
    assert who(org, fresh).status_code == 401  # the 4th counted request expires again


def test_daily_limit_fault(faults: Org) -> None:
    org = faults
    token = org.token()
    org.app.set_faults(FaultPlan.parse("limit_after:2"))
    assert [who(org, token).status_code for _ in range(3)] == [200, 200, 429]


def test_churn_changes_records_of_the_table_being_read(faults: Org) -> None:
    org = faults
    token = org.token()
    before = org.store.seq
    org.app.set_faults(FaultPlan.parse("churn:1"))
    response = org.session.get(f"{org.api}/accounts?$select=name", headers=org.headers(token))
    assert response.status_code == 200
    assert org.store.seq == before + 3
    changed = [rid for rid, seq in org.store.tables["account"].seqs.items() if seq > before]
    assert len(changed) == 3


def test_same_seed_same_faults(faults: Org, clock: Clock) -> None:
    org = faults
    token = org.token()

    def statuses() -> list[int]:
        clock.now += 1000
        org.app.set_faults(FaultPlan.parse("500:0.3,503:0.2", seed=11))
        return [who(org, token).status_code for _ in range(4)]

    first = statuses()
    assert first == statuses()
    assert set(first) <= {200, 500, 503}
