"""How fast the Dataverse emulator serves pages to a client in another process.

    python bench/dataverse_emulator_bench.py [--rows 200000] [--page-size 5000] [--repeat 3] [--world]

Starts the emulator in a subprocess (``--serve``) with an org of ``--rows`` accounts shaped like
the synthetic world's (lookups, option sets, money, dates) -- or, with ``--world``, the Dataverse
org of a generated world of ``--rows`` accounts -- then, in this process, gets a token with msal
and reads every page (of ``accounts``, or of every table) with requests over TLS, parsing the
JSON as a connector would.  It reports records per second for plain paging and for a change-tracking
read, and one markdown row per measurement for ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TENANT = "3c0c7a7e-93a1-4d6c-9a61-0e6a0b7cc7a1"
CLIENT_ID = "b7d5d0b4-2f4b-4a8e-9f2c-1a9d7f0e3c55"
CLIENT_SECRET = "bench-secret"


def build_store(rows: int) -> Any:
    """An org with ``rows`` accounts and their owners."""
    from connectors.emulator.store import FieldDef, Store, TableDef

    rng = random.Random(42)
    epoch = datetime(2024, 6, 30, tzinfo=UTC)
    store = Store("dynamics", epoch)
    store.add_table(
        TableDef(
            "systemuser",
            "systemuserid",
            "User",
            "Users",
            (
                FieldDef("systemuserid", "Uniqueidentifier", "User"),
                FieldDef("fullname", "String", "Full Name"),
            ),
        )
    )
    industries = tuple((i, f"Industry {i}") for i in range(1, 21))
    fields = (
        FieldDef("accountid", "Uniqueidentifier", "Account"),
        FieldDef("name", "String", "Account Name", length=160),
        FieldDef("accountnumber", "String", "Account Number", length=20),
        FieldDef("parentaccountid", "Lookup", "Parent Account", reference_to=("account",)),
        FieldDef("ownerid", "Owner", "Owner", reference_to=("systemuser",)),
        FieldDef("industrycode", "Picklist", "Industry", options=industries),
        FieldDef("revenue", "Money", "Annual Revenue"),
        FieldDef("numberofemployees", "Integer", "Employees"),
        FieldDef("address1_country", "String", "Country", length=80),
        FieldDef("address1_city", "String", "City", length=80),
        FieldDef("territorycode", "Picklist", "Territory", options=((1, "Default Value"),)),
        FieldDef("kam_walletestimate", "Money", "Wallet estimate", custom=True),
        FieldDef("kam_dunsnumber", "String", "D-U-N-S", custom=True, length=9),
        FieldDef("createdon", "DateTime", "Created On", updateable=False),
        FieldDef("modifiedon", "DateTime", "Modified On", updateable=False),
        FieldDef("versionnumber", "BigInt", "Version Number", updateable=False),
    )
    store.add_table(TableDef("account", "accountid", "Account", "Accounts", fields))
    users = [f"{i:08x}-1111-4000-8000-000000000000" for i in range(50)]
    for user in users:
        store.insert("systemuser", {"systemuserid": user, "fullname": f"Manager {user[:4]}"})
    countries = ("Japan", "Australia", "Singapore", "India", "Germany", "France")
    for i in range(rows):
        account = f"{i:08x}-2222-4000-8000-{rng.getrandbits(48):012x}"
        store.insert(
            "account",
            {
                "accountid": account,
                "name": f"Account {i} Holdings",
                "accountnumber": f"AC{i:08d}",
                "parentaccountid": None,
                "ownerid": users[i % len(users)],
                "industrycode": 1 + i % 20,
                "revenue": round(rng.lognormvariate(15, 1.5), 2),
                "numberofemployees": rng.randint(1, 100_000),
                "address1_country": countries[i % len(countries)],
                "address1_city": f"City {i % 500}",
                "territorycode": 1,
                "kam_walletestimate": round(rng.lognormvariate(16, 1), 2) if i % 3 == 0 else None,
                "kam_dunsnumber": f"{rng.randint(0, 999_999_999):09d}",
                "createdon": epoch - timedelta(days=3 * 365, seconds=rng.randint(0, 10**8)),
            },
            at=epoch - timedelta(seconds=rng.randint(0, 10**7)),
        )
    return store


def world_store(accounts: int) -> Any:
    """The Dataverse org of a generated world with ``accounts`` accounts across both orgs."""
    from datetime import date

    from connectors.emulator.world import generate_world

    return generate_world(seed=7, accounts=accounts, as_of=date(2024, 6, 30)).dynamics


def serve(rows: int, world: bool) -> None:
    """Server mode: run the emulator until stdin closes."""
    from connectors.emulator.dataverse import (
        DataverseApp,
        DataverseCredentials,
        dataverse_urls,
    )
    from connectors.emulator.faults import FaultPlan
    from connectors.emulator.server import EmulatorServer
    from connectors.emulator.tls import create_ca

    started = time.perf_counter()
    store = world_store(rows) if world else build_store(rows)
    built = time.perf_counter() - started
    gc.collect()
    gc.freeze()  # a long-lived host keeps the collector from walking the whole org on every page
    tls = create_ca(Path(tempfile.mkdtemp(prefix="dv-bench-")))
    app = DataverseApp(store, DataverseCredentials(CLIENT_ID, CLIENT_SECRET, TENANT), FaultPlan())
    server = EmulatorServer(app, tls, name="dynamics").start()
    sets = {t.definition.entity_set or t.name: len(t.rows) for t in store.tables.values()}
    line = {
        "ca_file": str(tls.ca_file),
        "build_seconds": round(built, 2),
        "entity_sets": sets,
        **dataverse_urls(server.url, TENANT),
    }
    print(json.dumps(line), flush=True)
    sys.stdin.read()
    server.stop()


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_all(
    session: Any, url: str, headers: dict[str, str]
) -> tuple[int, int, int, dict[str, Any]]:
    """Follow every nextLink; rows, pages, bytes and the last page's body."""
    rows = pages = size = 0
    body: dict[str, Any] = {}
    while url:
        response = session.get(url, headers=headers)
        response.raise_for_status()
        body = response.json()
        rows += len(body["value"])
        pages += 1
        size += len(response.content)
        url = body.get("@odata.nextLink", "")
    return rows, pages, size, body


def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Start the server, read all pages ``repeat`` times, return the measurements."""
    import msal

    from connectors.http import CrmSession

    command = [sys.executable, __file__, "--serve", "--rows", str(args.rows)]
    if args.world:
        command.append("--world")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert server.stdout is not None
        info = json.loads(server.stdout.readline())
        session = CrmSession(ca_bundle=Path(info["ca_file"]))
        app = msal.ConfidentialClientApplication(
            CLIENT_ID,
            client_credential=CLIENT_SECRET,
            authority=info["authority"],
            instance_discovery=False,
            http_client=session,
        )
        token = app.acquire_token_for_client(scopes=[f"{info['url']}/.default"])["access_token"]
        sets = info["entity_sets"] if args.world else {"accounts": args.rows}
        results = []
        for mode, prefer in (
            ("paging", f"odata.maxpagesize={args.page_size}"),
            ("change tracking", f"odata.track-changes,odata.maxpagesize={args.page_size}"),
        ):
            headers = {"Authorization": f"Bearer {token}", "Prefer": prefer}
            for run in range(args.repeat):
                rows = pages = size = 0
                server_cpu, client_cpu = cpu_seconds(server.pid), time.process_time()
                started = time.perf_counter()
                for entity_set, expected in sets.items():
                    url = f"{info['url']}/api/data/v9.2/{entity_set}"
                    got, got_pages, got_size, last = read_all(session, url, headers)
                    assert got == expected, (entity_set, got, expected)
                    assert (mode == "change tracking") == ("@odata.deltaLink" in last)
                    rows, pages, size = rows + got, pages + got_pages, size + got_size
                seconds = time.perf_counter() - started
                server_cpu = cpu_seconds(server.pid) - server_cpu
                client_cpu = time.process_time() - client_cpu
                results.append(
                    {
                        "mode": mode,
                        "run": run + 1,
                        "rows": rows,
                        "pages": pages,
                        "megabytes": round(size / 1e6, 1),
                        "seconds": round(seconds, 2),
                        "records_per_second": round(rows / seconds),
                        "server_cpu": round(server_cpu, 2),
                        "client_cpu": round(client_cpu, 2),
                        "server_records_per_cpu_second": round(rows / max(server_cpu, 1e-9)),
                    }
                )
        return results
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--page-size", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--world",
        action="store_true",
        help="serve the Dataverse org of a generated world of --rows accounts; read every table",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.rows, args.world)
        return
    results = measure(args)
    print(
        "| mode | run | rows | pages | MB | wall s | records/s | server CPU s | client CPU s "
        "| records per server CPU s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['mode']} | {r['run']} | {r['rows']:,} | {r['pages']} | {r['megabytes']} | "
            f"{r['seconds']} | {r['records_per_second']:,} | {r['server_cpu']} | "
            f"{r['client_cpu']} | {r['server_records_per_cpu_second']:,} |"
        )


if __name__ == "__main__":
    main()
