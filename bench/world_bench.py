"""Benchmark of the world generator: wall time, CPU time, peak RSS and records per world size.

Each size runs in its own child process, so the peak RSS is that size's alone.  Worlds of more
than one chunk of accounts are written by that process and a forked helper together; CPU time
and peak RSS are given for both (the helper's RSS counts the memory it shares with its parent).

    python bench/world_bench.py                 # 20,000 and 200,000 accounts
    python bench/world_bench.py --sizes 2000    # any sizes
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import date

AS_OF = date(2025, 6, 30)


def child(size: int, seed: int) -> dict[str, float | int]:
    """Generate one world in this process and measure it."""
    from connectors.emulator.world import generate_world

    started, cpu_started = time.perf_counter(), time.process_time()
    world = generate_world(seed, size, AS_OF)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    records = sum(
        len(table.rows)
        for store in (world.salesforce, world.dynamics)
        for table in store.tables.values()
    )
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    helper = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "accounts": size,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "helper_cpu_seconds": round(helper.ru_utime + helper.ru_stime, 2),
        "helper_peak_rss_mib": round(helper.ru_maxrss / 1024),
        "records": records,
        "peak_rss_mib": round(peak_kib / 1024),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.seed)))
        return 0
    load = os.getloadavg()[0]
    print(f"load average before: {load:.2f} (wall time suffers when others share the cores)")
    header = ("accounts", "records", "wall s", "CPU s", "helper CPU s", "peak RSS MiB", "records/s")
    widths = (9, 10, 7, 6, 13, 13, 10)
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, widths, strict=True)))
    for size in args.sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(size), "--seed", str(args.seed)],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(out.stdout)
        rate = result["records"] / result["seconds"]
        print(
            f"{result['accounts']:>9,} {result['records']:>10,} {result['seconds']:>7.1f} "
            f"{result['cpu_seconds']:>6.1f} {result['helper_cpu_seconds']:>13.1f} "
            f"{result['peak_rss_mib']:>13,} {rate:>10,.0f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
