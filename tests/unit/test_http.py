"""The shared HTTP session: TLS trust that environment variables cannot override, and retries."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import responses

from config.errors import ConnectionFailedError, UntrustedCertificateError
from connectors.emulator.tls import TlsFiles
from connectors.http import CrmSession, RetryPolicy, parse_retry_after

SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


@pytest.fixture
def env_bundles(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE point at a bundle that does not hold the emulator CA."""
    other = tmp_path / "corporate-bundle.pem"
    system = Path(SYSTEM_BUNDLE)
    other.write_bytes(system.read_bytes() if system.exists() else b"")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(other))
    return other


def test_configured_ca_is_trusted_even_when_env_bundles_are_set(
    env_bundles: Path, tls_files: TlsFiles, tls_server: str
) -> None:
    # plain requests: the environment bundle replaces Session.verify, so the CA is ignored
    plain = requests.Session()
    plain.verify = str(tls_files.ca_file)
    with pytest.raises(requests.exceptions.SSLError):
        plain.get(tls_server, timeout=10)

    session = CrmSession(ca_bundle=tls_files.ca_file)
    assert session.get(tls_server).json() == {"hello": "kamsync"}


def test_unknown_ca_is_refused_at_once_and_verification_cannot_be_turned_off(
    env_bundles: Path, tls_server: str
) -> None:
    sleeps: list[float] = []
    session = CrmSession(policy=RetryPolicy(max_retries=3), sleep=sleeps.append, source="sf")
    with pytest.raises(UntrustedCertificateError) as refused:
        session.get(tls_server + "/services/data?q=select+Id+from+Account")
    # permanent: one handshake, no retries; the message names the host, not the request
    assert not refused.value.transient
    assert session.calls == 1 and sleeps == []
    message = str(refused.value)
    # OpenSSL's reason in between, e.g. "self-signed certificate in certificate chain"
    assert message.startswith(f"sf: the TLS certificate of {tls_server} could not be verified (")
    assert "certificate" in message.split("(")[1] and "select" not in message
    assert message.endswith(
        "); if the endpoint uses a private certificate authority, name its PEM file in the "
        "source's ca_bundle"
    )
    session.verify = False
    with pytest.raises(UntrustedCertificateError):
        session.get(tls_server, verify=False)


def _session(sleeps: list[float], retries: int = 4) -> CrmSession:
    return CrmSession(policy=RetryPolicy(max_retries=retries), sleep=sleeps.append, source="test")


@responses.activate
def test_429_waits_exactly_what_retry_after_asks() -> None:
    url = "https://crm.example.test/api"
    responses.get(url, status=429, headers={"Retry-After": "7"})
    responses.get(url, status=429, headers={"Retry-After": "2"})
    responses.get(url, json={"ok": True})
    sleeps: list[float] = []

    response = _session(sleeps).get(url)

    assert response.json() == {"ok": True}
    assert sleeps == [7.0, 2.0]


@responses.activate
def test_5xx_backs_off_with_bounded_jitter_then_returns_the_last_response() -> None:
    url = "https://crm.example.test/api"
    for _ in range(4):
        responses.get(url, status=503)
    sleeps: list[float] = []
    session = _session(sleeps, retries=3)

    response = session.get(url)

    assert response.status_code == 503
    assert len(sleeps) == 3
    # random exponential: attempt n waits in [0, 0.5 * 2**n]
    assert all(0 <= s <= 0.5 * 2 ** (n + 1) for n, s in enumerate(sleeps))
    assert session.calls == 4 and session.retries == 3


@responses.activate
def test_connection_errors_retry_then_raise_a_transient_error() -> None:
    url = "https://crm.example.test/api"
    for _ in range(2):
        responses.get(url, body=requests.ConnectionError("[Errno 104] Connection reset by peer"))
    sleeps: list[float] = []

    with pytest.raises(ConnectionFailedError) as caught:
        _session(sleeps, retries=1).get(url + "?q=select+Id")

    assert str(caught.value) == (
        "test: could not reach https://crm.example.test after 2 attempts: connection reset"
    )

    assert caught.value.transient
    assert len(sleeps) == 1


@pytest.mark.parametrize(
    ("error", "problem"),
    [
        (requests.exceptions.ConnectTimeout("connect timed out"), "timed out connecting"),
        (requests.exceptions.ReadTimeout("read timed out"), "timed out waiting for the answer"),
        (requests.ConnectionError("[Errno 111] Connection refused"), "connection refused"),
        (
            requests.ConnectionError("NameResolutionError: Failed to resolve 'crm.example.test'"),
            "host name not found",
        ),
        (requests.exceptions.ChunkedEncodingError("IncompleteRead"), "the answer was cut off"),
        (
            requests.exceptions.SSLError("[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred"),
            "the TLS handshake failed",
        ),
        (requests.ConnectionError("something new"), "ConnectionError"),
    ],
)
@responses.activate
def test_a_connection_that_keeps_failing_is_described_in_plain_words(
    error: Exception, problem: str
) -> None:
    url = "https://crm.example.test:8443/api/data"
    responses.get(url, body=error)

    with pytest.raises(ConnectionFailedError) as caught:
        _session([], retries=0).get(url)

    assert str(caught.value) == (
        f"test: could not reach https://crm.example.test:8443 after 1 attempt: {problem}"
    )


@responses.activate
def test_a_host_name_mismatch_is_not_retried_and_says_to_check_the_url() -> None:
    url = "https://crm.example.test/api"
    responses.get(
        url,
        body=requests.exceptions.SSLError(
            "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname mismatch, "
            "certificate is not valid for 'crm.example.test'. (_ssl.c:1006)"
        ),
    )
    sleeps: list[float] = []

    with pytest.raises(UntrustedCertificateError) as refused:
        _session(sleeps, retries=3).get(url)

    assert sleeps == []
    assert str(refused.value) == (
        "test: the TLS certificate of https://crm.example.test could not be verified "
        "(Hostname mismatch, certificate is not valid for 'crm.example.test'); "
        "check the host name in the URL"
    )


@responses.activate
def test_401_reauthenticates_once_and_replays_with_the_new_token() -> None:
    url = "https://crm.example.test/api"
    responses.get(url, status=401, json=[{"errorCode": "INVALID_SESSION_ID"}])
    responses.get(url, json={"ok": True})
    session = _session([])
    session.reauthenticate = lambda: "Bearer fresh-token"

    response = session.get(url, headers={"Authorization": "Bearer stale-token"})

    assert response.json() == {"ok": True}
    assert responses.calls[1].request.headers["Authorization"] == "Bearer fresh-token"


@responses.activate
def test_second_401_is_returned_not_looped() -> None:
    url = "https://crm.example.test/api"
    responses.get(url, status=401)
    responses.get(url, status=401)
    session = _session([])
    session.reauthenticate = lambda: "Bearer fresh-token"

    assert session.get(url).status_code == 401
    assert len(responses.calls) == 2


@responses.activate
def test_response_hooks_see_every_response() -> None:
    url = "https://crm.example.test/api"
    responses.get(url, status=503)
    responses.get(url, json={}, headers={"Sforce-Limit-Info": "api-usage=10/15000"})
    seen: list[str | None] = []
    session = _session([])
    session.on_response.append(lambda r: seen.append(r.headers.get("Sforce-Limit-Info")))

    session.get(url)

    assert seen == [None, "api-usage=10/15000"]


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("12", now) == 12.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("garbage", now) is None
    assert parse_retry_after(None, now) is None


@responses.activate
def test_a_retry_after_renewing_the_token_does_not_send_the_refused_one_again() -> None:
    url = "https://crm.example.test/api"
    responses.get(url, status=401)  # the token expired
    responses.get(url, status=429, headers={"Retry-After": "2"})  # the replay is throttled
    responses.get(url, json={"ok": True})
    sleeps: list[float] = []
    session = _session(sleeps)
    tokens = iter(["Bearer fresh-token", "Bearer fresher-token"])
    session.reauthenticate = lambda: next(tokens)

    response = session.get(url, headers={"Authorization": "Bearer stale-token"})

    assert response.json() == {"ok": True}
    sent = [call.request.headers["Authorization"] for call in responses.calls]
    assert sent == ["Bearer stale-token", "Bearer fresh-token", "Bearer fresh-token"]
    assert sleeps == [2.0]
