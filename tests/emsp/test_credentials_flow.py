"""Credentials as receiver, the paths that succeed: a CPO registers with token A, reads our credentials,
rotates (PUT, with and without a grace period), is suspended, and unregisters (DELETE). Which token works
where is checked at each step, as is what the registry stores."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from emsp.db import SessionMaker
from partners.registry import partner_endpoints, partner_roles
from tests.support.fake_cpo import FakeCpo, make_fake_cpo
from tests.support.partners import (
    PROBE_PATH,
    invite,
    node_client,
    partner_row,
    probe_router,
    token_header,
)

CREDENTIALS = "/ocpi/2.2.1/credentials"
OUR_VERSIONS = "http://testserver/ocpi/versions"


@pytest.fixture(autouse=True)
def _probe(app: FastAPI) -> None:
    app.include_router(probe_router)


@pytest.fixture
def cpo() -> Iterator[FakeCpo]:
    with make_fake_cpo(name="Fast Charge", party_id="FCP").running() as fake:
        yield fake


async def works(client: httpx.AsyncClient, token: str) -> tuple[int, int]:
    """HTTP status of GET versions and of a functional module with `token`."""
    versions = await client.get("/ocpi/versions", headers=token_header(token))
    module = await client.get(PROBE_PATH, headers=token_header(token))
    return versions.status_code, module.status_code


async def registered(client: httpx.AsyncClient, admin_headers: dict[str, str], cpo: FakeCpo) -> str:
    token_a = await invite(client, admin_headers, "fast")
    response = await cpo.register_with(client, OUR_VERSIONS, token_a)
    assert response.status_code == 200 and response.json()["status_code"] == 1000, response.text
    return token_a


async def test_registration_stores_the_partner_and_swaps_tokens(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sessionmaker: SessionMaker, cpo: FakeCpo
) -> None:
    token_a = await invite(client, admin_headers, "fast")
    assert await works(client, token_a) == (200, 401)
    response = await cpo.register_with(client, OUR_VERSIONS, token_a)
    data = response.json()["data"]
    token_c = data["token"]
    assert data["url"] == OUR_VERSIONS
    assert [r["role"] for r in data["roles"]] == ["EMSP"]
    # we read the CPO's versions and details with the token it sent (B), not with A
    token_b = next(iter(cpo.state.accepted))
    assert [(r.path, r.token) for r in cpo.state.requests] == [
        ("/ocpi/versions", token_b),
        ("/ocpi/2.2.1", token_b),
    ]
    assert await works(client, token_a) == (401, 401)
    assert await works(client, token_c) == (200, 200)
    row = await partner_row(sessionmaker, "fast")
    assert row["status"] == "CONNECTED"
    assert row["client_token"] == token_b
    assert row["version"] == "2.2.1"
    assert row["versions_url"] == cpo.state.versions_url
    assert row["registered_at"] is not None
    assert not row["initiated_by_us"]
    async with sessionmaker() as session:  # the registry maps its rows back to the wire models
        roles = await partner_roles(session, row["id"])
        endpoints = await partner_endpoints(session, row["id"])
    assert [r.to_json() for r in roles] == cpo.state.credentials("x")["roles"]
    assert {str(e.url) for e in endpoints} == {
        f"{cpo.state.base_url}/ocpi/2.2.1/{m}" for m in ("credentials", "tokens", "locations")
    }
    shown = (await client.get("/admin/v1/partners/fast", headers=admin_headers)).json()
    assert shown["roles"] == [
        {"role": "CPO", "country_code": "NL", "party_id": "FCP", "name": "Fast Charge", "website": None}
    ]
    assert {(e["identifier"], e["role"]) for e in shown["endpoints"]} == {
        ("credentials", "SENDER"),
        ("tokens", "RECEIVER"),
        ("locations", "SENDER"),
    }


async def test_concurrent_registrations_with_one_token_a_register_once(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sessionmaker: SessionMaker, cpo: FakeCpo
) -> None:
    token_a = await invite(client, admin_headers, "fast")
    cpo.state.accepted |= {"cpo-b-1", "cpo-b-2"}
    bodies = [cpo.state.credentials(token) for token in ("cpo-b-1", "cpo-b-2")]
    responses = await asyncio.gather(
        *(client.post(CREDENTIALS, json=body, headers=token_header(token_a)) for body in bodies)
    )
    outcomes = sorted((r.status_code, r.json()["status_code"]) for r in responses)
    assert outcomes[0] == (200, 1000)
    assert outcomes[1] in ((401, 2000), (405, 2000))
    async with sessionmaker() as session:
        conn = await session.connection()
        kinds = (await conn.execute(text("SELECT kind FROM partner_tokens"))).scalars().all()
    assert kinds == ["SERVER"]


async def test_our_calls_carry_the_correlation_id_of_the_registration(
    client: httpx.AsyncClient, admin_headers: dict[str, str], cpo: FakeCpo
) -> None:
    token_a = await invite(client, admin_headers, "fast")
    cpo.state.accepted.add("cpo-b")
    headers = {**token_header(token_a), "X-Request-ID": "req-1", "X-Correlation-ID": "corr-1"}
    response = await client.post(CREDENTIALS, json=cpo.state.credentials("cpo-b"), headers=headers)
    assert response.json()["status_code"] == 1000
    assert [r.headers["x-correlation-id"] for r in cpo.state.requests] == ["corr-1", "corr-1"]
    request_ids = {r.headers["x-request-id"] for r in cpo.state.requests}
    assert len(request_ids) == 2 and "req-1" not in request_ids  # a new request ID per hop
    assert not any(h.lower().startswith("ocpi-") for r in cpo.state.requests for h in r.headers)


async def test_get_credentials_returns_the_token_in_use(
    client: httpx.AsyncClient, admin_headers: dict[str, str], cpo: FakeCpo
) -> None:
    await registered(client, admin_headers, cpo)
    response = await client.get(CREDENTIALS, headers=cpo.auth_to_emsp())
    assert response.json()["data"]["token"] == cpo.state.token_for_emsp


async def test_put_rotates_both_tokens(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sessionmaker: SessionMaker, cpo: FakeCpo
) -> None:
    await registered(client, admin_headers, cpo)
    old_c = cpo.state.token_for_emsp
    assert old_c is not None
    cpo.state.requests.clear()
    response = await cpo.update_credentials(client)
    assert response.json()["status_code"] == 1000
    new_c = cpo.state.token_for_emsp
    assert new_c is not None and new_c != old_c
    new_b = next(iter(cpo.state.accepted))
    assert {r.token for r in cpo.state.requests} == {new_b}  # endpoints read again with the new token
    assert await works(client, old_c) == (401, 401)
    assert await works(client, new_c) == (200, 200)
    assert (await partner_row(sessionmaker, "fast"))["client_token"] == new_b


async def test_put_with_a_grace_period_keeps_the_old_token_for_a_while(
    db_url: str, admin_headers: dict[str, str], sessionmaker: SessionMaker, cpo: FakeCpo
) -> None:
    async with node_client(db_url, token_rotation_grace_seconds=300) as client:
        await registered(client, admin_headers, cpo)
        old_c = cpo.state.token_for_emsp
        assert old_c is not None
        await cpo.update_credentials(client)
        new_c = cpo.state.token_for_emsp
        assert new_c is not None
        async with sessionmaker() as session:
            conn = await session.connection()
            rows = (await conn.execute(text("SELECT expires_at FROM partner_tokens"))).all()
        assert sorted(r[0] is None for r in rows) == [False, True]  # old one expiring, new one not
        assert await works(client, old_c) == (200, 200)
        assert await works(client, new_c) == (200, 200)
        await cpo.update_credentials(client)  # a second rotation keeps both earlier tokens expiring
        assert await works(client, old_c) == (200, 200)


async def test_failed_put_keeps_the_old_pair(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sessionmaker: SessionMaker, cpo: FakeCpo
) -> None:
    await registered(client, admin_headers, cpo)
    token_c = cpo.state.token_for_emsp
    assert token_c is not None
    before = await partner_row(sessionmaker, "fast")
    cpo.state.versions_status = 500
    response = await cpo.update_credentials(client)
    assert response.status_code == 200
    assert response.json()["status_code"] == 3001
    assert await works(client, token_c) == (200, 200)
    assert await partner_row(sessionmaker, "fast") == before


async def test_suspended_partner_keeps_credentials_but_not_modules(
    client: httpx.AsyncClient, admin_headers: dict[str, str], cpo: FakeCpo
) -> None:
    await registered(client, admin_headers, cpo)
    token_c = cpo.state.token_for_emsp
    assert token_c is not None
    response = await client.post(
        "/admin/v1/partners/fast/suspend", json={"reason": "invoice dispute"}, headers=admin_headers
    )
    assert response.json()["status"] == "SUSPENDED"
    assert await works(client, token_c) == (200, 401)
    await client.post("/admin/v1/partners/fast/resume", headers=admin_headers)
    assert await works(client, token_c) == (200, 200)


async def test_delete_ends_both_directions(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sessionmaker: SessionMaker, cpo: FakeCpo
) -> None:
    await registered(client, admin_headers, cpo)
    token_c = cpo.state.token_for_emsp
    assert token_c is not None
    response = await cpo.unregister(client)
    assert response.status_code == 200
    assert response.json()["status_code"] == 1000
    assert await works(client, token_c) == (401, 401)
    row = await partner_row(sessionmaker, "fast")
    assert row["status"] == "UNREGISTERED"
    assert row["client_token"] is None
    async with sessionmaker() as session:
        conn = await session.connection()
        assert (await conn.execute(text("SELECT count(*) FROM partner_tokens"))).scalar() == 0
    # a second DELETE: the token is gone, so it is not even recognised
    again = await client.delete(CREDENTIALS, headers=token_header(token_c))
    assert again.status_code == 401


async def test_unregistered_partner_can_be_invited_and_register_again(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sessionmaker: SessionMaker, cpo: FakeCpo
) -> None:
    await registered(client, admin_headers, cpo)
    await cpo.unregister(client)
    first_id = (await partner_row(sessionmaker, "fast"))["id"]
    token_a = await invite(client, admin_headers, "fast")
    assert (await partner_row(sessionmaker, "fast"))["status"] == "PLANNED"
    response = await cpo.register_with(client, OUR_VERSIONS, token_a)
    assert response.json()["status_code"] == 1000
    row = await partner_row(sessionmaker, "fast")
    assert (row["id"], row["status"]) == (first_id, "CONNECTED")


async def test_raw_token_partner_is_called_without_base64(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    with make_fake_cpo(raw_tokens=True).running() as old_style:
        token_a = await invite(client, admin_headers, "old-style", raw_token=True)
        response = await old_style.register_with(client, OUR_VERSIONS, token_a)
        assert response.json()["status_code"] == 1000, response.text
        token_b = next(iter(old_style.state.accepted))
        assert old_style.state.requests[0].headers["authorization"] == f"Token {token_b}"
    row = await partner_row(sessionmaker, "old-style")
    assert (row["status"], row["base64_token"]) == ("CONNECTED", False)
