"""The logging filter masks every registered secret wherever it would appear."""

from __future__ import annotations

import io
import logging

from config import secrets
from sync.logs import setup_logging


def test_secrets_are_masked_in_messages_arguments_and_tracebacks() -> None:
    secret = "tok-3f9a8b7c6d5e-secret"
    secrets.register(secret)
    stream = io.StringIO()
    setup_logging(verbosity=1, stream=stream)
    log = logging.getLogger("kamsync.test")

    log.info("token is %s", secret)
    log.warning("inline " + secret)
    try:
        raise ValueError(f"bad token {secret}")
    except ValueError:
        log.exception("call failed")

    text = stream.getvalue()
    assert secret not in text
    assert text.count(secrets.MASK) == 3
    assert "call failed" in text and "ValueError: bad token ****" in text


def test_short_values_are_not_treated_as_secrets() -> None:
    secrets.register("abc")
    assert secrets.mask("abc def") == "abc def"
