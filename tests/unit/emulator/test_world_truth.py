"""The planted truth agrees with a straightforward recomputation over the stored records."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from connectors.emulator.world import World

from .conftest import AS_OF

TTM_FIRST = AS_OF - timedelta(days=364)
PRIOR_FIRST = AS_OF - timedelta(days=729)
PRIOR_LAST = AS_OF - timedelta(days=365)


@dataclass
class Seen:
    """What the test itself counts for one account."""

    ttm: float = 0.0
    prior: float = 0.0
    pipeline: float = 0.0
    touches: list[tuple[date, str | None]] = field(default_factory=list)


def _window(touches: list[tuple[date, str | None]], days: int) -> list[tuple[date, str | None]]:
    first = AS_OF - timedelta(days=days - 1)
    return [t for t in touches if first <= t[0] <= AS_OF]


def _salesforce(world: World) -> dict[str, Seen]:
    sf = world.salesforce
    seen: dict[str, Seen] = defaultdict(Seen)
    for row in sf.live("Opportunity"):
        account = seen[f"salesforce:{row['AccountId']}"]
        if row["IsWon"] and TTM_FIRST <= row["CloseDate"] <= AS_OF:
            account.ttm += row["Amount"]
        if row["IsWon"] and PRIOR_FIRST <= row["CloseDate"] <= PRIOR_LAST:
            account.prior += row["Amount"]
        if not row["IsClosed"]:
            account.pipeline += row["Amount"]
    for row in sf.live("Task"):
        if (
            row["TaskSubtype"] in ("Call", "Email")
            and row["IsClosed"]
            and row["ActivityDate"] <= AS_OF
        ):
            seen[f"salesforce:{row['AccountId']}"].touches.append(
                (row["ActivityDate"], row["WhoId"])
            )
    for row in sf.live("Event"):
        if row["Type"] in ("Meeting", "Visit") and row["ActivityDate"] <= AS_OF:
            seen[f"salesforce:{row['AccountId']}"].touches.append(
                (row["ActivityDate"], row["WhoId"])
            )
    return seen


def _dynamics(world: World) -> dict[str, Seen]:
    dv = world.dynamics
    seen: dict[str, Seen] = defaultdict(Seen)
    for row in dv.live("opportunity"):
        account = seen[f"dynamics:{row['parentaccountid']}"]
        if row["statecode"] == 1 and TTM_FIRST <= row["actualclosedate"] <= AS_OF:
            account.ttm += row["actualvalue"]
        if row["statecode"] == 1 and PRIOR_FIRST <= row["actualclosedate"] <= PRIOR_LAST:
            account.prior += row["actualvalue"]
        if row["statecode"] == 0:
            account.pipeline += row["estimatedvalue"]
    employer = {k: r["parentcustomerid"] for k, r in dv.table("contact").rows.items()}
    for name in ("phonecall", "email", "appointment"):
        for row in dv.live(name):
            day = row["actualend"].date() if row["actualend"] else None
            if row["statecode"] != 1 or day is None or day > AS_OF:
                continue
            if row["regardingobjecttypecode"] == "contact":
                contact, account_id = row["regardingobjectid"], employer[row["regardingobjectid"]]
            else:
                contact, account_id = None, row["regardingobjectid"]
            seen[f"dynamics:{account_id}"].touches.append((day, contact))
    return seen


def test_revenue_pipeline_and_contacts_match(world: World) -> None:
    seen = {**_salesforce(world), **_dynamics(world)}
    for key, truth in world.truth.accounts.items():
        mine = seen.get(key, Seen())
        assert truth.ttm_revenue == mine.ttm, key
        assert truth.prior_ttm_revenue == mine.prior, key
        assert truth.open_pipeline == mine.pipeline, key
        assert truth.contacts_30d == len(_window(mine.touches, 30)), key
        assert truth.contacts_90d == len(_window(mine.touches, 90)), key
        assert truth.contacts_180d == len(_window(mine.touches, 180)), key
        last = max((t[0] for t in mine.touches), default=None)
        assert truth.last_contact_date == last, key
        engaged = {c for _, c in _window(mine.touches, 180) if c is not None}
        assert truth.distinct_contacts_180d == len(engaged), key


def test_decision_makers_match(world: World) -> None:
    makers: dict[str, set[str]] = defaultdict(set)
    for key, row in world.salesforce.table("Contact").rows.items():
        if row["Buying_Role__c"] == "Decision Maker" and not row["IsDeleted"]:
            makers[f"salesforce:{row['AccountId']}"].add(key)
    for key, row in world.dynamics.table("contact").rows.items():
        if row["new_buyingrole"] == 100_000_000:
            makers[f"dynamics:{row['parentcustomerid']}"].add(key)
    seen = {**_salesforce(world), **_dynamics(world)}
    for key, truth in world.truth.accounts.items():
        assert truth.decision_makers == len(makers[key]), key
        touches = _window(seen.get(key, Seen()).touches, 180)
        engaged = {c for _, c in touches if c in makers[key]}
        assert truth.decision_makers_engaged_180d == len(engaged), key


def test_wallet_fields_match_the_records(world: World) -> None:
    for key, truth in world.truth.accounts.items():
        org, record_id = key.split(":", 1)
        if org == "salesforce":
            value = world.salesforce.table("Account").rows[record_id]["Wallet_Estimate__c"]
        else:
            value = world.dynamics.table("account").rows[record_id]["new_walletestimate"]
        assert truth.wallet_field == value
        assert truth.true_wallet >= truth.ttm_revenue


def test_planted_health_is_clear(world: World) -> None:
    planted = world.truth.planted_health()
    greens = [world.truth.accounts[k] for k, band in planted.items() if band == "green"]
    reds = [world.truth.accounts[k] for k, band in planted.items() if band == "red"]
    assert len(greens) >= 5
    assert len(reds) >= 20
    for account in greens:
        assert account.last_contact_date is not None
        assert account.last_contact_date >= AS_OF - timedelta(days=6)
        assert account.distinct_contacts_180d >= 5
        assert account.decision_makers_engaged_180d == account.decision_makers >= 1
        assert account.open_pipeline >= account.ttm_revenue > 0
        assert account.ttm_revenue >= 1.15 * account.prior_ttm_revenue > 0
    for account in reds:
        assert account.contacts_180d == 0
        assert account.last_contact_date is None or account.last_contact_date <= AS_OF - timedelta(
            days=150
        )
        assert account.open_pipeline == 0
        assert account.ttm_revenue <= 0.4 * account.prior_ttm_revenue


def test_activity_dated_after_as_of_does_not_count(world: World) -> None:
    dirty = world.truth.dirty_of("future_activity")
    assert len(dirty) == 2
    for record in dirty:
        row = world.store(record.org).table(record.table).rows[record.id]
        account_id = row["AccountId"] if record.org == "salesforce" else row["regardingobjectid"]
        account = world.truth.accounts[f"{record.org}:{account_id}"]
        assert account.last_contact_date is None or account.last_contact_date <= AS_OF
