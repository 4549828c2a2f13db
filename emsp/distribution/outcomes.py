"""Writing what deliveries came to, many at a time, in one short transaction.

Each outcome is written only while the worker still holds the row's lease (`lease_token` fence), and it
respects what happened to the row meanwhile: when a newer change arrived during the call
(`wanted_version > sent`) the row stays PENDING for the newer version, whatever this answer was; a success
only acknowledges the version SENT (a late ack of an older version never completes a newer one).

    SUCCESS      acked_version = max(acked, sent); SUCCEEDED when sent >= wanted, else PENDING
    TRANSIENT    PENDING, next attempt after the persisted backoff; FAILED once attempts >= max
    PERMANENT    FAILED at once, with the partner's status and message
    CREDENTIALS  PENDING and paused; the partner is paused for credentials attention (no loop)
    skipped      not sent (partner paused meanwhile): lease released, the claim not counted
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Boolean, Integer, and_, bindparam, case, delete, insert, or_, update
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.distribution.ledger import pause_partner
from emsp.distribution.tables import (
    ATTEMPT_LOG_KEEP,
    DeliveryStatus,
    PauseReason,
    TokenDelivery,
    TokenDeliveryAttempt,
)
from partners.delivery import BackoffPolicy, Outcome, PushResult, retry_delay
from partners.sqltypes import UTCDateTime

log = logging.getLogger("emsp.distribution")

_T = TokenDelivery.__table__  # type: ignore[attr-defined]
_A = TokenDeliveryAttempt.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Claim:
    """A row a worker holds: what to send and the lease that fences its outcome."""

    id: int
    token_id: int
    partner_id: int
    wanted_version: int
    attempts: int  # including this claim
    attempt_seq: int  # this claim's number in the row's attempt log
    lease_token: str
    to_country_code: str  # the party the push is addressed to (`OCPI-to-*`)
    to_party_id: str

    @property
    def to_party(self) -> tuple[str, str] | None:
        return (self.to_country_code, self.to_party_id) if self.to_country_code and self.to_party_id else None


@dataclass(frozen=True)
class Delivered:
    """One claim's result. `result` None: not sent (`skip_reason` says why)."""

    claim: Claim
    version: int
    result: PushResult | None
    at: datetime
    skip_reason: str | None = None
    client_token_fingerprint: str | None = None
    pause_partner: bool = False  # not sent because the partner cannot be pushed to (`skip_reason`)


_SENT = bindparam("b_sent", type_=Integer)
_OK = bindparam("b_ok", type_=Boolean)
_NOW = bindparam("b_now", type_=UTCDateTime())
_SUPERSEDED = _T.c.wanted_version > _SENT

_RECORD = (
    update(_T)
    .where(_T.c.id == bindparam("b_id"), _T.c.lease_token == bindparam("b_lease"))
    .values(
        acked_version=case(
            (and_(_OK, or_(_T.c.acked_version.is_(None), _T.c.acked_version < _SENT)), _SENT),
            else_=_T.c.acked_version,
        ),
        status=case(
            (_OK, case((_SUPERSEDED, DeliveryStatus.PENDING.value), else_=DeliveryStatus.SUCCEEDED.value)),
            (_SUPERSEDED, DeliveryStatus.PENDING.value),
            else_=bindparam("b_fail_status"),
        ),
        next_attempt_at=case(
            (_OK, case((_SUPERSEDED, _T.c.next_attempt_at), else_=None)),
            (_SUPERSEDED, _T.c.next_attempt_at),
            else_=bindparam("b_next", type_=UTCDateTime()),
        ),
        paused=case((bindparam("b_pause", type_=Boolean), True), else_=_T.c.paused),
        last_outcome=bindparam("b_outcome"),
        last_http_status=bindparam("b_http", type_=Integer),
        last_ocpi_status=bindparam("b_ocpi", type_=Integer),
        last_message=bindparam("b_message"),
        last_request_id=bindparam("b_request_id"),
        last_error_class=bindparam("b_error_class"),
        last_success_at=case((_OK, _NOW), else_=_T.c.last_success_at),
        last_failure_at=case((_OK, _T.c.last_failure_at), else_=_NOW),
        claimed_by=None,
        lease_until=None,
        lease_token=None,
        updated_at=_NOW,
    )
)

_RELEASE = (
    update(_T)
    .where(_T.c.id == bindparam("b_id"), _T.c.lease_token == bindparam("b_lease"))
    .values(
        attempts=case((_T.c.attempts > 0, _T.c.attempts - 1), else_=0),
        claimed_by=None,
        lease_until=None,
        lease_token=None,
        updated_at=bindparam("b_now", type_=UTCDateTime()),
    )
)

_PRUNE = delete(_A).where(_A.c.delivery_id == bindparam("b_id"), _A.c.seq <= bindparam("b_upto"))


def _failure(delivered: Delivered, backoff: BackoffPolicy) -> tuple[str, datetime | None]:
    """(status, next attempt) for a failed attempt of a row that was not superseded."""
    assert delivered.result is not None
    outcome, attempts = delivered.result.outcome, delivered.claim.attempts
    if outcome == Outcome.PERMANENT:
        return DeliveryStatus.FAILED.value, None
    if outcome == Outcome.CREDENTIALS:
        return DeliveryStatus.PENDING.value, delivered.at
    if attempts >= backoff.max_attempts:
        return DeliveryStatus.FAILED.value, None
    delay = retry_delay(attempts, delivered.result.retry_after, backoff)
    return DeliveryStatus.PENDING.value, delivered.at + timedelta(seconds=delay)


def _record_params(delivered: Delivered, backoff: BackoffPolicy) -> dict[str, object]:
    result = delivered.result
    assert result is not None
    ok = result.outcome == Outcome.SUCCESS
    status, next_at = (DeliveryStatus.SUCCEEDED.value, None) if ok else _failure(delivered, backoff)
    return {
        "b_id": delivered.claim.id,
        "b_lease": delivered.claim.lease_token,
        "b_sent": delivered.version,
        "b_ok": ok,
        "b_now": delivered.at,
        "b_fail_status": status,
        "b_next": next_at,
        "b_pause": result.outcome == Outcome.CREDENTIALS,
        "b_outcome": result.outcome.value,
        "b_http": result.http_status,
        "b_ocpi": result.ocpi_status,
        "b_message": None if result.message is None else result.message[:500],
        "b_request_id": None if result.request_id is None else result.request_id[:64],
        "b_error_class": result.error_class,
    }


def _attempt_row(delivered: Delivered, worker_id: str) -> dict[str, object]:
    result = delivered.result
    assert result is not None
    return {
        "delivery_id": delivered.claim.id,
        "seq": delivered.claim.attempt_seq,
        "version": delivered.version,
        "outcome": result.outcome.value,
        "http_status": result.http_status,
        "ocpi_status": result.ocpi_status,
        "message": None if result.message is None else result.message[:500],
        "request_id": None if result.request_id is None else result.request_id[:64],
        "error_class": result.error_class,
        "tries": result.tries,
        "duration_ms": result.duration_ms,
        "worker": worker_id[:80],
        "at": delivered.at,
    }


async def record_outcomes(
    session: AsyncSession, delivered: Sequence[Delivered], backoff: BackoffPolicy, worker_id: str
) -> None:
    """Write a batch of outcomes (rows, attempt log, partner pauses) in the caller's transaction."""
    sent = [d for d in delivered if d.result is not None]
    skipped = [d for d in delivered if d.result is None]
    connection = await session.connection()
    if sent:
        await connection.execute(_RECORD, [_record_params(d, backoff) for d in sent])
        await connection.execute(insert(_A), [_attempt_row(d, worker_id) for d in sent])
        prune = [
            {"b_id": d.claim.id, "b_upto": d.claim.attempt_seq - ATTEMPT_LOG_KEEP}
            for d in sent
            if d.claim.attempt_seq > ATTEMPT_LOG_KEEP
        ]
        if prune:
            await connection.execute(_PRUNE, prune)
    if skipped:
        params = [{"b_id": d.claim.id, "b_lease": d.claim.lease_token, "b_now": d.at} for d in skipped]
        await connection.execute(_RELEASE, params)
    await _pause_partners(session, delivered)


async def _pause_partners(session: AsyncSession, delivered: Sequence[Delivered]) -> None:
    """Partners that refused our credentials, or that cannot be pushed to: paused, once each."""
    done: set[int] = set()
    for d in delivered:
        pid = d.claim.partner_id
        if pid in done:
            continue
        if d.result is not None and d.result.outcome == Outcome.CREDENTIALS:
            message = f"credentials refused (HTTP {d.result.http_status}): {d.result.message or ''}".strip()
            log.warning("pausing token pushes to partner %s: %s", pid, message)
            await pause_partner(
                session,
                pid,
                PauseReason.CREDENTIALS,
                message,
                fingerprint=d.client_token_fingerprint,
                now=d.at,
            )
            done.add(pid)
        elif d.result is None and d.pause_partner:
            log.info("pausing token pushes to partner %s: %s", pid, d.skip_reason)
            await pause_partner(session, pid, PauseReason.PARTNER_STATUS, d.skip_reason, now=d.at)
            done.add(pid)
