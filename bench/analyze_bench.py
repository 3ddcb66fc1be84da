"""Benchmark ``kamsync analyze`` on a synthetic 200,000-account world built directly in DuckDB.

    python bench/analyze_bench.py [--accounts 200000] [--activities-per-account 50] [--runs 2]

Fills ``crm.*`` with SQL (deterministic: every "random" value is a hash of the row number),
then, each in a fresh process so peak memory is its own:

* the floor: one GROUP BY over crm.activities and one over crm.opportunity_lines, the least
  work any analysis of these tables must do (best of three);
* analyze: every kam mart built in one transaction, committed and checkpointed, as
  ``kamsync analyze`` does it (without copying the analysts' file, timed on its own).

Prints a Markdown table with wall and CPU time, their ratios to the floor, and peak memory
(RSS). On a shared machine the CPU ratio is the steadier of the two.

With ``--ablations`` it also runs analyze twice more, each in a fresh process, to show where the
time goes: once with every mart but ``score_history`` built as a temporary table (the models
computed, nothing but the history written to the file), and once without the two largest marts
(``whitespace`` and ``account_health_components``, which no other model reads).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analytics.models import Model, discover  # noqa: E402
from bench.synthetic import AS_OF, generate  # noqa: E402


def counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    tables = ["accounts", "contacts", "opportunities", "opportunity_lines", "activities"]
    return {t: int(con.execute(f"select count(*) from crm.{t}").fetchall()[0][0]) for t in tables}


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM; ru_maxrss would include the parent's)."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_floor(path: Path) -> dict[str, float]:
    con = duckdb.connect(str(path), read_only=True)
    best = (float("inf"), float("inf"))
    for _ in range(3):
        started, cpu = time.perf_counter(), time.process_time()
        # materialised inside DuckDB, as the marts are: fetching a million rows into Python
        # would time Python's object conversion, not the scan
        con.execute(
            "create or replace temp table floor_activities as "
            "select account_key, count(*) as n, max(activity_date) as last_date "
            "from crm.activities group by account_key"
        ).fetchall()
        con.execute(
            "create or replace temp table floor_lines as "
            "select opportunity_key, sum(total_price) as total, count(*) as n "
            "from crm.opportunity_lines group by opportunity_key"
        ).fetchall()
        best = min(best, (time.perf_counter() - started, time.process_time() - cpu))
    con.close()
    return {"seconds": best[0], "cpu_seconds": best[1], "peak_rss_mb": peak_rss_mb()}


ABLATIONS = {
    "temporary": "ablation: marts built as temporary tables (only score_history written)",
    "no_cells": "ablation: without whitespace and account_health_components",
}
"""The variants ``--ablations`` runs, and how the table names them."""


def variant_models(variant: str) -> list[Model]:
    """The shipped models, changed as the variant asks (``full``: unchanged)."""
    models = discover()
    if variant == "temporary":
        return [
            m if m.materialized == "append" else dataclasses.replace(m, layer="intermediate")
            for m in models
        ]
    if variant == "no_cells":
        return [m for m in models if m.name not in {"whitespace", "account_health_components"}]
    return models


def child_analyze(path: Path, runs: int, variant: str) -> dict[str, object]:
    from analytics.runner import run_analysis
    from config.model import AnalyticsConfig

    config = AnalyticsConfig(as_of=AS_OF)
    models = variant_models(variant)
    con = duckdb.connect(str(path))
    results: list[dict[str, object]] = []
    for _ in range(runs):
        started, cpu = time.perf_counter(), time.process_time()
        result = run_analysis(con, config, models=models)
        built = time.perf_counter() - started
        con.execute("checkpoint").fetchall()
        total = time.perf_counter() - started
        cpu_total = time.process_time() - cpu
        slowest = sorted(result.cpu_seconds.items(), key=lambda kv: -kv[1])[:10]
        results.append(
            {
                "build_seconds": built,
                "seconds": total,
                "cpu_seconds": cpu_total,
                "rows": result.rows_written,
                # CPU outside the models: bootstrap, seeds, the commit (with the checkpoint it
                # triggers) and the explicit checkpoint
                "outside_models_cpu": cpu_total - sum(result.cpu_seconds.values()),
                "slowest": [(name, round(sec, 2)) for name, sec in slowest],
            }
        )
    con.close()
    started = time.perf_counter()
    shutil.copyfile(path, path.with_suffix(".published"))
    publish = time.perf_counter() - started
    path.with_suffix(".published").unlink()
    return {"runs": results, "publish_seconds": publish, "peak_rss_mb": peak_rss_mb()}


def in_child(mode: str, path: Path, runs: int, variant: str = "full") -> dict[str, object]:
    command = [sys.executable, __file__, "--child", mode, "--path", str(path), "--runs", str(runs)]
    out = subprocess.run(
        [*command, "--variant", variant],
        check=True,
        capture_output=True,
        text=True,
    )
    parsed: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return parsed


def print_runs(
    label: str, result: dict[str, object], floor_seconds: float, floor_cpu: float
) -> None:
    """One table row per analyze run of a child: its times and their ratios to the floor."""
    runs = result["runs"]
    assert isinstance(runs, list)
    for index, run in enumerate(runs, start=1):
        which = "first run" if index == 1 else f"run {index} (with history)"
        print(
            f"| {label}, {which} (build + commit + checkpoint) | {run['seconds']:.2f} | "
            f"{run['seconds'] / floor_seconds:.1f} | {run['cpu_seconds']:.2f} | "
            f"{run['cpu_seconds'] / floor_cpu:.1f} | {result['peak_rss_mb']:.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=200_000)
    parser.add_argument("--activities-per-account", type=int, default=50)
    parser.add_argument("--runs", type=int, default=2, help="analyze runs (the second has history)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument(
        "--ablations", action="store_true", help="also run analyze without writing / without cells"
    )
    parser.add_argument("--child", choices=["floor", "analyze"], help=argparse.SUPPRESS)
    parser.add_argument(
        "--variant", choices=["full", *ABLATIONS], default="full", help=argparse.SUPPRESS
    )
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child == "floor":
        print(json.dumps(child_floor(args.path)))
        return
    if args.child == "analyze":
        print(json.dumps(child_analyze(args.path, args.runs, args.variant)))
        return

    from config.model import WarehouseConfig
    from sync.warehouse import Warehouse

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"bench-{args.accounts}.duckdb"
    for old in args.out.glob(f"bench-{args.accounts}.duckdb*"):
        old.unlink()
    started = time.perf_counter()
    con = Warehouse(WarehouseConfig(path=path, engine_path=path)).connect()
    generate(con, args.accounts, args.activities_per_account)
    sizes = counts(con)
    con.close()
    generated = time.perf_counter() - started

    load_before = ", ".join(f"{load:.1f}" for load in os.getloadavg())
    floor = in_child("floor", path, 1)
    analyze = in_child("analyze", path, args.runs)
    ablations = {
        variant: in_child("analyze", path, args.runs, variant)
        for variant in (ABLATIONS if args.ablations else {})
    }
    floor_seconds = float(floor["seconds"])  # type: ignore[arg-type]

    print(
        f"world: {', '.join(f'{n:,} {t}' for t, n in sizes.items())}; generated in {generated:.1f}s"
    )
    print(f"threads: {os.cpu_count()} CPUs; DuckDB {duckdb.__version__}")
    print()
    floor_cpu = float(floor["cpu_seconds"])  # type: ignore[arg-type]
    print(f"load average before: {load_before}")
    print()
    print("| step | wall (s) | ratio to floor | CPU (s) | CPU ratio | peak RSS (MB) |")
    print("|---|---:|---:|---:|---:|---:|")
    print(
        f"| floor: GROUP BY activities + GROUP BY lines | {floor_seconds:.2f} | 1.0 | "
        f"{floor_cpu:.2f} | 1.0 | {floor['peak_rss_mb']:.0f} |"
    )
    labels = {"full": "analyze"} | ABLATIONS
    for variant, result in {"full": analyze, **ablations}.items():
        print_runs(labels[variant], result, floor_seconds, floor_cpu)
    print(f"| publish the analysts' copy (file copy) | {analyze['publish_seconds']:.2f} | | | | |")
    print()
    runs = analyze["runs"]
    assert isinstance(runs, list)
    for index, run in enumerate(runs, start=1):
        print(
            f"run {index}: {run['rows']:,} mart rows; CPU outside the models (commit, "
            f"checkpoint, setup) {run['outside_models_cpu']:.2f}s; "
            f"slowest models (CPU s): {run['slowest']}"
        )
    print(f"file size: {path.stat().st_size / 1e9:.2f} GB")


if __name__ == "__main__":
    main()
