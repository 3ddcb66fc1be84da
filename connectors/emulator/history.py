"""Each account's history: contacts, opportunities with lines and contact roles, activities.

:class:`HistoryWriter` writes one account at a time through the org's writer and keeps the truth
accumulators of the account plan up to date as it goes (our revenue per window, open pipeline,
contacts per window, engaged contacts and decision makers).

Time is counted in whole days relative to the as-of date (offset 0 = as-of, negative = past).
Windows of *N* days are the offsets ``-(N-1) .. 0`` (inclusive of the as-of date); the prior TTM is
``-729 .. -365``.  Every created/modified stamp is a whole second at least one minute before the
store clock (as-of 12:00 UTC); activities on the as-of date itself end before 11:30 UTC.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from connectors.emulator.plan import (
    AccountPlan,
    ContactPlan,
    clamp,
    cumulate,
    lookup_table,
    weighted_index,
)
from connectors.emulator.reference import (
    BUYING_ROLES,
    CONTACT_ROLES,
    DECISION_MAKER,
    FAMILIES,
    FIRST_NAMES,
    LAST_NAMES,
    LOST_STAGE,
    OPEN_STAGES,
    ROLE_WEIGHTS,
    SUBJECTS,
    TITLES,
    WON_STAGE,
)
from connectors.emulator.writers import (
    ActivityState,
    Deal,
    DealStatus,
    LineItem,
    OrgWriter,
    Person,
    Touch,
)

TTM_FIRST = -364
PRIOR_FIRST = -729
PRIOR_LAST = -365
YEAR3_FIRST = -1094
ACTIVITY_HISTORY_DAYS = 365
SMALL_YEAR = 35_000.0
CONTACT_KINDS = frozenset({"call", "meeting", "visit", "email"})
_KIND_TABLE = lookup_table(("call", "email", "meeting", "visit"), (0.42, 0.30, 0.17, 0.11))
_ROLE_TABLE = lookup_table(BUYING_ROLES, ROLE_WEIGHTS)
_STAGE_TABLE = lookup_table(OPEN_STAGES, (3, 3, 3, 3, 2, 2, 1.5))
_DEAL_WORDS = ("Expansion", "Renewal", "New Business", "Upgrade", "Rollout", "Pilot")
_DISCOUNTS = (0, 0, 5, 10, 10, 15, 20, 25)
_DAY_START = 7 * 3600
_DAY_SPAN = 10 * 3600
_LATEST_SECOND_TODAY = 12 * 3600 - 60
_MINUTES = {minutes: timedelta(minutes=minutes) for minutes in (15, 30, 60, 90)}


@dataclass(frozen=True)
class CatalogItem:
    """A product as the history writer sees it: family index, list price and per-org id."""

    family: int
    list_price: int
    ids: dict[str, str]


class Calendar:
    """Day offsets to dates and datetimes around the as-of date."""

    def __init__(self, as_of: date) -> None:
        self.as_of = as_of
        self.midnight = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)
        self.clock = self.midnight + timedelta(hours=12)
        self._epoch = int(self.midnight.timestamp())
        self._dates: dict[int, date] = {}

    def day(self, offset: int) -> date:
        """The date ``offset`` days from the as-of date."""
        found = self._dates.get(offset)
        if found is None:
            found = self._dates[offset] = self.as_of + timedelta(days=offset)
        return found

    def at(self, offset: int, second: int) -> datetime:
        """The instant ``second`` seconds into day ``offset``."""
        # fromtimestamp is the cheapest way to make an aware datetime; whole seconds are exact
        return datetime.fromtimestamp(self._epoch + offset * 86_400 + second, UTC)

    def past(self, rng: random.Random, offset: int, second: int) -> datetime:
        """Like :meth:`at`, but never later than a minute before the clock."""
        total = offset * 86_400 + second
        if total > _LATEST_SECOND_TODAY:
            total = _LATEST_SECOND_TODAY - int(rng.random() * 3600)
        return datetime.fromtimestamp(self._epoch + total, UTC)


class HistoryWriter:
    """Writes contacts, deals and activities of one account at a time."""

    def __init__(self, rng: random.Random, calendar: Calendar, catalog: list[CatalogItem]) -> None:
        self.rng = rng
        self.cal = calendar
        self.catalog = catalog
        self.by_family: list[list[CatalogItem]] = [[] for _ in FAMILIES]
        for item in catalog:
            self.by_family[item.family].append(item)
        self.old_lost: dict[str, list[tuple[str, list[str], list[str]]]] = {
            "salesforce": [],
            "dynamics": [],
        }
        self.plain_tasks: dict[str, list[tuple[str, str]]] = {"salesforce": [], "dynamics": []}

    # ------------------------------------------------------------------ stamps

    def second(self) -> int:
        """A working-hours second of the day (07:00-17:00 UTC)."""
        return _DAY_START + int(self.rng.random() * _DAY_SPAN)

    def stamp_between(self, first: int, last: int) -> datetime:
        """A past stamp on a day between offsets ``first`` and ``last`` (inclusive)."""
        rng = self.rng
        offset = first + int(rng.random() * max(1, last - first + 1))
        return self.cal.past(rng, offset, self.second())

    def recent_modification(self, created: datetime) -> datetime:
        """A modification stamp after ``created``, most of them in the last few months."""
        rng = self.rng
        offset = -int(rng.expovariate(1 / 120))
        modified = self.cal.past(rng, offset, self.second())
        return modified if modified > created else created

    # ------------------------------------------------------------------ contacts

    def contacts(self, writer: OrgWriter, plan: AccountPlan, created: datetime) -> None:
        """The account's contacts with titles and buying roles."""
        rng = self.rng
        size = math.log10(max(plan.revenue, 1e6)) - 6  # 0 for 1M, 4 for 10B
        count = max(1, round(rng.lognormvariate(math.log(1.1 + size * 0.6), 0.35)))
        if plan.health == "green":
            count = max(count, 6)
        culture = plan.country.culture
        owner = plan.owner
        assert owner is not None
        age = max(1, int((self.cal.clock - created).days))
        latest = self.cal.at(0, _LATEST_SECOND_TODAY)
        for i in range(count):
            role = self._role(i, plan.health)
            title = rng.choice(TITLES[role]) if role is not None else None
            first = rng.choice(FIRST_NAMES[culture])
            last = rng.choice(LAST_NAMES[culture])
            made = created + timedelta(
                days=int(rng.random() * age), seconds=int(rng.random() * 36000)
            )
            made = min(made, latest)
            person = Person(
                first, last, title, role, owner.id, made, self.recent_modification(made)
            )
            contact_id = writer.contact(plan, person)
            plan.contacts.append(ContactPlan(contact_id, role, role == DECISION_MAKER))

    def _role(self, index: int, health: str | None) -> str | None:
        rng = self.rng
        if index == 0 and (health == "green" or rng.random() < 0.85):
            return DECISION_MAKER
        if rng.random() < 0.08:
            return None
        return rng.choice(_ROLE_TABLE)

    # ------------------------------------------------------------------ deals

    def deals(self, writer: OrgWriter, plan: AccountPlan) -> None:
        """Three years of won, lost and open opportunities with product lines."""
        rng = self.rng
        owned = self._owned_families(plan)
        ttm, prior, year3 = self._yearly_targets(plan)
        win_rate = self._win_rate(plan)
        windows = (
            (TTM_FIRST, 0, ttm),
            (PRIOR_FIRST, PRIOR_LAST, prior),
            (YEAR3_FIRST, PRIOR_FIRST - 1, year3),
        )
        typical = max(ttm, prior, year3, plan.wallet * 0.1, 5000.0)
        for first, last, target in windows:
            won = self._won_amounts(target)
            for amount in won:
                close = self._close_offset(first, last)
                self._deal(writer, plan, "won", amount=amount, close=close, owned=owned)
            expected_lost = max(len(won), 0.7) * (1 - win_rate) / win_rate
            for _ in range(min(2, self._stochastic_round(expected_lost))):
                amount = typical / max(1, len(won)) * rng.uniform(0.4, 1.6)
                close = first + int(rng.random() * (last - first + 1))
                self._deal(writer, plan, "lost", amount=amount, close=close, owned=owned)
        for _ in range(self._open_count(plan)):
            amount = typical * rng.uniform(0.15, 0.6)
            if plan.health == "green":
                amount = max(amount, ttm * 0.8)
            offset = -20 + int(rng.random() * 200) if rng.random() < 0.9 else -rng.randrange(21, 90)
            self._deal(writer, plan, "open", amount=amount, close=offset, owned=owned)

    def _owned_families(self, plan: AccountPlan) -> list[int]:
        rng = self.rng
        count = 1 + int(clamp(math.log10(max(plan.wallet, 1e3) / 1e3), 0, 5))
        weights = [3.0 if plan.industry in f.affinity else 1.0 for f in FAMILIES]
        chosen: list[int] = []
        while len(chosen) < count:
            index = weighted_index(rng, cumulate(weights))
            chosen.append(index)
            weights[index] = 0.0
        return chosen

    def _yearly_targets(self, plan: AccountPlan) -> tuple[float, float, float]:
        rng = self.rng
        growth = plan.growth
        if plan.health == "green":
            growth = max(growth, rng.uniform(0.3, 0.6))
        if plan.lifecycle == "customer":
            ttm = plan.ttm_target
            prior = ttm / (1 + growth)
            if plan.health == "red":
                ttm = prior * rng.uniform(0.0, 0.3)
            return ttm, prior, prior / (1 + clamp(rng.gauss(0.05, 0.2), -0.5, 1.0))
        base = plan.wallet * rng.betavariate(1.6, 3.5)
        if plan.lifecycle == "churned":
            return 0.0, base, base * rng.uniform(0.7, 1.3)
        if plan.lifecycle == "dormant":
            return 0.0, 0.0, base
        return 0.0, 0.0, 0.0

    def _win_rate(self, plan: AccountPlan) -> float:
        if plan.health == "green":
            return 0.95
        if plan.health == "red":
            return 0.3
        return self.rng.uniform(0.65, 0.92)

    def _open_count(self, plan: AccountPlan) -> int:
        rng = self.rng
        if plan.health == "red" or plan.lifecycle == "dormant":
            return 0
        if plan.health == "green":
            return 2 + int(rng.random() * 2)
        if plan.lifecycle == "prospect":
            return int(rng.random() * 3)
        base = {"weekly": 2.0, "monthly": 1.2, "quarterly": 0.6, "neglected": 0.2}[plan.rhythm]
        return self._stochastic_round(base * rng.uniform(0.5, 1.5))

    def _stochastic_round(self, value: float) -> int:
        whole = int(value)
        return whole + (1 if self.rng.random() < value - whole else 0)

    def _won_amounts(self, target: float) -> list[float]:
        if target <= 0:
            return []
        rng = self.rng
        if target < SMALL_YEAR and rng.random() < 0.35:
            return []  # small customers skip a year now and then
        count = 1 + min(5, int(math.sqrt(target / 900_000)))
        weights = [rng.uniform(0.4, 1.6) for _ in range(count)]
        total = sum(weights)
        return [target * w / total for w in weights]

    def _close_offset(self, first: int, last: int) -> int:
        rng = self.rng
        if rng.random() < 0.01:  # some deals sit exactly on a window edge
            return first if rng.random() < 0.5 else last
        return first + int(rng.random() * (last - first + 1))

    def _deal(
        self,
        writer: OrgWriter,
        plan: AccountPlan,
        status: DealStatus,
        *,
        amount: float,
        close: int,
        owned: list[int],
    ) -> None:
        rng = self.rng
        family = self._deal_family(status, owned)
        lines = self._lines(family, amount)
        total = float(sum(quantity * price for _item, quantity, price in lines))
        created, modified = self._deal_stamps(status, close)
        stage = (
            WON_STAGE
            if status == "won"
            else LOST_STAGE
            if status == "lost"
            else rng.choice(_STAGE_TABLE)
        )
        estimated = (
            close if status == "open" or rng.random() < 0.4 else close + rng.randrange(-30, 31)
        )
        owner = plan.owner
        assert owner is not None
        deal = Deal(
            name=f"{plan.group.base_name} - {FAMILIES[family].name} {rng.choice(_DEAL_WORDS)}",
            status=status,
            stage=stage,
            amount=total,
            close=self.cal.day(close),
            estimated_close=self.cal.day(estimated),
            type="Existing Customer - Upgrade" if plan.ttm or plan.prior else "New Customer",
            owner_id=owner.id,
            created=created,
            modified=modified,
        )
        opportunity_id = writer.opportunity(plan, deal)
        line_ids = [
            writer.line(
                opportunity_id,
                LineItem(item.ids[writer.org], quantity, price, deal.close, created, modified),
            )
            for item, quantity, price in lines
        ]
        role_ids = self._contact_roles(writer, plan, opportunity_id, created)
        self._account_for(plan, status, close, total)
        if status == "lost" and close < PRIOR_FIRST:
            self.old_lost[writer.org].append((opportunity_id, line_ids, role_ids))

    def _account_for(self, plan: AccountPlan, status: DealStatus, close: int, total: float) -> None:
        if status != "open" and close >= PRIOR_FIRST:
            if status == "won":
                plan.won += 1
            else:
                plan.lost += 1
        if status == "won":
            if TTM_FIRST <= close <= 0:
                plan.ttm += total
            elif PRIOR_FIRST <= close <= PRIOR_LAST:
                plan.prior += total
        elif status == "open":
            plan.open_pipeline += total

    def _deal_family(self, status: DealStatus, owned: list[int]) -> int:
        rng = self.rng
        if status != "won" and rng.random() < 0.5:
            return int(rng.random() * len(FAMILIES))
        return rng.choice(owned)

    def _lines(self, family: int, amount: float) -> list[tuple[CatalogItem, int, int]]:
        rng = self.rng
        products = self.by_family[family]
        count = 1 + (amount > 150_000) + (amount > 1_000_000) + (rng.random() < 0.15)
        count = min(count, len(products))
        portion = amount / count
        lines = []
        chosen = [rng.choice(products)] if count == 1 else rng.sample(products, count)
        for item in chosen:
            unit = max(1, round(item.list_price * (100 - rng.choice(_DISCOUNTS)) / 100))
            quantity = max(1, round(portion / unit))
            lines.append((item, quantity, unit))
        return lines

    def _deal_stamps(self, status: DealStatus, close: int) -> tuple[datetime, datetime]:
        rng = self.rng
        opened = close - 14 - int(rng.random() * 140)
        if status == "open":
            opened = min(opened, -1 - int(rng.random() * 120))
            created = self.cal.past(rng, opened, self.second())
            modified = self.cal.past(rng, -int(rng.random() * 45), self.second())
        else:
            created = self.cal.past(rng, opened, self.second())
            modified = self.cal.past(rng, close + int(rng.random() * 6), self.second())
        return created, max(created, modified)

    def _contact_roles(
        self, writer: OrgWriter, plan: AccountPlan, opportunity_id: str, created: datetime
    ) -> list[str]:
        rng = self.rng
        if writer.org != "salesforce" or not plan.contacts or rng.random() > 0.3:
            return []
        count = min(len(plan.contacts), 1 + (rng.random() < 0.2))
        ids = []
        for position, contact in enumerate(rng.sample(plan.contacts, count)):
            role = (
                rng.choice(("Decision Maker", "Economic Buyer"))
                if contact.dm
                else rng.choice(CONTACT_ROLES)
            )
            made = created + timedelta(seconds=30 + int(rng.random() * 1800))
            role_id = writer.contact_role(opportunity_id, contact, role, position == 0, made)
            if role_id is not None:
                ids.append(role_id)
        return ids

    # ------------------------------------------------------------------ activities

    def activities(self, writer: OrgWriter, plan: AccountPlan) -> None:
        """Touches in the account's rhythm, internal tasks and a few scheduled ones."""
        rng = self.rng
        touches = self._touch_offsets(plan)
        contact_share = self._contact_share(writer.org, plan)
        for position, offset in enumerate(touches):
            kind = rng.choice(_KIND_TABLE)
            contact = self._touch_contact(plan, position, contact_share)
            past = self._past_state(writer.org, kind)
            self._activity(writer, plan, kind, offset=offset, state=past, contact=contact)
        if plan.rhythm in ("weekly", "monthly"):
            gap = 60 if plan.rhythm == "weekly" else 120
            offset = -ACTIVITY_HISTORY_DAYS + int(rng.random() * gap)
            while offset <= 0:
                state: ActivityState = "done" if rng.random() < 0.85 else "open"
                task_id = self._activity(
                    writer, plan, "task", offset=offset, state=state, contact=None
                )
                if state == "open":
                    self.plain_tasks[writer.org].append(task_id)
                offset += gap // 2 + int(rng.random() * gap)
            for _ in range(1 + int(rng.random() * 2)):
                kind = "meeting" if rng.random() < 0.5 else "call"
                contact = self._touch_contact(plan, int(rng.random() * 7), contact_share)
                offset = 1 + int(rng.random() * 30)
                self._activity(writer, plan, kind, offset=offset, state="open", contact=contact)

    def _contact_share(self, org: str, plan: AccountPlan) -> float:
        if plan.health == "green":
            return 0.955 if org == "salesforce" else 0.85
        return 0.75 if org == "salesforce" else 0.35

    def _touch_contact(self, plan: AccountPlan, position: int, share: float) -> ContactPlan | None:
        if not plan.contacts or self.rng.random() >= share:
            return None
        if plan.health == "green":
            return plan.contacts[position % len(plan.contacts)]
        return self.rng.choice(plan.contacts)

    def _past_state(self, org: str, kind: str) -> ActivityState:
        draw = self.rng.random()
        if org == "salesforce":
            # a Salesforce event has no status: every stored past meeting took place
            return "open" if kind == "call" and draw < 0.05 else "done"
        if draw < 0.03:
            return "canceled"
        if draw < 0.06:
            return "open"
        return "done"

    def _touch_offsets(self, plan: AccountPlan) -> list[int]:
        rng = self.rng
        rhythm = plan.rhythm
        if rhythm == "neglected":
            return self._neglected_offsets(plan)
        low, high = {"weekly": (4, 10), "monthly": (20, 40), "quarterly": (70, 115)}[rhythm]
        offsets = []
        offset = -ACTIVITY_HISTORY_DAYS + int(rng.random() * high)
        while offset <= 0:
            offsets.append(offset)
            if plan.health == "green" and offset > -90:
                offset += 3 + int(rng.random() * 4)
            else:
                offset += low + int(rng.random() * (high - low + 1))
        if plan.health == "green" and (not offsets or offsets[-1] < -6):
            offsets.append(-int(rng.random() * 6))
        return offsets

    def _neglected_offsets(self, plan: AccountPlan) -> list[int]:
        rng = self.rng
        if rng.random() < 0.3:
            return []
        last = -(150 if plan.health == "red" else 100) - int(rng.random() * 350)
        offsets = [last]
        offset = last - 60 - int(rng.random() * 90)
        while offset > -ACTIVITY_HISTORY_DAYS:
            offsets.append(offset)
            offset -= 60 + int(rng.random() * 90)
        offsets.reverse()
        return offsets

    def _activity(
        self,
        writer: OrgWriter,
        plan: AccountPlan,
        kind: str,
        *,
        offset: int,
        state: ActivityState,
        contact: ContactPlan | None,
    ) -> tuple[str, str]:
        rng = self.rng
        owner = plan.owner
        assert owner is not None
        # on the as-of date itself, finish well before the clock (12:00)
        second = _DAY_START + int(rng.random() * 7200) if offset == 0 else self.second()
        minutes = 15 if kind in ("call", "email", "task") else 30 + 30 * int(rng.random() * 3)
        start = self.cal.at(offset, second)
        end = start + _MINUTES[minutes]
        if offset > 0:
            created = self.stamp_between(-20, -1)
            modified = created
        else:
            created = self.cal.past(
                rng, offset - int(rng.random() * 8), second - int(rng.random() * 3600)
            )
            modified = self.cal.past(rng, offset, second + minutes * 60 + int(rng.random() * 7200))
            if state == "open":
                modified = created
        subject = rng.choice(SUBJECTS[kind])
        touch = Touch(
            kind,
            self.cal.day(offset),
            start,
            end,
            state,
            contact,
            subject,
            owner.id,
            created,
            modified,
        )
        table, record_id = writer.activity(plan, touch)
        if state == "done" and offset <= 0 and kind in CONTACT_KINDS:
            self._count_contact(plan, offset, contact)
        return table, record_id

    @staticmethod
    def _count_contact(plan: AccountPlan, offset: int, contact: ContactPlan | None) -> None:
        if offset >= -29:
            plan.c30 += 1
        if offset >= -89:
            plan.c90 += 1
        if offset >= -179:
            plan.c180 += 1
            if contact is not None:
                plan.engaged.add(contact.id)
                if contact.dm:
                    plan.engaged_dm.add(contact.id)
        if plan.last_contact is None or offset > plan.last_contact:
            plan.last_contact = offset
