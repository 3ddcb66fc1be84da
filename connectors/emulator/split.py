"""Numbered pieces of CPU-bound work shared between this process and one forked helper.

:func:`run_pieces` computes ``work(0) .. work(count - 1)`` and returns the results in that order.
With ``workers=2`` it forks one helper process: this process takes pieces from the front, the
helper from the back, each claiming the next piece under a shared lock, so both stay busy until
they meet however fast each one is.  The helper pickles each result as soon as it is computed and
sends the pickles when nothing is left to claim; this process unpickles them at the end.

The split only decides *who* computes a piece, never *what* it holds: every ``work(i)`` must
depend on ``i`` and on state that existed before the call alone, so the results are the same
with one worker or two.

Forking is only safe while the process runs a single thread (another thread may hold a lock the
child would then wait on forever), so :func:`worker_count` offers two workers only then, and only
on platforms that fork.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import TypeVar

R = TypeVar("R")

_FRONT, _BACK = 0, 1


def worker_count(pieces: int) -> int:
    """2 when there is more than one piece, two CPUs, ``fork`` and a single thread; else 1."""
    if pieces < 2 or (os.cpu_count() or 1) < 2:
        return 1
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return 2 if threading.active_count() == 1 else 1


def run_pieces(count: int, work: Callable[[int], R], *, workers: int = 1) -> list[R]:
    """``[work(0), ..., work(count - 1)]``, computed by ``workers`` (1 or 2) processes."""
    if workers not in (1, 2):
        raise ValueError(f"workers must be 1 or 2, got {workers}")
    if workers == 1 or count < 2:
        return [work(index) for index in range(count)]
    return _run_forked(count, work)


def _run_forked(count: int, work: Callable[[int], R]) -> list[R]:
    context = multiprocessing.get_context("fork")
    lock = context.Lock()
    bounds = context.RawArray("i", [0, count - 1])
    receive, send = context.Pipe(duplex=False)
    helper = context.Process(target=_helper, args=(work, lock, bounds, send), daemon=True)
    helper.start()
    send.close()
    results: dict[int, R] = {}
    try:
        while (index := _claim(lock, bounds, _FRONT)) is not None:
            results[index] = work(index)
        for index, payload in _received(receive):
            # our own forked child's pickles, over a pipe nobody else holds
            results[index] = pickle.loads(payload)  # noqa: S301
    finally:
        receive.close()
        helper.join()
    if helper.exitcode != 0:
        raise RuntimeError(f"the helper process exited with code {helper.exitcode}")
    missing = [index for index in range(count) if index not in results]
    if missing:
        raise RuntimeError(f"pieces {missing} were claimed but never delivered")
    return [results[index] for index in range(count)]


def _claim(lock: object, bounds: object, end: int) -> int | None:
    """The next unclaimed piece from the front or the back, or None when none is left."""
    with lock:  # type: ignore[attr-defined]
        front, back = bounds[_FRONT], bounds[_BACK]  # type: ignore[index]
        if front > back:
            return None
        if end == _FRONT:
            bounds[_FRONT] = front + 1  # type: ignore[index]
            return int(front)
        bounds[_BACK] = back - 1  # type: ignore[index]
        return int(back)


def _helper(work: Callable[[int], R], lock: object, bounds: object, send: Connection) -> None:
    """The forked helper: claim from the back, pickle each result, send them all at the end."""
    done: list[tuple[int, bytes]] = []
    try:
        while (index := _claim(lock, bounds, _BACK)) is not None:
            done.append((index, pickle.dumps(work(index), protocol=pickle.HIGHEST_PROTOCOL)))
        for index, payload in done:
            send.send_bytes(index.to_bytes(8, "little") + payload)
    finally:
        send.close()


def _received(receive: Connection) -> list[tuple[int, memoryview]]:
    out: list[tuple[int, memoryview]] = []
    while True:
        try:
            message = receive.recv_bytes()
        except EOFError:
            return out
        view = memoryview(message)
        out.append((int.from_bytes(view[:8], "little"), view[8:]))


__all__ = ["run_pieces", "worker_count"]
