"""Dynamics 365 / Dataverse full sync, measured against a separate emulator process.

    python -m bench.dynamics_sync_bench [--accounts 20000 200000] [--write]

The harness of ``bench/sync_bench.py`` (issue 4), for the Dataverse half of the world.  For each
world size this starts ``kamsync emulator serve`` (a child process), then:

1. **floor**: from this process, downloads and parses exactly the pages a full sync reads -- a
   change-tracked read of every table (``Prefer: odata.track-changes,odata.maxpagesize=5000``,
   the same ``$select``), each page's JSON decoded with orjson as the connector does -- and
   nothing else: no conversion, no casting, no staging, no DuckDB.
2. **sync**: restarts the emulator with the same seed (so neither run profits from the other's
   warm caches) and runs ``kamsync sync`` in a child process that reports its own peak RSS.
3. **incremental**: ``kamsync sync`` again with nothing changed, counting calls per table.

API calls are compared with the minimum the Web API allows for the same data: per table one
describe request (``RetrieveEntity``, or ``EntityDefinitions`` with its attributes) and
``ceil(n / 5000)`` pages (one page for an empty table).
``--write`` replaces the "Sync — Dynamics" section of docs/benchmarks.md with the results.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import msal
import orjson

from bench.sync_bench import measured_sync, serve, stop, write_section
from connectors.http import CrmSession

TABLES = (
    "systemuser",
    "account",
    "contact",
    "product",
    "opportunity",
    "opportunityproduct",
    "phonecall",
    "appointment",
    "email",
    "task",
)
PAGE = 5000
SECTION = "## Sync — Dynamics"


@dataclass
class Result:
    """One world size's numbers."""

    accounts: int
    records: int = 0
    megabytes: float = 0.0
    floor_seconds: float = 0.0
    sync_seconds: float = 0.0
    peak_rss: int = 0
    calls: int = 0
    minimum: int = 0
    per_table: dict[str, tuple[int, int]] = field(default_factory=dict)
    incremental_calls: dict[str, int] = field(default_factory=dict)
    incremental_seconds: float = 0.0


def _login(ready: dict[str, Any]) -> tuple[CrmSession, dict[str, str], str]:
    dv = ready["dynamics"]
    http = CrmSession(ca_bundle=Path(ready["ca_file"]))
    app = msal.ConfidentialClientApplication(
        dv["client_id"],
        client_credential=dv["client_secret"],
        authority=dv["authority"],
        http_client=http,
        instance_discovery=False,
    )
    token = app.acquire_token_for_client(scopes=[dv["url"] + "/.default"])["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    return http, headers, dv["url"] + "/api/data/v9.2"


def _select(http: CrmSession, headers: dict[str, str], api: str, table: str) -> tuple[str, str]:
    """The entity set and the ``$select`` the connector sends for ``table``."""
    entity = http.get(
        f"{api}/EntityDefinitions(LogicalName='{table}')",
        params={
            "$select": "EntitySetName",
            "$expand": "Attributes($select=LogicalName,AttributeType,AttributeOf)",
        },
        headers=headers,
    ).json()
    props = []
    for attribute in entity["Attributes"]:
        kind, name = attribute["AttributeType"], attribute["LogicalName"]
        if attribute.get("AttributeOf") or kind in ("Virtual", "PartyList", "Image", "File"):
            continue
        props.append(f"_{name}_value" if kind in ("Lookup", "Owner", "Customer") else name)
    return entity["EntitySetName"], ",".join(props)


def floor(ready: dict[str, Any]) -> tuple[float, int, float]:
    """Seconds, records and megabytes to download and parse every page of a full read."""
    http, headers, api = _login(ready)
    selects = {t: _select(http, headers, api, t) for t in TABLES}
    prefer = {**headers, "Prefer": f"odata.track-changes,odata.maxpagesize={PAGE}"}
    started = time.perf_counter()
    records, size = 0, 0
    for entity_set, select in selects.values():
        response = http.get(f"{api}/{entity_set}", params={"$select": select}, headers=prefer)
        while True:
            size += len(response.content)
            body = orjson.loads(response.content)
            records += len(body["value"])
            link = body.get("@odata.nextLink")
            if not link:
                break
            response = http.get(link, headers=prefer)
    return time.perf_counter() - started, records, size / 1e6


def write_config(directory: Path, ready: dict[str, Any]) -> tuple[Path, dict[str, str]]:
    """A config for the emulator's Dataverse org and the environment it names."""
    dv = ready["dynamics"]
    path = directory / "kamsync.toml"
    path.write_text(
        f"""
[warehouse]
path = "kamsync.duckdb"
[[sources]]
name = "dv"
kind = "dynamics"
url = "{dv["url"]}"
authority = "{dv["authority"]}"
client_id_env = "BENCH_DV_CLIENT_ID"
client_secret_env = "BENCH_DV_CLIENT_SECRET"
ca_bundle = "{ready["ca_file"]}"
page_size = {PAGE}
""",
        encoding="utf-8",
    )
    return path, {
        "BENCH_DV_CLIENT_ID": dv["client_id"],
        "BENCH_DV_CLIENT_SECRET": dv["client_secret"],
    }


def minimum_calls(rows: dict[str, int]) -> int:
    """The fewest calls the Web API allows for these row counts (see the module docstring)."""
    return sum(1 + max(1, math.ceil(n / PAGE)) for n in rows.values())


def _calls(directory: Path) -> tuple[int, dict[str, tuple[int, int]]]:
    con = duckdb.connect(str(directory / "kamsync.duckdb"), read_only=True)
    try:
        run = con.execute(
            "select run_id, api_calls from ops.sync_runs where job = 'sync' "
            "order by started_at desc limit 1"
        ).fetchall()[0]
        objects = con.execute(
            "select object, rows_upserted, api_calls from ops.sync_run_objects where run_id = ?",
            [run[0]],
        ).fetchall()
    finally:
        con.close()
    return int(run[1]), {o: (int(r), int(c)) for o, r, c in objects}


def bench(accounts: int) -> Result:
    """All measurements at one world size."""
    result = Result(accounts)
    process, ready = serve(accounts)
    try:
        result.floor_seconds, result.records, result.megabytes = floor(ready)
    finally:
        stop(process)
    process, ready = serve(accounts)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            config, env = write_config(directory, ready)
            full = measured_sync(config, env, directory)
            result.sync_seconds, result.peak_rss = full["seconds"], full["peak_rss"]
            result.calls, result.per_table = _calls(directory)
            result.minimum = minimum_calls({t: r for t, (r, _) in result.per_table.items()})
            again = measured_sync(config, env, directory)
            result.incremental_seconds = again["seconds"]
            _, incremental = _calls(directory)
            result.incremental_calls = {t: c for t, (_, c) in incremental.items()}
    finally:
        stop(process)
    return result


def report(results: list[Result]) -> str:
    """The Markdown section."""
    lines = [
        SECTION,
        "",
        f"`python -m bench.dynamics_sync_bench` on {platform.machine()}, {os.cpu_count()} cores "
        f"(shared), Python {platform.python_version()}; the emulator runs in its own process. "
        "Full sync = every configured table of the Dataverse half of the world, read from "
        "scratch into a new warehouse (describe, staging, merge, crm rebuild included).",
        "",
        "| accounts (world) | records | JSON | full sync | records/s | floor (download + parse) | ratio | API calls | minimum | calls per million records | peak RSS |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        rate = r.records / r.sync_seconds
        floor_rate = r.records / r.floor_seconds
        lines.append(
            f"| {r.accounts:,} | {r.records:,} | {r.megabytes:,.0f} MB | {r.sync_seconds:.1f} s | "
            f"{rate:,.0f} | {r.floor_seconds:.1f} s ({floor_rate:,.0f}/s) | "
            f"{rate / floor_rate:.2f} | {r.calls} | {r.minimum} | "
            f"{1e6 * r.calls / r.records:.0f} | {r.peak_rss / 2**20:,.0f} MiB |"
        )
    last = results[-1]
    lines += [
        "",
        f"Per table, {last.accounts:,} accounts. Calls made per table are the read's own; the "
        "total above also counts each table's describe (one `RetrieveEntity` request: the "
        "entity, its attributes with their formats, the choice labels), as the minimum does:",
        "",
        "| table | records | minimum calls | calls made |",
        "|---|---:|---:|---:|",
    ]
    for table, (rows, calls) in last.per_table.items():
        lines.append(f"| {table} | {rows:,} | {minimum_calls({table: rows})} | {calls} |")
    lines += [
        "",
        "Incremental sync with nothing changed: "
        + ", ".join(
            f"{r.accounts:,} accounts {max(r.incremental_calls.values())} call per table at most "
            f"({sum(r.incremental_calls.values())} in all, {r.incremental_seconds:.1f} s)"
            for r in results
        )
        + " (one delta request each; schemas come from the cache).",
        "",
    ]
    return "\n".join(lines)


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
        write_section(text, SECTION)


if __name__ == "__main__":
    main()
