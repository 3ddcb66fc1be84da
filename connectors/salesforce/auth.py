"""OAuth 2.0 against a Salesforce token endpoint: the four flows kamsync supports.

Tokens are registered as secrets the moment they arrive, so they are masked wherever they could
be logged.  Error bodies from the token endpoint (``invalid_client``, ``invalid_grant``) become
:class:`AuthenticationError` with the endpoint's own words, which never contain credentials.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import requests

from config import secrets
from config.errors import AuthenticationError, MalformedResponseError
from config.model import SalesforceSource

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME_SECONDS = 180


@dataclass(frozen=True)
class Token:
    """An access token and the instance it is valid for."""

    access_token: str
    instance_url: str | None


class SalesforceAuth:
    """Obtains access tokens for one configured source."""

    def __init__(
        self,
        source: SalesforceSource,
        session: requests.Session,
        *,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.session = session
        self.env = env
        self.clock = clock

    @property
    def token_url(self) -> str:
        """The token endpoint of the configured login host."""
        return f"{self.source.login_url}/services/oauth2/token"

    def token(self) -> Token:
        """Run the configured flow and return a fresh token."""
        response = self.session.post(self.token_url, data=self._grant(), timeout=60)
        body = _json(response, self.source.name)
        if response.status_code != 200 or "access_token" not in body:
            error = body.get("error", f"HTTP {response.status_code}")
            description = body.get("error_description", "")
            raise AuthenticationError(
                f"login to {self.source.login_url} refused ({self.source.auth}): "
                f"{error}{': ' + description if description else ''}",
                source=self.source.name,
                status=response.status_code,
                code=str(error),
            )
        access = str(body["access_token"])
        secrets.register(access)
        instance = body.get("instance_url")
        return Token(access, str(instance) if instance else None)

    def _secret(self, env_name: str | None) -> str:
        assert env_name is not None  # configuration validation guarantees it for this flow
        return secrets.resolve(env_name, self.env)

    def _grant(self) -> dict[str, str]:
        source = self.source
        client_id = self._secret(source.client_id_env)
        if source.auth == "client_credentials":
            return {
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": self._secret(source.client_secret_env),
            }
        if source.auth == "password":
            return {
                "grant_type": "password",
                "client_id": client_id,
                "client_secret": self._secret(source.client_secret_env),
                "username": self._secret(source.username_env),
                "password": self._secret(source.password_env),
            }
        if source.auth == "refresh_token":
            grant = {
                "grant_type": "refresh_token",
                "client_id": client_id,
                "refresh_token": self._secret(source.refresh_token_env),
            }
            if source.client_secret_env:
                grant["client_secret"] = self._secret(source.client_secret_env)
            return grant
        return {"grant_type": JWT_GRANT, "assertion": self._assertion(client_id)}

    def _assertion(self, client_id: str) -> str:
        key_file: Path | None = self.source.private_key_file
        assert key_file is not None
        assert self.source.username is not None
        now = int(self.clock())
        claims = {
            "iss": client_id,
            "sub": self.source.username,
            "aud": self.source.login_url,
            "exp": now + JWT_LIFETIME_SECONDS,
        }
        return jwt.encode(claims, key_file.read_bytes(), algorithm="RS256")


def _json(response: requests.Response, source: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise MalformedResponseError(
            f"token endpoint answered HTTP {response.status_code} with a body that is not JSON",
            source=source,
            status=response.status_code,
        ) from None
    if not isinstance(body, dict):
        raise MalformedResponseError(
            "token endpoint answered with a non-object body", source=source
        )
    return body
