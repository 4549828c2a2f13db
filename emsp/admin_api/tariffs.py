"""Admin API: the ingested Tariffs (`/admin/v1/tariffs`) and their version history.

- `GET /tariffs?country_code=&party_id=&tariff_id=&currency=&include_deleted=&sort=&offset=&limit=`
- `GET /tariffs/{country_code}/{party_id}/{tariff_id}`: the current version and every version (a deletion is a
  version marked `deleted`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from emsp.admin_api.locations import sort_error
from emsp.deps import AdminKeyDep, DbSession
from emsp.errors import AdminError
from emsp.ingest.keys import ObjectKey
from emsp.ingest.queries import TariffFilter, list_tariffs, tariff_detail

router = APIRouter(tags=["admin: ingested tariffs"])


@router.get("/tariffs")
async def get_tariffs(
    session: DbSession,
    _key: AdminKeyDep,
    country_code: Annotated[str | None, Query(max_length=2)] = None,
    party_id: Annotated[str | None, Query(max_length=3)] = None,
    tariff_id: Annotated[str | None, Query(max_length=36)] = None,
    currency: Annotated[str | None, Query(max_length=3)] = None,
    include_deleted: bool = False,
    sort: Annotated[str, Query(max_length=40)] = "tariff_id",
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    f = TariffFilter(country_code, party_id, tariff_id, currency, include_deleted)
    try:
        total, items = await list_tariffs(session, f, sort=sort, offset=offset, limit=limit)
    except ValueError as exc:
        raise sort_error(exc) from None
    return {"items": items, "total": total, "offset": offset, "limit": limit}


@router.get("/tariffs/{country_code}/{party_id}/{tariff_id}")
async def get_tariff(
    country_code: str, party_id: str, tariff_id: str, session: DbSession, _key: AdminKeyDep
) -> dict[str, Any]:
    detail = await tariff_detail(session, ObjectKey.of(country_code, party_id, tariff_id))
    if detail is None:
        raise AdminError(404, "not_found", f"No Tariff {country_code}/{party_id}/{tariff_id}")
    return detail
