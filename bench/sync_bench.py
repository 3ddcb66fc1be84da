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
docs/benchmarks.md with the results.  The harness (emulator, measured sync, report layout) is
``bench/sync_harness.py``, shared with ``bench/dynamics_sync_bench.py``.
"""

from __future__ import annotations

import io
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl
import simple_salesforce

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script, bench/ is on the path but not the root

from bench.sync_harness import Floor, Result, Source, Wording, markdown, run  # noqa: E402
from config.model import DEFAULT_SALESFORCE_OBJECTS  # noqa: E402
from connectors.http import CrmSession  # noqa: E402
from connectors.salesforce.connector import BULK_PAGE_RECORDS, bulk_poll_delays  # noqa: E402

OBJECTS = DEFAULT_SALESFORCE_OBJECTS
BULK_THRESHOLD = 10_000
REST_PAGE = 2000
# the emulator answers a job's first status check with InProgress, the second with JobComplete
BULK_STATUS_CHECKS = 2
SECTION = "## Sync — Salesforce"


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


def floor(ready: dict[str, Any]) -> Floor:
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
    return Floor(time.perf_counter() - started, records)


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


def settings(sf: dict[str, Any]) -> str:
    """The Salesforce source's own configuration lines."""
    return f"""
instance_url = "{sf["instance_url"]}"
login_url = "{sf["login_url"]}"
bulk_threshold = {BULK_THRESHOLD}
"""


def minimum_calls(rows: dict[str, int]) -> int:
    """The fewest calls the APIs allow for these row counts (see the module docstring)."""
    total = 0
    for n in rows.values():
        rest = max(1, math.ceil(n / REST_PAGE))
        bulk = 1 + BULK_STATUS_CHECKS + max(1, math.ceil(n / BULK_PAGE_RECORDS))
        total += 1 + min(rest, bulk)
    return total


def report(results: list[Result]) -> str:
    """The Markdown section."""
    last = results[-1]
    wording = Wording(
        section=SECTION,
        intro=f"`python bench/sync_bench.py` on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; the emulator runs in its own process. "
        "Full sync = every configured object of the Salesforce half of the world, read from "
        "scratch into a new warehouse (staging, merge, crm rebuild included).",
        columns=(
            "accounts (world)",
            "records",
            "full sync",
            "records/s",
            "floor (download + parse)",
            "ratio",
            "API calls",
            "minimum",
            "over minimum",
            "peak RSS",
        ),
        row=lambda r: (
            f"{r.accounts:,}",
            f"{r.records:,}",
            f"{r.sync_seconds:.1f} s",
            f"{r.rate:,.0f}",
            f"{r.floor_seconds:.1f} s ({r.floor_rate:,.0f}/s)",
            f"{r.rate / r.floor_rate:.2f}",
            f"{r.calls}",
            f"{r.minimum}",
            f"{100 * (r.calls - r.minimum) / r.minimum:.0f}%",
            f"{r.peak_rss / 2**20:,.0f} MiB",
        ),
        per_object=f"Minimum, {last.accounts:,} accounts: per object one describe plus the "
        f"cheaper of `ceil(n / {REST_PAGE})` REST pages and a Bulk job (create, "
        f"{BULK_STATUS_CHECKS} status checks -- the emulator answers InProgress once -- and "
        f"`ceil(n / {BULK_PAGE_RECORDS:,})` result pages):",
        noun="object",
        notes=(
            "Calls made per object exclude the run's shared calls (one describe per object and "
            "one `limits/recordCount` for all objects), which the total includes.",
        ),
        incremental="calls per object",
        incremental_how="a windowed queryAll and a getDeleted; schemas come from the cache",
    )
    return markdown(results, wording, minimum_calls)


SOURCE = Source("salesforce", "sf", "BENCH_SF", settings, floor, minimum_calls)


def main() -> None:
    """Run the benchmark."""
    run(__doc__ or "", SOURCE, report, SECTION)


if __name__ == "__main__":
    main()
