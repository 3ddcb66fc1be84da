"""What the two sync benchmarks share: the emulator, the measured sync, the run and the report.

``bench/sync_bench.py`` (Salesforce) and ``bench/dynamics_sync_bench.py`` (Dataverse) each bring
their CRM's floor (the pages a full read downloads, parsed and nothing else), the source lines of
their configuration, the minimum number of API calls and the wording of their report; this
module runs the rest alike for each world size:

1. **floor**: the emulator (a child process) is started and the CRM's floor measured;
2. **sync**: the emulator is restarted with the same seed (so neither run profits from the
   other's warm caches) and ``kamsync sync`` runs in a child process that reports its own peak
   RSS;
3. **incremental**: ``kamsync sync`` again with nothing changed, counting calls per object.

``--write`` replaces the benchmark's section of docs/benchmarks.md with the results.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from sync.commands.emulator_cmd import serve_argv

ROOT = Path(__file__).resolve().parents[1]

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


@dataclass(frozen=True)
class Floor:
    """Downloading and parsing every page of a full read: time, records and (when counted) MB."""

    seconds: float
    records: int
    megabytes: float = 0.0


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
    per_object: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Per object or table: records landed and calls made by the full sync."""
    incremental_calls: dict[str, int] = field(default_factory=dict)
    incremental_seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Records per second of the full sync."""
        return self.records / self.sync_seconds

    @property
    def floor_rate(self) -> float:
        """Records per second of the floor."""
        return self.records / self.floor_seconds


@dataclass(frozen=True)
class Source:
    """What a benchmark's CRM brings to the harness."""

    key: str
    """The emulator's JSON line names the org by it (``salesforce``, ``dynamics``)."""
    name: str
    """The source's name in the configuration."""
    env_prefix: str
    """Its credentials are in ``<env_prefix>_CLIENT_ID`` and ``<env_prefix>_CLIENT_SECRET``."""
    settings: Callable[[dict[str, Any]], str]
    """The source's own configuration lines, from the org's part of the JSON line."""
    floor: Callable[[dict[str, Any]], Floor]
    minimum_calls: Callable[[dict[str, int]], int]
    """The fewest calls the API allows for these row counts per object."""


def serve(accounts: int) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """Start the emulator; its JSON line."""
    process = subprocess.Popen(
        serve_argv("--accounts", str(accounts), "--seed", "7"),
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


def source_block(name: str, kind: str, settings: str, env_prefix: str, ca_file: str) -> str:
    """A ``[[sources]]`` block for one emulated org: its own ``settings`` lines, credentials
    from ``<env_prefix>_CLIENT_ID`` / ``_CLIENT_SECRET``, trust in the emulator's CA."""
    return f"""
[[sources]]
name = "{name}"
kind = "{kind}"
{settings.strip()}
client_id_env = "{env_prefix}_CLIENT_ID"
client_secret_env = "{env_prefix}_CLIENT_SECRET"
ca_bundle = "{ca_file}"
"""


def source_env(env_prefix: str, org: dict[str, Any]) -> dict[str, str]:
    """The environment a :func:`source_block` names: the org's throwaway credentials."""
    return {
        f"{env_prefix}_CLIENT_ID": org["client_id"],
        f"{env_prefix}_CLIENT_SECRET": org["client_secret"],
    }


def write_config(
    directory: Path, ready: dict[str, Any], source: Source
) -> tuple[Path, dict[str, str]]:
    """A config for the emulator's org of ``source`` and the environment it names."""
    org = ready[source.key]
    block = source_block(
        source.name, source.key, source.settings(org), source.env_prefix, ready["ca_file"]
    )
    path = directory / "kamsync.toml"
    path.write_text(f'\n[warehouse]\npath = "kamsync.duckdb"{block}', encoding="utf-8")
    return path, source_env(source.env_prefix, org)


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


def calls(directory: Path) -> tuple[int, dict[str, tuple[int, int]]]:
    """The last sync run's API calls, and per object its rows upserted and calls."""
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


def bench(accounts: int, source: Source) -> Result:
    """All measurements at one world size."""
    result = Result(accounts)
    process, ready = serve(accounts)
    try:
        floor = source.floor(ready)
        result.floor_seconds, result.records = floor.seconds, floor.records
        result.megabytes = floor.megabytes
    finally:
        stop(process)
    process, ready = serve(accounts)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            config, env = write_config(directory, ready, source)
            full = measured_sync(config, env, directory)
            result.sync_seconds, result.peak_rss = full["seconds"], full["peak_rss"]
            result.calls, result.per_object = calls(directory)
            result.minimum = source.minimum_calls({o: r for o, (r, _) in result.per_object.items()})
            again = measured_sync(config, env, directory)
            result.incremental_seconds = again["seconds"]
            _, incremental = calls(directory)
            result.incremental_calls = {o: c for o, (_, c) in incremental.items()}
    finally:
        stop(process)
    return result


@dataclass(frozen=True)
class Wording:
    """How a benchmark's report words its section."""

    section: str
    intro: str
    columns: Sequence[str]
    row: Callable[[Result], Sequence[str]]
    """The cells of one world size's row, under ``columns``."""
    per_object: str
    """The paragraph above the per-object table (of the largest world size)."""
    noun: str
    """What the CRM calls an object: object or table."""
    notes: Sequence[str]
    """Paragraphs after the per-object table."""
    incremental: str
    """How many calls per object an incremental sync made at most, e.g. "calls per object"."""
    incremental_how: str
    """Why that is the minimum, in brackets after the sentence."""


def markdown(
    results: list[Result], wording: Wording, minimum_calls: Callable[[dict[str, int]], int]
) -> str:
    """The Markdown section: one row per world size, the largest per object, the increments."""
    lines = [
        wording.section,
        "",
        wording.intro,
        "",
        "| " + " | ".join(wording.columns) + " |",
        "|" + "---:|" * len(wording.columns),
    ]
    lines += ["| " + " | ".join(wording.row(r)) + " |" for r in results]
    last = results[-1]
    lines += [
        "",
        wording.per_object,
        "",
        f"| {wording.noun} | records | minimum calls | calls made |",
        "|---|---:|---:|---:|",
    ]
    for obj, (rows, made) in last.per_object.items():
        lines.append(f"| {obj} | {rows:,} | {minimum_calls({obj: rows})} | {made} |")
    lines.append("")
    for note in wording.notes:
        lines += [note, ""]
    lines += [
        "Incremental sync with nothing changed: "
        + ", ".join(
            f"{r.accounts:,} accounts {max(r.incremental_calls.values())} "
            f"{wording.incremental} at most "
            f"({sum(r.incremental_calls.values())} in all, {r.incremental_seconds:.1f} s)"
            for r in results
        )
        + f" ({wording.incremental_how}).",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str, section: str) -> None:
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


def run(
    doc: str,
    source: Source,
    report: Callable[[list[Result]], str],
    section: str,
    argv: Sequence[str] | None = None,
) -> None:
    """Run a benchmark: ``--accounts`` sizes, print the report, ``--write`` it to the docs."""
    parser = argparse.ArgumentParser(description=doc.partition("\n")[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    results = [bench(n, source) for n in args.accounts]
    text = report(results)
    print(text)
    if args.write:
        write_section(text, section)
