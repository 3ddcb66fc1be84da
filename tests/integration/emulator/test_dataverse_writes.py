"""Writes: upsert by alternate key, UpsertMultiple, $batch, refusals and the write log."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import pytest

from connectors.emulator.dataverse import DataverseSettings
from tests.integration.emulator.dataverse_fixtures import Org, running_org

TYPE = "Microsoft.Dynamics.CRM.kam_accountscore"


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    yield from running_org(
        tmp_path_factory, "dv-writes", settings=DataverseSettings(create_score_table=True)
    )


@pytest.fixture(scope="module")
def accounts(org: Org) -> list[str]:
    return sorted(org.store.tables["account"].rows)


def scores(org: Org) -> dict[str, dict[str, Any]]:
    """Score records by external id."""
    return {r["kam_extid"]: r for r in org.store.tables["kam_accountscore"].rows.values()}


def payload(account: str, tier: str = "key", **extra: Any) -> dict[str, Any]:
    return {
        "kam_tier": tier,
        "kam_healthscore": 72.5,
        "kam_healthband": "green",
        "kam_walletestimate": 1_250_000,
        "kam_nextduedate": "2024-07-15",
        "kam_scoredat": "2024-06-30T12:00:00Z",
        "kam_accountid@odata.bind": f"/accounts({account})",
        **extra,
    }


def patch(org: Org, extid: str, body: dict[str, Any], **headers: str) -> Any:
    return org.session.patch(
        f"{org.api}/kam_accountscores(kam_extid='{extid}')",
        headers={**org.headers(), **headers},
        json=body,
    )


def log_since(org: Org, start: int) -> list[tuple[str, str | None, str, bool]]:
    return [(e.table, e.record_id, e.operation, e.ok) for e in org.store.write_log[start:]]


# ---------------------------------------------------------------------------- PATCH upsert


def test_upsert_creates_then_updates(org: Org, accounts: list[str]) -> None:
    extid = f"d365:{accounts[0]}"
    created = patch(org, extid, payload(accounts[0]))
    assert created.status_code == 204, created.text
    record_id = created.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")
    record = scores(org)[extid]
    assert record["kam_accountscoreid"] == record_id
    assert record["kam_accountid"] == accounts[0]
    assert record["kam_walletestimate"] == 1_250_000.0
    assert str(record["kam_nextduedate"]) == "2024-07-15"
    assert record["kam_name"] == extid
    updated = patch(org, extid, {"kam_tier": "growth"}, Prefer="return=representation")
    assert updated.status_code == 200
    body = updated.json()
    assert body["kam_tier"] == "growth"
    assert body["kam_healthscore"] == 72.5
    assert body["kam_accountscoreid"] == record_id
    assert body["@odata.etag"] == f'W/"{org.store.tables["kam_accountscore"].seqs[record_id]}"'
    assert len(scores(org)) == 1


def test_if_match_and_if_none_match(org: Org, accounts: list[str]) -> None:
    extid = f"d365:{accounts[1]}"
    start = len(org.store.write_log)
    missing = patch(org, extid, payload(accounts[1]), **{"If-Match": "*"})
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "code": "0x80040217",
        "message": "A record with the specified key values does not exist in kam_accountscore entity",
    }
    assert patch(org, extid, payload(accounts[1]), **{"If-None-Match": "*"}).status_code == 204
    duplicate = patch(org, extid, payload(accounts[1]), **{"If-None-Match": "*"})
    assert duplicate.status_code == 412
    assert (
        duplicate.json()["error"]["message"] == "A record with matching key values already exists."
    )
    assert patch(org, extid, {"kam_tier": "maintain"}, **{"If-Match": "*"}).status_code == 204
    stale = patch(org, extid, {"kam_tier": "non_key"}, **{"If-Match": 'W/"1"'})
    assert stale.status_code == 412
    assert scores(org)[extid]["kam_tier"] == "maintain"
    assert [(op, ok) for _, _, op, ok in log_since(org, start)] == [
        ("create", False),
        ("create", True),
        ("update", False),
        ("update", True),
        ("update", False),
    ]


def test_alternate_key_is_case_insensitive(org: Org, accounts: list[str]) -> None:
    extid = f"D365:{accounts[2]}".upper()
    assert patch(org, extid.lower(), payload(accounts[2])).status_code == 204
    assert patch(org, extid, {"kam_tier": "growth"}, **{"If-Match": "*"}).status_code == 204
    assert scores(org)[extid.lower()]["kam_tier"] == "growth"


def test_invalid_payloads_fail_with_dataverse_errors(org: Org, accounts: list[str]) -> None:
    unknown_account = patch(org, "x:1", payload("00000000-0000-4000-8000-00000000dead"))
    assert unknown_account.status_code == 404
    assert unknown_account.json()["error"]["message"] == (
        "account With Id = 00000000-0000-4000-8000-00000000dead Does Not Exist"
    )
    unknown_column = patch(org, "x:1", {"kam_nosuch": 1})
    assert unknown_column.status_code == 400
    assert (
        "does not exist on type 'Microsoft.Dynamics.CRM.kam_accountscore'"
        in unknown_column.json()["error"]["message"]
    )
    too_long = patch(org, "x:1", {"kam_tier": "x" * 21})
    assert too_long.json()["error"]["code"] == "0x80044331"
    wrong_type = patch(org, "x:1", {"kam_healthscore": "high"})
    assert wrong_type.json()["error"]["message"] == (
        "Cannot convert the literal 'high' to the expected type 'Edm.Decimal'."
    )
    wrong_set = patch(org, "x:1", {"kam_accountid@odata.bind": f"/contacts({accounts[0]})"})
    assert wrong_set.status_code == 400
    assert "x:1" not in scores(org)


def test_writes_to_crm_tables_are_refused_and_logged(org: Org, accounts: list[str]) -> None:
    start = len(org.store.write_log)
    before = dict(org.store.tables["account"].rows[accounts[0]])
    update = org.session.patch(
        f"{org.api}/accounts({accounts[0]})", headers=org.headers(), json={"name": "Hacked"}
    )
    assert update.status_code == 403
    error = update.json()["error"]
    assert error["code"] == "0x80040220"
    assert "is missing prvWriteAccount privilege" in error["message"]
    create = org.session.post(f"{org.api}/contacts", headers=org.headers(), json={"fullname": "X"})
    assert create.status_code == 403
    assert "prvCreateContact" in create.json()["error"]["message"]
    delete = org.session.delete(f"{org.api}/accounts({accounts[0]})", headers=org.headers())
    assert delete.status_code == 403
    multiple = org.session.post(
        f"{org.api}/accounts/Microsoft.Dynamics.CRM.UpsertMultiple",
        headers=org.headers(),
        json={"Targets": []},
    )
    assert multiple.status_code == 403
    assert org.store.tables["account"].rows[accounts[0]] == before
    assert log_since(org, start) == [
        ("account", accounts[0], "update", False),
        ("contact", None, "create", False),
        ("account", accounts[0], "delete", False),
        ("account", None, "upsert", False),
    ]


def test_planted_failure_fails_that_record_only(org: Org, accounts: list[str]) -> None:
    extid = f"d365:{accounts[3]}"
    org.app.plant_failure(extid, times=1)
    failed = patch(org, extid, payload(accounts[3]))
    assert failed.status_code == 400
    assert failed.json()["error"]["code"] == "0x80040265"
    assert patch(org, extid, payload(accounts[3])).status_code == 204  # planted for one attempt


# ---------------------------------------------------------------------------- UpsertMultiple


def targets(accounts: list[str], tier: str) -> list[dict[str, Any]]:
    out = []
    for i, account in enumerate(accounts):
        target = {"@odata.type": TYPE, **payload(account, tier)}
        if i % 2:
            target["@odata.id"] = f"kam_accountscores(kam_extid='multi:{account}')"
        else:
            target["kam_extid"] = f"multi:{account}"
        out.append(target)
    return out


def test_upsert_multiple_creates_and_updates(org: Org, accounts: list[str]) -> None:
    url = f"{org.api}/kam_accountscores/Microsoft.Dynamics.CRM.UpsertMultiple"
    response = org.session.post(
        url, headers=org.headers(), json={"Targets": targets(accounts[10:20], "key")}
    )
    assert response.status_code == 204, response.text
    again = org.session.post(
        url, headers=org.headers(), json={"Targets": targets(accounts[10:25], "growth")}
    )
    assert again.status_code == 204
    written = {k: v for k, v in scores(org).items() if k.startswith("multi:")}
    assert len(written) == 15
    assert {r["kam_tier"] for r in written.values()} == {"growth"}


def test_upsert_multiple_is_all_or_nothing(org: Org, accounts: list[str]) -> None:
    url = f"{org.api}/kam_accountscores/Microsoft.Dynamics.CRM.UpsertMultiple"
    before = {k: dict(v) for k, v in scores(org).items()}
    start = len(org.store.write_log)
    org.app.plant_failure(f"multi:{accounts[12]}", times=1)
    response = org.session.post(
        url, headers=org.headers(), json={"Targets": targets(accounts[10:28], "maintain")}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "0x80040265"
    assert {k: dict(v) for k, v in scores(org).items()} == before  # nothing applied
    entries = org.store.write_log[start:]
    assert len(entries) == 3  # two rolled back, then the planted failure; the rest never ran
    assert all(not e.ok for e in entries)
    assert entries[0].error is not None and entries[0].error.startswith("rolled back")


def test_upsert_multiple_checks_types_and_size(org: Org, accounts: list[str]) -> None:
    url = f"{org.api}/kam_accountscores/Microsoft.Dynamics.CRM.UpsertMultiple"
    untyped = [{"kam_extid": "t:1", "kam_tier": "key"}]
    assert (
        org.session.post(url, headers=org.headers(), json={"Targets": untyped}).status_code == 400
    )
    assert org.session.post(url, headers=org.headers(), json={}).status_code == 400
    many = [{"@odata.type": TYPE, "kam_extid": f"t:{i}"} for i in range(1001)]
    too_many = org.session.post(url, headers=org.headers(), json={"Targets": many})
    assert too_many.status_code == 400
    assert "exceeds the limit of 1000" in too_many.json()["error"]["message"]


# ---------------------------------------------------------------------------- $batch


def batch_body(boundary: str, parts: list[str]) -> bytes:
    lines = []
    for part in parts:
        lines += [f"--{boundary}", part]
    lines.append(f"--{boundary}--")
    return ("\r\n".join(lines) + "\r\n").encode()


def http_part(
    method: str, url: str, body: dict[str, Any] | None = None, content_id: str | None = None
) -> str:
    import json

    head = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id:
        head.append(f"Content-ID: {content_id}")
    request = [f"{method} {url} HTTP/1.1", "Content-Type: application/json; type=entry", ""]
    text = "\r\n".join(head) + "\r\n\r\n" + "\r\n".join(request) + "\r\n"
    return text + (json.dumps(body) if body is not None else "")


def changeset(boundary: str, parts: list[str]) -> str:
    inner = batch_body(boundary, parts).decode()
    return f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n{inner}'


def send_batch(org: Org, parts: list[str], continue_on_error: bool) -> Any:
    boundary = f"batch_{uuid.uuid4()}"
    headers = {**org.headers(), "Content-Type": f'multipart/mixed; boundary="{boundary}"'}
    if continue_on_error:
        headers["Prefer"] = "odata.continue-on-error"
    return org.session.post(f"{org.api}/$batch", headers=headers, data=batch_body(boundary, parts))


def responses(batch: Any) -> list[tuple[int, dict[str, str], str]]:
    """(status, part headers, body) of every operation, change sets flattened."""
    message = message_from_bytes(
        b"Content-Type: " + batch.headers["Content-Type"].encode() + b"\r\n\r\n" + batch.content
    )
    found = []
    for part in message.walk():
        if part.get_content_type() != "application/http":
            continue
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        payload_text = payload.decode()
        status_line, _, rest = payload_text.partition("\r\n")
        _, _, body = rest.partition("\r\n\r\n")
        found.append((int(status_line.split()[1]), dict(part.items()), body.strip()))
    return found


def test_batch_continue_on_error_with_a_planted_failure(org: Org, accounts: list[str]) -> None:
    org.app.plant_failure(f"batch:{accounts[6]}")
    parts = [
        http_part("PATCH", f"/api/data/v9.2/kam_accountscores(kam_extid='batch:{a}')", payload(a))
        for a in accounts[5:8]
    ]
    parts.append(
        http_part(
            "GET",
            "/api/data/v9.2/kam_accountscores?$select=kam_extid&$filter=startswith(kam_extid,'batch:')",
        )
    )
    batch = send_batch(org, parts, continue_on_error=True)
    assert batch.status_code == 200
    assert batch.headers["Preference-Applied"] == "odata.continue-on-error"
    statuses = [status for status, _, _ in responses(batch)]
    assert statuses == [204, 400, 204, 200]
    assert set(scores(org)) >= {f"batch:{accounts[5]}", f"batch:{accounts[7]}"}
    assert f"batch:{accounts[6]}" not in scores(org)


def test_batch_without_continue_stops_at_the_first_failure(org: Org, accounts: list[str]) -> None:
    parts = [
        http_part(
            "PATCH", f"kam_accountscores(kam_extid='stop:{accounts[0]}')", payload(accounts[0])
        ),
        http_part("PATCH", f"{org.api}/accounts({accounts[0]})", {"name": "no"}),
        http_part(
            "PATCH", f"kam_accountscores(kam_extid='stop:{accounts[1]}')", payload(accounts[1])
        ),
    ]
    batch = send_batch(org, parts, continue_on_error=False)
    assert batch.status_code == 403
    assert [status for status, _, _ in responses(batch)] == [204, 403]
    assert f"stop:{accounts[0]}" in scores(org)
    assert f"stop:{accounts[1]}" not in scores(org)


def test_change_set_rolls_back_as_a_unit(org: Org, accounts: list[str]) -> None:
    org.app.plant_failure(f"cs:{accounts[9]}")
    good = changeset(
        f"changeset_{uuid.uuid4()}",
        [
            http_part(
                "PATCH",
                f"kam_accountscores(kam_extid='cs:{accounts[8]}')",
                payload(accounts[8]),
                "1",
            ),
            http_part(
                "PATCH",
                f"kam_accountscores(kam_extid='cs:{accounts[10]}')",
                payload(accounts[10]),
                "2",
            ),
        ],
    )
    bad = changeset(
        f"changeset_{uuid.uuid4()}",
        [
            http_part(
                "PATCH",
                f"kam_accountscores(kam_extid='cs:{accounts[11]}')",
                payload(accounts[11]),
                "3",
            ),
            http_part(
                "PATCH",
                f"kam_accountscores(kam_extid='cs:{accounts[9]}')",
                payload(accounts[9]),
                "4",
            ),
        ],
    )
    batch = send_batch(org, [good, bad], continue_on_error=True)
    assert batch.status_code == 200
    found = responses(batch)
    assert [(status, headers.get("Content-ID")) for status, headers, _ in found] == [
        (204, "1"),
        (204, "2"),
        (400, "4"),
    ]
    written = scores(org)
    assert f"cs:{accounts[8]}" in written and f"cs:{accounts[10]}" in written
    assert f"cs:{accounts[11]}" not in written  # rolled back with its change set
    rolled = [e for e in org.store.write_log if e.error and e.error.startswith("rolled back")]
    assert any(e.record_id and e.table == "kam_accountscore" for e in rolled)


def test_content_id_reference_in_a_change_set(org: Org, accounts: list[str]) -> None:
    boundary = f"changeset_{uuid.uuid4()}"
    parts = [
        http_part("POST", "kam_accountscores", {"kam_extid": "ref:1", "kam_tier": "key"}, "1"),
        http_part("PATCH", "$1", {"kam_tier": "growth"}, "2"),
    ]
    batch = send_batch(org, [changeset(boundary, parts)], continue_on_error=False)
    assert batch.status_code == 200
    assert [status for status, _, _ in responses(batch)] == [204, 204]
    assert scores(org)["ref:1"]["kam_tier"] == "growth"


def test_every_kind_of_write_to_other_tables_is_refused(org: Org, accounts: list[str]) -> None:
    start = len(org.store.write_log)
    put = org.session.put(
        f"{org.api}/accounts({accounts[0]})/name", headers=org.headers(), json={"value": "x"}
    )
    assert put.status_code == 403
    create_multiple = org.session.post(
        f"{org.api}/contacts/Microsoft.Dynamics.CRM.CreateMultiple",
        headers=org.headers(),
        json={"Targets": []},
    )
    assert create_multiple.status_code == 403
    assert log_since(org, start) == [
        ("account", accounts[0], "update", False),
        ("contact", None, "upsert", False),
    ]
