"""``kamsync emulator serve``: run the loopback CRM emulator until SIGTERM or SIGINT.

When both orgs listen it prints exactly one JSON line on stdout (CA file, URLs, credentials;
see :meth:`connectors.emulator.emulator.Emulator.credentials`), then logs one line per request
on stderr.  The control endpoint ``<url>/__emulator/`` mutates the world, reads the write log
and changes faults (see :mod:`connectors.emulator.control`).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import signal
import sys
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from config.errors import UsageError
from connectors.emulator.emulator import Emulator
from connectors.emulator.faults import FaultPlan, FaultSpecError

if TYPE_CHECKING:
    from sync.cli import App

MAX_ACCOUNTS = 1_000_000
"""The largest world ``emulator serve`` (and so ``demo``) will generate."""


def serve_argv(*options: str) -> list[str]:
    """The command line of ``kamsync emulator serve OPTIONS`` with this interpreter, for running
    the emulator as a child process (the demo, benchmarks, tests)."""
    return [sys.executable, "-m", "sync", "emulator", "serve", *options]


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``emulator serve``."""
    parser = commands.add_parser("emulator", help="run the built-in Salesforce / Dynamics emulator")
    actions = parser.add_subparsers(dest="emulator_action", metavar="ACTION")
    actions.required = True
    serve = actions.add_parser(
        "serve",
        help="serve a synthetic KAM world as a Salesforce org and a Dynamics org on loopback",
        description="Prints one JSON line (CA file, URLs, credentials) when ready; stops on "
        "SIGTERM or SIGINT.",
    )
    serve.add_argument(
        "--port", type=int, default=0, help="Salesforce port (Dynamics: +1); 0 = any free port"
    )
    serve.add_argument("--seed", type=int, default=7, help="world seed (default 7)")
    serve.add_argument(
        "--accounts", type=int, default=2000, help="accounts across both orgs (default 2000)"
    )
    serve.add_argument(
        "--faults", metavar="SPEC", help="e.g. 429:0.05,503:0.02,reset:0.01,slow:0.01:2s"
    )
    serve.add_argument(
        "--fault-seed", type=int, default=0, help="seed of the fault draws (default 0)"
    )
    serve.add_argument(
        "--as-of", metavar="DATE", help="the world's today, YYYY-MM-DD (default: today)"
    )
    serve.add_argument(
        "--workdir",
        metavar="DIR",
        help="where the CA and key files go (default: a temporary directory)",
    )
    serve.add_argument(
        "--no-score-object",
        action="store_true",
        help="start without KAM_Account_Score__c (create it through the Tooling API)",
    )
    serve.set_defaults(handler=serve_command)


@dataclass(frozen=True)
class ServeOptions:
    """Validated ``emulator serve`` arguments."""

    port: int
    seed: int
    accounts: int
    faults: str | None
    fault_seed: int
    as_of: date | None
    workdir: Path | None
    with_score_object: bool


def parse_options(args: argparse.Namespace) -> ServeOptions:
    """Check the arguments; UsageError (exit 2) names the bad one."""
    if not 0 <= args.port <= 65534:
        raise UsageError(f"--port: {args.port} is not a port number (0 to 65534)")
    if not 1 <= args.accounts <= MAX_ACCOUNTS:
        raise UsageError(f"--accounts: {args.accounts} is not between 1 and {MAX_ACCOUNTS}")
    try:
        FaultPlan.parse(args.faults, args.fault_seed)
    except FaultSpecError as exc:
        raise UsageError(f"--faults: {exc}") from None
    as_of = None
    if args.as_of:
        try:
            as_of = date.fromisoformat(args.as_of)
        except ValueError:
            raise UsageError(f"--as-of: {args.as_of!r} is not a date such as 2024-06-30") from None
    return ServeOptions(
        port=args.port,
        seed=args.seed,
        accounts=args.accounts,
        faults=args.faults or None,
        fault_seed=args.fault_seed,
        as_of=as_of,
        workdir=Path(args.workdir) if args.workdir else None,
        with_score_object=not args.no_score_object,
    )


def serve_command(app: App) -> int:
    """Serve until SIGTERM / SIGINT; exit 0 after a clean stop."""
    options = parse_options(app.args)
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        emulator = _start(options)
        # this process only serves: move the world's millions of long-lived objects out of the
        # cyclic collector's reach, so that serving's allocations do not rescan them
        gc.freeze()
        try:
            print(json.dumps(emulator.credentials()), flush=True)
            logging.getLogger("kamsync.emulator").setLevel(logging.INFO)
            while not stop.wait(1.0):
                pass
            print("kamsync: emulator stopping", file=sys.stderr, flush=True)
        finally:
            emulator.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _start(options: ServeOptions) -> Emulator:
    emulator = Emulator(
        seed=options.seed,
        accounts=options.accounts,
        as_of=options.as_of,
        faults=options.faults,
        fault_seed=options.fault_seed,
        port=options.port,
        workdir=options.workdir,
        with_score_object=options.with_score_object,
    )
    try:
        return emulator.start()
    except OSError as exc:
        emulator.stop()
        raise UsageError(f"--port {options.port}: cannot listen: {exc.strerror or exc}") from None
