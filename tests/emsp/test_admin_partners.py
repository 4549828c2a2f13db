"""Admin API for partners: invitations, registrations toward a partner (on a live node, since the partner
calls us back during the exchange), list/show without tokens, suspend/resume, rotate, unregister, and the
error answers (400, 401, 404, 409, 502 with nothing stored)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from emsp.db import SessionMaker
from tests.support.fake_cpo import FakeCpo, make_fake_cpo
from tests.support.partners import invite, node_client, partner_row, registry_snapshot, token_header
from tests.support.servers import RunningServer, free_port

PARTNERS = "/admin/v1/partners"


async def register(
    http: httpx.AsyncClient, headers: dict[str, str], cpo: FakeCpo, **extra: Any
) -> httpx.Response:
    body = {"versions_url": cpo.state.versions_url, "token": cpo.state.token_a, **extra}
    return await http.post(f"{PARTNERS}/registrations", json=body, headers=headers)


def keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys(v)}
    return set()


def assert_no_token(text: str, *tokens: str | None) -> None:
    """No key names a token (`base64_token` is a flag) and no token value appears anywhere."""
    assert {k for k in keys(json.loads(text)) if "token" in k} <= {"base64_token"}
    for token in tokens:
        assert token is None or token not in text


async def test_invitation_shows_token_a_once(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(f"{PARTNERS}/invitations", json={"name": " acme "}, headers=admin_headers)
    assert response.status_code == 201
    body = response.json()
    assert body["versions_url"] == "http://testserver/ocpi/versions"
    assert body["partner"]["name"] == "acme"
    assert body["partner"]["status"] == "PLANNED"
    token_a = body["token_a"]
    assert (await client.get("/ocpi/versions", headers=token_header(token_a))).status_code == 200
    listed = await client.get(PARTNERS, headers=admin_headers)
    assert [p["name"] for p in listed.json()["partners"]] == ["acme"]
    shown = await client.get(f"{PARTNERS}/acme", headers=admin_headers)
    by_id = await client.get(f"{PARTNERS}/{body['partner']['id']}", headers=admin_headers)
    assert shown.json() == by_id.json()
    for text in (listed.text, shown.text):
        assert_no_token(text, token_a)


async def test_a_new_invitation_replaces_token_a(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    first = await invite(client, admin_headers, "acme")
    second = await invite(client, admin_headers, "acme")
    assert (await client.get("/ocpi/versions", headers=token_header(first))).status_code == 401
    assert (await client.get("/ocpi/versions", headers=token_header(second))).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Token x"}])
async def test_admin_key_required(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    for method, path in (("GET", PARTNERS), ("POST", f"{PARTNERS}/invitations")):
        response = await client.request(method, path, json={"name": "x"}, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("invitations", "{bad json"),
        ("invitations", {}),
        ("invitations", {"name": ""}),
        ("invitations", {"name": "x" * 101}),
        ("invitations", {"name": "x", "unexpected": 1}),
        ("registrations", {"versions_url": "https://cpo.example.com/versions"}),
        ("registrations", {"versions_url": "https://cpo.example.com/versions", "token": "has space"}),
        ("registrations", {"versions_url": "https://cpo.example.com/versions", "token": "x" * 65}),
        ("registrations", {"token": "abc"}),
    ],
)
async def test_bad_input_is_400(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sessionmaker: SessionMaker, path: str, body: Any
) -> None:
    kwargs: dict[str, Any] = {"content": body} if isinstance(body, str) else {"json": body}
    response = await client.post(f"{PARTNERS}/{path}", headers=admin_headers, **kwargs)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert (await registry_snapshot(sessionmaker))["partners"] == []


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", ""), ("POST", "/suspend"), ("POST", "/resume"), ("POST", "/rotate"), ("POST", "/unregister")],
)
async def test_unknown_partner_is_404(
    client: httpx.AsyncClient, admin_headers: dict[str, str], method: str, path: str
) -> None:
    for ref in ("nobody", "42"):
        response = await client.request(method, f"{PARTNERS}/{ref}{path}", headers=admin_headers)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


async def test_state_conflicts_are_409(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    await invite(client, admin_headers, "acme")
    assert (await client.post(f"{PARTNERS}/acme/resume", headers=admin_headers)).status_code == 409
    assert (await client.post(f"{PARTNERS}/acme/rotate", headers=admin_headers)).status_code == 409
    suspended = await client.post(f"{PARTNERS}/acme/suspend", json={"reason": "audit"}, headers=admin_headers)
    assert (suspended.json()["status"], suspended.json()["status_reason"]) == ("SUSPENDED", "audit")
    resumed = await client.post(f"{PARTNERS}/acme/resume", headers=admin_headers)
    assert resumed.json()["status"] == "PLANNED"  # never registered: back to PLANNED
    gone = await client.post(f"{PARTNERS}/acme/unregister", headers=admin_headers)
    assert gone.json()["partner"]["status"] == "UNREGISTERED"
    assert gone.json()["partner_notified"] is False
    assert (await client.post(f"{PARTNERS}/acme/suspend", headers=admin_headers)).status_code == 409
    assert (await client.post(f"{PARTNERS}/acme/unregister", headers=admin_headers)).status_code == 409


async def test_register_toward_a_partner(
    live_node: RunningServer, admin_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    with make_fake_cpo(name="Remote", party_id="RMT").running() as cpo:
        async with httpx.AsyncClient(base_url=live_node.url) as http:
            response = await register(http, admin_headers, cpo)
            assert response.status_code == 201, response.text
            view = response.json()
            token_b = cpo.state.token_for_emsp
            token_c = next(iter(cpo.state.accepted))
            assert cpo.state.registered and token_b is not None
            assert cpo.state.token_a not in cpo.state.accepted
            assert (await http.get("/ocpi/versions", headers=token_header(token_b))).status_code == 200
            listed = await http.get(PARTNERS, headers=admin_headers)
            shown = await http.get(f"{PARTNERS}/{view['id']}", headers=admin_headers)
    assert view["name"] == f"127.0.0.1:{cpo.state.base_url.rsplit(':', 1)[1]}"  # default name: host:port
    assert (view["status"], view["initiated_by_us"], view["version"]) == ("CONNECTED", True, "2.2.1")
    assert [(r["role"], r["party_id"], r["name"]) for r in view["roles"]] == [("CPO", "RMT", "Remote")]
    assert {e["identifier"] for e in view["endpoints"]} == {"credentials", "tokens", "locations"}
    for text in (response.text, listed.text, shown.text):
        assert_no_token(text, cpo.state.token_a, token_b, token_c)
    row = await partner_row(sessionmaker, view["name"])
    assert row["client_token"] == token_c


async def test_register_reuses_an_invited_partner_of_that_name(
    live_node: RunningServer, admin_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    async with httpx.AsyncClient(base_url=live_node.url) as http:
        token_a = await invite(http, admin_headers, "remote")
        with make_fake_cpo().running() as cpo:
            response = await register(http, admin_headers, cpo, name="remote")
        assert response.status_code == 201, response.text
        assert (await http.get("/ocpi/versions", headers=token_header(token_a))).status_code == 401
        assert (await register(http, admin_headers, cpo, name="remote")).status_code == 409
    assert len((await registry_snapshot(sessionmaker))["partners"]) == 1


async def test_register_with_raw_tokens(
    live_node: RunningServer, admin_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    with make_fake_cpo(raw_tokens=True).running() as cpo:
        async with httpx.AsyncClient(base_url=live_node.url) as http:
            refused = await register(http, admin_headers, cpo, name="old")  # we would send base64
            assert refused.status_code == 502
            assert (await registry_snapshot(sessionmaker))["partners"] == []
            cpo.state.requests.clear()
            response = await register(http, admin_headers, cpo, name="old", raw_token=True)
    assert response.status_code == 201, response.text
    assert response.json()["base64_token"] is False
    assert [r.headers["authorization"] for r in cpo.state.requests] == [
        f"Token {cpo.state.token_a}"
    ] * 3  # GET versions, GET details, POST credentials: all with the raw token A


async def test_partner_failure_during_registration_is_502_and_nothing_stored(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    # The fake CPO cannot reach this in-process node to check our versions: it answers our POST with 3001.
    with make_fake_cpo().running() as cpo:
        response = await register(client, admin_headers, cpo, name="unreachable-us")
        assert [r.method for r in cpo.state.requests] == ["GET", "GET", "POST"]
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "partner_error"
    assert error["details"]["partner_ocpi_status"] == 3001
    assert await registry_snapshot(sessionmaker) == {t: [] for t in await registry_snapshot(sessionmaker)}


async def test_failed_registration_of_an_unregistered_partner_restores_it(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    await invite(client, admin_headers, "again")
    await client.post(f"{PARTNERS}/again/unregister", headers=admin_headers)
    before = await registry_snapshot(sessionmaker)
    with make_fake_cpo().running() as cpo:
        response = await register(client, admin_headers, cpo, name="again")
    assert response.status_code == 502
    assert await registry_snapshot(sessionmaker) == before


async def test_unreachable_partner_is_502(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    body = {"versions_url": f"http://127.0.0.1:{free_port()}/ocpi/versions", "token": "token-a"}
    response = await client.post(f"{PARTNERS}/registrations", json=body, headers=admin_headers)
    assert response.status_code == 502
    assert "GET versions failed" in response.json()["error"]["message"]
    assert response.json()["error"]["details"]["partner_http_status"] is None
    assert (await registry_snapshot(sessionmaker))["partners"] == []


async def test_refused_url_is_400(
    db_url: str, admin_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    async with node_client(db_url, allow_private_urls=False) as client:
        body = {"versions_url": "http://127.0.0.1:9/ocpi/versions", "token": "token-a"}
        response = await client.post(f"{PARTNERS}/registrations", json=body, headers=admin_headers)
    assert response.status_code == 400
    assert "private" in response.json()["error"]["message"]
    assert (await registry_snapshot(sessionmaker))["partners"] == []


async def test_rotate_and_unregister_toward_a_partner(
    live_node: RunningServer, admin_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    with make_fake_cpo().running() as cpo:
        async with httpx.AsyncClient(base_url=live_node.url) as http:
            view = (await register(http, admin_headers, cpo, name="remote")).json()
            old_b = cpo.state.token_for_emsp
            rotated = await http.post(f"{PARTNERS}/remote/rotate", headers=admin_headers)
            assert rotated.status_code == 200, rotated.text
            new_b = cpo.state.token_for_emsp
            assert new_b not in (None, old_b)
            assert (await http.get("/ocpi/versions", headers=token_header(old_b or ""))).status_code == 401
            assert (await http.get("/ocpi/versions", headers=token_header(new_b or ""))).status_code == 200
            assert (await partner_row(sessionmaker, "remote"))["client_token"] == next(
                iter(cpo.state.accepted)
            )
            gone = await http.post(f"{PARTNERS}/remote/unregister", headers=admin_headers)
    assert gone.json()["partner_notified"] is True
    assert gone.json()["partner"]["status"] == "UNREGISTERED"
    assert not cpo.state.registered
    assert (await partner_row(sessionmaker, "remote"))["client_token"] is None
    assert view["id"] == gone.json()["partner"]["id"]


async def test_failed_rotation_keeps_the_old_pair(
    live_node: RunningServer, admin_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    with make_fake_cpo().running() as cpo:
        async with httpx.AsyncClient(base_url=live_node.url) as http:
            await register(http, admin_headers, cpo, name="remote")
            before = await registry_snapshot(sessionmaker)
            cpo.state.versions_status = 500
            response = await http.post(f"{PARTNERS}/remote/rotate", headers=admin_headers)
            assert response.status_code == 502
            assert response.json()["error"]["details"]["partner_http_status"] == 500
            assert await registry_snapshot(sessionmaker) == before
            token_b = cpo.state.token_for_emsp or ""
            assert (await http.get("/ocpi/versions", headers=token_header(token_b))).status_code == 200


async def test_unregister_when_the_partner_is_gone(
    live_node: RunningServer, admin_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    async with httpx.AsyncClient(base_url=live_node.url) as http:
        with make_fake_cpo().running() as cpo:
            await register(http, admin_headers, cpo, name="remote")
        token_b = cpo.state.token_for_emsp or ""
        response = await http.post(f"{PARTNERS}/remote/unregister", headers=admin_headers)
        assert response.status_code == 200
        body = response.json()
        assert (body["partner"]["status"], body["partner_notified"]) == ("UNREGISTERED", False)
        assert "DELETE credentials failed" in body["partner_error"]
        assert (await http.get("/ocpi/versions", headers=token_header(token_b))).status_code == 401
