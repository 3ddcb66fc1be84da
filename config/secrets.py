"""Secrets: read only from environment variables, and remembered so they can be masked.

The configuration names environment variables; nothing else in kamsync reads them.  Every value
read here, and every token a connector obtains, is registered so that the logging filter
(:mod:`sync.logs`) and error rendering can replace it with ``****`` wherever it would appear.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping

from config.errors import ConfigError, ConfigProblem

MASK = "****"
_MIN_MASKED_LENGTH = 4  # shorter values would mask ordinary words; refuse to treat them as secrets

_lock = threading.Lock()
_known: set[str] = set()


def register(value: str | None) -> None:
    """Remember ``value`` as a secret so that :func:`mask` hides it."""
    if value and len(value) >= _MIN_MASKED_LENGTH:
        with _lock:
            _known.add(value)


def known() -> frozenset[str]:
    """Every secret value registered so far."""
    with _lock:
        return frozenset(_known)


def mask(text: str) -> str:
    """Replace every registered secret in ``text`` with ``****``, longest first."""
    secrets = known()
    if not secrets:
        return text
    for value in sorted(secrets, key=len, reverse=True):
        if value in text:
            text = text.replace(value, MASK)
    return text


def resolve(env_name: str, env: Mapping[str, str] | None = None) -> str:
    """Return the value of ``env_name`` and register it as a secret.

    Configuration validation has already checked that the variable is set; if it has been unset
    since, this is still reported as a configuration problem rather than a crash.
    """
    environ = os.environ if env is None else env
    value = environ.get(env_name)
    if not value:
        raise ConfigError(
            [ConfigProblem("environment", env_name, "environment variable is not set or empty")]
        )
    register(value)
    return value
