"""Web API reads from the Dataverse emulator, through requests over TLS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from connectors.emulator.dataverse import DataverseSettings
from tests.integration.emulator.dataverse_fixtures import Org, running_org


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    yield from running_org(
        tmp_path_factory, "dv-reads", settings=DataverseSettings(create_score_table=True)
    )


@pytest.fixture(scope="module")
def token(org: Org) -> str:
    return org.token()


FORMATTED = "@OData.Community.Display.V1.FormattedValue"
LOOKUP = "@Microsoft.Dynamics.CRM.lookuplogicalname"
NAVIGATION = "@Microsoft.Dynamics.CRM.associatednavigationproperty"


def get(org: Org, token: str, path: str, prefer: str | None = None, **params: str) -> Any:
    response = org.session.get(
        f"{org.api}/{path}", headers=org.headers(token, prefer), params=params
    )
    return response


def read_all(
    org: Org, token: str, path: str, prefer: str, **params: str
) -> tuple[list[dict[str, Any]], int]:
    response = get(org, token, path, prefer, **params)
    assert response.status_code == 200, response.text
    body = response.json()
    rows, pages = list(body["value"]), 1
    while "@odata.nextLink" in body:
        body = org.session.get(body["@odata.nextLink"], headers=org.headers(token, prefer)).json()
        rows += body["value"]
        pages += 1
    return rows, pages


def test_collection_shape(org: Org, token: str) -> None:
    response = get(org, token, "accounts", **{"$select": "name,revenue"})
    assert response.status_code == 200
    assert response.headers["OData-Version"] == "4.0"
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["@odata.context"] == f"{org.api}/$metadata#accounts(name,revenue)"
    assert len(body["value"]) == 30  # one page: the default page size is 5,000
    assert "@odata.nextLink" not in body
    first = body["value"][0]
    assert list(first) == ["@odata.etag", "name", "revenue", "accountid"]
    seq = org.store.tables["account"].seqs[first["accountid"]]
    assert first["@odata.etag"] == f'W/"{seq}"'


def test_paging_with_maxpagesize(org: Org, token: str) -> None:
    response = get(org, token, "contacts", "odata.maxpagesize=7", **{"$select": "fullname"})
    assert response.headers["Preference-Applied"] == "odata.maxpagesize=7"
    next_link = response.json()["@odata.nextLink"]
    query = parse_qs(urlsplit(next_link).query)
    assert query["$select"] == ["fullname"]
    assert query["$skiptoken"][0].startswith('<cookie pagenumber="2" pagingcookie="')
    rows, pages = read_all(org, token, "contacts", "odata.maxpagesize=7", **{"$select": "fullname"})
    assert pages == 6  # 40 contacts
    ids = [row["contactid"] for row in rows]
    assert sorted(ids) == sorted(org.store.tables["contact"].rows)


def test_page_size_is_capped_at_5000(org: Org, token: str) -> None:
    response = get(org, token, "accounts", "odata.maxpagesize=20000", **{"$select": "name"})
    assert response.headers["Preference-Applied"] == "odata.maxpagesize=5000"


def test_filter_and_orderby_across_pages(org: Org, token: str) -> None:
    prefer = "odata.maxpagesize=4"
    rows, _ = read_all(
        org,
        token,
        "accounts",
        prefer,
        **{
            "$select": "name,revenue,address1_country",
            "$filter": "address1_country eq 'japan' or (revenue gt 1000000 and not donotphone)",
            "$orderby": "revenue desc,name",
        },
    )
    expected = [
        r
        for r in org.store.tables["account"].rows.values()
        if r["address1_country"] == "Japan" or (r["revenue"] > 1_000_000 and not r["donotphone"])
    ]
    assert [row["accountid"] for row in rows] == [
        r["accountid"] for r in sorted(expected, key=lambda r: (-r["revenue"], r["name"]))
    ]


def test_filter_literals(org: Org, token: str) -> None:
    def names(filter_text: str) -> list[str]:
        rows, _ = read_all(
            org, token, "accounts", "", **{"$select": "name", "$filter": filter_text}
        )
        return sorted(row["name"] for row in rows)

    assert names("name eq 'O''Brien & Sons'") == ["O'Brien & Sons"]
    assert names("contains(name,'brien')") == ["O'Brien & Sons"]
    parent = sorted(org.store.tables["account"].rows)[0]
    children = [
        r["name"]
        for r in org.store.tables["account"].rows.values()
        if r["parentaccountid"] == parent
    ]
    assert names(f"_parentaccountid_value eq {parent}") == sorted(children)
    assert len(names("_parentaccountid_value eq null")) == 30 - sum(
        1 for r in org.store.tables["account"].rows.values() if r["parentaccountid"]
    )
    assert len(names("industrycode eq null")) == 5
    created = sorted(r["createdon"] for r in org.store.tables["account"].rows.values())
    assert len(names(f"createdon ge {created[10]:%Y-%m-%dT%H:%M:%SZ}")) == 20
    dated, _ = read_all(
        org,
        token,
        "opportunities",
        "",
        **{"$select": "name", "$filter": "estimatedclosedate lt 2024-03-01"},
    )
    assert len(dated) == sum(
        1
        for r in org.store.tables["opportunity"].rows.values()
        if str(r["estimatedclosedate"]) < "2024-03-01"
    )


def test_top_and_count(org: Org, token: str) -> None:
    body = get(
        org, token, "contacts", **{"$select": "fullname", "$top": "3", "$count": "true"}
    ).json()
    assert len(body["value"]) == 3
    assert body["@odata.count"] == 40
    assert "@odata.nextLink" not in body
    count = org.session.get(f"{org.api}/contacts/$count", headers=org.headers(token))
    assert count.headers["Content-Type"] == "text/plain"
    assert count.text == "40"


def test_values_are_rendered_like_dataverse(org: Org, token: str) -> None:
    body = get(
        org,
        token,
        "opportunities",
        **{
            "$select": "name,estimatedvalue,estimatedclosedate,createdon,closeprobability",
            "$top": "1",
        },
    ).json()
    row = body["value"][0]
    assert isinstance(row["estimatedvalue"], float)
    assert len(row["estimatedclosedate"]) == 10  # a date-only value: 2024-06-30
    assert row["createdon"].endswith("Z")
    assert len(row["createdon"]) == 20  # 2024-01-02T03:04:05Z


def test_annotations_when_asked(org: Org, token: str) -> None:
    select = {
        "$select": "name,industrycode,revenue,_parentaccountid_value,donotphone,_ownerid_value"
    }
    plain = get(org, token, "accounts", **select).json()["value"]
    assert not any("@" in key for row in plain for key in row if key != "@odata.etag")
    response = get(org, token, "accounts", 'odata.include-annotations="*"', **select)
    assert response.headers["Preference-Applied"] == 'odata.include-annotations="*"'
    rows = response.json()["value"]
    child = next(row for row in rows if row["_parentaccountid_value"])
    parent = org.store.tables["account"].rows[child["_parentaccountid_value"]]
    assert child["_parentaccountid_value" + FORMATTED] == parent["name"]
    assert child["_parentaccountid_value" + LOOKUP] == "account"
    assert child["_parentaccountid_value" + NAVIGATION] == "parentaccountid"
    assert child["_ownerid_value" + LOOKUP] == "systemuser"
    coded = next(row for row in rows if row["industrycode"] == 3)
    assert coded["industrycode" + FORMATTED] == "Consulting"
    assert coded["revenue" + FORMATTED].startswith("$")
    assert rows[0]["donotphone" + FORMATTED] in ("Yes", "No")


def test_specific_annotations_only(org: Org, token: str) -> None:
    prefer = 'odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"'
    rows = get(
        org, token, "tasks", prefer, **{"$select": "subject,_regardingobjectid_value"}
    ).json()["value"]
    kinds = {row["_regardingobjectid_value" + LOOKUP] for row in rows}
    assert kinds == {"account", "contact"}
    assert not any(key.endswith(FORMATTED) for row in rows for key in row)


def test_polymorphic_regarding_navigation_property(org: Org, token: str) -> None:
    rows = get(
        org,
        token,
        "phonecalls",
        'odata.include-annotations="*"',
        **{"$select": "_regardingobjectid_value"},
    ).json()["value"]
    on_account = next(r for r in rows if r["_regardingobjectid_value" + LOOKUP] == "account")
    assert (
        on_account["_regardingobjectid_value" + NAVIGATION] == "regardingobjectid_account_phonecall"
    )


def test_single_record_and_conditional_get(org: Org, token: str) -> None:
    account = sorted(org.store.tables["account"].rows)[3]
    response = get(org, token, f"accounts({account})", **{"$select": "name"})
    body = response.json()
    assert body["@odata.context"] == f"{org.api}/$metadata#accounts(name)/$entity"
    assert body["accountid"] == account
    again = org.session.get(
        f"{org.api}/accounts({account})?$select=name",
        headers={**org.headers(token), "If-None-Match": body["@odata.etag"]},
    )
    assert again.status_code == 304
    missing = get(org, token, "accounts(00000000-0000-0000-0000-000000000999)")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "0x80040217"


def test_unknown_entity_set_and_property_errors(org: Org, token: str) -> None:
    missing = get(org, token, "acounts")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {"code": "0x8006088a", "message": "Resource not found for the segment 'acounts'."}
    }
    unknown = get(org, token, "accounts", **{"$select": "name,bogus"})
    assert unknown.status_code == 400
    assert unknown.json()["error"] == {
        "code": "0x80060888",
        "message": "Could not find a property named 'bogus' on type 'Microsoft.Dynamics.CRM.account'.",
    }
    navigation = get(org, token, "accounts", **{"$select": "parentaccountid"})
    assert navigation.status_code == 400
    wrong_type = get(org, token, "accounts", **{"$filter": "revenue eq 'lots'"})
    assert wrong_type.status_code == 400
    assert "incompatible types" in wrong_type.json()["error"]["message"]
    syntax = get(org, token, "accounts", **{"$filter": "name eq"})
    assert syntax.status_code == 400
    assert syntax.json()["error"]["message"].startswith("Syntax error at position 7")


def test_service_document_and_who_am_i(org: Org, token: str) -> None:
    body = get(org, token, "").json()
    names = {entry["name"] for entry in body["value"]}
    assert {
        "accounts",
        "contacts",
        "opportunities",
        "opportunityproducts",
        "kam_accountscores",
    } <= names
    who = get(org, token, "WhoAmI").json()
    assert set(who) >= {"UserId", "BusinessUnitId", "OrganizationId"}


def test_next_page_reflects_changes_made_after_the_previous_page(org: Org, token: str) -> None:
    """Pages are rendered ahead of time; one rendered before a change is never served."""
    prefer = "odata.maxpagesize=5"
    first = get(org, token, "contacts", prefer, **{"$select": "fullname"}).json()
    ids = sorted(org.store.tables["contact"].rows)
    on_next_page = ids[5]
    original = org.store.tables["contact"].rows[on_next_page]["fullname"]
    org.store.update("contact", on_next_page, {"fullname": "Changed Between Pages"})
    try:
        second = org.session.get(
            first["@odata.nextLink"], headers=org.headers(token, prefer)
        ).json()
        names = {row["contactid"]: row["fullname"] for row in second["value"]}
        assert names[on_next_page] == "Changed Between Pages"
    finally:
        org.store.update("contact", on_next_page, {"fullname": original})
