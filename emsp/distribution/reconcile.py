"""Reconciliation: GET delivered tokens back from the partner and send again what differs.

Spec mod_tokens.asciidoc: "When the eMSP is not sure about the state or existence of a Token object in the
CPO system, the eMSP can call the GET to validate the Token object in the CPO system." For a sample (or all)
of a partner's SUCCEEDED rows (not paused): `GET {tokens endpoint}/{cc}/{pid}/{uid}?type=`, addressed
(`OCPI-to-*`) to the row's target party like its push (never a hub's broadcast rows: "GET SHALL NOT be used
in combination with Broadcast Push"); a 404 or a copy that differs from our current state makes the row
PENDING again. Calls that fail otherwise decide nothing.

Each partner is reconciled at most once per interval, whichever worker gets there first: the turn is taken
by a conditional UPDATE of `partner_delivery_state.last_reconciled_at` (works on both databases).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import false, func, or_, select, tuple_, update
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.db import SessionMaker, session_scope
from emsp.distribution.addressing import targets_of
from emsp.distribution.ledger import dialect_insert, dialect_name, eligible_partners, mark_pending
from emsp.distribution.policy import DeliveryPolicy
from emsp.distribution.tables import DeliveryStatus, PartnerDeliveryState, TokenDelivery
from emsp.distribution.targets import PartnerTarget, load_targets
from emsp.tokens.ocpi_map import to_ocpi
from emsp.tokens.tables import Token
from ocpi.client import OcpiClient
from ocpi.errors import PartnerCallError
from ocpi.types import to_utc, utcnow
from partners.delivery import object_url

log = logging.getLogger("emsp.distribution")
_T = TokenDelivery.__table__  # type: ignore[attr-defined]
_S = PartnerDeliveryState.__table__  # type: ignore[attr-defined]
_COMPARED = ("uid", "type", "contract_id", "valid", "whitelist", "issuer", "group_id", "visual_number")


@dataclass
class ReconcileReport:
    partner_id: int
    checked: int = 0
    differing: int = 0
    missing: int = 0
    errors: int = 0
    resent: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "partner_id": self.partner_id,
            "checked": self.checked,
            "differing": self.differing,
            "missing": self.missing,
            "errors": self.errors,
            "marked_pending": len(self.resent),
        }


def differs(ours: dict[str, Any], theirs: Any) -> bool:
    """Whether the partner's copy is not our current state: a compared field differs, or it is older."""
    if not isinstance(theirs, dict):
        return True
    for name in _COMPARED:
        if ours.get(name) != theirs.get(name):
            return True
    try:
        return bool(to_utc(theirs.get("last_updated")) < to_utc(ours["last_updated"]))
    except (TypeError, ValueError):
        return True


async def take_turn(session: AsyncSession, partner_id: int, now: datetime, interval: float) -> bool:
    """Whether this caller reconciles the partner now (and the next turn is `interval` away)."""
    dialect = await dialect_name(session)
    await (await session.connection()).execute(
        dialect_insert(dialect)(_S)
        .values(partner_id=partner_id, updated_at=now)
        .on_conflict_do_nothing(index_elements=[_S.c.partner_id])
    )
    result = await session.exec(
        update(_S)
        .where(
            _S.c.partner_id == partner_id,
            or_(
                _S.c.last_reconciled_at.is_(None),
                _S.c.last_reconciled_at <= now - timedelta(seconds=interval),
            ),
        )
        .values(last_reconciled_at=now, updated_at=now)
    )
    return bool(result.rowcount)


async def _sample(session: AsyncSession, partner_id: int, sample: int | None) -> list[tuple[int, Any]]:
    table = Token.__table__  # type: ignore[attr-defined]
    stmt = (
        select(_T.c.id, _T.c.to_country_code.label("to_cc"), _T.c.to_party_id.label("to_pid"), table)
        .join(table, table.c.id == _T.c.token_id)
        .where(
            _T.c.partner_id == partner_id,
            _T.c.status == DeliveryStatus.SUCCEEDED.value,
            _T.c.paused == false(),  # a party not CONNECTED behind its hub is not asked either
        )
    )
    broadcast = [t.party for t in (await targets_of(session, [partner_id]))[partner_id] if t.broadcast]
    if broadcast:  # "GET SHALL NOT be used in combination with Broadcast Push" (transport_and_format)
        stmt = stmt.where(tuple_(_T.c.to_country_code, _T.c.to_party_id).not_in(broadcast))
    stmt = stmt.order_by(func.random()).limit(sample) if sample is not None else stmt.order_by(_T.c.id)
    return [(int(row[0]), row) for row in (await session.exec(stmt)).all()]


async def reconcile_partner(
    sessionmaker: SessionMaker,
    http: httpx.AsyncClient,
    partner_id: int,
    *,
    sample: int | None,
    concurrency: int = 4,
) -> ReconcileReport:
    """Check `sample` random SUCCEEDED rows of the partner (None: all of them)."""
    report = ReconcileReport(partner_id=partner_id)
    async with sessionmaker() as session:
        target = (await load_targets(session, [partner_id])).get(partner_id)
        rows = await _sample(session, partner_id, sample)
    if target is None or target.problem is not None or not rows:
        return report
    gate = asyncio.Semaphore(concurrency)

    async def check(delivery_id: int, token: Any) -> None:
        async with gate:
            verdict = await _check_one(http, target, token)
        report.checked += 1
        if verdict == "error":
            report.errors += 1
            return
        if verdict == "missing":
            report.missing += 1
        elif verdict == "differs":
            report.differing += 1
        else:
            return
        report.resent.append(delivery_id)

    await asyncio.gather(*(check(did, token) for did, token in rows))
    if report.resent:
        async with session_scope(sessionmaker) as session:
            await mark_pending(session, report.resent)
        log.info("reconciliation of partner %s: %s", partner_id, report.as_dict())
    return report


async def _check_one(http: httpx.AsyncClient, target: PartnerTarget, token: Any) -> str:
    assert target.client_token is not None and target.endpoint_url is not None
    client = OcpiClient(
        http,
        token=target.client_token,
        base64_token=target.base64_token,
        from_party=(token.country_code, token.party_id),
        to_party=(token.to_cc, token.to_pid) if token.to_cc and token.to_pid else None,
    )
    url = object_url(target.endpoint_url, token.country_code, token.party_id, token.uid)
    try:
        result = await client.get(url, {"type": token.type}, raise_on_error=False)
    except PartnerCallError:
        return "error"
    if result.http_status == 404 or (result.ocpi_status in (2000, 2004) and result.data is None):
        return "missing"
    if not result.ok:
        return "error"
    return "differs" if differs(to_ocpi(token), result.data) else "same"


async def reconcile_due(
    sessionmaker: SessionMaker,
    http: httpx.AsyncClient,
    policy: DeliveryPolicy,
    *,
    now: datetime | None = None,
) -> list[ReconcileReport]:
    """Reconcile every eligible partner whose turn has come (the periodic job's body)."""
    now = now or utcnow()
    reports = []
    async with sessionmaker() as session:
        partners = [p.partner_id for p in await eligible_partners(session) if not p.paused]
    for partner_id in partners:
        async with session_scope(sessionmaker) as session:
            mine = await take_turn(session, partner_id, now, policy.reconcile_interval_seconds)
        if mine and policy.reconcile_sample > 0:
            reports.append(
                await reconcile_partner(sessionmaker, http, partner_id, sample=policy.reconcile_sample)
            )
    return reports
