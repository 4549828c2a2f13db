"""Helpers for token distribution tests: a fast policy, tokens made through the tokens service, and a
loop that runs the worker until nothing is due any more."""

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
