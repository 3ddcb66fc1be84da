"""Change tracking with delta links, ``$deletedEntity`` rows and expired tokens."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.integration.emulator.dataverse_fixtures import Org, running_org

EXPIRED = {
    "code": "0x80044352",
    "message": "Version stamp associated with the client has expired. Please perform a full sync.",
}


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    yield from running_org(tmp_path_factory, "dv-tracking")


def tracked_read(
    org: Org, token: str, path: str, page_size: int = 1000
) -> tuple[list[dict[str, Any]], str, int]:
    """Follow nextLinks of a tracked read; the rows, the delta link and the page count."""
    headers = org.headers(token, f"odata.track-changes,odata.maxpagesize={page_size}")
    response = org.session.get(f"{org.api}/{path}", headers=headers)
    assert response.status_code == 200, response.text
    assert "odata.track-changes" in response.headers["Preference-Applied"]
    body, rows, pages = response.json(), [], 1
    rows += body["value"]
    while "@odata.nextLink" in body:
        assert "@odata.deltaLink" not in body
        body = org.session.get(
            body["@odata.nextLink"], headers=org.headers(token, f"odata.maxpagesize={page_size}")
        ).json()
        rows += body["value"]
        pages += 1
    return rows, body["@odata.deltaLink"], pages


def follow(
    org: Org, token: str, link: str, page_size: int = 1000
) -> tuple[list[dict[str, Any]], str]:
    headers = org.headers(token, f"odata.maxpagesize={page_size}")
    body = org.session.get(link, headers=headers).json()
    rows = list(body["value"])
    while "@odata.nextLink" in body:
        body = org.session.get(body["@odata.nextLink"], headers=headers).json()
        rows += body["value"]
    return rows, body["@odata.deltaLink"]


def test_initial_read_pages_then_delta_link(org: Org) -> None:
    token = org.token()
    rows, delta_link, pages = tracked_read(
        org, token, "contacts?$select=fullname,_parentcustomerid_value", 15
    )
    assert pages == 3
    assert len(rows) == 40
    assert len({row["contactid"] for row in rows}) == 40
    query = parse_qs(urlsplit(delta_link).query)
    assert query["$select"] == ["fullname,_parentcustomerid_value"]
    sequence, _, stamp = query["$deltatoken"][0].partition("!")
    assert int(sequence) == org.store.seq
    assert stamp == org.store.now().strftime("%m/%d/%Y %H:%M:%S")


def test_delta_returns_changes_creates_and_deletes(org: Org) -> None:
    token = org.token()
    _, delta_link, _ = tracked_read(org, token, "accounts?$select=name,revenue")
    store = org.store
    ids = sorted(store.tables["account"].rows)
    store.advance(timedelta(days=1))
    store.update("account", ids[0], {"name": "Renamed Ltd"})
    store.delete("account", ids[1], hard=True)
    created = "abcdef00-0000-4000-8000-000000000001"
    store.insert("account", {"accountid": created, "name": "Brand New", "revenue": 5.0})
    store.update("contact", sorted(store.tables["contact"].rows)[0], {"fullname": "Not an account"})

    response = org.session.get(delta_link, headers=org.headers(token))
    body = response.json()
    assert body["@odata.context"] == f"{org.api}/$metadata#accounts(name,revenue)/$delta"
    values = body["value"]
    assert [row["accountid"] for row in values if "accountid" in row] == [ids[0], created]
    renamed = values[0]
    assert renamed["name"] == "Renamed Ltd"
    assert set(renamed) == {"@odata.etag", "name", "revenue", "accountid"}
    assert values[-1] == {
        "@odata.context": f"{org.api}/$metadata#accounts/$deletedEntity",
        "id": ids[1],
        "reason": "deleted",
    }
    fresh = body["@odata.deltaLink"]
    assert fresh != delta_link
    # nothing changed since: an empty delta and yet another link
    again = org.session.get(fresh, headers=org.headers(token)).json()
    assert again["value"] == []
    assert "@odata.deltaLink" in again


def test_changes_during_a_tracked_read_come_with_the_next_delta(org: Org) -> None:
    token = org.token()
    headers = org.headers(token, "odata.track-changes,odata.maxpagesize=10")
    total = len(org.store.tables["account"].rows)
    first = org.session.get(f"{org.api}/accounts?$select=name", headers=headers).json()
    seen = {row["accountid"] for row in first["value"]}
    early = sorted(seen)[0]
    org.store.update("account", early, {"name": "Changed mid-read"})
    rows, delta_link = follow(org, token, first["@odata.nextLink"], 10)
    seen |= {row["accountid"] for row in rows}
    assert len(seen) == total
    changed, _ = follow(org, token, delta_link)
    assert [row["name"] for row in changed] == ["Changed mid-read"]


def test_large_delta_is_paged(org: Org) -> None:
    token = org.token()
    _, delta_link, _ = tracked_read(org, token, "tasks?$select=subject")
    for record_id in sorted(org.store.tables["task"].rows)[:25]:
        org.store.update("task", record_id, {"subject": "touched"})
    for record_id in sorted(org.store.tables["task"].rows)[25:]:
        org.store.delete("task", record_id, hard=True)
    rows, next_delta = follow(org, token, delta_link, page_size=7)
    assert sum(1 for row in rows if row.get("subject") == "touched") == 25
    assert sum(1 for row in rows if row.get("reason") == "deleted") == 5
    assert next_delta != delta_link


def test_expired_and_unknown_tokens(org: Org) -> None:
    token = org.token()
    _, delta_link, _ = tracked_read(org, token, "accounts?$select=name")
    org.store.advance(timedelta(days=89))
    assert org.session.get(delta_link, headers=org.headers(token)).status_code == 200
    org.store.advance(timedelta(days=2))
    expired = org.session.get(delta_link, headers=org.headers(token))
    assert expired.status_code == 400
    assert expired.json() == {"error": EXPIRED}
    future = org.session.get(
        f"{org.api}/accounts",
        headers=org.headers(token),
        params={"$deltatoken": f"{org.store.seq + 10}!06/30/2024 12:00:00"},
    )
    assert future.json() == {"error": EXPIRED}
    garbage = org.session.get(
        f"{org.api}/accounts", headers=org.headers(token), params={"$deltatoken": "nonsense"}
    )
    assert garbage.status_code == 400
    assert garbage.json() == {"error": EXPIRED}


def test_table_without_change_tracking(org: Org) -> None:
    response = org.session.get(
        f"{org.api}/products", headers=org.headers(prefer="odata.track-changes")
    )
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "0x80072491",
        "message": "Entity product isn't enabled for change tracking.",
    }


@pytest.mark.parametrize("option", ["$filter=name ne null", "$orderby=name", "$top=5"])
def test_query_options_not_allowed_with_tracking(org: Org, option: str) -> None:
    response = org.session.get(
        f"{org.api}/accounts?{option}", headers=org.headers(prefer="odata.track-changes")
    )
    assert response.status_code == 400
    name = option.split("=", maxsplit=1)[0]
    assert response.json()["error"]["message"] == (
        f'The "{name}" query parameter isn\'t supported when Change Tracking is enabled.'
    )
