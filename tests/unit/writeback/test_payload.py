"""writeback.payload: values normalised the way each CRM stores them, so noise never re-sends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from config.errors import ConfigError
from config.model import WritebackTarget
from writeback.metadata import field_by_key
from writeback.payload import (
    Shape,
    dataverse_shape,
    normalise,
    salesforce_shape,
    target_map,
)


def _sf(key: str) -> Shape:
    return salesforce_shape(field_by_key(key))


def _dv(key: str) -> Shape:
    return dataverse_shape(field_by_key(key))


def test_money_noise_below_a_cent_is_not_a_change() -> None:
    shape = _sf("wallet_estimate")
    assert normalise(365637.00000000035, shape) == normalise(365636.99999999994, shape) == 365637.0
    assert normalise(0.005, shape) == 0.01  # half up, as the CRMs round
    assert normalise(-0.0001, shape) == 0.0


def test_shares_become_percentages_in_both_crms_but_not_twice() -> None:
    assert normalise(0.123456, _sf("wallet_share")) == 12.35
    assert normalise(0.123456, _dv("wallet_share")) == 12.35
    assert normalise(12.35, _sf("wallet_share"), from_crm=True) == 12.35


def test_integers_and_numbers_read_back_as_text() -> None:
    assert normalise(3, _dv("calls_actual")) == 3
    assert normalise("3.0", _dv("calls_actual"), from_crm=True) == 3
    assert normalise(4.0, _sf("calls_actual")) == 4
    assert normalise("31.50", _sf("health_score"), from_crm=True) == 31.5
    assert normalise(float("nan"), _sf("health_score")) is None


def test_datetimes_keep_the_crm_precision_in_utc() -> None:
    moment = datetime(2025, 6, 30, 20, 0, 1, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert normalise(moment, _sf("scored_at")) == "2025-06-30T18:00:01.123Z"
    assert normalise(moment, _dv("scored_at")) == "2025-06-30T18:00:01Z"
    assert normalise("2025-06-30T18:00:01.123+0000", _sf("scored_at"), from_crm=True) == (
        "2025-06-30T18:00:01.123Z"
    )
    assert normalise("2025-06-30T18:00:01Z", _dv("scored_at"), from_crm=True) == (
        "2025-06-30T18:00:01Z"
    )


def test_dates_and_text() -> None:
    assert normalise(date(2025, 7, 1), _sf("next_review_date")) == "2025-07-01"
    assert normalise("2025-07-01T00:00:00Z", _dv("next_review_date"), from_crm=True) == (
        "2025-07-01"
    )
    assert normalise("x" * 300, _sf("focus_families")) == "x" * 255
    assert normalise("x" * 600, _dv("focus_families")) == "x" * 500
    assert normalise("", _sf("plan_period")) is None


def test_target_map_applies_renames_and_refuses_unknown_keys() -> None:
    mapped = target_map(
        "salesforce", "sf", WritebackTarget(fields={"tier": "KAM_Segment__c"}), "k.toml"
    )
    assert mapped.object == "KAM_Account_Score__c"
    assert mapped.field("KAM_Segment__c").score.key == "tier"
    assert mapped.external_id.name == "KAM_Ext_Id__c"
    assert mapped.volatile == frozenset({"KAM_Scored_At__c"})
    with pytest.raises(ConfigError, match=r"k.toml: writeback.sources.sf.fields.tire: no score"):
        target_map("salesforce", "sf", WritebackTarget(fields={"tire": "KAM_Tier__c"}), "k.toml")
    with pytest.raises(ConfigError, match="both write kam_tier"):
        target_map("dynamics", "dv", WritebackTarget(fields={"health_band": "kam_tier"}), "k.toml")


def test_dataverse_map_uses_the_table_and_entity_set() -> None:
    mapped = target_map("dynamics", "dv", WritebackTarget())
    assert (mapped.object, mapped.entity_set) == ("kam_accountscore", "kam_accountscores")
    assert mapped.lookup.name == "kam_accountid"
    assert normalise(datetime(2025, 1, 1, tzinfo=UTC), mapped.field("kam_scoredat").shape) == (
        "2025-01-01T00:00:00Z"
    )
