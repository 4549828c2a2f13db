"""Admin API: the ingested charging Sessions (`/admin/v1/sessions`).

- `GET /sessions?country_code=&party_id=&token_uid=&contract_id=&status=&location_id=&partner_id=`
  `&date_from=&date_to=&sort=&offset=&limit=`: `date_from` (inclusive) and `date_to` (exclusive) bound
  `start_date_time`; `sort` defaults to `-start_date_time` (newest first).
- `GET /sessions/{country_code}/{party_id}/{session_id}`: one Session as stored, charging periods included.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from emsp.admin_api.locations import sort_error
from emsp.deps import AdminKeyDep, DbSession
from emsp.errors import AdminError
from emsp.ingest.keys import ObjectKey
from emsp.ingest.queries import SessionFilter, list_sessions, session_detail
from ocpi.models.sessions import SessionStatus

router = APIRouter(tags=["admin: ingested sessions"])


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@router.get("/sessions")
async def get_sessions(
    session: DbSession,
    _key: AdminKeyDep,
    country_code: Annotated[str | None, Query(max_length=2)] = None,
    party_id: Annotated[str | None, Query(max_length=3)] = None,
    token_uid: Annotated[str | None, Query(max_length=36)] = None,
    contract_id: Annotated[str | None, Query(max_length=36)] = None,
    status: SessionStatus | None = None,
    location_id: Annotated[str | None, Query(max_length=36)] = None,
    partner_id: int | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    sort: Annotated[str, Query(max_length=40)] = "-start_date_time",
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    f = SessionFilter(
        country_code=country_code,
        party_id=party_id,
        token_uid=token_uid,
        contract_id=contract_id,
        status=None if status is None else status.value,
        location_id=location_id,
        partner_id=partner_id,
        date_from=_utc(date_from),
        date_to=_utc(date_to),
    )
    try:
        total, items = await list_sessions(session, f, sort=sort, offset=offset, limit=limit)
    except ValueError as exc:
        raise sort_error(exc) from None
    return {"items": items, "total": total, "offset": offset, "limit": limit}


@router.get("/sessions/{country_code}/{party_id}/{session_id}")
async def get_session(
    country_code: str, party_id: str, session_id: str, session: DbSession, _key: AdminKeyDep
) -> dict[str, Any]:
    detail = await session_detail(session, ObjectKey.of(country_code, party_id, session_id))
    if detail is None:
        raise AdminError(404, "not_found", f"No Session {country_code}/{party_id}/{session_id}")
    return detail
