"""Salesforce full and incremental sync, measured against a separate emulator process.

    python bench/sync_bench.py [--accounts 20000 200000] [--write]

For each world size this starts ``kamsync emulator serve`` (a child process), then:

1. **floor**: from this process, downloads and parses exactly the pages a full sync reads -- a
   REST ``queryAll`` per small object (JSON decoded as simple-salesforce does) and a Bulk API 2.0
   ``queryAll`` job per large one (CSV pages parsed with polars, as kamsync does) -- and nothing
   else: no casting, no staging, no DuckDB.
2. **sync**: restarts the emulator with the same seed (so neither run profits from the other's
   warm caches) and runs ``kamsync sync`` in a child process that reports its own peak RSS.
3. **incremental**: ``kamsync sync`` again with nothing changed, counting calls per object.

API calls are compared with the minimum the APIs allow for the same data: per object one
describe, plus the cheaper of ``ceil(n / 2000)`` REST pages and a Bulk job (create, one status
check, ``ceil(n / 50000)`` result pages).  ``--write`` replaces the "Sync — Salesforce" section of
docs/benchmarks.md with the results.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import simple_salesforce

from connectors.http import CrmSession
from connectors.salesforce.connector import BULK_PAGE_RECORDS, bulk_poll_delays

ROOT = Path(__file__).resolve().parents[1]
OBJECTS = (
    "User",
    "Account",
    "Contact",
    "Product2",
    "Opportunity",
    "OpportunityLineItem",
    "OpportunityContactRole",
    "Task",
    "Event",
)
BULK_THRESHOLD = 10_000
REST_PAGE = 2000
# the emulator answers a job's first status check with InProgress, the second with JobComplete
BULK_STATUS_CHECKS = 2
SECTION = "## Sync — Salesforce"

MEASURE = """
import json, resource, sys, time
from sync.cli import main
started = time.perf_counter()
code = main(sys.argv[2:])
elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
with open(sys.argv[1], "w") as out:
    json.dump({"code": code, "seconds": elapsed, "peak_rss": peak}, out)
"""


@dataclass
class Result:
    """One world size's numbers."""

    accounts: int
    records: int = 0
    floor_seconds: float = 0.0
    sync_seconds: float = 0.0
    peak_rss: int = 0
    calls: int = 0
    minimum: int = 0
    per_object: dict[str, tuple[int, int]] = field(default_factory=dict)
    incremental_calls: dict[str, int] = field(default_factory=dict)
    incremental_seconds: float = 0.0


def serve(accounts: int) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """Start the emulator; its JSON line."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sync",
            "emulator",
            "serve",
            "--accounts",
            str(accounts),
            "--seed",
            "7",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    ready = json.loads(process.stdout.readline())
    return process, ready


def stop(process: subprocess.Popen[str]) -> None:
    """Stop the emulator."""
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)


def client(ready: dict[str, Any]) -> Any:
    """simple-salesforce on the emulator, over kamsync's session."""
    sf = ready["salesforce"]
    http = CrmSession(ca_bundle=Path(ready["ca_file"]))
    token = http.post(
        sf["login_url"] + "/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": sf["client_id"],
            "client_secret": sf["client_secret"],
        },
    ).json()["access_token"]
    return simple_salesforce.Salesforce(
        instance_url=sf["instance_url"], session_id=token, session=http, version="62.0"
    )


def fields_of(sf: Any, obj: str) -> list[str]:
    """The fields kamsync lands (compound and binary fields left out)."""
    describe = sf.restful(f"sobjects/{obj}/describe")
    return [
        f["name"] for f in describe["fields"] if f["type"] not in ("address", "location", "base64")
    ]


def floor(ready: dict[str, Any]) -> tuple[float, int]:
    """Seconds and records to download and parse every page of a full read."""
    sf = client(ready)
    counts = {
        c["name"]: c["count"]
        for c in sf.restful("limits/recordCount", params={"sObjects": ",".join(OBJECTS)})[
            "sObjects"
        ]
    }
    fields = {obj: fields_of(sf, obj) for obj in OBJECTS}
    started = time.perf_counter()
    records = 0
    for obj in OBJECTS:
        soql = f"SELECT {', '.join(fields[obj])} FROM {obj}"
        if counts.get(obj, 0) > BULK_THRESHOLD:
            records += _bulk_floor(sf, obj, soql)
        else:
            result = sf.query(
                soql,
                include_deleted=True,
                headers={"Sforce-Query-Options": f"batchSize={REST_PAGE}"},
            )
            records += len(result["records"])
            while not result["done"]:
                result = sf.query_more(result["nextRecordsUrl"], identifier_is_url=True)
                records += len(result["records"])
    return time.perf_counter() - started, records


def _bulk_floor(sf: Any, obj: str, soql: str) -> int:
    http = sf.session
    base = sf.bulk2_url
    headers = {"Authorization": f"Bearer {sf.session_id}", "Content-Type": "application/json"}
    job = http.post(
        base + "query", headers=headers, json={"operation": "queryAll", "query": soql}
    ).json()
    delays = bulk_poll_delays()  # the connector's schedule: both wait alike for the server
    while http.get(base + f"query/{job['id']}", headers=headers).json()["state"] != "JobComplete":
        time.sleep(next(delays))
    records, locator = 0, ""
    while True:
        params = {"maxRecords": BULK_PAGE_RECORDS, **({"locator": locator} if locator else {})}
        page = http.get(
            base + f"query/{job['id']}/results",
            headers={**headers, "Accept": "text/csv"},
            params=params,
        )
        records += pl.read_csv(io.BytesIO(page.content), infer_schema=False).height
        locator = page.headers.get("Sforce-Locator", "null")
        if locator in ("", "null"):
            return records


def write_config(directory: Path, ready: dict[str, Any]) -> tuple[Path, dict[str, str]]:
    """A config for the emulator's Salesforce org and the environment it names."""
    sf = ready["salesforce"]
    path = directory / "kamsync.toml"
    path.write_text(
        f"""
[warehouse]
path = "kamsync.duckdb"
[[sources]]
name = "sf"
kind = "salesforce"
instance_url = "{sf["instance_url"]}"
login_url = "{sf["login_url"]}"
client_id_env = "BENCH_SF_CLIENT_ID"
client_secret_env = "BENCH_SF_CLIENT_SECRET"
ca_bundle = "{ready["ca_file"]}"
bulk_threshold = {BULK_THRESHOLD}
""",
        encoding="utf-8",
    )
    return path, {
        "BENCH_SF_CLIENT_ID": sf["client_id"],
        "BENCH_SF_CLIENT_SECRET": sf["client_secret"],
    }


def measured_sync(config: Path, env: dict[str, str], directory: Path) -> dict[str, Any]:
    """``kamsync sync`` in a child process that reports its own time and peak RSS."""
    report = directory / "measure.json"
    subprocess.run(
        [sys.executable, "-c", MEASURE, str(report), "--config", str(config), "sync"],
        env={**os.environ, **env},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    result: dict[str, Any] = json.loads(report.read_text())
    assert result["code"] == 0, result
    return result


def minimum_calls(rows: dict[str, int]) -> int:
    """The fewest calls the APIs allow for these row counts (see the module docstring)."""
    total = 0
    for n in rows.values():
        rest = max(1, math.ceil(n / REST_PAGE))
        bulk = 1 + BULK_STATUS_CHECKS + max(1, math.ceil(n / BULK_PAGE_RECORDS))
        total += 1 + min(rest, bulk)
    return total


def bench(accounts: int) -> Result:
    """All measurements at one world size."""
    result = Result(accounts)
    process, ready = serve(accounts)
    try:
        result.floor_seconds, result.records = floor(ready)
    finally:
        stop(process)
    process, ready = serve(accounts)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            config, env = write_config(directory, ready)
            full = measured_sync(config, env, directory)
            result.sync_seconds, result.peak_rss = full["seconds"], full["peak_rss"]
            result.calls, result.per_object = _calls(directory)
            result.minimum = minimum_calls({o: r for o, (r, _) in result.per_object.items()})
            again = measured_sync(config, env, directory)
            result.incremental_seconds = again["seconds"]
            _, incremental = _calls(directory)
            result.incremental_calls = {o: c for o, (_, c) in incremental.items()}
    finally:
        stop(process)
    return result


def _calls(directory: Path) -> tuple[int, dict[str, tuple[int, int]]]:
    con = duckdb.connect(str(directory / "kamsync.duckdb"), read_only=True)
    try:
        run = con.execute(
            "select run_id, api_calls from ops.sync_runs order by started_at desc limit 1"
        ).fetchall()[0]
        objects = con.execute(
            "select object, rows_upserted, api_calls from ops.sync_run_objects where run_id = ?",
            [run[0]],
        ).fetchall()
    finally:
        con.close()
    return int(run[1]), {o: (int(r), int(c)) for o, r, c in objects}


def report(results: list[Result]) -> str:
    """The Markdown section."""
    lines = [
        SECTION,
        "",
        f"`python bench/sync_bench.py` on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; the emulator runs in its own process. "
        "Full sync = every configured object of the Salesforce half of the world, read from "
        "scratch into a new warehouse (staging, merge, crm rebuild included).",
        "",
        "| accounts (world) | records | full sync | records/s | floor (download + parse) | ratio | API calls | minimum | over minimum | peak RSS |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        rate = r.records / r.sync_seconds
        floor_rate = r.records / r.floor_seconds
        lines.append(
            f"| {r.accounts:,} | {r.records:,} | {r.sync_seconds:.1f} s | {rate:,.0f} | "
            f"{r.floor_seconds:.1f} s ({floor_rate:,.0f}/s) | {rate / floor_rate:.2f} | {r.calls} | "
            f"{r.minimum} | {100 * (r.calls - r.minimum) / r.minimum:.0f}% | {r.peak_rss / 2**20:,.0f} MiB |"
        )
    last = results[-1]
    lines += [
        "",
        f"Minimum, {last.accounts:,} accounts: per object one describe plus the cheaper of "
        f"`ceil(n / {REST_PAGE})` REST pages and a Bulk job (create, {BULK_STATUS_CHECKS} status "
        f"checks -- the emulator answers InProgress once -- and `ceil(n / {BULK_PAGE_RECORDS:,})` "
        "result pages):",
        "",
        "| object | records | minimum calls | calls made |",
        "|---|---:|---:|---:|",
    ]
    for obj, (rows, calls) in last.per_object.items():
        lines.append(f"| {obj} | {rows:,} | {minimum_calls({obj: rows})} | {calls} |")
    lines += [
        "",
        "Calls made per object exclude the run's shared calls (one describe per object and one "
        "`limits/recordCount` for all objects), which the total includes.",
        "",
        "Incremental sync with nothing changed: "
        + ", ".join(
            f"{r.accounts:,} accounts {max(r.incremental_calls.values())} calls per object at most "
            f"({sum(r.incremental_calls.values())} in all, {r.incremental_seconds:.1f} s)"
            for r in results
        )
        + " (a windowed queryAll and a getDeleted; schemas come from the cache).",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str, section: str = SECTION) -> None:
    """Replace (or add) ``section`` of docs/benchmarks.md (up to the next heading)."""
    path = ROOT / "docs" / "benchmarks.md"
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if section in current:
        start = current.index(section)
        rest = current[start + len(section) :]
        end = rest.find("\n## ")
        current = current[:start] + text.rstrip() + ("\n" + rest[end:] if end >= 0 else "\n")
    else:
        current = current.rstrip() + "\n\n" + text
    path.write_text(current, encoding="utf-8")


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    results = [bench(n) for n in args.accounts]
    text = report(results)
    print(text)
    if args.write:
        write_section(text)


if __name__ == "__main__":
    main()
