"""Operator views of the ingested Tariffs (with their versions), Sessions, and where pull sync stands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.ingest.keys import ObjectKey, ci
from emsp.ingest.location_queries import order_by
from emsp.ingest.sessions import SESSIONS
from emsp.ingest.tables import PullCheckpoint
from emsp.ingest.tariffs import TARIFFS, get_tariff_json, tariff_versions
from ocpi.types import format_datetime
from partners.tables import Partner

CHECKPOINTS = PullCheckpoint.__table__  # type: ignore[attr-defined]

TARIFF_SORTS = {
    "tariff_id": TARIFFS.c.tariff_id,
    "last_updated": TARIFFS.c.last_updated,
    "received_at": TARIFFS.c.received_at,
    "currency": TARIFFS.c.currency,
}
SESSION_SORTS = {
    "start_date_time": SESSIONS.c.start_date_time,
    "end_date_time": SESSIONS.c.end_date_time,
    "last_updated": SESSIONS.c.last_updated,
    "kwh": SESSIONS.c.kwh,
    "status": SESSIONS.c.status,
    "session_id": SESSIONS.c.session_id,
}


def _when(value: datetime | None) -> str | None:
    return None if value is None else format_datetime(value)


def _party_clauses(table: Any, country_code: str | None, party_id: str | None) -> list[Any]:
    clauses = []
    if country_code:
        clauses.append(table.c.country_code == ci(country_code))
    if party_id:
        clauses.append(table.c.party_id == ci(party_id))
    return clauses


# --- tariffs --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TariffFilter:
    country_code: str | None = None
    party_id: str | None = None
    tariff_id: str | None = None
    currency: str | None = None
    include_deleted: bool = False

    def where(self) -> list[Any]:
        c = TARIFFS.c
        clauses = _party_clauses(TARIFFS, self.country_code, self.party_id)
        if self.tariff_id:
            clauses.append(c.tariff_id == ci(self.tariff_id))
        if self.currency:
            clauses.append(c.currency == self.currency.upper())
        if not self.include_deleted:
            clauses.append(c.deleted_at.is_(None))
        return clauses


async def list_tariffs(
    session: AsyncSession, f: TariffFilter, *, sort: str = "tariff_id", offset: int = 0, limit: int = 50
) -> tuple[int, list[dict[str, Any]]]:
    where = f.where()
    total = (await session.exec(select(func.count()).select_from(TARIFFS).where(*where))).one()[0]
    rows = (
        await session.exec(
            select(TARIFFS)
            .where(*where)
            .order_by(*order_by(TARIFF_SORTS, sort, TARIFFS.c.pk))
            .offset(offset)
            .limit(limit)
        )
    ).all()
    items = [
        {
            "country_code": r.data.get("country_code", r.country_code),
            "party_id": r.data.get("party_id", r.party_id),
            "id": r.data.get("id", r.tariff_id),
            "currency": r.currency,
            "type": r.type,
            "start_date_time": _when(r.start_date_time),
            "end_date_time": _when(r.end_date_time),
            "last_updated": _when(r.last_updated),
            "version": r.version,
            "deleted_at": _when(r.deleted_at),
            "partner_id": r.partner_id,
            "received_at": _when(r.received_at),
        }
        for r in rows
    ]
    return int(total), items


async def tariff_detail(session: AsyncSession, key: ObjectKey) -> dict[str, Any] | None:
    current = await get_tariff_json(session, key, include_deleted=True)
    if current is None:
        return None
    row = (
        await session.exec(
            select(TARIFFS.c.deleted_at, TARIFFS.c.partner_id, TARIFFS.c.version).where(
                (TARIFFS.c.country_code == key.country_code)
                & (TARIFFS.c.party_id == key.party_id)
                & (TARIFFS.c.tariff_id == key.id)
            )
        )
    ).one()
    return {
        "tariff": current,
        "deleted_at": _when(row[0]),
        "partner_id": row[1],
        "version": row[2],
        "versions": await tariff_versions(session, key),
    }


# --- sessions -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionFilter:
    country_code: str | None = None
    party_id: str | None = None
    token_uid: str | None = None
    contract_id: str | None = None
    status: str | None = None
    location_id: str | None = None
    partner_id: int | None = None
    date_from: datetime | None = None  # start_date_time >=
    date_to: datetime | None = None  # start_date_time <

    def where(self) -> list[Any]:
        c = SESSIONS.c
        clauses = _party_clauses(SESSIONS, self.country_code, self.party_id)
        for column, value in (
            (c.token_uid, self.token_uid),
            (c.contract_id, self.contract_id),
            (c.location_id, self.location_id),
        ):
            if value:
                clauses.append(func.upper(column) == ci(value))
        if self.status:
            clauses.append(c.status == self.status.upper())
        if self.partner_id is not None:
            clauses.append(c.partner_id == self.partner_id)
        if self.date_from is not None:
            clauses.append(c.start_date_time >= self.date_from)
        if self.date_to is not None:
            clauses.append(c.start_date_time < self.date_to)
        return clauses


def _session_summary(r: Any) -> dict[str, Any]:
    return {
        "country_code": r.data.get("country_code", r.country_code),
        "party_id": r.data.get("party_id", r.party_id),
        "id": r.data.get("id", r.session_id),
        "status": r.status,
        "start_date_time": _when(r.start_date_time),
        "end_date_time": _when(r.end_date_time),
        "kwh": str(r.kwh),
        "currency": r.currency,
        "total_cost_excl_vat": None if r.total_cost_excl_vat is None else str(r.total_cost_excl_vat),
        "total_cost_incl_vat": None if r.total_cost_incl_vat is None else str(r.total_cost_incl_vat),
        "token_uid": r.token_uid,
        "token_type": r.token_type,
        "contract_id": r.contract_id,
        "location_id": r.location_id,
        "evse_uid": r.evse_uid,
        "connector_id": r.connector_id,
        "last_updated": _when(r.last_updated),
        "partner_id": r.partner_id,
        "charging_periods": len(r.data.get("charging_periods") or []),
    }


async def list_sessions(
    session: AsyncSession,
    f: SessionFilter,
    *,
    sort: str = "-start_date_time",
    offset: int = 0,
    limit: int = 50,
) -> tuple[int, list[dict[str, Any]]]:
    where = f.where()
    total = (await session.exec(select(func.count()).select_from(SESSIONS).where(*where))).one()[0]
    rows = (
        await session.exec(
            select(SESSIONS)
            .where(*where)
            .order_by(*order_by(SESSION_SORTS, sort, SESSIONS.c.pk))
            .offset(offset)
            .limit(limit)
        )
    ).all()
    return int(total), [_session_summary(r) for r in rows]


async def session_detail(session: AsyncSession, key: ObjectKey) -> dict[str, Any] | None:
    row = (
        await session.exec(
            select(SESSIONS).where(
                (SESSIONS.c.country_code == key.country_code)
                & (SESSIONS.c.party_id == key.party_id)
                & (SESSIONS.c.session_id == key.id)
            )
        )
    ).first()
    if row is None:
        return None
    return dict(_session_summary(row), session=row.data, received_at=_when(row.received_at))


# --- pull sync ------------------------------------------------------------------------------------------


async def list_checkpoints(session: AsyncSession) -> list[dict[str, Any]]:
    partners = Partner.__table__  # type: ignore[attr-defined]
    rows = (
        await session.exec(
            select(CHECKPOINTS, partners.c.name)
            .join(partners, partners.c.id == CHECKPOINTS.c.partner_id)
            .order_by(CHECKPOINTS.c.partner_id, CHECKPOINTS.c.module)
        )
    ).all()
    return [
        {
            "partner_id": r.partner_id,
            "partner": r.name,
            "module": r.module,
            "watermark": _when(r.watermark),
            "running_or_interrupted": r.crawl_id is not None,
            "crawl_full": r.crawl_full if r.crawl_id else None,
            "crawl_pages": r.crawl_pages if r.crawl_id else None,
            "cursor_url": r.cursor_url,
            "last_completed_at": _when(r.last_completed_at),
            "last_full_completed_at": _when(r.last_full_completed_at),
            "last_items": r.last_items,
            "last_swept": r.last_swept,
            "last_error": r.last_error,
            "last_error_at": _when(r.last_error_at),
        }
        for r in rows
    ]
