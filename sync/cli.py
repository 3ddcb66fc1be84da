"""The ``kamsync`` command line.

``kamsync [--config PATH] COMMAND``.  Commands live in :mod:`sync.commands`, one module each,
and register themselves through ``register(subparsers)``.  Exit codes: 0 success, 1 the run
failed (the message says what; nothing half-written), 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from config import secrets
from config.errors import ConfigError, KamsyncError, UsageError
from config.loader import config_path, load_config
from config.model import KamsyncConfig
from sync.commands import command_modules
from sync.logs import setup_logging
from sync.warehouse import kamsync_version

log = logging.getLogger("kamsync")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class App:
    """What a command needs: the parsed arguments and, loaded on first use, the configuration."""

    def __init__(self, args: argparse.Namespace, env: Mapping[str, str] | None = None) -> None:
        self.args = args
        self.env: Mapping[str, str] = os.environ if env is None else env
        self._config: KamsyncConfig | None = None
        self._local_config: KamsyncConfig | None = None

    @property
    def config_path(self) -> Path:
        """The configuration file in use."""
        return config_path(self.args.config, self.env)

    @property
    def config(self) -> KamsyncConfig:
        """The validated configuration (secrets it names are registered for masking)."""
        if self._config is None:
            self._config = self._load(check_env=True)
        return self._config

    @property
    def local_config(self) -> KamsyncConfig:
        """The configuration for a command that reaches no CRM (``status``, ``analyze``): the
        same checks, except that the credentials' environment variables need not be set."""
        if self._config is not None:
            return self._config
        if self._local_config is None:
            self._local_config = self._load(check_env=False)
        return self._local_config

    def _load(self, *, check_env: bool) -> KamsyncConfig:
        config = load_config(self.config_path, self.env, check_env=check_env)
        register_config_secrets(config, self.env)
        return config


Handler = Callable[[App], int]


def register_config_secrets(config: KamsyncConfig, env: Mapping[str, str]) -> None:
    """Register the value of every environment variable the configuration names as a secret."""
    for source in config.sources:
        for name, value in source.model_dump().items():
            if name.endswith("_env") and isinstance(value, str) and env.get(value):
                secrets.register(env[value])


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}\nTry '{self.prog} --help'.")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every registered command."""
    parser = _Parser(
        prog="kamsync",
        description="Key account management analytics for Salesforce and Dynamics 365.",
    )
    parser.add_argument("--version", action="version", version=f"kamsync {kamsync_version()}")
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="configuration file (default: $KAMSYNC_CONFIG, else ./kamsync.toml)",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    for module in command_modules():
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    setup_logging(args.verbose)
    app = App(args)
    handler: Handler = args.handler
    try:
        return handler(app)
    except ConfigError as exc:
        print(f"kamsync: {secrets.mask(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KamsyncError as exc:
        print(f"kamsync: error: {secrets.mask(str(exc))}", file=sys.stderr)
        log.debug("failure detail", exc_info=True)
        return exc.exit_code
    except KeyboardInterrupt:
        print("kamsync: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: say so, without secrets, with detail on -v
        print(f"kamsync: internal error: {secrets.mask(repr(exc))}", file=sys.stderr)
        log.info("internal error", exc_info=True)
        return EXIT_FAILED


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
