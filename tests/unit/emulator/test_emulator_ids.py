"""Salesforce ids and GUIDs."""

from __future__ import annotations

import random
import uuid

import pytest

from connectors.emulator.ids import (
    SF_PREFIXES,
    SalesforceIds,
    is_valid_sf_id,
    new_guid,
    sf_checksum,
    sf_to_18,
)


@pytest.mark.parametrize(
    ("id15", "id18"),
    [
        # worked examples published for the CASESAFEID algorithm
        ("a0D30000001n7Pi", "a0D30000001n7PiEAI"),
        ("0019000000B98de", "0019000000B98deAAB"),
        ("001A0000006Vm9r", "001A0000006Vm9rIAC"),
        # hand-worked: chunks "00000","00000","00000" -> A A A; "ZZZZZ" x3 -> 31 -> "5"
        ("000000000000000", "000000000000000AAA"),
        ("ZZZZZZZZZZZZZZZ", "ZZZZZZZZZZZZZZZ555"),
        # chunk "aBcDe": upper at 1 and 3 -> 0b01010 = 10 -> K
        ("aBcDeaBcDeaBcDe", "aBcDeaBcDeaBcDeKKK"),
    ],
)
def test_checksum_matches_known_ids(id15: str, id18: str) -> None:
    assert sf_to_18(id15) == id18
    assert sf_checksum(id15) == id18[15:]
    assert is_valid_sf_id(id18)


def test_checksum_detects_case_changes() -> None:
    assert not is_valid_sf_id("001a0000006Vm9rIAC")
    assert not is_valid_sf_id("001A0000006Vm9r")
    with pytest.raises(ValueError, match="15-character"):
        sf_checksum("001A0000006Vm9")


def test_allocator_uses_prefixes_and_continues() -> None:
    ids = SalesforceIds("5g", 1000)
    first = ids.new("Account")
    second = ids.new("Account")
    assert first.startswith("0015g0")
    assert second.startswith("0015g0")
    assert first != second
    assert is_valid_sf_id(first)
    assert is_valid_sf_id(second)
    assert ids.new("OpportunityContactRole").startswith("00K")
    assert ids.new("OpportunityLineItem").startswith("00k")


def test_fast_formatting_agrees_with_the_reference_algorithm() -> None:
    ids = SalesforceIds("8c", 0)
    rng = random.Random(5)
    for _ in range(2000):
        number = rng.randrange(62**9)
        fast = ids.format("Task", number)
        assert fast == sf_to_18(fast[:15])
        assert fast.startswith("00T8c0")


def test_prefixes_are_the_standard_ones() -> None:
    assert SF_PREFIXES == {
        "Account": "001",
        "Contact": "003",
        "User": "005",
        "Opportunity": "006",
        "Product2": "01t",
        "OpportunityLineItem": "00k",
        "OpportunityContactRole": "00K",
        "Task": "00T",
        "Event": "00U",
    }


def test_guids_are_deterministic_version_4() -> None:
    a = [new_guid(random.Random(3)) for _ in range(2)]
    assert a[0] == a[1]
    parsed = uuid.UUID(a[0])
    assert parsed.version == 4
    assert str(parsed) == a[0]


def test_custom_objects_can_register_a_prefix() -> None:
    ids = SalesforceIds("5g", 7)
    ids.register("KAM_Account_Score__c", "a0K")
    record_id = ids.new("KAM_Account_Score__c")
    assert record_id.startswith("a0K5g0")
    assert is_valid_sf_id(record_id)
    with pytest.raises(ValueError, match="already has"):
        ids.register("Account", "a01")
    with pytest.raises(KeyError):
        ids.new("Unknown__c")
