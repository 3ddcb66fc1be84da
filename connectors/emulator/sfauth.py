"""The emulated Salesforce login service: connected-app credentials, tokens and sessions.

``POST /services/oauth2/token`` accepts the grants kamsync's connectors use:

==========================================  ================================================
``client_credentials``                      client id and secret (form fields or HTTP Basic)
``password``                                client id and secret, username and password
``refresh_token``                           client id (and secret), the refresh token
``urn:ietf:params:oauth:grant-type:jwt-bearer``  an RS256 assertion signed with the key whose
                                            certificate the connected app holds; ``iss`` is
                                            the client id, ``sub`` the username, ``aud`` the
                                            login URL, ``exp`` in the future
==========================================  ================================================

Refusals carry Salesforce's own error bodies (``{"error": ..., "error_description": ...}``,
HTTP 400).  Sessions live :attr:`SalesforceCredentials.session_seconds` of wall-clock time
(the clock is injectable) and can be invalidated, which the API answers with 401
``INVALID_SESSION_ID``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.emulator.tls import emulator_name, pem_key, self_signed

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
REAL_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")
ORG_ID = "00D5g000004EmUlEAK"
USER_ID = "0055g00000DkLq3AAF"


@dataclass(frozen=True)
class SalesforceCredentials:
    """A connected app and an integration user, as the emulated org knows them."""

    client_id: str
    client_secret: str
    username: str
    password: str
    refresh_token: str
    jwt_certificate_pem: bytes
    jwt_key_file: Path | None = None
    jwt_cert_file: Path | None = None
    session_seconds: float = 7200.0

    @classmethod
    def generate(cls, directory: Path | None = None) -> SalesforceCredentials:
        """Fresh random credentials and an RSA key pair for the JWT bearer flow.

        With ``directory``, the private key (``jwt.key``, mode 600) and the certificate
        (``jwt.crt``) are written there for clients to use.
        """
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        certificate = self_signed(key, emulator_name("kamsync emulator JWT signing"))
        cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
        key_file = cert_file = None
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            key_file, cert_file = directory / "jwt.key", directory / "jwt.crt"
            key_file.write_bytes(pem_key(key))
            key_file.chmod(0o600)
            cert_file.write_bytes(cert_pem)
        return cls(
            client_id="3MVG9emulator." + secrets.token_urlsafe(24),
            client_secret=secrets.token_hex(32).upper(),
            username="integration@kamsync-emulator.example",
            password="P-" + secrets.token_urlsafe(18),
            refresh_token="5Aep861" + secrets.token_urlsafe(40),
            jwt_certificate_pem=cert_pem,
            jwt_key_file=key_file,
            jwt_cert_file=cert_file,
        )

    def public_key(self) -> Any:
        """The public key of the connected app's certificate."""
        return x509.load_pem_x509_certificate(self.jwt_certificate_pem).public_key()


class OAuthError(Exception):
    """A refusal of the token endpoint, in Salesforce's shape."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        """The JSON body Salesforce sends."""
        return {"error": self.error, "error_description": self.description}


@dataclass
class Session:
    """One issued access token."""

    token: str
    issued_at: float
    expires_at: float
    valid: bool = True
    requests: int = 0


@dataclass
class SessionRegistry:
    """Issued access tokens and their state; thread-safe."""

    credentials: SalesforceCredentials
    clock: Callable[[], float] = time.time
    sessions: dict[str, Session] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def issue(self) -> Session:
        """A new session for the integration user."""
        now = self.clock()
        token = f"{ORG_ID[:15]}!AQ{secrets.token_urlsafe(72)}"
        session = Session(token, now, now + self.credentials.session_seconds)
        with self._lock:
            self.sessions[token] = session
        return session

    def check(self, authorization: str | None) -> Session | None:
        """The live session an ``Authorization: Bearer`` header names, or None."""
        if not authorization:
            return None
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() not in ("bearer", "oauth") or not token:
            return None
        with self._lock:
            session = self.sessions.get(token.strip())
            if session is None or not session.valid:
                return None
            if self.clock() >= session.expires_at:
                session.valid = False
                return None
            session.requests += 1
            return session

    def expire(self, session: Session) -> None:
        """Invalidate a session (the next request with it gets INVALID_SESSION_ID)."""
        with self._lock:
            session.valid = False

    def expire_all(self) -> None:
        """Invalidate every session."""
        with self._lock:
            for session in self.sessions.values():
                session.valid = False


class TokenEndpoint:
    """``POST /services/oauth2/token`` for one org."""

    def __init__(self, registry: SessionRegistry, instance_url: Callable[[], str]) -> None:
        self.registry = registry
        self.credentials = registry.credentials
        self.instance_url = instance_url

    def grant(self, body: bytes, authorization: str | None) -> dict[str, str]:
        """Check a token request; the token response, or raise :class:`OAuthError`."""
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        basic_id, basic_secret = _basic(authorization)
        client_id = form.get("client_id") or basic_id
        client_secret = form.get("client_secret") or basic_secret
        grant_type = form.get("grant_type")
        if grant_type == "client_credentials":
            self._check_client(client_id, client_secret, secret_required=True)
            return self._response(with_refresh=False)
        if grant_type == "password":
            self._check_client(client_id, client_secret, secret_required=True)
            if (
                form.get("username") != self.credentials.username
                or form.get("password") != self.credentials.password
            ):
                raise OAuthError("invalid_grant", "authentication failure")
            return self._response(with_refresh=False)
        if grant_type == "refresh_token":
            self._check_client(client_id, client_secret, secret_required=False)
            if form.get("refresh_token") != self.credentials.refresh_token:
                raise OAuthError("invalid_grant", "expired access/refresh token")
            return self._response(with_refresh=False)
        if grant_type == JWT_GRANT:
            self._check_assertion(form.get("assertion"))
            return self._response(with_refresh=False)
        if not grant_type:
            raise OAuthError("invalid_request", "grant type not supported")
        raise OAuthError("unsupported_grant_type", "grant type not supported")

    def _check_client(
        self, client_id: str | None, client_secret: str | None, *, secret_required: bool
    ) -> None:
        if not client_id or not hmac.compare_digest(client_id, self.credentials.client_id):
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if client_secret is None and not secret_required:
            return
        if not client_secret or not hmac.compare_digest(
            client_secret, self.credentials.client_secret
        ):
            raise OAuthError("invalid_client", "invalid client credentials")

    def _check_assertion(self, assertion: str | None) -> None:
        if not assertion:
            raise OAuthError("invalid_request", "assertion is required")
        try:
            claims = jwt.decode(
                assertion,
                self.credentials.public_key(),
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_aud": False, "verify_iat": False},
            )
        except jwt.PyJWTError:
            raise OAuthError("invalid_grant", "invalid assertion") from None
        if claims.get("iss") != self.credentials.client_id:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        audiences = claims.get("aud")
        audience_list = audiences if isinstance(audiences, list) else [audiences]
        allowed = (self.instance_url().rstrip("/"), *REAL_AUDIENCES)
        if not any(isinstance(a, str) and a.rstrip("/") in allowed for a in audience_list):
            raise OAuthError("invalid_grant", "audience is invalid")
        if claims.get("sub") != self.credentials.username:
            raise OAuthError("invalid_grant", "user hasn't approved this consumer")
        try:
            expires = float(claims["exp"])
        except (KeyError, TypeError, ValueError):
            raise OAuthError("invalid_grant", "invalid assertion") from None
        if expires <= self.registry.clock():
            raise OAuthError("invalid_grant", "expired authorization code")

    def _response(self, *, with_refresh: bool) -> dict[str, str]:
        session = self.registry.issue()
        instance = self.instance_url()
        identity = f"{instance}/id/{ORG_ID}/{USER_ID}"
        issued = str(int(session.issued_at * 1000))
        signature = base64.b64encode(
            hmac.new(
                self.credentials.client_secret.encode(),
                (identity + issued).encode(),
                hashlib.sha256,
            ).digest()
        ).decode()
        response = {
            "access_token": session.token,
            "instance_url": instance,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued,
            "signature": signature,
            "scope": "api",
        }
        if with_refresh:
            response["refresh_token"] = self.credentials.refresh_token
        return response


def _basic(authorization: str | None) -> tuple[str | None, str | None]:
    if not authorization or not authorization.lower().startswith("basic "):
        return None, None
    try:
        decoded = base64.b64decode(authorization[6:].strip()).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None, None
    client_id, _, client_secret = decoded.partition(":")
    return client_id, client_secret
