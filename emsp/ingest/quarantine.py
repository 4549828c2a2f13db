"""Pulled items set aside (invalid, or of a party the partner may not speak for), one row per
(partner, module, object): a repeat updates the row and counts it; storing the object later clears it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.ingest.tables import PullQuarantine
from emsp.ingest.upsert import dialect_name
from ocpi.types import format_datetime, utcnow
from partners.pull import Rejected

QUARANTINE = PullQuarantine.__table__  # type: ignore[attr-defined]


async def record_rejected(
    session: AsyncSession,
    partner_id: int,
    module: str,
    rejected: Sequence[Rejected],
    *,
    request_id: str | None = None,
    now: datetime | None = None,
) -> None:
    if not rejected:
        return
    now = now or utcnow()
    by_ref = {r.object_ref: r for r in rejected}  # one row per object and statement
    rows = [
        {
            "partner_id": partner_id,
            "module": module,
            "object_ref": r.object_ref,
            "object_id": r.object_id,
            "reason": r.reason,
            "payload": r.payload,
            "request_id": request_id,
            "first_seen_at": now,
            "last_seen_at": now,
            "times": 1,
        }
        for r in by_ref.values()
    ]
    insert = postgresql.insert if dialect_name(session) == "postgresql" else sqlite.insert
    stmt = insert(QUARANTINE)
    stmt = stmt.on_conflict_do_update(
        index_elements=[QUARANTINE.c.partner_id, QUARANTINE.c.module, QUARANTINE.c.object_ref],
        set_={
            "reason": stmt.excluded.reason,
            "payload": stmt.excluded.payload,
            "object_id": stmt.excluded.object_id,
            "request_id": stmt.excluded.request_id,
            "last_seen_at": stmt.excluded.last_seen_at,
            "times": QUARANTINE.c.times + 1,
        },
    )
    await session.exec(stmt, params=rows)


async def resolve(session: AsyncSession, partner_id: int, module: str, object_refs: Sequence[str]) -> None:
    """Objects now stored: their quarantine rows go."""
    if not object_refs:
        return
    for start in range(0, len(object_refs), 500):
        chunk = list(object_refs[start : start + 500])
        await session.exec(
            delete(QUARANTINE).where(
                (QUARANTINE.c.partner_id == partner_id)
                & (QUARANTINE.c.module == module)
                & QUARANTINE.c.object_ref.in_(chunk)
            )
        )


async def list_quarantine(
    session: AsyncSession,
    *,
    partner_id: int | None = None,
    module: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[int, list[dict[str, Any]]]:
    where = []
    if partner_id is not None:
        where.append(QUARANTINE.c.partner_id == partner_id)
    if module is not None:
        where.append(QUARANTINE.c.module == module)
    total = (await session.exec(select(func.count()).select_from(QUARANTINE).where(*where))).one()[0]
    rows = (
        await session.exec(
            select(QUARANTINE)
            .where(*where)
            .order_by(QUARANTINE.c.last_seen_at.desc(), QUARANTINE.c.pk.desc())
            .offset(offset)
            .limit(limit)
        )
    ).all()
    items = [
        {
            "partner_id": r.partner_id,
            "module": r.module,
            "object_ref": r.object_ref,
            "object_id": r.object_id,
            "reason": r.reason,
            "payload": r.payload,
            "request_id": r.request_id,
            "first_seen_at": format_datetime(r.first_seen_at),
            "last_seen_at": format_datetime(r.last_seen_at),
            "times": r.times,
        }
        for r in rows
    ]
    return int(total), items
