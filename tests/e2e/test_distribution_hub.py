"""Token distribution through a hub, end to end: the hub (a fake Tokens receiver on loopback that records the
`OCPI-to-*` of every PUT) reports its CPO parties through HubClientInfo, pushed to our receiver or pulled
from its sender; the real worker pushes each token toward the parties the hub reports CONNECTED only, and
catches a party up when it connects."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import case, func, select, true

from emsp.db import SessionMaker, session_scope
from emsp.distribution.tables import TokenDelivery
from emsp.ingest.sync import SyncOptions, sync_module
from emsp.tokens import service
from emsp.tokens.schemas import BlockRequest
from partners.pull import PullPolicy
from partners.tables import Partner
from tests.support import fake_cpo_sender
from tests.support.distribution import (
    client_info,
    create_tokens,
    current_ocpi,
    fast_policy,
    make_hub,
    settle,
    short_http,
)
from tests.support.fake_token_receiver import FakeTokenReceiver
from tests.support.ingest import V, add_endpoint

HUB, A, B = ("DE", "HUB"), ("BE", "AAA"), ("FR", "BBB")
OURS = ("NL", "EMS")
_T = TokenDelivery.__table__  # type: ignore[attr-defined]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with short_http(1.0) as client:
        yield client


@pytest.fixture
def hub_fake() -> Iterator[FakeTokenReceiver]:
    fake = FakeTokenReceiver()
    with fake.running():
        yield fake


async def _rows_by_party(
    sessionmaker: SessionMaker, partner_id: int
) -> dict[tuple[str, str], tuple[int, int]]:
    """Per target party of the partner: (rows, paused rows)."""
    stmt = (
        select(
            _T.c.to_country_code,
            _T.c.to_party_id,
            func.count(),
            func.sum(case((_T.c.paused == true(), 1), else_=0)),
        )
        .where(_T.c.partner_id == partner_id)
        .group_by(_T.c.to_country_code, _T.c.to_party_id)
    )
    async with sessionmaker() as session:
        return {(cc, pid): (int(n), int(p or 0)) for cc, pid, n, p in (await session.exec(stmt)).all()}


async def _report(
    client: httpx.AsyncClient, headers: dict[str, str], party: tuple[str, str], status: str, minute: int
) -> None:
    body = client_info(*party, status, minute)
    response = await client.put(f"{V}/hubclientinfo/{party[0]}/{party[1]}", json=body, headers=headers)
    assert response.status_code in (200, 201) and response.json()["status_code"] == 1000, response.text


async def _block(sessionmaker: SessionMaker, token_id: int | None, *, block: bool = True) -> None:
    assert token_id is not None
    async with session_scope(sessionmaker) as session:
        token = await service.get_token(session, token_id)
        if block:
            await service.block_token(session, token, BlockRequest(reason="lost"), actor="test")
        else:
            await service.unblock_token(session, token, actor="test")


def _assert_party_has_latest(
    fake: FakeTokenReceiver, party: tuple[str, str], current: dict[str, Any]
) -> None:
    for uid, body in current.items():
        assert fake.latest_to(party, uid) == body, f"{uid} toward {party}"


async def test_a_hub_without_client_info_gets_broadcast_rows_then_per_party_rows(
    sessionmaker: SessionMaker,
    http: httpx.AsyncClient,
    client: httpx.AsyncClient,
    hub_fake: FakeTokenReceiver,
) -> None:
    hub, headers = await make_hub(sessionmaker, hub_fake.url)
    assert hub.id is not None
    await create_tokens(sessionmaker, ["0700B1", "0700B2", "0700B3"])
    assert await _rows_by_party(sessionmaker, hub.id) == {HUB: (3, 0)}
    await settle(sessionmaker, http, fast_policy())
    assert {p.to_party for p in hub_fake.puts} == {HUB}  # a broadcast push: OCPI-to = the hub itself
    assert {
        (p.headers["ocpi-from-country-code"], p.headers["ocpi-from-party-id"]) for p in hub_fake.puts
    } == {OURS}

    await _report(client, headers, A, "CONNECTED", 1)  # the hub now names its parties
    assert await _rows_by_party(sessionmaker, hub.id) == {A: (3, 0)}  # broadcast rows replaced
    await settle(sessionmaker, http, fast_policy())
    _assert_party_has_latest(hub_fake, A, await current_ocpi(sessionmaker))


async def test_tokens_reach_connected_parties_only_and_a_party_catches_up_when_it_connects(
    sessionmaker: SessionMaker,
    http: httpx.AsyncClient,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    hub_fake: FakeTokenReceiver,
) -> None:
    policy = fast_policy()
    hub, headers = await make_hub(sessionmaker, hub_fake.url)
    assert hub.id is not None
    tokens = await create_tokens(sessionmaker, [f"0701C{i}" for i in range(4)])
    await _report(client, headers, A, "CONNECTED", 1)
    await _report(client, headers, B, "OFFLINE", 1)
    assert await _rows_by_party(sessionmaker, hub.id) == {A: (4, 0), B: (4, 4)}

    await settle(sessionmaker, http, policy)
    _assert_party_has_latest(hub_fake, A, await current_ocpi(sessionmaker))
    assert hub_fake.puts_to(B) == [] and hub_fake.puts_to(HUB) == []

    # while B is OFFLINE (then PLANNED): a change and a new token reach A, not B
    await _block(sessionmaker, tokens[0].id)
    await create_tokens(sessionmaker, ["0701C4"])
    await _report(client, headers, B, "PLANNED", 2)
    await settle(sessionmaker, http, policy)
    current = await current_ocpi(sessionmaker)
    _assert_party_has_latest(hub_fake, A, current)
    assert hub_fake.puts_to(B) == []
    assert [p.body["valid"] for p in hub_fake.puts_to(A, "0701C0")] == [True, False]

    table = (await client.get("/admin/v1/distributions", headers=admin_headers)).json()["partners"]
    (entry,) = table
    lines = {(line["country_code"], line["party_id"]): line for line in entry["parties"]}
    assert set(lines) == {A, B} and (entry["role"], entry["party_id"]) == ("HUB", "HUB")
    assert (lines[A]["client_status"], lines[A]["succeeded"], lines[A]["pause_reason"]) == (
        "CONNECTED",
        5,
        None,
    )
    assert (lines[B]["client_status"], lines[B]["pending"], lines[B]["paused"]) == ("PLANNED", 5, 5)
    assert lines[B]["pause_reason"] == "NOT_CONNECTED"
    listed = await client.get(
        "/admin/v1/distributions/deliveries", params={"party": "fr-bbb"}, headers=admin_headers
    )
    assert {(d["to_party_id"], d["pause_reason"]) for d in listed.json()["deliveries"]} == {
        ("BBB", "NOT_CONNECTED")
    }

    # B connects: it gets the latest state of every token, each once (nothing stale, nothing queued)
    await _report(client, headers, B, "CONNECTED", 3)
    assert await _rows_by_party(sessionmaker, hub.id) == {A: (5, 0), B: (5, 0)}
    await settle(sessionmaker, http, policy)
    _assert_party_has_latest(hub_fake, B, current)
    assert sorted(p.key[2] for p in hub_fake.puts_to(B)) == sorted(current)

    # B goes OFFLINE and back: only what changed meanwhile is sent to it
    await _report(client, headers, B, "OFFLINE", 4)
    await _block(sessionmaker, tokens[1].id)
    await settle(sessionmaker, http, policy)
    before = len(hub_fake.puts_to(B))
    await _report(client, headers, B, "CONNECTED", 5)
    await settle(sessionmaker, http, policy)
    assert [p.key[2] for p in hub_fake.puts_to(B)[before:]] == ["0701C1"]
    _assert_party_has_latest(hub_fake, B, await current_ocpi(sessionmaker))

    # retry for the hub retries the rows of all its parties
    async with session_scope(sessionmaker) as session:
        await session.exec(_T.update().values(status="FAILED"))  # type: ignore[call-overload]
    retried = await client.post(
        "/admin/v1/distributions/retry", params={"partner": "hub"}, headers=admin_headers
    )
    assert retried.json()["retried"] == 10
    await settle(sessionmaker, http, policy)
    _assert_party_has_latest(hub_fake, B, await current_ocpi(sessionmaker))

    # B SUSPENDED ("will never connect anymore"): its rows go, nothing more is sent toward it
    await _report(client, headers, B, "SUSPENDED", 6)
    assert await _rows_by_party(sessionmaker, hub.id) == {A: (5, 0)}
    await _block(sessionmaker, tokens[2].id)
    sent_to_b = len(hub_fake.puts_to(B))
    await settle(sessionmaker, http, policy)
    assert len(hub_fake.puts_to(B)) == sent_to_b
    _assert_party_has_latest(hub_fake, A, await current_ocpi(sessionmaker))
    (entry,) = (await client.get("/admin/v1/distributions", headers=admin_headers)).json()["partners"]
    suspended = next(line for line in entry["parties"] if line["party_id"] == "BBB")
    assert (suspended["client_status"], suspended["receives"], suspended["pending"]) == (
        "SUSPENDED",
        False,
        0,
    )


async def test_client_info_pulled_from_the_hub_drives_the_rows(
    sessionmaker: SessionMaker, http: httpx.AsyncClient, hub_fake: FakeTokenReceiver
) -> None:
    hub, _ = await make_hub(sessionmaker, hub_fake.url)
    assert hub.id is not None
    await create_tokens(sessionmaker, ["0702D1", "0702D2"])
    state = fake_cpo_sender.SenderState(token="token-we-send-0123456789")  # our client token for the hub
    options = SyncOptions(
        our_party=OURS, policy=PullPolicy(max_attempts=2, backoff_initial=0.01, backoff_max=0.02)
    )

    async def pull(*infos: dict[str, Any], full: bool = False) -> None:
        state.objects["hubclientinfo"] = list(infos)
        async with sessionmaker() as session:
            partner = await session.get(Partner, hub.id)
            assert partner is not None
            outcome = await sync_module(session, http, partner, "hubclientinfo", options, full=full)
        assert outcome.status == "complete", outcome

    with fake_cpo_sender.running(state) as sender:
        await add_endpoint(sessionmaker, hub.id, "hubclientinfo", "SENDER", f"{sender.url}{V}/hubclientinfo")
        await pull(client_info(*A, "CONNECTED", 1), client_info(*B, "PLANNED", 1))
        assert await _rows_by_party(sessionmaker, hub.id) == {A: (2, 0), B: (2, 2)}
        await settle(sessionmaker, http, fast_policy())
        assert hub_fake.puts_to(B) == [] and len(hub_fake.puts_to(A)) == 2

        await pull(client_info(*A, "CONNECTED", 1), client_info(*B, "CONNECTED", 2))  # incremental
        assert await _rows_by_party(sessionmaker, hub.id) == {A: (2, 0), B: (2, 0)}
        await settle(sessionmaker, http, fast_policy())
        _assert_party_has_latest(hub_fake, B, await current_ocpi(sessionmaker))

        await pull(client_info(*A, "CONNECTED", 1), full=True)  # B no longer listed by a complete full pull
        assert await _rows_by_party(sessionmaker, hub.id) == {A: (2, 0)}
