"""Numbered pieces of CPU-bound work shared between this process and one forked helper.

:func:`run_pieces` computes ``work(0) .. work(count - 1)`` and returns the results in that order.
With ``workers=2`` it forks one helper process: this process takes pieces from the front, the
helper from the back, each claiming the next piece under a shared lock, so both stay busy until
they meet however fast each one is.  The helper pickles each result into a private scratch
directory (in memory, ``/dev/shm``, where there is one) and announces its number over a pipe;
between its own pieces this process takes in, without waiting, the results announced so far, so
the cost of unpickling them is shared out like the pieces themselves (the helper claims more
pieces meanwhile) instead of following the split.

Failures are reported, never waited out: a helper that raises, exits or is killed makes this
process raise :class:`RuntimeError` (at the latest once its current piece is done); a failure in
this process stops the helper.  The scratch directory is removed in every case.

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
import shutil
import tempfile
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Lock
from typing import Any, Generic, TypeVar

R = TypeVar("R")

_FRONT, _BACK = 0, 1
# seconds between checks that the other process is still alive while waiting on it
_PATIENCE = 0.5
# scratch space in memory only when this much of it is free (at most a few results wait there)
_SHM_FREE = 1 << 30


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


def _scratch_root() -> str | None:
    """``/dev/shm`` when it is a writable directory with room to spare, else None (the default)."""
    shm = "/dev/shm"  # noqa: S108 - a private directory is made inside it with mkdtemp
    try:
        stat = os.statvfs(shm)
    except OSError:
        return None
    if not os.access(shm, os.W_OK) or stat.f_bavail * stat.f_frsize < _SHM_FREE:
        return None
    return shm


def _run_forked(count: int, work: Callable[[int], R]) -> list[R]:
    context = multiprocessing.get_context("fork")
    lock = context.Lock()
    bounds = context.RawArray("i", [0, count - 1])
    scratch = tempfile.mkdtemp(prefix="kamsync-pieces-", dir=_scratch_root())
    try:
        receive, send = context.Pipe(duplex=False)
        helper = context.Process(
            target=_helper, args=(work, lock, bounds, send, scratch, os.getpid()), daemon=True
        )
        try:
            helper.start()
        except BaseException:
            receive.close()
            raise
        finally:
            send.close()
        gather: _Gather[R] = _Gather(helper, receive, scratch)
        try:
            while (index := _claim(lock, bounds, _FRONT, helper.is_alive)) is not None:
                gather.results[index] = work(index)
                gather.take_ready()
            gather.take_rest()
        finally:
            receive.close()
            if helper.is_alive():  # only when leaving early: this process failed
                helper.terminate()
                helper.join(_PATIENCE * 10)
                if helper.is_alive():  # it ignores SIGTERM
                    helper.kill()
            helper.join()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    missing = [index for index in range(count) if index not in gather.results]
    if missing:
        raise RuntimeError(f"pieces {missing} were claimed but never delivered")
    return [gather.results[index] for index in range(count)]


class _Gather(Generic[R]):
    """The helper's results as they are announced, read back from the scratch directory."""

    def __init__(self, helper: BaseProcess, receive: Connection, scratch: str) -> None:
        self.helper = helper
        self.receive = receive
        self.scratch = scratch
        self.results: dict[int, R] = {}
        self.open = True

    def take_ready(self) -> None:
        """Take in every result announced so far, without waiting for more."""
        while self.open and self.receive.poll():
            self._take_one()

    def take_rest(self) -> None:
        """Take in results until the helper is done (it closes the pipe, or is gone)."""
        while self.open:
            if self.receive.poll(_PATIENCE):
                self._take_one()
            elif not self.helper.is_alive():
                # gone without the pipe closing (a descendant of the helper may hold it open)
                self._closed()

    def _take_one(self) -> None:
        try:
            message = self.receive.recv_bytes()
        except EOFError:
            self._closed()
            return
        index = int.from_bytes(message, "little")
        path = os.path.join(self.scratch, str(index))
        with open(path, "rb") as file:
            payload = file.read()
        os.unlink(path)
        # our own forked child's pickle, in a directory only this process and the child know
        self.results[index] = pickle.loads(payload)  # noqa: S301

    def _closed(self) -> None:
        """The helper is done or dead: nothing more will come; a failure is raised here."""
        self.open = False
        self.helper.join()
        if self.helper.exitcode != 0:
            raise RuntimeError(f"the helper process exited with code {self.helper.exitcode}")


def _claim(lock: Lock, bounds: Any, end: int, partner_alive: Callable[[], bool]) -> int | None:
    """The next unclaimed piece from the front or the back, or None when none is left.

    Waiting for the lock, checks now and then that the other process still lives (one killed
    while holding the lock would leave it held for good) and claims nothing more once it is
    gone: the helper then stops, this process goes on to find out how the helper ended.
    """
    while not lock.acquire(timeout=_PATIENCE):
        if not partner_alive():
            return None
    try:
        front, back = bounds[_FRONT], bounds[_BACK]
        if front > back:
            return None
        if end == _FRONT:
            bounds[_FRONT] = front + 1
            return int(front)
        bounds[_BACK] = back - 1
        return int(back)
    finally:
        lock.release()


def _helper(
    work: Callable[[int], R],
    lock: Lock,
    bounds: Any,
    send: Connection,
    scratch: str,
    parent: int,
) -> None:
    """The forked helper: claim from the back, pickle each result to a file, announce it."""

    def parent_alive() -> bool:
        return os.getppid() == parent

    try:
        while parent_alive() and (index := _claim(lock, bounds, _BACK, parent_alive)) is not None:
            payload = pickle.dumps(work(index), protocol=pickle.HIGHEST_PROTOCOL)
            with open(os.path.join(scratch, str(index)), "wb") as file:
                file.write(payload)
            send.send_bytes(index.to_bytes(8, "little"))
    finally:
        send.close()
        if not parent_alive():  # nobody is left to clean up after us
            shutil.rmtree(scratch, ignore_errors=True)


__all__ = ["run_pieces", "worker_count"]
