"""Emulator throughput, measured the way kamsync will see it: from a separate client process.

    python bench/emulator_bench.py [--accounts 20000] [--repeat 3] [--table Task]

Starts ``kamsync emulator serve`` as a child process, waits for its JSON line, then, from this
process, over TLS with kamsync's HTTP session:

* REST: ``simple_salesforce.Salesforce.query_all`` of every record of ``--table`` (default
  batch size 2,000, so one request per 2,000 records, JSON decoded by the client);
* Bulk CSV: a Bulk API 2.0 query job on the same table (plain requests on the same session),
  results fetched page by page (``maxRecords`` 50,000), rows counted from the
  ``Sforce-NumberOfRecords`` header, then again parsing every page with ``csv.reader``.

Reports records per second of wall time (first, best and median of ``--repeat`` runs: the
first run renders every record cold, later runs reuse the emulator's per-record text cache),
and records per CPU second of the emulator process and of the client, which stay meaningful
when other work shares the machine.  Prints a Markdown table for docs/benchmarks.md.

``--cold N`` then makes N more first reads on the same server, REST then Bulk CSV, each with the
field list rotated by one more place (a new layout, so every record is rendered cold again),
and prints their rates: several first-read numbers from one server start.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import signal
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import simple_salesforce

from connectors.http import CrmSession, RetryPolicy
from sync.commands.emulator_cmd import serve_argv

API = "62.0"


def start_server(accounts: int, seed: int) -> tuple[subprocess.Popen[str], dict[str, Any], float]:
    """``kamsync emulator serve`` in a child process; its JSON line and start-up seconds."""
    command = serve_argv("--accounts", str(accounts), "--seed", str(seed), "--as-of", "2024-06-30")
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait(timeout=10)
        raise SystemExit(f"emulator did not start (exit {process.returncode})")
    return process, json.loads(line), time.perf_counter() - started


def client(ready: dict[str, Any]) -> Any:
    salesforce = ready["salesforce"]
    http = CrmSession(ca_bundle=Path(ready["ca_file"]), policy=RetryPolicy(max_retries=0))
    token = http.post(
        salesforce["login_url"] + "/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": salesforce["client_id"],
            "client_secret": salesforce["client_secret"],
        },
    ).json()["access_token"]
    return simple_salesforce.Salesforce(
        instance_url=salesforce["instance_url"], session_id=token, session=http, version=API
    )


def rest_run(sf: Any, soql: str) -> int:
    return len(sf.query_all(soql)["records"])


def bulk_run(sf: Any, soql: str, parse: bool) -> int:
    """A Bulk API 2.0 query job, its CSV pages fetched; rows counted by csv.reader or by
    ``Sforce-NumberOfRecords``."""
    http, headers = sf.session, sf.headers
    jobs = sf.base_url + "jobs/query"
    job = http.post(jobs, json={"operation": "query", "query": soql}, headers=headers).json()
    while http.get(f"{jobs}/{job['id']}", headers=headers).json()["state"] != "JobComplete":
        pass
    rows, locator = 0, ""
    while locator != "null":
        params = {"maxRecords": 50_000, **({"locator": locator} if locator else {})}
        page = http.get(f"{jobs}/{job['id']}/results", params=params, headers=headers)
        if parse:
            rows += sum(1 for _ in csv.reader(io.StringIO(page.text))) - 1
        else:
            rows += int(page.headers["Sforce-NumberOfRecords"])
        locator = page.headers["Sforce-Locator"]
    return rows


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(run: Callable[[], int], repeat: int, server: int) -> dict[str, float]:
    """Records per second of wall time, and per CPU second of the server and of this client."""
    rates: list[float] = []
    server_rates: list[float] = []
    client_rates: list[float] = []
    records = 0
    for _ in range(repeat):
        server_cpu, client_cpu = cpu_seconds(server), time.process_time()
        started = time.perf_counter()
        records = run()
        rates.append(records / (time.perf_counter() - started))
        server_rates.append(records / max(cpu_seconds(server) - server_cpu, 1e-3))
        client_rates.append(records / max(time.process_time() - client_cpu, 1e-3))
    return {
        "records": records,
        "first": rates[0],
        "best": max(rates),
        "median": statistics.median(rates),
        "server_cpu": statistics.median(server_rates),
        "client_cpu": statistics.median(client_rates),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--table", default="Task")
    parser.add_argument("--cold", type=int, default=0, help="more first reads (see above)")
    args = parser.parse_args()
    process, ready, startup = start_server(args.accounts, args.seed)
    try:
        sf = client(ready)
        fields = "Id, WhatId, WhoId, OwnerId, Subject, ActivityDate, Status, TaskSubtype, CreatedDate, SystemModstamp"
        if args.table != "Task":
            fields = "Id, Name, CreatedDate, SystemModstamp"
        soql = f"SELECT {fields} FROM {args.table}"
        rest = measure(lambda: rest_run(sf, soql), args.repeat, process.pid)
        bulk = measure(lambda: bulk_run(sf, soql, parse=False), args.repeat, process.pid)
        parsed = measure(lambda: bulk_run(sf, soql, parse=True), args.repeat, process.pid)
        cold = cold_runs(sf, args.table, fields, args.cold)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    report(args, startup, soql, {"rest": rest, "bulk": bulk, "parsed": parsed})
    if cold["rest"]:
        print()
        for key, name, _goal in ROWS[:2]:
            rates = ", ".join(f"{rate:,.0f}/s" for rate in cold[key])
            print(f"{name}, first reads with rotated field lists: {rates}")


def cold_runs(sf: Any, table: str, fields: str, count: int) -> dict[str, list[float]]:
    """``count`` first reads (REST, then Bulk) of ``table``, each with the field list rotated
    one more place, so that no record's text is cached for its layout."""
    names = [name.strip() for name in fields.split(",")]
    rates: dict[str, list[float]] = {"rest": [], "bulk": []}
    for turn in range(1, count + 1):
        shift = turn % len(names) or 1
        soql = f"SELECT {', '.join(names[shift:] + names[:shift])} FROM {table}"
        for key, run in (("rest", rest_run), ("bulk", lambda s, q: bulk_run(s, q, False))):
            started = time.perf_counter()
            records = run(sf, soql)
            rates[key].append(records / (time.perf_counter() - started))
    return rates


ROWS = (
    ("rest", "REST query_all (JSON, batch 2,000)", 50_000),
    ("bulk", "Bulk 2.0 CSV pages (50,000 a page)", 200_000),
    ("parsed", "Bulk 2.0 CSV pages + csv.reader", 200_000),
)


def report(
    args: argparse.Namespace, startup: float, soql: str, results: dict[str, dict[str, float]]
) -> None:
    load = os.getloadavg()[0]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load {load:.1f}, Python {platform.python_version()}"
    )
    print(f"world: {args.accounts} accounts (seed {args.seed}); serve ready after {startup:.1f} s")
    print(f"query: {soql}")
    print()
    print("| path | records | first run | best | median | server CPU | client CPU | goal |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for key, name, goal in ROWS:
        result = results[key]
        print(
            f"| {name} | {int(result['records']):,} | {result['first']:,.0f}/s | "
            f"{result['best']:,.0f}/s | {result['median']:,.0f}/s | "
            f"{result['server_cpu']:,.0f}/s | {result['client_cpu']:,.0f}/s | {goal:,}/s |"
        )
    print()
    print("first/best/median: records per second of wall time; server/client CPU: records per")
    print("CPU second spent by the emulator process / by this client (median run).")


if __name__ == "__main__":
    main()
