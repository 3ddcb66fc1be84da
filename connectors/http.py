"""The HTTP session every CRM call goes through: TLS trust, retries, call counting.

* **Trust.**  :class:`TrustAdapter` verifies every certificate against the system trust store,
  plus the bundle named by ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` when set, plus the source's
  ``ca_bundle``.  requests lets those environment variables *replace* ``Session.verify``; the
  adapter ignores whatever ``verify`` reaches it and always uses its own context, so a configured
  CA is honoured even when they are set, and verification can never be turned off.
* **Retries.**  :class:`CrmSession` retries, in one place, what is worth retrying: HTTP 429, 500,
  502, 503, 504 and connection failures.  It waits exactly as long as ``Retry-After`` asks when
  the CRM says (never less), else backs off exponentially with jitter.  ``sleep`` and ``clock`` are
  injectable so retry schedules are tested without waiting.
* **Re-authentication.**  On HTTP 401 the session calls ``reauthenticate`` once, replaces the
  ``Authorization`` header and replays the request; a second 401 is returned to the caller.
  The session remembers which header replaced which, so a later retry of the same request (after
  a 429, say) is sent with the new token, never with the one the CRM already refused.
* **Counting.**  Every request sent (retries included) counts as an API call; ``on_response``
  hooks see every response (to read ``Sforce-Limit-Info`` or ``x-ms-ratelimit-*`` headers).
"""

from __future__ import annotations

import email.utils
import logging
import os
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from config.errors import ConnectionFailedError, UntrustedCertificateError

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER_SECONDS = 900.0
_ENV_BUNDLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def build_ssl_context(
    extra_ca: Iterable[Path] = (), env: Mapping[str, str] | None = None
) -> ssl.SSLContext:
    """System trust + the environment's CA bundle (if any) + ``extra_ca``; verification required."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
    environ = os.environ if env is None else env
    for name in _ENV_BUNDLES:
        bundle = environ.get(name)
        if bundle and os.path.isfile(bundle):
            context.load_verify_locations(cafile=bundle)
        elif bundle and os.path.isdir(bundle):
            context.load_verify_locations(capath=bundle)
    for path in extra_ca:
        context.load_verify_locations(cafile=str(path))
    return context


class TrustAdapter(HTTPAdapter):
    """An adapter that always verifies TLS with its own context, whatever ``verify`` says."""

    def __init__(self, context: ssl.SSLContext, **kwargs: Any) -> None:
        self._context = context
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host, pool = super().build_connection_pool_key_attributes(request, True, cert)
        pool.pop("ca_certs", None)
        pool.pop("ca_cert_dir", None)
        pool["ssl_context"] = self._context
        pool["cert_reqs"] = "CERT_REQUIRED"
        return host, pool

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, True, cert)
        conn.ca_certs = None
        conn.ca_cert_dir = None

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        kwargs["verify"] = True  # nothing turns verification off or swaps the trust store
        return super().send(request, *args, **kwargs)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times and how long to retry."""

    max_retries: int = 6
    backoff_multiplier: float = 0.5
    backoff_max: float = 60.0


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


class _RetryableResponse(Exception):
    def __init__(self, response: requests.Response) -> None:
        self.response = response
        super().__init__(f"HTTP {response.status_code}")


ResponseHook = Callable[[requests.Response], None]


def _is_untrusted(error: BaseException) -> bool:
    """A TLS handshake that failed because the certificate failed verification."""
    return isinstance(error, requests.exceptions.SSLError) and (
        "certificate verify failed" in str(error)
    )


def _is_transient(error: BaseException) -> bool:
    """Worth another attempt: a 429 or 5xx answer, or a connection that failed on the way (a TLS
    handshake cut short included); not a certificate that failed verification, which fails the
    same way every time."""
    if _is_untrusted(error):
        return False
    return isinstance(
        error,
        (
            _RetryableResponse,
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
        ),
    )


def endpoint(url: str | bytes) -> str:
    """``scheme://host[:port]`` of ``url``: where a request went, without its path or query."""
    parts = urlsplit(url.decode() if isinstance(url, bytes) else url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else "the CRM"


_CONNECTION_PROBLEMS: tuple[tuple[str, str], ...] = (
    ("Connection refused", "connection refused"),
    ("NameResolutionError", "host name not found"),
    ("Name or service not known", "host name not found"),
    ("Connection reset", "connection reset"),
    ("RemoteDisconnected", "the server closed the connection without answering"),
    ("Connection aborted", "the connection was dropped"),
    ("SSL", "the TLS handshake failed"),
)


def connection_problem(error: BaseException | None) -> str:
    """What went wrong with a connection, in plain words (never the request itself)."""
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return "timed out connecting"
    if isinstance(error, requests.exceptions.ReadTimeout):
        return "timed out waiting for the answer"
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return "the answer was cut off"
    text = str(error)
    for marker, problem in _CONNECTION_PROBLEMS:
        if marker in text:
            return problem
    return type(error).__name__


def untrusted_certificate(url: str | bytes, error: BaseException) -> str:
    """Why ``url``'s certificate failed verification, as OpenSSL put it (e.g. 'self-signed
    certificate in certificate chain'), and what to do about it."""
    _, found, rest = str(error).partition("certificate verify failed: ")
    reason = rest.split(" (_ssl")[0].rstrip(".") if found else "certificate verify failed"
    advice = (
        "check the host name in the URL"
        if "mismatch" in reason.lower()
        else "if the endpoint uses a private certificate authority, name its PEM file in the "
        "source's ca_bundle"
    )
    return f"the TLS certificate of {endpoint(url)} could not be verified ({reason}); {advice}"


class CrmSession(requests.Session):
    """A requests session with kamsync's trust, retry policy, re-authentication and counting."""

    def __init__(
        self,
        *,
        ca_bundle: Path | None = None,
        timeout: float = 120.0,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        source: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        context = build_ssl_context([ca_bundle] if ca_bundle else [], env)
        adapter = TrustAdapter(context, pool_connections=4, pool_maxsize=8)
        self.mount("https://", adapter)
        self.mount("http://", adapter)
        self.timeout = timeout
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.source = source
        self.calls = 0
        self.retries = 0
        self.on_response: list[ResponseHook] = []
        self.reauthenticate: Callable[[], str] | None = None
        self._renewed: dict[str, str] = {}  # refused Authorization header -> its replacement
        self._lock = threading.Lock()

    def request(
        self, method: str, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        retrying = Retrying(
            retry=retry_if_exception(_is_transient),
            stop=stop_after_attempt(self.policy.max_retries + 1),
            wait=self._wait,
            sleep=self.sleep,
            before_sleep=self._before_sleep,
            retry_error_callback=self._give_up,
            reraise=False,
        )
        try:
            response: requests.Response = retrying(self._attempt, method, url, *args, **kwargs)
        except requests.exceptions.SSLError as exc:  # not retried: verification failed
            raise UntrustedCertificateError(
                untrusted_certificate(url, exc), source=self.source
            ) from None
        return response

    def _attempt(
        self, method: str, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        headers = dict(kwargs.get("headers") or {})
        stale = self._authorization(headers)
        with self._lock:
            renewed = self._renewed.get(stale) if stale else None
        if renewed is not None:
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            headers["Authorization"] = renewed
            kwargs["headers"] = headers
        response = self._send_counted(method, url, *args, **kwargs)
        if response.status_code == 401 and self.reauthenticate is not None:
            log.info(
                "%s: session rejected (HTTP 401); re-authenticating once", self.source or "crm"
            )
            refused = self._authorization(headers)
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            headers["Authorization"] = self.reauthenticate()
            self._remember(refused, headers["Authorization"])
            kwargs["headers"] = headers
            response = self._send_counted(method, url, *args, **kwargs)
        if response.status_code in RETRY_STATUSES:
            raise _RetryableResponse(response)
        return response

    @staticmethod
    def _authorization(headers: Mapping[str, Any]) -> str | None:
        for key, value in headers.items():
            if key.lower() == "authorization" and isinstance(value, str):
                return value
        return None

    def _remember(self, refused: str | None, fresh: str) -> None:
        if refused is None or refused == fresh:
            return
        with self._lock:
            for old, new in list(self._renewed.items()):
                if new == refused:
                    self._renewed[old] = fresh
            self._renewed[refused] = fresh

    def _send_counted(
        self, method: str, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        with self._lock:
            self.calls += 1
        response = super().request(method, url, *args, **kwargs)
        for hook in self.on_response:
            hook(response)
        return response

    def _wait(self, state: RetryCallState) -> float:
        backoff = wait_random_exponential(
            multiplier=self.policy.backoff_multiplier, max=self.policy.backoff_max
        )(state)
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, _RetryableResponse):
            asked = parse_retry_after(error.response.headers.get("Retry-After"))
            if asked is not None:
                return asked  # exactly what the CRM asked: never sooner
        return float(backoff)

    def _before_sleep(self, state: RetryCallState) -> None:
        self.retries += 1
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        what = str(error) if isinstance(error, _RetryableResponse) else type(error).__name__
        wait = state.next_action.sleep if state.next_action else 0.0
        log.info(
            "%s: %s, retry %d in %.1fs", self.source or "crm", what, state.attempt_number, wait
        )

    def _give_up(self, state: RetryCallState) -> requests.Response:
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, _RetryableResponse):
            return error.response  # the caller maps the final status to an error
        url = state.args[1] if len(state.args) > 1 else ""
        raise ConnectionFailedError(
            f"could not reach {endpoint(url)} after {state.attempt_number} "
            f"attempt{'s' if state.attempt_number > 1 else ''}: "
            f"{connection_problem(error)}",
            source=self.source,
        ) from None
