"""Operator views of the ingested Locations: a filtered, sorted page with EVSE counts per status; GeoJSON
features for a map; one Location with its EVSEs, Connectors and the Tariffs they name."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.ingest.keys import ObjectKey, ci
from emsp.ingest.location_reads import EVSES, LOCATIONS, get_location_json, stored_location
from emsp.ingest.tariffs import get_tariff_json
from ocpi.types import format_datetime

LOCATION_SORTS = {
    "location_id": LOCATIONS.c.location_id,
    "name": LOCATIONS.c.name,
    "city": LOCATIONS.c.city,
    "country_code": LOCATIONS.c.country_code,
    "last_updated": LOCATIONS.c.last_updated,
    "received_at": LOCATIONS.c.received_at,
}


@dataclass(frozen=True)
class LocationFilter:
    country_code: str | None = None
    party_id: str | None = None
    location_id: str | None = None
    name: str | None = None  # part of, any case
    address: str | None = None  # part of, any case
    city: str | None = None  # part of, any case
    publish: bool | None = None
    partner_id: int | None = None
    include_gone: bool = False
    bbox: tuple[float, float, float, float] | None = None  # min lon, min lat, max lon, max lat

    def where(self) -> list[Any]:
        c = LOCATIONS.c
        clauses: list[Any] = []
        for column, value in ((c.country_code, self.country_code), (c.party_id, self.party_id)):
            if value:
                clauses.append(column == ci(value))
        if self.location_id:
            clauses.append(c.location_id == ci(self.location_id))
        for column, value in ((c.name, self.name), (c.address, self.address), (c.city, self.city)):
            if value:
                clauses.append(func.lower(column).contains(value.lower(), autoescape=True))
        if self.publish is not None:
            clauses.append(c.publish == self.publish)
        if self.partner_id is not None:
            clauses.append(c.partner_id == self.partner_id)
        if not self.include_gone:
            clauses.append(c.gone_at.is_(None))
        if self.bbox is not None:
            min_lon, min_lat, max_lon, max_lat = self.bbox
            clauses += [
                c.longitude >= min_lon,
                c.longitude <= max_lon,
                c.latitude >= min_lat,
                c.latitude <= max_lat,
            ]
        return clauses


def order_by(sorts: dict[str, Any], sort: str, tiebreak: Any) -> list[Any]:
    """`sort` is a field name, `-` in front for descending; ValueError for an unknown one."""
    name = sort.lstrip("-")
    if name not in sorts:
        raise ValueError(f"sort must be one of {', '.join(sorted(sorts))} (with '-' for descending)")
    column = sorts[name]
    if sort.startswith("-"):
        return [column.desc(), tiebreak.desc()]
    return [column.asc(), tiebreak.asc()]


async def evse_counts(
    session: AsyncSession, keys: list[tuple[str, str, str]]
) -> dict[tuple[str, str, str], dict[str, int]]:
    """{(cc, pid, location_id): {status: count}} for the given Locations."""
    counts: dict[tuple[str, str, str], dict[str, int]] = defaultdict(dict)
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        key = tuple_(EVSES.c.country_code, EVSES.c.party_id, EVSES.c.location_id)
        rows = (
            await session.exec(
                select(
                    EVSES.c.country_code, EVSES.c.party_id, EVSES.c.location_id, EVSES.c.status, func.count()
                )
                .where(key.in_(chunk))
                .group_by(EVSES.c.country_code, EVSES.c.party_id, EVSES.c.location_id, EVSES.c.status)
            )
        ).all()
        for cc, pid, loc, status, n in rows:
            counts[(cc, pid, loc)][status] = int(n)
    return counts


def _summary(row: Any, counts: dict[str, int]) -> dict[str, Any]:
    return {
        "country_code": row.data.get("country_code", row.country_code),
        "party_id": row.data.get("party_id", row.party_id),
        "id": row.data.get("id", row.location_id),
        "name": row.name,
        "address": row.address,
        "city": row.city,
        "postal_code": row.postal_code,
        "country": row.country,
        "publish": row.publish,
        "time_zone": row.time_zone,
        "coordinates": row.data.get("coordinates"),
        "partner_id": row.partner_id,
        "last_updated": format_datetime(row.last_updated),
        "received_at": format_datetime(row.received_at),
        "gone_at": format_datetime(row.gone_at) if row.gone_at else None,
        "evse_counts": counts,
        "evses": sum(counts.values()),
    }


async def list_locations(
    session: AsyncSession, f: LocationFilter, *, sort: str = "location_id", offset: int = 0, limit: int = 50
) -> tuple[int, list[dict[str, Any]]]:
    where = f.where()
    ordering = order_by(LOCATION_SORTS, sort, LOCATIONS.c.pk)
    total = (await session.exec(select(func.count()).select_from(LOCATIONS).where(*where))).one()[0]
    rows = (
        await session.exec(select(LOCATIONS).where(*where).order_by(*ordering).offset(offset).limit(limit))
    ).all()
    counts = await evse_counts(session, [(r.country_code, r.party_id, r.location_id) for r in rows])
    return int(total), [
        _summary(r, counts.get((r.country_code, r.party_id, r.location_id), {})) for r in rows
    ]


async def geojson_features(
    session: AsyncSession, f: LocationFilter, *, limit: int, chunk: int = 2000
) -> AsyncIterator[dict[str, Any]]:
    """GeoJSON Point features (RFC 7946: [longitude, latitude]) of the matching Locations, in chunks."""
    last_pk, sent = 0, 0
    while sent < limit:
        rows = (
            await session.exec(
                select(LOCATIONS)
                .where(*f.where(), LOCATIONS.c.pk > last_pk)
                .order_by(LOCATIONS.c.pk)
                .limit(min(chunk, limit - sent))
            )
        ).all()
        if not rows:
            return
        counts = await evse_counts(session, [(r.country_code, r.party_id, r.location_id) for r in rows])
        for r in rows:
            summary = _summary(r, counts.get((r.country_code, r.party_id, r.location_id), {}))
            summary.pop("coordinates")
            yield {
                "type": "Feature",
                "id": f"{r.country_code}/{r.party_id}/{r.location_id}",
                "geometry": {"type": "Point", "coordinates": [r.longitude, r.latitude]},
                "properties": summary,
            }
        last_pk, sent = rows[-1].pk, sent + len(rows)


async def location_detail(session: AsyncSession, key: ObjectKey) -> dict[str, Any] | None:
    """The Location as stored (EVSEs, Connectors), where it came from, and each Tariff its Connectors name
    (current version; None when we do not have it)."""
    data = await get_location_json(session, key, include_gone=True)
    if data is None:
        return None
    meta = (
        await session.exec(
            select(
                LOCATIONS.c.partner_id, LOCATIONS.c.received_at, LOCATIONS.c.gone_at, LOCATIONS.c.created_at
            ).where(
                (LOCATIONS.c.country_code == key.country_code)
                & (LOCATIONS.c.party_id == key.party_id)
                & (LOCATIONS.c.location_id == key.id)
            )
        )
    ).one()
    tariff_ids = sorted(
        {t for e in data.get("evses", []) for c in e.get("connectors", []) for t in c.get("tariff_ids", [])}
    )
    tariffs = {
        t: await get_tariff_json(session, ObjectKey.of(key.country_code, key.party_id, t)) for t in tariff_ids
    }
    stored = await stored_location(session, key)
    return {
        "location": data,
        "partner_id": meta[0],
        "received_at": format_datetime(meta[1]),
        "gone_at": format_datetime(meta[2]) if meta[2] else None,
        "created_at": format_datetime(meta[3]),
        "evse_counts": dict(
            (await evse_counts(session, [(key.country_code, key.party_id, key.id)])).get(
                (key.country_code, key.party_id, key.id), {}
            )
        ),
        "tariffs": tariffs,
        "last_updated": stored.json()["last_updated"] if stored else None,
    }
