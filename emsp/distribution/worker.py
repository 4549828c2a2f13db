"""The delivery worker: claim due rows, PUT each token's current state to the partner, record the outcome.

One round: claim (a short transaction, committed) → read the tokens' current rows and the partners (a short
read) → deliver with no transaction open, bounded overall and per partner (semaphores) → outcomes written
in small batches (a short transaction each, `outcomes.record_outcomes`). Each PUT goes to the partner's
Tokens endpoint with `OCPI-from-*` = the token's party and `OCPI-to-*` = the row's target party (a party
behind a hub, the hub itself for a broadcast, or a direct partner's own party: `addressing`). Rows of a party
not CONNECTED behind its hub are paused and never claimed.

Claiming (`claim_due`) sets a lease on each row. PostgreSQL: `UPDATE ... WHERE id IN (SELECT ... FOR UPDATE
SKIP LOCKED)`, so N workers take disjoint rows without waiting on each other. SQLite: the same UPDATE; SQLite
runs one writer at a time and the statement takes the write lock before it reads, so two claimers cannot
take the same row (the second waits on `busy_timeout`, then sees the lease). A lease that passed makes
the row claimable again (a crashed worker); an attempt is cut off at half the lease so it is over first.

Rows are claimed per partner, up to twice that partner's concurrency in flight, so a slow partner cannot
fill the worker with its rows (no head-of-line blocking across partners).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import false, or_, select, text, union_all, update
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.db import SessionMaker, session_scope
from emsp.distribution.ledger import dialect_name, eligible_partners, token_fingerprint
from emsp.distribution.outcomes import Claim, Delivered, record_outcomes
from emsp.distribution.policy import DeliveryPolicy
from emsp.distribution.sync import sync_partners
from emsp.distribution.tables import DeliveryStatus, TokenDelivery
from emsp.distribution.targets import PartnerTarget, load_targets, load_tokens
from emsp.tokens.ocpi_map import to_ocpi
from ocpi.client import OcpiClient
from ocpi.types import utcnow
from partners.delivery import Outcome, PushResult, object_url, push

log = logging.getLogger("emsp.distribution")
_T = TokenDelivery.__table__  # type: ignore[attr-defined]


def new_worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


async def claim_due(
    session: AsyncSession,
    worker_id: str,
    batch: int,
    now: datetime,
    *,
    lease_seconds: float = 120.0,
) -> list[Claim]:
    """Lease up to `batch` due rows, oldest first whatever their partner, to `worker_id`; the caller
    commits. (The worker claims per partner with `claim_for_partners`.)"""
    if batch <= 0:
        return []
    due = _due_rows(now).limit(batch)
    if await dialect_name(session) == "postgresql":
        due = due.with_for_update(skip_locked=True)
    lease_token = uuid.uuid4().hex
    stmt = (
        update(_T)
        .where(_T.c.id.in_(due.scalar_subquery()))
        .values(_lease_values(worker_id, now, lease_seconds, lease_token))
        .returning(*_RETURNED)
    )
    rows = (await (await session.connection()).execute(stmt)).all()
    return [_claim(r, lease_token) for r in sorted(rows, key=lambda r: r.id)]


def _due_rows(now: datetime) -> Any:
    """The ids of rows due at `now` (pending, not paused, no live lease), oldest first."""
    return (
        select(_T.c.id)
        .where(
            _T.c.status == DeliveryStatus.PENDING.value,
            _T.c.paused == false(),
            _T.c.next_attempt_at <= now,
            or_(_T.c.lease_until.is_(None), _T.c.lease_until < now),
        )
        .order_by(_T.c.next_attempt_at)
    )


def _lease_values(worker_id: str, now: datetime, lease_seconds: float, lease_token: str) -> dict[str, Any]:
    return {
        "claimed_by": worker_id[:80],
        "lease_until": now + timedelta(seconds=lease_seconds),
        "lease_token": lease_token,
        "attempts": _T.c.attempts + 1,
        "attempt_seq": _T.c.attempt_seq + 1,
        "last_attempt_at": now,
    }


_RETURNED = (
    _T.c.id,
    _T.c.token_id,
    _T.c.partner_id,
    _T.c.wanted_version,
    _T.c.attempts,
    _T.c.attempt_seq,
    _T.c.to_country_code,
    _T.c.to_party_id,
)


def _claim(r: Any, lease_token: str) -> Claim:
    return Claim(
        id=r.id,
        token_id=r.token_id,
        partner_id=r.partner_id,
        wanted_version=r.wanted_version,
        attempts=r.attempts,
        attempt_seq=r.attempt_seq,
        lease_token=lease_token,
        to_country_code=r.to_country_code,
        to_party_id=r.to_party_id,
    )


_CLAIM_PER_PARTNER_PG = text(
    """
    UPDATE token_deliveries AS t
    SET claimed_by = :worker, lease_until = :lease_until, lease_token = :lease_token,
        attempts = t.attempts + 1, attempt_seq = t.attempt_seq + 1, last_attempt_at = :now
    FROM (
        SELECT d.id
        FROM unnest(CAST(:partner_ids AS integer[]), CAST(:quotas AS integer[])) AS q(partner_id, quota)
        CROSS JOIN LATERAL (
            SELECT id FROM token_deliveries
            WHERE partner_id = q.partner_id AND status = 'PENDING' AND paused = false
              AND next_attempt_at <= :now AND (lease_until IS NULL OR lease_until < :now)
            ORDER BY next_attempt_at
            LIMIT q.quota
            FOR UPDATE SKIP LOCKED
        ) AS d
    ) AS due
    WHERE t.id = due.id
    RETURNING t.id, t.token_id, t.partner_id, t.wanted_version, t.attempts, t.attempt_seq,
        t.to_country_code, t.to_party_id
    """
)


async def claim_for_partners(
    session: AsyncSession,
    worker_id: str,
    quotas: dict[int, int],
    now: datetime,
    *,
    lease_seconds: float = 120.0,
) -> list[Claim]:
    """`claim_due` for several partners, up to each one's quota, in one statement: on PostgreSQL a LATERAL
    join, on SQLite a UNION ALL of one limited select per partner; either way each partner's due rows are
    read through its index, oldest first."""
    quotas = {pid: quota for pid, quota in quotas.items() if quota > 0}
    if not quotas:
        return []
    if await dialect_name(session) != "postgresql":
        return await _claim_for_partners_sqlite(session, worker_id, quotas, now, lease_seconds)
    lease_token = uuid.uuid4().hex
    params = {
        "worker": worker_id[:80],
        "lease_until": now + timedelta(seconds=lease_seconds),
        "lease_token": lease_token,
        "now": now,
        "partner_ids": list(quotas),
        "quotas": list(quotas.values()),
    }
    rows = (await (await session.connection()).execute(_CLAIM_PER_PARTNER_PG, params)).all()
    return [_claim(r, lease_token) for r in sorted(rows, key=lambda r: r.id)]


async def _claim_for_partners_sqlite(
    session: AsyncSession, worker_id: str, quotas: dict[int, int], now: datetime, lease_seconds: float
) -> list[Claim]:
    lease_token = uuid.uuid4().hex
    connection = await session.connection()
    partners = list(quotas.items())
    rows: list[Any] = []
    for start in range(0, len(partners), _SQLITE_PARTNERS_PER_CLAIM):  # SQLite's compound-select limit
        picks = [
            select(_due_rows(now).where(_T.c.partner_id == pid).limit(quota).subquery().c.id)
            for pid, quota in partners[start : start + _SQLITE_PARTNERS_PER_CLAIM]
        ]
        stmt = (
            update(_T)
            .where(_T.c.id.in_(union_all(*picks).scalar_subquery()))
            .values(_lease_values(worker_id, now, lease_seconds, lease_token))
            .returning(*_RETURNED)
        )
        rows += (await connection.execute(stmt)).all()
    return [_claim(r, lease_token) for r in sorted(rows, key=lambda r: r.id)]


_SQLITE_PARTNERS_PER_CLAIM = 200


@dataclass
class WorkerStats:
    claimed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {"claimed": self.claimed, **dict(self.outcomes)}


class DeliveryWorker:
    """Runs delivery rounds until idle (`run(until_idle=True)`, the scheduled job) or until stopped."""

    def __init__(
        self,
        sessionmaker: SessionMaker,
        http: httpx.AsyncClient,
        policy: DeliveryPolicy,
        *,
        worker_id: str | None = None,
        sync: bool = True,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.http = http
        self.policy = policy
        self.worker_id = worker_id or new_worker_id()
        self.stats = WorkerStats()
        self._sync = sync
        self._global = asyncio.Semaphore(policy.concurrency)
        self._per_partner: dict[int, asyncio.Semaphore] = {}
        self._in_flight: Counter[int] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        self._done: list[Delivered] = []
        self._have_done = asyncio.Event()
        self._recorded = asyncio.Event()
        self._unrecorded = 0
        self._closing = False
        self._wake = asyncio.Event()
        self._drained: dict[int, float] = {}
        self._partners: list[int] = []
        self._partners_at = -1e9
        self._paused_now: set[int] = set()
        self._rotation = 0

    # ---------------------------------------------------------------------------------------- main loop

    async def run(self, *, until_idle: bool = False, stop: asyncio.Event | None = None) -> WorkerStats:
        next_sync = 0.0
        recorder = asyncio.create_task(self._record_loop())
        try:
            while stop is None or not stop.is_set():
                self._wake.clear()
                if self._sync and time.monotonic() >= next_sync:
                    await self.sync_partners()
                    next_sync = time.monotonic() + self.policy.sync_seconds
                room = len(self._tasks) <= self.policy.concurrency
                started = await self._claim_round_safely() if room else 0
                if started or self._tasks:
                    await self._sleep(self.policy.poll_seconds, stop)  # woken when a delivery ends
                    continue
                await self._all_recorded()
                if until_idle:
                    self._drained.clear()
                    self._partners_at = -1e9
                    if await self._claim_round_safely():
                        continue
                    break
                await self._sleep(self.policy.poll_seconds, stop)
        finally:
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            self._closing = True
            self._have_done.set()
            await recorder
        return self.stats

    async def _sleep(self, seconds: float, stop: asyncio.Event | None) -> None:
        waiters = [asyncio.ensure_future(self._wake.wait())]
        if stop is not None:
            waiters.append(asyncio.ensure_future(stop.wait()))
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()

    async def sync_partners(self) -> None:
        """Rows in line with partner states (backfill, pause, cancel); one worker at a time on PostgreSQL."""
        try:
            async with session_scope(self.sessionmaker) as session:
                if await _try_lock(session, "emsp.distribution.sync"):
                    changes = await sync_partners(session)
                    done = {pid: what for pid, what in changes.items() if what != "none"}
                    if done:
                        log.info("distribution: partner rows synced: %s", done)
                        self._partners_at = -1e9
        except Exception:
            log.exception("distribution: partner sync failed")

    # ---------------------------------------------------------------------------------------- claiming

    async def _active_partners(self, session: AsyncSession) -> list[int]:
        if time.monotonic() - self._partners_at >= self.policy.poll_seconds:
            self._partners = [p.partner_id for p in await eligible_partners(session) if not p.paused]
            self._partners_at = time.monotonic()
            self._paused_now.clear()
        return [p for p in self._partners if p not in self._paused_now]

    async def _claim_round_safely(self) -> int:
        try:
            return await self._claim_round()
        except Exception:  # the database is away: back off, the rows wait (nothing is lost)
            log.exception("distribution: claiming failed; trying again in %s s", self.policy.poll_seconds)
            await asyncio.sleep(self.policy.poll_seconds)
            return 0

    async def _claim_round(self) -> int:
        capacity = min(2 * self.policy.concurrency - len(self._tasks), self.policy.batch_size)
        if capacity <= 0:
            return 0
        now, claims = utcnow(), []
        async with session_scope(self.sessionmaker) as session:
            partners = await self._active_partners(session)
            if partners:
                self._rotation = (self._rotation + 1) % len(partners)
                partners = partners[self._rotation :] + partners[: self._rotation]
            quotas: dict[int, int] = {}
            for pid in partners:
                quota = min(2 * self.policy.partner_concurrency - self._in_flight[pid], capacity)
                if quota > 0 and self._drained.get(pid, 0.0) <= time.monotonic():
                    quotas[pid] = quota
                    capacity -= quota
            if quotas:
                claims = await claim_for_partners(
                    session, self.worker_id, quotas, now, lease_seconds=self.policy.lease_seconds
                )
            got = Counter(c.partner_id for c in claims)
            for pid, quota in quotas.items():
                if got[pid] < quota:
                    self._drained[pid] = time.monotonic() + self.policy.poll_seconds
        if claims:
            await self._start(claims)
        return len(claims)

    async def _start(self, claims: list[Claim]) -> None:
        self.stats.claimed += len(claims)
        async with self.sessionmaker() as session:
            tokens = await load_tokens(session, {c.token_id for c in claims})
            targets = await load_targets(session, {c.partner_id for c in claims})
        for claim in claims:
            self._in_flight[claim.partner_id] += 1
            task = asyncio.create_task(
                self._deliver(claim, tokens.get(claim.token_id), targets.get(claim.partner_id))
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    # ---------------------------------------------------------------------------------------- delivering

    async def _deliver(self, claim: Claim, token: Any, target: PartnerTarget | None) -> None:
        version = claim.wanted_version if token is None else int(token.version)
        result: PushResult | None = None
        skip: str | None = None
        problem = "partner gone" if target is None else target.problem
        try:
            if token is None:
                skip = "token gone"
            elif problem is not None or target is None:
                skip = problem
            else:
                async with self._partner_semaphore(claim.partner_id), self._global:
                    if claim.partner_id in self._paused_now:
                        skip = "paused"
                    else:
                        result = await self._push(target, token, claim.to_party)
        except Exception as exc:  # a bug must not lose the row: it is retried like a transient failure
            log.exception("distribution: delivery of row %s failed", claim.id)
            result = _failed_locally(f"{type(exc).__name__}: {exc}")
        finally:
            self._in_flight[claim.partner_id] -= 1
        if result is not None and result.outcome == Outcome.CREDENTIALS:
            self._paused_now.add(claim.partner_id)
        credentials = result is not None and result.outcome == Outcome.CREDENTIALS
        fingerprint = token_fingerprint(target.client_token) if credentials and target is not None else None
        pause = result is None and skip == problem
        self._done.append(Delivered(claim, version, result, utcnow(), skip, fingerprint, pause))
        self._unrecorded += 1
        self._recorded.clear()
        self._have_done.set()
        self.stats.outcomes[result.outcome.value if result else f"skipped: {skip}"] += 1
        if len(self._tasks) <= self.policy.concurrency + 1:  # room to claim more (this task still counts)
            self._wake.set()

    async def _push(self, target: PartnerTarget, token: Any, to_party: tuple[str, str] | None) -> PushResult:
        assert target.client_token is not None and target.endpoint_url is not None
        client = OcpiClient(
            self.http,
            token=target.client_token,
            base64_token=target.base64_token,
            from_party=(token.country_code, token.party_id),
            to_party=to_party,
        )
        url = object_url(target.endpoint_url, token.country_code, token.party_id, token.uid)
        url = f"{url}?type={token.type}"
        deadline = self.policy.attempt_deadline_seconds
        try:
            async with asyncio.timeout(deadline):
                return await push(client, url, to_ocpi(token), short_retry=self.policy.short_retry)
        except TimeoutError:
            return _failed_locally(f"attempt cut off after {deadline:g} s", error_class="timeout")

    def _partner_semaphore(self, partner_id: int) -> asyncio.Semaphore:
        sem = self._per_partner.get(partner_id)
        if sem is None:
            sem = self._per_partner[partner_id] = asyncio.Semaphore(self.policy.partner_concurrency)
        return sem

    # ---------------------------------------------------------------------------------------- recording

    async def _record_loop(self) -> None:
        """Writes outcomes in the background: after `flush_seconds`, or at once when `flush_size` are
        waiting; whatever arrives during a write goes into the next one (batches grow under load)."""
        while True:
            await self._have_done.wait()
            if not self._closing and len(self._done) < self.policy.flush_size:
                await asyncio.sleep(self.policy.flush_seconds)
            batch, self._done = self._done, []
            self._have_done.clear()
            if batch:
                await self._write(batch)
            self._unrecorded -= len(batch)
            if self._unrecorded == 0:
                self._recorded.set()
            if self._closing and not self._done:
                return

    async def _write(self, batch: list[Delivered]) -> None:
        try:
            async with session_scope(self.sessionmaker) as session:
                await record_outcomes(session, batch, self.policy.backoff, self.worker_id)
        except Exception:  # the leases expire and the rows are sent again: nothing is lost
            log.exception("distribution: could not record %d outcomes", len(batch))

    async def _all_recorded(self) -> None:
        if self._unrecorded:
            await self._recorded.wait()


def _failed_locally(message: str, error_class: str = "transport") -> PushResult:
    return PushResult(
        outcome=Outcome.TRANSIENT,
        http_status=None,
        ocpi_status=None,
        message=message,
        request_id=None,
        error_class=error_class,
        retry_after=None,
        tries=1,
        duration_ms=0.0,
    )


async def _try_lock(session: AsyncSession, name: str) -> bool:
    """A transaction-scoped PostgreSQL advisory lock (always granted on SQLite: one writer anyway)."""
    if await dialect_name(session) != "postgresql":
        return True
    key = int.from_bytes(name.encode()[:8].ljust(8, b"\0"), "big", signed=True)
    return bool((await session.exec(text("SELECT pg_try_advisory_xact_lock(:k)").bindparams(k=key))).scalar())


async def deliver_until_idle(
    sessionmaker: SessionMaker,
    http: httpx.AsyncClient,
    policy: DeliveryPolicy,
    *,
    worker_id: str | None = None,
    sync: bool = True,
) -> WorkerStats:
    """Claim and deliver while there is due work (the scheduled job's body; tests call it directly)."""
    worker = DeliveryWorker(sessionmaker, http, policy, worker_id=worker_id, sync=sync)
    return await worker.run(until_idle=True)
