"""Logging, set up in one place.

On a terminal, records go through rich; otherwise they are plain ``time level logger: message``
lines, one per record, fit for journald and log files.  Every handler carries
:class:`SecretMaskFilter`, which replaces every registered secret (see :mod:`config.secrets`) in
the message, its arguments and any traceback, wherever they would appear.
"""

from __future__ import annotations

import logging
import sys
from typing import IO

from config import secrets

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class SecretMaskFilter(logging.Filter):
    """Mask registered secrets in a record before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not secrets.known():
            return True
        record.msg = secrets.mask(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            formatter = logging.Formatter()
            record.exc_text = secrets.mask(formatter.formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = secrets.mask(record.stack_info)
        return True


def setup_logging(verbosity: int = 0, stream: IO[str] | None = None) -> None:
    """Configure the root logger: WARNING by default, INFO with -v, DEBUG with -vv."""
    level = logging.WARNING
    if verbosity == 1:
        level = logging.INFO
    elif verbosity >= 2:
        level = logging.DEBUG
    out = stream or sys.stderr
    handler: logging.Handler
    if out.isatty():
        from rich.console import Console
        from rich.logging import RichHandler

        handler = RichHandler(console=Console(file=out), show_path=False, markup=False)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    else:
        handler = logging.StreamHandler(out)
        handler.setFormatter(logging.Formatter(PLAIN_FORMAT))
    handler.addFilter(SecretMaskFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # third-party chatter stays at WARNING unless -vv
    for noisy in ("urllib3", "msal", "simple_salesforce", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbosity >= 3 else logging.WARNING)
