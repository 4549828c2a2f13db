"""What operators see: per-partner counts, one token's distribution with its attempt log, row listings.
Every output is JSON-ready and never contains a credentials token."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, true
from sqlmodel import col
from sqlmodel import select as sm_select
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.distribution.ledger import RECEIVER, TOKENS_MODULE
from emsp.distribution.tables import (
    DeliveryStatus,
    PartnerDeliveryState,
    TokenDelivery,
    TokenDeliveryAttempt,
)
from emsp.tokens.errors import TokenNotFound
from emsp.tokens.tables import Token
from ocpi.types import format_datetime
from partners.delivery import pick_to_party
from partners.tables import Partner, PartnerEndpoint, PartnerRole

_T = TokenDelivery.__table__  # type: ignore[attr-defined]
_A = TokenDeliveryAttempt.__table__  # type: ignore[attr-defined]


def _dt(value: datetime | None) -> str | None:
    return None if value is None else format_datetime(value)


async def _roles(session: AsyncSession, partner_ids: Sequence[int]) -> dict[int, list[tuple[str, str, str]]]:
    rows = (
        await session.exec(
            select(
                col(PartnerRole.partner_id),
                col(PartnerRole.role),
                col(PartnerRole.country_code),
                col(PartnerRole.party_id),
            )
            .where(col(PartnerRole.partner_id).in_(list(partner_ids)))
            .order_by(col(PartnerRole.id))
        )
    ).all()
    by_partner: dict[int, list[tuple[str, str, str]]] = {}
    for pid, role, cc, party in rows:
        by_partner.setdefault(int(pid), []).append((str(role), str(cc), str(party)))
    return by_partner


def _party(roles: list[tuple[str, str, str]]) -> dict[str, str | None]:
    """The role and party pushes are addressed to (a hub's HUB role, else CPO, else the first)."""
    to_party = pick_to_party(roles)
    role = next((r for r, cc, pid in roles if to_party == (cc, pid)), None)
    return {
        "role": role,
        "country_code": None if to_party is None else to_party[0],
        "party_id": None if to_party is None else to_party[1],
    }


async def partner_summaries(session: AsyncSession, partner_id: int | None = None) -> list[dict[str, Any]]:
    """One entry per partner that receives tokens (or has rows): counts by status and last outcomes."""
    counts = select(
        _T.c.partner_id,
        _T.c.status,
        func.count(),
        func.sum(case((_T.c.paused == true(), 1), else_=0)),
        func.max(_T.c.last_success_at),
        func.max(_T.c.last_failure_at),
    ).group_by(_T.c.partner_id, _T.c.status)
    with_endpoint = select(PartnerEndpoint.partner_id).where(
        col(PartnerEndpoint.identifier) == TOKENS_MODULE, col(PartnerEndpoint.role) == RECEIVER
    )
    partners_q = sm_select(Partner).where(
        col(Partner.id).in_(with_endpoint) | col(Partner.id).in_(select(_T.c.partner_id).distinct())
    )
    if partner_id is not None:
        counts = counts.where(_T.c.partner_id == partner_id)
        partners_q = sm_select(Partner).where(col(Partner.id) == partner_id)
    partners = list((await session.exec(partners_q.order_by(col(Partner.name)))).all())
    stats: dict[int, dict[str, Any]] = {}
    for pid, status, n, paused, last_ok, last_fail in (await session.exec(counts)).all():
        entry = stats.setdefault(int(pid), {"paused": 0, "last_success_at": None, "last_failure_at": None})
        entry[str(status)] = int(n)
        entry["paused"] += int(paused or 0)
        entry["last_success_at"] = _latest(entry["last_success_at"], last_ok)
        entry["last_failure_at"] = _latest(entry["last_failure_at"], last_fail)
    roles = await _roles(session, [p.id for p in partners if p.id is not None])
    states = {s.partner_id: s for s in (await session.exec(sm_select(PartnerDeliveryState))).all()}
    result = []
    for partner in partners:
        assert partner.id is not None
        entry = stats.get(partner.id, {})
        state = states.get(partner.id)
        result.append(
            {
                "partner_id": partner.id,
                "partner": partner.name,
                "partner_status": partner.status,
                **_party(roles.get(partner.id, [])),
                "succeeded": entry.get(DeliveryStatus.SUCCEEDED.value, 0),
                "failed": entry.get(DeliveryStatus.FAILED.value, 0),
                "pending": entry.get(DeliveryStatus.PENDING.value, 0),
                "paused": entry.get("paused", 0),
                "pause_reason": None if state is None else state.pause_reason,
                "pause_message": None if state is None else state.pause_message,
                "last_success_at": _dt(entry.get("last_success_at")),
                "last_failure_at": _dt(entry.get("last_failure_at")),
                "last_reconciled_at": None if state is None else _dt(state.last_reconciled_at),
            }
        )
    return result


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


def _row(delivery: Any) -> dict[str, Any]:
    return {
        "delivery_id": delivery.id,
        "token_id": delivery.token_id,
        "partner_id": delivery.partner_id,
        "status": delivery.status,
        "paused": bool(delivery.paused),
        "wanted_version": delivery.wanted_version,
        "acked_version": delivery.acked_version,
        "attempts": delivery.attempts,
        "last_attempt_at": _dt(delivery.last_attempt_at),
        "next_attempt_at": _dt(delivery.next_attempt_at),
        "in_flight": delivery.lease_token is not None,
        "last_outcome": {
            "outcome": delivery.last_outcome,
            "http_status": delivery.last_http_status,
            "ocpi_status": delivery.last_ocpi_status,
            "message": delivery.last_message,
            "request_id": delivery.last_request_id,
            "error_class": delivery.last_error_class,
        },
        "last_success_at": _dt(delivery.last_success_at),
        "last_failure_at": _dt(delivery.last_failure_at),
    }


def _attempt(row: Any) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "at": _dt(row.at),
        "version": row.version,
        "outcome": row.outcome,
        "http_status": row.http_status,
        "ocpi_status": row.ocpi_status,
        "message": row.message,
        "request_id": row.request_id,
        "error_class": row.error_class,
        "tries": row.tries,
        "duration_ms": row.duration_ms,
        "worker": row.worker,
    }


async def distribution_for_token(session: AsyncSession, token_id: int) -> dict[str, Any]:
    """A token's distribution: per partner, the row with its last outcome and attempt log (newest first).
    `TokenNotFound` (an admin 404) when there is no such token."""
    token = await session.get(Token, token_id)
    if token is None:
        raise TokenNotFound(f"no token with id {token_id}")
    rows = (await session.exec(select(_T).where(_T.c.token_id == token_id).order_by(_T.c.partner_id))).all()
    ids = [r.id for r in rows]
    attempts: dict[int, list[dict[str, Any]]] = {}
    if ids:
        stmt = select(_A).where(_A.c.delivery_id.in_(ids)).order_by(_A.c.delivery_id, _A.c.seq.desc())
        for row in (await session.exec(stmt)).all():
            attempts.setdefault(row.delivery_id, []).append(_attempt(row))
    partner_ids = [r.partner_id for r in rows]
    names = {
        p.id: p.name
        for p in (await session.exec(sm_select(Partner).where(col(Partner.id).in_(partner_ids)))).all()
    }
    roles = await _roles(session, partner_ids)
    return {
        "token": {
            "id": token.id,
            "country_code": token.country_code,
            "party_id": token.party_id,
            "uid": token.uid,
            "type": token.type,
            "version": token.version,
            "last_updated": _dt(token.last_updated),
        },
        "partners": [
            {
                "partner": names.get(r.partner_id),
                **_party(roles.get(r.partner_id, [])),
                **_row(r),
                "attempt_log": attempts.get(r.id, []),
            }
            for r in rows
        ],
    }


async def list_deliveries(
    session: AsyncSession,
    *,
    partner_id: int | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Rows (oldest id first) with their token's uid, filtered by partner and status."""
    table = Token.__table__  # type: ignore[attr-defined]
    stmt = select(_T, table.c.uid, table.c.type).join(table, table.c.id == _T.c.token_id)
    if partner_id is not None:
        stmt = stmt.where(_T.c.partner_id == partner_id)
    if status is not None:
        stmt = stmt.where(_T.c.status == status)
    rows = (await session.exec(stmt.order_by(_T.c.id).limit(limit).offset(offset))).all()
    return [{"token_uid": r.uid, "token_type": r.type, **_row(r)} for r in rows]


async def token_distribution(session: AsyncSession, token_id: int) -> list[dict[str, Any]]:
    """The per-partner part of `distribution_for_token` (the tokens admin detail shows it)."""
    return list((await distribution_for_token(session, token_id))["partners"])
