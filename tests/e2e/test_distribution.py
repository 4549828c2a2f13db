"""Token distribution end to end: tokens changed through the tokens service, the real worker, fake CPOs
served on loopback ports with scripted faults, the admin API for counts and retries."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from emsp.db import SessionMaker, make_engine, make_sessionmaker, session_scope
from emsp.distribution.reconcile import reconcile_partner
from emsp.distribution.tables import DeliveryStatus, TokenDelivery
from emsp.distribution.worker import DeliveryWorker, deliver_until_idle
from emsp.tokens import service
from emsp.tokens.schemas import BlockRequest
from ocpi.types import to_utc
from partners.tables import Partner
from tests.support.builders import make_token_receiver
from tests.support.distribution import create_tokens, current_ocpi, fast_policy, settle, short_http
from tests.support.fake_token_receiver import FakeTokenReceiver, endpoint_url
from tests.support.servers import free_port

SCRIPTED = {
    "healthy": {},
    "fail-twice": {"behaviour": "fail_twice", "fail_first": 2},
    "timing-out": {"behaviour": "timeout", "fail_first": 1, "hang_seconds": 3.0},
    "rejecting": {"behaviour": "reject"},
    "rate-limited": {"behaviour": "rate_limited", "fail_first": 1, "retry_after": 1},
}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with short_http(1.0) as client:
        yield client


async def _receiver(sessionmaker: SessionMaker, name: str, url: str, **kwargs: Any) -> Partner:
    async with session_scope(sessionmaker) as session:
        return await make_token_receiver(session, url, name=name, **kwargs)


async def _rows(sessionmaker: SessionMaker, partner_id: int) -> list[TokenDelivery]:
    async with sessionmaker() as session:
        stmt = select(TokenDelivery).where(col(TokenDelivery.partner_id) == partner_id)
        return list((await session.exec(stmt.order_by(col(TokenDelivery.token_id)))).all())


async def _change(sessionmaker: SessionMaker, token_id: int, *, block: bool) -> None:
    async with session_scope(sessionmaker) as session:
        token = await service.get_token(session, token_id)
        if block:
            await service.block_token(session, token, BlockRequest(reason="lost card"), actor="test")
        else:
            await service.unblock_token(session, token, actor="test")


def _assert_has_latest(fake: FakeTokenReceiver, current: dict[str, dict[str, Any]]) -> None:
    for uid, body in current.items():
        assert fake.latest(uid) == body, f"{uid} at {fake.url}"


@pytest.fixture
def fakes() -> Iterator[dict[str, FakeTokenReceiver]]:
    with ExitStack() as stack:
        running = {name: FakeTokenReceiver(**kwargs) for name, kwargs in SCRIPTED.items()}  # type: ignore[arg-type]
        for fake in running.values():
            stack.enter_context(fake.running())
        yield running


async def test_every_recoverable_partner_ends_with_every_latest_token(
    sessionmaker: SessionMaker,
    http: httpx.AsyncClient,
    fakes: dict[str, FakeTokenReceiver],
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
) -> None:
    partners = {name: await _receiver(sessionmaker, name, fake.url) for name, fake in fakes.items()}
    late_port = free_port()  # refuses connections until its server starts
    partners["late"] = await _receiver(sessionmaker, "late", endpoint_url(late_port))
    tokens = await create_tokens(sessionmaker, [f"0400{i:04d}" for i in range(5)])
    await _change(sessionmaker, tokens[0].id, block=True)  # type: ignore[arg-type]
    policy = fast_policy()

    await deliver_until_idle(sessionmaker, http, policy)  # a first round while "late" is down
    late = FakeTokenReceiver()
    with late.running(port=late_port):
        fakes["late"] = late
        await settle(sessionmaker, http, policy, timeout=30)
        current = await current_ocpi(sessionmaker)
        for name, fake in fakes.items():
            if name != "rejecting":
                _assert_has_latest(fake, current)

        rejected = await _rows(sessionmaker, partners["rejecting"].id)  # type: ignore[arg-type]
        assert [r.status for r in rejected] == [DeliveryStatus.FAILED] * 5
        assert all(r.last_ocpi_status == 2001 and r.attempts == 1 for r in rejected)
        assert all(r.last_message == fakes["rejecting"].reject_message for r in rejected)
        put = fakes["healthy"].puts[0]
        assert put.headers["ocpi-from-country-code"] == "NL" and put.headers["ocpi-from-party-id"] == "EMS"
        assert put.headers["ocpi-to-country-code"] == "NL" and put.headers["ocpi-to-party-id"] == "CPO"
        token_b64 = base64.b64encode(b"token-we-send-0123456789").decode()
        assert put.headers["authorization"] == f"Token {token_b64}"

        table = (await client.get("/admin/v1/distributions", headers=admin_headers)).json()["partners"]
        counts = {p["partner"]: (p["succeeded"], p["failed"], p["pending"]) for p in table}
        assert counts == {name: ((0, 5, 0) if name == "rejecting" else (5, 0, 0)) for name in partners}
        assert all(p["role"] == "CPO" and (p["country_code"], p["party_id"]) == ("NL", "CPO") for p in table)
        assert next(p for p in table if p["partner"] == "rejecting")["last_failure_at"] is not None

        # the rejecting partner is fixed; "retry failed" for it re-sends only its failed rows
        fakes["rejecting"].behaviour = "healthy"
        before = {name: fake.put_count for name, fake in fakes.items()}
        response = await client.post(
            "/admin/v1/distributions/retry", params={"partner": "rejecting"}, headers=admin_headers
        )
        assert response.status_code == 200 and response.json()["retried"] == 5
        await settle(sessionmaker, http, policy, timeout=10)
        after = {name: fake.put_count for name, fake in fakes.items()}
        assert after == {name: before[name] + (5 if name == "rejecting" else 0) for name in before}
        _assert_has_latest(fakes["rejecting"], current)


async def test_block_then_unblock_while_the_partner_is_down(
    sessionmaker: SessionMaker, http: httpx.AsyncClient
) -> None:
    port = free_port()
    await _receiver(sessionmaker, "down", endpoint_url(port))
    (token,) = await create_tokens(sessionmaker, ["04AABBCC"])
    policy = fast_policy()
    await deliver_until_idle(sessionmaker, http, policy)
    for block in (True, False, True, False):  # versions 2..5, each tried while the partner is down
        await _change(sessionmaker, token.id, block=block)  # type: ignore[arg-type]
        await deliver_until_idle(sessionmaker, http, policy)
    fake = FakeTokenReceiver()
    with fake.running(port=port):
        await settle(sessionmaker, http, policy, timeout=15)
    current = await current_ocpi(sessionmaker)
    assert fake.latest("04AABBCC") == current["04AABBCC"] and current["04AABBCC"]["valid"] is True
    sent = [to_utc(p.body["last_updated"]) for p in fake.puts_for("04AABBCC")]
    assert sent == sorted(sent), "a stale PUT arrived after a newer one"
    assert len(sent) == 1  # only the latest state, once


async def test_a_partner_refusing_our_credentials_is_paused_not_hammered(
    sessionmaker: SessionMaker,
    http: httpx.AsyncClient,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
) -> None:
    fake = FakeTokenReceiver(behaviour="unauthorized", accepted_token=None)
    policy = fast_policy()
    with fake.running():
        partner = await _receiver(sessionmaker, "revoked", fake.url, client_token="old-token-0123456789")
        await create_tokens(sessionmaker, [f"0401{i:04d}" for i in range(6)])
        await settle(sessionmaker, http, policy, timeout=10)
        first = fake.put_count
        assert 1 <= first <= policy.partner_concurrency
        rows = await _rows(sessionmaker, partner.id)  # type: ignore[arg-type]
        assert all(r.paused and r.status == DeliveryStatus.PENDING for r in rows)
        (entry,) = (await client.get("/admin/v1/distributions", headers=admin_headers)).json()["partners"]
        assert entry["pause_reason"] == "CREDENTIALS" and "401" in entry["pause_message"]
        await create_tokens(sessionmaker, ["04019999"])
        await settle(sessionmaker, http, policy, timeout=5)
        assert fake.put_count == first  # nothing more is sent while paused

        fake.accepted_token = "new-token-0123456789"  # credentials updated on both sides
        async with session_scope(sessionmaker) as session:
            stored = await session.get(Partner, partner.id)
            assert stored is not None
            stored.client_token = "new-token-0123456789"
        await settle(sessionmaker, http, policy, timeout=10)  # the worker's sync resumes the partner
        _assert_has_latest(fake, await current_ocpi(sessionmaker))


async def test_reconciliation_resends_what_the_partner_lost_or_changed(
    sessionmaker: SessionMaker, http: httpx.AsyncClient
) -> None:
    fake = FakeTokenReceiver()
    policy = fast_policy()
    with fake.running():
        partner = await _receiver(sessionmaker, "forgetful", fake.url)
        await create_tokens(sessionmaker, [f"0402{i:04d}" for i in range(4)])
        await settle(sessionmaker, http, policy)
        keys = sorted(fake.stored)
        del fake.stored[keys[0]]
        fake.stored[keys[1]] = {**fake.stored[keys[1]], "valid": False}
        report = await reconcile_partner(sessionmaker, http, partner.id, sample=None)  # type: ignore[arg-type]
        assert (report.checked, report.missing, report.differing, report.errors) == (4, 1, 1, 0)
        await settle(sessionmaker, http, policy)
        _assert_has_latest(fake, await current_ocpi(sessionmaker))
        again = await reconcile_partner(sessionmaker, http, partner.id, sample=2)  # type: ignore[arg-type]
        assert (again.checked, len(again.resent)) == (2, 0)


@pytest.mark.postgres_only
async def test_two_workers_never_send_the_same_row_at_the_same_time(
    db_url: str, sessionmaker: SessionMaker, http: httpx.AsyncClient, is_postgres: bool
) -> None:
    if not is_postgres:
        pytest.skip("SKIP LOCKED claiming by concurrent workers needs PostgreSQL; SQLite runs one writer")
    fakes = [FakeTokenReceiver(delay_seconds=0.01), FakeTokenReceiver(delay_seconds=0.01)]
    engines: list[AsyncEngine] = [make_engine(db_url), make_engine(db_url)]
    try:
        with ExitStack() as stack:
            for i, fake in enumerate(fakes):
                stack.enter_context(fake.running())
                await _receiver(sessionmaker, f"busy-{i}", fake.url)
            await create_tokens(sessionmaker, [f"0403{i:04d}" for i in range(150)])
            policy = fast_policy(batch_size=20, concurrency=8, partner_concurrency=4, lease_seconds=30)
            workers = [
                DeliveryWorker(make_sessionmaker(engine), http, policy, worker_id=f"w{i}")
                for i, engine in enumerate(engines)
            ]
            stats = await asyncio.gather(*(w.run(until_idle=True) for w in workers))
            assert sum(s.claimed for s in stats) == 300
            assert all(s.claimed > 0 for s in stats), "both workers took part"
            assert [f.overlaps for f in fakes] == [0, 0]
            assert [f.put_count for f in fakes] == [150, 150]  # each row sent once
            current = await current_ocpi(sessionmaker)
            for fake in fakes:
                _assert_has_latest(fake, current)
    finally:
        for engine in engines:
            await engine.dispose()
