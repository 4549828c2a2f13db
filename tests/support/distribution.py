"""Helpers for token distribution tests: a fast policy, tokens made through the tokens service, a hub that
pushes ClientInfo, and a loop that runs the worker until nothing is due any more."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import httpx
from sqlalchemy import false, func, select, true
from sqlmodel import select as sm_select

from emsp.db import SessionMaker, session_scope
from emsp.distribution.policy import DeliveryPolicy
from emsp.distribution.tables import DeliveryStatus, TokenDelivery
from emsp.distribution.worker import WorkerStats, deliver_until_idle
from emsp.settings import OwnParty
from emsp.tokens import service
from emsp.tokens.ocpi_map import to_ocpi
from emsp.tokens.schemas import TokenCreate
from emsp.tokens.tables import Token
from partners.delivery import BackoffPolicy, ShortRetry
from partners.tables import Partner, TokenKind
from partners.tokens import issue_token
from tests.support.builders import make_token_receiver, ocpi_auth

PARTIES = [OwnParty(country_code="NL", party_id="EMS", name="Test eMSP")]
_T = TokenDelivery.__table__  # type: ignore[attr-defined]


def fast_policy(**overrides: Any) -> DeliveryPolicy:
    """Small batches, short leases and backoffs in tenths of a second."""
    values: dict[str, Any] = {
        "batch_size": 50,
        "concurrency": 16,
        "partner_concurrency": 4,
        "lease_seconds": 6.0,
        "poll_seconds": 0.1,
        "sync_seconds": 0.5,
        "flush_size": 20,
        "flush_seconds": 0.02,
        "backoff": BackoffPolicy(
            base_seconds=0.05, cap_seconds=0.3, retry_after_cap_seconds=2, max_attempts=40
        ),
        "short_retry": ShortRetry(retries=1, wait_seconds=0.01, retry_after_cap_seconds=0.2),
    }
    values.update(overrides)
    return DeliveryPolicy(**values)


async def make_hub(
    sessionmaker: SessionMaker, url: str, *, name: str = "hub", party: tuple[str, str] = ("DE", "HUB")
) -> tuple[Partner, dict[str, str]]:
    """A CONNECTED hub (role HUB) with a Tokens RECEIVER endpoint at `url`, and the OCPI request headers
    it calls us with (its own credentials token) to push ClientInfo."""
    async with session_scope(sessionmaker) as session:
        hub = await make_token_receiver(
            session, url, name=name, role="HUB", country_code=party[0], party_id=party[1]
        )
        token = await issue_token(session, hub, TokenKind.SERVER)
    return hub, ocpi_auth(token)


def client_info(cc: str, pid: str, status: str, minute: int = 0) -> dict[str, Any]:
    """A ClientInfo of a CPO party, `last_updated` `minute` minutes after 2026-01-01T00:00:00Z."""
    return {
        "country_code": cc,
        "party_id": pid,
        "role": "CPO",
        "status": status,
        "last_updated": f"2026-01-01T{minute // 60:02d}:{minute % 60:02d}:00Z",
    }


def short_http(timeout: float = 0.5) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=httpx.Timeout(timeout), follow_redirects=False)


async def create_tokens(sessionmaker: SessionMaker, uids: Sequence[str]) -> list[Token]:
    """Tokens made by the tokens service (which marks them for distribution), one transaction."""
    tokens = []
    async with session_scope(sessionmaker) as session:
        for uid in uids:
            tokens.append(
                await service.create_token(session, TokenCreate(uid=uid), parties=PARTIES, actor="test")
            )
    return tokens


async def current_ocpi(sessionmaker: SessionMaker) -> dict[str, dict[str, Any]]:
    """Every token's current OCPI form, by uid."""
    async with sessionmaker() as session:
        tokens = (await session.exec(sm_select(Token))).all()
    return {t.uid: to_ocpi(t) for t in tokens}


async def count_rows(sessionmaker: SessionMaker, *conditions: Any) -> int:
    async with sessionmaker() as session:
        stmt = select(func.count()).select_from(_T).where(true(), *conditions)
        return int((await session.exec(stmt)).scalar_one())


async def settle(
    sessionmaker: SessionMaker,
    http: httpx.AsyncClient,
    policy: DeliveryPolicy,
    *,
    timeout: float = 20.0,
) -> WorkerStats:
    """Run the worker until no unpaused row is PENDING (rows in backoff are waited for)."""
    total = WorkerStats()
    deadline = time.monotonic() + timeout
    while True:
        stats = await deliver_until_idle(sessionmaker, http, policy)
        total.claimed += stats.claimed
        total.outcomes.update(stats.outcomes)
        waiting = await count_rows(
            sessionmaker, _T.c.status == DeliveryStatus.PENDING.value, _T.c.paused == false()
        )
        if not waiting:
            return total
        if time.monotonic() > deadline:
            raise AssertionError(f"{waiting} deliveries still pending after {timeout} s: {total.as_dict()}")
        await asyncio.sleep(0.05)
