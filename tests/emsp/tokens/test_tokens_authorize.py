"""Real-time authorization `POST /ocpi/2.2.1/tokens/{uid}/authorize[?type=]` (spec mod_tokens.asciidoc
12.2.2.2): every outcome, `type` handling, unknown token 2004, bad LocationReferences, location restrictions,
authentication and routing headers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from emsp.db import SessionMaker
from emsp.tokens import service
from emsp.tokens.schemas import BlockRequest
from emsp.tokens.validity import expire_due
from ocpi.models.tokens import AuthorizationInfo
from ocpi.types import utcnow
from partners.tables import PartnerStatus, PartnerToken, TokenKind
from partners.tokens import hash_token
from tests.support.builders import make_partner, make_token, ocpi_auth

URL = "/ocpi/2.2.1/tokens/{uid}/authorize"


@pytest.fixture
async def cpo_token(sessionmaker: SessionMaker) -> str:
    async with sessionmaker() as session:
        _partner, token = await make_partner(session)
        await session.commit()
    return token


async def add_token(sessionmaker: SessionMaker, **fields: Any) -> Any:
    async with sessionmaker() as session:
        token = await make_token(session, **fields)
        await session.commit()
    return token


async def authorize(
    client: httpx.AsyncClient,
    cpo_token: str,
    uid: str,
    body: Any = None,
    *,
    params: dict[str, str] | None = None,
    content: str | None = None,
    **headers: str,
) -> httpx.Response:
    return await client.post(
        URL.format(uid=uid),
        params=params,
        json=body,
        content=content,
        headers=ocpi_auth(cpo_token, **({"Content-Type": "application/json"} | headers)),
    )


def info_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status_code"] == 1000
    AuthorizationInfo.model_validate(body["data"])
    data: dict[str, Any] = body["data"]
    return data


async def test_allowed_without_location(
    client: httpx.AsyncClient, cpo_token: str, sessionmaker: SessionMaker
) -> None:
    token = await add_token(sessionmaker, uid="04AB12", visual_number="CARD-9")
    info = info_of(await authorize(client, cpo_token, "04AB12"))
    assert info["allowed"] == "ALLOWED"
    assert info["token"]["uid"] == "04AB12"
    assert info["token"]["contract_id"] == token.contract_id
    assert info["token"]["visual_number"] == "CARD-9"
    assert info["token"]["valid"] is True
    assert "location" not in info and "info" not in info
    reference = info["authorization_reference"]
    assert 0 < len(reference) <= 36
    again = info_of(await authorize(client, cpo_token, "04AB12"))
    assert again["authorization_reference"] != reference


async def test_allowed_echoes_the_location(
    client: httpx.AsyncClient, cpo_token: str, sessionmaker: SessionMaker
) -> None:
    await add_token(sessionmaker, uid="04AB12")
    location = {"location_id": "LOC1", "evse_uids": ["BE*BEC*E041503001", "BE*BEC*E041503002"]}
    info = info_of(await authorize(client, cpo_token, "04AB12", location))
    assert (info["allowed"], info["location"]) == ("ALLOWED", location)
    only_location = info_of(await authorize(client, cpo_token, "04AB12", {"location_id": "LOC1"}))
    assert only_location["location"] == {"location_id": "LOC1"}


async def test_uid_is_case_insensitive(
    client: httpx.AsyncClient, cpo_token: str, sessionmaker: SessionMaker
) -> None:
    await add_token(sessionmaker, uid="04ab12")
    info = info_of(await authorize(client, cpo_token, "04AB12"))
    assert info["token"]["uid"] == "04ab12"


async def test_blocked(client: httpx.AsyncClient, cpo_token: str, sessionmaker: SessionMaker) -> None:
    async with sessionmaker() as session:
        token = await make_token(session, uid="B1")
        await service.block_token(session, token, BlockRequest(reason="stolen"), actor="t")
        await session.commit()
    info = info_of(await authorize(client, cpo_token, "B1", {"location_id": "LOC1"}))
    assert info["allowed"] == "BLOCKED"
    assert info["token"]["valid"] is False
    assert "authorization_reference" not in info and "location" not in info
    assert info["info"]["language"] == "en"
    assert "stolen" not in info["info"]["text"]  # the operator's reason stays inside


async def test_expired_by_status_and_by_date(
    client: httpx.AsyncClient, cpo_token: str, sessionmaker: SessionMaker
) -> None:
    past = datetime(2020, 1, 1, tzinfo=UTC)
    await add_token(sessionmaker, uid="E1", now=past, valid_until="2021-01-01T00:00:00Z")  # job not run yet
    async with sessionmaker() as session:
        await add_token(sessionmaker, uid="E2", now=past, valid_until="2021-01-01T00:00:00Z")
        await expire_due(session)
        await session.commit()
    for uid in ("E1", "E2"):
        info = info_of(await authorize(client, cpo_token, uid))
        assert (info["allowed"], info["token"]["valid"]) == ("EXPIRED", False)


async def test_deactivated_and_not_yet_valid_are_not_allowed(
    client: httpx.AsyncClient, cpo_token: str, sessionmaker: SessionMaker
) -> None:
    async with sessionmaker() as session:
        token = await make_token(session, uid="D1")
        await service.deactivate_token(session, token, actor="t")
        await session.commit()
    await add_token(sessionmaker, uid="F1", valid_from="2999-01-01T00:00:00Z")
    for uid in ("D1", "F1"):
        info = info_of(await authorize(client, cpo_token, uid))
        assert (info["allowed"], info["token"]["valid"]) == ("NOT_ALLOWED", False)
        assert "authorization_reference" not in info


async def test_unknown_token_is_404_2004_without_data(
    client: httpx.AsyncClient, cpo_token: str, sessionmaker: SessionMaker
) -> None:
    await add_token(sessionmaker, uid="KNOWN")
    for uid, params in (("UNKNOWN", None), ("KNOWN", {"type": "APP_USER"})):
        response = await authorize(client, cpo_token, uid, params=params)
        assert response.status_code == 404
        body = response.json()
        assert body["status_code"] == 2004
        assert "data" not in body


async def test_type_defaults_to_rfid_and_selects_the_token(
    client: httpx.AsyncClient, cpo_token: str, sessionmaker: SessionMaker
) -> None:
    await add_token(sessionmaker, uid="APP-1", type="APP_USER")
    assert (await authorize(client, cpo_token, "APP-1")).status_code == 404
    for value in ("APP_USER", "app_user"):
        info = info_of(await authorize(client, cpo_token, "APP-1", params={"type": value}))
        assert info["token"]["type"] == "APP_USER"
    await add_token(sessionmaker, uid="SHARED")
    await add_token(sessionmaker, uid="SHARED", type="OTHER")
    assert info_of(await authorize(client, cpo_token, "SHARED"))["token"]["type"] == "RFID"
    other = info_of(await authorize(client, cpo_token, "SHARED", params={"type": "OTHER"}))
    assert other["token"]["type"] == "OTHER"


@pytest.mark.parametrize("value", ["CARD", "", "RFID;DROP"])
async def test_bad_type_is_2001(client: httpx.AsyncClient, cpo_token: str, value: str) -> None:
    response = await authorize(client, cpo_token, "X", params={"type": value})
    assert (response.status_code, response.json()["status_code"]) == (400, 2001)


@pytest.mark.parametrize(
    ("body", "content"),
    [
        (None, "{not json"),
        (None, '{"location_id": "L1",'),
        ([{"location_id": "L1"}], None),
        ("LOC1", None),
        ({"evse_uids": ["E1"]}, None),
        ({"location_id": 12}, None),
        ({"location_id": "L1", "evse_uids": "E1"}, None),
        ({"location_id": "L1", "evse_uids": [1, 2]}, None),
        ({"location_id": "L" * 37}, None),
    ],
)
async def test_bad_location_references_are_2001(
    client: httpx.AsyncClient, cpo_token: str, sessionmaker: SessionMaker, body: Any, content: str | None
) -> None:
    await add_token(sessionmaker, uid="T1")
    response = await authorize(client, cpo_token, "T1", body, content=content)
    assert response.status_code == 400, response.text
    assert response.json()["status_code"] == 2001
    assert "data" not in response.json()


async def test_null_or_empty_body_means_no_location(
    client: httpx.AsyncClient, cpo_token: str, sessionmaker: SessionMaker
) -> None:
    await add_token(sessionmaker, uid="T1")
    for content in ("null", "", "  "):
        assert info_of(await authorize(client, cpo_token, "T1", content=content))["allowed"] == "ALLOWED"


async def test_overlong_uid_is_2001(client: httpx.AsyncClient, cpo_token: str) -> None:
    response = await authorize(client, cpo_token, "U" * 37)
    assert (response.status_code, response.json()["status_code"]) == (400, 2001)


async def test_location_restrictions(
    client: httpx.AsyncClient, cpo_token: str, sessionmaker: SessionMaker
) -> None:
    await add_token(
        sessionmaker,
        uid="R1",
        allowed_locations=[
            {"location_id": "HOME", "evse_uids": ["EVSE-A", "EVSE-B"]},
            {"location_id": "OFFICE"},
        ],
    )
    response = await authorize(client, cpo_token, "R1")
    assert (response.status_code, response.json()["status_code"]) == (400, 2002)
    assert "data" not in response.json()
    elsewhere = info_of(await authorize(client, cpo_token, "R1", {"location_id": "SHOP"}))
    assert elsewhere["allowed"] == "NOT_ALLOWED" and "location" not in elsewhere
    office = info_of(await authorize(client, cpo_token, "R1", {"location_id": "office", "evse_uids": ["X1"]}))
    assert (office["allowed"], office["location"]) == (
        "ALLOWED",
        {"location_id": "office", "evse_uids": ["X1"]},
    )
    home_all = info_of(await authorize(client, cpo_token, "R1", {"location_id": "HOME"}))
    assert home_all["location"] == {"location_id": "HOME", "evse_uids": ["EVSE-A", "EVSE-B"]}
    home_some = info_of(
        await authorize(client, cpo_token, "R1", {"location_id": "HOME", "evse_uids": ["evse-b", "EVSE-C"]})
    )
    assert home_some["location"] == {"location_id": "HOME", "evse_uids": ["evse-b"]}
    home_none = info_of(
        await authorize(client, cpo_token, "R1", {"location_id": "HOME", "evse_uids": ["EVSE-C"]})
    )
    assert home_none["allowed"] == "NOT_ALLOWED"


async def test_routing_headers_are_swapped(
    client: httpx.AsyncClient, cpo_token: str, sessionmaker: SessionMaker
) -> None:
    await add_token(sessionmaker, uid="T1")
    routing = {
        "OCPI-from-country-code": "DE",
        "OCPI-from-party-id": "CPX",
        "OCPI-to-country-code": "NL",
        "OCPI-to-party-id": "EMS",
    }
    for uid, status in (("T1", 200), ("NOPE", 404)):
        response = await authorize(client, cpo_token, uid, **routing)
        assert response.status_code == status
        assert response.headers["OCPI-to-country-code"] == "DE"
        assert response.headers["OCPI-to-party-id"] == "CPX"
        assert response.headers["OCPI-from-country-code"] == "NL"
        assert response.headers["OCPI-from-party-id"] == "EMS"


async def test_callers_need_a_connected_partners_own_token(
    client: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    await add_token(sessionmaker, uid="T1")
    async with sessionmaker() as session:
        _p, token_a = await make_partner(session, kind=TokenKind.REGISTRATION, status=PartnerStatus.PLANNED)
        _p, suspended = await make_partner(session, status=PartnerStatus.SUSPENDED)
        await session.commit()
    for headers in ({}, ocpi_auth(token_a), ocpi_auth("foreign-token"), ocpi_auth(suspended)):
        response = await client.post(URL.format(uid="T1"), headers=headers)
        assert response.status_code == 401
        assert "data" not in response.json()


async def test_authentication_agrees_with_module_caller(
    client: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    """The authorize endpoint authenticates inside its one query; it must decide exactly as
    `emsp.deps.module_caller` does (used by GET /tokens) for every partner status, token kind and expiry."""
    await add_token(sessionmaker, uid="T1")
    cases = []
    async with sessionmaker() as session:
        for status in PartnerStatus:
            for kind in TokenKind:
                for expired in (False, True):
                    _p, token = await make_partner(session, status=status, kind=kind)
                    if expired:
                        await session.exec(
                            update(PartnerToken)
                            .where(PartnerToken.token_hash == hash_token(token))
                            .values(expires_at=utcnow() - timedelta(seconds=1))
                        )
                    cases.append((status, kind, expired, token))
        await session.commit()
    allowed = []
    for status, kind, expired, token in cases:
        listed = await client.get("/ocpi/2.2.1/tokens", headers=ocpi_auth(token))
        authorized = await client.post(URL.format(uid="T1"), headers=ocpi_auth(token))
        assert (listed.status_code == 401) == (authorized.status_code == 401), (status, kind, expired)
        if authorized.status_code != 401:
            allowed.append((status, kind, expired))
    assert allowed == [(PartnerStatus.CONNECTED, TokenKind.SERVER, False)]
