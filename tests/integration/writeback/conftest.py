"""Write-back against the emulator: a scored warehouse built once, a fresh org per test.

The session fixture generates the seeded world, syncs the Salesforce org with the real engine,
adds the Dataverse org's accounts to ``crm.accounts``, and runs the analysis (as-of date and
scoring time fixed).  Each test then gets a fresh emulator serving the same world (same seed,
same ids, no score records yet) and its own copy of that warehouse, through :class:`Bench`.

After every test, the emulator's write log must show writes to kamsync's custom objects only.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests

from analytics.runner import run_analysis
from config.model import KamsyncConfig
from connectors.emulator.emulator import Emulator
from connectors.http import CrmSession
from sync.warehouse import Warehouse
from tests.integration.sync_support import (
    dynamics_env,
    dynamics_source,
    load,
    salesforce_env,
    salesforce_source,
    sync_in_process,
    write_sources_config,
)
from writeback.crm import CrmTarget
from writeback.payload import TargetMap
from writeback.plan import SourcePlan
from writeback.runner import (
    SourceConfig,
    WritebackResult,
    default_target_factory,
    run_writeback,
)

SEED = 11
ACCOUNTS = 300
AS_OF = date(2025, 6, 30)
SCORED_AT = datetime(2025, 6, 30, 18, 30, 15, 123456, tzinfo=UTC)
SF_OBJECT = "KAM_Account_Score__c"
DV_TABLE = "kam_accountscore"
OWN_OBJECTS = frozenset({SF_OBJECT, DV_TABLE})


def env_for(emulator: Emulator) -> dict[str, str]:
    """The environment variables the test configs name."""
    return {**salesforce_env(emulator), **dynamics_env(emulator)}


def write_config(directory: Path, emulator: Emulator, extra: str = "") -> Path:
    """A kamsync.toml with the emulator's two orgs as sources ``sf`` and ``dv``."""
    retries = "max_retries = 8"
    sources = salesforce_source(emulator, "sf", retries) + dynamics_source(emulator, "dv", retries)
    return write_sources_config(
        directory, f"{sources}\n[analytics]\nas_of = {AS_OF.isoformat()}\n{extra}\n"
    )


def _add_dataverse_accounts(con: duckdb.DuckDBPyConnection, emulator: Emulator) -> None:
    """The Dataverse org's live accounts as crm.accounts rows of source ``dv``."""
    rows = [
        (
            f"dv:{r['accountid']}",
            "dv",
            r["accountid"],
            r.get("name"),
            r.get("address1_country"),
            r.get("revenue"),
            r.get("numberofemployees"),
            r.get("new_walletestimate"),
        )
        for r in emulator.world.dynamics.live("account")
        if r.get("statecode", 0) == 0
    ]
    con.executemany(
        "insert into crm.accounts (account_key, source, source_id, name, country, "
        "annual_revenue, employees, wallet_estimate_crm) values (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


@pytest.fixture(scope="session")
def scored_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding a synced and analysed warehouse of the seeded world."""
    directory = tmp_path_factory.mktemp("writeback-template")
    with Emulator(seed=SEED, accounts=ACCOUNTS, as_of=AS_OF) as emulator:
        env = env_for(emulator)
        config = load(write_config(directory, emulator), env)
        only_sf = config.model_copy(
            update={"sources": tuple(s for s in config.sources if s.kind == "salesforce")}
        )
        result = sync_in_process(only_sf, env)
        assert result.ok, [s.error for s in result.sources]
        with Warehouse(config.warehouse).session(job="analyze") as con:
            _add_dataverse_accounts(con, emulator)
            run_analysis(con, config.analytics, now=SCORED_AT)
    (directory / "kamsync.toml").unlink()
    return directory


@dataclass
class Bench:
    """A fresh emulator, a copy of the scored warehouse, a config, and ways to run write-back."""

    emulator: Emulator
    directory: Path
    env: dict[str, str]
    extra: str = ""
    sleeps: list[float] = field(default_factory=list)

    @property
    def config_path(self) -> Path:
        return self.directory / "kamsync.toml"

    @property
    def config(self) -> KamsyncConfig:
        return load(write_config(self.directory, self.emulator, self.extra), self.env)

    @property
    def engine(self) -> Path:
        return self.config.warehouse.work_path

    def factory(
        self, wrap: Callable[[CrmTarget], CrmTarget] | None = None
    ) -> Callable[[SourceConfig, TargetMap], CrmTarget]:
        base = default_target_factory(self.config, env=self.env, sleep=self.sleeps.append)

        def open_target(source: SourceConfig, target: TargetMap) -> CrmTarget:
            opened = base(source, target)
            return wrap(opened) if wrap is not None else opened

        return open_target

    def run(
        self,
        *,
        source: str | None = None,
        dry_run: bool = False,
        plan_file: Path | None = None,
        wrap: Callable[[CrmTarget], CrmTarget] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> WritebackResult:
        return run_writeback(
            self.config,
            source=source,
            dry_run=dry_run,
            plan_file=plan_file,
            config_file=str(self.config_path),
            open_target=self.factory(wrap),
            should_stop=should_stop,
        )

    def run_until_ok(
        self, source: str, watch: Callable[[CrmTarget], object], attempts: int = 4
    ) -> list[WritebackResult]:
        """Runs of ``source``'s write-back, each target shown to ``watch``, until one succeeds
        or ``attempts`` were made (a fault-ridden push may need a rerun)."""

        def wrap(target: CrmTarget) -> CrmTarget:
            watch(target)
            return target

        results = [self.run(source=source, wrap=wrap)]
        while not results[-1].ok and len(results) < attempts:
            results.append(self.run(source=source, wrap=wrap))
        return results

    def sql(self, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(self.engine))
        try:
            return con.execute(query, params or []).fetchall()
        finally:
            con.close()

    def log(self, run_id: str) -> dict[str, dict[str, Any]]:
        rows = self.sql(
            "select external_id, action, status, before, after, error_code, error_message, "
            "method from ops.writeback_log where run_id = ?",
            [run_id],
        )
        names = ("action", "status", "before", "after", "error_code", "error_message", "method")
        return {r[0]: dict(zip(names, r[1:], strict=True)) for r in rows}

    def ledger_payloads(self, source: str) -> dict[str, Any]:
        """External id -> the payload the ledger holds as last written to ``source``."""
        return {
            r[0]: json.loads(r[1])
            for r in self.sql(
                "select external_id, payload from ops.writeback_ledger where source = ?", [source]
            )
        }

    def ledger(self, source: str) -> dict[str, str]:
        return dict(
            self.sql(
                "select external_id, payload_hash from ops.writeback_ledger where source = ?",
                [source],
            )
        )

    def change_scores(self, source: str, count: int, *, offset: int = 0) -> list[str]:
        """Move the health score of ``count`` accounts of ``source``; their account keys."""
        keys = [
            r[0]
            for r in self.sql(
                "select account_key from kam.account_scores where source = ? "
                "order by account_key limit ? offset ?",
                [source, count, offset],
            )
        ]
        self.sql(
            "update kam.account_scores set health_score = coalesce(health_score, 0) + 1.25 "
            "where account_key in (select unnest(?))",
            [keys],
        )
        return keys

    def sf_records(self) -> dict[str, dict[str, Any]]:
        store = self.emulator.world.salesforce
        return {r["KAM_Ext_Id__c"]: r for r in store.live(SF_OBJECT)}

    def dv_records(self) -> dict[str, dict[str, Any]]:
        store = self.emulator.world.dynamics
        return {r["kam_extid"]: r for r in store.live(DV_TABLE)}

    def writes(self, crm: str | None = None) -> int:
        return len(self.emulator.write_log(crm))


def assert_a_rerun_writes_nothing(bench: Bench, source: str) -> WritebackResult:
    """Write-back of ``source`` run again makes no API call and writes nothing; that run."""
    writes = bench.writes()
    again = bench.run(source=source)
    assert again.sources[0].api_calls == 0
    assert bench.writes() == writes
    return again


def assert_applied_as_planned(
    bench: Bench, plan: SourcePlan, run_id: str, stored: dict[str, dict[str, Any]]
) -> None:
    """Run ``run_id`` logged exactly the updates of ``plan``, before and after as planned, and
    the CRM now holds each one's planned values (``stored``: its score records by external id,
    normalised)."""
    log = bench.log(run_id)
    assert {r.external_id: ("update", r.after, r.before) for r in plan.rows} == {
        k: (v["action"], json.loads(v["after"]), json.loads(v["before"])) for k, v in log.items()
    }
    assert {r.external_id: dict(r.after) for r in plan.rows} == {k: stored[k] for k in log}


@contextlib.contextmanager
def _bench(template: Path, directory: Path, *, with_score_object: bool = True) -> Iterator[Bench]:
    for item in template.iterdir():
        shutil.copy2(item, directory / item.name)
    with Emulator(
        seed=SEED, accounts=ACCOUNTS, as_of=AS_OF, with_score_object=with_score_object
    ) as emulator:
        yield Bench(emulator, directory, env_for(emulator))
        foreign = [
            (crm, e.table, e.api, e.operation)
            for crm, e in emulator.write_log_entries()
            if e.table not in OWN_OBJECTS
        ]
        assert foreign == [], "a write reached an object that is not kamsync's own"


@pytest.fixture
def bench(scored_template: Path, tmp_path: Path) -> Iterator[Bench]:
    """A fresh emulator of the same world and a private copy of the scored warehouse."""
    with _bench(scored_template, tmp_path) as made:
        yield made


@pytest.fixture
def bare_bench(scored_template: Path, tmp_path: Path) -> Iterator[Bench]:
    """As :func:`bench`, with neither org holding kamsync's score object yet."""
    with _bench(scored_template, tmp_path, with_score_object=False) as made:
        yield made


class LostAnswers:
    """Sees every answer a session receives; loses the answer to the first write (a request with
    one of ``write_methods``) after the CRM applied it, as a reset connection would."""

    def __init__(self, session: CrmSession, write_methods: tuple[str, ...]) -> None:
        self.session = session
        self.write_methods = write_methods
        self.statuses: list[int] = []
        self.dropped = 0
        session.on_response.append(self._see)

    def _see(self, response: requests.Response) -> None:
        self.statuses.append(response.status_code)
        if self.dropped == 0 and response.ok and response.request.method in self.write_methods:
            self.dropped += 1
            raise requests.ConnectionError("connection reset after the request was applied")

    @property
    def resets(self) -> int:
        """Retries that were neither a 429 nor the dropped answer: connection resets."""
        return self.session.retries - self.statuses.count(429) - self.dropped
