"""Dynamics 365 / Dataverse full sync, measured against a separate emulator process.

    python -m bench.dynamics_sync_bench [--accounts 20000 200000] [--write]

The harness of ``bench/sync_bench.py`` (issue 4, now ``bench/sync_harness.py``), for the
Dataverse half of the world.  For each
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

import math
import os
import platform
import time
from pathlib import Path
from typing import Any

import msal
import orjson

from bench.sync_harness import Floor, Result, Source, Wording, markdown, run
from config.model import DEFAULT_DYNAMICS_TABLES
from connectors.http import CrmSession

PAGE = 5000
SECTION = "## Sync — Dynamics"


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


def floor(ready: dict[str, Any]) -> Floor:
    """Seconds, records and megabytes to download and parse every page of a full read."""
    http, headers, api = _login(ready)
    selects = {t: _select(http, headers, api, t) for t in DEFAULT_DYNAMICS_TABLES}
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
    return Floor(time.perf_counter() - started, records, size / 1e6)


def settings(dv: dict[str, Any]) -> str:
    """The Dataverse source's own configuration lines."""
    return f"""
url = "{dv["url"]}"
authority = "{dv["authority"]}"
page_size = {PAGE}
"""


def minimum_calls(rows: dict[str, int]) -> int:
    """The fewest calls the Web API allows for these row counts (see the module docstring)."""
    return sum(1 + max(1, math.ceil(n / PAGE)) for n in rows.values())


def report(results: list[Result]) -> str:
    """The Markdown section."""
    last = results[-1]
    wording = Wording(
        section=SECTION,
        intro=f"`python -m bench.dynamics_sync_bench` on {platform.machine()}, "
        f"{os.cpu_count()} cores (shared), Python {platform.python_version()}; the emulator "
        "runs in its own process. Full sync = every configured table of the Dataverse half of "
        "the world, read from scratch into a new warehouse (describe, staging, merge, crm "
        "rebuild included).",
        columns=(
            "accounts (world)",
            "records",
            "JSON",
            "full sync",
            "records/s",
            "floor (download + parse)",
            "ratio",
            "API calls",
            "minimum",
            "calls per million records",
            "peak RSS",
        ),
        row=lambda r: (
            f"{r.accounts:,}",
            f"{r.records:,}",
            f"{r.megabytes:,.0f} MB",
            f"{r.sync_seconds:.1f} s",
            f"{r.rate:,.0f}",
            f"{r.floor_seconds:.1f} s ({r.floor_rate:,.0f}/s)",
            f"{r.rate / r.floor_rate:.2f}",
            f"{r.calls}",
            f"{r.minimum}",
            f"{1e6 * r.calls / r.records:.0f}",
            f"{r.peak_rss / 2**20:,.0f} MiB",
        ),
        per_object=f"Per table, {last.accounts:,} accounts. Calls made per table are the "
        "read's own; the total above also counts each table's describe (one `RetrieveEntity` "
        "request: the entity, its attributes with their formats, the choice labels), as the "
        "minimum does:",
        noun="table",
        notes=(),
        incremental="call per table",
        incremental_how="one delta request each; schemas come from the cache",
    )
    return markdown(results, wording, minimum_calls)


SOURCE = Source("dynamics", "dv", "BENCH_DV", settings, floor, minimum_calls)


def main() -> None:
    """Run the benchmark."""
    run(__doc__ or "", SOURCE, report, SECTION)


if __name__ == "__main__":
    main()
