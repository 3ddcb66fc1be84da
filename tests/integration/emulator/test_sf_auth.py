"""The Salesforce token endpoint: four grants, Salesforce's refusals, expiring sessions."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
import simple_salesforce
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.emulator.emulator import Emulator
from connectors.http import CrmSession
from tests.emulator_support import LIVE_ACCOUNTS, error_body
from tests.integration.emulator.conftest import (
    API,
    FakeClock,
    client_credentials_token,
    salesforce_client,
    session_for,
)

INVALID_SESSION = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def _token(emulator: Emulator, http: CrmSession, **form: str) -> Any:
    return http.post(emulator.salesforce_url + "/services/oauth2/token", data=form)


def _creds(emulator: Emulator) -> dict[str, Any]:
    creds: dict[str, Any] = emulator.credentials()["salesforce"]
    return creds


def _assertion(emulator: Emulator, key: bytes, **claims: Any) -> str:
    creds = _creds(emulator)
    payload = {
        "iss": creds["client_id"],
        "sub": creds["username"],
        "aud": creds["login_url"],
        "exp": int(time.time()) + 180,
        **claims,
    }
    return jwt.encode(payload, key, algorithm="RS256")


def _works(emulator: Emulator, http: CrmSession, token: str) -> int:
    sf = simple_salesforce.Salesforce(
        instance_url=emulator.salesforce_url, session_id=token, session=http, version=API
    )
    count: int = sf.query("SELECT COUNT() FROM Account")["totalSize"]
    return count


def test_client_credentials_form_and_basic_auth(
    shared_emulator: Emulator, http: CrmSession
) -> None:
    creds = _creds(shared_emulator)
    form = _token(
        shared_emulator,
        http,
        grant_type="client_credentials",
        client_id=creds["client_id"],
        client_secret=creds["client_secret"],
    )
    basic = base64.b64encode(f"{creds['client_id']}:{creds['client_secret']}".encode()).decode()
    header = http.post(
        shared_emulator.salesforce_url + "/services/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    for response in (form, header):
        body = response.json()
        assert response.status_code == 200
        assert set(body) >= {
            "access_token",
            "instance_url",
            "id",
            "token_type",
            "issued_at",
            "signature",
        }
        assert body["instance_url"] == shared_emulator.salesforce_url
        assert body["token_type"] == "Bearer"
        assert body["issued_at"].isdigit()
        assert _works(shared_emulator, http, body["access_token"]) == LIVE_ACCOUNTS


def test_password_and_refresh_token_grants(shared_emulator: Emulator, http: CrmSession) -> None:
    creds = _creds(shared_emulator)
    password = _token(
        shared_emulator,
        http,
        grant_type="password",
        client_id=creds["client_id"],
        client_secret=creds["client_secret"],
        username=creds["username"],
        password=creds["password"],
    )
    refresh = _token(
        shared_emulator,
        http,
        grant_type="refresh_token",
        client_id=creds["client_id"],
        client_secret=creds["client_secret"],
        refresh_token=creds["refresh_token"],
    )
    for response in (password, refresh):
        assert response.status_code == 200, response.text
        assert _works(shared_emulator, http, response.json()["access_token"]) == LIVE_ACCOUNTS


def test_jwt_bearer_signed_with_the_emulator_key(
    shared_emulator: Emulator, http: CrmSession
) -> None:
    key = Path(_creds(shared_emulator)["jwt_key_file"]).read_bytes()
    response = _token(
        shared_emulator,
        http,
        grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion=_assertion(shared_emulator, key),
    )
    assert response.status_code == 200, response.text
    assert _works(shared_emulator, http, response.json()["access_token"]) == LIVE_ACCOUNTS


def _other_key() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.mark.parametrize(
    ("claims", "own_key", "expected"),
    [
        ({}, False, {"error": "invalid_grant", "error_description": "invalid assertion"}),
        (
            {"aud": "https://evil.example"},
            True,
            {"error": "invalid_grant", "error_description": "audience is invalid"},
        ),
        (
            {"exp": int(time.time()) - 60},
            True,
            {"error": "invalid_grant", "error_description": "expired authorization code"},
        ),
        (
            {"iss": "someone-else"},
            True,
            {"error": "invalid_client_id", "error_description": "client identifier invalid"},
        ),
        (
            {"sub": "nobody@example.com"},
            True,
            {"error": "invalid_grant", "error_description": "user hasn't approved this consumer"},
        ),
    ],
    ids=["bad-signature", "audience", "expired", "issuer", "subject"],
)
def test_jwt_refusals(
    shared_emulator: Emulator,
    http: CrmSession,
    claims: dict[str, Any],
    own_key: bool,
    expected: dict[str, str],
) -> None:
    key = Path(_creds(shared_emulator)["jwt_key_file"]).read_bytes() if own_key else _other_key()
    response = _token(
        shared_emulator,
        http,
        grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion=_assertion(shared_emulator, key, **claims),
    )
    assert response.status_code == 400
    assert response.json() == expected


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        (
            {"grant_type": "client_credentials", "client_secret": "wrong"},
            {"error": "invalid_client", "error_description": "invalid client credentials"},
        ),
        (
            {"grant_type": "client_credentials", "client_id": "unknown-app"},
            {"error": "invalid_client_id", "error_description": "client identifier invalid"},
        ),
        (
            {"grant_type": "password", "password": "wrong"},
            {"error": "invalid_grant", "error_description": "authentication failure"},
        ),
        (
            {"grant_type": "refresh_token", "refresh_token": "revoked"},
            {"error": "invalid_grant", "error_description": "expired access/refresh token"},
        ),
        (
            {"grant_type": "authorization_code"},
            {"error": "unsupported_grant_type", "error_description": "grant type not supported"},
        ),
    ],
    ids=["secret", "client-id", "password", "refresh-token", "grant-type"],
)
def test_wrong_credentials_get_salesforce_error_bodies(
    shared_emulator: Emulator, http: CrmSession, form: dict[str, str], expected: dict[str, str]
) -> None:
    creds = _creds(shared_emulator)
    complete = {
        "client_id": creds["client_id"],
        "client_secret": creds["client_secret"],
        "username": creds["username"],
        "password": creds["password"],
        "refresh_token": creds["refresh_token"],
        **form,
    }
    response = _token(shared_emulator, http, **complete)
    assert response.status_code == 400
    assert response.json() == expected


def test_api_without_a_valid_token_is_401_invalid_session(
    shared_emulator: Emulator, http: CrmSession
) -> None:
    url = shared_emulator.salesforce_url + f"/services/data/v{API}/limits"
    for headers in ({}, {"Authorization": "Bearer forged"}):
        response = http.get(url, headers=headers)
        assert response.status_code == 401
        assert response.json() == INVALID_SESSION


def test_sessions_expire_after_their_lifetime(make_emulator: Callable[..., Emulator]) -> None:
    clock = FakeClock()
    emulator = make_emulator(clock=clock)
    http = session_for(emulator)
    sf = salesforce_client(emulator, http)
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == LIVE_ACCOUNTS

    clock.advance(2 * 3600 + 1)

    with pytest.raises(simple_salesforce.SalesforceExpiredSession) as caught:
        sf.query("SELECT COUNT() FROM Account")
    assert error_body(caught.value) == INVALID_SESSION
    fresh = client_credentials_token(emulator, http)
    assert _works(emulator, http, fresh) == LIVE_ACCOUNTS
