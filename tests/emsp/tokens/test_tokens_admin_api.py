"""Admin API `/admin/v1/tokens`: every endpoint, bad input (400, nothing stored), unknown (404),
conflicts (409), filters and paging."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text

from emsp.db import SessionMaker
from emsp.tokens.contract_id import check_digit

BASE = "/admin/v1/tokens"


def valid_contract_id(instance: str = "C12345678") -> str:
    body = "NLEMS" + instance
    return f"NL-EMS-{instance}-{check_digit(body)}"


async def snapshot(sessionmaker: SessionMaker) -> list[list[tuple[Any, ...]]]:
    async with sessionmaker() as session:
        conn = await session.connection()
        return [
            [tuple(r) for r in await conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))]
            for table in ("tokens", "token_history")
        ]


async def create(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    body.setdefault("uid", "04AABBCCDD")
    response = await client.post(BASE, json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_admin_key_is_required(client: httpx.AsyncClient) -> None:
    for method, path in (("GET", BASE), ("POST", BASE), ("GET", BASE + "/1"), ("POST", BASE + "/1/block")):
        response = await client.request(method, path, json={})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"


async def test_create_and_show(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    contract_id = valid_contract_id()
    created = await create(
        client,
        admin_headers,
        uid="04AABBCCDD",
        contract_id=contract_id.replace("-", "").lower(),
        visual_number="CARD-1",
        allowed_locations=[{"location_id": "LOC1", "evse_uids": ["E1"]}],
    )
    assert created["contract_id"] == contract_id
    assert (created["status"], created["valid"], created["version"]) == ("ACTIVE", True, 1)
    assert created["allowed_locations"] == [{"location_id": "LOC1", "evse_uids": ["E1"]}]
    assert created["ocpi"]["contract_id"] == contract_id
    assert created["ocpi"]["valid"] is True
    assert [(h["actor"], h["action"]) for h in created["history"]] == [("tester", "create")]
    assert "distribution" in created
    for ref in (str(created["id"]), "04aabbccdd", "uid:04AABBCCDD"):
        shown = await client.get(f"{BASE}/{ref}", headers=admin_headers)
        assert shown.status_code == 200
        assert shown.json()["id"] == created["id"]


BAD_CREATES: list[tuple[Any, str]] = [
    ({}, "uid is required"),
    ({"uid": "X", "contract_id": "NL-EMS-C12345678-0"}, "check digit"),
    ({"uid": "X", "contract_id": "nope"}, "not an eMA-ID"),
    ({"uid": "X", "type": "CARD"}, "type"),
    ({"uid": "X", "whitelist": "SOMETIMES"}, "whitelist"),
    ({"uid": "X", "language": "xx"}, "ISO 639-1"),
    ({"uid": "X", "valid_from": "yesterday"}, "valid_from"),
    ({"uid": "X", "valid_from": "2031-01-01T00:00:00Z", "valid_until": "2030-01-01T00:00:00Z"}, "after"),
    ({"uid": "X", "valid_until": "2001-01-01T00:00:00Z"}, "past"),
    ({"uid": "X", "country_code": "DE", "party_id": "ABC"}, "not one of our parties"),
    ({"uid": "X" * 37}, "uid"),
    ({"uid": "with\ttab"}, "uid"),
    ({"uid": "X", "unknown": 1}, "unknown"),
    ({"uid": "X", "allowed_locations": []}, "at least one location"),
    ({"uid": "X", "allowed_locations": [{"evse_uids": ["E1"]}]}, "location_id"),
    ({"uid": "X", "energy_contract": {"contract_id": "1"}}, "supplier_name"),
    ("not json", "JSON"),
    ([1, 2], "body"),
]


@pytest.mark.parametrize(("body", "message"), BAD_CREATES)
async def test_create_refuses_bad_input_and_stores_nothing(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    sessionmaker: SessionMaker,
    body: Any,
    message: str,
) -> None:
    if isinstance(body, str):
        response = await client.post(
            BASE, content=body, headers={**admin_headers, "Content-Type": "application/json"}
        )
    else:
        response = await client.post(BASE, json=body, headers=admin_headers)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert message.lower() in (error["message"] + str(error.get("details"))).lower()
    assert await snapshot(sessionmaker) == [[], []]


async def test_create_conflicts(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    first = await create(client, admin_headers, uid="AA")
    response = await client.post(BASE, json={"uid": "aa"}, headers=admin_headers)
    assert response.status_code == 409
    assert "already exists" in response.json()["error"]["message"]
    response = await client.post(
        BASE, json={"uid": "BB", "contract_id": first["contract_id"]}, headers=admin_headers
    )
    assert response.status_code == 409
    assert "contract_id" in response.json()["error"]["message"]


async def test_unknown_token_is_404_everywhere(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    calls = [
        ("GET", f"{BASE}/999", None),
        ("GET", f"{BASE}/nope", None),
        ("PATCH", f"{BASE}/999", {"group_id": "G"}),
        ("POST", f"{BASE}/999/block", {"reason": "r"}),
        ("POST", f"{BASE}/999/unblock", None),
        ("POST", f"{BASE}/999/deactivate", None),
    ]
    for method, path, body in calls:
        response = await client.request(method, path, json=body, headers=admin_headers)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"] == "not_found"


async def test_ambiguous_uid_needs_a_type(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    await create(client, admin_headers, uid="SAME")
    other = await create(client, admin_headers, uid="SAME", type="OTHER")
    response = await client.get(f"{BASE}/SAME", headers=admin_headers)
    assert response.status_code == 409
    response = await client.get(f"{BASE}/SAME", params={"type": "OTHER"}, headers=admin_headers)
    assert response.json()["id"] == other["id"]


async def test_edit(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    token = await create(client, admin_headers, visual_number="V1")
    response = await client.patch(
        f"{BASE}/{token['id']}",
        json={"visual_number": "V2", "valid_until": "2099-01-01T00:00:00Z", "language": "de"},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    edited = response.json()
    assert (edited["visual_number"], edited["language"], edited["version"]) == ("V2", "de", 2)
    assert edited["valid_until"] == "2099-01-01T00:00:00Z"
    assert edited["last_updated"] >= token["last_updated"]
    assert edited["history"][-1]["changes"]["visual_number"] == ["V1", "V2"]
    assert edited["history"][-1]["actor"] == "tester"


BAD_EDITS: list[tuple[Any, str]] = [
    ({"uid": "NEW"}, "uid"),
    ({"type": "OTHER"}, "type"),
    ({"country_code": "BE"}, "country_code"),
    ({"issuer": None}, "issuer cannot be cleared"),
    ({"contract_id": None}, "contract_id cannot be cleared"),
    ({"contract_id": "NL-EMS-C12345678-0"}, "check digit"),
    ({"whitelist": "MAYBE"}, "whitelist"),
    ({"valid_until": "2000-01-01T00:00:00Z", "valid_from": "2001-01-01T00:00:00Z"}, "after valid_from"),
    ({"group_id": "G" * 37}, "group_id"),
]


@pytest.mark.parametrize(("body", "message"), BAD_EDITS)
async def test_edit_refuses_bad_input_and_stores_nothing(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    sessionmaker: SessionMaker,
    body: Any,
    message: str,
) -> None:
    token = await create(client, admin_headers)
    before = await snapshot(sessionmaker)
    response = await client.patch(f"{BASE}/{token['id']}", json=body, headers=admin_headers)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert message.lower() in (error["message"] + str(error.get("details"))).lower()
    assert await snapshot(sessionmaker) == before


async def test_edit_conflicts(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    first = await create(client, admin_headers, uid="A1")
    second = await create(client, admin_headers, uid="A2")
    before = await snapshot(sessionmaker)
    response = await client.patch(
        f"{BASE}/{second['id']}", json={"contract_id": first["contract_id"]}, headers=admin_headers
    )
    assert response.status_code == 409
    assert await snapshot(sessionmaker) == before


async def test_block_unblock_deactivate(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    token = await create(client, admin_headers)
    path = f"{BASE}/{token['id']}"
    response = await client.post(path + "/block", json={"reason": "stolen"}, headers=admin_headers)
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["block_reason"]) == ("BLOCKED", "stolen")
    assert response.json()["ocpi"]["valid"] is False
    assert (
        await client.post(path + "/block", json={"reason": "x"}, headers=admin_headers)
    ).status_code == 409
    response = await client.post(path + "/unblock", headers=admin_headers)
    assert (response.status_code, response.json()["status"]) == (200, "ACTIVE")
    assert (await client.post(path + "/unblock", headers=admin_headers)).status_code == 409
    response = await client.post(path + "/deactivate", json={"reason": "closed"}, headers=admin_headers)
    assert (response.status_code, response.json()["status"]) == (200, "INACTIVE")
    assert [h["action"] for h in response.json()["history"]] == [
        "create",
        "block",
        "unblock",
        "deactivate",
    ]
    for method, suffix, body in (
        ("PATCH", "", {"group_id": "G"}),
        ("POST", "/block", {"reason": "r"}),
        ("POST", "/unblock", None),
        ("POST", "/deactivate", None),
    ):
        response = await client.request(method, path + suffix, json=body, headers=admin_headers)
        assert response.status_code == 409, (suffix, response.text)
        assert "deactivated" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("suffix", "body"),
    [
        ("/block", {}),
        ("/block", {"reason": ""}),
        ("/block", {"reason": "   "}),
        ("/block", {"reason": "r" * 256}),
        ("/block", {"reason": "r", "extra": 1}),
        ("/deactivate", {"reason": "r" * 256}),
    ],
)
async def test_transitions_refuse_bad_input_and_store_nothing(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    sessionmaker: SessionMaker,
    suffix: str,
    body: dict[str, Any],
) -> None:
    token = await create(client, admin_headers)
    before = await snapshot(sessionmaker)
    response = await client.post(f"{BASE}/{token['id']}{suffix}", json=body, headers=admin_headers)
    assert response.status_code == 400, response.text
    assert await snapshot(sessionmaker) == before


async def test_list_filters_and_paging(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    rfid = await create(client, admin_headers, uid="RF-0001", visual_number="Blue card")
    app_user = await create(
        client, admin_headers, uid="app-7", type="APP_USER", valid_until="2040-01-01T00:00:00Z"
    )
    later = await create(
        client,
        admin_headers,
        uid="RF-0002",
        valid_from="2035-06-01T00:00:00Z",
        valid_until="2036-01-01T00:00:00Z",
    )
    await client.post(f"{BASE}/{later['id']}/block", json={"reason": "r"}, headers=admin_headers)

    async def ids(**params: Any) -> list[int]:
        response = await client.get(BASE, params=params, headers=admin_headers)
        assert response.status_code == 200, response.text
        return [t["id"] for t in response.json()["items"]]

    assert await ids() == [rfid["id"], app_user["id"], later["id"]]
    assert await ids(type="APP_USER") == [app_user["id"]]
    assert await ids(status="BLOCKED") == [later["id"]]
    assert await ids(contract_id=rfid["contract_id"].replace("-", "")) == [rfid["id"]]
    assert await ids(q="rf-") == [rfid["id"], later["id"]]
    assert await ids(q="BLUE") == [rfid["id"]]
    assert await ids(q="%") == []
    assert await ids(valid_from_after="2035-01-01T00:00:00Z") == [later["id"]]
    assert await ids(valid_from_before="2035-06-01T00:00:00Z") == [later["id"]]
    assert await ids(valid_until_after="2039-01-01T00:00:00") == [app_user["id"]]
    assert await ids(valid_until_before="2036-01-01T00:00:00Z", valid_until_after="2035-01-01T00:00:00Z") == [
        later["id"]
    ]
    page = (await client.get(BASE, params={"offset": 1, "limit": 1}, headers=admin_headers)).json()
    assert (page["total"], page["offset"], page["limit"]) == (3, 1, 1)
    assert [t["id"] for t in page["items"]] == [app_user["id"]]


@pytest.mark.parametrize(
    "params",
    [
        {"status": "GONE"},
        {"type": "CARD"},
        {"limit": 0},
        {"limit": 501},
        {"offset": -1},
        {"valid_from_after": "x"},
    ],
)
async def test_list_refuses_bad_filters(
    client: httpx.AsyncClient, admin_headers: dict[str, str], params: dict[str, Any]
) -> None:
    response = await client.get(BASE, params=params, headers=admin_headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
