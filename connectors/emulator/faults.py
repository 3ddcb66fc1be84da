"""Fault injection: which request gets which failure, reproducibly.

A fault spec is a comma-separated list, e.g.
``429:0.05,503:0.02,reset:0.01,slow:0.01:2s,malformed:0.001,expire_session_after:50,limit_after:5000``:

==========================  ==========================================================
``429:P``                   answer HTTP 429 (with Retry-After) with probability P
``500:P`` / ``503:P``       answer HTTP 500 / 503 with probability P
``reset:P``                 drop the connection without an answer
``slow:P:Ns``               answer after N seconds
``malformed:P``             answer 200 with a body that is not valid JSON / CSV
``churn:P``                 change a few records of the table being read, mid-sync
``expire_session_after:N``  every N-th authenticated request finds its session expired
``limit_after:N``           the org's daily API limit is N requests
``retry_after:S``           the Retry-After seconds sent with 429 (default 1)
==========================  ==========================================================

Decisions come from a ``random.Random`` seeded with the plan's seed and advanced once per
request, so the same seed and the same request sequence give the same faults.  Each app renders
a fault in its own CRM's error shape.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, field

PROBABILITY_FAULTS = ("429", "500", "503", "reset", "slow", "malformed", "churn")
COUNT_FAULTS = ("expire_session_after", "limit_after", "retry_after")

_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)(ms|s)?$")


class FaultSpecError(ValueError):
    """A fault spec that cannot be parsed; the message names the bad part."""


def _duration(text: str) -> float:
    match = _DURATION_RE.match(text)
    if not match:
        raise FaultSpecError(f"{text!r} is not a duration such as 2s or 500ms")
    value = float(match[1])
    return value / 1000 if match[2] == "ms" else value


def _probability(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FaultSpecError(f"{name}: {text!r} is not a probability") from None
    if not 0.0 <= value <= 1.0:
        raise FaultSpecError(f"{name}: probability {value} is not between 0 and 1")
    return value


@dataclass
class FaultPlan:
    """Parsed fault settings plus the seeded generator that applies them."""

    probabilities: dict[str, float] = field(default_factory=dict)
    slow_seconds: float = 2.0
    expire_session_after: int | None = None
    limit_after: int | None = None
    retry_after: float = 1.0
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    @classmethod
    def parse(cls, spec: str | None, seed: int = 0) -> FaultPlan:
        """Parse a fault spec (empty or None: no faults)."""
        plan = cls(seed=seed)
        for part in (p.strip() for p in (spec or "").split(",")):
            if not part:
                continue
            name, _, rest = part.partition(":")
            if name in PROBABILITY_FAULTS:
                probability, _, extra = rest.partition(":")
                plan.probabilities[name] = _probability(name, probability)
                if name == "slow" and extra:
                    plan.slow_seconds = _duration(extra)
            elif name in COUNT_FAULTS:
                if name == "retry_after":
                    plan.retry_after = _duration(rest)
                elif not rest.isdigit() or int(rest) <= 0:
                    raise FaultSpecError(f"{name}: {rest!r} is not a positive whole number")
                else:
                    setattr(plan, name, int(rest))
            else:
                known = ", ".join(PROBABILITY_FAULTS + COUNT_FAULTS)
                raise FaultSpecError(f"unknown fault {name!r} (known: {known})")
        return plan

    def draw(self) -> str | None:
        """The probabilistic fault for the next request, if any (one draw per request)."""
        with self._lock:
            roll = self._rng.random()
        threshold = 0.0
        for name in PROBABILITY_FAULTS:
            threshold += self.probabilities.get(name, 0.0)
            if roll < threshold:
                return name
        return None

    @property
    def active(self) -> bool:
        """True when the plan can inject anything."""
        return bool(
            any(self.probabilities.values())
            or self.expire_session_after
            or self.limit_after is not None
        )
