"""Writes: sObject Collections and single-record upsert of the score object, the Tooling
metadata step, and the write log that proves nothing else was written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import simple_salesforce

from connectors.emulator.emulator import Emulator
from connectors.emulator.sfschema import SCORE_FIELDS
from tests.emulator_support import account_id, error_body
from tests.integration.emulator.conftest import salesforce_client

UPSERT = "composite/sobjects/KAM_Account_Score__c/KAM_Ext_Id__c"
ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was using AllOrNone header",
    "fields": [],
}


def _record(ext: str, account: str, **fields: Any) -> dict[str, Any]:
    return {
        "attributes": {"type": "KAM_Account_Score__c"},
        "KAM_Ext_Id__c": ext,
        "KAM_Account__c": account,
        **fields,
    }


def _upsert(sf: Any, records: list[dict[str, Any]], all_or_none: bool = False) -> Any:
    return sf.restful(UPSERT, method="PATCH", json={"allOrNone": all_or_none, "records": records})


def test_collections_upsert_creates_then_updates_in_request_order(emulator: Emulator) -> None:
    sf = salesforce_client(emulator)
    first = _upsert(
        sf,
        [
            _record(
                "sf:1",
                account_id(1),
                KAM_Tier__c="key",
                KAM_Scored_At__c="2024-06-30T10:00:00.000+0000",
            ),
            _record(
                "sf:2", account_id(2), KAM_Next_Due_Date__c="2024-07-15", KAM_Wallet_Share__c=12.5
            ),
        ],
    )
    assert [(r["success"], r["created"], r["errors"]) for r in first] == [
        (True, True, []),
        (True, True, []),
    ]
    second = _upsert(
        sf, [_record("sf:2", account_id(2), KAM_Tier__c="growth"), _record("sf:3", account_id(3))]
    )
    assert [(r["success"], r["created"]) for r in second] == [(True, False), (True, True)]
    assert second[0]["id"] == first[1]["id"]
    stored = sf.query(
        "SELECT KAM_Ext_Id__c, KAM_Tier__c, KAM_Scored_At__c, KAM_Next_Due_Date__c, KAM_Wallet_Share__c "
        "FROM KAM_Account_Score__c ORDER BY KAM_Ext_Id__c"
    )["records"]
    assert [(r["KAM_Ext_Id__c"], r["KAM_Tier__c"]) for r in stored] == [
        ("sf:1", "key"),
        ("sf:2", "growth"),
        ("sf:3", None),
    ]
    assert stored[0]["KAM_Scored_At__c"] == "2024-06-30T10:00:00.000+0000"
    assert stored[1]["KAM_Next_Due_Date__c"] == "2024-07-15"
    assert stored[1]["KAM_Wallet_Share__c"] == 12.5


def test_collections_per_record_failures(emulator: Emulator) -> None:
    sf = salesforce_client(emulator)
    emulator.salesforce.writer.fail_validation(["sf:4"])
    results = _upsert(
        sf,
        [
            _record("sf:1", account_id(1)),
            _record("sf:2", "0015g00000000ZZAAA"),
            _record("sf:3", account_id(401)),
            _record("sf:4", account_id(4)),
            _record("sf:5", account_id(5), KAM_Plan_Period__c="x" * 21),
            _record("sf:6", account_id(6), Name="Mine"),
            _record("sf:7", account_id(7), KAM_Health_Score__c="high"),
        ],
    )
    assert results[0]["success"] is True
    errors = [r["errors"][0] for r in results[1:]]
    assert all(r["success"] is False and r["id"] is None for r in results[1:])
    assert errors[0] == {
        "statusCode": "INVALID_CROSS_REFERENCE_KEY",
        "message": "invalid cross reference id",
        "fields": ["KAM_Account__c"],
    }
    assert [e["statusCode"] for e in errors[1:]] == [
        "ENTITY_IS_DELETED",
        "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        "STRING_TOO_LONG",
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        "INVALID_TYPE_ON_FIELD_IN_RECORD",
    ]
    assert sf.query("SELECT COUNT() FROM KAM_Account_Score__c")["totalSize"] == 1


def test_all_or_none_rolls_everything_back(emulator: Emulator) -> None:
    sf = salesforce_client(emulator)
    results = _upsert(
        sf,
        [_record("sf:1", account_id(1)), _record("sf:2", "bad"), _record("sf:3", account_id(3))],
        all_or_none=True,
    )
    assert [r["success"] for r in results] == [False, False, False]
    assert results[0]["errors"] == [ROLLED_BACK] and results[2]["errors"] == [ROLLED_BACK]
    assert results[1]["errors"][0]["statusCode"] == "INVALID_CROSS_REFERENCE_KEY"
    assert sf.query("SELECT COUNT() FROM KAM_Account_Score__c")["totalSize"] == 0
    assert [e.ok for e in emulator.write_log()] == [False, False, False]


def test_duplicate_external_ids_and_the_200_record_limit(emulator: Emulator) -> None:
    sf = salesforce_client(emulator)
    results = _upsert(sf, [_record("sf:1", account_id(1)), _record("SF:1", account_id(1))])
    assert {r["errors"][0]["statusCode"] for r in results} == {"DUPLICATE_EXTERNAL_ID"}
    with pytest.raises(simple_salesforce.SalesforceMalformedRequest) as caught:
        _upsert(sf, [_record(f"sf:{n}", account_id(1)) for n in range(201)])
    assert error_body(caught.value)[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    with pytest.raises(simple_salesforce.SalesforceMalformedRequest) as unknown:
        _upsert(sf, [_record("sf:1", account_id(1), Bogus__c=1)])
    assert error_body(unknown.value)[0]["errorCode"] == "INVALID_FIELD"


def test_single_record_upsert_by_external_id(emulator: Emulator) -> None:
    sf = salesforce_client(emulator)
    created = sf.KAM_Account_Score__c.upsert(
        "KAM_Ext_Id__c/sf:9", {"KAM_Account__c": account_id(9)}, raw_response=True
    )
    assert created.status_code == 201 and created.json()["created"] is True
    updated = sf.KAM_Account_Score__c.upsert(
        "KAM_Ext_Id__c/sf:9", {"KAM_Tier__c": "key"}, raw_response=True
    )
    assert updated.status_code == 200 and updated.json()["created"] is False
    record = sf.KAM_Account_Score__c.get_by_custom_id("KAM_Ext_Id__c", "sf:9")
    assert record["KAM_Tier__c"] == "key" and record["Name"].startswith("KAS-")


def test_writes_to_other_objects_are_refused_and_logged(emulator: Emulator) -> None:
    sf = salesforce_client(emulator)
    with pytest.raises(simple_salesforce.SalesforceMalformedRequest) as update:
        sf.Account.update(account_id(1), {"Name": "Renamed"})
    assert error_body(update.value) == [
        {
            "message": "insufficient access rights on object id",
            "errorCode": "INSUFFICIENT_ACCESS_OR_READONLY",
            "fields": [],
        }
    ]
    with pytest.raises(simple_salesforce.SalesforceMalformedRequest):
        sf.Contact.create({"LastName": "Intruder"})
    with pytest.raises(simple_salesforce.SalesforceMalformedRequest):
        sf.Account.delete(account_id(2))
    results = sf.restful(
        "composite/sobjects/Account/Id",
        method="PATCH",
        json={"records": [{"attributes": {"type": "Account"}, "Id": account_id(3), "Name": "X"}]},
    )
    assert results[0]["errors"][0]["statusCode"] == "INSUFFICIENT_ACCESS_OR_READONLY"
    log = emulator.write_log()
    assert [(e.api, e.table, e.operation, e.ok) for e in log] == [
        ("rest", "Account", "update", False),
        ("rest", "Contact", "create", False),
        ("rest", "Account", "delete", False),
        ("composite", "Account", "upsert", False),
    ]
    assert log[0].record_id == account_id(1) and log[0].fields == ("Name",)
    assert (
        sf.query(f"SELECT Name FROM Account WHERE Id = '{account_id(1)}'")["records"][0]["Name"]
        == "Account 0001"
    )


def test_write_log_records_every_write(emulator: Emulator) -> None:
    sf = salesforce_client(emulator)
    _upsert(sf, [_record("sf:1", account_id(1)), _record("sf:2", "nope")])
    sf.bulk2.KAM_Account_Score__c.upsert(
        records=[{"KAM_Ext_Id__c": "sf:3", "KAM_Account__c": account_id(3)}],
        external_id_field="KAM_Ext_Id__c",
        wait=0,
    )
    log = emulator.write_log()
    assert [(e.api, e.ok) for e in log] == [
        ("composite", True),
        ("composite", False),
        ("bulk2", True),
    ]
    assert all(e.table == "KAM_Account_Score__c" and e.operation == "upsert" for e in log)
    assert log[0].fields == ("KAM_Account__c", "KAM_Ext_Id__c")
    assert emulator.write_log(api="bulk2") == log[2:]


def test_the_score_object_exists_only_after_the_metadata_step(
    make_emulator: Callable[..., Emulator],
) -> None:
    emulator = make_emulator(with_score_object=False)
    sf = salesforce_client(emulator)
    with pytest.raises(simple_salesforce.SalesforceResourceNotFound):
        sf.KAM_Account_Score__c.describe()
    created = sf.restful(
        "tooling/sobjects/CustomObject",
        method="POST",
        json={
            "FullName": "KAM_Account_Score__c",
            "Metadata": {"label": "KAM Account Score", "pluralLabel": "KAM Account Scores"},
        },
    )
    assert created["success"] is True and created["id"].startswith("01I")
    for field in (
        f for f in SCORE_FIELDS if f.name in ("KAM_Account__c", "KAM_Ext_Id__c", "KAM_Tier__c")
    ):
        metadata: dict[str, Any] = {"label": field.label}
        if field.type == "reference":
            metadata.update(type="Lookup", referenceTo="Account", relationshipName="KAM_Account")
        elif field.external_id:
            metadata.update(type="Text", length=80, externalId=True, unique=True)
        else:
            metadata.update(
                type="Picklist",
                valueSet={
                    "restricted": True,
                    "valueSetDefinition": {"value": [{"fullName": "key"}, {"fullName": "growth"}]},
                },
            )
        sf.restful(
            "tooling/sobjects/CustomField",
            method="POST",
            json={"FullName": f"KAM_Account_Score__c.{field.name}", "Metadata": metadata},
        )
    fields = {f["name"] for f in sf.KAM_Account_Score__c.describe()["fields"]}
    assert {"Id", "Name", "KAM_Account__c", "KAM_Ext_Id__c", "KAM_Tier__c"} <= fields
    assert _upsert(sf, [_record("sf:1", account_id(1), KAM_Tier__c="growth")])[0]["created"] is True
    assert [e.api for e in emulator.write_log()] == ["tooling"] * 4 + ["composite"]
