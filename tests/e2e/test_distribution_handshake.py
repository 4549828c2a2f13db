"""The credentials handshake starts token distribution at once: right after a partner with a Tokens
RECEIVER endpoint becomes CONNECTED (it registers with us, or we with it), it has a row for every token, in
the handshake's own transaction, without waiting for the worker's periodic sync (no worker runs here).
Unregistering removes them the same way."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from emsp.app import create_app
from emsp.db import SessionMaker
from emsp.distribution.tables import DeliveryStatus, TokenDelivery
from tests.conftest import make_settings
from tests.support.distribution import count_rows, create_tokens
from tests.support.fake_cpo import FakeCpo, make_fake_cpo
from tests.support.partners import partner_row
from tests.support.servers import RunningServer, free_port, serve

_T = TokenDelivery.__table__  # type: ignore[attr-defined]
TOKENS = ["0710E1", "0710E2", "0710E3"]


@pytest.fixture
def node(db_url: str) -> Iterator[RunningServer]:
    port = free_port()
    app = create_app(make_settings(db_url, public_url=f"http://127.0.0.1:{port}", port=port))
    with serve(app, port=port) as running:
        yield running


@pytest.fixture
def cpos() -> Iterator[tuple[FakeCpo, FakeCpo]]:
    modules = [("tokens", "RECEIVER")]
    one = make_fake_cpo(name="CPO One", party_id="ONE", modules=modules)
    two = make_fake_cpo(name="CPO Two", party_id="TWO", modules=modules)
    with one.running() as first, two.running() as second:
        yield first, second


async def _rows_of(sessionmaker: SessionMaker, name: str) -> list[tuple[str, str, str]]:
    partner_id = (await partner_row(sessionmaker, name))["id"]
    async with sessionmaker() as session:
        stmt = _T.select().where(_T.c.partner_id == partner_id)
        rows = (await session.exec(stmt)).all()  # type: ignore[call-overload]
    return sorted((r.to_country_code, r.to_party_id, r.status) for r in rows)


async def test_the_handshake_backfills_at_once_both_ways(
    node: RunningServer,
    cpos: tuple[FakeCpo, FakeCpo],
    admin_headers: dict[str, str],
    sessionmaker: SessionMaker,
) -> None:
    cpo1, cpo2 = cpos
    await create_tokens(sessionmaker, TOKENS)
    assert await count_rows(sessionmaker) == 0  # no partner yet
    pending = DeliveryStatus.PENDING.value
    async with httpx.AsyncClient(base_url=node.url, timeout=20) as http:
        # CPO 1 registers with us (we are the credentials receiver)
        invited = await http.post(
            "/admin/v1/partners/invitations", json={"name": "one"}, headers=admin_headers
        )
        registered = await cpo1.register_with(http, invited.json()["versions_url"], invited.json()["token_a"])
        assert registered.json()["status_code"] == 1000, registered.text
        assert await _rows_of(sessionmaker, "one") == [("NL", "ONE", pending)] * len(TOKENS)

        # we register with CPO 2 (we are the credentials sender)
        body = {"versions_url": cpo2.state.versions_url, "token": cpo2.state.token_a, "name": "two"}
        ours = await http.post("/admin/v1/partners/registrations", json=body, headers=admin_headers)
        assert ours.status_code == 201, ours.text
        assert await _rows_of(sessionmaker, "two") == [("NL", "TWO", pending)] * len(TOKENS)

        # both ends: CPO 1 deletes its credentials, we unregister from CPO 2; their rows go at once
        assert (await cpo1.unregister(http)).json()["status_code"] == 1000
        assert await _rows_of(sessionmaker, "one") == []
        gone = await http.post("/admin/v1/partners/two/unregister", headers=admin_headers)
        assert gone.status_code == 200, gone.text
        assert await _rows_of(sessionmaker, "two") == []
