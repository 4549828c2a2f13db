"""Both credentials handshakes end to end, over real HTTP on loopback: the real node (uvicorn) and two fake
CPOs. CPO 1 registers with us using a token A from the admin API; we register with CPO 2 through the admin
API. Then both connections are rotated (PUT, each side initiating one) and deleted (DELETE, each side
initiating one). At each step: which token opens `GET /ocpi/versions` and which a functional module."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from emsp.app import create_app
from emsp.db import SessionMaker
from tests.conftest import make_settings
from tests.support.fake_cpo import FakeCpo, make_fake_cpo
from tests.support.partners import PROBE_PATH, partner_row, probe_router, token_header
from tests.support.servers import RunningServer, free_port, serve

OPEN, TOKEN_A_ONLY, CLOSED = (200, 200), (200, 401), (401, 401)


@pytest.fixture
def node(db_url: str) -> Iterator[RunningServer]:
    """The real node (as `live_node`) plus a stand-in functional module for the token checks."""
    port = free_port()
    app = create_app(make_settings(db_url, public_url=f"http://127.0.0.1:{port}", port=port))
    app.include_router(probe_router)
    with serve(app, port=port) as running:
        yield running


@pytest.fixture
def cpo1() -> Iterator[FakeCpo]:
    with make_fake_cpo(name="CPO One", party_id="ONE").running() as fake:
        yield fake


@pytest.fixture
def cpo2() -> Iterator[FakeCpo]:
    with make_fake_cpo(name="CPO Two", party_id="TWO", modules=[("tokens", "RECEIVER")]).running() as fake:
        yield fake


async def access(http: httpx.AsyncClient, token: str | None) -> tuple[int, int]:
    assert token is not None
    versions = await http.get("/ocpi/versions", headers=token_header(token))
    module = await http.get(PROBE_PATH, headers=token_header(token))
    return versions.status_code, module.status_code


async def test_both_handshakes_rotation_and_deletion(
    node: RunningServer,
    cpo1: FakeCpo,
    cpo2: FakeCpo,
    admin_headers: dict[str, str],
    sessionmaker: SessionMaker,
) -> None:
    async with httpx.AsyncClient(base_url=node.url, timeout=20) as http:
        # 1. CPO 1 registers with us (we are the credentials receiver)
        invited = await http.post(
            "/admin/v1/partners/invitations", json={"name": "one"}, headers=admin_headers
        )
        assert invited.json()["versions_url"] == f"{node.url}/ocpi/versions"
        token_a = invited.json()["token_a"]
        assert await access(http, token_a) == TOKEN_A_ONLY
        registered = await cpo1.register_with(http, invited.json()["versions_url"], token_a)
        assert registered.json()["status_code"] == 1000, registered.text
        c1 = cpo1.state.token_for_emsp
        b1 = next(iter(cpo1.state.accepted))
        assert await access(http, token_a) == CLOSED
        assert await access(http, c1) == OPEN
        assert await access(http, b1) == CLOSED  # its token for us is not a token for our API
        assert (await partner_row(sessionmaker, "one"))["client_token"] == b1

        # 2. We register with CPO 2 (we are the credentials sender)
        body = {"versions_url": cpo2.state.versions_url, "token": cpo2.state.token_a, "name": "two"}
        ours = await http.post("/admin/v1/partners/registrations", json=body, headers=admin_headers)
        assert ours.status_code == 201, ours.text
        b2 = cpo2.state.token_for_emsp  # the token we issued it
        c2 = next(iter(cpo2.state.accepted))  # the token it issued us
        assert cpo2.state.token_a not in cpo2.state.accepted
        assert [r.token for r in cpo2.state.requests] == [cpo2.state.token_a] * 3  # versions, details, POST
        assert await access(http, b2) == OPEN
        assert (await partner_row(sessionmaker, "two"))["client_token"] == c2
        shown = (await http.get("/admin/v1/partners/two", headers=admin_headers)).json()
        assert {(e["identifier"], e["role"]) for e in shown["endpoints"]} == {
            ("credentials", "SENDER"),
            ("tokens", "RECEIVER"),
        }

        # 3. CPO 1 rotates (PUT to us); we rotate toward CPO 2 (PUT to it)
        assert (await cpo1.update_credentials(http)).json()["status_code"] == 1000
        assert await access(http, c1) == CLOSED
        assert await access(http, cpo1.state.token_for_emsp) == OPEN
        assert (await partner_row(sessionmaker, "one"))["client_token"] == next(iter(cpo1.state.accepted))

        rotated = await http.post("/admin/v1/partners/two/rotate", headers=admin_headers)
        assert rotated.status_code == 200, rotated.text
        assert await access(http, b2) == CLOSED
        assert await access(http, cpo2.state.token_for_emsp) == OPEN
        assert c2 not in cpo2.state.accepted
        assert (await partner_row(sessionmaker, "two"))["client_token"] == next(iter(cpo2.state.accepted))

        # 4. CPO 1 deletes its credentials at our side; we unregister from CPO 2
        last_c1 = cpo1.state.token_for_emsp
        assert (await cpo1.unregister(http)).json()["status_code"] == 1000
        assert await access(http, last_c1) == CLOSED
        last_b2 = cpo2.state.token_for_emsp
        gone = await http.post("/admin/v1/partners/two/unregister", headers=admin_headers)
        assert gone.json()["partner_notified"] is True
        assert not cpo2.state.registered and not cpo2.state.accepted
        assert await access(http, last_b2) == CLOSED

        listed = (await http.get("/admin/v1/partners", headers=admin_headers)).json()["partners"]
    assert {(p["name"], p["status"]) for p in listed} == {("one", "UNREGISTERED"), ("two", "UNREGISTERED")}
    for name in ("one", "two"):
        assert (await partner_row(sessionmaker, name))["client_token"] is None
    # nothing was sent to CPO 1 after it unregistered, nor to CPO 2 after we did
    assert cpo1.state.requests[-1].method == "GET"  # our last call to CPO 1: reading its versions on PUT
    assert cpo2.state.requests[-1].method == "DELETE"
