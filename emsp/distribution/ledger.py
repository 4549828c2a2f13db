"""The distribution ledger: which partner should have which version of which token.

Writes happen in the caller's transaction (functions only `flush()`):

- `mark_token_changed` / `mark_tokens_changed`: a token changed → for every eligible partner (CONNECTED,
  with a Tokens RECEIVER endpoint) the pair's one row wants the new version, PENDING, attempts reset, due
  now. A newer version supersedes whatever was pending (one row per pair: coalescing). Bulk upsert.
- `backfill_partner`: a partner became CONNECTED → every token PENDING for it (INSERT ... SELECT upsert).
- `pause_partner` / `resume_partner`: keep the rows but do not send (SUSPENDED, credentials refused,
  a hub reporting the party not CONNECTED); resume makes the paused rows due now.
- `cancel_partner`: UNREGISTERED (credentials deleted: no more automated traffic) → its rows go.
- `sync_partner` / `sync_partners`: bring the rows in line with each partner's status (called on a status
  change, and periodically by the worker so nothing depends on every caller remembering to).
- `retry_failed`: operator retry of FAILED rows in a scope (all, one partner, some tokens).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import and_, case, delete, false, func, literal, or_, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col
from sqlmodel import select as sm_select
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.distribution.tables import DeliveryStatus, PartnerDeliveryState, PauseReason, TokenDelivery
from ocpi.types import utcnow
from partners.tables import Partner, PartnerEndpoint, PartnerStatus

TOKENS_MODULE = "tokens"
RECEIVER = "RECEIVER"
_T = TokenDelivery.__table__  # type: ignore[attr-defined]
_UPSERT_CHUNK = 2000


class TokenVersion(Protocol):
    id: int | None
    version: int


@dataclass(frozen=True)
class EligiblePartner:
    partner_id: int
    paused: bool


def token_fingerprint(token: str | None) -> str | None:
    return None if token is None else hashlib.sha256(token.encode()).hexdigest()


async def dialect_name(session: AsyncSession) -> str:
    return str((await session.connection()).dialect.name)


def dialect_insert(dialect: str) -> Any:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


# ------------------------------------------------------------------------------------------ eligibility


def _with_tokens_receiver() -> Any:
    return (
        select(PartnerEndpoint.partner_id)
        .where(col(PartnerEndpoint.identifier) == TOKENS_MODULE, col(PartnerEndpoint.role) == RECEIVER)
        .scalar_subquery()
    )


async def eligible_partners(session: AsyncSession) -> list[EligiblePartner]:
    """CONNECTED partners with a Tokens RECEIVER endpoint, and whether pushing to each is paused."""
    stmt = (
        select(col(Partner.id), col(PartnerDeliveryState.pause_reason))
        .outerjoin(PartnerDeliveryState, col(PartnerDeliveryState.partner_id) == col(Partner.id))
        .where(col(Partner.status) == PartnerStatus.CONNECTED, col(Partner.id).in_(_with_tokens_receiver()))
        .order_by(col(Partner.id))
    )
    rows = (await session.exec(stmt)).all()
    return [EligiblePartner(partner_id=int(pid), paused=reason is not None) for pid, reason in rows]


# ------------------------------------------------------------------------------------------ token changes


async def mark_token_changed(
    session: AsyncSession, token: TokenVersion, *, now: datetime | None = None
) -> int:
    """Called by `emsp.tokens` in the same transaction as every token change, after the flush."""
    return await mark_tokens_changed(session, [token], now=now)


async def mark_tokens_changed(
    session: AsyncSession, tokens: Sequence[TokenVersion], *, now: datetime | None = None
) -> int:
    """Every eligible partner wants each token's current `version`; returns the rows written."""
    partners = await eligible_partners(session)
    if not partners or not tokens:
        return 0
    now = now or utcnow()
    rows = [
        {
            "token_id": token.id,
            "partner_id": partner.partner_id,
            "wanted_version": token.version,
            "status": DeliveryStatus.PENDING.value,
            "paused": partner.paused,
            "attempts": 0,
            "attempt_seq": 0,
            "next_attempt_at": now,
            "updated_at": now,
        }
        for token in tokens
        for partner in partners
    ]
    dialect = await dialect_name(session)
    connection = await session.connection()
    for start in range(0, len(rows), _UPSERT_CHUNK):
        chunk = rows[start : start + _UPSERT_CHUNK]
        stmt = dialect_insert(dialect)(_T).values(chunk)
        stmt = stmt.on_conflict_do_update(
            index_elements=[_T.c.token_id, _T.c.partner_id],
            set_=_superseding_values(stmt.excluded),
            where=_T.c.wanted_version <= stmt.excluded.wanted_version,
        )
        await connection.execute(stmt)
    return len(rows)


def _superseding_values(excluded: Any) -> dict[str, Any]:
    """What a newer change does to an existing row: wants the new version, PENDING now, attempts reset.
    A lease in progress is left alone: its outcome sees `wanted_version` moved and keeps the row PENDING."""
    return {
        "wanted_version": excluded.wanted_version,
        "status": DeliveryStatus.PENDING.value,
        "paused": excluded.paused,
        "attempts": 0,
        "next_attempt_at": excluded.next_attempt_at,
        "updated_at": excluded.updated_at,
    }


async def backfill_partner(
    session: AsyncSession, partner_id: int, *, now: datetime | None = None, only_missing: bool = False
) -> int:
    """Every token PENDING for the partner (it just became CONNECTED); with `only_missing`, only the tokens
    that have no row yet. Clears the partner's pause. Returns the rows written."""
    from emsp.tokens.tables import Token

    now = now or utcnow()
    await _set_pause_state(session, partner_id, None, None, None, now)
    dialect = await dialect_name(session)
    source = select(
        col(Token.id),
        literal(partner_id),
        col(Token.version),
        literal(DeliveryStatus.PENDING.value),
        false(),
        literal(0),
        literal(0),
        literal(now, type_=_T.c.next_attempt_at.type),
        literal(now, type_=_T.c.updated_at.type),
    ).where(true())  # `WHERE true`: SQLite needs it to parse INSERT ... SELECT ... ON CONFLICT
    names = [
        "token_id",
        "partner_id",
        "wanted_version",
        "status",
        "paused",
        "attempts",
        "attempt_seq",
        "next_attempt_at",
        "updated_at",
    ]
    stmt = dialect_insert(dialect)(_T).from_select(names, source)
    if only_missing:
        stmt = stmt.on_conflict_do_nothing(index_elements=[_T.c.token_id, _T.c.partner_id])
    else:
        stmt = stmt.on_conflict_do_update(
            index_elements=[_T.c.token_id, _T.c.partner_id], set_=_superseding_values(stmt.excluded)
        )
    result = await (await session.connection()).execute(stmt)
    await _unpause_rows(session, partner_id, now)
    return int(result.rowcount or 0)


# ------------------------------------------------------------------------------------------ partner state


async def _set_pause_state(
    session: AsyncSession,
    partner_id: int,
    reason: str | None,
    message: str | None,
    fingerprint: str | None,
    now: datetime,
) -> None:
    state = await session.get(PartnerDeliveryState, partner_id)
    if state is None:
        if reason is None:
            return
        state = PartnerDeliveryState(partner_id=partner_id)
    state.pause_reason = reason
    state.pause_message = None if message is None else message[:500]
    state.paused_at = now if reason is not None else None
    state.token_fingerprint = fingerprint
    state.updated_at = now
    session.add(state)
    await session.flush()


async def pause_partner(
    session: AsyncSession,
    partner_id: int,
    reason: PauseReason,
    message: str | None = None,
    *,
    fingerprint: str | None = None,
    now: datetime | None = None,
) -> int:
    """Stop pushing to a partner but keep its rows (and keep marking them on changes). `fingerprint`: of the
    client token the partner refused (a new token resumes it, see `sync_partner`)."""
    now = now or utcnow()
    await _set_pause_state(session, partner_id, reason.value, message, fingerprint, now)
    result = await session.exec(
        update(_T)
        .where(_T.c.partner_id == partner_id, _T.c.paused == false())
        .values(paused=True, updated_at=now)
    )
    return int(result.rowcount or 0)


async def resume_partner(session: AsyncSession, partner_id: int, *, now: datetime | None = None) -> int:
    """Push again: clears the pause; paused PENDING rows are due now with their attempts reset."""
    now = now or utcnow()
    await _set_pause_state(session, partner_id, None, None, None, now)
    return await _unpause_rows(session, partner_id, now)


async def _unpause_rows(session: AsyncSession, partner_id: int, now: datetime) -> int:
    result = await session.exec(
        update(_T)
        .where(_T.c.partner_id == partner_id, _T.c.paused == true())
        .values(
            paused=False,
            attempts=case((_T.c.status == DeliveryStatus.PENDING.value, 0), else_=_T.c.attempts),
            next_attempt_at=case(
                (_T.c.status == DeliveryStatus.PENDING.value, now), else_=_T.c.next_attempt_at
            ),
            updated_at=now,
        )
    )
    return int(result.rowcount or 0)


async def cancel_partner(session: AsyncSession, partner_id: int) -> int:
    """No more automated traffic to the partner (UNREGISTERED): its rows and pause state go."""
    result = await session.exec(delete(_T).where(_T.c.partner_id == partner_id))
    await session.exec(delete(PartnerDeliveryState).where(col(PartnerDeliveryState.partner_id) == partner_id))
    return int(result.rowcount or 0)


async def sync_partner(session: AsyncSession, partner: Partner, *, now: datetime | None = None) -> str:
    """Bring one partner's rows in line with its status; returns what was done (for logs and tests)."""
    assert partner.id is not None
    now = now or utcnow()
    state = await session.get(PartnerDeliveryState, partner.id)
    has_endpoint = (
        await session.exec(
            select(func.count())
            .select_from(PartnerEndpoint)
            .where(
                col(PartnerEndpoint.partner_id) == partner.id,
                col(PartnerEndpoint.identifier) == TOKENS_MODULE,
                col(PartnerEndpoint.role) == RECEIVER,
            )
        )
    ).scalar_one() > 0
    if partner.status == PartnerStatus.UNREGISTERED or (
        partner.status == PartnerStatus.CONNECTED and not has_endpoint
    ):
        removed = await cancel_partner(session, partner.id)
        return "cancelled" if removed or state is not None else "none"
    if partner.status != PartnerStatus.CONNECTED or not partner.client_token:
        if state is not None and state.pause_reason == PauseReason.PARTNER_STATUS:
            return "none"
        await pause_partner(
            session, partner.id, PauseReason.PARTNER_STATUS, f"partner is {partner.status}", now=now
        )
        return "paused"
    if state is not None and state.pause_reason == PauseReason.PARTNER_STATUS:
        await backfill_partner(session, partner.id, now=now)
        return "backfilled"
    if state is not None and state.pause_reason == PauseReason.CREDENTIALS:
        if state.token_fingerprint != token_fingerprint(partner.client_token):
            await resume_partner(session, partner.id, now=now)
            return "resumed"
        return "none"
    if await _missing_rows(session, partner.id):
        await backfill_partner(session, partner.id, now=now, only_missing=True)
        return "backfilled"
    return "none"


async def _missing_rows(session: AsyncSession, partner_id: int) -> bool:
    from emsp.tokens.tables import Token

    tokens = (await session.exec(select(func.count()).select_from(Token))).scalar_one()
    rows = (
        await session.exec(select(func.count()).select_from(_T).where(_T.c.partner_id == partner_id))
    ).scalar_one()
    return int(rows) < int(tokens)


async def sync_partners(session: AsyncSession, *, now: datetime | None = None) -> dict[int, str]:
    """`sync_partner` for every partner that has rows, a pause state or a Tokens RECEIVER endpoint."""
    with_rows = select(_T.c.partner_id).distinct().scalar_subquery()
    with_state = select(PartnerDeliveryState.partner_id).scalar_subquery()
    stmt = sm_select(Partner).where(
        or_(
            col(Partner.id).in_(_with_tokens_receiver()),
            col(Partner.id).in_(with_rows),
            col(Partner.id).in_(with_state),
        )
    )
    partners = list((await session.exec(stmt.order_by(col(Partner.id)))).all())
    return {p.id: await sync_partner(session, p, now=now) for p in partners if p.id is not None}


# ------------------------------------------------------------------------------------------ operator actions


async def retry_failed(
    session: AsyncSession,
    *,
    partner_ids: Iterable[int] | None = None,
    token_ids: Iterable[int] | None = None,
    now: datetime | None = None,
) -> int:
    """FAILED rows in the scope become PENDING, due now, attempts reset; returns how many. A partner paused
    because it refused our credentials is resumed too when it is in the scope (the operator fixed it)."""
    now = now or utcnow()
    conditions = [_T.c.status == DeliveryStatus.FAILED.value]
    partners = None if partner_ids is None else sorted(set(partner_ids))
    if partners is not None:
        conditions.append(_T.c.partner_id.in_(partners))
    if token_ids is not None:
        conditions.append(_T.c.token_id.in_(sorted(set(token_ids))))
    result = await session.exec(
        update(_T)
        .where(and_(*conditions))
        .values(status=DeliveryStatus.PENDING.value, attempts=0, next_attempt_at=now, updated_at=now)
    )
    if token_ids is None:
        stmt = sm_select(PartnerDeliveryState).where(
            col(PartnerDeliveryState.pause_reason) == PauseReason.CREDENTIALS
        )
        if partners is not None:
            stmt = stmt.where(col(PartnerDeliveryState.partner_id).in_(partners))
        for state in (await session.exec(stmt)).all():
            await resume_partner(session, state.partner_id, now=now)
    return int(result.rowcount or 0)


async def mark_pending(
    session: AsyncSession, delivery_ids: Sequence[int], *, now: datetime | None = None
) -> int:
    """Rows to send again (reconciliation found the partner's copy differs): PENDING with the token's
    current version, due now."""
    if not delivery_ids:
        return 0
    from emsp.tokens.tables import Token

    now = now or utcnow()
    current = select(Token.version).where(col(Token.id) == _T.c.token_id).scalar_subquery()
    result = await session.exec(
        update(_T)
        .where(_T.c.id.in_(list(delivery_ids)))
        .values(
            wanted_version=current,
            status=DeliveryStatus.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            updated_at=now,
        )
    )
    return int(result.rowcount or 0)
