"""Entra ID side of the Dataverse emulator, through msal over TLS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import jwt
import msal
import pytest
import requests

from connectors.emulator.dataverse import ClientCertificate, DataverseSettings
from tests.integration.emulator.dataverse_fixtures import (
    CLIENT_ID,
    TENANT,
    Org,
    client_certificate,
    running_org,
    start_org,
)


class WallClock:
    """An injectable wall clock (seconds since the epoch)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def certificate() -> ClientCertificate:
    return client_certificate()


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory, certificate: ClientCertificate) -> Iterator[Org]:
    yield from running_org(tmp_path_factory, "dv-auth", certificate=certificate.certificate_pem)


def test_discovery_document_points_at_the_emulator(org: Org) -> None:
    document = org.session.get(f"{org.authority}/v2.0/.well-known/openid-configuration").json()
    assert document["token_endpoint"] == f"{org.authority}/oauth2/v2.0/token"
    assert document["issuer"] == f"{org.authority}/v2.0"
    assert "private_key_jwt" in document["token_endpoint_auth_methods_supported"]


def test_client_secret_token_through_msal(org: Org) -> None:
    result = org.msal_app().acquire_token_for_client(scopes=[f"{org.url}/.default"])
    assert result["token_type"] == "Bearer"
    assert result["expires_in"] == 3599
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["aud"] == org.url
    assert claims["appid"] == CLIENT_ID
    assert claims["tid"] == TENANT
    assert claims["appidacr"] == "1"
    # the token opens the Web API
    who = org.session.get(f"{org.api}/WhoAmI", headers=org.headers(result["access_token"]))
    assert who.status_code == 200
    assert who.json()["UserId"] == claims["oid"]


def test_token_is_cached_by_msal(org: Org) -> None:
    app = org.msal_app()
    first = app.acquire_token_for_client(scopes=[f"{org.url}/.default"])
    second = app.acquire_token_for_client(scopes=[f"{org.url}/.default"])
    assert first["token_source"] == "identity_provider"
    assert second["token_source"] == "cache"
    assert second["access_token"] == first["access_token"]


def test_certificate_with_sha1_thumbprint(org: Org, certificate: ClientCertificate) -> None:
    credential = {
        "private_key": certificate.private_key_pem,
        "thumbprint": certificate.sha1_thumbprint,
    }
    result = org.msal_app(credential).acquire_token_for_client(scopes=[f"{org.url}/.default"])
    assert "access_token" in result, result
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["appidacr"] == "2"


def test_certificate_with_sha256_thumbprint_and_oidc_authority(
    org: Org, certificate: ClientCertificate
) -> None:
    app = msal.ConfidentialClientApplication(
        CLIENT_ID,
        client_credential={
            "private_key": certificate.private_key_pem,
            "public_certificate": certificate.certificate_pem,
        },
        oidc_authority=f"{org.authority}/v2.0",
        http_client=org.session,
    )
    result = app.acquire_token_for_client(scopes=[f"{org.url}/.default"])
    assert "access_token" in result, result


def test_wrong_secret_gets_aadsts7000215(org: Org) -> None:
    result = org.msal_app("not-the-secret").acquire_token_for_client(scopes=[f"{org.url}/.default"])
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [7000215]
    assert result["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")
    assert "Trace ID:" in result["error_description"]


def test_unregistered_certificate_gets_aadsts700027(org: Org) -> None:
    stranger = client_certificate()
    credential = {"private_key": stranger.private_key_pem, "thumbprint": stranger.sha1_thumbprint}
    result = org.msal_app(credential).acquire_token_for_client(scopes=[f"{org.url}/.default"])
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [700027]
    assert "The key was not found" in result["error_description"]


def test_certificate_signed_by_another_key_with_the_right_thumbprint(
    org: Org, certificate: ClientCertificate
) -> None:
    stranger = client_certificate()
    credential = {
        "private_key": stranger.private_key_pem,
        "thumbprint": certificate.sha1_thumbprint,
    }
    result = org.msal_app(credential).acquire_token_for_client(scopes=[f"{org.url}/.default"])
    assert result["error_codes"] == [700027]
    assert "signature value did not match" in result["error_description"]


def test_unknown_client_and_bad_scopes(org: Org) -> None:
    unknown = msal.ConfidentialClientApplication(
        "00000000-1111-2222-3333-444444444444",
        client_credential="x",
        authority=org.authority,
        instance_discovery=False,
        http_client=org.session,
    )
    result = unknown.acquire_token_for_client(scopes=[f"{org.url}/.default"])
    assert result["error"] == "unauthorized_client"
    assert result["error_codes"] == [700016]
    no_default = org.msal_app().acquire_token_for_client(scopes=[f"{org.url}/user_impersonation"])
    assert no_default["error"] == "invalid_scope"
    assert no_default["error_codes"] == [1002012]
    elsewhere = org.msal_app().acquire_token_for_client(
        scopes=["https://contoso.crm.dynamics.com/.default"]
    )
    assert elsewhere["error"] == "invalid_resource"
    assert elsewhere["error_codes"] == [500011]


def test_unknown_tenant_fails_discovery(org: Org) -> None:
    stranger = f"{org.url}/00000000-0000-0000-0000-000000000000"
    answer = org.session.get(f"{stranger}/v2.0/.well-known/openid-configuration")
    assert answer.status_code == 400
    assert answer.json()["error_codes"] == [90002]
    with pytest.raises(ValueError, match="Unable to get authority configuration"):
        msal.ConfidentialClientApplication(
            CLIENT_ID,
            client_credential="x",
            authority=stranger,
            instance_discovery=False,
            http_client=org.session,
        )


def test_web_api_without_or_with_a_forged_token_is_401(org: Org) -> None:
    missing = org.session.get(f"{org.api}/accounts")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer error=invalid_token")
    assert (
        f"authorization_uri={org.authority}/oauth2/authorize" in missing.headers["WWW-Authenticate"]
    )
    forged = jwt.encode({"aud": org.url, "exp": 9999999999}, "k" * 32, algorithm="HS256")
    assert org.session.get(f"{org.api}/accounts", headers=org.headers(forged)).status_code == 401


def test_emulator_ca_is_trusted_with_the_environment_bundle_set(
    org: Org, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    other = tmp_path / "other.pem"
    other.write_text(client_certificate().certificate_pem)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(other))
    result = org.msal_app().acquire_token_for_client(scopes=[f"{org.url}/.default"])
    assert "access_token" in result
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{org.api}/WhoAmI", timeout=5)  # a plain session does not trust it


def test_tokens_expire_on_the_injected_wall_clock(tmp_path: Path) -> None:
    clock = WallClock(1_800_000_000.0)
    org = start_org(tmp_path, settings=DataverseSettings(wall_clock=clock))
    try:
        token = org.token()
        assert org.session.get(f"{org.api}/WhoAmI", headers=org.headers(token)).status_code == 200
        clock.now += 3599 + 300  # lifetime plus the five minutes of clock skew Dataverse allows
        assert org.session.get(f"{org.api}/WhoAmI", headers=org.headers(token)).status_code == 200
        clock.now += 1
        expired = org.session.get(f"{org.api}/WhoAmI", headers=org.headers(token))
        assert expired.status_code == 401
        assert "expired" in expired.headers["WWW-Authenticate"]
    finally:
        org.server.stop()
