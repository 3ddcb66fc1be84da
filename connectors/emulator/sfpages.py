"""Page rendering for the emulated Salesforce APIs: a per-record text cache and a prefetcher.

* :class:`LineCache` keeps each record's rendered JSON object / CSV line per layout and reuses it
  while the record's change sequence is unchanged, so paging through the same records again
  (the next sync, a retried page, another field order) costs dictionary lookups.
* :class:`Prefetcher` renders the next page on a background thread while the client is still
  reading the current one, so that on a multi-core machine rendering overlaps with the client's
  parsing instead of adding to it.
* :class:`Pieces` is a page cut into pieces that the background thread renders in order while
  the request serving the page sends each piece as soon as it is ready.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Generic, TypeVar

Record = dict[str, Any]
MAX_PENDING = 64
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RenderedPage:
    """The texts of a run of records, with the ids and change sequences they were made from."""

    ids: list[Any]
    seqs: list[int | None]
    texts: list[str]
    version: int | None = None  # the store's change sequence before the records were read

    def stamped(self, version: int) -> RenderedPage:
        """This page, known to be current as of the store's change sequence ``version``."""
        return RenderedPage(self.ids, self.seqs, self.texts, version)

    def current(self, seqs: Mapping[Any, int]) -> bool:
        """True while no record of the page has changed (or gone) since it was rendered."""
        return list(map(seqs.get, self.ids)) == self.seqs


class LineCache:
    """Rendered text per record and layout, reused while the record's change sequence holds.

    A layout is whatever decides a record's text (format, object, field list, version,
    delimiter).  The cache keeps the last :attr:`max_layouts` layouts used, each as two
    dictionaries keyed by record id (the text, and the change sequence it was rendered at), so
    that filling one costs no per-record allocation and checking a page is a comparison of two
    lists.  Lookups and stores are plain dictionary operations, safe under the GIL; a race only
    renders a record twice.
    """

    def __init__(self, max_layouts: int = 16) -> None:
        self.max_layouts = max_layouts
        self._layouts: dict[Hashable, tuple[dict[Any, str], dict[Any, int | None]]] = {}

    def _layout(self, layout: Hashable) -> tuple[dict[Any, str], dict[Any, int | None]]:
        cache = self._layouts.pop(layout, None)
        if cache is None:
            cache = ({}, {})
            while len(self._layouts) >= self.max_layouts:
                self._layouts.pop(next(iter(self._layouts)))
        self._layouts[layout] = cache  # most recently used last
        return cache

    def page(
        self,
        layout: Hashable,
        records: Sequence[Record],
        seqs: Mapping[Any, int],
        key: str,
        render: Callable[[Sequence[Record]], list[str]],
        ids: list[Any] | None = None,
    ) -> RenderedPage:
        """The text of every record (rendering, in one call, only those not cached as they are)
        with the ids and change sequences the texts stand for.

        ``seqs`` maps record ids to their change sequences, ``key`` names the id field and
        ``ids`` are the records' ids when the caller has them already.
        """
        texts, stamps = self._layout(layout)
        if ids is None:
            ids = list(map(itemgetter(key), records))
        current = list(map(seqs.get, ids))
        known = list(map(stamps.get, ids))
        if known == current:
            out: list[Any] = list(map(texts.get, ids))
            if None not in out:
                return RenderedPage(ids, current, out)
        elif known.count(None) != len(known):  # some of them cached
            out = [
                texts.get(i) if k == s and k is not None else None
                for i, k, s in zip(ids, known, current, strict=True)
            ]
        else:
            out = []  # none of them cached
        missing = [n for n, text in enumerate(out) if text is None]
        if len(missing) == len(out):  # nothing cached: render the page as it is
            rendered = render(records)
            texts.update(zip(ids, rendered, strict=True))
            stamps.update(zip(ids, current, strict=True))
            return RenderedPage(ids, current, rendered)
        rendered = render([records[n] for n in missing])
        for n, text in zip(missing, rendered, strict=True):
            out[n] = text
            texts[ids[n]] = text
            stamps[ids[n]] = current[n]
        return RenderedPage(ids, current, out)


class Prefetcher:
    """Runs page renders ahead of the requests for them, one at a time, on a background thread."""

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._pending: OrderedDict[Hashable, Future[Any]] = OrderedDict()
        self._lock = threading.Lock()

    def schedule(self, key: Hashable, work: Callable[[], Any]) -> None:
        """Start ``work`` in the background unless ``key`` is already scheduled."""
        with self._lock:
            if key in self._pending:
                return
            self._pending[key] = self._start(work)
            while len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)

    def submit(self, work: Callable[[], Any]) -> None:
        """Start ``work`` in the background, after the work already scheduled; nobody waits
        for it (its errors are ignored)."""
        with self._lock:
            self._start(work)

    def _start(self, work: Callable[[], Any]) -> Future[Any]:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="emulator-prefetch")
        return self._executor.submit(work)

    def wait(self, key: Hashable) -> Any:
        """Wait until the work scheduled for ``key`` (if any) is done and return its result;
        None when nothing was scheduled, the work failed (its errors are ignored) or was
        cancelled.

        Work still queued behind other pages is cancelled instead: the caller does it itself
        rather than wait for the queue.
        """
        with self._lock:
            future = self._pending.pop(key, None)
        if future is None or future.cancel() or future.exception() is not None:
            return None
        return future.result()

    def close(self) -> None:
        """Drop pending work and stop the thread."""
        with self._lock:
            executor, self._executor = self._executor, None
            self._pending.clear()
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


class Pieces(Generic[T]):
    """A page cut into pieces, rendered in order by a background worker (:meth:`run`) while the
    request that serves the page takes each one as soon as it is ready (:meth:`get`).

    A piece is rendered once, by whoever claims it first: the request renders a piece itself
    when the worker has not started it (the worker is queued behind other work, was cancelled
    or failed), and waits for one the worker is rendering.
    """

    def __init__(self, count: int, render: Callable[[int], T]) -> None:
        self._render = render
        self._results: list[T | None] = [None] * count
        self._claimed = [False] * count
        self._changed = threading.Condition()

    def __len__(self) -> int:
        return len(self._results)

    def _claim(self, n: int) -> bool:
        with self._changed:
            if self._claimed[n]:
                return False
            self._claimed[n] = True
            return True

    def _done(self, n: int, result: T | None) -> None:
        with self._changed:
            self._results[n] = result
            self._claimed[n] = result is not None  # a failed piece is left for get() to render
            self._changed.notify_all()

    def _make(self, n: int) -> T:
        try:
            result = self._render(n)
        except BaseException:
            self._done(n, None)
            raise
        self._done(n, result)
        return result

    def run(self) -> None:
        """Render, in order, every piece nobody has claimed yet (the background worker)."""
        for n in range(len(self._results)):
            if self._claim(n):
                self._make(n)

    def get(self, n: int) -> T:
        """Piece ``n``: as the worker rendered it (waiting while it renders it), or made here."""
        with self._changed:
            while self._results[n] is None and self._claimed[n]:
                self._changed.wait()
            result = self._results[n]
            if result is not None:
                return result
            self._claimed[n] = True
        return self._make(n)
