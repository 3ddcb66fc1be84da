"""The control endpoint a standalone emulator is driven through."""

from __future__ import annotations

from typing import Any

from connectors.emulator.emulator import Emulator
from tests.emulator_support import account_id
from tests.integration.emulator.conftest import (
    API,
    client_credentials_token,
    salesforce_client,
    session_for,
)


def _control(emulator: Emulator, method: str, name: str, **kwargs: Any) -> Any:
    http = session_for(emulator)
    response = http.request(method, f"{emulator.salesforce_url}/__emulator/{name}", **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def test_index_and_credentials(emulator: Emulator) -> None:
    endpoints = _control(emulator, "GET", "")["endpoints"]
    assert "POST /__emulator/mutate" in endpoints and "GET /__emulator/write-log" in endpoints
    assert _control(emulator, "GET", "credentials") == emulator.credentials()


def test_write_log_over_http(emulator: Emulator) -> None:
    sf = salesforce_client(emulator)
    sf.restful(
        "composite/sobjects/KAM_Account_Score__c/KAM_Ext_Id__c",
        method="PATCH",
        json={
            "records": [
                {
                    "attributes": {"type": "KAM_Account_Score__c"},
                    "KAM_Ext_Id__c": "sf:1",
                    "KAM_Account__c": account_id(1),
                }
            ]
        },
    )
    entries = _control(emulator, "GET", "write-log", params={"crm": "salesforce"})["entries"]
    assert [(e["api"], e["table"], e["ok"], e["crm"]) for e in entries] == [
        ("composite", "KAM_Account_Score__c", True, "salesforce")
    ]
    assert entries[0]["fields"] == ["KAM_Account__c", "KAM_Ext_Id__c"]
    assert _control(emulator, "GET", "write-log", params={"since": 1})["entries"] == []


def test_faults_and_planted_failures_over_http(emulator: Emulator) -> None:
    http = session_for(emulator)
    token = client_credentials_token(emulator, http)
    _control(emulator, "POST", "faults", json={"spec": "503:1", "seed": 2})
    url = f"{emulator.salesforce_url}/services/data/v{API}/limits"
    assert http.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 503
    assert _control(emulator, "GET", "")["endpoints"]  # control requests never see faults
    _control(emulator, "POST", "faults", json={"spec": ""})
    assert http.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200

    planted = _control(
        emulator, "POST", "write-failures", json={"validation": ["SF:9"], "unprocessed": ["sf:8"]}
    )
    assert planted == {"validation": ["sf:9"], "unprocessed": ["sf:8"]}
    assert _control(emulator, "POST", "write-failures", json={"clear": True}) == {
        "validation": [],
        "unprocessed": [],
    }

    _control(emulator, "POST", "expire-sessions")
    assert http.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_bad_control_requests(emulator: Emulator) -> None:
    http = session_for(emulator)
    base = f"{emulator.salesforce_url}/__emulator"
    assert http.get(f"{base}/nothing").status_code == 404
    assert http.get(f"{base}/faults").status_code == 405
    bad = http.post(f"{base}/faults", json={"spec": "explode:1"})
    assert bad.status_code == 400 and "unknown fault" in bad.json()["error"]


def test_observers_see_each_crm_request_until_stopped(emulator: Emulator) -> None:
    seen: list[tuple[str, str]] = []
    stop = emulator.observe_requests("salesforce", lambda r: seen.append((r.method, r.path)))
    http = session_for(emulator)
    try:
        client_credentials_token(emulator, http)
        _control(emulator, "GET", "credentials")
        http.get(f"{emulator.salesforce_url}/services/data/v{API}/limits")
    finally:
        stop()
    http.get(f"{emulator.salesforce_url}/services/data/v{API}/limits")
    # the control request is not shown, and nothing after stop()
    assert seen == [
        ("POST", "/services/oauth2/token"),
        ("GET", f"/services/data/v{API}/limits"),
    ]
