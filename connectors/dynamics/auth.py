"""The Dynamics connector's login: kamsync's session and an msal token (sync and write-back).

msal gets the session as its ``http_client`` (so the token endpoint trusts the source's CA too)
and ``instance_discovery=False`` (the configured authority is used as given, which is also what
lets it reach a loopback authority).  The session replaces an expired token once on HTTP 401.
Tokens are registered as secrets the moment they arrive.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import msal
import requests

from config import secrets
from config.errors import AuthenticationError, ConnectionFailedError
from config.model import DynamicsSource
from connectors.http import CrmSession, RetryPolicy

_KEY_RE = re.compile(
    r"-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----.+?-----END (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----",
    re.DOTALL,
)
_CERT_RE = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


class DynamicsAuth:
    """Session and tokens for one configured Dataverse source (msal ConfidentialClientApplication,
    client secret or certificate, scope ``<url>/.default``)."""

    def __init__(
        self,
        source: DynamicsSource,
        *,
        env: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = source
        self.source = source.name
        self.env = env
        policy = RetryPolicy(max_retries=source.max_retries)
        self.session = CrmSession(
            ca_bundle=source.ca_bundle,
            timeout=source.timeout_seconds,
            policy=policy,
            sleep=sleep,
            source=source.name,
        )
        self._auth_session = CrmSession(
            ca_bundle=source.ca_bundle,
            timeout=source.timeout_seconds,
            policy=policy,
            sleep=sleep,
            source=source.name,
        )
        self.session.reauthenticate = lambda: f"Bearer {self.refresh()}"
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()

    def _application(self) -> msal.ConfidentialClientApplication:
        with self._lock:
            if self._app is None:
                source = self.config
                try:
                    self._app = msal.ConfidentialClientApplication(
                        secrets.resolve(source.client_id_env, self.env),
                        client_credential=self._credential(),
                        authority=source.authority,
                        http_client=self._auth_session,
                        instance_discovery=False,
                        token_cache=msal.TokenCache(),
                    )
                except ValueError as exc:
                    raise AuthenticationError(
                        f"cannot use the authority {source.authority}: {_first_line(exc)}",
                        source=self.source,
                    ) from None
                except requests.RequestException as exc:
                    raise ConnectionFailedError(
                        f"cannot reach the authority {source.authority}: {type(exc).__name__}",
                        source=self.source,
                    ) from None
            return self._app

    def _credential(self) -> str | dict[str, str]:
        source = self.config
        if source.client_secret_env is not None:
            return secrets.resolve(source.client_secret_env, self.env)
        assert source.certificate_file is not None
        assert source.certificate_thumbprint is not None
        text = source.certificate_file.read_text(encoding="utf-8")
        key = _KEY_RE.search(text)
        if key is None:
            raise AuthenticationError(
                f"certificate_file {source.certificate_file.name} holds no PEM private key",
                source=self.source,
            )
        secrets.register(key[0])
        credential = {
            "private_key": key[0],
            "thumbprint": source.certificate_thumbprint.replace(":", "").upper(),
        }
        certificate = _CERT_RE.search(text)
        if certificate is not None:
            credential["public_certificate"] = certificate[0]
        return credential

    def token(self) -> str:
        """A valid access token (msal's cached one while it lasts)."""
        return self._acquire(self._application())

    def refresh(self) -> str:
        """Forget the cached token and fetch a new one (the API refused the old one)."""
        app = self._application()
        for item in list(app.token_cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
            app.token_cache.remove_at(item)
        return self._acquire(app)

    def _acquire(self, app: msal.ConfidentialClientApplication) -> str:
        scopes = [f"{self.config.url}/.default"]
        try:
            result: dict[str, Any] = app.acquire_token_for_client(scopes=scopes)
        except ValueError as exc:
            raise AuthenticationError(
                f"token request to {self.config.authority} failed: {_first_line(exc)}",
                source=self.source,
            ) from None
        token = result.get("access_token") if isinstance(result, dict) else None
        if not isinstance(token, str) or not token:
            error = str(result.get("error") or "no access token") if result else "no answer"
            description = _first_line(result.get("error_description") or "") if result else ""
            raise AuthenticationError(
                f"login to {self.config.authority} refused: {error}"
                f"{': ' + description if description else ''}",
                source=self.source,
                code=error,
            )
        secrets.register(token)
        return token

    def close(self) -> None:
        """Close both sessions."""
        self.session.close()
        self._auth_session.close()


def _first_line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[0][:300] if text else ""
