"""Helpers for sync tests against the emulator: configs, runs, and exact comparisons."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from config.loader import load_config
from config.model import (
    DEFAULT_DYNAMICS_TABLES,
    DEFAULT_SALESFORCE_OBJECTS,
    DynamicsSource,
    KamsyncConfig,
    SalesforceSource,
)
from connectors.base import Connector
from connectors.dynamics import DynamicsConnector
from connectors.emulator.emulator import Emulator
from connectors.emulator.server import Request
from connectors.emulator.store import Store
from connectors.salesforce import SalesforceConnector
from sync.engine import SyncEngine, SyncResult
from sync.warehouse import Warehouse

# the objects and tables a source with the default configuration syncs
SALESFORCE_OBJECTS = DEFAULT_SALESFORCE_OBJECTS
DYNAMICS_TABLES = DEFAULT_DYNAMICS_TABLES


def _env(emulator: Emulator, crm: str, prefix: str) -> dict[str, str]:
    """``KAMSYNC_<prefix>_CLIENT_ID`` and ``_CLIENT_SECRET`` set to ``crm``'s emulated secrets."""
    creds = emulator.credentials()[crm]
    return {
        f"KAMSYNC_{prefix}_CLIENT_ID": creds["client_id"],
        f"KAMSYNC_{prefix}_CLIENT_SECRET": creds["client_secret"],
    }


def salesforce_env(emulator: Emulator) -> dict[str, str]:
    """The environment variables the generated config names, set to the emulator's secrets."""
    return _env(emulator, "salesforce", "SF")


def dynamics_env(emulator: Emulator) -> dict[str, str]:
    """The environment variables the generated Dynamics config names."""
    return _env(emulator, "dynamics", "DV")


def _source(emulator: Emulator, name: str, kind: str, where: str, prefix: str, extra: str) -> str:
    """A ``[[sources]]`` block: ``where`` its address keys, secrets from ``KAMSYNC_<prefix>_*``."""
    return f"""
[[sources]]
name = "{name}"
kind = "{kind}"
{where}
client_id_env = "KAMSYNC_{prefix}_CLIENT_ID"
client_secret_env = "KAMSYNC_{prefix}_CLIENT_SECRET"
ca_bundle = "{emulator.ca_file}"
{extra}
"""


def salesforce_source(emulator: Emulator, name: str = "sf", extra: str = "") -> str:
    """A ``[[sources]]`` block for the emulator's Salesforce org (``extra``: more of its keys)."""
    creds = emulator.credentials()["salesforce"]
    where = f'instance_url = "{creds["instance_url"]}"\nlogin_url = "{creds["login_url"]}"'
    return _source(emulator, name, "salesforce", where, "SF", extra)


def dynamics_source(emulator: Emulator, name: str = "dv", extra: str = "") -> str:
    """A ``[[sources]]`` block for the emulator's Dataverse org."""
    creds = emulator.credentials()["dynamics"]
    where = f'url = "{creds["url"]}"\nauthority = "{creds["authority"]}"'
    return _source(emulator, name, "dynamics", where, "DV", extra)


def write_sources_config(directory: Path, sources: str) -> Path:
    """A kamsync.toml with a warehouse that never waits for its lock, then ``sources`` (its
    ``[[sources]]`` blocks and any further tables)."""
    path = directory / "kamsync.toml"
    path.write_text(
        f"""
[warehouse]
path = "kamsync.duckdb"
lock_wait_seconds = 0
{sources}""",
        encoding="utf-8",
    )
    return path


def write_salesforce_config(directory: Path, emulator: Emulator, extra: str = "") -> Path:
    """A kamsync.toml with one Salesforce source pointing at the emulator."""
    return write_sources_config(directory, salesforce_source(emulator, "sf", extra))


def write_dynamics_config(
    directory: Path, emulator: Emulator, extra: str = "", *, with_salesforce: bool = False
) -> Path:
    """A kamsync.toml with a Dataverse source (and the Salesforce org too when asked)."""
    salesforce = salesforce_source(emulator) if with_salesforce else ""
    return write_sources_config(directory, salesforce + dynamics_source(emulator, "dv", extra))


def warehouse_file(directory: Path) -> Path:
    """The warehouse a config written into ``directory`` names."""
    return directory / "kamsync.duckdb"


def load(path: Path, env: Mapping[str, str]) -> KamsyncConfig:
    """The validated configuration at ``path`` with ``env`` as the environment."""
    return load_config(path, env)


def set_env(monkeypatch: pytest.MonkeyPatch, env: Mapping[str, str]) -> None:
    """Set ``env`` in this process's environment for the test (for an in-process CLI run)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def sync_in_process(
    config: KamsyncConfig, env: Mapping[str, str], *, full: bool = False
) -> SyncResult:
    """Run the engine in this process, with connectors that never really sleep between retries."""

    def factory(source: Any) -> Connector:
        if isinstance(source, DynamicsSource):
            return DynamicsConnector(source, env=env, sleep=lambda _seconds: None)
        assert isinstance(source, SalesforceSource)
        return SalesforceConnector(source, env=env, sleep=lambda _seconds: None)

    with Warehouse(config.warehouse).session(job="sync") as con:
        return SyncEngine(config, con, connector_factory=factory).run(full=full)


def kamsync(config: Path, *args: str, env: Mapping[str, str]) -> subprocess.Popen[str]:
    """``kamsync --config CONFIG ARGS`` as a child process (stdout and stderr captured)."""
    child_env = {**os.environ, **env}
    return subprocess.Popen(
        [sys.executable, "-m", "sync", "--config", str(config), *args],
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def killed_at_request(
    emulator: Emulator, crm: str, request: int, start: Callable[[], subprocess.Popen[str]]
) -> subprocess.Popen[str]:
    """Start a child with ``start`` and SIGKILL it when ``crm`` receives its ``request``-th
    request (before answering it); returns the child once it has ended, killed or finished."""
    started = threading.Event()
    children: list[subprocess.Popen[str]] = []
    seen = 0
    lock = threading.Lock()

    def observe(_: Request) -> None:
        nonlocal seen
        with lock:
            seen += 1
            hit = seen == request
        if hit and started.wait(timeout=60):
            children[0].send_signal(signal.SIGKILL)

    stop = emulator.observe_requests(crm, observe)
    try:
        children.append(start())
        started.set()
        children[0].communicate(timeout=300)
    finally:
        stop()
    return children[0]


def comparable(value: Any) -> Any:
    """A value as read from the warehouse or a store, in one form to compare: numbers as
    normalised Decimals, datetimes as naive UTC."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, date):
        return value
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value)).normalize()
    return value


def query_set(db: Path, sql: str) -> set[tuple[Any, ...]]:
    """The rows ``sql`` returns from the warehouse at ``db``, values made :func:`comparable`."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {tuple(comparable(v) for v in row) for row in con.execute(sql).fetchall()}
    finally:
        con.close()


def snapshot(db: Path, source: str, tables: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """Row counts and latest load times of ``source``'s raw tables, and a fingerprint of
    ``crm.accounts``: what a failed run must leave as it was."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        counts = [
            con.execute(f'select count(*), max(_loaded_at) from raw_{source}."{t}"').fetchall()[0]
            for t in tables
        ]
        crm = con.execute(
            "select count(*), sum(hash(account_key, name)) from crm.accounts"
        ).fetchall()[0]
    finally:
        con.close()
    return [*counts, crm]


def raw_rows(db: Path, source: str, obj: str, key: str = "Id") -> dict[str, dict[str, Any]]:
    """Live rows of a raw table, by ``key``, values normalised, meta columns left out."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        cursor = con.execute(f'select * from "raw_{source}"."{obj}" where not _is_deleted')
        names = [d[0] for d in cursor.description or []]
        rows = cursor.fetchall()
    finally:
        con.close()
    keep = [n for n in names if not n.startswith("_")]
    return {
        row[names.index(key)]: {n: comparable(row[names.index(n)]) for n in keep} for row in rows
    }


def store_rows(store: Store, obj: str, columns: list[str]) -> dict[str, dict[str, Any]]:
    """Live records of the emulated org, by Id, restricted to ``columns`` and normalised."""
    return {
        record["Id"]: {c: comparable(record.get(c)) for c in columns} for record in store.live(obj)
    }


def _columns(landed: dict[str, dict[str, Any]], key: str) -> list[str]:
    """The columns the landed rows have (just ``key`` when none landed)."""
    return list(next(iter(landed.values())).keys()) if landed else [key]


def _assert_same_records(
    table: str, landed: dict[str, dict[str, Any]], expected: dict[str, dict[str, Any]]
) -> None:
    """The landed rows are the expected ones: the same ids, each with the same values."""
    assert landed.keys() == expected.keys(), (
        f"{table}: ids differ ({len(landed.keys() - expected.keys())} extra, "
        f"{len(expected.keys() - landed.keys())} missing)"
    )
    different = [i for i in expected if expected[i] != landed[i]]
    assert not different, (
        f"{table}: {len(different)} records differ, e.g. {different[0]}: "
        f"{expected[different[0]]} != {landed[different[0]]}"
    )


def assert_keys_unique(
    db: Path, schema: str, keys: Mapping[str, str], *, filled: bool = False
) -> None:
    """Each table of ``schema`` in ``keys`` (table -> its key column) holds every key once, and
    holds rows when ``filled``."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        for table, key in keys.items():
            total, distinct = con.execute(
                f'select count(*), count(distinct "{key}") from "{schema}"."{table}"'
            ).fetchall()[0]
            assert total == distinct, f"{table}: {total - distinct} duplicate rows"
            assert total > 0 or not filled, f"{table}: no rows"
    finally:
        con.close()


def assert_raw_matches_store(
    db: Path, source: str, store: Store, objects: tuple[str, ...] = SALESFORCE_OBJECTS
) -> None:
    """Every live record of every object landed with exactly the emulator's values; no extra."""
    for obj in objects:
        landed = raw_rows(db, source, obj)
        _assert_same_records(obj, landed, store_rows(store, obj, _columns(landed, "Id")))


def no_duplicates(db: Path, source: str, objects: tuple[str, ...] = SALESFORCE_OBJECTS) -> None:
    """Each raw table holds every id once."""
    assert_keys_unique(db, f"raw_{source}", dict.fromkeys(objects, "Id"))


def crm_keys(db: Path, table: str, key: str) -> set[str]:
    """The keys of a crm table."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {r[0] for r in con.execute(f"select {key} from crm.{table}").fetchall()}
    finally:
        con.close()


# --------------------------------------------------------------------------- Dataverse


def dataverse_store_rows(store: Store, table: str, columns: list[str]) -> dict[str, dict[str, Any]]:
    """Live records of the emulated org by key, restricted to ``columns``: attribute values as
    stored, and for a choice's ``<name>name`` column the label its option set gives the code."""
    definition = store.tables[table].definition
    labels: dict[str, dict[Any, str]] = {}
    for column in columns:
        attribute = definition.field(column.removesuffix("name"))
        if definition.field(column) is None and attribute is not None and attribute.options:
            labels[column] = dict(attribute.options)

    def value(record: dict[str, Any], column: str) -> Any:
        if column in labels:
            code = record.get(column.removesuffix("name"))
            return None if code is None else labels[column].get(code)
        return comparable(record.get(column))

    key = definition.key
    return {r[key]: {c: value(r, c) for c in columns} for r in store.live(table)}


def assert_dataverse_matches_store(
    db: Path, source: str, store: Store, tables: tuple[str, ...] = DYNAMICS_TABLES
) -> None:
    """Every live record of every table landed with exactly the emulator's values; no extra."""
    for table in tables:
        key = store.tables[table].definition.key
        landed = raw_rows(db, source, table, key)
        _assert_same_records(
            table, landed, dataverse_store_rows(store, table, _columns(landed, key))
        )


def dataverse_no_duplicates(
    db: Path, source: str, store: Store, tables: tuple[str, ...] = DYNAMICS_TABLES
) -> None:
    """Each Dataverse raw table holds every id once."""
    assert_keys_unique(db, f"raw_{source}", {t: store.tables[t].definition.key for t in tables})


# --------------------------------------------------------------------------- either CRM


@dataclass(frozen=True)
class Crm:
    """One CRM as the sync tests see it, so that a test can run the same against either."""

    org: str  # the emulator's name for it
    source: str  # the configured source's name, and so its raw schema raw_<source>
    tables: tuple[str, ...]  # what a source with the default configuration syncs
    env: Callable[[Emulator], dict[str, str]]
    write_config: Callable[[Path, Emulator, str], Path]
    secret_env: str  # the variable holding its client secret
    issued_tokens: Callable[[Emulator], list[str]]  # every access token the org handed out
    login_refused: str  # what the error says when the org refuses a wrong client secret
    malformed: str  # the error when the first answer of a sync is not valid JSON
    small_pages: str  # source keys that make a sync page in small steps
    seed: int  # the world its sync tests run on: the emulator's seed
    accounts: int  # and its number of accounts

    def emulator(self) -> Emulator:
        """A fresh emulator serving the world this CRM's sync tests run on (to be entered)."""
        return Emulator(seed=self.seed, accounts=self.accounts)

    def store(self, emulator: Emulator) -> Store:
        """The org's live store."""
        world = emulator.world
        return world.salesforce if self.org == "salesforce" else world.dynamics

    def assert_synced_exactly(self, db: Path, store: Store) -> None:
        """The raw tables hold exactly the org's live records, each once."""
        if self.org == "salesforce":
            assert_raw_matches_store(db, self.source, store, self.tables)
            no_duplicates(db, self.source, self.tables)
        else:
            assert_dataverse_matches_store(db, self.source, store, self.tables)
            dataverse_no_duplicates(db, self.source, store, self.tables)


SALESFORCE = Crm(
    org="salesforce",
    source="sf",
    tables=SALESFORCE_OBJECTS,
    env=salesforce_env,
    write_config=write_salesforce_config,
    secret_env="KAMSYNC_SF_CLIENT_SECRET",
    issued_tokens=lambda emulator: list(emulator.salesforce.sessions.sessions),
    login_refused="invalid_client",
    malformed="sf: query User: the answer is not valid JSON",
    small_pages="batch_size = 200\nbulk_threshold = 1500",
    seed=11,
    accounts=600,
)
DYNAMICS = Crm(
    org="dynamics",
    source="dv",
    tables=DYNAMICS_TABLES,
    env=dynamics_env,
    write_config=write_dynamics_config,
    secret_env="KAMSYNC_DV_CLIENT_SECRET",
    # the emulated tenant keeps the tokens it issued privately
    issued_tokens=lambda emulator: list(emulator.dynamics.tokens._valid),
    login_refused="AADSTS7000215",
    malformed="dv: read systemuser: the answer is not valid JSON",
    small_pages="page_size = 200",
    seed=13,
    accounts=500,
)
BOTH_CRMS = (
    pytest.param(SALESFORCE, id="salesforce"),
    pytest.param(DYNAMICS, id="dynamics"),
)


def assert_killed_sync_resumes_exactly(
    emulator: Emulator, crm: Crm, config: Path, env: Mapping[str, str], kill_at: int
) -> None:
    """A ``kamsync sync`` SIGKILLed at ``crm``'s ``kill_at``-th request, then run again, leaves
    the raw tables holding exactly the org's live records."""
    child = killed_at_request(emulator, crm.org, kill_at, lambda: kamsync(config, "sync", env=env))
    assert child.returncode == -signal.SIGKILL

    rerun = kamsync(config, "sync", env=env)
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    crm.assert_synced_exactly(warehouse_file(config.parent), crm.store(emulator))
