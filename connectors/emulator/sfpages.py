"""Page rendering for the emulated Salesforce APIs: a per-record text cache and a prefetcher.

* :class:`LineCache` keeps each record's rendered JSON object / CSV line per layout and reuses it
  while the record's change sequence is unchanged, so paging through the same records again
  (the next sync, a retried page, another field order) costs dictionary lookups.
* :class:`Prefetcher` renders the next page on a background thread while the client is still
  reading the current one, so that on a multi-core machine rendering overlaps with the client's
  parsing instead of adding to it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from operator import itemgetter
from typing import Any

Record = dict[str, Any]
MAX_PENDING = 64


class LineCache:
    """Rendered text per record and layout, reused while the record's change sequence holds.

    A layout is whatever decides a record's text (format, object, field list, version,
    delimiter).  The cache keeps the last :attr:`max_layouts` layouts used.  Lookups and stores
    are plain dictionary operations, safe under the GIL; a race only renders a record twice.
    """

    def __init__(self, max_layouts: int = 16) -> None:
        self.max_layouts = max_layouts
        self._layouts: dict[Hashable, dict[Any, tuple[int | None, str]]] = {}

    def _layout(self, layout: Hashable) -> dict[Any, tuple[int | None, str]]:
        cache = self._layouts.pop(layout, None)
        if cache is None:
            cache = {}
            while len(self._layouts) >= self.max_layouts:
                self._layouts.pop(next(iter(self._layouts)))
        self._layouts[layout] = cache  # most recently used last
        return cache

    def lines(
        self,
        layout: Hashable,
        records: Sequence[Record],
        seqs: Mapping[Any, int],
        key: str,
        render: Callable[[Sequence[Record]], list[str]],
    ) -> list[str]:
        """The text of every record, rendering (in one call) only those not cached as they are."""
        cache = self._layout(layout)
        ids = list(map(itemgetter(key), records))
        current = list(map(seqs.get, ids))
        hits = list(map(cache.get, ids))
        out: list[Any] = [
            h[1] if h is not None and h[0] == s else None
            for h, s in zip(hits, current, strict=True)
        ]
        if None not in out:
            return out
        missing = [n for n, text in enumerate(out) if text is None]
        if len(missing) == len(out):  # nothing cached: render the page as it is
            rendered = render(records)
            cache.update(zip(ids, zip(current, rendered, strict=True), strict=True))
            return rendered
        rendered = render([records[n] for n in missing])
        for n, text in zip(missing, rendered, strict=True):
            out[n] = text
        cache.update(
            (ids[n], (current[n], text)) for n, text in zip(missing, rendered, strict=True)
        )
        return out


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
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="emulator-prefetch")
            self._pending[key] = self._executor.submit(work)
            while len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)

    def wait(self, key: Hashable) -> None:
        """Wait until the work scheduled for ``key`` (if any) is done; its errors are ignored.

        Work still queued behind other pages is cancelled instead: the caller does it itself
        rather than wait for the queue.
        """
        with self._lock:
            future = self._pending.pop(key, None)
        if future is not None and not future.cancel():
            future.exception()

    def close(self) -> None:
        """Drop pending work and stop the thread."""
        with self._lock:
            executor, self._executor = self._executor, None
            self._pending.clear()
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
