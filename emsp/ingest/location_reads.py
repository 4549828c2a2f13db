"""Reading stored Locations, EVSEs and Connectors back as OCPI JSON, and the Location facts other modules need
(`location_time_zone` for CDR pricing: 2.2.1 CDRs carry no time zone)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.ingest.keys import ObjectKey, ci
from emsp.ingest.tables import IngestedEvse, IngestedLocation
from ocpi.types import format_datetime

LOCATIONS = IngestedLocation.__table__  # type: ignore[attr-defined]
EVSES = IngestedEvse.__table__  # type: ignore[attr-defined]


def location_where(key: ObjectKey) -> Any:
    return (
        (LOCATIONS.c.country_code == key.country_code)
        & (LOCATIONS.c.party_id == key.party_id)
        & (LOCATIONS.c.location_id == key.id)
    )


def evse_where(key: ObjectKey, uid: str) -> Any:
    return (
        (EVSES.c.country_code == key.country_code)
        & (EVSES.c.party_id == key.party_id)
        & (EVSES.c.location_id == key.id)
        & (EVSES.c.uid == ci(uid))
    )


@dataclass(frozen=True, slots=True)
class StoredLocation:
    last_updated: datetime
    gone_at: datetime | None
    data: dict[str, Any]

    def json(self) -> dict[str, Any]:
        data = dict(self.data)
        data["last_updated"] = format_datetime(self.last_updated)  # moved by EVSE and Connector writes
        return data


async def stored_location(
    session: AsyncSession, key: ObjectKey, *, lock: bool = False
) -> StoredLocation | None:
    stmt = select(LOCATIONS.c.last_updated, LOCATIONS.c.gone_at, LOCATIONS.c.data).where(location_where(key))
    found = (await session.exec(stmt.with_for_update() if lock else stmt)).first()
    return None if found is None else StoredLocation(found[0], found[1], dict(found[2]))


async def get_location_json(
    session: AsyncSession, key: ObjectKey, *, include_gone: bool = False
) -> dict[str, Any] | None:
    """The Location as stored, with its EVSEs in their order; None when unknown (or swept, unless asked)."""
    row = await stored_location(session, key)
    if row is None or (row.gone_at is not None and not include_gone):
        return None
    data = row.json()
    evses = (
        await session.exec(
            select(EVSES.c.data)
            .where(
                (EVSES.c.country_code == key.country_code)
                & (EVSES.c.party_id == key.party_id)
                & (EVSES.c.location_id == key.id)
            )
            .order_by(EVSES.c.position, EVSES.c.pk)
        )
    ).all()
    if evses:
        data["evses"] = [row[0] for row in evses]
    return data


async def get_evse_json(session: AsyncSession, key: ObjectKey, evse_uid: str) -> dict[str, Any] | None:
    found = (await session.exec(select(EVSES.c.data).where(evse_where(key, evse_uid)))).first()
    return None if found is None else dict(found[0])


async def get_connector_json(
    session: AsyncSession, key: ObjectKey, evse_uid: str, connector_id: str
) -> dict[str, Any] | None:
    evse = await get_evse_json(session, key, evse_uid)
    if evse is None:
        return None
    connectors = evse.get("connectors") or []
    index = connector_index(connectors, connector_id)
    return None if index is None else dict(connectors[index])


async def location_time_zone(
    session: AsyncSession, country_code: str, party_id: str, location_id: str
) -> str | None:
    """The IANA time zone of a stored Location (CDR pricing: 2.2.1 CDRs carry none); None when unknown."""
    key = ObjectKey.of(country_code, party_id, location_id)
    found = (await session.exec(select(LOCATIONS.c.time_zone).where(location_where(key)))).first()
    return None if found is None else str(found[0])


def connector_index(connectors: list[dict[str, Any]], connector_id: str) -> int | None:
    wanted = ci(connector_id)
    for i, connector in enumerate(connectors):
        if ci(str(connector.get("id", ""))) == wanted:
            return i
    return None
