"""Write-back cost: API calls and time to push 100,000 changed rows to each CRM, then nothing.

    python bench/writeback_bench.py [--rows 100000]

An emulator serving two bare orgs (``--rows`` accounts each, plus kamsync's score objects) runs
in a child process; this process holds a warehouse whose ``kam.account_scores`` has ``--rows``
scored accounts per org (synthetic values, the accounts' real ids) and runs the real write-back
(``writeback.runner.run_writeback``) over TLS, per CRM and API:

1. *first push*: every record created;
2. *re-run, nothing changed*: must send nothing;
3. *push changed*: every account's health score moved, every record updated.

Salesforce is measured with the default choice (Bulk API 2.0 above ``bulk_threshold``) and with
sObject Collections forced; Dataverse with UpsertMultiple (chunks of 1,000) and with ``$batch``
forced.  Reports wall seconds, API requests (as the HTTP session counted them, retries
included), records per second, the client's CPU seconds and the emulator's, and checks every
record arrived exactly once.  Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script, bench/ is on the path but not the root

from bench.sync_harness import source_block, source_env  # noqa: E402

AS_OF = date(2025, 6, 30)
SF_ACCOUNT_PREFIX = "001"


def sf_account_id(number: int) -> str:
    from connectors.emulator.sfwrite import salesforce_id

    return salesforce_id(SF_ACCOUNT_PREFIX, number)


def dv_account_id(number: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"kamsync-bench-account-{number}"))


# --------------------------------------------------------------------------- the emulator child


@dataclass
class BareWorld:
    """Two orgs holding only accounts (what a score record's lookup needs)."""

    salesforce: Any
    dynamics: Any


def bare_world(rows: int) -> BareWorld:
    from connectors.emulator.schemas import dataverse_tables, salesforce_tables
    from connectors.emulator.store import Store

    clock = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)
    salesforce = Store("salesforce", clock)
    dynamics = Store("dynamics", clock)
    salesforce.add_table(next(t for t in salesforce_tables() if t.name == "Account"))
    dynamics.add_table(next(t for t in dataverse_tables() if t.name == "account"))
    stamp = datetime(2024, 1, 1, tzinfo=UTC)
    salesforce.load(
        "Account",
        (
            {
                "Id": sf_account_id(n),
                "Name": f"Account {n}",
                "IsDeleted": False,
                "CreatedDate": stamp,
                "LastModifiedDate": stamp,
                "SystemModstamp": stamp,
            }
            for n in range(rows)
        ),
    )
    dynamics.load(
        "account",
        (
            {
                "accountid": dv_account_id(n),
                "name": f"Account {n}",
                "statecode": 0,
                "statuscode": 1,
                "createdon": stamp,
                "modifiedon": stamp,
            }
            for n in range(rows)
        ),
    )
    return BareWorld(salesforce, dynamics)


def serve(rows: int, conn: Connection) -> None:
    """The child: serve the bare orgs; answer 'cpu', 'counts' and 'stop' on the pipe."""
    from connectors.emulator.emulator import Emulator

    world = bare_world(rows)
    with Emulator(world=world) as emulator:
        conn.send(emulator.credentials())
        while True:
            command = conn.recv()
            if command == "cpu":
                conn.send(time.process_time())
            elif command == "counts":
                conn.send(
                    {
                        "salesforce": (
                            len(world.salesforce.write_log),
                            len(world.salesforce.tables["KAM_Account_Score__c"].rows),
                        ),
                        "dynamics": (
                            len(world.dynamics.write_log),
                            len(world.dynamics.tables["kam_accountscore"].rows),
                        ),
                    }
                )
            else:
                return


# --------------------------------------------------------------------------- the warehouse


SCORE_COLUMNS = (
    "account_key varchar, source varchar, source_id varchar, tier varchar, health_score double, "
    "health_band varchar, wallet_estimate double, wallet_share double, headroom double, "
    "whitespace_1_family varchar, whitespace_1_value double, whitespace_2_family varchar, "
    "whitespace_2_value double, whitespace_3_family varchar, whitespace_3_value double, "
    "call_actual_last_30d bigint, call_compliance double, days_since_last_contact bigint, "
    "explanation varchar, scored_at timestamptz, plan_period varchar, revenue_target double, "
    "period_forecast double, gap_to_target double, recommended_calls_per_month double, "
    "next_call_due_date date, focus_product_families varchar, next_review_date date"
)


def build_warehouse(directory: Path, rows: int) -> Path:
    """A migrated warehouse whose kam.account_scores has ``rows`` accounts per org."""
    from config.model import WarehouseConfig
    from sync.warehouse import Warehouse

    warehouse = Warehouse(WarehouseConfig(path=directory / "kamsync.duckdb"))
    con = warehouse.connect()
    try:
        con.execute(f"create table kam.account_scores ({SCORE_COLUMNS})")
        for source, ids in (
            ("sf", [sf_account_id(n) for n in range(rows)]),
            ("dv", [dv_account_id(n) for n in range(rows)]),
        ):
            con.register("ids", pa.table({"n": list(range(rows)), "source_id": ids}))
            con.execute(
                f"""
                insert into kam.account_scores select
                    '{source}:' || source_id, '{source}', source_id,
                    ['key', 'growth', 'maintain', 'non_key'][n % 4 + 1],
                    (n * 7919 % 1000) / 10.0,
                    ['green', 'amber', 'red'][n % 3 + 1],
                    100000 + n * 13.37, (n % 97) / 97.0, 50000 + n * 3.1,
                    'Support', n * 1.5, 'Training', n * 1.25, 'Consulting', n * 1.0,
                    n % 9, (n % 11) / 10.0, n % 400,
                    'No contact in ' || (n % 400) || ' days; only 1 of 3 target contacts engaged.',
                    timestamptz '2025-06-30 18:00:00+00', '2025-Q2', 250000.0, 200000 + n,
                    50000 - n, [4.0, 2.0, 0.33, 0.0][n % 4 + 1],
                    date '2025-07-01' + (n % 60)::integer, 'Support, Training, Consulting',
                    date '2025-07-14' + (n % 300)::integer
                from ids
                """
            )
            con.unregister("ids")
    finally:
        con.close()
    warehouse.publish()
    return directory / "kamsync.duckdb"


def write_config(directory: Path, creds: dict[str, Any], extra: str) -> Path:
    sf, dv = creds["salesforce"], creds["dynamics"]
    sf_settings = f'instance_url = "{sf["instance_url"]}"\nlogin_url = "{sf["login_url"]}"'
    dv_settings = f'url = "{dv["url"]}"\nauthority = "{dv["authority"]}"'
    path = directory / "kamsync.toml"
    path.write_text(
        '\n[warehouse]\npath = "kamsync.duckdb"\n'
        + source_block("sf", "salesforce", sf_settings, "BENCH_SF", creds["ca_file"])
        + source_block("dv", "dynamics", dv_settings, "BENCH_DV", creds["ca_file"])
        + f"\n{extra}\n",
        encoding="utf-8",
    )
    return path


# --------------------------------------------------------------------------- measuring


@dataclass
class Step:
    label: str
    rows: int
    wall: float
    calls: int
    requests: dict[str, int]
    client_cpu: float
    server_cpu: float


def measure(label: str, run: Callable[[], Any], conn: Connection, source: str) -> tuple[Step, Any]:
    conn.send("cpu")
    server_before = conn.recv()
    cpu_before = time.process_time()
    started = time.perf_counter()
    result = run()
    wall = time.perf_counter() - started
    client_cpu = time.process_time() - cpu_before
    conn.send("cpu")
    server_cpu = conn.recv() - server_before
    report = next(s for s in result.sources if s.source == source)
    assert report.status == "succeeded", report.error
    step = Step(
        label,
        report.succeeded,
        wall,
        report.api_calls,
        dict(report.requests),
        client_cpu,
        server_cpu,
    )
    return step, result


def scenario(
    name: str, source: str, extra: str, rows: int, conn: Connection, creds: dict[str, Any]
) -> list[Step]:
    from config.loader import load_config
    from writeback.runner import default_target_factory, run_writeback

    directory = Path(tempfile.mkdtemp(prefix="kamsync-wb-bench-"))
    build_warehouse(directory, rows)
    config = load_config(write_config(directory, creds, extra))
    factory = default_target_factory(config)

    def run() -> Any:
        return run_writeback(config, source=source, open_target=factory)

    steps = []
    first, _ = measure(f"{name}: first push (create)", run, conn, source)
    steps.append(first)
    nothing, _ = measure(f"{name}: re-run, nothing changed", run, conn, source)
    steps.append(nothing)
    con = duckdb.connect(str(config.warehouse.work_path))
    con.execute(
        "update kam.account_scores set health_score = health_score + 0.5 where source = ?",
        [source],
    ).fetchall()
    con.close()
    changed, _ = measure(f"{name}: push changed (update)", run, conn, source)
    steps.append(changed)
    assert first.rows == rows
    assert changed.rows == rows
    assert nothing.calls == 0
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    rows: int = args.rows

    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    started = time.perf_counter()
    server = context.Process(target=serve, args=(rows, child), daemon=True)
    server.start()
    creds = parent.recv()
    print(f"emulator ready in {time.perf_counter() - started:.1f}s ({rows:,} accounts per org)")
    os.environ.update(
        {**source_env("BENCH_SF", creds["salesforce"]), **source_env("BENCH_DV", creds["dynamics"])}
    )
    scenarios = [
        ("Salesforce, auto (Bulk API 2.0)", "sf", ""),
        ("Salesforce, Collections forced", "sf", "[writeback.sources.sf]\nmode = 'collections'\n"),
        ("Dataverse, UpsertMultiple x1,000", "dv", "[writeback]\ndataverse_chunk_size = 1000\n"),
        (
            "Dataverse, $batch x1,000 forced",
            "dv",
            "[writeback]\ndataverse_chunk_size = 1000\n[writeback.sources.dv]\nmode = 'batch'\n",
        ),
    ]
    steps: list[Step] = []
    try:
        for name, source, extra in scenarios:
            for step in scenario(name, source, extra, rows, parent, creds):
                steps.append(step)
                print(
                    f"{step.label}: {step.wall:.1f}s, {step.calls} requests {step.requests}",
                    flush=True,
                )
        parent.send("counts")
        counts = parent.recv()
    finally:
        parent.send("stop")
        server.join(timeout=30)
    print(f"\nscore records in the orgs: {counts}")
    print(f"\n{rows:,} rows, {platform.python_version()}, load average {os.getloadavg()[0]:.1f}\n")
    print(
        "| run | records sent | API requests | wall s | records/s | client CPU s | emulator CPU s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for step in steps:
        methods = ", ".join(f"{m} {n:,}" for m, n in sorted(step.requests.items()))
        rate = f"{step.rows / step.wall:,.0f}" if step.rows else "—"
        print(
            f"| {step.label} | {step.rows:,} | {step.calls:,}{f' ({methods})' if methods else ''} "
            f"| {step.wall:.1f} | {rate} | {step.client_cpu:.1f} | {step.server_cpu:.1f} |"
        )


if __name__ == "__main__":
    main()
