"""Store and read Locations, EVSEs and Connectors (spec mod_locations.asciidoc, Receiver interface 8.2.2).

- PUT replaces the object at its level (Location, EVSE or Connector) or creates it.
- PATCH merges the given fields into the stored object, which must still validate as a whole; `last_updated`
  is required.
- A write on an EVSE or Connector also moves the parent's `last_updated` (8.2.2.2, 8.2.2.3), never backwards.
- EVSEs are never deleted: a removed EVSE has status REMOVED (8.1). A Location PUT without an EVSE we know
  leaves that EVSE as it is.
- A write whose `last_updated` is older than the stored object's changes nothing (`Outcome.IGNORED`).
"""

from __future__ import annotations

import logging
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.ingest.keys import ObjectKey, ci
from emsp.ingest.location_reads import (
    EVSES,
    LOCATIONS,
    connector_index,
    evse_where,
    get_connector_json,
    get_evse_json,
    get_location_json,
    location_time_zone,
    location_where,
    stored_location,
)
from emsp.ingest.location_writes import bump_location, require_evse, require_location, write_evse
from emsp.ingest.upsert import COPY_THRESHOLD, bulk_upsert, dedupe_newest, dialect_name
from emsp.ingest.validation import merge_patch, patch_changes, validate, validate_patch
from ocpi.errors import InvalidParameters, NotFound
from ocpi.models.locations import EVSE, Connector, ConnectorPatch, EvsePatch, Location, LocationPatch
from ocpi.types import format_datetime, to_utc, utcnow

log = logging.getLogger("emsp.ingest.locations")


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    IGNORED = "ignored"  # older than what is stored


# --- rows ---------------------------------------------------------------------------------------------


def location_rows(
    location: Location, *, partner_id: int | None, now: datetime, encoded: bool = False
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The Location's row and its EVSEs' rows. `data` is the object's JSON: a dict, or with `encoded` the JSON
    text itself (what a PostgreSQL COPY takes: no dict built to be encoded again)."""
    evses: list[Any]
    data: Any
    if encoded:
        data = location.model_dump_json(exclude_none=True, exclude={"evses"})
        evses = [evse.model_dump_json(exclude_none=True) for evse in location.evses or ()]
    else:
        data = location.to_json()
        evses = data.pop("evses", None) or []
    key = ObjectKey.of(location.country_code, location.party_id, location.id)
    row = {
        "country_code": key.country_code,
        "party_id": key.party_id,
        "location_id": key.id,
        "partner_id": partner_id,
        "last_updated": location.last_updated,
        "publish": location.publish,
        "name": location.name,
        "address": location.address,
        "city": location.city,
        "postal_code": location.postal_code,
        "country": location.country,
        "time_zone": location.time_zone,
        "latitude": float(location.coordinates.latitude),
        "longitude": float(location.coordinates.longitude),
        "data": data,
        "created_at": now,
        "received_at": now,
        "gone_at": None,
    }
    evse_rows = [
        _evse_row(key, evse, evse_json, i, now)
        for i, (evse, evse_json) in enumerate(zip(location.evses or (), evses, strict=True))
    ]
    return row, evse_rows


def evse_row(key: ObjectKey, evse: EVSE, position: int, now: datetime) -> dict[str, Any]:
    return _evse_row(key, evse, evse.to_json(), position, now)


def _evse_row(key: ObjectKey, evse: EVSE, data: Any, position: int, now: datetime) -> dict[str, Any]:
    return {
        "country_code": key.country_code,
        "party_id": key.party_id,
        "location_id": key.id,
        "uid": ci(evse.uid),
        "position": position,
        "evse_id": evse.evse_id,
        "status": evse.status.value,
        "last_updated": evse.last_updated,
        "data": data,
        "received_at": now,
    }


# --- writes -------------------------------------------------------------------------------------------


async def store_locations(
    session: AsyncSession,
    locations: list[Location],
    *,
    partner_id: int | None,
    now: datetime | None = None,
    pull_id: str | None = None,
) -> None:
    """Bulk upsert of whole Locations with their EVSEs (a pulled page, or one PUT). Per object, and per EVSE,
    a stored version with a newer `last_updated` wins. `pull_id` marks the rows as seen by that crawl."""
    now = now or utcnow()
    rows: list[dict[str, Any]] = []
    evse_rows: list[dict[str, Any]] = []
    encoded = dialect_name(session) == "postgresql" and len(locations) >= COPY_THRESHOLD
    for location in locations:
        row, evses = location_rows(location, partner_id=partner_id, now=now, encoded=encoded)
        row["last_pull_id"] = pull_id
        rows.append(row)
        evse_rows.extend(evses)
    key_cols = ("country_code", "party_id", "location_id")
    rows = dedupe_newest(rows, key_cols)
    always = ("last_pull_id", "gone_at") if pull_id else ()
    await bulk_upsert(
        session, LOCATIONS, rows, key=key_cols, always=always, insert_only=("created_at",), copy=encoded
    )
    evse_rows = dedupe_newest(evse_rows, ("country_code", "party_id", "location_id", "uid"))
    await bulk_upsert(
        session, EVSES, evse_rows, key=("country_code", "party_id", "location_id", "uid"), copy=encoded
    )


async def put_location(session: AsyncSession, location: Location, *, partner_id: int) -> Outcome:
    key = ObjectKey.of(location.country_code, location.party_id, location.id)
    stmt = select(LOCATIONS.c.last_updated).where(location_where(key)).with_for_update()
    stored = (await session.exec(stmt)).first()
    if stored is not None and location.last_updated < stored[0]:
        _log_ignored("Location", key, location.last_updated, stored[0])
        return Outcome.IGNORED
    await store_locations(session, [location], partner_id=partner_id)
    return Outcome.CREATED if stored is None else Outcome.UPDATED


async def put_evse(session: AsyncSession, key: ObjectKey, evse: EVSE, *, partner_id: int) -> Outcome:
    await require_location(session, key)
    stored = (await session.exec(select(EVSES.c.last_updated).where(evse_where(key, evse.uid)))).first()
    if stored is not None and evse.last_updated < stored[0]:
        _log_ignored("EVSE", key, evse.last_updated, stored[0], evse.uid)
        return Outcome.IGNORED
    position = 0
    if stored is None:
        position = (
            await session.exec(
                select(func.count()).where(
                    (EVSES.c.country_code == key.country_code)
                    & (EVSES.c.party_id == key.party_id)
                    & (EVSES.c.location_id == key.id)
                )
            )
        ).one()[0]
    row = evse_row(key, evse, position, utcnow())
    await bulk_upsert(
        session,
        EVSES,
        [row],
        key=("country_code", "party_id", "location_id", "uid"),
        insert_only=("position",),
    )
    await bump_location(session, key, evse.last_updated, partner_id)
    return Outcome.CREATED if stored is None else Outcome.UPDATED


async def put_connector(
    session: AsyncSession, key: ObjectKey, evse_uid: str, connector: Connector, *, partner_id: int
) -> Outcome:
    evse = await require_evse(session, key, evse_uid)
    connectors: list[dict[str, Any]] = list(evse.data.get("connectors") or [])
    index = connector_index(connectors, connector.id)
    if index is not None:
        stored_at = _parse_time(connectors[index].get("last_updated"))
        if stored_at is not None and connector.last_updated < stored_at:
            _log_ignored("Connector", key, connector.last_updated, stored_at, f"{evse_uid}/{connector.id}")
            return Outcome.IGNORED
        connectors[index] = connector.to_json()
    else:
        connectors.append(connector.to_json())
    data = dict(evse.data, connectors=connectors)
    await write_evse(session, key, evse, data, connector.last_updated, partner_id)
    return Outcome.UPDATED if index is not None else Outcome.CREATED


async def patch_location(
    session: AsyncSession, key: ObjectKey, body: dict[str, Any], *, partner_id: int
) -> Outcome:
    patch = validate_patch(LocationPatch, body)
    row = await stored_location(session, key, lock=True)
    if row is None:
        raise NotFound(f"Unknown Location {key}")
    if patch.last_updated < row.last_updated:
        _log_ignored("Location", key, patch.last_updated, row.last_updated)
        return Outcome.IGNORED
    changes = patch_changes(patch)
    evses = changes.pop("evses", None)
    merged = merge_patch(row.json(), changes)
    location = validate(Location, merged)
    if ObjectKey.of(location.country_code, location.party_id, location.id) != key:
        raise InvalidParameters("A PATCH may not change country_code, party_id or id")
    await store_locations(session, [location], partner_id=partner_id)
    for evse in patch.evses or ():
        await put_evse(session, key, evse, partner_id=partner_id)
    if evses:
        await bump_location(session, key, patch.last_updated, partner_id)
    return Outcome.UPDATED


async def patch_evse(
    session: AsyncSession, key: ObjectKey, evse_uid: str, body: dict[str, Any], *, partner_id: int
) -> Outcome:
    patch = validate_patch(EvsePatch, body)
    evse = await require_evse(session, key, evse_uid)
    if patch.last_updated < evse.last_updated:
        _log_ignored("EVSE", key, patch.last_updated, evse.last_updated, evse_uid)
        return Outcome.IGNORED
    merged = merge_patch(evse.data, patch_changes(patch))
    new = validate(EVSE, merged)
    if ci(new.uid) != ci(evse_uid):
        raise InvalidParameters("A PATCH may not change the EVSE uid")
    await write_evse(session, key, evse, new.to_json(), new.last_updated, partner_id, status=new.status.value)
    return Outcome.UPDATED


async def patch_connector(
    session: AsyncSession,
    key: ObjectKey,
    evse_uid: str,
    connector_id: str,
    body: dict[str, Any],
    *,
    partner_id: int,
) -> Outcome:
    patch = validate_patch(ConnectorPatch, body)
    evse = await require_evse(session, key, evse_uid)
    connectors: list[dict[str, Any]] = list(evse.data.get("connectors") or [])
    index = connector_index(connectors, connector_id)
    if index is None:
        raise NotFound(f"Unknown Connector {key}/{evse_uid}/{connector_id}")
    stored_at = _parse_time(connectors[index].get("last_updated"))
    if stored_at is not None and patch.last_updated < stored_at:
        _log_ignored("Connector", key, patch.last_updated, stored_at, f"{evse_uid}/{connector_id}")
        return Outcome.IGNORED
    merged = validate(Connector, merge_patch(connectors[index], patch_changes(patch)))
    if ci(merged.id) != ci(connector_id):
        raise InvalidParameters("A PATCH may not change the Connector id")
    connectors[index] = merged.to_json()
    data = dict(evse.data, connectors=connectors)
    await write_evse(session, key, evse, data, merged.last_updated, partner_id)
    return Outcome.UPDATED


async def sweep_locations(session: AsyncSession, partner_id: int, pull_id: str, started_at: datetime) -> int:
    """After a complete full pull: mark `gone_at` on this partner's Locations the crawl did not list (and that
    were not written since the crawl began). Returns how many."""
    result = await session.exec(
        update(LOCATIONS)
        .where(
            (LOCATIONS.c.partner_id == partner_id)
            & LOCATIONS.c.gone_at.is_(None)
            & ((LOCATIONS.c.last_pull_id != pull_id) | LOCATIONS.c.last_pull_id.is_(None))
            & (LOCATIONS.c.received_at < started_at)
        )
        .values(gone_at=utcnow())
    )
    return int(result.rowcount or 0)


# --- internals ----------------------------------------------------------------------------------------


def _parse_time(value: Any) -> datetime | None:
    try:
        parsed = to_utc(value)
    except ValueError:
        return None
    return parsed if isinstance(parsed, datetime) else None


def _log_ignored(what: str, key: ObjectKey, sent: datetime, stored: datetime, sub: str = "") -> None:
    where = f"{key}/{sub}" if sub else str(key)
    log.info(
        "ignored %s %s: last_updated %s is older than the stored %s",
        what,
        where,
        format_datetime(sent),
        format_datetime(stored),
    )


__all__ = [
    "Outcome",
    "get_connector_json",
    "get_evse_json",
    "get_location_json",
    "location_time_zone",
    "patch_connector",
    "patch_evse",
    "patch_location",
    "put_connector",
    "put_evse",
    "put_location",
    "store_locations",
    "sweep_locations",
]
