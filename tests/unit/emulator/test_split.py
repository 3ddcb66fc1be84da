"""Pieces of work shared with a forked helper come back complete and in order."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from connectors.emulator.split import run_pieces, worker_count

# forking is only safe from a single-threaded process, so the forked runs use a fresh one
_FORKED = """
import os, sys
from connectors.emulator.split import run_pieces

parent = os.getpid()

def work(index):
    if index == {fail} and os.getpid() != parent:
        raise ValueError("the helper failed")
    return index, sum(range(1_000_000 + index)), os.getpid() == parent

try:
    results = run_pieces(24, work, workers=2)
except RuntimeError as error:
    print("error:", error)
    sys.exit(0)
print(all(r[:2] == (i, sum(range(1_000_000 + i))) for i, r in enumerate(results)), len(results))
print(sorted({{r[2] for r in results}}))
"""


def _forked(fail: int) -> list[str]:
    code = _FORKED.format(fail=fail)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return out.stdout.splitlines()


def test_both_processes_work_and_results_come_back_in_order() -> None:
    assert _forked(fail=-1) == ["True 24", "[False, True]"]


def test_a_failing_helper_is_reported_not_ignored() -> None:
    # the helper takes the pieces from the back first, so it is the one that meets piece 23
    lines = _forked(fail=23)
    assert lines[0].startswith("error: the helper process exited with code 1")


def test_one_worker_computes_in_this_process() -> None:
    assert run_pieces(3, lambda index: index * index) == [0, 1, 4]
    with pytest.raises(ValueError, match="workers must be 1 or 2"):
        run_pieces(3, str, workers=3)


def test_no_helper_for_one_piece_or_while_other_threads_run() -> None:
    assert worker_count(1) == 1
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        assert worker_count(10) == 1
    finally:
        release.set()
        thread.join()
