"""What operators see: per-partner counts with one line per target party, one token's distribution with
its attempt log, row listings. Every output is JSON-ready and never contains a credentials token.

A partner's entry carries its own role and party (a hub's HUB role) and its totals, and `parties`: one
line per party its rows are addressed to (`addressing`): a direct partner's own party; a hub's broadcast
(its own party, `broadcast: true`) or each CPO party it reports, with the HubClientInfo status. Parties a
hub reports SUSPENDED are listed with no rows (`receives: false`). A line's `pause_reason` is the
partner's (PARTNER_STATUS, CREDENTIALS) or NOT_CONNECTED for a party the hub does not report CONNECTED;
rows carry the same `pause_reason` when paused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, true
from sqlmodel import col
from sqlmodel import select as sm_select
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.distribution.addressing import (
    Target,
    partner_roles,
    reported_parties,
    targets_from_roles,
)
from emsp.distribution.ledger import IS_TOKENS_RECEIVER
from emsp.distribution.tables import (
    DeliveryStatus,
    PartnerDeliveryState,
    PauseReason,
    TokenDelivery,
    TokenDeliveryAttempt,
)
from emsp.tokens.errors import TokenNotFound
from emsp.tokens.tables import Token
from ocpi.models.hubclientinfo import ConnectionStatus
from ocpi.types import format_datetime
from partners.delivery import Party, pick_to_party
from partners.tables import Partner, PartnerEndpoint

_T = TokenDelivery.__table__  # type: ignore[attr-defined]
_A = TokenDeliveryAttempt.__table__  # type: ignore[attr-defined]
_S = PartnerDeliveryState.__table__  # type: ignore[attr-defined]


def _dt(value: datetime | None) -> str | None:
    return None if value is None else format_datetime(value)


def _party(roles: list[tuple[str, str, str]]) -> dict[str, str | None]:
    """The partner's own role and party (a hub's HUB role, else CPO, else the first)."""
    own = pick_to_party(roles)
    role = next((r for r, cc, pid in roles if own == (cc, pid)), None)
    return {
        "role": role,
        "country_code": None if own is None else own[0],
        "party_id": None if own is None else own[1],
    }


def _pause_reason(partner_reason: str | None, paused: bool) -> str | None:
    """Why a paused row is not sent: the partner's reason, else its party is not CONNECTED behind its hub."""
    if not paused:
        return None
    return partner_reason or PauseReason.NOT_CONNECTED.value


def _counts(entry: dict[str, Any] | None) -> dict[str, Any]:
    entry = entry or {}
    return {
        "succeeded": entry.get(DeliveryStatus.SUCCEEDED.value, 0),
        "failed": entry.get(DeliveryStatus.FAILED.value, 0),
        "pending": entry.get(DeliveryStatus.PENDING.value, 0),
        "paused": entry.get("paused", 0),
        "last_success_at": _dt(entry.get("last_success_at")),
        "last_failure_at": _dt(entry.get("last_failure_at")),
    }


def _add(
    stats: dict[Any, dict[str, Any]], key: Any, status: str, n: int, paused: int, ok: Any, bad: Any
) -> None:
    entry = stats.setdefault(key, {"paused": 0, "last_success_at": None, "last_failure_at": None})
    entry[status] = entry.get(status, 0) + n
    entry["paused"] += paused
    entry["last_success_at"] = _latest(entry["last_success_at"], ok)
    entry["last_failure_at"] = _latest(entry["last_failure_at"], bad)


def _party_lines(
    targets: list[Target],
    suspended: list[Party],
    stats: dict[tuple[int, Party], dict[str, Any]],
    partner_id: int,
    partner_reason: str | None,
) -> list[dict[str, Any]]:
    """One line per target party, then parties with rows that are no target (yet), then SUSPENDED ones."""
    lines: list[dict[str, Any]] = []
    seen: set[Party] = set()

    def line(party: Party, target: Target | None, client_status: str | None) -> None:
        seen.add(party)
        connected = target is not None and target.connected
        lines.append(
            {
                "country_code": party[0],
                "party_id": party[1],
                "broadcast": target is not None and target.broadcast,
                "client_status": client_status,
                "receives": target is not None,
                "pause_reason": partner_reason or (None if connected else PauseReason.NOT_CONNECTED.value),
                **_counts(stats.get((partner_id, party))),
            }
        )

    for target in targets:
        line(target.party, target, target.client_status)
    for owner, party in sorted(stats):
        if owner == partner_id and party not in seen:
            line(party, None, None)
    for party in suspended:
        if party not in seen:
            line(party, None, ConnectionStatus.SUSPENDED.value)
    return lines


async def partner_summaries(session: AsyncSession, partner_id: int | None = None) -> list[dict[str, Any]]:
    """One entry per partner that receives tokens (or has rows): totals by status, last outcomes, and one
    line per target party (`parties`)."""
    counts = select(
        _T.c.partner_id,
        _T.c.to_country_code,
        _T.c.to_party_id,
        _T.c.status,
        func.count(),
        func.sum(case((_T.c.paused == true(), 1), else_=0)),
        func.max(_T.c.last_success_at),
        func.max(_T.c.last_failure_at),
    ).group_by(_T.c.partner_id, _T.c.to_country_code, _T.c.to_party_id, _T.c.status)
    with_endpoint = select(PartnerEndpoint.partner_id).where(IS_TOKENS_RECEIVER)
    partners_q = sm_select(Partner).where(
        col(Partner.id).in_(with_endpoint) | col(Partner.id).in_(select(_T.c.partner_id).distinct())
    )
    if partner_id is not None:
        counts = counts.where(_T.c.partner_id == partner_id)
        partners_q = sm_select(Partner).where(col(Partner.id) == partner_id)
    partners = list((await session.exec(partners_q.order_by(col(Partner.name)))).all())
    totals: dict[Any, dict[str, Any]] = {}
    per_party: dict[tuple[int, Party], dict[str, Any]] = {}
    for pid, cc, party, status, n, paused, ok, bad in (await session.exec(counts)).all():
        _add(totals, int(pid), str(status), int(n), int(paused or 0), ok, bad)
        _add(per_party, (int(pid), (str(cc), str(party))), str(status), int(n), int(paused or 0), ok, bad)
    ids = [p.id for p in partners if p.id is not None]
    roles = await partner_roles(session, ids)
    targets = await targets_from_roles(session, ids, roles)
    listed, _ = await reported_parties(session, ids)
    states = {s.partner_id: s for s in (await session.exec(sm_select(PartnerDeliveryState))).all()}
    result = []
    for partner in partners:
        assert partner.id is not None
        state = states.get(partner.id)
        reason = None if state is None else state.pause_reason
        suspended = [
            (p.country_code, p.party_id)
            for p in listed.get(partner.id, [])
            if p.status == ConnectionStatus.SUSPENDED
        ]
        result.append(
            {
                "partner_id": partner.id,
                "partner": partner.name,
                "partner_status": partner.status,
                **_party(roles.get(partner.id, [])),
                **_counts(totals.get(partner.id)),
                "pause_reason": reason,
                "pause_message": None if state is None else state.pause_message,
                "last_reconciled_at": None if state is None else _dt(state.last_reconciled_at),
                "parties": _party_lines(
                    targets.get(partner.id, []), suspended, per_party, partner.id, reason
                ),
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
        "to_country_code": delivery.to_country_code,
        "to_party_id": delivery.to_party_id,
        "status": delivery.status,
        "paused": bool(delivery.paused),
        "pause_reason": _pause_reason(delivery.partner_pause_reason, bool(delivery.paused)),
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


def _rows_with_pause_reason(*extra: Any) -> Any:
    """Ledger rows with their partner's pause reason (`partner_pause_reason`)."""
    return select(_T, _S.c.pause_reason.label("partner_pause_reason"), *extra).outerjoin(
        _S, _S.c.partner_id == _T.c.partner_id
    )


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
    """A token's distribution: per partner and target party, the row with its last outcome and attempt log
    (newest first). `TokenNotFound` (an admin 404) when there is no such token."""
    token = await session.get(Token, token_id)
    if token is None:
        raise TokenNotFound(f"no token with id {token_id}")
    stmt = _rows_with_pause_reason().where(_T.c.token_id == token_id)
    rows = (await session.exec(stmt.order_by(_T.c.partner_id, _T.c.to_country_code, _T.c.to_party_id))).all()
    ids = [r.id for r in rows]
    attempts: dict[int, list[dict[str, Any]]] = {}
    if ids:
        stmt = select(_A).where(_A.c.delivery_id.in_(ids)).order_by(_A.c.delivery_id, _A.c.seq.desc())
        for row in (await session.exec(stmt)).all():
            attempts.setdefault(row.delivery_id, []).append(_attempt(row))
    partner_ids = sorted({int(r.partner_id) for r in rows})
    names = {
        p.id: p.name
        for p in (await session.exec(sm_select(Partner).where(col(Partner.id).in_(partner_ids)))).all()
    }
    roles = await partner_roles(session, partner_ids)
    targets = await targets_from_roles(session, partner_ids, roles)
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
                **_target_of(targets.get(r.partner_id, []), (r.to_country_code, r.to_party_id)),
                **_row(r),
                "attempt_log": attempts.get(r.id, []),
            }
            for r in rows
        ],
    }


def _target_of(targets: list[Target], party: Party) -> dict[str, Any]:
    target = next((t for t in targets if t.party == party), None)
    return {
        "broadcast": target is not None and target.broadcast,
        "client_status": None if target is None else target.client_status,
    }


async def list_deliveries(
    session: AsyncSession,
    *,
    partner_id: int | None = None,
    status: str | None = None,
    party: Party | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Rows (oldest id first) with their token's uid, filtered by partner, target party and status."""
    table = Token.__table__  # type: ignore[attr-defined]
    stmt = _rows_with_pause_reason(table.c.uid, table.c.type).join(table, table.c.id == _T.c.token_id)
    if partner_id is not None:
        stmt = stmt.where(_T.c.partner_id == partner_id)
    if party is not None:
        stmt = stmt.where(_T.c.to_country_code == party[0], _T.c.to_party_id == party[1])
    if status is not None:
        stmt = stmt.where(_T.c.status == status)
    rows = (await session.exec(stmt.order_by(_T.c.id).limit(limit).offset(offset))).all()
    return [{"token_uid": r.uid, "token_type": r.type, **_row(r)} for r in rows]


async def token_distribution(session: AsyncSession, token_id: int) -> list[dict[str, Any]]:
    """The per-partner part of `distribution_for_token` (the tokens admin detail shows it)."""
    return list((await distribution_for_token(session, token_id))["partners"])
