"""The org's daily API counter, as Salesforce reports it, and kamsync's budget on it."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from config.errors import ApiBudgetExceededError

_USAGE_RE = re.compile(r"api-usage=(\d+)/(\d+)")


def parse_limit_info(header: str | None) -> tuple[int, int] | None:
    """``(used, limit)`` from a ``Sforce-Limit-Info: api-usage=25/15000`` header."""
    if not header:
        return None
    match = _USAGE_RE.search(header)
    return (int(match[1]), int(match[2])) if match else None


@dataclass
class ApiBudget:
    """Stops kamsync before the org's daily API use passes ``percent`` of its limit."""

    source: str
    percent: float
    used: int | None = None
    limit: int | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def observe(self, used: int, limit: int) -> None:
        """Record the latest counter the org reported."""
        with self._lock:
            self.used, self.limit = used, limit

    @property
    def allowed(self) -> int | None:
        """Requests the org may have used before kamsync stops; None while unknown."""
        if self.limit is None:
            return None
        return int(self.limit * self.percent / 100)

    def check(self) -> None:
        """Raise :class:`ApiBudgetExceededError` if one more request would pass the budget."""
        with self._lock:
            used, limit, allowed = self.used, self.limit, self.allowed
        if used is None or limit is None or allowed is None:
            return
        if used + 1 > allowed:
            share = 100 * used / limit if limit else 100.0
            raise ApiBudgetExceededError(
                f"stopped before passing the API budget: the org has used {used:,} of its "
                f"{limit:,} daily API requests ({share:.1f}%; budget {self.percent:g}%). "
                "Progress is saved; the next run continues where this one stopped.",
                used=used,
                limit=limit,
                source=self.source,
            )
