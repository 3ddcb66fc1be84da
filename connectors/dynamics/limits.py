"""Dataverse service protection as the Web API reports it on every answer.

``x-ms-ratelimit-burst-remaining-xrm-requests`` (requests left in the 5-minute window) and
``x-ms-ratelimit-time-remaining-xrm-requests`` (combined execution time left) are remembered,
with the lowest burst seen, so a run records in ``ops.api_usage`` how close it came to the
limits.  Dataverse has no daily request counter; the 429 it answers past a limit is waited out
exactly as ``Retry-After`` says by the shared HTTP session.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

BURST = "x-ms-ratelimit-burst-remaining-xrm-requests"
TIME = "x-ms-ratelimit-time-remaining-xrm-requests"


class RateLimits:
    """The latest ``x-ms-ratelimit-*`` values and the lowest remaining burst."""

    def __init__(self) -> None:
        self.burst_remaining: int | None = None
        self.time_remaining: float | None = None
        self.lowest_burst: int | None = None
        self.throttled = 0
        self._lock = threading.Lock()

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Read one answer's headers (a 429 is counted)."""
        burst = _number(headers.get(BURST))
        spent = _number(headers.get(TIME))
        with self._lock:
            if status == 429:
                self.throttled += 1
            if burst is not None:
                self.burst_remaining = int(burst)
                low = self.lowest_burst
                self.lowest_burst = int(burst) if low is None else min(low, int(burst))
            if spent is not None:
                self.time_remaining = spent

    def detail(self) -> str | None:
        """The values as one line for ``ops.api_usage.detail``; None when none was seen."""
        with self._lock:
            if self.burst_remaining is None and self.time_remaining is None:
                return None
            parts = []
            if self.burst_remaining is not None:
                parts.append(f"{BURST}={self.burst_remaining}")
            if self.time_remaining is not None:
                parts.append(f"{TIME}={self.time_remaining:.2f}")
            if self.lowest_burst is not None:
                parts.append(f"lowest burst remaining={self.lowest_burst}")
            parts.append(f"throttled (429)={self.throttled}")
            return "; ".join(parts)


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value.strip())
    except ValueError:
        return None
