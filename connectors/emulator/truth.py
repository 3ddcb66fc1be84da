"""The planted truth of a generated world: what tests assert exactly.

Every number here is computed by the generator from its own bookkeeping while it writes the
records (never by running kamsync analytics).  It describes the world *as generated*:
:func:`connectors.emulator.mutate.mutate` changes the stores but not the truth (its summary says
exactly what changed).

Definitions (``as_of`` = the world's as-of date; an *N*-day window is ``as_of - (N-1) .. as_of``
inclusive):

* **TTM revenue**: sum of the amounts of won opportunities whose close date lies in the 365-day
  window.  Salesforce: ``IsWon`` and ``CloseDate``, amount ``Amount``.  Dataverse:
  ``statecode = 1`` and ``actualclosedate``, amount ``actualvalue``.  **Prior TTM**: the 365 days
  before that (``as_of - 729 .. as_of - 365``).
* **Won / lost (730d)**: opportunities won / lost with a close date in the last 730 days.
* **Open pipeline**: sum of ``Amount`` / ``estimatedvalue`` of open opportunities (any close date).
* **Contact**: a completed call, meeting, visit or e-mail dated on or before ``as_of``.
  Salesforce: a ``Task`` with ``TaskSubtype`` ``Call``/``Email`` and ``IsClosed``, dated by
  ``ActivityDate``; an ``Event`` of ``Type`` ``Meeting``/``Visit`` dated on or before ``as_of``
  (an event that has happened).  Dataverse: ``phonecall``, ``email`` or ``appointment`` with
  ``statecode = 1``, dated by the UTC date of ``actualend``; an appointment is a visit when
  ``new_isvisit``.  The activity belongs to the account it regards, or to the account of the
  contact it regards.
* **Engaged contacts**: distinct contacts named on contacts in the 180-day window
  (Salesforce ``WhoId``; Dataverse only activities regarding a contact name one).
* **Decision makers**: live contacts of the account whose buying role is ``Decision Maker``.
* **Groups**: accounts sharing a global match key form one group (across both orgs); other
  accounts group under their ultimate parent.  Group revenue sums member TTM revenue; growth is
  ``(ttm - prior) / prior``; CRM headroom sums ``max(0, wallet field - ttm)`` over members and is
  known only when every member has the wallet field.  ``pareto_cum_before`` is the share of total
  revenue of all groups ranked before this one (revenue descending, then key).
* **Tier rule** (planted groups only): triage = 0.30 market position + 0.20 innovation orientation
  + 0.25 strategy influence + 0.25 operational complexity; below 6 => ``non_key``; else ``key``
  when Pareto class A (cumulative share before < 80%) and revenue >= 1,000,000; else ``growth``
  when headroom >= 1,000,000 or growth >= 10%; else ``maintain``.  Planted groups sit far from
  every threshold.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple

TRIAGE_WEIGHTS: tuple[float, float, float, float] = (0.30, 0.20, 0.25, 0.25)
TRIAGE_FACTORS: tuple[str, str, str, str] = (
    "market_position",
    "innovation_orientation",
    "strategy_influence",
    "operational_complexity",
)
TRIAGE_THRESHOLD = 6.0
PARETO_A = 0.80
REVENUE_THRESHOLD = 1_000_000.0
HEADROOM_THRESHOLD = 1_000_000.0
GROWTH_THRESHOLD = 0.10


def triage_score(factors: tuple[int, int, int, int]) -> float:
    """Weighted mean of the four 1-10 triage factors."""
    return round(sum(w * f for w, f in zip(TRIAGE_WEIGHTS, factors, strict=True)), 6)


class AccountTruth(NamedTuple):
    """What the generator planted for one account.

    A named tuple rather than a frozen dataclass: a world of 200,000 accounts makes as many,
    and a frozen dataclass takes five times as long to build (each field set through
    ``object.__setattr__``).
    """

    key: str
    org: str
    id: str
    name: str
    group: str
    parent_key: str | None
    country: str
    region: str
    territory: str
    industry: str | None
    ttm_revenue: float
    prior_ttm_revenue: float
    open_pipeline: float
    won_730d: int
    lost_730d: int
    true_wallet: float
    wallet_field: float | None
    contacts_30d: int
    contacts_90d: int
    contacts_180d: int
    last_contact_date: date | None
    distinct_contacts_180d: int
    decision_makers: int
    decision_makers_engaged_180d: int
    rhythm: str
    intended_health: str | None
    triage: tuple[int, int, int, int] | None


class GroupTruth(NamedTuple):
    """A customer group and, when planted, its intended tier (a named tuple, as above)."""

    key: str
    kind: str
    global_match_key: str | None
    members: tuple[str, ...]
    orgs: tuple[str, ...]
    ttm_revenue: float
    prior_ttm_revenue: float
    growth: float | None
    headroom_crm: float | None
    pareto_cum_before: float
    triage: tuple[int, int, int, int] | None
    triage_score: float | None
    intended_tier: str | None


@dataclass(frozen=True, slots=True)
class DirtyRecord:
    """A deliberately dirty record."""

    kind: str
    org: str
    table: str
    id: str
    note: str


@dataclass
class Truth:
    """Everything the generator planted, JSON-exportable."""

    seed: int
    accounts_requested: int
    as_of: date
    clock: datetime
    accounts: dict[str, AccountTruth]
    groups: dict[str, GroupTruth]
    counts: dict[str, dict[str, dict[str, int]]]
    parent_cycle: tuple[str, ...]
    dirty: tuple[DirtyRecord, ...]
    products: dict[str, list[str]] = field(default_factory=dict)

    # ------------------------------------------------------------------ views

    def windows(self) -> dict[str, tuple[date, date]]:
        """The windows used, as inclusive (first, last) dates."""
        from datetime import timedelta

        def span(first: int, last: int = 0) -> tuple[date, date]:
            return (self.as_of + timedelta(days=first), self.as_of + timedelta(days=last))

        return {
            "ttm": span(-364),
            "prior_ttm": span(-729, -365),
            "days_30": span(-29),
            "days_90": span(-89),
            "days_180": span(-179),
        }

    def planted_tiers(self) -> dict[str, str]:
        """Group key -> intended tier, for the planted groups."""
        return {k: g.intended_tier for k, g in self.groups.items() if g.intended_tier is not None}

    def planted_health(self) -> dict[str, str]:
        """Account key -> intended health band, for the planted accounts."""
        return {
            k: a.intended_health for k, a in self.accounts.items() if a.intended_health is not None
        }

    def dirty_of(self, kind: str) -> list[DirtyRecord]:
        """Dirty records of one kind."""
        return [d for d in self.dirty if d.kind == kind]

    # ------------------------------------------------------------------ export

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (dates as ISO strings)."""
        return {
            "seed": self.seed,
            "accounts_requested": self.accounts_requested,
            "as_of": self.as_of.isoformat(),
            "clock": self.clock.isoformat(),
            "windows": {k: [a.isoformat(), b.isoformat()] for k, (a, b) in self.windows().items()},
            "tier_rule": {
                "weights": dict(zip(TRIAGE_FACTORS, TRIAGE_WEIGHTS, strict=True)),
                "triage_threshold": TRIAGE_THRESHOLD,
                "pareto_a": PARETO_A,
                "revenue_threshold": REVENUE_THRESHOLD,
                "headroom_threshold": HEADROOM_THRESHOLD,
                "growth_threshold": GROWTH_THRESHOLD,
            },
            "counts": self.counts,
            "parent_cycle": list(self.parent_cycle),
            "dirty": [asdict(d) for d in self.dirty],
            "products": self.products,
            "groups": {k: _plain(g._asdict()) for k, g in self.groups.items()},
            "accounts": {k: _plain(a._asdict()) for k, a in self.accounts.items()},
        }

    def to_json(self, *, indent: int | None = None) -> str:
        """The truth as JSON text (stable key order)."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def write(self, path: str | Path) -> Path:
        """Write :meth:`to_json` to ``path``; returns the path."""
        target = Path(path)
        target.write_text(self.to_json(indent=1), encoding="utf-8")
        return target


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value
