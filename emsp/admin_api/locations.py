"""Admin API: the ingested Locations (`/admin/v1/locations`).

- `GET /locations?country_code=&party_id=&location_id=&name=&address=&city=&publish=&partner_id=`
  `&include_gone=&sort=&offset=&limit=`: a page, with EVSE counts per status. `name`, `address`, `city`
  match a part, in any case; `sort` is a field, `-` in front for descending.
- `GET /locations.geojson` (same filters, plus `bbox=min_lon,min_lat,max_lon,max_lat` and `limit`): a GeoJSON
  FeatureCollection of Points for a map, streamed.
- `GET /locations/{country_code}/{party_id}/{location_id}`: one Location with its EVSEs, Connectors and the
  Tariffs they name.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from emsp.db import read_scope
from emsp.deps import AdminKeyDep, DbSession, NodeDep
from emsp.errors import AdminError
from emsp.ingest.keys import ObjectKey
from emsp.ingest.location_queries import LocationFilter, geojson_features, list_locations, location_detail

router = APIRouter(tags=["admin: ingested locations"])

Text = Annotated[str | None, Query(max_length=255)]


def _filter(
    country_code: Annotated[str | None, Query(max_length=2)] = None,
    party_id: Annotated[str | None, Query(max_length=3)] = None,
    location_id: Annotated[str | None, Query(max_length=36)] = None,
    name: Text = None,
    address: Text = None,
    city: Text = None,
    publish: bool | None = None,
    partner_id: int | None = None,
    include_gone: bool = False,
) -> LocationFilter:
    return LocationFilter(
        country_code=country_code,
        party_id=party_id,
        location_id=location_id,
        name=name,
        address=address,
        city=city,
        publish=publish,
        partner_id=partner_id,
        include_gone=include_gone,
    )


def sort_error(exc: ValueError) -> AdminError:
    return AdminError(400, "invalid_request", str(exc))


@router.get("/locations")
async def get_locations(
    session: DbSession,
    _key: AdminKeyDep,
    country_code: Annotated[str | None, Query(max_length=2)] = None,
    party_id: Annotated[str | None, Query(max_length=3)] = None,
    location_id: Annotated[str | None, Query(max_length=36)] = None,
    name: Text = None,
    address: Text = None,
    city: Text = None,
    publish: bool | None = None,
    partner_id: int | None = None,
    include_gone: bool = False,
    sort: Annotated[str, Query(max_length=40)] = "location_id",
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    f = _filter(country_code, party_id, location_id, name, address, city, publish, partner_id, include_gone)
    try:
        total, items = await list_locations(session, f, sort=sort, offset=offset, limit=limit)
    except ValueError as exc:
        raise sort_error(exc) from None
    return {"items": items, "total": total, "offset": offset, "limit": limit}


def _bbox(raw: str | None) -> tuple[float, float, float, float] | None:
    if not raw:
        return None
    try:
        parts = tuple(float(p) for p in raw.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 4:
        raise AdminError(400, "invalid_request", "bbox must be min_lon,min_lat,max_lon,max_lat")
    return parts  # type: ignore[return-value]


@router.get("/locations.geojson")
async def get_locations_geojson(
    node: NodeDep,
    _key: AdminKeyDep,
    country_code: Annotated[str | None, Query(max_length=2)] = None,
    party_id: Annotated[str | None, Query(max_length=3)] = None,
    location_id: Annotated[str | None, Query(max_length=36)] = None,
    name: Text = None,
    address: Text = None,
    city: Text = None,
    publish: bool | None = None,
    partner_id: int | None = None,
    include_gone: bool = False,
    bbox: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=200_000)] = 10_000,
) -> StreamingResponse:
    f = _filter(country_code, party_id, location_id, name, address, city, publish, partner_id, include_gone)
    f = LocationFilter(**{**f.__dict__, "bbox": _bbox(bbox)})

    async def body() -> AsyncIterator[bytes]:
        yield b'{"type":"FeatureCollection","features":['
        first = True
        async with read_scope(node.sessionmaker) as session:  # however slow the client, no lock held
            async for feature in geojson_features(session, f, limit=limit):
                yield (b"" if first else b",") + json.dumps(feature, separators=(",", ":")).encode()
                first = False
        yield b"]}"

    return StreamingResponse(body(), media_type="application/geo+json")


@router.get("/locations/{country_code}/{party_id}/{location_id}")
async def get_location(
    country_code: str, party_id: str, location_id: str, session: DbSession, _key: AdminKeyDep
) -> dict[str, Any]:
    detail = await location_detail(session, ObjectKey.of(country_code, party_id, location_id))
    if detail is None:
        raise AdminError(404, "not_found", f"No Location {country_code}/{party_id}/{location_id}")
    return detail
