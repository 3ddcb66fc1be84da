"""Pieces of work shared with a forked helper come back complete and in order."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from connectors.emulator.split import run_pieces, worker_count

# forking is only safe from a single-threaded process, so the forked runs use a fresh one; it
# puts its scratch directory under a directory of the test's, to show that nothing is left there
_FORKED = """
import os, signal, sys
from connectors.emulator import split

root = {root!r}
split._scratch_root = lambda: root
parent = os.getpid()
mode, at = {mode!r}, {at}
ready = os.pipe()

if mode == "lock":
    # the helper dies holding the lock on its first claim, and only then this process claims
    import multiprocessing
    claim = split._claim
    def holding_claim(lock, bounds, end, partner_alive):
        if end == split._BACK:
            lock.acquire()
            os._exit(9)
        for child in multiprocessing.active_children():
            child.join()
        return claim(lock, bounds, end, partner_alive)
    split._claim = holding_claim

def work(index):
    helper = os.getpid() != parent
    if index == at and helper:
        if mode == "raise":
            raise ValueError("the helper failed")
        if mode == "exit":
            os._exit(3)
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
    if mode in ("main", "stubborn"):
        if not helper:
            if mode == "stubborn":
                os.read(ready[0], 1)  # the helper ignores SIGTERM by now
            raise KeyError("this process failed")
        if mode == "stubborn" and index == 23:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            os.write(ready[1], b"!")
        sum(range(200_000_000))  # long enough to miss the timeout if the helper is not stopped
    return index, sum(range(1_000_000 + index)), not helper

try:
    results = split.run_pieces(24, work, workers=2)
except (RuntimeError, KeyError) as error:
    print("error:", error)
else:
    print(all(r[:2] == (i, sum(range(1_000_000 + i))) for i, r in enumerate(results)), len(results))
    print(sorted({{r[2] for r in results}}))
print("left:", os.listdir(root))
"""


def _forked(tmp_path: Path, mode: str = "", at: int = -1) -> list[str]:
    """The output of a fresh process running 24 pieces with a helper; a hang fails in 60 s."""
    code = _FORKED.format(root=str(tmp_path), mode=mode, at=at)
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60
    )
    return out.stdout.splitlines()


def test_both_processes_work_and_results_come_back_in_order(tmp_path: Path) -> None:
    assert _forked(tmp_path) == ["True 24", "[False, True]", "left: []"]


def test_a_failing_helper_is_reported_not_ignored(tmp_path: Path) -> None:
    # the helper takes the pieces from the back first, so it is the one that meets piece 23
    lines = _forked(tmp_path, "raise", 23)
    assert lines[0].startswith("error: the helper process exited with code 1")
    assert lines[1:] == ["left: []"]


@pytest.mark.parametrize(
    ("mode", "code"), [("exit", 3), ("kill", -signal.SIGKILL)], ids=["exit", "kill"]
)
def test_a_helper_that_exits_or_is_killed_is_reported(tmp_path: Path, mode: str, code: int) -> None:
    lines = _forked(tmp_path, mode, 22)
    assert lines == [f"error: the helper process exited with code {code}", "left: []"]


def test_a_helper_dying_with_the_lock_held_is_reported(tmp_path: Path) -> None:
    lines = _forked(tmp_path, "lock")
    assert lines == ["error: the helper process exited with code 9", "left: []"]


@pytest.mark.parametrize("mode", ["main", "stubborn"], ids=["helper", "helper-ignoring-sigterm"])
def test_a_failure_here_stops_the_helper(tmp_path: Path, mode: str) -> None:
    # left running, the helper would spend far longer than the timeout on its pieces
    lines = _forked(tmp_path, mode)
    assert lines == ["error: 'this process failed'", "left: []"]


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
