"""``kamsync demo``: the whole loop against the built-in emulator, with no CRM and no credentials.

It starts ``kamsync emulator serve`` (a Salesforce org and a Dynamics org on loopback, in a child
process so that serving and syncing use both cores), writes ``DIR/kamsync.toml`` for them, runs
sync, analyze and write-back, and prints what came out.  The emulator's throwaway credentials
reach the pipeline the way real ones do, through environment variables that the configuration
names; they are never written to a file.

Every demo starts from a fresh world, so it also starts from a fresh warehouse: files a previous
demo left in DIR are replaced, and a DIR holding anything else is refused.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

import duckdb
from rich.console import Console
from rich.table import Table

from config import secrets
from config.errors import RunFailedError, UsageError
from config.loader import load_config
from config.model import KamsyncConfig
from sync import jobs
from sync.commands.emulator_cmd import MAX_ACCOUNTS, serve_argv
from sync.output import report_console
from sync.plugins import load_plugins
from sync.progress import LogProgress, TerminalProgress
from sync.signals import GracefulStop
from sync.warehouse import Warehouse

if TYPE_CHECKING:
    from sync.cli import App

MARKER = ".kamsync-demo"
"""The file that says a directory was made by ``kamsync demo`` (and may be refreshed by it)."""
OWN_FILES = (
    "kamsync.toml",
    "kamsync.duckdb",
    "kamsync.duckdb.wal",
    ".kamsync.duckdb.engine",
    ".kamsync.duckdb.engine.wal",
    ".kamsync.duckdb.lock",
    "emulator.log",
)
OWN_DIRS = ("emulator",)
ENV_NAMES = {
    "KAMSYNC_DEMO_SF_CLIENT_ID": ("salesforce", "client_id"),
    "KAMSYNC_DEMO_SF_CLIENT_SECRET": ("salesforce", "client_secret"),
    "KAMSYNC_DEMO_DV_CLIENT_ID": ("dynamics", "client_id"),
    "KAMSYNC_DEMO_DV_CLIENT_SECRET": ("dynamics", "client_secret"),
}
TIERS = ("key", "growth", "maintain", "non_key")


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``demo``."""
    parser = commands.add_parser(
        "demo",
        help="see it work: emulated Salesforce + Dynamics orgs, sync, analyze, write-back",
        description="Start the built-in emulator (no CRM or credentials needed), write "
        "DIR/kamsync.toml for it, run sync, analyze and writeback, and print a summary.",
    )
    parser.add_argument(
        "--dir",
        metavar="DIR",
        default="kamsync-demo",
        help="where the configuration and the warehouse go (default: ./kamsync-demo)",
    )
    parser.add_argument(
        "--accounts",
        type=int,
        default=2000,
        help="accounts across both emulated orgs (default 2000)",
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the world (default 7)")
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="leave the emulator up afterwards, until Ctrl-C, to explore",
    )
    parser.set_defaults(handler=demo_command)


@dataclass(frozen=True)
class DemoOptions:
    """Validated ``demo`` arguments."""

    directory: Path
    accounts: int
    seed: int
    keep_running: bool


def parse_options(args: argparse.Namespace) -> DemoOptions:
    """Check the arguments; UsageError (exit 2) names the bad one."""
    if not 1 <= args.accounts <= MAX_ACCOUNTS:
        raise UsageError(f"--accounts: {args.accounts} is not between 1 and {MAX_ACCOUNTS:,}")
    directory = Path(args.dir)
    check_directory(directory)
    return DemoOptions(directory, args.accounts, args.seed, args.keep_running)


def check_directory(directory: Path) -> None:
    """A directory the demo may use: missing, empty, or made by an earlier demo."""
    if not directory.exists():
        return
    if not directory.is_dir():
        raise UsageError(f"--dir: {directory} exists and is not a directory")
    if (directory / MARKER).exists() or not any(directory.iterdir()):
        return
    raise UsageError(
        f"--dir: {directory} already holds files that kamsync demo did not make; "
        "choose an empty or new directory"
    )


def prepare_directory(directory: Path) -> None:
    """Create the directory, or clear what an earlier demo left in it."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in OWN_FILES:
        (directory / name).unlink(missing_ok=True)
    for name in OWN_DIRS:
        shutil.rmtree(directory / name, ignore_errors=True)
    (directory / MARKER).write_text(
        "made by kamsync demo; the next demo in this directory replaces its files\n",
        encoding="utf-8",
    )


def demo_command(app: App) -> int:
    """Run the demo; exit 0, or raise (1: a step failed, 2: bad arguments)."""
    options = parse_options(app.args)
    prepare_directory(options.directory)
    out = report_console()
    err = Console(stderr=True)
    err.print(
        f"demo: starting the emulator with {options.accounts:,} accounts (seed {options.seed})",
        highlight=False,
    )
    with GracefulStop() as stop, emulator_process(options) as credentials:
        env = demo_environment(credentials)
        os.environ.update(env)  # how real secrets arrive: environment variables the config names
        for value in env.values():
            secrets.register(value)
        config_file = write_config(options.directory, credentials)
        config = load_config(config_file, os.environ)
        run_steps(config, lambda: stop.requested, err)
        print_summary(config, out)
        print_next_steps(options, config_file, out)
        if options.keep_running:
            wait_until_stopped(credentials, stop, out)
    return 0


# ---------------------------------------------------------------------- the emulator


@contextlib.contextmanager
def emulator_process(options: DemoOptions) -> Iterator[dict[str, Any]]:
    """Run ``kamsync emulator serve`` in a child process; yield its credentials line."""
    workdir = options.directory / "emulator"
    log_path = options.directory / "emulator.log"
    command = serve_argv(
        "--accounts", str(options.accounts), "--seed", str(options.seed), "--workdir", str(workdir)
    )
    with open(log_path, "w", encoding="utf-8") as log_file:
        child = subprocess.Popen(  # noqa: S603 (our own interpreter and fixed arguments)
            command, stdout=subprocess.PIPE, stderr=log_file, text=True, encoding="utf-8"
        )
        try:
            yield read_credentials(child.stdout, log_path)
        finally:
            stop_child(child)


def read_credentials(stdout: IO[str] | None, log_path: Path) -> dict[str, Any]:
    """The one JSON line the emulator prints when both orgs listen."""
    line = stdout.readline() if stdout is not None else ""
    try:
        credentials = json.loads(line) if line else None
    except json.JSONDecodeError:
        credentials = None
    if not isinstance(credentials, dict):
        tail = log_tail(log_path)
        raise RunFailedError(f"the emulator did not start (its log, {log_path}):\n{tail}")
    return credentials


def log_tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log file, for an error message."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def stop_child(child: subprocess.Popen[str]) -> None:
    """SIGTERM the emulator, wait for its clean stop, kill it if it will not."""
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    if child.stdout is not None:
        child.stdout.close()


def demo_environment(credentials: Mapping[str, Any]) -> dict[str, str]:
    """The environment variables the demo configuration names, filled from the emulator."""
    return {name: str(credentials[crm][key]) for name, (crm, key) in ENV_NAMES.items()}


def write_config(directory: Path, credentials: Mapping[str, Any]) -> Path:
    """DIR/kamsync.toml for the emulator's two orgs (no secrets: only variable names)."""
    sf, dv = credentials["salesforce"], credentials["dynamics"]
    ca_file = Path(credentials["ca_file"]).resolve()
    text = f"""# Written by kamsync demo for the emulator it started; the next demo rewrites it.
# Credentials come from the environment variables named here, which the demo sets.

[warehouse]
path = "kamsync.duckdb"

[[sources]]
name = "sf_demo"
kind = "salesforce"
instance_url = {json.dumps(sf["instance_url"])}
login_url = {json.dumps(sf["login_url"])}
client_id_env = "KAMSYNC_DEMO_SF_CLIENT_ID"
client_secret_env = "KAMSYNC_DEMO_SF_CLIENT_SECRET"
ca_bundle = {json.dumps(str(ca_file))}

[[sources]]
name = "d365_demo"
kind = "dynamics"
url = {json.dumps(dv["url"])}
authority = {json.dumps(dv["authority"])}
client_id_env = "KAMSYNC_DEMO_DV_CLIENT_ID"
client_secret_env = "KAMSYNC_DEMO_DV_CLIENT_SECRET"
ca_bundle = {json.dumps(str(ca_file))}

[analytics]
as_of = "today"

[writeback.sources.sf_demo]
enabled = true

[writeback.sources.d365_demo]
enabled = true
"""
    path = directory / "kamsync.toml"
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------- the pipeline


def run_steps(config: KamsyncConfig, should_stop: Callable[[], bool], err: Console) -> None:
    """Sync (with a live table on a terminal), analyze, write back; a failed step says which."""
    with contextlib.ExitStack() as stack:
        progress: TerminalProgress | LogProgress = (
            stack.enter_context(TerminalProgress()) if err.is_terminal else LogProgress()
        )
        jobs.run_pipeline(
            config,
            should_stop,
            report=lambda name, summary: err.print(
                f"demo: {name}: {summary}", highlight=False, soft_wrap=True
            ),
            overrides={"sync": functools.partial(jobs.sync_job, progress=progress)},
        )


# ---------------------------------------------------------------------- the summary


SUMMARY_ENTRY_POINT_GROUP = "kamsync.summaries"
"""Where the packages above ``sync`` offer their part of the demo's summary: a function
``(connection, console) -> None`` that prints tables read from the published warehouse."""

Summary = Callable[[duckdb.DuckDBPyConnection, Console], None]


def print_summary(config: KamsyncConfig, out: Console) -> None:
    """What the installed packages show of the marts (analytics: accounts by tier and health
    band, the biggest whitespace), then write-back and API calls per org."""
    con = Warehouse(config.warehouse).read_published()
    try:
        for summary in summaries():
            summary(con, out)
        out.print(org_table(con.execute(ORG_SQL).fetchall()))
    finally:
        con.close()


ORG_SQL = """
with accounts as (
    select source, count(*) as accounts from crm.accounts group by source
),
written as (
    select source, count(*) as records from ops.writeback_ledger group by source
),
calls as (
    select source, sum(calls_made) as calls from ops.api_usage group by source
)
select accounts.source, accounts.accounts, coalesce(written.records, 0),
    coalesce(calls.calls, 0)
from accounts
left join written on written.source = accounts.source
left join calls on calls.source = accounts.source
order by accounts.source
"""


def summaries() -> list[Summary]:
    """The summaries of the installed packages, in the order of their entry-point names."""
    found = load_plugins(SUMMARY_ENTRY_POINT_GROUP, "summary")
    return [cast(Summary, summary) for summary in found.values()]


def org_table(rows: list[tuple[Any, ...]]) -> Table:
    """Per org: accounts synced, score records written back, API calls used."""
    table = Table(title="per org")
    for header in ("source", "accounts", "score records written back", "API calls"):
        table.add_column(header, justify="left" if header == "source" else "right")
    for source, accounts, written, calls in rows:
        table.add_row(str(source), f"{accounts:,}", f"{written:,}", f"{int(calls):,}")
    return table


def print_next_steps(options: DemoOptions, config_file: Path, out: Console) -> None:
    """How to open the warehouse, and what to run next."""
    database = options.directory / "kamsync.duckdb"
    out.print(
        f"\nThe warehouse is {database}. Open it read-only while kamsync works on it:\n"
        f"  duckdb -readonly {database}\n"
        f"  python -c \"import duckdb; print(duckdb.connect('{database}', read_only=True)"
        ".sql('select tier, count(*) from kam.account_scores group by tier'))\"\n"
        f"The configuration it used: {config_file}; the README's analyst queries run on it as is.",
        highlight=False,
        soft_wrap=True,
    )


def wait_until_stopped(credentials: Mapping[str, Any], stop: GracefulStop, out: Console) -> None:
    """Keep the emulator up until Ctrl-C or SIGTERM."""
    sf, dv = credentials["salesforce"], credentials["dynamics"]
    out.print(
        f"\nThe emulator keeps running until Ctrl-C:\n"
        f"  Salesforce {sf['instance_url']}  (control: {sf['instance_url']}/__emulator/)\n"
        f"  Dynamics   {dv['url']}\n"
        f"  credentials: GET {sf['instance_url']}/__emulator/credentials; other commands need\n"
        f"  them in the variables {', '.join(ENV_NAMES)}\n"
        f"  CA file    {credentials['ca_file']}",
        highlight=False,
        soft_wrap=True,
    )
    stopped = threading.Event()
    while not stop.requested:
        stopped.wait(0.5)
