"""The Microsoft Entra ID side of the Dataverse emulation: discovery, token endpoint, token checks.

msal's ``ConfidentialClientApplication`` talks to it unmodified when given the emulator's
authority (``https://127.0.0.1:<port>/<tenant>``) with ``instance_discovery=False`` (or
``oidc_authority=<authority>/v2.0``) and an ``http_client`` that trusts the emulator's CA:

* ``GET /<tenant>/v2.0/.well-known/openid-configuration`` — the OIDC discovery document;
* ``POST /<tenant>/oauth2/v2.0/token`` — ``client_credentials`` with a client secret, or with a
  certificate assertion (RS256 with ``x5t``, or PS256 with ``x5t#S256``, as msal sends them),
  checked for signature, thumbprint, ``aud``, ``iss`` / ``sub`` and validity window;
* ``GET /<tenant>/discovery/v2.0/keys`` — the key that signs access tokens.

Failures carry Entra's real error bodies (``AADSTS7000215`` for a wrong secret, and so on).
Access tokens are RS256 JWTs for the resource named in ``scope=<url>/.default`` and expire after
an hour of the injected wall clock.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from connectors.emulator.server import Request, Response
from connectors.emulator.tls import pem_key, self_signed

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_LIFETIME_SECONDS = 3599
CLOCK_SKEW_SECONDS = 300  # Dataverse accepts tokens up to five minutes past their expiry
_NAMESPACE = uuid.UUID("5b0a3c1e-7f8d-4d2a-9b6e-2c4f1a8e9d70")


@dataclass(frozen=True)
class DataverseCredentials:
    """The app registration the emulated tenant knows.

    ``certificate`` is the PEM of the public certificate registered for certificate
    credentials; when None, only the client secret is accepted.
    """

    client_id: str
    client_secret: str
    tenant_id: str
    certificate: str | None = None


@dataclass(frozen=True)
class ClientCertificate:
    """A self-signed client certificate and its key, as an admin would upload to Entra ID."""

    private_key_pem: str
    certificate_pem: str
    sha1_thumbprint: str
    sha256_thumbprint: str


def create_client_certificate(common_name: str = "kamsync") -> ClientCertificate:
    """A fresh RSA key and self-signed certificate for certificate credentials."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = self_signed(key, x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
    return ClientCertificate(
        private_key_pem=pem_key(key).decode(),
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        sha1_thumbprint=cert.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303 - x5t is SHA-1 by definition
        sha256_thumbprint=cert.fingerprint(hashes.SHA256()).hex().upper(),
    )


def stable_id(*parts: str) -> str:
    """A GUID derived from ``parts`` (the same inputs always give the same GUID)."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def normalize_resource(url: str) -> str:
    """A resource URL reduced to compare equal across ``localhost`` / ``127.0.0.1`` and slashes."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if host == "localhost":
        host = "127.0.0.1"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme.lower()}://{host}{port}{parts.path.rstrip('/')}"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AadError(Exception):
    """A token request Entra ID refuses; rendered as Entra's error body."""

    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(f"AADSTS{code}: {description}")
        self.status = status
        self.error = error
        self.code = code
        self.description = description


@dataclass
class _Certificate:
    public_key: Any
    sha1: bytes
    sha256: bytes


def _load_certificate(pem: str | None) -> _Certificate | None:
    if not pem:
        return None
    cert = x509.load_pem_x509_certificate(pem.encode())
    return _Certificate(
        public_key=cert.public_key(),
        sha1=cert.fingerprint(hashes.SHA1()),  # noqa: S303 - x5t is SHA-1 by definition
        sha256=cert.fingerprint(hashes.SHA256()),
    )


@dataclass(frozen=True)
class TokenClaims:
    """What the Web API needs to know about a valid access token."""

    token: str
    audience: str
    app_id: str
    expires_at: float


@dataclass
class TokenService:
    """Issues and checks the emulated tenant's tokens."""

    credentials: DataverseCredentials
    wall_clock: Callable[[], float]
    lifetime_seconds: int = TOKEN_LIFETIME_SECONDS
    _signing_key: rsa.RSAPrivateKey = field(init=False, repr=False)
    _key_id: str = field(init=False)
    _certificate: _Certificate | None = field(init=False, repr=False)
    _valid: dict[str, TokenClaims] = field(default_factory=dict, init=False, repr=False)
    _revoked: set[str] = field(default_factory=set, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self._signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        der = self._signing_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self._key_id = _b64url(hashlib.sha256(der).digest()[:20])
        self._certificate = _load_certificate(self.credentials.certificate)

    # ------------------------------------------------------------------ identity

    @property
    def tenant(self) -> str:
        """The tenant id."""
        return self.credentials.tenant_id

    @property
    def application_user_id(self) -> str:
        """The systemuser id Dataverse gives the app registration's application user."""
        return stable_id("applicationuser", self.credentials.client_id)

    def authority(self, base: str) -> str:
        """The authority URL msal is given for this tenant."""
        return f"{base}/{self.tenant}"

    def token_endpoint(self, base: str) -> str:
        """Where tokens are requested."""
        return f"{self.authority(base)}/oauth2/v2.0/token"

    # ------------------------------------------------------------------ endpoints

    def handle(self, request: Request, base: str, segments: list[str]) -> Response:
        """Serve ``/<tenant>/...`` requests."""
        tenant, rest = segments[0], "/".join(segments[1:])
        if tenant.lower() != self.tenant.lower():
            return self._error(base, self._unknown_tenant(tenant))
        if request.method == "GET" and rest == "v2.0/.well-known/openid-configuration":
            return _json(200, self.openid_configuration(base))
        if request.method == "GET" and rest == "discovery/v2.0/keys":
            return _json(200, self.jwks())
        if request.method == "POST" and rest == "oauth2/v2.0/token":
            return self.token(request, base)
        return _json(404, {"error": "not_found", "error_description": f"No endpoint /{rest}."})

    def openid_configuration(self, base: str) -> dict[str, Any]:
        """The v2.0 OIDC discovery document, pointing at this emulator."""
        authority = self.authority(base)
        return {
            "token_endpoint": f"{authority}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{authority}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{authority}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{base}/oidc/userinfo",
            "authorization_endpoint": f"{authority}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{authority}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{authority}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "tid", "ver", "oid"],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
        }

    def jwks(self) -> dict[str, Any]:
        """The public key that signs access tokens, as a JWK set."""
        numbers = self._signing_key.public_key().public_numbers()
        modulus = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "use": "sig",
                    "kid": self._key_id,
                    "x5t": self._key_id,
                    "n": _b64url(modulus),
                    "e": _b64url(numbers.e.to_bytes(3, "big")),
                }
            ]
        }

    def token(self, request: Request, base: str) -> Response:
        """``POST .../oauth2/v2.0/token``."""
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items()}
        try:
            resource, method = self._check_token_request(form, base)
        except AadError as error:
            return self._error(base, error)
        token = self._issue(resource, method)
        body = {
            "token_type": "Bearer",
            "expires_in": self.lifetime_seconds,
            "ext_expires_in": self.lifetime_seconds,
            "access_token": token,
        }
        response = _json(200, body)
        response.headers.update({"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"})
        return response

    # ------------------------------------------------------------------ token request checks

    def _check_token_request(self, form: Mapping[str, str], base: str) -> tuple[str, str]:
        grant = form.get("grant_type", "")
        if grant != "client_credentials":
            raise AadError(
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant}'.",
            )
        client_id = form.get("client_id", "")
        if client_id != self.credentials.client_id:
            raise AadError(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{self.tenant}'. This can happen if the application has not been installed by "
                "the administrator of the tenant or consented to by any user in the tenant. You "
                "may have sent your authentication request to the wrong tenant.",
            )
        method = self._check_client_credential(form, base)
        return self._check_scope(form.get("scope"), base), method

    def _check_client_credential(self, form: Mapping[str, str], base: str) -> str:
        if form.get("client_assertion"):
            if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
                raise AadError(
                    400,
                    "invalid_request",
                    50027,
                    "JWT token is invalid or malformed: unsupported client_assertion_type.",
                )
            self._check_assertion(form["client_assertion"], base)
            return "certificate"
        secret = form.get("client_secret")
        if not secret:
            raise AadError(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or "
                "'client_secret'.",
            )
        if not secrets.compare_digest(secret.encode(), self.credentials.client_secret.encode()):
            raise AadError(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is "
                "the client secret value, not the client secret ID, for a secret added to app "
                f"'{self.credentials.client_id}'.",
            )
        return "secret"

    def _check_scope(self, scope: str | None, base: str) -> str:
        if not scope:
            raise AadError(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'scope'.",
            )
        requested = scope.split()
        if len(requested) != 1 or not requested[0].endswith("/.default"):
            raise AadError(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows "
                "must have a scope value with /.default suffixed to the resource identifier "
                "(application ID URI).",
            )
        resource = requested[0][: -len("/.default")]
        if normalize_resource(resource) != normalize_resource(base):
            raise AadError(
                400,
                "invalid_resource",
                500011,
                f"The resource principal named {resource} was not found in the tenant named "
                f"{self.tenant}. This can happen if the application has not been installed by "
                "the administrator of the tenant or consented to by any user in the tenant. You "
                "might have sent your authentication request to the wrong tenant.",
            )
        return base

    # ------------------------------------------------------------------ certificate assertions

    def _check_assertion(self, assertion: str, base: str) -> None:
        header = self._assertion_header(assertion)
        certificate = self._certificate
        thumbprint = header.get("x5t#S256") or header.get("x5t") or ""
        if certificate is None or not self._thumbprint_matches(header, certificate):
            raise self._invalid_signature("The key was not found.", thumbprint)
        algorithm = header.get("alg")
        if algorithm not in ("RS256", "PS256"):
            raise self._invalid_signature(f"The algorithm {algorithm} is not supported.", "")
        try:
            claims: dict[str, Any] = jwt.decode(
                assertion,
                certificate.public_key,
                algorithms=[algorithm],
                options={"verify_signature": True, "verify_exp": False, "verify_aud": False},
            )
        except jwt.InvalidSignatureError:
            raise self._invalid_signature(
                "The provided signature value did not match the expected signature value.",
                thumbprint,
            ) from None
        except jwt.PyJWTError as error:
            raise AadError(
                400, "invalid_client", 50027, f"JWT token is invalid or malformed. {error}"
            ) from None
        self._check_assertion_claims(claims, base)

    def _assertion_header(self, assertion: str) -> dict[str, Any]:
        try:
            header: dict[str, Any] = json.loads(_b64url_decode(assertion.split(".", maxsplit=1)[0]))
        except (ValueError, IndexError):
            raise AadError(
                400, "invalid_client", 50027, "JWT token is invalid or malformed."
            ) from None
        return header

    @staticmethod
    def _thumbprint_matches(header: Mapping[str, Any], certificate: _Certificate) -> bool:
        for name, digest in (("x5t#S256", certificate.sha256), ("x5t", certificate.sha1)):
            value = header.get(name)
            if isinstance(value, str):
                try:
                    return _b64url_decode(value) == digest
                except ValueError:
                    return False
        return False

    def _invalid_signature(self, reason: str, thumbprint: str) -> AadError:
        return AadError(
            401,
            "invalid_client",
            700027,
            f"Client assertion contains an invalid signature. [Reason - {reason}, Thumbprint of "
            f"key used by client: '{thumbprint}', Please visit the Azure Portal, Graph Explorer or "
            "directly use MS Graph to see configured keys for app Id "
            f"'{self.credentials.client_id}'.]",
        )

    def _check_assertion_claims(self, claims: Mapping[str, Any], base: str) -> None:
        client_id = self.credentials.client_id
        if claims.get("iss") != client_id or claims.get("sub") != client_id:
            raise AadError(
                401,
                "invalid_client",
                700021,
                "Client assertion application identifier doesn't match 'client_id' parameter.",
            )
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        expected = normalize_resource(self.token_endpoint(base))
        if not any(isinstance(a, str) and normalize_resource(a) == expected for a in audiences):
            raise AadError(
                401,
                "invalid_client",
                700023,
                "Client assertion audience claim does not match Realm issuer.",
            )
        now = self.wall_clock()
        expires = float(claims.get("exp", 0))
        not_before = float(claims.get("nbf", claims.get("iat", 0)))
        if not not_before - CLOCK_SKEW_SECONDS <= now <= expires + CLOCK_SKEW_SECONDS:
            raise AadError(
                401,
                "invalid_client",
                700024,
                f"Client assertion is not within its valid time range. Current time: "
                f"{_iso(now)}, assertion valid from {_iso(not_before)}, expiry time of "
                f"assertion {_iso(expires)}.",
            )

    # ------------------------------------------------------------------ access tokens

    def _issue(self, resource: str, method: str) -> str:
        now = int(self.wall_clock())
        expires = now + self.lifetime_seconds
        issuer = f"https://sts.windows.net/{self.tenant}/"
        claims: dict[str, Any] = {
            "aud": resource,
            "iss": issuer,
            "iat": now,
            "nbf": now,
            "exp": expires,
            "appid": self.credentials.client_id,
            "appidacr": "2" if method == "certificate" else "1",
            "idp": issuer,
            "idtyp": "app",
            "oid": self.application_user_id,
            "sub": self.application_user_id,
            "tid": self.tenant,
            "uti": _b64url(secrets.token_bytes(16)),
            "ver": "1.0",
        }
        headers = {"typ": "JWT", "x5t": self._key_id, "kid": self._key_id}
        token = jwt.encode(claims, self._signing_key, algorithm="RS256", headers=headers)
        with self._lock:
            self._valid[token] = TokenClaims(
                token, normalize_resource(resource), self.credentials.client_id, expires
            )
        return token

    def check(self, authorization: str | None, base: str) -> TokenClaims | str:
        """The claims of a usable bearer token, or why it is not usable."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return "Bearer token is missing."
        with self._lock:
            claims = self._valid.get(token)
            revoked = token in self._revoked
        if claims is None:
            return "Error during token validation!"
        if revoked:
            return "The access token has been revoked or the session has expired."
        if claims.audience != normalize_resource(base):
            return f"The audience '{claims.audience}' is invalid."
        if self.wall_clock() > claims.expires_at + CLOCK_SKEW_SECONDS:
            return "The access token has expired."
        return claims

    def revoke(self, token: str) -> None:
        """Make ``token`` unusable (an expired session)."""
        with self._lock:
            self._revoked.add(token)

    def challenge(self, base: str, reason: str) -> Response:
        """The Web API's 401 for a missing, expired or revoked token."""
        value = (
            f'Bearer error=invalid_token, error_description="{reason}", '
            f"authorization_uri={self.authority(base)}/oauth2/authorize, resource_id={base}/"
        )
        return Response(401, b"", {"WWW-Authenticate": value, "Content-Type": "text/plain"})

    # ------------------------------------------------------------------ errors

    def _unknown_tenant(self, tenant: str) -> AadError:
        return AadError(
            400,
            "invalid_tenant",
            90002,
            f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and "
            "are signing into the correct cloud.",
        )

    def _error(self, base: str, error: AadError) -> Response:
        stamp = _iso(self.wall_clock(), sep=" ")
        trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
        body = {
            "error": error.error,
            "error_description": (
                f"AADSTS{error.code}: {error.description}\r\nTrace ID: {trace}\r\n"
                f"Correlation ID: {correlation}\r\nTimestamp: {stamp}"
            ),
            "error_codes": [error.code],
            "timestamp": stamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": f"{base}/error?code={error.code}",
        }
        return _json(error.status, body)


def _iso(seconds: float, sep: str = "T") -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime(f"%Y-%m-%d{sep}%H:%M:%SZ")


def _json(status: int, body: Mapping[str, Any]) -> Response:
    return Response(
        status,
        json.dumps(body).encode(),
        {"Content-Type": "application/json; charset=utf-8"},
    )
