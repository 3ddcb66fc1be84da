"""Stopping gracefully: the first SIGTERM or Ctrl-C asks the running job to stop at the next
safe point (after the page being landed is committed); a second one interrupts at once."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType

log = logging.getLogger(__name__)


class GracefulStop:
    """``with GracefulStop() as stop:`` — ``stop.requested`` turns true on SIGTERM/SIGINT."""

    def __init__(self, on_request: Callable[[], None] | None = None) -> None:
        self._event = threading.Event()
        self._previous: dict[int, object] = {}
        self._on_request = on_request

    @property
    def requested(self) -> bool:
        """True once a stop was asked for."""
        return self._event.is_set()

    def request(self) -> None:
        """Ask for a stop (what the signal handler does)."""
        self._event.set()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._event.is_set():
            raise KeyboardInterrupt
        name = signal.Signals(signum).name
        log.warning("%s received: finishing the current page, saving state, then stopping", name)
        self._event.set()
        if self._on_request is not None:
            self._on_request()

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._previous.clear()
